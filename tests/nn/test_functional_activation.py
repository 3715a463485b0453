"""Activations and dropout against PyTorch (float64): forward, first and second derivatives;
gradchecks; errors."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from test_functional_helpers import check_torch, check_grads, randn, torch

TF = torch.nn.functional

# name -> (tinygen call, torch call); inputs are scaled by 3 to reach the saturated regions
ACTIVATIONS = {
    "relu": (F.relu, TF.relu),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: TF.elu(x, 0.7)),
    "selu": (F.selu, TF.selu),
    "celu": (lambda x: F.celu(x, 1.3), lambda x: TF.celu(x, 1.3)),
    "gelu": (F.gelu, TF.gelu),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: TF.gelu(x, approximate="tanh")),
    "silu": (F.silu, TF.silu),
    "mish": (F.mish, TF.mish),
    "softplus": (F.softplus, TF.softplus),
    "softplus_beta": (lambda x: F.softplus(x, beta=2.0, threshold=3.0),
                      lambda x: TF.softplus(x, beta=2.0, threshold=3.0)),
    "sigmoid": (F.sigmoid, torch.sigmoid),
    "tanh": (F.tanh, torch.tanh),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid),
    "hardtanh": (lambda x: F.hardtanh(x, -2.0, 1.5), lambda x: TF.hardtanh(x, -2.0, 1.5)),
    "relu6": (lambda x: F.relu6(x * 3), lambda x: TF.relu6(x * 3)),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid),
    "hardswish": (F.hardswish, TF.hardswish),
    "softsign": (F.softsign, TF.softsign),
    "glu": (F.glu, TF.glu),
    "glu_dim0": (lambda x: F.glu(x.reshape(2, -1), 0), lambda x: TF.glu(x.reshape(2, -1), 0)),
    "softmax": (lambda x: F.softmax(x, -1), lambda x: TF.softmax(x, -1)),
    "softmax_dim0": (lambda x: F.softmax(x, 0), lambda x: TF.softmax(x, 0)),
    "log_softmax": (lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1)),
    "softmin": (lambda x: F.softmin(x, -1), lambda x: TF.softmin(x, -1)),
}

SHAPES = [(4, 6), (2, 1, 4), (1, 2)]
NO_TORCH_SECOND = {"hardsigmoid"}  # torch has no second derivative of hardsigmoid


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_matches_torch(name, shape):
    fn, ref = ACTIVATIONS[name]
    check_torch(fn, ref, [randn(*shape) * 3], second=name not in NO_TORCH_SECOND)


def test_activations_on_extreme_inputs_stay_finite():
    x = np.array([-800.0, -30.0, -1.0, 0.5, 30.0, 800.0])
    for name in ["elu", "selu", "celu", "softplus", "logsigmoid", "silu", "mish", "sigmoid",
                 "gelu", "softsign"]:
        fn, ref = ACTIVATIONS[name]
        check_torch(fn, ref, [x], second=name not in ("mish",))


def test_softmax_implicit_dim_like_torch():
    import warnings
    for shape in [(3,), (2, 3), (2, 3, 4), (2, 3, 4, 5)]:
        x = randn(*shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = TF.softmax(torch.tensor(x), dim=None)
        np.testing.assert_allclose(F.softmax(tg.tensor(x)).numpy(), ref.numpy(), rtol=1e-12)


def test_softmax_dtype_argument():
    x = tg.randn(2, 3)
    assert F.softmax(x, -1, dtype=tg.float64).dtype == tg.float64
    assert F.log_softmax(x, -1, dtype=tg.float64).dtype == tg.float64


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_gradcheck(name):
    fn, _ = ACTIVATIONS[name]
    # away from the kinks (0 for relu, the clamp bounds) where finite differences are meaningless
    x = np.array([[-2.7, -1.2, -0.4, 0.3, 1.1, 2.2], [0.8, -0.6, 1.7, -2.2, 0.45, -0.15]])
    check_grads(fn, [x])


# ---- dropout -------------------------------------------------------------------------------------
def test_dropout_scales_kept_values_and_zeroes_the_rest():
    tg.manual_seed(0)
    x = tg.ones(200, 50, dtype=tg.float64, requires_grad=True)
    y = F.dropout(x, p=0.3)
    values = np.unique(y.numpy())
    np.testing.assert_allclose(values, [0.0, 1 / 0.7])
    kept = (y.numpy() != 0).mean()
    assert abs(kept - 0.7) < 0.02
    (g,) = tg.autograd.grad(y.sum(), [x])
    np.testing.assert_allclose(g.numpy(), y.numpy())             # gradient = mask / (1 - p)


def test_dropout_identity_cases_and_seeding():
    x = tg.randn(3, 4)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert not F.dropout(x, 1.0).numpy().any()
    tg.manual_seed(5)
    a = F.dropout(x, 0.5).numpy()
    tg.manual_seed(5)
    b = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"dropout: probability has to be between 0 and 1, but "
                       r"got 1.5"):
        F.dropout(x, 1.5)


def test_activation_errors():
    with pytest.raises(ValueError, match=r"gelu: approximate must be 'none' or 'tanh', got 'fast'"):
        F.gelu(tg.randn(3), approximate="fast")
    with pytest.raises(RuntimeError, match=r"glu: halving dimension must be even.*size 3"):
        F.glu(tg.randn(2, 3))
    with pytest.raises(RuntimeError, match=r"elu: expected a floating-point input, got "
                       r"tinygen.int64"):
        F.elu(tg.tensor([1, 2]))


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "silu", "leaky_relu"])
def test_fused_activations_third_derivative_matches_torch(name):
    # the fused ops' backwards are Functions whose own backward is Tensor ops: differentiable to
    # any order, the first-order path being the kernel that training runs
    fns = {"gelu": lambda F_, x: F_.gelu(x),
           "gelu_tanh": lambda F_, x: F_.gelu(x, approximate="tanh"),
           "silu": lambda F_, x: F_.silu(x), "leaky_relu": lambda F_, x: F_.leaky_relu(x, 0.1)}
    fn = fns[name]
    x0 = np.random.default_rng(3).standard_normal(7) * 2

    def third(lib, F_, x):
        y = fn(F_, x).sum()
        (g1,) = lib.autograd.grad(y, x, create_graph=True)
        (g2,) = lib.autograd.grad(g1.sum(), x, create_graph=True)
        if not g2.requires_grad:              # torch: a constant second derivative (leaky_relu)
            return g1, g2, None
        (g3,) = lib.autograd.grad(g2.sum(), x, allow_unused=True)
        return g1, g2, g3

    x_tg = tg.tensor(x0, requires_grad=True)
    x_th = torch.tensor(x0, requires_grad=True)
    ours = third(tg, F, x_tg)
    theirs = third(torch, torch.nn.functional, x_th)
    for order, (a, b) in enumerate(zip(ours, theirs), start=1):
        expected = np.zeros_like(x0) if b is None else b.detach().numpy()
        got = np.zeros_like(x0) if a is None else a.detach().numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-10, err_msg=f"order {order}")


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@pytest.mark.parametrize("x_dtype, g_dtype", [("float32", "float64"), ("float64", "float32")])
def test_backward_from_the_output_keeps_each_gradient_in_its_dtype(name, x_dtype, g_dtype):
    # the one-pass backward kernels compute in y's dtype; the upstream gradient's own gradient
    # (double backward) is in its dtype, as PyTorch gives it
    grads = []
    for lib in (tg, torch):
        x = lib.ones(3, dtype=getattr(lib, x_dtype), requires_grad=True) * 0.3
        g = lib.ones(3, dtype=getattr(lib, g_dtype), requires_grad=True)
        (gx,) = lib.autograd.grad(getattr(x, name)(), x, g, create_graph=True)
        gx.sum().backward()
        grads.append(g.grad)
    assert str(grads[0].dtype).split(".")[-1] == g_dtype == str(grads[1].dtype).split(".")[-1]
    np.testing.assert_allclose(grads[0].numpy(), grads[1].numpy(), rtol=1e-6)


def test_elu_and_prelu_second_derivatives_at_zero_follow_their_first_derivative():
    """Deliberate (ops/activation.py, elu and prelu docstrings): at x == 0 both libraries take
    the negative branch's first derivative (alpha, the slope); tinygen differentiates that same
    branch again (alpha; 1 with respect to the slope), where PyTorch's double backward switches
    to the positive branch and gives 0 (found by a gradient-penalty probe through each layer)."""
    x = tg.tensor([0.0, -0.5, 0.5], dtype=tg.float64, requires_grad=True)
    (g,) = tg.autograd.grad(F.elu(x, alpha=0.5).sum(), x, create_graph=True)
    (gg,) = tg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(g.detach().numpy(), [0.5, 0.5 * np.exp(-0.5), 1.0])
    np.testing.assert_allclose(gg.numpy(), [0.5, 0.5 * np.exp(-0.5), 0.0])
    weight = tg.tensor([0.25], dtype=tg.float64, requires_grad=True)
    (g,) = tg.autograd.grad(F.prelu(x, weight).sum(), x, create_graph=True)
    (g_weight,) = tg.autograd.grad(g.sum(), weight)
    np.testing.assert_allclose(g.detach().numpy(), [0.25, 0.25, 1.0])
    assert g_weight.tolist() == [2.0]
