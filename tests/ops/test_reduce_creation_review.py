"""The dtype, gradient and error review of reductions, clamp and creation, against PyTorch.

Each test runs the same expression through tinygen and torch (the module is the argument `m`)
and compares dtypes exactly, values, and gradients in float64; where PyTorch raises, tinygen
must raise the same exception type.
"""
import math

import numpy as np
import pytest

import tinygen as tg

torch = pytest.importorskip("torch")

nan, inf = float("nan"), float("inf")
INTS = ["bool", "uint8", "int8", "int16", "int32", "int64"]


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _same(tg_out, torch_out, rtol=1e-12):
    """Same dtype name, shape and values (NaN where NaN)."""
    assert str(tg_out.dtype).split(".")[-1] == str(torch_out.dtype).split(".")[-1]
    assert tuple(tg_out.shape) == tuple(torch_out.shape)
    np.testing.assert_allclose(_np(tg_out).astype(np.float64), _np(torch_out).astype(np.float64),
                               rtol=rtol, atol=0, equal_nan=True)


def _grads(fn, data):
    """(value, x.grad) of fn(m, x) with x float64 data, weighted so each output counts
    differently, for m in (tg, torch)."""
    out = []
    for m in (tg, torch):
        x = m.tensor(data, dtype=m.float64, requires_grad=True)
        y = fn(m, x)
        w = m.arange(1, y.numel() + 1, dtype=m.float64).reshape(y.shape)
        (y * w).sum().backward()
        out.append((y.detach(), x.grad))
    return out


def _check_grads(fn, data):
    (y_tg, g_tg), (y_th, g_th) = _grads(fn, data)
    _same(y_tg, y_th)
    if g_th is None:
        assert g_tg is None
    else:
        _same(g_tg, g_th)


def _raises_like(fn):
    """fn(torch) raises; fn(tg) raises the same exception type."""
    with pytest.raises(Exception) as expected:
        fn(torch)
    with pytest.raises(expected.type):
        fn(tg)


# ---- 1. integer accumulation and dtype= ---------------------------------------------------------
@pytest.mark.parametrize("dtype", INTS)
@pytest.mark.parametrize("op", ["sum", "prod", "cumsum", "cumprod", "nansum"])
def test_integer_reductions_give_int64(op, dtype):
    def run(m):
        x = m.tensor([120, 100, 3], dtype=getattr(m, dtype)) if dtype != "bool" else \
            m.tensor([True, False, True])
        return {"sum": lambda: x.sum(), "prod": lambda: x.prod(), "nansum": lambda: m.nansum(x),
                "cumsum": lambda: x.cumsum(0), "cumprod": lambda: x.cumprod(0)}[op]()
    _same(run(tg), run(torch))


@pytest.mark.parametrize("call", [
    lambda m: m.tensor([1, 2]).sum(dtype=m.int32),
    lambda m: m.tensor([1.5, 2.5]).sum(dtype=m.int32),
    lambda m: m.tensor([1, 2]).sum(dtype=m.bool),
    lambda m: m.tensor([0, 0]).sum(dtype=m.bool),
    lambda m: m.tensor([1, 2]).sum(0, dtype=m.float64),
    lambda m: m.tensor([1, 2]).prod(dtype=m.float64),
    lambda m: m.tensor([100, 3]).prod(dtype=m.int8),
    lambda m: m.tensor([[1, 2], [3, 4]]).prod(1, dtype=m.float64),
    lambda m: m.tensor([1, 2]).cumsum(0, dtype=m.float64),
    lambda m: m.tensor([1., 2.]).cumsum(0, dtype=m.float16),
    lambda m: m.tensor([1, 2]).cumprod(0, dtype=m.float64),
    lambda m: m.tensor([3., 4.]).norm(dtype=m.float64),
    lambda m: m.tensor([3., 4.]).norm(1, dtype=m.float64),
    lambda m: m.tensor([1, 2]).mean(dtype=m.float64),
])
def test_dtype_argument(call):
    _same(call(tg), call(torch))


# ---- 6. float16 accumulates in float32 ----------------------------------------------------------
HALVES = np.linspace(0, 3, 1001).astype(np.float16)       # the same float16 data for both


