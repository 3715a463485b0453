"""Data-parallel training throughput: one process against N ranks of DistributedDataParallel over
MPI on this machine, one thread per process (OMP/OpenBLAS/MKL/numba threads = 1).

Each rank runs the training step of benchmarks/models.py (pytorch/examples' VAE, the baby GPT,
DCGAN's D and G steps) on a batch of the model's own size (weak scaling: N ranks train on N times
the samples per step). One process runs the plain model; N ranks wrap it (DCGAN: G and D each) in
DistributedDataParallel.

    python benchmarks/distributed.py                        # 1 and 2 ranks, vae, gpt, dcgan
    python benchmarks/distributed.py --ranks 1,2,3 --cases gpt --bucket-cap-mb 25,1

Each world size runs as its own mpiexec job, the world sizes alternating for --rounds rounds; per
model and world size the round with the fastest median step is kept (other jobs on a shared
machine only ever slow a run down, so the fastest round is the least disturbed).

Reported per model and world size:
  - ms per step: of the fastest of the timed blocks of steps (each block between two barriers; the
    median over blocks beside it);
  - samples/s over all ranks, and scaling efficiency = samples/s / (N x one process's samples/s);
  - the reducer's wait for its buckets at the end of backward, split in two with the wait's start
    and end on every rank (one machine, one monotonic clock): skew, the time from the first
    rank's arrival to the last one's (waiting for a slower rank, not for the network), and
    exposed all-reduce, the time from the last arrival until the all-reduce is done;
  - all-reduce alone: ms per step the same bucket all-reduces take by themselves (blocking, after
    a barrier, no backward running);
  - hidden = 1 - exposed / alone: the share of the communication that backward covered.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import tinygen as tg
import tinygen.distributed as dist
import tinygen.nn as nn
import tinygen.nn.functional as F
from tinygen.distributed import ReduceOp
from tinygen.distributed.utils import launch_command
from tinygen.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import write_markdown  # noqa: E402
from models import CASES, _step_fn  # noqa: E402

BATCH = {"vae": 128, "gpt": 12, "dcgan": 64}          # samples per rank per step (models.py's)
ONE_THREAD = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                               "NUMBA_NUM_THREADS")}


# ---- inside each rank ------------------------------------------------------------------------
def worker(args):
    dist.init_process_group("mpi")
    results = {name: measure(name, args) for name in args.cases.split(",")}
    if dist.get_rank() == 0:
        with open(args.json, "w") as f:
            json.dump(results, f)
    dist.destroy_process_group()


def measure(name, args):
    size = dist.get_world_size()
    tg.manual_seed(0)
    wrap = (lambda m: DDP(m, bucket_cap_mb=args.bucket_cap_mb)) if size > 1 else None
    model, opt, fn = CASES[name][0](tg, nn, F, wrap=wrap)
    step = _step_fn(model, opt, fn)
    ddps = [m for m in model.modules() if isinstance(m, DDP)]
    for _ in range(args.warmup):                  # numba compiles, caches fill
        step()
    blocks = []                                   # (s / step, skew s / step, exposed s / step)
    for _ in range(args.repeats):
        for d in ddps:
            d.reducer.timeline = []
        dist.barrier()
        start = time.perf_counter()
        for _ in range(args.number):
            step()
        dist.barrier()
        seconds = (time.perf_counter() - start) / args.number
        skew, exposed = split_waits(sum((d.reducer.timeline for d in ddps), []))
        blocks.append((seconds, skew / args.number, exposed / args.number))
    fastest = min(blocks, key=lambda b: b[0])     # the block least disturbed by other jobs
    syncs = [len(d.reducer.timeline) / args.number for d in ddps]     # per step
    alone = sum(allreduce_alone(d) * k for d, k in zip(ddps, syncs))
    return {"ms": fastest[0] * 1e3, "median_ms": statistics.median(b[0] for b in blocks) * 1e3,
            "skew_ms": fastest[1] * 1e3, "exposed_ms": fastest[2] * 1e3, "alone_ms": alone * 1e3,
            "buckets": sum(len(d.reducer.buckets) for d in ddps),
            "mib": sum(b.flat.nbytes for d in ddps for b in d.reducer.buckets) / 2**20}


def split_waits(timeline):
    """The reducer's waits at the end of backward, (start, end) per sync on this rank, split with
    every rank's (one machine: time.monotonic is one clock for all) into the time spent waiting
    for the last rank to arrive (skew) and the time after it arrived (exposed all-reduce)."""
    if not timeline:
        return 0.0, 0.0
    mine = tg.tensor(np.asarray(timeline, np.float64))                 # (syncs, 2)
    every = [tg.zeros(tuple(mine.shape), dtype=tg.float64) for _ in range(dist.get_world_size())]
    dist.all_gather(every, mine)
    every = np.stack([t.numpy() for t in every])                       # (world, syncs, 2)
    last_arrival = every[:, :, 0].max(0)
    skew = (last_arrival - every[:, :, 0].min(0)).sum()
    exposed = (every[:, :, 1].max(0) - last_arrival).sum()
    return float(skew), float(exposed)


def allreduce_alone(ddp, repeats=15):
    """Seconds for one sync of ddp's buckets by themselves: blocking, after a barrier."""
    group = ddp.process_group
    times = []
    for _ in range(repeats):
        dist.barrier()
        start = time.perf_counter()
        for bucket in ddp.reducer.buckets:
            group.backend_for(bucket.flat, "bench").all_reduce(bucket.flat, ReduceOp.AVG).wait()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ---- the launcher ----------------------------------------------------------------------------
