"""F.linear, F.conv1d, F.conv2d, F.conv_transpose2d against PyTorch (float64): forward, first and
second derivatives; finite-difference gradchecks; error messages."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from test_functional_helpers import check_torch, check_grads, randn, torch

TF = torch.nn.functional
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


# (x_shape, w_shape, bias, kwargs)
CONV2D_CASES = [
    ((2, 3, 6, 5), (4, 3, 3, 3), True, {}),
    ((1, 1, 5, 5), (1, 1, 1, 1), False, {}),                                   # size-1 everything
    ((2, 4, 7, 6), (6, 2, 3, 2), True, dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)),
    ((1, 2, 1, 7), (3, 2, 1, 3), True, dict(padding=(0, 2), stride=3)),        # height 1
    ((2, 2, 5, 6), (2, 1, 2, 3), False, dict(padding="same", dilation=(2, 1), groups=2)),
    ((2, 2, 5, 6), (3, 2, 2, 2), True, dict(padding="same")),                  # asymmetric 'same'
    ((1, 3, 4, 4), (2, 3, 3, 3), True, dict(padding="valid")),
    ((3, 4, 4), (2, 3, 3, 3), True, dict(padding=1)),                          # unbatched
]


@pytest.mark.parametrize("x_shape, w_shape, bias, kwargs", CONV2D_CASES)
def test_conv2d_matches_torch(x_shape, w_shape, bias, kwargs):
    arrays = [randn(*x_shape), randn(*w_shape)] + ([randn(w_shape[0])] if bias else [None])
    check_torch(lambda x, w, b: F.conv2d(x, w, b, **kwargs),
                lambda x, w, b: TF.conv2d(x, w, b, **kwargs), arrays)


CONV_T_CASES = [
    ((2, 3, 4, 5), (3, 2, 3, 3), True, {}),
    ((1, 1, 3, 3), (1, 1, 1, 1), False, {}),
    ((2, 4, 3, 4), (4, 3, 3, 2), True, dict(stride=2, padding=1, output_padding=1, groups=2,
                                             dilation=(1, 2))),
    ((2, 2, 4, 4), (2, 1, 4, 4), False, dict(stride=2, padding=1)),          # DCGAN upsampling
    ((2, 3, 3), (2, 3, 2, 2), True, dict(stride=(1, 2))),                     # unbatched
]


@pytest.mark.parametrize("x_shape, w_shape, bias, kwargs", CONV_T_CASES)
def test_conv_transpose2d_matches_torch(x_shape, w_shape, bias, kwargs):
    groups = kwargs.get("groups", 1)
    arrays = [randn(*x_shape), randn(*w_shape)] + ([randn(w_shape[1] * groups)] if bias else [None])
    check_torch(lambda x, w, b: F.conv_transpose2d(x, w, b, **kwargs),
                lambda x, w, b: TF.conv_transpose2d(x, w, b, **kwargs), arrays)


CONV1D_CASES = [
    ((2, 3, 8), (4, 3, 3), True, {}),
    ((1, 1, 4), (1, 1, 1), False, {}),
    ((2, 4, 9), (2, 2, 3), True, dict(stride=2, padding=2, dilation=2, groups=2)),
    ((2, 3, 7), (2, 3, 4), False, dict(padding="same")),
    ((3, 6), (2, 3, 2), True, {}),                                             # unbatched
]


@pytest.mark.parametrize("x_shape, w_shape, bias, kwargs", CONV1D_CASES)
def test_conv1d_matches_torch(x_shape, w_shape, bias, kwargs):
    arrays = [randn(*x_shape), randn(*w_shape)] + ([randn(w_shape[0])] if bias else [None])
    check_torch(lambda x, w, b: F.conv1d(x, w, b, **kwargs),
                lambda x, w, b: TF.conv1d(x, w, b, **kwargs), arrays)


@pytest.mark.parametrize("x_shape", [(5, 3), (2, 4, 3), (3,), (1, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(x_shape, bias):
    arrays = [randn(*x_shape), randn(2, 3)] + ([randn(2)] if bias else [None])
    check_torch(F.linear, TF.linear, arrays)


def test_conv_double_backward_through_input_gradient():
    """WGAN-GP: the penalty ||d D(x) / dx|| differentiated again through the conv weights."""
    x, w, w2 = randn(2, 2, 5, 5), randn(3, 2, 3, 3), randn(1, 3, 3, 3)

    def penalty(lib, fn, x, w, w2):
        h = fn.conv2d(x, w, padding=1)
        out = fn.conv2d(lib.tanh(h) if lib is torch else h.tanh(), w2, stride=2).sum()
        (gx,) = lib.autograd.grad(out, [x], create_graph=True)
        return (gx * gx).sum()

    check_torch(lambda x, w, w2: penalty(tg, F, x, w, w2),
                lambda x, w, w2: penalty(torch, TF, x, w, w2), [x, w, w2])


GRADCHECK_CASES = {
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2)),
               [(1, 2, 4, 5), (2, 2, 2, 2), (2,)]),
    "conv2d_groups": (lambda x, w: F.conv2d(x, w, groups=2, padding="same"),
                      [(1, 2, 3, 3), (2, 1, 2, 2)]),
    "conv_transpose2d": (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, output_padding=1),
                         [(1, 2, 2, 2), (2, 1, 2, 2), (1,)]),
    "conv1d": (lambda x, w: F.conv1d(x, w, stride=2, padding=1), [(1, 2, 5), (2, 2, 3)]),
    "linear": (F.linear, [(2, 3), (2, 3), (2,)]),
}


@pytest.mark.parametrize("name", list(GRADCHECK_CASES))
def test_gradcheck(name):
    fn, shapes = GRADCHECK_CASES[name]
    rng = np.random.default_rng(1)
    check_grads(fn, [rng.standard_normal(s) for s in shapes])


# ---- errors ------------------------------------------------------------------------------------
def test_conv2d_channel_mismatch_message():
    x, w = tg.randn(2, 3, 8, 8), tg.randn(16, 4, 3, 3)
    with pytest.raises(RuntimeError, match=r"conv2d: expected input with 4 channels \(weight "
                       r"\(16, 4, 3, 3\), groups 1\), got input of shape \(2, 3, 8, 8\)"):
        F.conv2d(x, w)


def test_conv2d_errors():
    x = tg.randn(2, 4, 8, 8)
    with pytest.raises(RuntimeError, match=r"conv2d: expected input, weight and bias to have the "
                       r"same dtype.*float32.*float64"):
        F.conv2d(x, tg.randn(2, 4, 3, 3, dtype=tg.float64))
    with pytest.raises(RuntimeError, match=r"conv2d: expected a 3-D \(unbatched\) or 4-D.*"
                       r"\(4, 8\)"):
        F.conv2d(tg.randn(4, 8), tg.randn(2, 4, 3, 3))
    with pytest.raises(RuntimeError, match=r"conv2d: expected a 4-D weight.*\(2, 4, 3\)"):
        F.conv2d(x, tg.randn(2, 4, 3))
    with pytest.raises(RuntimeError, match=r"conv2d: expected bias of shape \(2,\)"):
        F.conv2d(x, tg.randn(2, 4, 3, 3), tg.randn(3))
    with pytest.raises(ValueError, match=r"conv2d: padding='same' is not supported for strided"):
        F.conv2d(x, tg.randn(2, 4, 3, 3), stride=2, padding="same")
    with pytest.raises(RuntimeError, match=r"conv2d: the input height 8.*smaller than the kernel"):
        F.conv2d(x, tg.randn(2, 4, 9, 3))
    with pytest.raises(ValueError, match=r"conv2d: invalid padding string 'full'"):
        F.conv2d(x, tg.randn(2, 4, 3, 3), padding="full")


def test_conv_transpose2d_and_conv1d_errors():
    with pytest.raises(RuntimeError, match=r"conv_transpose2d: expected input with 3 channels "
                       r"\(weight \(3, 2, 3, 3\), groups 1\), got input of shape \(1, 2, 4, 4\)"):
        F.conv_transpose2d(tg.randn(1, 2, 4, 4), tg.randn(3, 2, 3, 3))
    with pytest.raises(ValueError, match=r"conv_transpose2d: output_padding"):
        F.conv_transpose2d(tg.randn(1, 3, 4, 4), tg.randn(3, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(RuntimeError, match=r"conv1d: expected input with 3 channels"):
        F.conv1d(tg.randn(1, 2, 5), tg.randn(4, 3, 2))


def test_linear_errors():
    with pytest.raises(RuntimeError, match=r"linear: expected input with last dim 3 \(weight "
                       r"\(2, 3\)\), got input of shape \(4, 5\)"):
        F.linear(tg.randn(4, 5), tg.randn(2, 3))
    with pytest.raises(RuntimeError, match=r"linear: expected input, weight and bias to have the "
                       r"same dtype"):
        F.linear(tg.randn(4, 3, dtype=tg.float64), tg.randn(2, 3))
