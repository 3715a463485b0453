"""Training: the workbench (the loop, logging, plots, checkpoints, resume), the recipes (one per
model family, tinygen/train/recipes/) and the `tinygen train | sample | eval` commands."""
from .recipes import DataInfo, Recipe, RunConfig, SampleRequest, get_recipe, recipe_names
from .workbench import Workbench, load_run

__all__ = ["DataInfo", "Recipe", "RunConfig", "SampleRequest", "Workbench", "get_recipe",
           "load_run", "recipe_names"]
