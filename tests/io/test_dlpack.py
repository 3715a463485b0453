"""DLPack: tg.from_dlpack and Tensor.__dlpack__ with NumPy and PyTorch, sharing memory on the CPU."""
from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg

DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.uint8, np.bool_]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_numpy_round_trip_shares_memory(dtype):
    a = (np.arange(6) % 2).astype(dtype).reshape(2, 3)
    t = tg.from_dlpack(a)
    assert t.dtype.name == np.dtype(dtype).name
    assert t.numpy().dtype == a.dtype and tuple(t.shape) == (2, 3)
    assert np.shares_memory(t.numpy(), a)
    back = np.from_dlpack(t)
    assert np.shares_memory(back, a)
    a[1, 2] = 1
    assert t.numpy()[1, 2] == 1 and back[1, 2] == 1


def test_numpy_views_and_scalars():
    a = np.arange(12.0).reshape(3, 4)
    view = a[:, ::2].T                                 # strided, non-contiguous
    t = tg.from_dlpack(view)
    np.testing.assert_array_equal(t.numpy(), view)
    a[0, 0] = -1.0
    assert t.numpy()[0, 0] == -1.0
    s = tg.from_dlpack(np.array(3.5))
    assert s.shape == () and s.item() == 3.5


def test_tensor_to_numpy_and_back_mutating_tinygen_side():
    t = tg.arange(5.0)
    a = np.from_dlpack(t)
    with tg.no_grad():
        t.add_(1.0)
    t[0] = 100.0                                        # an in-place write on the tinygen side
    np.testing.assert_array_equal(a, [100.0, 2.0, 3.0, 4.0, 5.0])
    assert t.__dlpack_device__()[0] == 1               # kDLCPU


def test_from_dlpack_of_a_tensor_shares_storage():
    t = tg.tensor([1.0, 2.0], requires_grad=True)
    u = tg.from_dlpack(t)
    assert not u.requires_grad and np.shares_memory(u.numpy(), t.numpy())


def test_errors():
    with pytest.raises(TypeError, match="__dlpack__"):
        tg.from_dlpack([1, 2, 3])
    with pytest.raises(TypeError, match="no dtype for complex"):
        tg.from_dlpack(np.ones(2, np.complex64))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "uint8",
                                   "bool"])
def test_torch_both_ways_share_memory(dtype):
    torch = pytest.importorskip("torch")
    x = torch.zeros(2, 3, dtype=getattr(torch, dtype))
    t = tg.from_dlpack(x)
    assert t.dtype.name == dtype and tuple(t.shape) == (2, 3)
    x[0, 1] = 1                                         # torch writes, tinygen sees
    assert t.numpy()[0, 1] == 1
    y = torch.from_dlpack(t)                            # tinygen -> torch
    assert y.dtype == x.dtype and y.data_ptr() == x.data_ptr()
    t[1, 2] = 1                                         # tinygen writes, torch sees
    assert bool(x[1, 2] == 1) and bool(y[1, 2] == 1)


def test_torch_non_contiguous_and_from_tinygen_tensor():
    torch = pytest.importorskip("torch")
    x = torch.arange(12.0).reshape(3, 4).t()
    t = tg.from_dlpack(x)
    np.testing.assert_array_equal(t.numpy(), x.numpy())
    own = tg.randn(3, 4)
    y = torch.from_dlpack(own)
    np.testing.assert_array_equal(y.numpy(), own.numpy())
    y.mul_(0)
    assert own.abs().sum().item() == 0.0


@pytest.mark.skipif(not tg.cuda.is_available(), reason="needs CUDA")
def test_cupy_round_trip_shares_memory():
    import cupy
    a = cupy.arange(6, dtype=cupy.float32)
    t = tg.from_dlpack(a)
    assert t.device.type == "cuda"
    a[0] = 42
    assert float(t[0].item()) == 42.0
    b = cupy.from_dlpack(t)
    b[1] = -1
    assert float(a[1]) == -1.0
