"""What a run folder holds, by name, and the helpers that write and read it back.

    OUT/config.json               the run settings (RunConfig) and the model's config
    OUT/metrics.jsonl             one JSON object a line: step, epoch, split, named metrics
    OUT/checkpoint.safetensors    model weights (a plain state dict; GANs prefix each module)
    OUT/optimizer.safetensors     optimiser and scheduler states, beside it
    OUT/trainer.json              where the run stands: step, epoch, data order, RNG state; the
                                  digests of the two files above and the run's fixed settings
    OUT/samples.png, curves.png   a sample grid and the loss curves, each epoch
    OUT/eval.json                 `tinygen eval`'s metrics
    OUT/tensorboard/              TensorBoard events (with --tensorboard)
    OUT/.running                  the pid of the `tinygen train` process using the folder (claim:
                                  a second one is refused while it lives)
    OUT/.checkpoint-next/         a checkpoint being written (see commit_staged)

A checkpoint is three files that must agree (weights, optimiser state, trainer.json). They are
written into .checkpoint-next/ first, trainer.json last, then moved into OUT one by one, trainer.json
last. A process killed at any moment leaves either a complete staged set (commit_staged finishes
moving it) or an incomplete one (commit_staged discards it): OUT always holds its last complete
checkpoint.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil

from ..io import atomic_write, load
from .errors import RunError, UsageError

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.safetensors"
OPTIMIZER = "optimizer.safetensors"
TRAINER = "trainer.json"
SAMPLES = "samples.png"
CURVES = "curves.png"
EVAL = "eval.json"
TENSORBOARD = "tensorboard"
RUNNING = ".running"
STAGING = ".checkpoint-next"
CHECKPOINT_FILES = (CHECKPOINT, OPTIMIZER, TRAINER)      # in the order they are committed


def write_json(path, obj):
    """obj as indented JSON with sorted keys, written atomically."""
    with atomic_write(path) as f:
        json.dump(obj, f, indent=2, sort_keys=True)


def read_config(out) -> dict:
    """The config.json of the run in folder `out`; FileNotFoundError naming it if there is none,
    RunError where it is not a JSON object."""
    path = os.path.join(out, CONFIG)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no run in {out} (no {CONFIG})")
    return read_json_object(path)


def read_json_object(path) -> dict:
    """A JSON object from `path`; RunError naming the file where it is not one."""
    try:
        with open(path) as f:
            obj = json.load(f)
    except ValueError as e:
        raise RunError(f"{path} is not valid JSON ({e}); the run folder is damaged") from None
    if not isinstance(obj, dict):
        raise RunError(f"{path} holds a JSON {type(obj).__name__}, not an object; the run folder "
                       "is damaged")
    return obj


def claim(out):
    """Make OUT/.running name this process, atomically: RunError where a live process holds it
    (two `tinygen train` in one folder interleaved their logs and checkpoints); a file left by a
    process that died is taken over. Returns its path (the caller removes it when done)."""
    path = os.path.join(out, RUNNING)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if held_by_live_process(out):
                raise RunError(f"{out} is in use by another `tinygen train` (pid "
                               f"{_holder(path).get('pid')}); wait for it to finish or stop it "
                               "first") from None
            os.remove(path)                 # a process that died left it
            continue
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid()}, f)
        return path
    raise RunError(f"{out}: could not take {RUNNING} (another process keeps writing it)")


def _holder(path):
    try:
        with open(path) as f:
            holder = json.load(f)
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def held_by_live_process(out):
    """True when OUT/.running names another process that is alive (on this machine)."""
    holder = _holder(os.path.join(out, RUNNING))
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:                 # alive, owned by someone else
        return True
    return True


# the settings a run keeps for good (a resume may change the others): trainer.json records them,
# so a config.json edited after the checkpoint is refused rather than silently believed
FIXED_SETTINGS = ("model", "data", "seed", "lr", "batch_size", "options")


def digest(path):
    """The SHA-256 of a file, hex: trainer.json names the weights and optimiser files it was
    written with, so a file swapped in from another run (or changed) is refused on load."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_run_file(out, name):
    """OUT/name read once: (its contents by tg.load, which names the file where it is corrupt;
    its SHA-256, for check_digests)."""
    path = os.path.join(out, name)
    with open(path, "rb") as f:
        data = f.read()
    buffer = io.BytesIO(data)
    buffer.name = path
    return load(buffer), hashlib.sha256(data).hexdigest()


def check_digests(out, trainer, digests):
    """RunError where a file of `digests` ({name: SHA-256}) in OUT is not the one trainer.json was
    written with (checkpoints from before the digests were recorded are taken as they are)."""
    recorded = trainer.get("files") or {}
    for name, sha in digests.items():
        if name in recorded and sha != recorded[name]:
            raise RunError(f"{os.path.join(out, name)} is not the file this checkpoint was "
                           f"written with ({TRAINER} records another): it was changed or copied "
                           "from another run; restore it, or start again with --restart")


def commit_staged(out):
    """Finish or discard the checkpoint staged in OUT/.checkpoint-next (a no-op without one)."""
    staging = os.path.join(out, STAGING)
    if not os.path.isdir(staging):
        return
    if os.path.isfile(os.path.join(staging, TRAINER)):      # complete: move it in
        for name in CHECKPOINT_FILES:
            if os.path.exists(os.path.join(staging, name)):
                os.replace(os.path.join(staging, name), os.path.join(out, name))
    shutil.rmtree(staging, ignore_errors=True)


def clear_run(out):
    """Remove what a previous run left in OUT (checkpoints, logs, figures), for a new run there."""
    for name in CHECKPOINT_FILES + (METRICS, SAMPLES, CURVES, EVAL, "samples.txt"):
        path = os.path.join(out, name)
        if os.path.isfile(path):
            os.remove(path)
    for name in (STAGING, TENSORBOARD):
        shutil.rmtree(os.path.join(out, name), ignore_errors=True)


def module_state(modules):
    """One state dict for a run's modules: plain keys for one module, `name.` prefixes for more."""
    if len(modules) == 1:
        return next(iter(modules.values())).state_dict()
    return {f"{name}.{k}": v for name, m in modules.items() for k, v in m.state_dict().items()}


def load_module_state(modules, weights):
    """The inverse of module_state: load `weights` into the modules of a run."""
    if len(modules) == 1:
        next(iter(modules.values())).load_state_dict(weights)
        return
    for name, m in modules.items():
        prefix = name + "."
        m.load_state_dict({k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)})


def check_judge(run_dir) -> dict:
    """The config of the classifier run in `run_dir` (a GAN's or DDPM's judge, --set
    classifier=RUN); a usage error where there is none. `tinygen train` calls it before the run
    starts (it was found after an epoch of training)."""
    if not os.path.isfile(os.path.join(run_dir, CONFIG)):
        raise UsageError(f"--set classifier={run_dir}: no run there (no {CONFIG}); name a folder "
                         "of `tinygen train classifier`")
    config = read_config(run_dir)
    if config.get("model") != "classifier":
        raise UsageError(f"--set classifier={run_dir}: is a {config.get('model')!r} run; the "
                         "judge must be a classifier run (tinygen train classifier)")
    return config
