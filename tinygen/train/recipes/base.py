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
from dataclasses import dataclass, field

import numpy as np

import tinygen as tg
from ...data import DataLoader
from ...io import atomic_write
from ..plots import save_image_grid


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
    options: dict = field(default_factory=dict)      # model-specific settings (--set key=value)


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
    models, max_new_tokens characters after `prompt`."""
    n: int = 64
    out: str = "samples.npy"
    prompt: str | None = None
    max_new_tokens: int = 200
    temperature: float = 1.0
    top_k: int | None = None


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

    # -- helpers for subclasses -------------------------------------------------------------
    def setting(self, key):
        """A run setting after the recipe's defaults are applied."""
        value = getattr(self.run, key)
        return self.defaults.get(key) if value is None else value

    def option(self, key, default):
        """A model-specific option given with --set key=value (typed like the default)."""
        if key not in self.run.options:
            return default
        raw = self.run.options[key]
        if isinstance(default, bool):
            return str(raw).lower() in ("1", "true", "yes", "on")
        return type(default)(raw) if default is not None else raw

    def train(self, mode=True):
        for m in self.modules.values():
            m.train(mode)

    def eval(self):
        self.train(False)