@pytest.mark.parametrize("call", [
    lambda m: m.full((3000,), 1.0, dtype=m.float16).cumsum(0)[-1],
    lambda m: m.full((3000,), 0.1, dtype=m.float16).cumsum(0)[-1],
    lambda m: m.full((3000,), 0.1, dtype=m.float16).sum(),
    lambda m: m.tensor(HALVES).sum(), lambda m: m.tensor(HALVES).cumsum(0),
    lambda m: m.tensor(HALVES).var(), lambda m: m.tensor(HALVES).std(),
    lambda m: m.tensor(HALVES).mean(), lambda m: m.tensor(HALVES).reshape(7, 143).sum(1),
    lambda m: m.tensor(HALVES).reshape(7, 143).var(0),
])
def test_float16_accumulates_in_float32(call):
    _same(call(tg), call(torch), rtol=0)


def test_float16_sum_keeps_its_gradient():
    x = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float16, requires_grad=True)
    x.sum().backward()
    assert x.grad.dtype == tg.float16 and x.grad.tolist() == [1.0, 1.0, 1.0]


# ---- 2. gradients PyTorch makes 0 where the formula is NaN ---------------------------------------
ROWS = {"const": [[2., 2., 2.], [1., 2., 4.]], "zeros": [[0., 0., 0.], [0., 1., -2.]],
        "nan": [[1., nan, 3.], [2., 2., 2.]], "gen": [[1.5, -2., 0.5], [3., -1., 4.]],
        "onezero": [[0., 2., 3.], [4., 0., 0.]]}
NORMS = [0, 1, 0.5, 1.5, 3, -1, inf, -inf]


@pytest.mark.parametrize("data", ROWS.values(), ids=ROWS.keys())
@pytest.mark.parametrize("fn", [
    lambda m, x: x.std(1), lambda m, x: x.std(0), lambda m, x: x.std(1, correction=0),
    lambda m, x: x.std(), lambda m, x: m.std_mean(x, 1)[0],
], ids=["std1", "std0", "std1_c0", "std", "std_mean"])
def test_std_gradient_is_zero_on_constant_slices(fn, data):
    _check_grads(fn, data)


@pytest.mark.parametrize("data", ROWS.values(), ids=ROWS.keys())
@pytest.mark.parametrize("p", NORMS)
@pytest.mark.parametrize("dim", [None, 1])
def test_norm_gradients(p, dim, data):
    _check_grads(lambda m, x: x.norm(p, dim=dim), data)


@pytest.mark.parametrize("data", [[0., 0.], [0., 4.], [nan, 1.]])
@pytest.mark.parametrize("p", [0.5, 1.5, 3, 1, inf])
def test_norm_gradient_at_zero_vectors(p, data):
    _check_grads(lambda m, x: x.norm(p), data)


@pytest.mark.parametrize("data", ROWS.values(), ids=ROWS.keys())
@pytest.mark.parametrize("fn", [lambda m, x: x.max(), lambda m, x: x.min(),
                                lambda m, x: x.amax(1), lambda m, x: x.amax(),
                                lambda m, x: m.aminmax(x).max],
                         ids=["max", "min", "amax1", "amax", "aminmax"])
def test_max_min_gradients_with_nan_and_ties(fn, data):
    _check_grads(fn, data)


@pytest.mark.parametrize("p", [3, 0.5, 1.5, -1])
def test_norm_and_std_double_backward(p):
    x = tg.tensor([[1.5, -2., 0.5], [3., -1., 4.]], dtype=tg.float64, requires_grad=True)
    assert tg.autograd.gradgradcheck(lambda t: t.norm(p, dim=1), (x,))
    assert tg.autograd.gradgradcheck(lambda t: t.std(1), (x,))


# ---- 3. median ---------------------------------------------------------------------------------
@pytest.mark.parametrize("data", [[2., 2., 2.], [[2., 2.], [1., 3.]], [1., nan, 2.],
                                  [3., 1., 3., 1.], [0., 0., 0., 0., 1., -2.]])
@pytest.mark.parametrize("fn", [lambda m, x: x.median(), lambda m, x: x.nanmedian()],
                         ids=["median", "nanmedian"])
def test_median_without_dim_splits_ties_evenly(fn, data):
    _check_grads(fn, data)


def test_median_with_dim_sends_the_gradient_to_its_index():
    for m in (tg, torch):
        x = m.tensor([[2., 2., 2.], [1., 3., 1.]], dtype=m.float64, requires_grad=True)
        values, indices = x.median(1)
        values.sum().backward()
        expected = np.zeros((2, 3))
        expected[[0, 1], _np(indices)] = 1
        np.testing.assert_array_equal(_np(x.grad), expected)


