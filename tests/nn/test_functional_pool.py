"""F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, F.interpolate, F.pad against PyTorch
(float64): forward, first and second derivatives; gradchecks; error messages."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from test_functional_helpers import check_torch, check_grads, randn, torch

TF = torch.nn.functional


MAX_CASES = [
    ((2, 3, 6, 5), dict(kernel_size=2)),
    ((1, 1, 5, 5), dict(kernel_size=3, stride=1, padding=1)),
    ((2, 2, 7, 8), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
    ((1, 2, 7, 7), dict(kernel_size=2, stride=2, ceil_mode=True)),
    ((1, 2, 6, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 1, 1, 6), dict(kernel_size=(1, 3))),                                 # height 1
    ((3, 4, 4), dict(kernel_size=2)),                                         # unbatched
]


@pytest.mark.parametrize("shape, kwargs", MAX_CASES)
def test_max_pool2d_matches_torch(shape, kwargs):
    check_torch(lambda x: F.max_pool2d(x, **kwargs), lambda x: TF.max_pool2d(x, **kwargs),
                [randn(*shape)])


@pytest.mark.parametrize("shape, kwargs", MAX_CASES)
def test_max_pool2d_indices_match_torch(shape, kwargs):
    x = randn(*shape)
    y, idx = F.max_pool2d(tg.tensor(x), return_indices=True, **kwargs)
    y_ref, idx_ref = TF.max_pool2d(torch.tensor(x), return_indices=True, **kwargs)
    assert idx.dtype == tg.int64
    np.testing.assert_array_equal(idx.numpy(), idx_ref.numpy())
    np.testing.assert_array_equal(y.numpy(), y_ref.numpy())


AVG_CASES = [
    ((2, 3, 6, 5), dict(kernel_size=2)),
    ((1, 1, 5, 5), dict(kernel_size=3, stride=1, padding=1)),
    ((1, 2, 5, 5), dict(kernel_size=3, stride=1, padding=1, count_include_pad=False)),
    ((2, 2, 7, 8), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))),
    ((1, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                        count_include_pad=False)),
    ((1, 2, 6, 6), dict(kernel_size=2, divisor_override=3)),
    ((2, 1, 1, 6), dict(kernel_size=(1, 3))),
    ((3, 4, 4), dict(kernel_size=2)),
]


@pytest.mark.parametrize("shape, kwargs", AVG_CASES)
def test_avg_pool2d_matches_torch(shape, kwargs):
    check_torch(lambda x: F.avg_pool2d(x, **kwargs), lambda x: TF.avg_pool2d(x, **kwargs),
                [randn(*shape)])


@pytest.mark.parametrize("shape, size", [
    ((2, 3, 6, 5), (3, 2)), ((1, 2, 7, 5), (3, 4)), ((1, 1, 5, 5), 1), ((2, 2, 4, 6), (None, 4)),
    ((1, 2, 3, 3), (5, 7)), ((3, 5, 4), 2), ((1, 1, 1, 4), (1, 3)),
])
def test_adaptive_avg_pool2d_matches_torch(shape, size):
    check_torch(lambda x: F.adaptive_avg_pool2d(x, size),
                lambda x: TF.adaptive_avg_pool2d(x, size), [randn(*shape)])


@pytest.mark.parametrize("shape, kwargs", [
    ((1, 2, 3, 4), dict(scale_factor=2)),
    ((2, 3, 3, 4), dict(size=(9, 8))),                       # whole factors 3 and 2: one kernel
    ((1, 2, 3, 4), dict(size=(3, 8), mode="nearest-exact")),
    ((1, 2, 3, 4), dict(size=(5, 7))),
    ((2, 1, 5, 6), dict(size=(3, 4))),
    ((1, 1, 4, 5), dict(scale_factor=(1.5, 0.7))),
    ((1, 1, 3, 3), dict(scale_factor=1.7, recompute_scale_factor=True)),
    ((2, 3, 5), dict(scale_factor=3)),
    ((2, 3, 5), dict(size=8)),
    ((1, 1, 2, 3, 4), dict(size=(3, 3, 5))),
    ((1, 2, 3, 4), dict(size=(5, 7), mode="nearest-exact")),
    ((1, 2, 5, 4), dict(scale_factor=0.5, mode="nearest-exact")),
])
def test_interpolate_matches_torch(shape, kwargs):
    check_torch(lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs),
                [randn(*shape)])


@pytest.mark.parametrize("shape, pad, mode, value", [
    ((2, 3, 4, 5), (1, 2), "constant", None),
    ((2, 3, 4, 5), (1, 2, 0, 3), "constant", 1.5),
    ((2, 3, 4, 5), (-1, 2, 1, -2), "constant", 0.0),
    ((3, 4), (2, 1, 1, 0), "constant", None),
    ((1, 2, 4, 5), (2, 1, 3, 1), "reflect", None),
    ((2, 3, 5), (4, 2), "reflect", None),
    ((1, 2, 4, 5), (2, 1, 3, 1), "replicate", None),
    ((1, 1, 1, 3), (2, 2, 1, 1), "replicate", None),
    ((1, 2, 4, 5), (2, 1, 3, 1), "circular", None),
])
def test_pad_matches_torch(shape, pad, mode, value):
    kwargs = {} if value is None else {"value": value}
    check_torch(lambda x: F.pad(x, pad, mode, **kwargs), lambda x: TF.pad(x, pad, mode, **kwargs),
                [randn(*shape)])


@pytest.mark.parametrize("shape, kwargs", [
    ((2, 3, 8), dict(kernel_size=2)),
    ((1, 2, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((3, 5), dict(kernel_size=2, stride=1)),                                  # unbatched
])
def test_pool1d_matches_torch(shape, kwargs):
    check_torch(lambda x: F.avg_pool1d(x, **kwargs), lambda x: TF.avg_pool1d(x, **kwargs),
                [randn(*shape)])
    check_torch(lambda x: F.max_pool1d(x, **kwargs), lambda x: TF.max_pool1d(x, **kwargs),
                [randn(*shape)])
    _, idx = F.max_pool1d(tg.tensor(randn(*shape)), return_indices=True, **kwargs)
    _, idx_ref = TF.max_pool1d(torch.tensor(randn(*shape)), return_indices=True, **kwargs)
    np.testing.assert_array_equal(idx.numpy(), idx_ref.numpy())


@pytest.mark.parametrize("shape, size", [((2, 3, 7), 3), ((1, 2, 4), 5), ((3, 6), 1)])
def test_adaptive_avg_pool1d_matches_torch(shape, size):
    check_torch(lambda x: F.adaptive_avg_pool1d(x, size),
                lambda x: TF.adaptive_avg_pool1d(x, size), [randn(*shape)])


@pytest.mark.parametrize("shape, r", [((1, 8, 2, 3), 2), ((2, 9, 1, 2), 3), ((4, 2, 2), 2)])
def test_pixel_shuffle_matches_torch(shape, r):
    check_torch(lambda x: F.pixel_shuffle(x, r), lambda x: TF.pixel_shuffle(x, r),
                [randn(*shape)])
    up = tuple(shape[:-3]) + (shape[-3] // (r * r), shape[-2] * r, shape[-1] * r)
    check_torch(lambda x: F.pixel_unshuffle(x, r), lambda x: TF.pixel_unshuffle(x, r),
                [randn(*up)])


GRADCHECK_CASES = {
    "max_pool2d": (lambda x: F.max_pool2d(x, 2, stride=1, padding=1), (1, 2, 3, 3)),
    "max_pool2d_ceil": (lambda x: F.max_pool2d(x, 2, ceil_mode=True), (1, 1, 3, 5)),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False),
                   (1, 2, 3, 3)),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (2, 3)), (1, 1, 3, 4)),
    "interpolate": (lambda x: F.interpolate(x, size=(3, 5)), (1, 1, 2, 3)),
    "interpolate_whole": (lambda x: F.interpolate(x, scale_factor=(2, 3)), (1, 2, 2, 3)),
    "pad_reflect": (lambda x: F.pad(x, (2, 1, 1, 1), mode="reflect"), (1, 1, 3, 3)),
    "pad_constant": (lambda x: F.pad(x, (1, -1), value=2.0), (1, 2, 3)),
    "pad_replicate": (lambda x: F.pad(x, (2, 1), mode="replicate"), (1, 2, 3)),
    "pad_circular": (lambda x: F.pad(x, (2, 1, 0, 1), mode="circular"), (1, 1, 2, 3)),
    "max_pool1d": (lambda x: F.max_pool1d(x, 2, padding=1), (1, 2, 4)),
    "avg_pool1d": (lambda x: F.avg_pool1d(x, 3, stride=2, padding=1), (1, 2, 5)),
    "adaptive_avg_pool1d": (lambda x: F.adaptive_avg_pool1d(x, 3), (1, 1, 5)),
    "pixel_shuffle": (lambda x: F.pixel_shuffle(x, 2), (1, 4, 1, 2)),
}


@pytest.mark.parametrize("name", list(GRADCHECK_CASES))
def test_gradcheck(name):
    fn, shape = GRADCHECK_CASES[name]
    # max pooling is not differentiable at ties: spread the values apart
    x = np.random.default_rng(2).permutation(np.prod(shape)).reshape(shape) * 0.1
    check_grads(fn, [x.astype(np.float64)])


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"])
def test_pool_second_derivative_through_a_nonlinearity(op):
    """pool(x) ** 3: the second derivative runs the pooling's backward's backward."""
    args = {"max_pool2d": (3, 2, 1), "avg_pool2d": (3, 2, 1), "adaptive_avg_pool2d": ((2, 3),)}[op]
    check_torch(lambda x: getattr(F, op)(x * x, *args) ** 3,
                lambda x: getattr(TF, op)(x * x, *args) ** 3, [randn(2, 2, 5, 6)])


# ---- errors ------------------------------------------------------------------------------------
def test_pool_errors():
    x = tg.randn(1, 2, 5, 5)
    with pytest.raises(ValueError, match=r"max_pool2d: padding should be at most half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(RuntimeError, match=r"max_pool2d: expected a 3-D \(unbatched\) or 4-D "
                       r"\(batched\) input, got input of shape \(5, 5\)"):
        F.max_pool2d(tg.randn(5, 5), 2)
    with pytest.raises(RuntimeError, match=r"max_pool2d: the output size \(0, 0\) is too small"):
        F.max_pool2d(x, 6)
    with pytest.raises(ValueError, match=r"avg_pool2d: padding should be at most half"):
        F.avg_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match=r"avg_pool2d: divisor_override"):   # PyTorch's type
        F.avg_pool2d(x, 3, divisor_override=0)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: output_size"):
        F.adaptive_avg_pool2d(x, (1, 2, 3))


def test_interpolate_and_pad_errors():
    x = tg.randn(1, 2, 5, 5)
    with pytest.raises(ValueError, match=r"interpolate: only one of size or scale_factor"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(NotImplementedError, match=r"interpolate: mode 'box'"):
        F.interpolate(x, size=3, mode="box")
    with pytest.raises(NotImplementedError, match=r"interpolate: mode 'bicubic' needs a 4-D"):
        F.interpolate(x[0], size=3, mode="bicubic")
    with pytest.raises(ValueError, match=r"interpolate: input of shape \(1, 2, 5, 5\) has 2 "
                       r"spatial dims but size has 3"):
        F.interpolate(x, size=(3, 3, 3))
    with pytest.raises(ValueError, match=r"pad: padding size should be less than the "
                       r"corresponding input dimension.*\(5, 1\) at dimension 3"):
        F.pad(x, (5, 1), mode="reflect")
    with pytest.raises(ValueError, match=r"pad: padding length must be even"):
        F.pad(x, (1, 2, 3))


@pytest.mark.parametrize("op", ["avg_pool1d", "max_pool1d"])
@pytest.mark.parametrize("kw, error", [(dict(kernel_size=-1), ValueError),
                                       (dict(kernel_size=2, padding=2), ValueError),
                                       (dict(kernel_size=2, stride=0), ValueError),
                                       (dict(kernel_size=9), RuntimeError)])
def test_pool1d_errors_name_the_1d_op_and_its_values(op, kw, error):
    """The 1-D pools run as 2-D ones on a height of 1, but check their arguments first: the
    error names the 1-D op and its own 1-tuples, not avg_pool2d's (1, k) (here (1, 2))."""
    with pytest.raises(error) as info:
        getattr(F, op)(tg.ones(1, 2, 5), **kw)
    assert str(info.value).startswith(op + ":") and "(1, 2)" not in str(info.value)
