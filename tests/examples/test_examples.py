"""Every example runs end to end on its --dry-run path (offline data, a few steps)."""
import importlib.util
import os

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
SCRIPTS = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py"))
VARIANTS = {"dcgan.py": [[], ["--wgan-gp"], ["--mlp"]], "vae.py": [[], ["--conv"]],
            "realnvp_toy.py": [[], ["--glow"]]}


def _load(name):
    spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(EXAMPLES, name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script,extra", [(s, v) for s in SCRIPTS for v in VARIANTS.get(s, [[]])])
def test_example_dry_run(script, extra, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)              # examples write their pictures into the cwd
    result = _load(script).main(["--dry-run"] + extra)
    assert result is not None and result == result    # a number, not NaN