def test_median_of_empty_is_nan():
    for shape in [(0,), (2, 0)]:
        _same(tg.zeros(*shape).median(), torch.zeros(*shape).median())
        _same(tg.zeros(*shape).nanmedian(), torch.zeros(*shape).nanmedian())
    _raises_like(lambda m: m.zeros(0).median(0))


# ---- 4. clamp ------------------------------------------------------------------------------------
@pytest.mark.parametrize("data", ROWS.values(), ids=ROWS.keys())
def test_clamp_tensor_bounds_gradient(data):
    _check_grads(lambda m, x: m.clamp(x, min=x.flip(1)), data)
    _check_grads(lambda m, x: m.clamp(x, max=x.flip(1)), data)


def test_clamp_tensor_bounds_all_gradients():
    out = []
    for m in (tg, torch):
        x = m.tensor([[1., 1., 3., nan], [0., 5., 2., 2.]], dtype=m.float64, requires_grad=True)
        lo = m.tensor([1., 0., 4., 0.], dtype=m.float64, requires_grad=True)       # broadcast
        hi = m.tensor(2., dtype=m.float64, requires_grad=True)                      # 0-d
        y = m.clamp(x, min=lo, max=hi)
        (y * m.arange(1., 9., dtype=m.float64).reshape(2, 4)).sum().backward()
        out.append((y, x.grad, lo.grad, hi.grad))
    for a, b in zip(*out):
        _same(a, b)


@pytest.mark.parametrize("call", [
    lambda m: m.tensor([1, 5]).clamp(min=2.5),
    lambda m: m.tensor([1, 5]).clamp(max=2.5),
    lambda m: m.tensor([1, 5]).clamp(min=2),
    lambda m: m.tensor([True, False]).clamp(min=0),
    lambda m: m.tensor([1., 5.]).clamp(min=2, max=3),
    lambda m: m.clamp(m.tensor([1., 5.]), min=m.tensor(2.), max=4.),
    lambda m: m.clamp(m.tensor([1., 5.]), min=m.tensor([2.], dtype=m.float64)),
    lambda m: m.clamp(m.tensor([1., 5.]), min=m.tensor(2., dtype=m.float64)),
    lambda m: m.clamp(m.tensor([1, 5]), min=m.tensor(2.)),
    lambda m: m.clamp(m.tensor(1.), min=m.tensor([2., 0.])),
    lambda m: m.clamp(m.tensor([1., 5.]), min=m.tensor([3., 3.]), max=m.tensor([2., 2.])),
    lambda m: m.clamp(m.tensor([nan, 1.]), min=m.tensor([3., nan])),
])
def test_clamp_dtypes_and_values(call):
    _same(call(tg), call(torch))


# ---- 5. cummax / cummin with NaN -----------------------------------------------------------------
@pytest.mark.parametrize("data", [[1., nan, 3.], [1., nan, 3., nan, 5.], [nan, 1., 2.],
                                  [3., 1., 3., 2.], [1., 0., nan, -5.]])
@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cumulative_extremes_propagate_nan(op, data):
    a, b = getattr(tg, op)(tg.tensor(data), 0), getattr(torch, op)(torch.tensor(data), 0)
    _same(a.values, b.values)
    _same(a.indices, b.indices)


# ---- 8. PyTorch refuses integer inputs ----------------------------------------------------------
@pytest.mark.parametrize("dtype", INTS)
@pytest.mark.parametrize("call", [
    lambda m, x: x.mean(), lambda m, x: x.mean(0), lambda m, x: x.var(), lambda m, x: x.std(1),
    lambda m, x: x.norm(), lambda m, x: x.norm(1), lambda m, x: m.nanmean(x),
    lambda m, x: m.quantile(x, 0.5), lambda m, x: m.std_mean(x), lambda m, x: m.var_mean(x),
    lambda m, x: x.mean(dtype=m.int64),
], ids=["mean", "mean0", "var", "std1", "norm", "norm1", "nanmean", "quantile", "std_mean",
        "var_mean", "mean_dtype_int"])
def test_floating_only_reductions_refuse_integers(call, dtype):
    def make(m):
        return m.tensor([[1, 0, 3], [4, 5, 6]], dtype=getattr(m, dtype)) if dtype != "bool" \
            else m.tensor([[True, False], [True, True]])
    _raises_like(lambda m: call(m, make(m)))


