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
for the same cases are measured in a child process (PYTHONPATH=DIR, same repeats) after this
process's runs, and shown beside today's as "before".
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


def run(repeats=25, number=200, with_torch=True):
    """[name, ops, tinygen µs, PyTorch µs, ratio] per case (PyTorch columns None without it)."""
    import torch
    rows = []
    for name, (make, step, n_ops) in _cases(torch).items():
        libs = [tg, torch] if with_torch else [tg]
        inputs = [make(lib) for lib in libs]
        try:
            for _ in range(20):                  # warm-up (caches, lazy imports)
                for lib, x in zip(libs, inputs):
                    step(lib, x)
        except (ImportError, AttributeError):
            if with_torch:
                raise
            rows.append([name, n_ops, "nan", None, None])     # an older tinygen lacks the op
            continue
        times = [[] for _ in libs]
        for _ in range(repeats):                 # interleaved
            for t, lib, x in zip(times, libs, inputs):
                t.append(_time(lambda: step(lib, x), number))
        m = [statistics.median(t) * 1e6 for t in times]
        if with_torch:
            rows.append([name, n_ops, f"{m[0]:.1f}", f"{m[1]:.1f}", f"{m[0] / m[1]:.2f}"])
        else:
            rows.append([name, n_ops, f"{m[0]:.1f}", None, None])
    return rows


def baseline(src, repeats, number):
    """{case: tinygen µs} of the tinygen found at `src`, measured in a child process."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(src))
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--tinygen-only",
                          "--repeats", str(repeats), "--number", str(number)],
                         env=env, capture_output=True, text=True, check=True, cwd=src).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=25)
    p.add_argument("--number", type=int, default=200, help="calls per timed repeat")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "overhead.md"))
    p.add_argument("--baseline-src", help="an older tinygen source tree: adds a 'before' column")
    p.add_argument("--tinygen-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.tinygen_only:                       # the child of --baseline-src: JSON on stdout
        rows = run(args.repeats, args.number, with_torch=False)
        print(json.dumps({r[0]: float(r[2]) for r in rows}))
        return
    import torch
    rows = run(args.repeats, args.number)
    header = ["case (forward + backward)", "ops", "tinygen µs", "PyTorch µs", "ratio"]
    if args.baseline_src:
        before = baseline(args.baseline_src, args.repeats, args.number)
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=args.baseline_src,
                             capture_output=True, text=True).stdout.strip() or "?"
        header += [f"tinygen µs before ({rev})", "before / now"]
        rows = [r + ([f"{before[r[0]]:.1f}", f"{before[r[0]] / float(r[2]):.2f}"]
                     if before[r[0]] == before[r[0]] else ["n/a", ""]) for r in rows]
    notes = (f"Medians over {args.repeats} repeats of {args.number} calls, interleaved in one "
             f"process; PyTorch {torch.__version__} with {torch.get_num_threads()} threads. "
             "Each call runs the forward, `.backward()`, and clears the leaf grads. "
             "'ops' counts the forward ops (sum included)."
             + (" 'before': the same cases with the tinygen of --baseline-src, in a child "
                "process run after this one (not interleaved)." if args.baseline_src else ""))
    text = write_markdown(args.out, "Per-op overhead: tinygen vs PyTorch (CPU)", header, rows,
                          notes, argv=["python", "benchmarks/overhead.py"] + (argv or sys.argv[1:]))
    print(text)


if __name__ == "__main__":
    main()
