"""`tinygen train | sample | eval | embed | runs` (see API.md, "Command line").

A user's mistake ends in one line on stderr naming the argument or file, what was wrong and what
to do: UsageError (exit 2) for a command line that cannot mean anything, RunError (exit 1) for
one that cannot be carried out (tinygen/cli.py prints them; `--debug` shows the traceback).
"""
from __future__ import annotations

import argparse
import json
import os

import tinygen as tg
from ..backend.random import fork_rng
from ..data import canonical_name
from .compress import compress_run
from .errors import RunError, UsageError
from .recipes import RunConfig, SampleRequest, get_recipe, recipe_names
from .recipes.base import bounds_text
from .run_folder import CONFIG, EVAL, check_judge, read_config, write_json
from .runs import add_runs_parser
from .workbench import Workbench, load_run

# settings a resumed run may change; every other one must equal the run's own
RESUMABLE = ("epochs", "steps", "log_every", "eval_every", "device", "data_dir",
             "tensorboard")


def _number(kind, accept, rule):
    """An argparse type: `kind` (int or float) for which accept(value) holds ("must be {rule}")."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value
    parse.__name__ = rule
    return parse


positive_int = _number(int, lambda v: v >= 1, "a positive integer")
non_negative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
positive_float = _number(float, lambda v: 0 < v < float("inf"), "a positive number")


def _parse_set(items):
    """--set KEY=VALUE items -> {key: raw string}."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {item}: expected KEY=VALUE (e.g. --set latent=32)")
        out[key.replace("-", "_")] = value
    return out