@pytest.mark.parametrize("call", [
    lambda m: m.tensor([True, False]).argmax(), lambda m: m.tensor([True, False]).argmin(0),
    lambda m: m.tensor([True, False]).median(), lambda m: m.tensor([True, False]).median(0),
    lambda m: m.tensor([True, False]).kthvalue(1),
    lambda m: m.quantile(m.tensor([1., 2.], dtype=m.float16), 0.5),
])
def test_bool_and_half_refusals(call):
    _raises_like(call)


@pytest.mark.parametrize("data,correction", [([1., 2.], 3), ([1., 2.], 2), ([1., 1.], 3),
                                             ([1.], 1), ([[1., 2.], [3., 5.]], 2)])
def test_var_with_correction_at_least_n(data, correction):
    with pytest.warns(UserWarning):
        out = tg.tensor(data).var(-1, correction=correction)
    with pytest.warns(UserWarning):
        _same(out, torch.tensor(data).var(-1, correction=correction))


# ---- 9. 0-d tensors, empty tensors, mode with NaN ------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda m: m.tensor(5.).sum(0), lambda m: m.tensor(5.).sum(-1), lambda m: m.tensor(5.).mean(0),
    lambda m: m.tensor(5.).logsumexp(0), lambda m: m.tensor(5.).cumsum(0),
    lambda m: m.tensor(5).cumsum(0), lambda m: m.tensor(5.).prod(0),
    lambda m: m.tensor(5.).amax(0),
    lambda m: m.tensor(5.).argmax(0), lambda m: m.tensor(5.).norm(dim=0),
    lambda m: m.tensor(5.).sum(0, keepdim=True), lambda m: m.zeros(0, 3).argmax(1),
])
def test_zero_dim_and_empty(call):
    _same(call(tg), call(torch))


@pytest.mark.parametrize("call", [
    lambda m: m.zeros(0).argmax(), lambda m: m.zeros(0).argmin(),
    lambda m: m.zeros(0, 3).argmax(0),
    lambda m: m.zeros(0).max(), lambda m: m.zeros(0, 3).max(0),
    lambda m: m.tensor(5.).sum(1),
])
def test_empty_reduction_errors(call):
    _raises_like(call)


def test_mode_with_nan_does_not_crash():
    # PyTorch's own answer with NaN depends on its sort (see stats.mode): check only the cases
    # where it is well defined, and that the others return a value of the slice
    for data in ([nan], [1., nan, nan], [nan, nan, 1., 1., 1.], [1., 2., nan]):
        a, b = tg.mode(tg.tensor(data), 0), torch.mode(torch.tensor(data), 0)
        _same(a.values, b.values)
        _same(a.indices, b.indices)
    out = tg.mode(tg.tensor([nan, nan, 1.]), 0)
    assert out.values.item() == 1.0 and out.indices.item() == 2


# ---- 7. creation: raise where NumPy would wrap ----------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda m: m.tensor(2**63), lambda m: m.tensor([2**63]), lambda m: m.tensor([2**64]),
    lambda m: m.tensor([-2**63 - 1]), lambda m: m.tensor([300], dtype=m.uint8),
    lambda m: m.tensor(300, dtype=m.uint8), lambda m: m.tensor([300.], dtype=m.uint8),
    lambda m: m.tensor([nan], dtype=m.int64), lambda m: m.tensor([2**31], dtype=m.int32),
    lambda m: m.tensor([[1, 2], [3]]),
    lambda m: m.full((2,), nan, dtype=m.int64), lambda m: m.full((2,), inf, dtype=m.int32),
    lambda m: m.full((2,), 300, dtype=m.uint8), lambda m: m.full((2,), 2**63),
    lambda m: m.full((2,), 1e40), lambda m: m.full((2,), None), lambda m: m.full((2,), "a"),
    lambda m: m.full((2,), m.tensor([3])),
    lambda m: m.rand(3, dtype=m.int64), lambda m: m.randn(3, dtype=m.int32),
    lambda m: m.rand_like(m.ones(2, dtype=m.int32)),
    lambda m: m.randn_like(m.ones(2, dtype=m.int64)),
    lambda m: m.randint(0, 300, (3,), dtype=m.uint8),
    lambda m: m.randint(0, 2**40, (3,), dtype=m.int32),
    lambda m: m.randint(-1, 5, (3,), dtype=m.uint8), lambda m: m.randint(0, 5, (3,), dtype=m.bool),
    lambda m: m.randint(5, 3, (2,)),
    lambda m: m.arange(0, 10, -1), lambda m: m.arange(1, 0), lambda m: m.arange(0, 10, 0),
    lambda m: m.linspace(0, 1, -1), lambda m: m.logspace(0, 1, -1),
    lambda m: m.zeros(-1), lambda m: m.ones(2, -3), lambda m: m.empty(-1),
    lambda m: m.eye(-1), lambda m: m.eye(2, -1),
])
def test_creation_raises_like_pytorch(call):
    _raises_like(call)


