"""The training-step benchmark (benchmarks/models.py) of two source trees, in alternating rounds.

A refactor must not slow the models down. Each round runs benchmarks/models.py once in the older
tree (a `git worktree` of an earlier commit, with `tinygen_kernels` importable from it, e.g. a
symlink to its kernels/) and once in this one, each in its own process, alternately; the table
reports, per model, the medians over rounds of tinygen's step time and of its ratio to PyTorch
measured in the same process. The ratio is the steadier number on a shared machine: a busy
neighbour slows tinygen and PyTorch alike.

    python benchmarks/before_after.py --before /tmp/before --rounds 3
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import write_markdown  # noqa: E402

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_tree(tree, cases, threads, repeats):
    """{model: (tinygen ms, ratio)} from one run of `tree`'s benchmarks/models.py."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "models.md")
        env = dict(os.environ, PYTHONPATH=tree, OMP_NUM_THREADS=str(threads))
        proc = subprocess.run([sys.executable, "benchmarks/models.py", "--cases", cases,
                               "--threads", str(threads), "--repeats", str(repeats), "--out", out],
                              cwd=tree, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"before_after: benchmarks/models.py failed in {tree}:\n"
                             f"{proc.stderr[-2000:]}")
        with open(out) as f:
            lines = [line for line in f if line.startswith("| ") and not line.startswith("| model")]
    rows = {}
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0]] = (float(cells[2]), float(cells[4]))
    return rows


def git_rev(tree):
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True,
                          text=True).stdout.strip() or "?"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, help="the older source tree")
    p.add_argument("--cases", default="vae,dcgan,gpt,realnvp", help="cases both trees have")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=os.path.join(HERE, "benchmarks", "results",
                                                 "models_before_after.md"))
    args = p.parse_args(argv)
    before_tree = os.path.abspath(args.before)
    runs = {"before": [], "now": []}
    for _ in range(args.rounds):
        runs["before"].append(run_tree(before_tree, args.cases, args.threads, args.repeats))
        runs["now"].append(run_tree(HERE, args.cases, args.threads, args.repeats))

    def med(which, model, k):
        return statistics.median(r[model][k] for r in runs[which])

    rev_b, rev_n = git_rev(before_tree), git_rev(HERE)
    header = ["model", f"ms before ({rev_b})", f"ms now ({rev_n})", "ratio to PyTorch before",
              "ratio to PyTorch now", "now / before (ratios)"]
    rows = []
    for model in runs["now"][0]:
        rb, rn = med("before", model, 1), med("now", model, 1)
        rows.append([model, f"{med('before', model, 0):.1f}", f"{med('now', model, 0):.1f}",
                     f"{rb:.2f}", f"{rn:.2f}", f"{rn / rb:.2f}"])
    notes = (f"Medians over {args.rounds} alternating rounds; each round runs "
             f"`benchmarks/models.py --cases {args.cases} --threads {args.threads} --repeats "
             f"{args.repeats}` in each tree (tinygen and PyTorch interleaved in that process). "
             "'now / before' compares the ratios to PyTorch: below 1 means today's is faster.")
    text = write_markdown(args.out, "Training step before and after", header, rows, notes,
                          argv=["python", "benchmarks/before_after.py"] + (argv or sys.argv[1:]))
    print(text)


if __name__ == "__main__":
    main()
