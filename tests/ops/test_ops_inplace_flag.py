"""inplace=True of the functional activations and dropouts: the result is written into the input
(which is returned), with the out-of-place values and gradients, as in PyTorch."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F

CASES = {
    "relu": lambda x, ip: F.relu(x, inplace=ip),
    "leaky_relu": lambda x, ip: F.leaky_relu(x, 0.2, ip),
    "elu": lambda x, ip: F.elu(x, 0.7, inplace=ip),
    "selu": lambda x, ip: F.selu(x, inplace=ip),
    "celu": lambda x, ip: F.celu(x, 1.3, inplace=ip),
    "silu": lambda x, ip: F.silu(x, inplace=ip),
    "mish": lambda x, ip: F.mish(x, inplace=ip),
    "hardtanh": lambda x, ip: F.hardtanh(x, -0.5, 0.5, inplace=ip),
    "relu6": lambda x, ip: F.relu6(x, inplace=ip),
    "hardsigmoid": lambda x, ip: F.hardsigmoid(x, inplace=ip),
    "hardswish": lambda x, ip: F.hardswish(x, inplace=ip),
    "threshold": lambda x, ip: F.threshold(x, 0.1, -2.0, inplace=ip),
    "rrelu": lambda x, ip: F.rrelu(x, 0.1, 0.3, training=True, inplace=ip),
    "dropout": lambda x, ip: F.dropout(x, 0.4, True, ip),
    "dropout1d": lambda x, ip: F.dropout1d(x, 0.4, True, ip),
    "dropout2d": lambda x, ip: F.dropout2d(x.reshape(2, 3, 2, 2), 0.4, True, ip),
    "dropout3d": lambda x, ip: F.dropout3d(x.reshape(2, 3, 1, 2, 2), 0.4, True, ip),
    "alpha_dropout": lambda x, ip: F.alpha_dropout(x, 0.4, True, ip),
    "feature_alpha_dropout": lambda x, ip: F.feature_alpha_dropout(x, 0.4, True, ip),
}


def _run(f, inplace):
    """f on a non-leaf x = 2a (shape (2, 3, 4)); returns (x, f's result, a's gradient)."""
    a = tg.tensor(np.random.default_rng(0).standard_normal((2, 3, 4)), requires_grad=True)
    x = a * 2.0
    tg.manual_seed(3)
    y = f(x, inplace)
    (y * tg.arange(y.numel(), dtype=y.dtype).reshape(y.shape)).sum().backward()
    return x, y, a.grad


@pytest.mark.parametrize("name", sorted(CASES))
def test_inplace_flag_writes_into_the_input(name):
    x, y, grad = _run(CASES[name], True)
    _, y_ref, grad_ref = _run(CASES[name], False)
    assert x.numpy().reshape(-1).tolist() == y_ref.numpy().reshape(-1).tolist()   # x was written
    assert y.numpy().reshape(-1).tolist() == y_ref.numpy().reshape(-1).tolist()
    np.testing.assert_allclose(grad.numpy(), grad_ref.numpy(), rtol=1e-12, atol=0)
    if y.shape == x.shape:
        assert y is x                                    # the input itself, as PyTorch returns


@pytest.mark.parametrize("name", ["relu", "silu", "dropout"])
def test_inplace_flag_keeps_a_new_tensor_without_it(name):
    x, y, _ = _run(CASES[name], False)
    assert y is not x


def test_inplace_flag_on_a_leaf_that_requires_grad_fails_clearly():
    a = tg.tensor([1.0, -1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        F.relu(a, inplace=True)


def test_inplace_flag_on_a_tensor_saved_for_backward_fails_at_backward():
    a = tg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    x = a * 1.0
    y = x.exp()                            # saves its output y
    F.relu(y, inplace=True)
    with pytest.raises(RuntimeError, match="inplace operation"):
        y.sum().backward()
