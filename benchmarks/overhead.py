"""Per-op overhead: microseconds per op, forward + backward, tinygen against PyTorch CPU.

Small tensors, so the time is almost all framework overhead (Python, dispatch, graph recording,
the backward walk), not arithmetic. Both frameworks run in this process, interleaved: for each
repeat, a batch of tinygen calls then a batch of PyTorch calls; the table reports medians over
repeats and the ratio tinygen / PyTorch.

    python benchmarks/overhead.py                      # prints and writes the Markdown table
    python benchmarks/overhead.py --repeats 30 --number 300 --out benchmarks/results/overhead.md
    python benchmarks/overhead.py --baseline-src /tmp/old   # + a "before" column (see below)

--baseline-src DIR: a source tree of an older tinygen (a `git worktree` of an earlier commit, with
`tinygen_kernels` importable from DIR, e.g. a symlink to its kernels/). Its tinygen microseconds
for the same cases are measured in a child process (PYTHONPATH=DIR), one round per repeat between
this process's rounds, and shown beside today's as "before".
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import machine_header, write_markdown  # noqa: E402

import tinygen as tg  # noqa: E402


def _cases(torch):
    """name -> (make_inputs(lib), step(lib, inputs)); step runs forward + backward once."""
    rng = np.random.default_rng(0)

    def arrays(*shapes):
        return [rng.standard_normal(s).astype(np.float32) for s in shapes]

    def lib_tensor(lib, a, grad):
        if lib is tg:
            return tg.tensor(a, requires_grad=grad)
        return torch.tensor(a, requires_grad=grad)

    def linear(lib):
        if lib is tg:
            import tinygen.nn.functional as F
            if not F.__file__.startswith(os.path.dirname(tg.__file__)):
                # an older tinygen without nn: Python found today's through the editable install
                raise ImportError("this tinygen has no tinygen.nn")
        else:
            import torch.nn.functional as F
        return F.linear

    def softmax(lib, x):
        return x.softmax(-1)

    cases = {
        "add (16x16)": ((16, 16), (16, 16)), "mul (16x16)": ((16, 16), (16, 16)),
        "matmul (64x64)": ((64, 64), (64, 64)), "sum (16x16)": ((16, 16),),
        "relu (16x16)": ((16, 16),), "softmax (16x16)": ((16, 16),),
        "mul-add-relu-sum chain (16x16)": ((16, 16), (16, 16)),
        "linear 64->64 + relu, batch 32": ((32, 64), (64, 64), (64,)),
    }
    steps = {
        "add (16x16)": lambda lib, a, b: (a + b).sum(),
        "mul (16x16)": lambda lib, a, b: (a * b).sum(),
        "matmul (64x64)": lambda lib, a, b: (a @ b).sum(),
        "sum (16x16)": lambda lib, a: a.sum(),
        "relu (16x16)": lambda lib, a: a.relu().sum(),
        "softmax (16x16)": lambda lib, a: softmax(lib, a).sum(),
        "mul-add-relu-sum chain (16x16)": lambda lib, a, b: (a * b + b).relu().sum(),
        "linear 64->64 + relu, batch 32": lambda lib, x, w, b: linear(lib)(x, w, b).relu().sum(),
    }
    n_ops = {"add (16x16)": 2, "mul (16x16)": 2, "matmul (64x64)": 2, "sum (16x16)": 1,
             "relu (16x16)": 2, "softmax (16x16)": 2, "mul-add-relu-sum chain (16x16)": 4,
             "linear 64->64 + relu, batch 32": 3}
    out = {}
    for name, shapes in cases.items():
        data = arrays(*shapes)

        def make(lib, data=data):
            return [lib_tensor(lib, a, True) for a in data]

        def step(lib, inputs, fn=steps[name]):
            for t in inputs:
                t.grad = None
            fn(lib, *inputs).backward()

        out[name] = (make, step, n_ops[name])
    return out


def _time(fn, number):
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def run(repeats=25, number=200, with_torch=True, before=None):
    """[name, ops, tinygen µs, PyTorch µs, ratio, (before µs)] per case. `before`: a _Baseline
    (an older tinygen in a child process), timed in the same interleaved rounds."""
    import torch
    rows = []
    for name, (make, step, n_ops) in _cases(torch).items():
        libs = [tg, torch] if with_torch else [tg]
        inputs = [make(lib) for lib in libs]
        for _ in range(20):                      # warm-up (caches, lazy imports)
            for lib, x in zip(libs, inputs):
                step(lib, x)
        timers = [lambda lib=lib, x=x: _time(lambda: step(lib, x), number)
                  for lib, x in zip(libs, inputs)]
        if before is not None:
            timers.append(lambda: before.time(name, number))
        times = [[] for _ in timers]
        for _ in range(repeats):                 # interleaved: one round of each per repeat
            for t, timer in zip(times, timers):
                t.append(timer())
        m = [statistics.median(t) * 1e6 if None not in t else None for t in times]
        row = [name, n_ops, f"{m[0]:.1f}"]
        row += [f"{m[1]:.1f}", f"{m[0] / m[1]:.2f}"] if with_torch else [None, None]
        if before is not None:
            row += [f"{m[-1]:.1f}", f"{m[-1] / m[0]:.2f}"] if m[-1] else ["n/a", ""]
        rows.append(row)
    return rows


class _Baseline:
    """An older tinygen (the source tree `src`) in a child process that times one round of a
    case on request, so its rounds interleave with this process's (a noisy machine slows both)."""

    def __init__(self, src):
        env = dict(os.environ, PYTHONPATH=os.path.abspath(src))
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve"],
                                     env=env, cwd=src, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=src,
                                  capture_output=True, text=True).stdout.strip() or "?"

    def time(self, name, number):
        self.proc.stdin.write(json.dumps([name, number]) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def serve():
    """The child of _Baseline: reads [case, number] lines, answers seconds per call (null where
    this tinygen lacks the case)."""
    import torch
    cases, ready = _cases(torch), {}
    for line in sys.stdin:
        name, number = json.loads(line)
        make, step, _ = cases[name]
        if name not in ready:
            try:
                x = make(tg)
                for _ in range(20):
                    step(tg, x)
                ready[name] = x
            except (ImportError, AttributeError):
                ready[name] = None
        x = ready[name]
        t = None if x is None else _time(lambda: step(tg, x), number)
        print(json.dumps(t), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=25)
    p.add_argument("--number", type=int, default=200, help="calls per timed repeat")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "overhead.md"))
    p.add_argument("--baseline-src", help="an older tinygen source tree: adds a 'before' column")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:                              # the child of --baseline-src
        return serve()
    import torch
    before = _Baseline(args.baseline_src) if args.baseline_src else None
    try:
        rows = run(args.repeats, args.number, before=before)
    finally:
        if before is not None:
            before.close()
    header = ["case (forward + backward)", "ops", "tinygen µs", "PyTorch µs", "ratio"]
    if before is not None:
        header += [f"tinygen µs before ({before.rev})", "before / now"]
    notes = (f"Medians over {args.repeats} repeats of {args.number} calls, interleaved in one "
             f"process; PyTorch {torch.__version__} with {torch.get_num_threads()} threads. "
             "Each call runs the forward, `.backward()`, and clears the leaf grads. "
             "'ops' counts the forward ops (sum included)."
             + (" 'before': the same cases with the tinygen of --baseline-src, in a child "
                "process whose rounds interleave with this one's; 'before / now' above 1 means "
                "today's is faster." if args.baseline_src else ""))
    text = write_markdown(args.out, "Per-op overhead: tinygen vs PyTorch (CPU)", header, rows,
                          notes, argv=["python", "benchmarks/overhead.py"] + (argv or sys.argv[1:]))
    print(text)


if __name__ == "__main__":
    main()