class _ModelHelp(argparse.Action):
    """`tinygen train MODEL --help`: the train options, then MODEL's --set keys."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show this help (with MODEL: its --set keys) and exit"):
        super().__init__(option_strings, dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.print_help()
        model = getattr(namespace, "model", None)
        if model in recipe_names():
            print(options_table(model))
        parser.exit()


def options_table(model) -> str:
    """MODEL's --set keys: name, type, default and meaning (and the values allowed), one a
    line."""
    cls = get_recipe(model)
    lines = [f"\n{model} settings (--set KEY=VALUE):"]
    for o in cls.options:
        default = "(see meaning)" if o.default is None else o.default
        kind = "|".join(o.choices) if o.choices else o.type.__name__
        allowed = f" ({bounds_text(o.bounds)})" if o.bounds else ""
        lines.append(f"  {o.key:<16} {kind:<8} default {default!s:<14} {o.help}{allowed}")
    return "\n".join(lines if cls.options else lines + ["  (none)"])


def add_train_parsers(sub):
    """Add `train`, `sample`, `eval` and `runs` to an argparse subparsers object. Only the recipe
    names are needed here: no model is imported to build the parser."""
    _add_train(sub)
    _add_sample(sub)
    _add_eval(sub)
    _add_embed(sub)
    add_runs_parser(sub)
    _add_compress(sub)


def _add_train(sub):
    names = recipe_names()
    t = sub.add_parser("train", add_help=False, help="train a model (offline data with no flags)",
                       description="Train MODEL; writes config.json, metrics.jsonl, "
                                   "checkpoint.safetensors (+ optimizer.safetensors), samples.png "
                                   "and curves.png into --out.")
    t.add_argument("-h", "--help", action=_ModelHelp)
    t.add_argument("model", choices=names, metavar="MODEL", help=", ".join(names))
    t.add_argument("--data", help="dataset name or text file (default: the model's offline data)")
    t.add_argument("--data-dir", help="dataset root (default $TINYGEN_DATA or ~/.cache/tinygen)")
    length = t.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=positive_int)
    length.add_argument("--steps", type=positive_int)
    t.add_argument("--batch-size", type=positive_int)
    t.add_argument("--lr", type=positive_float)
    t.add_argument("--device", help="cpu (default) or cuda")
    t.add_argument("--seed", type=non_negative_int)
    t.add_argument("--out", help="output folder (default runs/MODEL)")
    again = t.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    again.add_argument("--restart", action="store_true",
                       help="replace the run in --out with a new one")
    t.add_argument("--log-every", type=positive_int, help="steps between metrics.jsonl lines (10)")
    t.add_argument("--eval-every", type=positive_int, metavar="N",
                   help="epochs between evaluations, samples.png and checkpoints (1; the last "
                        "epoch always has them): for small datasets whose epochs are a few steps")
    t.add_argument("--no-compile", action="store_true",
                   help="run every training step eagerly (default: each step is captured by "
                        "tg.compile and replayed, with the same results bit for bit)")
    t.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard events into OUT/tensorboard (needs tensorboardX: "
                        "pip install 'tinygen[tensorboard]')")
    t.add_argument("--histogram-every", type=positive_int, default=100, metavar="N",
                   help="with --tensorboard: weight histograms every N steps (100)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a model setting, e.g. --set latent=32 (`tinygen train MODEL --help` "
                        "lists them)")
    t.set_defaults(func=run_train)


def _add_sample(sub):
    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("dir")
    s.add_argument("-n", type=positive_int, default=64, help="number of samples")
    s.add_argument("--out", help="FILE.npy (images: float32 (N, C, H, W) in [0, 1]); default "
                                 "DIR/samples.npy (samples-2.npy, ... where that exists)")
    s.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    s.add_argument("--prompt", default=None, help="text models: the start of the text")
    s.add_argument("--max-new-tokens", type=positive_int, default=200)
    s.add_argument("--temperature", type=positive_float, default=1.0)
    s.add_argument("--top-k", type=positive_int, default=None)
    s.add_argument("--steps", type=positive_int, default=None,
                   help="diffusion: DDIM steps (default: the run's sample_steps)")
    s.add_argument("--class", dest="class_label", type=non_negative_int, default=None,
                   help="diffusion: the class to draw (default: every class in turn)")
    s.add_argument("--guidance", type=_number(float, lambda v: v >= 0, "a number >= 0"),
                   default=None, help="diffusion: guidance weight w (0 unconditional)")
    s.add_argument("--seed", type=non_negative_int, default=0)
    s.add_argument("--device", default=None)
    s.set_defaults(func=run_sample)


def _add_eval(sub):
    e = sub.add_parser("eval", help="test metrics of a trained run, into DIR/eval.json")
    e.add_argument("dir")
    e.add_argument("--data-dir")
    e.add_argument("--device", default=None)
    e.add_argument("--seed", type=non_negative_int, default=None,
                   help="the random stream of sampled metrics (default: the run's seed + 7)")
    e.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="e.g. --set classifier=runs/classifier (GANs) or --set iw_samples=64 (VAE)")
    e.add_argument("--compare", nargs="+", metavar="DIR2",
                   help="also these runs (their eval.json, or evaluated now): a Markdown table")
    e.set_defaults(func=run_eval)


def _add_embed(sub):
    e = sub.add_parser("embed", help="embeddings of texts or images from a trained clip run",
                       description="Write the normalised embeddings (N, E) float32 of the given "
                                   "texts or of the images in an .npy file (N, C, H, W) in "
                                   "[0, 1] into --out (contrastive runs: clip).")
    e.add_argument("dir")
    what = e.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", action="append", metavar="TEXT",
                      help="a caption to embed (repeat for several)")
    what.add_argument("--images", metavar="FILE.npy", help="images to embed")
    e.add_argument("--out", required=True, help="FILE.npy")
    e.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    e.add_argument("--device", default=None)
    e.set_defaults(func=run_embed)


def run_embed(args):
    if os.path.isdir(args.out):
        raise UsageError(f"--out {args.out}: is a folder; name a .npy file")
    if os.path.exists(args.out) and not args.force:
        raise UsageError(f"--out {args.out}: exists; pass --force to overwrite it")
    if args.images is not None and not os.path.isfile(args.images):
        raise UsageError(f"--images {args.images}: no such file")
    bench = _load(args, args.dir)
    if not hasattr(bench.recipe, "embed_command"):
        raise RunError(f"{args.dir}: a {bench.recipe.name} run has no embeddings (tinygen embed "
                       "takes a clip run)")
    with tg.no_grad():
        print(bench.recipe.embed_command(texts=args.text, images=args.images, out=args.out))
    return 0


def _add_compress(sub):
    c = sub.add_parser("compress", help="prune and/or int8-quantise a trained run into a new one",
                       description="Compress the run in DIR into --out: magnitude pruning, "
                                   "fine-tuning, int8 quantisation; prints the size, the "
                                   "sparsity and the metric before and after.")
    c.add_argument("dir")
    c.add_argument("--out", required=True, help="the new run folder")
    c.add_argument("--prune", type=_number(float, lambda v: 0 < v < 1, "in (0, 1)"),
                   help="the fraction of Linear and Conv weights to prune (smallest magnitude)")
    c.add_argument("--global", dest="global_prune", action="store_true",
                   help="prune over all layers together (global_unstructured), not per layer")
    c.add_argument("--finetune-epochs", type=non_negative_int, default=0)
    c.add_argument("--int8", action="store_true", help="int8 weights (and activations)")
    c.add_argument("--calibration-batches", type=positive_int, default=10,
                   help="training batches that calibrate the static int8 convolutions")
    c.add_argument("--observer", choices=("minmax", "percentile"), default="minmax")
    c.set_defaults(func=run_compress)


def run_compress(args):
    if not (args.prune or args.int8):
        raise UsageError("compress: nothing to do; pass --prune F and/or --int8")
    if not os.path.isfile(os.path.join(args.dir, CONFIG)):
        raise RunError(f"{args.dir}: no run there (no {CONFIG})")
    compress_run(args.dir, args.out, prune=args.prune, global_prune=args.global_prune,
                 finetune_epochs=args.finetune_epochs, int8=args.int8,
                 calibration_batches=args.calibration_batches, observer=args.observer)
    return 0


# ---- train -----------------------------------------------------------------------------------
def check_device(text):
    """--device: a device name tinygen knows and this machine has."""
    if text is None:
        return None
    try:
        device = tg.device(text)
    except (TypeError, ValueError) as e:
        raise UsageError(f"--device {text}: {e}") from None
    if device.type == "cuda" and not tg.cuda.is_available():
        raise RunError(f"--device {text}: no usable GPU here (CuPy missing or no device); "
                       "install the extra with pip install 'tinygen[cuda]' or use --device cpu")
    return str(device)


def run_train(args):
    out = args.out or os.path.join("runs", args.model)
    check_device(args.device)
    recipe_cls = get_recipe(args.model)
    options = recipe_cls.check_options(_parse_set(args.set))
    if options.get("classifier"):             # a GAN's or DDPM's judge: checked before any step
        check_judge(options["classifier"])
    if args.resume:
        run = _resumed_run(args, out, recipe_cls, options)
    else:
        _check_new_run_folder(out, args.restart)
        run = RunConfig(model=args.model, data=args.data, data_dir=args.data_dir,
                        epochs=args.epochs, steps=args.steps, batch_size=args.batch_size,
                        lr=args.lr, device=args.device or "cpu",
                        seed=0 if args.seed is None else args.seed, out=out,
                        log_every=args.log_every or 10, eval_every=args.eval_every or 1,
                        options=options, compile=not args.no_compile)
    tensorboard = (args.histogram_every if args.tensorboard else None)
    return Workbench(recipe_cls, run, tensorboard=tensorboard).fit(resume=args.resume)


def _check_new_run_folder(out, restart):
    """A new run never writes over another one unless asked to (--restart)."""
    if os.path.isfile(out):
        raise RunError(f"--out {out}: is a file; name a folder for the run")
    if os.path.exists(os.path.join(out, CONFIG)) and not restart:
        raise UsageError(f"--out {out}: holds a run already; continue it with --resume, or pass "
                         "--restart to replace it with a new one")


def _resumed_run(args, out, recipe_cls, options):
    """The RunConfig of the run in `out`, with what may change on a resume; UsageError naming
    every given setting that conflicts with the run's own."""
    saved = read_config(out)
    saved_options = recipe_cls.check_options(saved.get("options", {}))
    given = {"model": args.model, "data": args.data, "batch_size": args.batch_size,
             "lr": args.lr, "seed": args.seed}
    conflicts = [f"--{k.replace('_', '-')} {v} (the run has {_saved_value(k, saved)})"
                 for k, v in given.items() if v is not None and _differs(k, v, saved)]
    declared = {o.key: o.default for o in recipe_cls.options}
    conflicts += [f"--set {k}={v} (the run has {saved_options.get(k, declared.get(k))})"
                  for k, v in options.items() if saved_options.get(k, declared.get(k)) != v]
    if conflicts:
        raise UsageError(f"--resume: {'; '.join(conflicts)}: a run resumes with its own "
                         f"settings, except {', '.join('--' + k.replace('_', '-') for k in RESUMABLE)}"
                         "; pass --restart instead to start a new run in that folder")
    run = RunConfig(model=saved["model"], data=saved["data"],
                    data_dir=args.data_dir or saved.get("data_dir"),
                    epochs=args.epochs if args.epochs is not None else saved.get("epochs"),
                    steps=args.steps if args.steps is not None else saved.get("steps"),
                    batch_size=saved.get("batch_size"), lr=saved.get("lr"),
                    device=args.device or saved.get("device", "cpu"), seed=saved["seed"], out=out,
                    log_every=args.log_every or saved.get("log_every", 10),
                    eval_every=args.eval_every or saved.get("eval_every", 1),
                    options=saved_options, compile=not args.no_compile)
    if args.epochs is not None:
        run.steps = None
    return run


