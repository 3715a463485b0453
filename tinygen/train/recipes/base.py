"""Recipe: what one model family needs from the workbench, and nothing else.

A recipe builds its modules and optimisers from the run settings and the data's shape, takes one
training step on a batch, evaluates on held-out data and draws samples. The workbench
(tinygen/train/workbench.py) owns everything around that: the loop, logging, plots, checkpoints,
resume, Ctrl-C. A new model is a Recipe subclass in this package and one line in the registry
(tinygen/train/recipes/__init__.py).

The workbench and the `tinygen` commands talk to a recipe only through the methods below; each
has a default here that fits the image models, and a family overrides what differs (the text
models' random-window loader, the VAE's importance-weighted bound at `tinygen eval`, printing
text at `tinygen sample`...).

Devices: `self.device` is the run's device. The workbench moves `self.modules` there; every
tensor a recipe makes itself (noise, positions, targets, prompts) is made there, and test data is
moved there batch by batch. Tensors come back to the CPU only where a file is written.
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field

import numpy as np

import tinygen as tg
from ... import distributed as dist
from ...data import DataLoader
from ...io import atomic_write
from ..errors import UsageError
from ..plots import save_image_grid


@dataclass(frozen=True)
class Option:
    """One `--set KEY=VALUE` setting of a recipe: the type its value is parsed as, its default
    (None where the recipe decides from the data or the model, as `help` says) and what it means."""
    key: str
    type: type
    default: object
    help: str
    choices: tuple = ()
    # the values allowed on the command line, an interval: "[1, inf)", "[0, 1]", "(0, inf)". A
    # config.json's saved values are taken as they are: a run from before a bound keeps loading
    bounds: str = ""

    def parse(self, raw):
        """The typed value of `raw` (a string from the command line, or an already typed value
        from a config.json); UsageError naming the key when it does not parse."""
        if not isinstance(raw, str):
            value = raw
        elif self.type is bool:
            if raw.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise UsageError(f"--set {self.key}={raw}: expected a boolean (true or false)")
            value = raw.lower() in ("1", "true", "yes", "on")
        else:
            try:
                value = self.type(raw)
            except ValueError:
                raise UsageError(f"--set {self.key}={raw}: expected {_type_name(self.type)} "
                                 f"({self.help})") from None
        if self.choices and value not in self.choices:
            raise UsageError(f"--set {self.key}={raw}: expected one of "
                             f"{', '.join(map(str, self.choices))}")
        if self.bounds and isinstance(raw, str) and not _within(value, self.bounds):
            raise UsageError(f"--set {self.key}={raw}: expected {_type_name(self.type)} "
                             f"{bounds_text(self.bounds)} ({self.help})")
        return value


def _interval(bounds):
    """'[1, inf)' -> (1.0, inf, closed below, closed above)."""
    low, high = (float(end) for end in bounds[1:-1].split(","))
    return low, high, bounds[0] == "[", bounds[-1] == "]"


def _within(value, bounds):
    low, high, with_low, with_high = _interval(bounds)
    return ((value >= low if with_low else value > low)
            and (value <= high if with_high else value < high))


def bounds_text(bounds):
    """'[1, inf)' -> '>= 1'; a bounded interval as 'in [0, 1)' (for errors and --help)."""
    low, high, with_low, _ = _interval(bounds)
    return f"{'>=' if with_low else '>'} {low:g}" if high == float("inf") else f"in {bounds}"


# shared by the image recipes: read by tinygen/train/datasets.py when it loads the data
IMAGE_SIZE = Option("image_size", int, None, "resize the images to N x N pixels at load (default: "
                    "the dataset's own size; lfw-faces: 32)", bounds="[1, inf)")


def replace_defaults(options, **defaults):
    """A subclass's options: its parent's, with some defaults changed."""
    unknown = set(defaults) - {o.key for o in options}
    if unknown:
        raise KeyError(f"replace_defaults: no option {sorted(unknown)}")
    return tuple(dataclasses.replace(o, default=defaults[o.key]) if o.key in defaults else o
                 for o in options)


def _type_name(t):
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        t, t.__name__)


@dataclass
class RunConfig:
    """Settings of one run, saved as config.json. None means 'the recipe's default'."""
    model: str
    data: str | None = None
    data_dir: str | None = None
    epochs: int | None = None
    steps: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    device: str = "cpu"
    seed: int = 0
    out: str | None = None
    log_every: int = 10
    eval_every: int = 1               # epochs between evaluation + samples + checkpoint
    options: dict = field(default_factory=dict)      # model-specific settings (--set key=value)
    compile: bool = True              # capture the training step (tg.compile); --no-compile: eager


