"""Per-op overhead: microseconds per op, forward + backward, tinygen against PyTorch CPU.

Small tensors, so the time is almost all framework overhead (Python, dispatch, graph recording,
the backward walk), not arithmetic. Both frameworks run in this process, interleaved: for each
repeat, a batch of tinygen calls then a batch of PyTorch calls; the table reports medians over
repeats and the ratio tinygen / PyTorch.

    python benchmarks/overhead.py                      # prints and writes the Markdown table
    python benchmarks/overhead.py --repeats 30 --number 300 --out benchmarks/results/overhead.md
"""
from __future__ import annotations

import argparse
import os
import statistics
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


def run(repeats=25, number=200):
    import torch
    rows = []
    for name, (make, step, n_ops) in _cases(torch).items():
        tg_in, th_in = make(tg), make(torch)
        for _ in range(20):                      # warm-up (caches, lazy imports)
            step(tg, tg_in)
            step(torch, th_in)
        t_tg, t_th = [], []
        for _ in range(repeats):                 # interleaved
            t_tg.append(_time(lambda: step(tg, tg_in), number))
            t_th.append(_time(lambda: step(torch, th_in), number))
        m_tg, m_th = statistics.median(t_tg) * 1e6, statistics.median(t_th) * 1e6
        rows.append([name, n_ops, f"{m_tg:.1f}", f"{m_th:.1f}", f"{m_tg / m_th:.2f}"])
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=25)
    p.add_argument("--number", type=int, default=200, help="calls per timed repeat")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "overhead.md"))
    args = p.parse_args(argv)
    import torch
    rows = run(args.repeats, args.number)
    header = ["case (forward + backward)", "ops", "tinygen µs", "PyTorch µs", "ratio"]
    notes = (f"Medians over {args.repeats} repeats of {args.number} calls, interleaved in one "
             f"process; PyTorch {torch.__version__} with {torch.get_num_threads()} threads. "
             "Each call runs the forward, `.backward()`, and clears the leaf grads. "
             "'ops' counts the forward ops (sum included).")
    text = write_markdown(args.out, "Per-op overhead: tinygen vs PyTorch (CPU)", header, rows,
                          notes, argv=["python", "benchmarks/overhead.py"] + (argv or sys.argv[1:]))
    print(text)


if __name__ == "__main__":
    main()
