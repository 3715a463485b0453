"""tinygen_kernels.fused: a generated elementwise loop gives NumPy's bits, is written once to the
cache folder and loaded from it by a later process, and compiles from memory where that folder
cannot be written."""
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba")

from tinygen_kernels import fused  # noqa: E402

PROGRAM = ((("v1", 0), ("v2", 1)),
           ("v3 = v1 * v2", "v4 = v3 - c1", "v5 = v4 if v4 > z or v4 != v4 else z",
            "v6 = v4 <= z"),
           ("v4", "v5", "v6"))


def _run(dtype):
    a = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf, 2.5, -3.0, 0.3], dtype)
    b = np.array([1.0, 2.0, -1.0, 0.5, 3.0, 0.1, 7.0, 0.3], dtype)
    consts = (("z", np.dtype(dtype).type(0)), ("c1", np.dtype(dtype).type(0.7)))
    kernel = fused.elementwise_kernel(*PROGRAM, consts)
    outs = [np.empty_like(a), np.empty_like(a), np.empty(a.shape, np.bool_)]
    with np.errstate(all="ignore"):
        kernel(a, b, *outs)
        v4 = a * b - 0.7
        want = [v4, np.maximum(v4, 0), v4 <= 0]
    return outs, want


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_loop_gives_numpys_bits(dtype):
    outs, want = _run(dtype)
    for got, ref in zip(outs, want):
        assert got.dtype == ref.dtype
        nan = np.isnan(ref) if ref.dtype.kind == "f" else np.zeros(ref.shape, bool)
        assert np.array_equal(np.isnan(got) if got.dtype.kind == "f" else nan, nan)
        assert got[~nan].tobytes() == ref[~nan].tobytes()


def test_written_once_and_loaded_by_another_process(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(fused, "_compiled", {})
    _run(np.float32)
    files = sorted(p.name for p in (tmp_path / "fused").glob("fused_*.py"))
    assert len(files) == 1
    code = ("import numpy as np, sys; sys.path.insert(0, %r)\n"
            "from test_fused import _run\n"
            "outs, want = _run(np.float32)\n"
            "print(all(np.array_equal(o, w, equal_nan=o.dtype.kind == 'f') "
            "for o, w in zip(outs, want)))") % os.path.dirname(__file__)
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ}, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["True"]
    assert sorted(p.name for p in (tmp_path / "fused").glob("fused_*.py")) == files
    assert list((tmp_path / "fused" / "__pycache__").glob("*.nbi"))     # numba's cache index


def test_an_unwritable_cache_folder_compiles_from_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TINYGEN_CACHE_DIR", str(blocker))
    monkeypatch.setattr(fused, "_compiled", {})
    outs, want = _run(np.float64)
    np.testing.assert_array_equal(outs[2], want[2])
    assert not os.path.isdir(blocker)
