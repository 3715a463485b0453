"""Recipe: what one model family needs from the workbench, and nothing else.

A recipe builds its modules and optimisers from the run settings and the data's shape, takes one
training step on a batch, evaluates on held-out data and draws samples. The workbench
(workbench.py) owns everything around that: data loading, the loop, logging, plots, checkpoints,
resume, Ctrl-C. A new model is a new Recipe subclass registered in tinygen/models/__init__.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field


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


class Recipe:
    """Base class. Subclasses set the class attributes and implement the four methods."""

    name = "base"
    data_kinds = ("image",)          # which dataset families fit: image, toy, text, task
    default_data = "digits"
    defaults = {"epochs": 10, "batch_size": 128, "lr": 1e-3}
    drop_last = False

    def __init__(self, run: RunConfig, data: DataInfo):
        self.run = run
        self.data = data
        self.modules: dict = {}           # name -> nn.Module (saved in checkpoint.safetensors)
        self.optimizers: dict = {}        # name -> Optimizer (saved beside it)
        self.schedulers: dict = {}        # name -> LR scheduler

    def configure(self, total_steps: int):
        """Called once the run's length is known (e.g. to build an LR schedule over it)."""

    def train_step(self, batch, step: int) -> dict:
        """One optimisation step on `batch`; returns the losses to log as floats."""
        raise NotImplementedError

    def evaluate(self, test) -> dict:
        """Metrics on held-out data (names as API.md: test_nelbo_nats, test_acc, test_bpd...)."""
        return {}

    def sample(self, n: int):
        """n samples as a Tensor (images: (n, C, H, W) in [0, 1]) for samples.png and `sample`."""
        raise NotImplementedError(f"{self.name} has no sampler")

    def write_samples(self, path, n=64):
        """Draw the sample figure of this model into `path` (a PNG)."""
        from .plots import save_image_grid
        save_image_grid(self.sample(n), path)

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