@dataclass
class DataInfo:
    """What a recipe may know about its data."""
    name: str
    train: object                     # a Dataset
    test: object
    shape: tuple                      # one sample's shape, e.g. (1, 28, 28) or (2,)
    num_classes: int | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class SampleRequest:
    """What `tinygen sample` asks for: n images (or points) into `out` (.npy), or, for the text
    models, max_new_tokens characters after `prompt`; for diffusion, the sampler's steps, the
    class and the guidance weight."""
    n: int = 64
    out: str = "samples.npy"
    prompt: str | None = None
    max_new_tokens: int = 200
    temperature: float = 1.0
    top_k: int | None = None
    steps: int | None = None
    class_label: int | None = None
    guidance: float | None = None


class Recipe:
    """Base class. Subclasses set the class attributes, build `modules` and `optimizers` in
    __init__, and implement train_step (and usually evaluate and sample)."""

    name = "base"
    data_kinds = ("image",)          # which dataset families fit: image, toy, text, task
    default_data = "digits"
    defaults = {"epochs": 10, "batch_size": 128, "lr": 1e-3}
    drop_last = False
    tasks = ()                       # names of the generated tasks this recipe makes (make_task)
    toy_train_size = None            # training points drawn for the 2-D toys (None: the default)
    config = None                    # the model's frozen config dataclass, saved in config.json
    options = ()                     # the Option()s --set accepts (`tinygen train MODEL --help`)
    # data-parallel runs (tinygen/train/parallel.py): how train_step's loss depends on the batch
    # ("mean" over it, or "sum"), and whether evaluate() splits its work over the ranks itself
    # (True: every rank calls it and it returns the metrics of all; False: rank 0 alone calls it)
    loss_reduction = "mean"
    evaluates_in_parallel = False

    def __init__(self, run: RunConfig, data: DataInfo):
        self.run = run
        self.data = data
        self.device = tg.device(run.device)
        self.modules: dict = {}           # name -> nn.Module (saved in checkpoint.safetensors)
        self.optimizers: dict = {}        # name -> Optimizer (saved beside it)
        self.schedulers: dict = {}        # name -> LR scheduler

    @classmethod
    def make_task(cls, name, options) -> DataInfo:
        """The generated dataset `name` (one of `tasks`), for recipes that make their own data."""
        raise ValueError(f"{cls.name} has no generated tasks; it trains on "
                         f"{'/'.join(cls.data_kinds)} data")

    # -- what the workbench calls -----------------------------------------------------------------
    def configure(self, total_steps: int):
        """Called once the run's length is known (e.g. to build an LR schedule over it)."""

    def make_loader(self, batch_size: int, seed: int):
        """The training batches: a shuffled DataLoader of the training set, seeded, on the device.
        It must have len() (batches per epoch) and state_dict()/load_state_dict() (for resume)."""
        return DataLoader(self.data.train, batch_size=batch_size, shuffle=True,
                          drop_last=self.drop_last, seed=seed,
                          device=None if self.device.type == "cpu" else self.device)

    def captured(self, fn):
        """fn (the tensor part of a training step: forward, backward, optimiser update) as a
        captured step (tg.compile), unless the run says --no-compile or is data-parallel (the
        gradient all-reduce runs in hooks a plan does not replay)."""
        if not self.run.compile or (dist.is_available() and dist.is_initialized()):
            return fn
        return tg.compile(fn)

    def _step(self, *tensors):
        """self._update(*tensors) (a recipe's forward, backward and update, returning tensors),
        captured on first use (see captured)."""
        step = self.__dict__.get("_captured_update")
        if step is None:
            step = self._captured_update = self.captured(self._update)
        return step(*tensors)

    def train_step(self, batch, step: int) -> dict:
        """One optimisation step on `batch`; returns the losses to log as floats."""
        raise NotImplementedError(f"{type(self).__name__} must implement train_step")

    def evaluate(self, test, **options) -> dict:
        """Metrics on held-out data (names as API.md: test_nelbo_nats, test_acc, test_bpd...).
        The workbench calls it after each epoch with no options; `tinygen eval` passes
        eval_options()."""
        return {}

    def eval_options(self) -> dict:
        """Keyword arguments `tinygen eval` gives evaluate(): the fuller, costlier test metrics
        (read from --set options), which the per-epoch evaluation skips."""
        return {}

    def eval_info(self, test) -> dict:
        """What eval.json records beside the metrics: the data split, the number of items the
        metrics average over, and anything a reader needs to compare the numbers."""
        return {"split": "test", "samples": len(test)}

    def sample(self, n: int):
        """n samples as a Tensor on the device (images: (n, C, H, W) in [0, 1])."""
        raise NotImplementedError(f"{self.name} has no sampler")

    def write_samples(self, path, n=64):
        """Draw the sample figure of this model into `path` (a PNG), after each epoch."""
        save_image_grid(self.sample(n), path)

    def sample_command(self, request: SampleRequest) -> str:
        """`tinygen sample`: save request.n samples as float32 into request.out (.npy) and return
        the line to print. Text models override it to return generated text."""
        x = self.sample(request.n).detach().cpu().numpy().astype(np.float32)
        out = request.out if request.out.endswith(".npy") else request.out + ".npy"
        with atomic_write(out, "wb") as f:
            np.save(f, x)
        return f"{x.shape[0]} samples of shape {tuple(x.shape[1:])} -> {out}"

    def model_config(self) -> dict:
        """The model's settings for config.json ({} when the recipe keeps no config dataclass)."""
        return dataclasses.asdict(self.config) if self.config is not None else {}

    # -- options (--set KEY=VALUE) --------------------------------------------------------------
    @classmethod
    def check_options(cls, raw: dict) -> dict:
        """`--set` values (strings, or typed values from a config.json) -> typed values, each
        checked against `options`: an unknown key is refused with the closest valid names."""
        declared = {o.key: o for o in cls.options}
        typed = {}
        for key, value in raw.items():
            key = key.replace("-", "_")
            if key not in declared:
                close = difflib.get_close_matches(key, declared, n=3)
                hint = f"did you mean {' or '.join(close)}? " if close else ""
                raise UsageError(f"--set {key}: {cls.name} has no setting {key!r}; {hint}its "
                                 f"settings are {', '.join(sorted(declared)) or 'none'} (see "
                                 f"tinygen train {cls.name} --help)")
            typed[key] = declared[key].parse(value)
        return typed

    def option(self, key, default=None):
        """The value of setting `key`: given with --set, else `default` (when the recipe decides
        it here), else the declared default."""
        declared = {o.key: o for o in type(self).options}
        if key not in declared:                   # a recipe reading a setting it did not declare
            raise KeyError(f"{type(self).__name__} reads --set {key} but does not declare it in "
                           "`options`")
        read = self.__dict__.get("options_read")
        if read is not None:                      # `tinygen eval` notes what it reads
            read.add(key)
        if key in self.run.options:
            return declared[key].parse(self.run.options[key])
        return declared[key].default if default is None else default

    # -- helpers for subclasses -------------------------------------------------------------
    def setting(self, key):
        """A run setting after the recipe's defaults are applied."""
        value = getattr(self.run, key)
        return self.defaults.get(key) if value is None else value

    def train(self, mode=True):
        for m in self.modules.values():
            m.train(mode)

    def eval(self):
        self.train(False)
