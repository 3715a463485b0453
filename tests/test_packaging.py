"""The wheel ships every subpackage: pyproject.toml lists packages by hand (kernels/ is remapped
to tinygen_kernels, which auto-discovery does not follow), so a new folder must be added there."""
import os

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")


def test_every_package_folder_is_listed_in_pyproject():
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        setup = tomllib.load(f)["tool"]["setuptools"]
    listed = set(setup["packages"])
    found = {"tinygen_kernels"}
    for dirpath, _, files in os.walk(os.path.join(ROOT, "tinygen")):
        if "__init__.py" in files:
            rel = os.path.relpath(dirpath, ROOT)
            found.add(rel.replace(os.sep, "."))
    assert found == listed, f"missing from pyproject: {found - listed}; listed but absent: {listed - found}"
    assert setup["package-dir"]["tinygen_kernels"] == "kernels"
