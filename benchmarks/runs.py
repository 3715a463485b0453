"""Whole runs, not steps: `tinygen train` end to end against a PyTorch twin of the same run.

Each run is one process, timed from its start to its exit (imports, data, every step, the
evaluations, sample figures, curves and checkpoints of the run), the tinygen run and its twin
(benchmarks/runs_torch.py, which says what each twin does) in turn, `--repeats` times:

    classifier  `tinygen train classifier --data mnist --epochs 1`         (938 steps, batch 64)
    vae         `tinygen train vae --data mnist --epochs 1`                (469 steps, batch 128)
    dcgan       `tinygen train dcgan --data mnist --epochs 1`              (938 steps, batch 64)
    gpt         `tinygen train gpt --steps 2000` on tinyshakespeare        (8 evaluations)

tinygen runs with its defaults (the step captured by tg.compile; `--no-compile` times the eager
runs instead). Both sides get the same threads (--threads: PyTorch's intra-op threads, BLAS and
tinygen's own). The table: medians of the wall times, their ratio, and the last metric each
run logged (a check that both trained, not a quality comparison: the twins draw other random
numbers).

    python benchmarks/runs.py --data-dir ../shared/data          # tinygen bench runs
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _report import write_markdown  # noqa: E402

CASES = {
    "classifier": (["classifier", "--data", "mnist", "--epochs", "1"], "test_acc"),
    "vae": (["vae", "--data", "mnist", "--epochs", "1"], "test_nelbo_nats"),
    "dcgan": (["dcgan", "--data", "mnist", "--epochs", "1"], "loss_d"),
    "gpt": (["gpt", "--steps", "2000"], "val_loss"),
}


def _env(threads):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    return env


def _timed(cmd, env, out):
    """Seconds from the process's start to its exit, and the last value of each metric it
    logged (metrics.jsonl in `out`)."""
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}")
    last = {}
    with open(os.path.join(out, "metrics.jsonl")) as f:
        for line in f:
            last.update({k: v for k, v in json.loads(line).items() if isinstance(v, float)})
    return seconds, last


def commands(case, data_dir, work, threads, compiled):
    args, _ = CASES[case]
    mine = [sys.executable, "-m", "tinygen", "train", *args, "--data-dir", data_dir,
            "--out", os.path.join(work, "tinygen"), "--restart"]
    if not compiled:
        mine.append("--no-compile")
    twin = [sys.executable, os.path.join(HERE, "runs_torch.py"), case, "--data-dir", data_dir,
            "--out", os.path.join(work, "torch"), "--threads", str(threads)]
    return mine, twin


def run(cases, data_dir, repeats, threads, compiled):
    rows = []
    env = _env(threads)
    with tempfile.TemporaryDirectory() as work:
        for case in cases:
            mine, twin = commands(case, data_dir, work, threads, compiled)
            times = {"tinygen": [], "torch": []}
            last = {}
            for _ in range(repeats):
                for name, cmd in (("tinygen", mine), ("torch", twin)):
                    seconds, last[name] = _timed(cmd, env, os.path.join(work, name))
                    times[name].append(seconds)
                    print(f"{case} {name}: {seconds:.1f} s", flush=True)
            metric = CASES[case][1]
            t_g, t_t = statistics.median(times["tinygen"]), statistics.median(times["torch"])
            rows.append([case, " ".join(CASES[case][0]), f"{t_g:.1f}", f"{t_t:.1f}",
                         f"{t_g / t_t:.2f}",
                         f"{metric} {last['tinygen'].get(metric, float('nan')):.4g} / "
                         f"{last['torch'].get(metric, float('nan')):.4g}"])
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description="Whole runs: tinygen train against PyTorch twins")
    p.add_argument("--data-dir", default=os.path.join(HERE, "..", "..", "shared", "data"))
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-compile", action="store_true", help="time eager tinygen runs")
    p.add_argument("--out", default=os.path.join(HERE, "results", "runs_cpu.md"))
    args = p.parse_args(argv)
    cases = args.cases.split(",")
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        p.error(f"unknown case(s) {', '.join(unknown)}; expected some of {', '.join(CASES)}")
    rows = run(cases, os.path.abspath(args.data_dir), args.repeats, args.threads,
               not args.no_compile)
    header = ["run", "tinygen train ...", "tinygen s", "PyTorch twin s", "ratio",
              "last metric (tinygen / PyTorch)"]
    notes = (f"Wall time of each whole run as a process (start to exit), median of "
             f"{args.repeats}, the tinygen run and its PyTorch {version('torch')} twin "
             f"(benchmarks/runs_torch.py) in turn, {args.threads} threads each; tinygen "
             + ("eager (--no-compile)." if args.no_compile else
                "with its default captured step (tg.compile)."))
    text = write_markdown(args.out, "Whole runs: tinygen train vs PyTorch twins (CPU)", header,
                          rows, notes, ["python", "benchmarks/runs.py"]
                          + (argv if argv is not None else sys.argv[1:]))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
