"""tg.special's Bessel / Airy functions, orthogonal polynomials, erfcx, log_ndtr, gammainc /
gammaincc and zeta against torch.special: values on grids with the edges (0, -0, negative,
large, inf, NaN), float32 and float64, the result dtype (integer and bool inputs, promotion of
two arguments), broadcasting, gradients against torch's autograd and finite differences (float64),
and torch's exception types."""
from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg
import tinygen.special as ts
from helpers import assert_close, check_op

torch = pytest.importorskip("torch")

INF, NAN = np.inf, np.nan
GRID = np.array([-INF, -50.0, -10.0, -2.5, -1.0, -1e-3, -0.0, 0.0, 1e-3, 0.5, 1.0, 2.5, 5.0,
                 8.0, 10.0, 50.0, 100.0, 700.0, 710.0, INF, NAN])
DIFFERENTIABLE = ["i0", "i0e", "i1", "i1e", "erfcx", "log_ndtr"]
NO_GRAD = ["airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0",
           "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
           "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "spherical_bessel_j0"]
UNARY = DIFFERENTIABLE + NO_GRAD
OSCILLATING = {"airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1"}
# PyTorch's float64 kernels for these are rational approximations good to ~1e-6 (airy_ai near
# -2.5) or ~1e-7 (the Bessel J and Y near 5); tinygen's values are SciPy's
RTOL64 = {"airy_ai": 1e-5, "bessel_j0": 1e-6, "bessel_j1": 1e-6, "bessel_y0": 1e-6,
          "bessel_y1": 1e-6}
POLYNOMIALS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
               "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
               "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
               "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
               "laguerre_polynomial_l", "legendre_polynomial_p"]
# torch's kernels for these read an uninitialised value for NaN x and n >= 2 (tinygen: NaN)
UNINITIALISED_AT_NAN = {"chebyshev_polynomial_u", "chebyshev_polynomial_v",
                        "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
                        "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
                        "shifted_chebyshev_polynomial_w", "hermite_polynomial_he",
                        "laguerre_polynomial_l", "legendre_polynomial_p"}
TORCH_DTYPES = {tg.float32: torch.float32, tg.float64: torch.float64, tg.float16: torch.float16}


def _values_match(actual, expected, rtol, atol=0.0):
    """Same dtype, same NaN and inf positions, values within rtol / atol."""
    assert str(actual.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    a, e = actual.detach().numpy(), expected.detach().numpy()
    np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol,
                               equal_nan=True)


# ---- names ------------------------------------------------------------------------------------
def test_every_function_of_torch_special_is_in_tg_special():
    names = {n for n in dir(torch.special) if not n.startswith("_")
             and callable(getattr(torch.special, n)) and n != "Tensor"}
    assert sorted(n for n in names if not hasattr(ts, n)) == []


def test_top_level_aliases_match_torch():
    x = np.array([-3.0, 0.0, 0.5, 7.0])
    a, b = np.array([0.5, 1.0, 2.0, 9.0]), np.array([0.1, 1.0, 3.0, 4.0])
    _values_match(tg.i0(tg.tensor(x)), torch.i0(torch.tensor(x)), 1e-12)
    _values_match(tg.igamma(tg.tensor(a), tg.tensor(b)),
                  torch.igamma(torch.tensor(a), torch.tensor(b)), 1e-12)
    _values_match(tg.igammac(tg.tensor(a), tg.tensor(b)),
                  torch.igammac(torch.tensor(a), torch.tensor(b)), 1e-12)


# ---- unary functions: values, dtypes, errors ----------------------------------------------------
@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_values_on_the_edges_match_torch(name, dtype):
    grid = GRID
    if name == "airy_ai":       # its cut-off at 103.892; far left (float32's phase is noise)
        far = [-1e3, -1e8] if dtype == np.float64 else []          # -1e8: where SciPy's is NaN
        grid = np.concatenate([grid, [103.8, 103.95, 1e3] + far])
    x = grid.astype(dtype)
    got = getattr(ts, name)(tg.tensor(x))
    want = getattr(torch.special, name)(torch.tensor(x))
    if dtype == np.float32:
        atol = 1e-6 if name in OSCILLATING else 0.0
        _values_match(got, want, 2e-5, atol)
    else:                       # (airy_ai(103.8): PyTorch 5.7e-308, SciPy's underflows to 0)
        _values_match(got, want, RTOL64.get(name, 1e-9), 1e-300)


