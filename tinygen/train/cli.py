"""`tinygen train | sample | eval` (see API.md, "Command line")."""
from __future__ import annotations

import os
import sys

import tinygen as tg
from ..backend.random import fork_rng
from .recipes import RunConfig, SampleRequest, get_recipe, recipe_names
from .run_folder import CONFIG, EVAL, read_config, write_json
from .workbench import Workbench, load_run


def _parse_set(items):
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"tinygen: --set expects KEY=VALUE, got {item!r}")
        out[key.replace("-", "_")] = value
    return out


def add_train_parsers(sub):
    """Add `train`, `sample` and `eval` to an argparse subparsers object. Only the recipe names
    are needed here: no model is imported to build the parser."""
    names = recipe_names()
    t = sub.add_parser("train", help="train a model (offline default data with no flags)",
                       description="Train MODEL; writes config.json, metrics.jsonl, "
                                   "checkpoint.safetensors (+ optimizer.safetensors), samples.png "
                                   "and curves.png into --out.")
    t.add_argument("model", choices=names, metavar="MODEL", help=", ".join(names))
    t.add_argument("--data", help="dataset name or text file (default: the model's offline default)")
    t.add_argument("--data-dir", help="dataset root (default $TINYGEN_DATA or ~/.cache/tinygen)")
    length = t.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int)
    length.add_argument("--steps", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--device", default="cpu", help="cpu or cuda")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", help="output folder (default runs/MODEL)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    t.add_argument("--log-every", type=int, default=10, help="steps between metrics.jsonl lines")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a model option, e.g. --set latent=32 or --set classifier=runs/classifier")
    t.set_defaults(func=run_train)

    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("dir")
    s.add_argument("-n", type=int, default=64, help="number of samples")
    s.add_argument("--out", help="FILE.npy (images: float32 (N, C, H, W) in [0, 1])")
    s.add_argument("--prompt", default=None, help="text models: the start of the text")
    s.add_argument("--max-new-tokens", type=int, default=200)
    s.add_argument("--temperature", type=float, default=1.0)
    s.add_argument("--top-k", type=int, default=None)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default=None)
    s.set_defaults(func=run_sample)

    e = sub.add_parser("eval", help="test metrics of a trained run, into DIR/eval.json")
    e.add_argument("dir")
    e.add_argument("--data-dir")
    e.add_argument("--device", default=None)
    e.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="e.g. --set classifier=runs/classifier (GANs) or --set iw_samples=64 (VAE)")
    e.set_defaults(func=run_eval)


def _resumed_run(args, out):
    """The RunConfig of the run in `out`, with what the command line may change on a resume."""
    saved = read_config(out)
    run = RunConfig(model=saved["model"], data=saved["data"], data_dir=args.data_dir or saved.get("data_dir"),
                    epochs=args.epochs if args.epochs is not None else saved.get("epochs"),
                    steps=args.steps if args.steps is not None else saved.get("steps"),
                    batch_size=saved.get("batch_size"), lr=saved.get("lr"),
                    device=args.device, seed=saved["seed"], out=out,
                    log_every=saved.get("log_every", 10), options=saved.get("options", {}))
    if args.epochs is not None:
        run.steps = None
    return run


def run_train(args):
    out = args.out or os.path.join("runs", args.model)
    if args.resume:
        if not os.path.exists(os.path.join(out, CONFIG)):
            print(f"tinygen train: error: --resume: no run in {out} (no {CONFIG})", file=sys.stderr)
            return 1
        run = _resumed_run(args, out)
    else:
        run = RunConfig(model=args.model, data=args.data, data_dir=args.data_dir,
                        epochs=args.epochs, steps=args.steps, batch_size=args.batch_size,
                        lr=args.lr, device=args.device, seed=args.seed, out=out,
                        log_every=args.log_every, options=_parse_set(args.set))
    try:
        return Workbench(get_recipe(run.model), run).fit(resume=args.resume)
    except (FileNotFoundError, ValueError) as e:
        print(f"tinygen train: error: {e}", file=sys.stderr)
        return 1


def _load(command, args, **kwargs):
    """The run in args.dir for `sample` / `eval`; None (after a one-line error) if there is none."""
    try:
        return load_run(args.dir, device=args.device, **kwargs)
    except FileNotFoundError as e:
        print(f"tinygen {command}: error: {e}", file=sys.stderr)
        return None


def run_sample(args):
    bench = _load("sample", args)
    if bench is None:
        return 1
    request = SampleRequest(n=args.n, out=args.out or os.path.join(args.dir, "samples.npy"),
                            prompt=args.prompt, max_new_tokens=args.max_new_tokens,
                            temperature=args.temperature, top_k=args.top_k)
    with fork_rng(args.seed), tg.no_grad():
        try:
            print(bench.recipe.sample_command(request))
        except NotImplementedError as e:
            print(f"tinygen sample: error: {e}", file=sys.stderr)
            return 1
    return 0


def run_eval(args):
    bench = _load("eval", args, data_dir=args.data_dir)
    if bench is None:
        return 1
    recipe = bench.recipe
    recipe.run.options.update(_parse_set(args.set))
    with fork_rng(recipe.run.seed + 7), tg.no_grad():
        metrics = recipe.evaluate(bench.data.test, **recipe.eval_options())
    write_json(os.path.join(args.dir, EVAL), metrics)
    for k, v in metrics.items():
        print(f"{k}: {v:.6g}")
    return 0
