"""The compression rows of benchmarks/results/quality.md: tinygen.train.compress.compress_run on a
trained MNIST classifier and VAE (what `tinygen compress` will run), one configuration at a time,
each printed as a Markdown row (metric before -> after, sparsity, checkpoint sizes, seconds).

    tinygen train classifier --data mnist --data-dir DATA --out /tmp/clf
    tinygen train vae --data mnist --data-dir DATA --out /tmp/vae
    python benchmarks/compress_runs.py --classifier /tmp/clf --vae /tmp/vae --out /tmp/compressed

Each configuration is what `tinygen compress SRC --out DST [--prune F] [--global]
[--finetune-epochs N] [--int8]` does with those flags.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from tinygen.train.compress import compress_run

CONFIGS = {   # name: (source run, compress_run keyword arguments)
    "clf-int8": ("classifier", {"int8": True}),
    "clf-int8-percentile": ("classifier", {"int8": True, "observer": "percentile"}),
    "clf-prune50-global": ("classifier", {"prune": 0.5, "global_prune": True}),
    "clf-prune90-global": ("classifier", {"prune": 0.9, "global_prune": True}),
    "clf-prune90-global-ft1": ("classifier", {"prune": 0.9, "global_prune": True,
                                              "finetune_epochs": 1}),
    "clf-prune90-global-ft1-int8": ("classifier", {"prune": 0.9, "global_prune": True,
                                                   "finetune_epochs": 1, "int8": True}),
    "vae-int8": ("vae", {"int8": True}),
}


def flags(kwargs):
    """The `tinygen compress` flags of a compress_run call."""
    out = []
    if kwargs.get("prune"):
        out.append(f"--prune {kwargs['prune']}")
    if kwargs.get("global_prune"):
        out.append("--global")
    if kwargs.get("finetune_epochs"):
        out.append(f"--finetune-epochs {kwargs['finetune_epochs']}")
    if kwargs.get("int8"):
        out.append("--int8")
    if kwargs.get("observer", "minmax") != "minmax":
        out.append(f"(observer={kwargs['observer']})")
    return " ".join(out)


def row(name, kwargs, report):
    metric = next(iter(report["metrics_before"]))
    before, after = report["metrics_before"][metric], report["metrics_after"][metric]
    change = (f"{100 * (after - before):+.2f} points" if metric == "test_acc"
              else f"{after - before:+.2f} nats")
    steps = ""
    if "metrics_after_prune" in report and "metrics_after_finetune" in report:
        steps = f" (after pruning, before fine-tuning: {report['metrics_after_prune'][metric]:.4f})"
    return (f"| {report['model']} | `{flags(kwargs)}` | {metric} | {before:.4f} -> {after:.4f}"
            f"{steps} | {change} | {report['sparsity']:.1%} | {report['size_before_bytes']:,} -> "
            f"{report['size_after_bytes']:,} ({report['size_ratio']:.2f}x) | "
            f"{report['seconds']:.0f} s |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", required=True, help="a trained classifier run")
    parser.add_argument("--vae", required=True, help="a trained vae run")
    parser.add_argument("--out", required=True, help="where the compressed runs go")
    parser.add_argument("--only", nargs="*", default=sorted(CONFIGS))
    args = parser.parse_args(argv)
    sources = {"classifier": args.classifier, "vae": args.vae}
    print("| model | flags | metric | before -> after | change | sparsity | checkpoint bytes "
          "| time |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.only:
        source, kwargs = CONFIGS[name]
        report = compress_run(sources[source], os.path.join(args.out, name), **kwargs,
                              log=lambda text: print(text, file=sys.stderr, flush=True))
        print(row(name, kwargs, report), flush=True)
        with open(os.path.join(args.out, name + ".json"), "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
