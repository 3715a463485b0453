"""tests/gpu: tests marked `gpu` run only where `tg.cuda.is_available()` (CuPy sees a GPU); they
are skipped, cleanly and with the reason, everywhere else. The rest of this folder checks the GPU
code without a GPU (numba's CUDA simulator, nvcc -ptx, the host emulation of the CUDA C)."""
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    import tinygen as tg
    if tg.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU with CuPy: tg.cuda.is_available() is False")
    for item in items:
        if item.get_closest_marker("gpu") and HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(skip)
