"""The `test` device: NumPy arrays of a distinct type, so a tensor made on the wrong device raises
in CI as it would on a GPU. These tests pin what makes it a device: its own array type, creation
and movement, ops staying on it, and clear errors when it meets the CPU."""
import numpy as np
import pytest

import tinygen as tg
from tinygen import nn
import tinygen.nn.functional as F
from tinygen.backend.device import TestArray


def test_creation_functions_make_test_arrays():
    for t in (tg.zeros(2, 3, device="test"), tg.randn(4, device="test"),
              tg.tensor([1, 2], device="test"), tg.arange(3, device="test"),
              tg.full((2,), 1.5, device="test"), tg.eye(2, device="test")):
        assert type(t._data) is TestArray
        assert t.device == "test" and t.device.type == "test"


def test_to_and_from_the_test_device_copies():
    a = tg.randn(3)
    b = a.to("test")
    assert type(b._data) is TestArray and b.device == "test"
    c = b.cpu()
    assert type(c._data) is np.ndarray and c.device == "cpu"
    np.testing.assert_array_equal(c.numpy(), a.numpy())
    with tg.no_grad():
        b.add_(1.0)                               # a copy: the CPU tensor did not change
    np.testing.assert_array_equal(c.numpy(), a.numpy())


def test_ops_forward_and_backward_stay_on_the_device():
    x = tg.randn(5, 4, device="test", requires_grad=True)
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, 3)).to("test")
    target = tg.tensor([0, 1, 2, 0, 1], device="test")
    loss = F.cross_entropy(model(x), target)
    loss.backward()
    assert loss.device == "test"
    assert x.grad.device == "test"
    assert all(p.grad.device == "test" for p in model.parameters())


def test_results_equal_the_cpu_results():
    x = tg.randn(2, 3, 8, 8)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    expected = F.max_pool2d(conv(x), 2).sum().item()
    got = F.max_pool2d(conv.to("test")(x.to("test")), 2).sum().item()
    assert got == pytest.approx(expected, rel=1e-6)


def test_mixing_devices_raises_and_names_them():
    x = tg.randn(3, 4, device="test")
    with pytest.raises(RuntimeError, match="same device.*test, cpu"):
        x @ tg.randn(4, 2)
    with pytest.raises(RuntimeError, match="same device"):
        nn.Linear(4, 2)(x)                        # a module left on the CPU


def test_numpy_needs_cpu_first():
    with pytest.raises(TypeError, match="test tensor to numpy.*cpu"):
        tg.randn(2, device="test").numpy()