def test_creation_errors_read_clearly():
    with pytest.raises(ValueError, match="Overflow when unpacking long long"):
        tg.tensor([2**63])
    with pytest.raises(ValueError, match=r"expected sequence of length 2 at dim 1 \(got 1\)"):
        tg.tensor([[1, 2], [3]])
    with pytest.raises(RuntimeError, match="uint8 without overflow"):
        tg.tensor([300], dtype=tg.uint8)
    with pytest.raises(RuntimeError, match="upper bound and lower bound inconsistent"):
        tg.arange(0, 10, -1)
    with pytest.raises(RuntimeError, match="to - 1 is out of bounds for unsigned char"):
        tg.randint(0, 300, (3,), dtype=tg.uint8)
    with pytest.raises(IndexError, match="Expected reduction dim to be specified"):
        tg.zeros(0).argmax()
    for bad in (["a"], "a", [None], np.array([1, 2], dtype=np.uint16), 1 + 2j):
        with pytest.raises(TypeError):          # at creation, not at the first .dtype
            tg.tensor(bad)


@pytest.mark.parametrize("call", [
    lambda m: m.tensor([-1], dtype=m.uint8), lambda m: m.tensor([1.5, -2.7], dtype=m.int64),
    lambda m: m.tensor([2, 0], dtype=m.bool),
    lambda m: m.tensor([2**63], dtype=m.float32),
    lambda m: m.tensor(np.array([300]), dtype=m.uint8),
    lambda m: m.tensor([[1, 2], [3, 4]]), lambda m: m.tensor([]), lambda m: m.tensor(True),
    lambda m: m.full((2,), -1, dtype=m.uint8), lambda m: m.full((2,), 1.5, dtype=m.int64),
    lambda m: m.full((2,), nan, dtype=m.bool), lambda m: m.full((2,), m.tensor(3)),
    lambda m: m.full((2,), m.tensor(3, dtype=m.int32)), lambda m: m.full((2,), m.tensor(3.5)),
    lambda m: m.full((2,), m.tensor(True)), lambda m: m.full((2,), np.int32(1)),
    lambda m: m.full((2,), np.float64(1.5)), lambda m: m.full((2,), inf),
    lambda m: m.arange(m.tensor(5)), lambda m: m.arange(m.tensor(1), 7, m.tensor(2)),
    lambda m: m.arange(1, 1), lambda m: m.arange(5, 0, -2), lambda m: m.linspace(0, 1, 0),
    lambda m: m.zeros(0, 3), lambda m: m.eye(0),
])
def test_creation_values_and_dtypes(call):
    _same(call(tg), call(torch))


# ---- 9. randint's (high, size) form, generator= on rand and randn --------------------------------
def test_randint_forms():
    assert tg.randint(10, (3,)).shape == (3,) and tg.randint(10, (3,)).dtype == tg.int64
    assert tg.randint(10, (0,)).shape == (0,)
    assert tg.randint(10, size=(2, 2)).shape == (2, 2)
    values = tg.randint(250, 256, (50,), dtype=tg.uint8)
    assert values.dtype == tg.uint8 and int(values.min()) >= 250
    g, h = tg.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert tg.randint(10, (6,), generator=g).tolist() == \
        torch.randint(10, (6,), generator=h).tolist()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rand_with_generator_is_pytorchs(dtype):
    g, h = tg.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    a = tg.rand(2, 3, generator=g, dtype=getattr(tg, dtype))
    b = torch.rand(2, 3, generator=h, dtype=getattr(torch, dtype))
    _same(a, b, rtol=0)


def test_randn_with_generator_is_reproducible():
    a = tg.randn(1000, generator=tg.Generator().manual_seed(1), requires_grad=True)
    b = tg.randn(1000, generator=tg.Generator().manual_seed(1))
    assert a.requires_grad and a.dtype == tg.float32 and a.shape == (1000,)
    assert a.tolist() == b.tolist()
    assert abs(float(a.mean())) < 0.15 and math.isclose(float(a.std()), 1.0, abs_tol=0.1)