def idle_fraction(seconds=2.0):
    """The share of CPU time the machine spent idle over the next `seconds` (Linux /proc/stat;
    None elsewhere)."""
    def read():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return sum(values), values[3] + values[4]            # total, idle + iowait
    try:
        total0, idle0 = read()
        time.sleep(seconds)
        total1, idle1 = read()
    except OSError:
        return None
    return (idle1 - idle0) / max(total1 - total0, 1)


def wait_for_idle(limit):
    """Wait up to `limit` seconds for the machine to be >= 90% idle (other jobs share it)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        idle = idle_fraction()
        if idle is None or idle >= 0.9:
            return True
    return False


def run_world(n, cap, args):
    """One mpiexec job of n ranks (buckets of `cap` MiB): {model: measurements} from rank 0."""

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "results.json")
        argv = [sys.executable, os.path.abspath(__file__), "--worker", "--json", out,
                "--cases", args.cases, "--repeats", str(args.repeats), "--number",
                str(args.number), "--warmup", str(args.warmup), "--bucket-cap-mb", str(cap)]
        subprocess.run(launch_command(n, argv), env=dict(os.environ, **ONE_THREAD), check=True,
                       timeout=3600)
        with open(out) as f:
            return json.load(f)


def run_all(configs, args):
    """Every (world size, bucket cap) for args.rounds alternating rounds; per model the fastest
    round. Returns ({config: {model: measurements}}, runs that started on an idle machine)."""
    results = {c: {} for c in configs}
    idle_starts = 0
    for _ in range(args.rounds):
        for n, cap in configs:
            idle_starts += bool(args.wait_idle) and wait_for_idle(args.wait_idle)
            for name, r in run_world(n, cap, args).items():
                if name not in results[(n, cap)] or r["ms"] < results[(n, cap)][name]["ms"]:
                    results[(n, cap)][name] = r
    return results, idle_starts


def table(results, configs, cases):
    """Rows of the Markdown table: per model, per (world size, bucket cap)."""
    rows = []
    for name in cases:
        one = BATCH[name] / (results[configs[0]][name]["ms"] / 1e3)
        for n, cap in configs:
            r = results[(n, cap)][name]
            throughput = n * BATCH[name] / (r["ms"] / 1e3)
            dist_cols = ["-"] * 6
            if n > 1:
                hidden = 1 - r["exposed_ms"] / r["alone_ms"] if r["alone_ms"] > 0 else float("nan")
                dist_cols = [f"{throughput / (n * one):.0%}", f"{cap:g}",
                             f"{r['mib']:.1f} MiB / {r['buckets']}", f"{r['skew_ms']:.2f}",
                             f"{r['exposed_ms']:.2f} / {r['alone_ms']:.2f}", f"{hidden:.0%}"]
            rows.append([name, n, n * BATCH[name], f"{r['ms']:.1f} ({r['median_ms']:.1f})",
                         f"{throughput:.0f}"] + dist_cols)
    return rows


def notes(args, load_before, load_after, idle_starts, runs):
    return (f"{os.cpu_count()} logical cores, one thread per process. The fastest of "
            f"{args.repeats} blocks of {args.number} steps (after {args.warmup} warm-up steps), "
            f"in the fastest of {args.rounds} alternating rounds (median over the blocks in "
            "parentheses); samples/s, efficiency and the all-reduce columns are those of that "
            "block. The first bucket holds at most 1 MiB (as PyTorch's). One process runs the "
            "plain model, N ranks wrap it in DistributedDataParallel (broadcast_buffers=True: "
            "DCGAN's BatchNorm buffers travel at each forward; its G step's backward also "
            "all-reduces D's gradients, as PyTorch's does). Every rank runs the same input "
            "(throughput does not depend on the values). Load average (1 min) before and after: "
            f"{load_before[0]:.1f}, {load_after[0]:.1f}: other jobs on this machine share its "
            "cores, so the numbers move when it is busy"
            + (f"; {idle_starts} of {runs} runs started on an idle machine (waiting up to "
               f"{args.wait_idle:g} s for one)." if args.wait_idle else "."))


def main(argv=None):
    p = argparse.ArgumentParser(description="DistributedDataParallel throughput over MPI (CPU)")
    p.add_argument("--cases", default="vae,gpt,dcgan")
    p.add_argument("--ranks", default="1,2", help="world sizes; 1 (the baseline) must be there")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--number", type=int, default=5, help="steps per timed block")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--bucket-cap-mb", default="25", help="one or more, comma-separated")
    p.add_argument("--rounds", type=int, default=3, help="alternating runs; the fastest is kept")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                   help="before each run, wait up to this long for the machine to be 90%% idle")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                 "distributed_cpu.md"))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--json", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        args.bucket_cap_mb = float(args.bucket_cap_mb)
        return worker(args)
    ranks = [int(n) for n in args.ranks.split(",")]
    if 1 not in ranks:
        raise SystemExit("--ranks must include 1: the one-process baseline")
    caps = [float(c) for c in args.bucket_cap_mb.split(",")]
    configs = [(1, caps[0])] + [(n, cap) for n in ranks if n > 1 for cap in caps]
    load_before = os.getloadavg()
    results, idle_starts = run_all(configs, args)
    load_after = os.getloadavg()
    header = ["model", "ranks", "global batch", "ms / step (median)", "samples/s", "efficiency",
              "bucket_cap_mb", "gradients / buckets", "skew ms",
              "exposed / alone all-reduce ms", "hidden"]
    print(write_markdown(args.out, "Data-parallel training over MPI (CPU)", header,
                         table(results, configs, args.cases.split(",")),
                         notes(args, load_before, load_after, idle_starts,
                               args.rounds * len(configs)),
                         ["python", "benchmarks/distributed.py"]
                         + (argv if argv is not None else sys.argv[1:])))


if __name__ == "__main__":
    main()
