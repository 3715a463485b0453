"""How long handing work to a second thread takes on this machine: an empty piece of work split
over two threads, timed by each way tinygen could split it.

    python benchmarks/threads.py [--repeats 301] [--out benchmarks/results/threads_cpu.md]

  tinygen split            tinygen_kernels._threads.run_split on tinygen's own threads
                           (TINYGEN_ONE_POOL=0): Python threads that sleep between splits; a
                           worker needs the GIL to start its Python piece
  tinygen split, spinning  the same with TINYGEN_SPIN_US=300: the worker polls (without the GIL)
                           before it sleeps
  tinygen split, one pool  run_split on numba's OpenMP threads (_threads.one_pool, the default
                           where it can be had): a prange loop over a ctypes callback that takes
                           the GIL for each piece
  numba prange, <layer>    an empty numba parallel loop on numba's workqueue layer and on its
                           OpenMP layer, whose threads spin (tinygen's choice where NumPy's
                           OpenBLAS runs its jobs on that pool too: kernels/_numba.py, one_pool)

Each way runs in its own process (numba's threading layer is chosen once per process), with
`import tinygen` first. Times are medians in microseconds: back to back, and after a 0.5 ms pause
(a training step's gaps between ops). A split pays when the work it halves takes several times
this (kernels/_numba.py's PARALLEL_MIN_ELEMENTS).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import write_markdown  # noqa: E402

WAYS = {   # label -> (child kind, environment)
    "tinygen split": ("split", {"TINYGEN_ONE_POOL": "0"}),
    "tinygen split, spinning (TINYGEN_SPIN_US=300)": ("split", {"TINYGEN_ONE_POOL": "0",
                                                                 "TINYGEN_SPIN_US": "300"}),
    "numba prange, workqueue layer": ("prange", {"NUMBA_THREADING_LAYER": "workqueue"}),
    "tinygen split, one pool": ("pool", {}),
    "numba prange, OpenMP layer": ("prange", {"NUMBA_THREADING_LAYER": "omp"}),
}
PAUSE = 0.0005


def _median_us(fn, repeats, pause=0.0):
    """Median microseconds of fn() over `repeats` calls, each after `pause` seconds of sleep."""
    times = []
    for _ in range(repeats):
        if pause:
            time.sleep(pause)
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def _medians(fn, repeats):
    """(back to back, after a pause): median microseconds of fn()."""
    for _ in range(10):
        fn()
    return _median_us(fn, repeats), _median_us(fn, max(repeats // 3, 1), PAUSE)


def child(kind, repeats):
    # lazy: only the child processes time anything (the parent launches them, numba or not:
    # numba is optional), each with its own numba threading layer from its environment
    import numba
    import numpy as np
    import tinygen  # noqa: F401  (malloc settled, numba's layer as tinygen sets it)
    from tinygen_kernels import _threads
    if kind in ("split", "pool"):
        _threads._conv_split[0] = True            # tinygen's threads in use, as after a conv
        if kind == "pool" and not _threads.one_pool():
            raise RuntimeError("no one pool here (numba's OpenMP layer with NumPy's OpenBLAS "
                               "callback)")
        return _medians(lambda: _threads.run_split(lambda i: None, 2, 2, blas=False), repeats)

    @numba.njit(parallel=True)
    def touch(a):
        for i in numba.prange(a.shape[0]):
            a[i] += 1.0
    numba.set_num_threads(2)
    a = np.zeros(2)
    result = _medians(lambda: touch(a), repeats)
    if numba.threading_layer() != os.environ.get("NUMBA_THREADING_LAYER"):
        raise RuntimeError(f"numba ran the {numba.threading_layer()} layer")
    return result


def _run_child(kind, env, repeats):
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", kind, "--repeats", str(repeats)],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return None, last
    return json.loads(proc.stdout.strip().splitlines()[-1]), ""


def main(argv=None):
    p = argparse.ArgumentParser(description="Thread handoff: an empty split over two threads")
    p.add_argument("--repeats", type=int, default=301)
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                 "threads_cpu.md"))
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.repeats)))
        return 0
    rows = []
    for label, (kind, env) in WAYS.items():
        result, why = _run_child(kind, env, args.repeats)
        cells = [f"{result[0]:.1f}", f"{result[1]:.1f}"] if result else ["unavailable: " + why, ""]
        rows.append([label] + cells)
        print(" | ".join(rows[-1]), flush=True)
    notes = (f"Medians over {args.repeats} empty splits back to back, and over "
             f"{max(args.repeats // 3, 1)} each after a {PAUSE * 1e3:.1f} ms pause; each way in "
             "its own process, after `import tinygen`, 2 threads. See the script's docstring for "
             "what each way is.")
    write_markdown(args.out, "Handing work to a second thread (CPU)",
                   ["way", "µs, back to back", f"µs, after {PAUSE * 1e3:.1f} ms"], rows, notes,
                   ["python", "benchmarks/threads.py"] + list(argv if argv is not None
                                                               else sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