@pytest.mark.parametrize("name", UNARY)
def test_unary_integer_and_bool_inputs_take_the_default_float_dtype(name):
    fn, ref = getattr(ts, name), getattr(torch.special, name)
    for data in (np.array([0, 1, 3, -2]), np.array([True, False]),
                 np.array([0, 2, 200], np.uint8)):
        got, want = fn(tg.tensor(data)), ref(torch.tensor(data))
        assert got.dtype == tg.float32         # (float32 J and Y at 200: PyTorch's to ~1e-5)
        _values_match(got, want, 1e-5, 1e-6)
    tg.set_default_dtype(tg.float64)
    torch_default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        got, want = fn(tg.tensor([1, 2, 5])), ref(torch.tensor([1, 2, 5]))
        assert got.dtype == tg.float64 and want.dtype == torch.float64
        _values_match(got, want, RTOL64.get(name, 1e-9))
    finally:
        torch.set_default_dtype(torch_default)


@pytest.mark.parametrize("name", UNARY)
def test_float16_as_torch_computes_or_refuses(name):
    x = np.array([-2.0, 0.0, 0.5, 3.0], dtype=np.float16)
    try:
        want = getattr(torch.special, name)(torch.tensor(x))
    except NotImplementedError:
        with pytest.raises(NotImplementedError, match=name):
            getattr(ts, name)(tg.tensor(x))
        return
    got = getattr(ts, name)(tg.tensor(x))
    assert got.dtype == tg.float16
    _values_match(got, want, 2e-3)


@pytest.mark.parametrize("name", UNARY)
def test_a_number_instead_of_a_tensor_is_a_type_error(name):
    with pytest.raises(TypeError):
        getattr(torch.special, name)(0.5)
    with pytest.raises(TypeError, match=name):
        getattr(ts, name)(0.5)


@pytest.mark.parametrize("name", NO_GRAD)
def test_functions_without_gradient_as_torch(name):
    x = np.array([0.3, 1.7, 4.0])
    t = torch.tensor(x, requires_grad=True)
    g = tg.tensor(x, requires_grad=True)
    want, got = getattr(torch.special, name)(t), getattr(ts, name)(g)
    assert want.requires_grad is False and got.requires_grad is False
    assert got.grad_fn is None
    _values_match(got, want, RTOL64.get(name, 1e-9))


def test_shapes_are_kept_empty_and_zero_dim_included():
    for shape in ((), (0,), (2, 0, 3), (2, 3)):
        x = np.full(shape, 0.75)
        for name in ("i0e", "bessel_y1", "spherical_bessel_j0"):
            got = getattr(ts, name)(tg.tensor(x))
            want = getattr(torch.special, name)(torch.tensor(x))
            assert tuple(got.shape) == tuple(want.shape) == shape
            _values_match(got, want, 1e-6)


