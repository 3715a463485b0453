"""The command line builds its parser from the recipe names alone: `tinygen --help` and
`tinygen data list` import no model and no recipe family; `tinygen train MODEL --help` still
works; the lazy registry names every recipe under the name its class carries."""
import json
import subprocess
import sys

import pytest

from tinygen.train.recipes import RECIPES, Recipe, get_recipe, recipe_names

_PROBE = """
import contextlib, io, json, sys
from tinygen.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main({argv!r})
    except SystemExit as e:              # argparse's --help exits
        code = e.code
loaded = sorted(m for m in sys.modules
                if m.startswith("tinygen.models") or m.startswith("tinygen.train.recipes."))
print(json.dumps({{"code": code, "loaded": loaded, "out": out.getvalue()}}))
"""


def _run_cli(argv):
    result = subprocess.run([sys.executable, "-c", _PROBE.format(argv=argv)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["--help"], ["data", "list"], ["train", "--help"]])
def test_help_and_data_list_import_no_model(argv):
    report = _run_cli(argv)
    assert report["code"] == 0
    # the registry and the base class are allowed (tinygen.train.recipes.base): no family, no model
    assert report["loaded"] == ["tinygen.train.recipes.base"], report["loaded"]


def test_train_model_help_still_works():
    report = _run_cli(["train", "gpt", "--help"])
    assert report["code"] == 0
    assert "--steps" in report["out"] and "--resume" in report["out"]


def test_the_registry_names_every_recipe_by_its_own_name():
    assert recipe_names() == sorted(["classifier", "vae", "conv-vae", "gan", "dcgan", "wgan-gp",
                                     "realnvp", "glow", "gpt", "lstm", "gru", "rnn", "seq2seq",
                                     "ddpm", "clip", "simclr"])
    for name in RECIPES:
        cls = get_recipe(name)
        assert issubclass(cls, Recipe) and cls.name == name


def test_an_unknown_model_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown model 'diffusion'; expected one of: classifier"):
        get_recipe("diffusion")
