"""tinygen against the other autograd engines: four workloads, each engine in its own process.

Engines: tinygen (eager, and compiled with tinygen.compile where it exists), PyTorch, tinygrad
(its CPU device, steps under TinyJit), MyGrad, HIPS autograd, micrograd (scalar: the toy only).
The workloads are in peer_workloads.py: a per-op chain, an MLP step, a LeNet step and
micrograd's 2-16-16-1 toy. Every engine starts from the same data and parameters; each child
checks that its first loss is finite, and the driver checks it against tinygen's.

For each engine x workload the driver runs a child,
    python benchmarks/peers.py --child ENGINE WORKLOAD --repeats R [--number N] --threads T
which builds the workload, warms up, times R repeats of N steps (N chosen so that a repeat takes
about --target seconds unless given) and prints one JSON line: the median microseconds per step,
the engine's version, the first and last losses. An engine that is not installed, or cannot run
here (tinygrad's CPU device without a clang: the system's, or the ziglang wheel's through
zig_cc.py), is reported as such; nothing stops the run.

    pip install 'tinygen[peers]'               # the other engines (benchmark-only)
    python benchmarks/peers.py --repeats 7     # writes benchmarks/results/peers_cpu.md and .png
    tinygen bench peers --repeats 7            # the same

Every child runs with glibc's malloc as a script that imports its engine gets it; with
--keep-freed-memory every child keeps freed memory for reuse instead (tinygen/backend/memory.py,
what the `tinygen` command sets for its own processes), the same for every engine.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import _git_rev, markdown_table, write_markdown, write_ratio_chart  # noqa: E402
from peer_workloads import (ENGINES, LABELS, MODULES, WORKLOADS,  # noqa: E402
                            Unavailable, arrays, tinygrad_compiler)

FROM_SCRATCH = ("tinygen", "tinygrad", "mygrad", "autograd", "micrograd")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")
LOSS_RTOL = 1e-4
SPREAD_LIMIT = 3.0        # a cell whose repeats vary more than this is marked †


# ---- the child: one engine, one workload ---------------------------------------------------------
def engine_version(engine):
    """The installed distribution's version (tinygen: the imported package's, with its commit;
    tinygrad: with the C compiler of its kernels)."""
    if MODULES[engine] == "tinygen":
        import tinygen
        return f"{tinygen.__version__} ({_git_rev()})"
    try:
        version = importlib.metadata.version(MODULES[engine])
    except importlib.metadata.PackageNotFoundError:
        return None
    if engine == "tinygrad":            # and the C compiler of its kernels (raises Unavailable)
        version += f" ({tinygrad_compiler()})"
    return version


def _finite_or_raise(value, when):
    if not math.isfinite(value):
        raise FloatingPointError(f"the {when} loss is not finite: {value}")
    return value


def measure(built, repeats, number, warmup, target_s):
    """{"first_loss", "last_loss", "number", "times_us"}: the first step is checked, then
    `warmup` steps (JIT compilation, TinyJit's capture), then `repeats` timed repeats of `number`
    steps (None: as many as fill target_s, from one timed step)."""
    first = _finite_or_raise(built.read(built.step()), "first")
    for _ in range(warmup):
        built.step()
    built.sync()
    if number is None:
        t0 = time.perf_counter()
        built.step()
        built.sync()
        number = max(1, min(100_000, round(target_s / (time.perf_counter() - t0))))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            loss = built.step()
        built.sync()
        times.append((time.perf_counter() - t0) / number * 1e6)
    last = _finite_or_raise(built.read(loss), "last")
    return {"first_loss": first, "last_loss": last, "number": number, "times_us": times}


def keep_freed_memory():
    """tinygen.backend.memory.keep_freed_memory(), loaded from its file: a child timing another
    engine does not import tinygen."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tinygen",
                        "backend", "memory.py")
    spec = importlib.util.spec_from_file_location("_tinygen_memory", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.keep_freed_memory()


def child_result(engine, workload, repeats=7, number=None, warmup=3, threads=2, target_s=0.25,
                 keep_memory=False):
    """What a child prints: a dict with engine, workload, status ("ok", "not installed",
    "unavailable" or "error"), reason, version, median_us and measure()'s fields."""
    if keep_memory:
        keep_freed_memory()
    result = {"engine": engine, "workload": workload, "status": "ok", "reason": None,
              "detail": None, "version": None, "threads": threads, "median_us": None}
    try:
        result["version"] = engine_version(engine)
        if engine == "torch":
            import torch
            torch.set_num_threads(threads)
        built = ENGINES[engine](workload)
        result.update(measure(built, repeats, number, warmup, target_s))
        result["median_us"] = statistics.median(result["times_us"])
    except ModuleNotFoundError as e:
        top = (e.name or "").split(".")[0]
        if top == MODULES[engine]:
            result.update(status="not installed", reason="not installed",
                          detail=f"no module named {top!r} (pip install 'tinygen[peers]')")
        else:
            result.update(status="error", reason="error", detail=f"no module named {e.name!r}")
    except Unavailable as e:
        result.update(status="unavailable", reason=e.short, detail=e.detail or None)
    except Exception as e:                       # any engine failure is a row, not a crash
        result.update(status="error", **_error_reason(e))
    return result


def _error_reason(error):
    """{"reason", "detail"} for an engine's exception. tinygrad's error for a missing compiler
    is a bare FileNotFoundError naming clang: say what it means."""
    text = f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
    if isinstance(error, FileNotFoundError) and "clang" in text:
        return {"reason": "clang missing", "detail": f"tinygrad's CPU device needs clang ({text})"}
    return {"reason": "error", "detail": text}


# ---- the driver: every engine x workload in its own process --------------------------------------
def child_env(threads):
    env = dict(os.environ)
    env.update({name: str(threads) for name in THREAD_VARIABLES})
    return env


def run_child(engine, workload, args):
    """Runs one child process and returns its JSON result; a child that crashes, prints no JSON
    or runs past --timeout becomes a result with status "error"."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", engine, workload,
           "--repeats", str(args.repeats), "--warmup", str(args.warmup),
           "--threads", str(args.threads), "--target", str(args.target)]
    if args.keep_freed_memory:
        cmd.append("--keep-freed-memory")
    if args.number:
        cmd += ["--number", str(args.number)]
    failed = {"engine": engine, "workload": workload, "status": "error", "reason": "error",
              "version": None, "median_us": None}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env(args.threads),
                              timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return dict(failed, reason="timed out", detail=f"timed out after {args.timeout} s")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = " ".join(proc.stderr.strip().splitlines()[-1:])[:300]
    return dict(failed, detail=f"the child exited with status {proc.returncode}: {tail}")


def loss_check(results, workload, engine):
    """"ok" when the engine's first loss equals tinygen eager's within LOSS_RTOL (relative), else
    the two values; "" when either is missing."""
    mine = results[engine, workload].get("first_loss")
    ref = results["tinygen", workload].get("first_loss")
    if mine is None or ref is None:
        return ""
    if abs(mine - ref) <= LOSS_RTOL * max(abs(ref), 1e-12):
        return "ok"
    return f"MISMATCH ({mine:.6g} vs {ref:.6g})"


def format_time(us):
    if us >= 1e5:
        return f"{us / 1e3:.0f} ms"
    if us >= 1e3:
        return f"{us / 1e3:.2f} ms"
    return f"{us:.1f} µs"


def cell(result, tinygen_us):
    """"1.23 ms (0.45)": the median per step and tinygen eager's time over it; or the reason."""
    if result["status"] != "ok":
        return result["reason"]
    text = format_time(result["median_us"])
    if tinygen_us and result["engine"] != "tinygen":
        text += f" ({tinygen_us / result['median_us']:.2f})"
    return text + (" †" if unsteady(result) else "")


def unsteady(result):
    """The slowest repeat over SPREAD_LIMIT times the fastest: the machine, not the engine."""
    times = result.get("times_us")
    return bool(times) and max(times) > SPREAD_LIMIT * min(times)


def versus_other_from_scratch(results, workload):
    """tinygen eager against the fastest other from-scratch engine that ran this workload."""
    mine = results["tinygen", workload]["median_us"]
    others = [(results[e, workload]["median_us"], e) for e in FROM_SCRATCH[1:]
              if (e, workload) in results and results[e, workload]["status"] == "ok"]
    if mine is None or not others:
        return "—"
    best_us, best = min(others)
    verdict = "faster than" if mine < best_us else "SLOWER than"
    return f"{verdict} {LABELS[best]} ({mine / best_us:.2f})"


def table_rows(results, engines, workloads):
    rows = []
    for workload in workloads:
        tinygen_us = results["tinygen", workload]["median_us"]
        rows.append([WORKLOADS[workload]]
                    + [cell(results[e, workload], tinygen_us) for e in engines]
                    + [versus_other_from_scratch(results, workload)])
    return rows


def loss_table(results, engines, workloads):
    """First-step losses (every engine starts from the same parameters and data) and whether
    each equals tinygen eager's within LOSS_RTOL."""
    rows = []
    for workload in workloads:
        row = [workload]
        for e in engines:
            loss = results[e, workload].get("first_loss")
            check = loss_check(results, workload, e) if e != "tinygen" else ""
            row.append("" if loss is None else f"{loss:.7g}" + (f" {check}" if check else ""))
        rows.append(row)
    return markdown_table(["workload"] + [LABELS[e] for e in engines], rows)


def spread_table(results, engines, workloads):
    rows = []
    for workload in workloads:
        row = [workload]
        for e in engines:
            times = results[e, workload].get("times_us")
            row.append(f"{format_time(min(times))} – {format_time(max(times))}" if times else "")
        rows.append(row)
    return markdown_table(["workload"] + [LABELS[e] for e in engines], rows)


def reasons(results, engines):
    """One line per engine and distinct reason for a cell without a time."""
    seen = {}
    for (e, w), r in results.items():
        if r["status"] != "ok" and e in engines:
            text = r.get("detail") or r["reason"]
            seen.setdefault((e, text), []).append(w)
    return "\n".join(f"- {LABELS[e]} ({', '.join(ws)}): {text}" for (e, text), ws in seen.items())


def versions(results, engines):
    """"tinygen 0.1.0 (abc1234), PyTorch 2.13.0, ...": each engine's package once."""
    found = {}
    for (e, _), r in results.items():
        if e in engines:
            found.setdefault(MODULES[e], r.get("version") or "not installed")
    names = {"tinygen": "tinygen", "torch": "PyTorch", "tinygrad": "tinygrad",
             "mygrad": "MyGrad", "autograd": "HIPS autograd", "micrograd": "micrograd"}
    return ", ".join(f"{names[m]} {v}" for m, v in found.items())


def notes_text(results, engines, workloads, args, load):
    text = (f"Median microseconds (µs) or milliseconds (ms) per step over {args.rounds} x "
            f"{args.repeats} repeats: {args.rounds} round(s), each running every engine x "
            f"workload once in its own process, {args.repeats} repeats per process; in "
            f"parentheses tinygen "
            f"eager's time / the engine's (below 1: tinygen eager is faster). Each repeat times "
            f"{args.number or f'as many steps as fill ~{args.target} s'} after {args.warmup} "
            f"warm-up steps. {args.threads} thread(s) for every engine "
            f"({', '.join(THREAD_VARIABLES)}"
            f", torch.set_num_threads). Steps: forward, loss, backward and an SGD update (the "
            f"chain: forward and backward only); every engine starts from the same NumPy data "
            f"and parameters. 'From scratch': every engine but PyTorch. "
            + ("glibc's malloc kept freed memory for reuse in every engine's process "
               "(--keep-freed-memory: tinygen/backend/memory.py, as the `tinygen` command does "
               "for its own processes)." if args.keep_freed_memory else
               "glibc's malloc as a script gets it: `import tinygen` settles it at glibc's own "
               "ceilings (tinygen/backend/memory.py); the other engines' processes hand freed "
               "memory back to the kernel as glibc does by default, so a step's large arrays "
               "fault in fresh pages (--keep-freed-memory keeps it in every process)")
            + "\n\n"
            f"Versions: {versions(results, engines)}.\n\n"
            f"Machine load (1-minute load average) at the start: {load[0]:.2f}, at the end: "
            f"{load[1]:.2f}, on {os.cpu_count()} logical cores."
            + (f" {args.note}" if args.note else "") + "\n\n")
    why = reasons(results, engines)
    if why:
        text += f"Cells without a time:\n{why}\n\n"
    if any(unsteady(r) for r in results.values()):
        text += (f"†: the slowest repeat took over {SPREAD_LIMIT:g} times the fastest (see the "
                 "spread below): that median says more about the machine's load at the time "
                 "than about the engine.\n\n")
    text += ("Spread: the fastest and the slowest repeat (per step):\n\n"
             + spread_table(results, engines, workloads) + "\n\n")
    text += ("First-step losses (a check that every engine computes the same step; 'ok': within "
             f"{LOSS_RTOL:g} relative of tinygen eager's):\n\n"
             + loss_table(results, engines, workloads))
    return text


def chart(path, results, engines, workloads):
    labels, ratios = [], []
    for workload in workloads:
        tinygen_us = results["tinygen", workload]["median_us"]
        for e in engines[1:]:
            r = results[e, workload]
            if r["status"] == "ok" and tinygen_us:
                labels.append(f"{workload}: {LABELS[e]}")
                ratios.append(tinygen_us / r["median_us"])
    if labels:
        write_ratio_chart(path, labels, ratios, "tinygen eager vs other engines (CPU)",
                          "tinygen eager time / engine time (below 1: tinygen faster)")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: "
                   + ", ".join(ENGINES))
    p.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated: "
                   + ", ".join(WORKLOADS))
    p.add_argument("--repeats", type=int, default=7, help="timed repeats per child process")
    p.add_argument("--rounds", type=int, default=1, help="run every child this many times, "
                   "interleaved; the median is over rounds x repeats")
    p.add_argument("--number", type=int, help="steps per repeat (default: fill --target seconds)")
    p.add_argument("--target", type=float, default=0.25,
                   help="seconds per repeat, without --number")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps after the first")
    p.add_argument("--threads", type=int, default=2, help="threads for every engine")
    p.add_argument("--timeout", type=float, default=900, help="seconds per child process")
    p.add_argument("--keep-freed-memory", action="store_true",
                   help="glibc's malloc keeps freed memory in every engine's process "
                   "(tinygen/backend/memory.py)")
    p.add_argument("--note", default="", help="a sentence for the notes (e.g. the machine's load)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "results", "peers_cpu.md"))
    p.add_argument("--child", nargs=2, metavar=("ENGINE", "WORKLOAD"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    engines, workloads = args.child or (args.engines, args.workloads)
    for kind, names, known in (("engine", engines, ENGINES), ("workload", workloads, WORKLOADS)):
        unknown = [name for name in names.split(",") if name not in known]
        if unknown:
            p.error(f"unknown {kind} {unknown[0]!r}; expected one of {', '.join(known)}")
    if min(args.repeats, args.rounds, args.threads) < 1 or (args.number or 1) < 1:
        p.error("--repeats, --rounds, --number and --threads must be positive")
    return args


def merge(old, new):
    """One engine x workload over several rounds: the repeats' times pooled, the first round's
    first loss, the last round's last loss; a failure in any round stays visible."""
    if old is None or old["status"] != "ok":
        return old or new
    if new["status"] != "ok":
        return new
    merged = dict(old, times_us=old["times_us"] + new["times_us"], last_loss=new["last_loss"])
    merged["median_us"] = statistics.median(merged["times_us"])
    return merged


def sweep(engines, workloads, args):
    """{(engine, workload): result} over args.rounds rounds; each round runs every child once, so
    a change in the machine's load falls on every engine alike."""
    results = {}
    for round_index in range(args.rounds):
        for workload in workloads:
            for engine in engines:
                r = run_child(engine, workload, args)
                results[engine, workload] = merge(results.get((engine, workload)), r)
                shown = format_time(r["median_us"]) if r["status"] == "ok" else r["reason"]
                print(f"round {round_index + 1}/{args.rounds} {workload:6s} "
                      f"{LABELS[engine]:20s} {shown}", file=sys.stderr, flush=True)
    return results


def the_command(argv):
    """The command line as typed: `tinygen bench peers ...` or `python benchmarks/peers.py ...`."""
    via_cli = os.path.basename(sys.argv[0]) == "tinygen" or sys.argv[0].endswith("cli.py")
    return shlex.join((["tinygen", "bench", "peers"] if via_cli
                       else ["python", "benchmarks/peers.py"]) + argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child_result(*args.child, repeats=args.repeats, number=args.number,
                                      warmup=args.warmup, threads=args.threads,
                                      target_s=args.target,
                                      keep_memory=args.keep_freed_memory)), flush=True)
        return 0
    engines, workloads = args.engines.split(","), args.workloads.split(",")
    if "tinygen" not in engines:
        engines.insert(0, "tinygen")             # the reference column of every ratio
    load_start = os.getloadavg()[0]
    results = sweep(engines, workloads, args)
    header = ["workload"] + [LABELS[e] for e in engines] + ["tinygen eager vs other from-scratch"]
    notes = notes_text(results, engines, workloads, args, (load_start, os.getloadavg()[0]))
    text = write_markdown(args.out, "tinygen against other autograd engines (CPU)", header,
                          table_rows(results, engines, workloads), notes, [the_command(argv)])
    chart(os.path.splitext(args.out)[0] + ".png", results, engines, workloads)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