# ---- unary gradients ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_unary_gradients_match_torch_first_and_second(name):
    x = np.array([-30.0, -5.0, -1.5, -0.3, 0.0, 1e-20, 0.3, 1.5, 5.0, 30.0])
    fn, ref = getattr(ts, name), getattr(torch.special, name)
    check_op(fn, ref, [x], rtol=1e-8, atol=1e-12, gradcheck=False)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_unary_gradients_against_finite_differences(name):
    x = np.array([-2.3, -0.7, 0.4, 1.9, 3.2])
    check_op(getattr(ts, name), getattr(torch.special, name), [x], rtol=1e-8, atol=1e-12)
    g = tg.tensor(x, requires_grad=True)
    assert tg.autograd.gradcheck(getattr(ts, name), (g,), atol=1e-6, rtol=1e-4)
    assert tg.autograd.gradgradcheck(getattr(ts, name), (g,), atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("name", ["i1", "i1e"])
def test_i1_slope_at_zero_is_one_half(name):
    x = tg.tensor([0.0, -0.0], requires_grad=True)
    getattr(ts, name)(x).sum().backward()
    assert x.grad.tolist() == [0.5, 0.5]


def test_i0_gradient_is_i1():
    x = tg.tensor([-2.0, 0.5, 4.0], dtype=tg.float64, requires_grad=True)
    ts.i0(x).sum().backward()
    assert_close(x.grad, ts.i1(x.detach()), rtol=1e-14)


# ---- orthogonal polynomials ---------------------------------------------------------------------
POLY_X = np.array([-3.0, -2.0, -1.0, -0.9999, -0.7, -0.5, -0.0, 0.0, 1e-9, 0.2, 0.25, 0.5,
                   0.75, 0.9, 1.0, 1.0001, 1.5, 2.0, 10.0, INF, -INF, NAN])
POLY_N = np.array([-5, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 30, 100, 127, 128, 129, 200,
                   511, 512, 513])


@pytest.mark.parametrize("name", POLYNOMIALS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_polynomial_values_on_a_grid_match_torch(name, dtype):
    x, n = np.meshgrid(POLY_X.astype(dtype), POLY_N, indexing="ij")
    if dtype == np.float32:          # float32 trig forms at degree 500 lose digits on both sides
        keep = n <= 200
        x, n = x[keep], n[keep]
    got = getattr(ts, name)(tg.tensor(x), tg.tensor(n))
    want = getattr(torch.special, name)(torch.tensor(x), torch.tensor(n))
    assert got.dtype == (tg.float32 if dtype == np.float32 else tg.float64)
    assert want.dtype == TORCH_DTYPES[got.dtype]
    a, e = got.numpy(), want.numpy().copy()
    if name in UNINITIALISED_AT_NAN:
        e[np.isnan(x) & (n >= 2)] = np.nan
    rtol, atol = (1e-3, 1e-4) if dtype == np.float32 else (1e-8, 1e-10)
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomial_degree_as_a_number_float_or_odd_value(name):
    fn, ref = getattr(ts, name), getattr(torch.special, name)
    x = np.array([-1.5, -1.0, -0.3, 0.0, 0.4, 1.0, 2.0])
    for n in (3, 0, -2, 2.7, -0.5, True, 1e30, float("nan"), float("inf")):
        _values_match(fn(tg.tensor(x), n), ref(torch.tensor(x), n), 1e-12, 1e-12)
    for n in (np.nan, -np.inf, 4.9, -3.2):               # a floating degree tensor, truncated
        _values_match(fn(tg.tensor(x), tg.tensor([n])), ref(torch.tensor(x), torch.tensor([n])),
                      1e-12, 1e-12)


@pytest.mark.parametrize("name", ["chebyshev_polynomial_t", "hermite_polynomial_h",
                                  "laguerre_polynomial_l", "shifted_chebyshev_polynomial_w"])
def test_polynomial_dtype_promotion_matches_torch(name):
    fn, ref = getattr(ts, name), getattr(torch.special, name)
    f32, f64 = np.array([0.3, 2.0], np.float32), np.array([0.3, 2.0])
    i64, b = np.array([0, 2]), np.array([True, False])
    cases = [(f32, 3), (f32, 3.0), (i64, 3), (i64, 3.5), (f32, np.array(3)),
             (f32, np.array([3, 4])), (f32, np.array(3.0)), (f32, np.array([3.0, 4.0])),
             (i64, np.array([3, 4])), (0.3, np.array([3, 4])), (0.3, np.array([3.0, 4.0])),
             (2, np.array([3, 4])), (f64, 3), (b, 2), (f32, True), (b, np.array([True, True]))]
    for x, n in cases:
        def make(lib, v):
            return lib.tensor(v) if isinstance(v, np.ndarray) else v
        got, want = fn(make(tg, x), make(tg, n)), ref(make(torch, x), make(torch, n))
        _values_match(got, want, 1e-6, 1e-6)


def test_polynomial_broadcasting_and_errors():
    x = np.linspace(-1.2, 1.2, 3).reshape(3, 1)
    n = np.array([0, 1, 5, 11])
    got = ts.chebyshev_polynomial_u(tg.tensor(x), tg.tensor(n))
    want = torch.special.chebyshev_polynomial_u(torch.tensor(x), torch.tensor(n))
    assert tuple(got.shape) == (3, 4)
    _values_match(got, want, 1e-12, 1e-12)
    got = ts.legendre_polynomial_p(0.5, tg.tensor(n))       # a number x, a tensor n
    _values_match(got, torch.special.legendre_polynomial_p(0.5, torch.tensor(n)), 1e-6)
    with pytest.raises(RuntimeError):
        torch.special.chebyshev_polynomial_t(torch.rand(3), torch.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="chebyshev_polynomial_t"):
        ts.chebyshev_polynomial_t(tg.rand(3), tg.tensor([1, 2]))
    with pytest.raises(TypeError):
        torch.special.chebyshev_polynomial_t(0.3, 3)
    with pytest.raises(TypeError, match="chebyshev_polynomial_t"):
        ts.chebyshev_polynomial_t(0.3, 3)
    with pytest.raises(TypeError):
        ts.chebyshev_polynomial_t(tg.rand(3), "a")
    with pytest.raises(NotImplementedError):
        torch.special.hermite_polynomial_h(torch.rand(3, dtype=torch.float16), 2)
    with pytest.raises(NotImplementedError, match="hermite_polynomial_h"):
        ts.hermite_polynomial_h(tg.rand(3, dtype=tg.float16), 2)


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomials_have_no_gradient_as_torch(name):
    x = np.array([0.2, 0.6])
    n = np.array([3.0, 4.0])
    got = getattr(ts, name)(tg.tensor(x, requires_grad=True), tg.tensor(n, requires_grad=True))
    want = getattr(torch.special, name)(torch.tensor(x, requires_grad=True),
                                        torch.tensor(n, requires_grad=True))
    assert got.requires_grad is False and want.requires_grad is False
    _values_match(got, want, 1e-12)


def test_polynomial_identities():
    x = tg.tensor(np.linspace(-0.95, 0.95, 9))
    theta = np.arccos(x.numpy())
    assert_close(ts.chebyshev_polynomial_t(x, 9), np.cos(9 * theta), rtol=1e-10, atol=1e-12)
    assert_close(ts.shifted_chebyshev_polynomial_t((x + 1) / 2, 4),
                 ts.chebyshev_polynomial_t(x, 4), rtol=1e-10, atol=1e-12)
    # H_n(x) = 2^(n/2) He_n(sqrt(2) x)
    assert_close(ts.hermite_polynomial_h(x, 5),
                 2 ** 2.5 * ts.hermite_polynomial_he(x * np.sqrt(2), 5).numpy(), rtol=1e-10,
                 atol=1e-10)


# ---- gammainc / gammaincc -----------------------------------------------------------------------
EDGES = np.array([-INF, -2.0, -1.0, -0.5, -0.0, 0.0, 1e-3, 0.5, 1.0, 1.5, 2.0, 3.0, 10.0, 100.0,
                  1e5, INF, NAN])


@pytest.mark.parametrize("name", ["gammainc", "gammaincc", "zeta"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_two_argument_values_on_the_edges_match_torch(name, dtype):
    a, x = (v.astype(dtype) for v in np.meshgrid(EDGES, EDGES, indexing="ij"))
    got = getattr(ts, name)(tg.tensor(a), tg.tensor(x))
    want = getattr(torch.special, name)(torch.tensor(a), torch.tensor(x))
    # float32: PyTorch's own series are good to ~1e-4 there; its subnormals flush to 0
    _values_match(got, want, *((2e-4, 1e-37) if dtype == np.float32 else (1e-9, 0.0)))


def test_incomplete_gamma_functions_add_to_one():
    a = tg.tensor(np.array([[0.3], [1.0], [4.5], [60.0]]))
    x = tg.tensor(np.array([0.01, 0.9, 5.0, 70.0]))
    total = ts.gammainc(a, x) + ts.gammaincc(a, x)
    assert tuple(total.shape) == (4, 4)
    assert_close(total, np.ones((4, 4)), rtol=1e-12)


@pytest.mark.parametrize("name", ["gammainc", "gammaincc"])
def test_incomplete_gamma_dtypes_and_errors_as_torch(name):
    fn, ref = getattr(ts, name), getattr(torch.special, name)
    f32, i64 = np.array([1.5, 2.0], np.float32), np.array([1, 2])
    for a, x in ((f32, f32.astype(np.float64)), (i64, f32), (f32, np.array(2.0)),
                 (np.array(2.0), i64), (f32, f32.astype(np.float16)),
                 (f32.astype(np.float16), f32.astype(np.float16))):
        got = fn(tg.tensor(a), tg.tensor(x))
        want = ref(torch.tensor(a), torch.tensor(x))
        _values_match(got, want, 2e-3)
    for a, x in ((i64, i64), (np.array([True]), np.array([False]))):
        with pytest.raises(NotImplementedError):
            ref(torch.tensor(a), torch.tensor(x))
        with pytest.raises(NotImplementedError):
            fn(tg.tensor(a), tg.tensor(x))
    for a, x in ((tg.tensor(f32), 2.0), (2, tg.tensor(f32))):
        with pytest.raises(TypeError):
            ref(torch.tensor(f32) if isinstance(a, tg.Tensor) else a,
                torch.tensor(f32) if isinstance(x, tg.Tensor) else x)
        with pytest.raises(TypeError, match="Tensor"):
            fn(a, x)
    with pytest.raises(RuntimeError, match="broadcast"):
        fn(tg.rand(3), tg.rand(2))


@pytest.mark.parametrize("name", ["gammainc", "gammaincc"])
def test_incomplete_gamma_gradient_in_x_matches_torch(name):
    a = np.array([[0.5], [1.5], [4.0]])
    x = np.array([0.2, 1.0, 3.0, 10.0])
    fn, ref = getattr(ts, name), getattr(torch.special, name)
    tg_in, _ = check_op(fn, ref, [a, x], requires_grad=[False, True], rtol=1e-8, atol=1e-12)
    g = tg.tensor(x, requires_grad=True)
    assert tg.autograd.gradcheck(lambda v: fn(tg.tensor(a), v), (g,), atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("name, op", [("gammainc", "igamma"), ("gammaincc", "igammac")])
def test_incomplete_gamma_gradient_in_a_is_not_implemented(name, op):
    a, x = np.array([1.5, 2.0]), np.array([0.7, 3.0])
    with pytest.raises(NotImplementedError, match=op):
        getattr(torch.special, name)(torch.tensor(a, requires_grad=True),
                                     torch.tensor(x)).sum().backward()
    with pytest.raises(NotImplementedError, match=f"'{op}: input' is not implemented"):
        getattr(ts, name)(tg.tensor(a, requires_grad=True), tg.tensor(x)).sum().backward()


@pytest.mark.parametrize("name", ["gammainc", "gammaincc", "zeta"])
def test_gradient_in_the_second_argument_alone_while_the_first_requires_grad(name):
    # torch's engine asks a formula only for the gradients it needs: autograd.grad for the
    # second argument (and backward(inputs=...)) works while the first requires grad; tinygen
    # tells the op by Function.needs_input_grad. Asked for both, both raise
    first, second = np.array([1.5, 2.0, 3.0]), np.array([0.7, 3.0, 1.2])
    got = []
    for lib in (tg, torch):
        a = lib.tensor(first, requires_grad=True)
        x = lib.tensor(second, requires_grad=True)
        fn = getattr(lib.special, name)
        (g,) = lib.autograd.grad(fn(a, x).sum(), x)
        fn(a, x).sum().backward(inputs=[x])
        assert a.grad is None
        np.testing.assert_allclose(x.grad.numpy(), g.numpy(), rtol=1e-12)
        got.append(g.numpy())
        with pytest.raises(NotImplementedError):
            lib.autograd.grad(fn(a, x).sum(), [a, x])
        y = fn(a, x).sum()           # the mask is the pass's: a later backward wants a's again
        lib.autograd.grad(y, x, retain_graph=True)
        with pytest.raises(NotImplementedError):
            y.backward()
    np.testing.assert_allclose(got[0], got[1], rtol=1e-8)


# ---- zeta ---------------------------------------------------------------------------------------
def test_zeta_numbers_dtypes_and_broadcasting_as_torch():
    f32, i64 = np.array([1.5, 2.0, 4.0], np.float32), np.array([1, 2, 3])
    cases = [(f32, f32.astype(np.float64)), (i64, i64), (i64, f32), (f32, np.array(2.0)),
             (np.array([True, False, True]), np.array([True, True, True])), (f32, 2), (f32, 2.5),
             (2, f32), (2.5, i64), (i64, 2), (i64, 2.5), (np.array([[2.0], [3.0]]), f32)]
    for x, q in cases:
        def make(lib, v):
            return lib.tensor(v) if isinstance(v, np.ndarray) else v
        got, want = ts.zeta(make(tg, x), make(tg, q)), torch.special.zeta(make(torch, x),
                                                                           make(torch, q))
        assert tuple(got.shape) == tuple(want.shape)
        _values_match(got, want, 1e-6)
    with pytest.raises(NotImplementedError):
        torch.special.zeta(torch.ones(2, dtype=torch.float16), torch.ones(2, dtype=torch.float16))
    with pytest.raises(NotImplementedError, match="zeta"):
        ts.zeta(tg.ones(2, dtype=tg.float16), tg.ones(2, dtype=tg.float16))
    with pytest.raises(TypeError, match="zeta"):
        ts.zeta(2.0, 3.0)
    with pytest.raises(RuntimeError, match="zeta"):
        ts.zeta(tg.rand(3) + 2, tg.rand(2))


def test_zeta_gradient_in_q_matches_torch_and_finite_differences():
    x = np.array([2.0, 3.5])
    q = np.array([[0.5], [2.0], [7.0]])
    check_op(ts.zeta, torch.special.zeta, [x, q], requires_grad=[False, True], rtol=1e-8,
             atol=1e-12)
    g = tg.tensor(np.array([0.7, 1.9, 4.2]), requires_grad=True)
    assert tg.autograd.gradcheck(lambda v: ts.zeta(3.0, v), (g,), atol=1e-6, rtol=1e-4)
    assert tg.autograd.gradgradcheck(lambda v: ts.zeta(3.0, v), (g,), atol=1e-6, rtol=1e-4)


def test_zeta_gradient_in_x_is_not_implemented():
    x, q = np.array([2.0, 3.5]), np.array([0.5, 2.0])
    with pytest.raises(NotImplementedError, match="zeta"):
        torch.special.zeta(torch.tensor(x, requires_grad=True), torch.tensor(q)).sum().backward()
    with pytest.raises(NotImplementedError, match="'zeta' is not implemented"):
        ts.zeta(tg.tensor(x, requires_grad=True), tg.tensor(q)).sum().backward()


# ---- float32 gradients keep their dtype ---------------------------------------------------------
@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_float32_gradients_keep_float32(name):
    x = np.array([-1.2, 0.4, 2.5], np.float32)
    g, t = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    getattr(ts, name)(g).sum().backward()
    getattr(torch.special, name)(t).sum().backward()
    assert g.grad.dtype == tg.float32
    _values_match(g.grad, t.grad, 1e-5)


# ---- the test device: results stay on their input's device --------------------------------------
def test_results_and_gradients_stay_on_the_test_device():
    x = tg.tensor([0.25, 0.5, 2.0], dtype=tg.float64, device="test")
    for name in UNARY:
        got = getattr(ts, name)(x)
        assert str(got.device) == "test", name
        _values_match(got.cpu(), getattr(torch.special, name)(torch.tensor(x.cpu().numpy())),
                      RTOL64.get(name, 1e-9))
    for name in POLYNOMIALS:
        assert str(getattr(ts, name)(x, tg.tensor([1, 3, 9], device="test")).device) == "test"
        assert str(getattr(ts, name)(x, 4).device) == "test"
    for name in ("gammainc", "gammaincc", "zeta"):
        assert str(getattr(ts, name)(x + 1, x).device) == "test"
    xr = tg.tensor([0.25, 0.5, 2.0], dtype=tg.float64, device="test", requires_grad=True)
    for name in DIFFERENTIABLE:
        (g,) = tg.autograd.grad(getattr(ts, name)(xr).sum(), xr)
        assert str(g.device) == "test", name
    (g,) = tg.autograd.grad(ts.gammainc(xr.detach() + 1, xr).sum(), xr)
    assert str(g.device) == "test"


# ---- the Tensor methods and in-place twins torch has for i0, igamma, igammac --------------------
def test_tensor_methods_and_in_place_twins_match_torch():
    x = np.array([0.5, 1.0, 2.5, 4.0, -3.0])
    a = np.array([1.0, 2.0, 0.5, 3.0, 1.5])
    xp = np.abs(x)
    np.testing.assert_allclose(tg.tensor(x).i0().numpy(), torch.tensor(x).i0().numpy(),
                               rtol=1e-12)
    for name in ("igamma", "igammac"):
        got = getattr(tg.tensor(a), name)(tg.tensor(xp)).numpy()
        want = getattr(torch.tensor(a), name)(torch.tensor(xp)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-10)
        t, u = tg.tensor(a.copy()), torch.tensor(a.copy())
        assert getattr(t, name + "_")(tg.tensor(xp)) is t
        getattr(u, name + "_")(torch.tensor(xp))
        np.testing.assert_allclose(t.numpy(), u.numpy(), rtol=1e-10)
    t, u = tg.tensor(x.copy()), torch.tensor(x.copy())
    assert tg.i0_(t) is t
    torch.i0_(u)
    np.testing.assert_allclose(t.numpy(), u.numpy(), rtol=1e-12)
    # through the graph: the in-place twin of a non-leaf carries i0's gradient
    w, v = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (w * 1.0).i0_().sum().backward()
    (v * 1.0).i0_().sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), v.grad.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="leaf"):
        tg.tensor(x, requires_grad=True).i0_()