def _saved_value(key, saved):
    """The run's value of a setting: as given, else the recipe's own that it ran with."""
    value = saved.get(key)
    return value if value is not None else (saved.get("resolved") or {}).get(key)


def _differs(key, value, saved):
    if key == "data":                  # the folder records the canonical name (mnist, not MNIST)
        return (canonical_name(value) or value) != saved.get("data")
    return _saved_value(key, saved) != value


# ---- sample and eval -------------------------------------------------------------------------
def _check_folder(folder):
    if not os.path.isdir(folder):
        raise RunError(f"{folder}: no such folder; name a run folder (a --out of "
                       "`tinygen train`)")


def _load(args, folder, **kwargs):
    """The run in `folder` for `sample` / `eval`."""
    check_device(args.device)
    _check_folder(folder)
    try:
        return load_run(folder, device=args.device, **kwargs)
    except FileNotFoundError as e:
        raise RunError(f"{folder}: {e}") from None


def _unused_name(path):
    """path, or path with -2, -3, ... before its suffix: the first that does not exist."""
    stem, suffix = os.path.splitext(path)
    k = 1
    while os.path.exists(path):
        k += 1
        path = f"{stem}-{k}{suffix}"
    return path


def run_sample(args):
    """The samples go to --out (refused if it exists, unless --force; a name without .npy gets
    it, as np.save adds it, and is checked as such) or, by default, to DIR/samples.npy, or
    DIR/samples-2.npy etc. where that exists: a second `tinygen sample DIR` keeps the first's."""
    if args.out is not None and os.path.isdir(args.out):
        raise UsageError(f"--out {args.out}: is a folder; name a .npy file")
    if args.out is None:
        out = _unused_name(os.path.join(args.dir, "samples.npy"))
    else:
        out = args.out if args.out.endswith(".npy") else args.out + ".npy"
        if os.path.exists(out) and not args.force:
            raise UsageError(f"--out {out}: exists; pass --force to overwrite it")
    bench = _load(args, args.dir)
    request = SampleRequest(n=args.n, out=out, prompt=args.prompt,
                            max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                            top_k=args.top_k, steps=args.steps, class_label=args.class_label,
                            guidance=args.guidance)
    with fork_rng(args.seed), tg.no_grad():
        try:
            print(bench.recipe.sample_command(request))
        except NotImplementedError as e:
            raise RunError(str(e)) from None
    return 0


