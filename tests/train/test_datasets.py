"""The workbench's dataset loading: the toys' training-set size (recipe default and --set)."""
from tinygen.train.datasets import load_data
from tinygen.train.recipes import Recipe


class _Recipe(Recipe):
    name, data_kinds = "toy-recipe", ("toy",)


def test_toy_train_size_default_option_and_recipe():
    assert len(load_data("moons", _Recipe).train) == 10_000          # the dataset's default
    assert len(load_data("moons", _Recipe, options={"train_size": "500"}).train) == 500
    _Recipe.toy_train_size = 700
    try:
        info = load_data("8gaussians", _Recipe)
        assert len(info.train) == 700 and len(info.test) == 2_000     # the test split is fixed
        assert info.shape == (2,)
    finally:
        del _Recipe.toy_train_size
