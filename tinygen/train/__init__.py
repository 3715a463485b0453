"""The training workbench: recipes, the loop, logging, plots, checkpoints and resume."""
from .recipe import Recipe, RunConfig, DataInfo
from .workbench import Workbench, load_run, fork_rng

__all__ = ["Recipe", "RunConfig", "DataInfo", "Workbench", "load_run", "fork_rng"]