def run_eval(args):
    """Evaluate the run in args.dir (and --compare runs): eval.json, printed metrics or a table."""
    evaluated = [args.dir] + [f for f in args.compare or []
                              if not os.path.isfile(os.path.join(f, EVAL))]
    # every folder (a missing one has no eval.json: it is here), and --set against each run,
    # checked before any eval.json is written
    settings = {folder: _eval_settings(args, folder) for folder in evaluated}
    records = [evaluate_run(args, args.dir, settings[args.dir])]
    for other in args.compare or []:
        path = os.path.join(other, EVAL)
        records.append(evaluate_run(args, other, settings[other]) if other in settings
                       else _read_eval(path))
    if args.compare:
        print(compare_table(records))
    else:
        for k, v in records[0]["metrics"].items():
            print(f"{k}: {v:.6g}")
    return 0


def _eval_settings(args, folder):
    """--set checked against the run in `folder` (a folder with a config.json)."""
    _check_folder(folder)
    if not os.path.isfile(os.path.join(folder, CONFIG)):
        raise RunError(f"{folder}: no run in this folder (no {CONFIG}); name a run folder (a "
                       "--out of `tinygen train`)")
    return get_recipe(read_config(folder)["model"]).check_options(_parse_set(args.set))


def evaluate_run(args, folder, given):
    """Evaluate one run folder with the checked --set settings `given`; write and return its
    eval.json record: the metrics, the split, the number of items, the seed and the command,
    and what the model reports beside (the judge, the units)."""
    bench = _load(args, folder, data_dir=args.data_dir)
    recipe = bench.recipe
    recipe.run.options.update(given)
    recipe.options_read = set()
    seed = recipe.run.seed + 7 if args.seed is None else args.seed
    with fork_rng(seed), tg.no_grad():
        metrics = recipe.evaluate(bench.data.test, **recipe.eval_options())
    record = {"run": folder, "model": recipe.name, "data": bench.data.name, "metrics": metrics,
              "seed": seed, "command": _eval_command(args, folder),
              **recipe.eval_info(bench.data.test)}
    _refuse_unread(given, recipe, folder)
    write_json(os.path.join(folder, EVAL), record)
    return record


