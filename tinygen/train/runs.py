"""`tinygen runs [DIR]`: the runs under DIR (default `runs/`), one line each.

    folder          model  data    status       step        last metrics               size
    runs/vae        vae    digits  finished     120/120     test_nelbo_nats=31.02      1.2 MB

Status: `running` while a `tinygen train` process holds the folder (its `.running` file names a
live process), `finished` when the last checkpoint is the last step, `interrupted` otherwise (a
Ctrl-C, a kill, a crash: `--resume` continues it).
"""
from __future__ import annotations

import json
import os

from .errors import RunError
from .plots import read_metrics
from .run_folder import CONFIG, METRICS, TRAINER, held_by_live_process


def add_runs_parser(sub):
    r = sub.add_parser("runs", help="list runs: model, status, last metrics, size")
    r.add_argument("dir", nargs="?", default="runs", help="a run folder or a folder of runs "
                                                          "(default runs/)")
    r.set_defaults(func=run_runs)


def run_runs(args):
    if not os.path.isdir(args.dir):
        raise RunError(f"{args.dir}: no such folder (runs are the --out folders of "
                       "`tinygen train`, runs/MODEL by default)")
    folders = [args.dir] if _is_run(args.dir) else sorted(
        os.path.join(args.dir, name) for name in os.listdir(args.dir)
        if _is_run(os.path.join(args.dir, name)))
    if not folders:
        print(f"no runs in {args.dir}")
        return 0
    rows = [("folder", "model", "data", "status", "step", "last metrics", "size")]
    rows += [describe(folder) for folder in folders]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def _is_run(folder):
    return os.path.isfile(os.path.join(folder, CONFIG))


def status(folder) -> str:
    """'running', 'finished' or 'interrupted' (see the module docstring)."""
    if held_by_live_process(folder):
        return "running"
    trainer = _read_json(os.path.join(folder, TRAINER))
    if trainer and trainer.get("step", 0) >= trainer.get("total_steps", float("inf")):
        return "finished"
    return "interrupted"


def describe(folder):
    """One row of `tinygen runs` for a run folder."""
    config = _read_json(os.path.join(folder, CONFIG)) or {}
    trainer = _read_json(os.path.join(folder, TRAINER)) or {}
    step = f"{trainer.get('step', 0)}/{trainer.get('total_steps', config.get('total_steps', '?'))}"
    return (folder, str(config.get("model", "?")), str(config.get("data", "?")), status(folder),
            step, _last_metrics(folder), _size(folder))


def _last_metrics(folder):
    """The last logged row's metrics (a test row if the last epoch has one)."""
    rows = read_metrics(os.path.join(folder, METRICS))
    if not rows:
        return "-"
    last = rows[-1]
    return " ".join(f"{k}={v:.4g}" for k, v in last.items()
                    if k not in ("step", "epoch", "split") and isinstance(v, (int, float)))


def _size(folder):
    total = sum(os.path.getsize(os.path.join(dirpath, name))
                for dirpath, _, names in os.walk(folder) for name in names
                if os.path.isfile(os.path.join(dirpath, name)))
    for unit in ("B", "kB", "MB", "GB"):
        if total < 1000 or unit == "GB":
            return f"{total:.0f} {unit}" if unit == "B" else f"{total:.1f} {unit}"
        total /= 1000


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