def _refuse_unread(given, recipe, folder):
    """A --set the evaluation never read (the model's size, a training setting: eval uses the
    trained model as it is) is refused, not ignored; no eval.json is written."""
    unread = sorted(set(given) - recipe.options_read)
    if unread:
        used = ", ".join(sorted(recipe.options_read)) or "none"
        raise UsageError(f"--set {', '.join(unread)}: not used by tinygen eval of {folder} (a "
                         f"setting of the trained model or of its training); the settings eval "
                         f"reads for {recipe.name}: {used}")


def _eval_command(args, folder):
    """The `tinygen eval` command line that gives this record again."""
    parts = ["tinygen", "eval", folder]
    for item in args.set or []:
        parts += ["--set", item]
    for flag, value in (("--data-dir", args.data_dir), ("--device", args.device),
                        ("--seed", args.seed)):
        if value is not None:
            parts += [flag, str(value)]
    return " ".join(parts)


def _read_eval(path):
    with open(path) as f:
        record = json.load(f)
    if "metrics" not in record:             # an eval.json from before records were kept
        record = {"run": os.path.dirname(path), "metrics": record}
    return record


def compare_table(records):
    """Runs side by side as a Markdown table: one row a run, one column a metric."""
    names = []
    for record in records:
        names += [k for k in record["metrics"] if k not in names]
    lines = ["| run | model | data | " + " | ".join(names) + " |",
             "|---|---|---|" + "---|" * len(names)]
    for record in records:
        cells = [f"{record['metrics'][k]:.4g}" if k in record["metrics"] else "" for k in names]
        lines.append(f"| {record['run']} | {record.get('model', '')} | {record.get('data', '')} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)
