"""torch.* names added by the top-level coverage pass (numerics.py, factories.py, windows.py,
switches.py, aten.py), each against PyTorch on the same inputs: values, dtypes, shapes, gradients
(autograd against autograd) and the exception types of bad input."""
import warnings

import numpy as np
import pytest

import tinygen as tg

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


# ---- helpers -------------------------------------------------------------------------------------
def _name(dtype):
    return str(dtype).split(".")[-1]


def _flat(out):
    """Tensors of a (nested) output, in order."""
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in _flat(item)]
    return [out]


def assert_same(ours, theirs, rtol=1e-5, atol=1e-6):
    """Equal values, shapes and dtypes of tinygen's and torch's (nested) outputs."""
    ours, theirs = _flat(ours), _flat(theirs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert isinstance(a, tg.Tensor), type(a)
        assert _name(a.dtype) == _name(b.dtype), (a.dtype, b.dtype)
        assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)


def both(array, requires_grad=False):
    """The same data as a tinygen and a torch tensor."""
    array = np.asarray(array)
    return (tg.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


def check(fn, *arrays, grad=True, rtol=1e-5, atol=1e-6, constants=()):
    """fn(lib, *tensors) run with tinygen and torch: outputs equal; with grad, the gradients of
    a random weighted sum of the floating outputs equal too (for the floating inputs, but those
    whose positions are in `constants`)."""
    pairs = [both(a, grad and k not in constants and np.asarray(a).dtype.kind == "f")
             for k, a in enumerate(arrays)]
    ours = fn(tg, *[p[0] for p in pairs])
    theirs = fn(torch, *[p[1] for p in pairs])
    assert_same(ours, theirs, rtol, atol)
    if not grad:
        return ours, theirs
    outs = [(a, b) for a, b in zip(_flat(ours), _flat(theirs)) if b.requires_grad]
    assert outs, "no differentiable output"
    weights = [RNG.standard_normal(b.shape) for _, b in outs]
    sum(((a * tg.tensor(w, dtype=a.dtype)).sum() for (a, _), w in zip(outs, weights))).backward()
    sum(((b * torch.tensor(w, dtype=b.dtype)).sum() for (_, b), w in zip(outs, weights))).backward()
    for ours_in, theirs_in in pairs:
        if theirs_in.requires_grad:
            assert ours_in.grad is not None
            np.testing.assert_allclose(ours_in.grad.numpy(), theirs_in.grad.numpy(), rtol=rtol,
                                       atol=max(atol, 1e-6))
    return ours, theirs


def raises_like(fn, exception):
    """fn(torch) and fn(tg) both raise `exception`."""
    with pytest.raises(exception):
        fn(torch)
    with pytest.raises(exception):
        fn(tg)


F32 = np.float32
F64 = np.float64


# ---- concatenate, result_type, can_cast ----------------------------------------------------------
def test_concatenate_is_cat_with_axis_or_dim():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((1, 3))
    check(lambda lib, x, y: lib.concatenate([x, y]), a, b)
    check(lambda lib, x, y: lib.concatenate([x, y], axis=1), a, RNG.standard_normal((2, 1)))
    check(lambda lib, x: lib.concatenate([x, x], dim=-1), a)


RESULT_TYPE_CASES = [
    (("t", [1, 2], "int64"), 1.0), (("t", [1, 2], "int64"), ("s", 1.0, "float32")),
    (("t", [1, 2], "int32"), ("s", 1, "int64")), (("t", [1, 2], "int32"), ("t", [1], "int64")),
    (("s", 1, "int32"), ("s", 1, "int64")), (("s", 1, "int32"), 1), (1, 2.0), (1, 2),
    (True, False), (True, ("t", [1], "uint8")), (2, ("t", [1], "uint8")),
    (("t", [1], "float16"), 2.0), (("t", [1], "float16"), ("s", 2.0, "float64")),
    (("t", [True], "bool"), ("s", 2, "int64")), (("t", [True], "bool"), 2.5),
    (("t", [1], "uint8"), ("t", [1], "int8")), (np.float64(1.0), ("t", [1.0], "float32")),
    (("t", [1.0], "float64"), ("t", [1], "int64")),
]


def _operand(lib, spec):
    if isinstance(spec, tuple):
        _, data, dtype = spec                   # ("t", list, dtype) or ("s", number, dtype): 0-d
        return lib.tensor(data, dtype=getattr(lib, dtype))
    return spec


@pytest.mark.parametrize("a, b", RESULT_TYPE_CASES)
def test_result_type_matches_torch(a, b):
    ours = tg.result_type(_operand(tg, a), _operand(tg, b))
    theirs = torch.result_type(_operand(torch, a), _operand(torch, b))
    assert isinstance(ours, tg.dtype)
    assert _name(ours) == _name(theirs)


def test_result_type_refuses_non_numbers():
    raises_like(lambda lib: lib.result_type(lib.tensor([1.0]), "a"), TypeError)


DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def test_can_cast_matches_torch_for_every_pair():
    for a in DTYPES:
        for b in DTYPES:
            assert tg.can_cast(getattr(tg, a), getattr(tg, b)) == \
                torch.can_cast(getattr(torch, a), getattr(torch, b)), (a, b)


def test_can_cast_wants_dtypes():
    raises_like(lambda lib: lib.can_cast(lib.tensor([1.0]), lib.bool), TypeError)
    raises_like(lambda lib: lib.can_cast(1, lib.bool), TypeError)


# ---- fill, rsub ----------------------------------------------------------------------------------
@pytest.mark.parametrize("data, value", [([1.5, 2.5], 3.0), ([1, 2], 2.7), ([True, False], 2),
                                         ([[1, 2]], -4), ([1.0], float("inf"))])
def test_fill_values_and_dtypes(data, value):
    check(lambda lib, x: lib.fill(x, value), np.array(data), grad=False)


def test_fill_with_a_0d_tensor_and_its_gradient():
    check(lambda lib, x, v: lib.fill(x, v), RNG.standard_normal((2, 3)), np.array(1.5))
    check(lambda lib, x, v: lib.fill(x, v), np.array([1, 2]), np.array(3.5), grad=False)


def test_fill_errors():
    raises_like(lambda lib: lib.fill(lib.tensor([1.0, 2.0]), lib.tensor([3.0])), RuntimeError)
    raises_like(lambda lib: lib.fill(lib.tensor([1, 2]), 1e20), RuntimeError)
    raises_like(lambda lib: lib.fill(lib.tensor([1.0, 2.0]), 1e40), RuntimeError)


@pytest.mark.parametrize("other, alpha", [(5, 1), (5, 2), (5.5, 1), (-2.5, 3)])
def test_rsub_with_a_number(other, alpha):
    check(lambda lib, x: lib.rsub(x, other, alpha), np.array([1, 2, 7]), grad=False)
    check(lambda lib, x: lib.rsub(x, other, alpha), RNG.standard_normal(4).astype(F32))


def test_rsub_with_tensors_broadcasts_and_differentiates():
    check(lambda lib, x, y: lib.rsub(x, y, alpha=2), RNG.standard_normal((2, 3)),
          RNG.standard_normal(3))
    check(lambda lib, x, y: lib.rsub(x, y, alpha=2), np.array([1.0, 2.0], F32), np.array([5, 6]),
          grad=False)


def test_rsub_errors():
    raises_like(lambda lib: lib.rsub(lib.tensor([1, 2]), lib.tensor([1, 2]), alpha=0.5),
                RuntimeError)
    raises_like(lambda lib: lib.rsub(lib.tensor([True]), lib.tensor([False])), RuntimeError)
    raises_like(lambda lib: lib.rsub(lib.tensor([True]), 1), RuntimeError)


# ---- frexp, unravel_index, vander ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float16, F32, F64])
def test_frexp_values_and_named_fields(dtype):
    data = np.array([0.0, 1.0, -3.0, 0.375, 1e-3, 6e4, np.inf, -np.inf, np.nan], dtype)
    ours, theirs = check(lambda lib, x: lib.frexp(x), data, grad=False)
    assert _name(ours.exponent.dtype) == "int32"
    assert ours.mantissa is ours[0]


def test_frexp_of_denormals_and_its_gradient():
    check(lambda lib, x: lib.frexp(x), np.array([1e-45, 3e-42, -7.5], F32), grad=False)
    check(lambda lib, x: lib.frexp(x).mantissa, RNG.standard_normal(6) * 100)
    ours = tg.tensor([3.0, -0.375]).frexp()                         # the Tensor method
    assert ours.mantissa.tolist() == [0.75, -0.75] and ours.exponent.tolist() == [2, -1]


def test_frexp_refuses_integers():
    raises_like(lambda lib: lib.frexp(lib.tensor([1, 2])), RuntimeError)


@pytest.mark.parametrize("indices, shape", [([4, 1], (2, 3)), (4, (2, 3)), ([6, -1, -7], (2, 3)),
                                            ([[0, 5], [11, 3]], (3, 2, 2)), ([1], 3), ([1], ())])
def test_unravel_index_matches_torch(indices, shape):
    check(lambda lib, i: lib.unravel_index(i, shape), np.array(indices), grad=False)
    check(lambda lib, i: lib.unravel_index(i, shape), np.array(indices, np.int32), grad=False)


def test_unravel_index_errors():
    raises_like(lambda lib: lib.unravel_index(lib.tensor([1.0]), (2, 3)), TypeError)
    raises_like(lambda lib: lib.unravel_index(lib.tensor([True]), (2,)), TypeError)
    raises_like(lambda lib: lib.unravel_index(lib.tensor([1]), (2, -3)), ValueError)
    raises_like(lambda lib: lib.unravel_index(lib.tensor([1]), (2.5,)), TypeError)
    raises_like(lambda lib: lib.unravel_index(lib.tensor([0]), (2, 0)), RuntimeError)


@pytest.mark.parametrize("data", [[1.0, 2.0, 3.0], [1, 2, 3], [True, False]])
@pytest.mark.parametrize("N", [None, 0, 1, 4])
@pytest.mark.parametrize("increasing", [False, True])
def test_vander_values_and_dtypes(data, N, increasing):
    check(lambda lib, x: lib.vander(x, N, increasing), np.array(data), grad=False)
    check(lambda lib, x: lib.vander(x, N, increasing), np.array(data, np.int32), grad=False)


@pytest.mark.parametrize("N, increasing", [(4, False), (None, True), (2, False)])
def test_vander_gradient_with_a_zero_sample(N, increasing):
    # torch.vander's own backward fails (its in-place build): the reference is x ** k stacked
    data = np.array([1.5, 0.0, -2.0, 0.5])
    ours, theirs = both(data, requires_grad=True)
    y = tg.vander(ours, N, increasing)
    powers = list(range(len(data) if N is None else N))
    ref = torch.stack([theirs ** k for k in (powers if increasing else powers[::-1])], 1)
    assert_same(y, ref)
    weights = RNG.standard_normal(tuple(ref.shape))
    (y * tg.tensor(weights)).sum().backward()
    (ref * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6)
    assert tg.autograd.gradgradcheck(lambda x: tg.vander(x, N, increasing),
                                     (tg.tensor(data, requires_grad=True),))


def test_vander_errors():
    for N in (0, 1, 2):
        assert tg.vander(tg.tensor([1.0, 2.0], requires_grad=True), N).requires_grad == \
            torch.vander(torch.tensor([1.0, 2.0], requires_grad=True), N).requires_grad
    raises_like(lambda lib: lib.vander(lib.tensor([[1.0, 2.0]])), RuntimeError)
    raises_like(lambda lib: lib.vander(lib.tensor(2.0)), RuntimeError)
    raises_like(lambda lib: lib.vander(lib.tensor([1.0, 2.0]), N=-1), RuntimeError)


# ---- gradient ------------------------------------------------------------------------------------
GRID = np.array([[1.0, 2, 4, 7], [2, 5, 9, 3], [0, 1, -2, 5]])


@pytest.mark.parametrize("kwargs", [{}, {"edge_order": 2}, {"spacing": 2.0}, {"spacing": 2},
                                    {"spacing": [2.0, 3.0]}, {"dim": 1}, {"dim": [1]},
                                    {"dim": (-1, 0), "edge_order": 2},
                                    {"spacing": [0.5], "dim": 0}])
@pytest.mark.parametrize("dtype", [F32, F64, np.int64])
def test_gradient_uniform_spacing(kwargs, dtype):
    check(lambda lib, x: lib.gradient(x, **kwargs), GRID.astype(dtype), grad=dtype != np.int64)


@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_on_coordinates_differentiates_both(edge_order):
    coords = (np.array([0.0, 1.0, 3.0]), np.array([0.0, 0.5, 2.0, 2.5]))
    check(lambda lib, x, c0, c1: lib.gradient(x, spacing=[c0, c1], edge_order=edge_order),
          GRID, *coords)
    check(lambda lib, x, c: lib.gradient(x, spacing=[c], dim=1, edge_order=edge_order),
          GRID.astype(F32), coords[1].astype(F64))


def test_gradient_of_integers_and_odd_inputs():
    check(lambda lib, x, c: lib.gradient(x, spacing=[c]), np.array([1, 2, 4]),
          np.array([0, 1, 3]), grad=False)
    check(lambda lib, x: lib.gradient(x, spacing=lib.tensor(2.0)), np.array([1.0, 2.0, 4.0]))
    assert tg.gradient(tg.tensor(2.0)) == () == torch.gradient(torch.tensor(2.0))
    check(lambda lib, x: lib.gradient(x), np.array([1.0, 2.0]))          # 2 samples: edges only


def test_gradient_errors():
    x = np.array([1.0, 2.0])
    raises_like(lambda lib: lib.gradient(lib.tensor(x), edge_order=2), RuntimeError)
    raises_like(lambda lib: lib.gradient(lib.tensor(x), edge_order=3), RuntimeError)
    raises_like(lambda lib: lib.gradient(lib.tensor(x), dim=1), IndexError)
    raises_like(lambda lib: lib.gradient(lib.tensor(x), spacing=[1.0, 2.0]), RuntimeError)
    raises_like(lambda lib: lib.gradient(lib.tensor(GRID), spacing=[2.0, 3.0], dim=1),
                RuntimeError)
    raises_like(lambda lib: lib.gradient(lib.ones(3, 3), dim=[0, 0]), RuntimeError)
    raises_like(lambda lib: lib.gradient(lib.tensor([1, 2, 3], dtype=lib.uint8)), RuntimeError)
    raises_like(lambda lib: lib.gradient(lib.tensor([True, False, True])), RuntimeError)


# ---- trapezoid, trapz, cumulative_trapezoid ------------------------------------------------------
Y = np.array([[1.0, 2, 3, 5], [4, 5, 6, -1]])


@pytest.mark.parametrize("name", ["trapezoid", "trapz", "cumulative_trapezoid"])
@pytest.mark.parametrize("dtype", [F32, F64, np.int64])
def test_integration_with_dx(name, dtype):
    grad = dtype != np.int64
    check(lambda lib, y: getattr(lib, name)(y), Y.astype(dtype), grad=grad)
    check(lambda lib, y: getattr(lib, name)(y, dx=2), Y.astype(dtype), grad=grad)
    check(lambda lib, y: getattr(lib, name)(y, dx=0.5, dim=0), Y.astype(dtype), grad=grad)


@pytest.mark.parametrize("name", ["trapezoid", "trapz", "cumulative_trapezoid"])
def test_integration_at_sample_points(name):
    fn = getattr(torch, name)
    assert fn is not None
    check(lambda lib, y, x: getattr(lib, name)(y, x), Y, np.array([0.0, 1.0, 3.0, 4.5]))
    check(lambda lib, y, x: getattr(lib, name)(y, x, dim=0), Y, np.array([0.0, 2.0]))
    check(lambda lib, y, x: getattr(lib, name)(y, x), Y, np.array([[0.0, 1, 3, 4], [1, 2, 2, 5]]))
    check(lambda lib, y, x: getattr(lib, name)(y, x), Y.astype(F32), np.array([0.0, 1, 3, 4]))
    check(lambda lib, y, x: getattr(lib, name)(y, x), Y.astype(np.int64), np.array([0, 1, 3, 4]),
          grad=False)


def test_trapezoid_broadcasts_x_as_torch():
    check(lambda lib, y, x: lib.trapezoid(y, x), Y[:, :2].copy(), np.array([[0.0, 1], [2, 3]]))
    check(lambda lib, y, x: lib.trapezoid(y, x), np.ones((2, 3, 4)), np.array([[0.0, 1, 3, 6]]))


def test_integration_of_empty_and_single_samples():
    for shape in [(2, 0), (2, 1)]:
        check(lambda lib, y: lib.trapezoid(y), np.zeros(shape), grad=False)
        check(lambda lib, y: lib.cumulative_trapezoid(y), np.zeros(shape), grad=False)
    check(lambda lib, y: lib.trapezoid(y), np.zeros((2, 0), np.int64), grad=False)


def test_integration_errors():
    y = np.array([[1.0, 2, 3], [4, 5, 6]])
    raises_like(lambda lib: lib.trapezoid(lib.tensor(y), lib.tensor([0.0, 1, 2, 4])), RuntimeError)
    raises_like(lambda lib: lib.cumulative_trapezoid(lib.tensor(y), lib.tensor([0.0, 1])),
                RuntimeError)
    raises_like(lambda lib: lib.trapezoid(lib.tensor([1.0, 2]), lib.tensor([0.0, 1]), dx=1),
                TypeError)
    raises_like(lambda lib: lib.trapezoid(lib.tensor([1.0, 2]), 2.0), TypeError)
    raises_like(lambda lib: lib.trapezoid(lib.tensor([True, False])), RuntimeError)
    raises_like(lambda lib: lib.cumulative_trapezoid(lib.tensor([True, False])), RuntimeError)
    raises_like(lambda lib: lib.trapezoid(lib.tensor([1.0, 2]), dx=True), RuntimeError)
    raises_like(lambda lib: lib.trapezoid(lib.tensor(1.0)), IndexError)
    raises_like(lambda lib: lib.trapezoid(lib.tensor(y), dim=2), IndexError)


# ---- select_scatter, slice_scatter, diagonal_scatter ---------------------------------------------
SCATTERS = [
    ("select_scatter", (2, 3), (3,), {"dim": 0, "index": 1}),
    ("select_scatter", (2, 3), (2,), {"dim": 1, "index": -1}),
    ("select_scatter", (2, 3, 4), (2, 4), {"dim": -2, "index": 2}),
    ("slice_scatter", (4, 3), (2, 3), {"start": 1, "end": 3}),
    ("slice_scatter", (4, 3), (2, 3), {"step": 2}),
    ("slice_scatter", (4, 3), (4, 1), {"dim": 1, "start": -1}),
    ("slice_scatter", (5, 3), (2, 3), {"start": -4, "end": 100, "step": 2}),
    ("slice_scatter", (4, 3), (0, 3), {"start": 10}),
    ("diagonal_scatter", (3, 3), (3,), {}),
    ("diagonal_scatter", (3, 4), (3,), {"offset": 1}),
    ("diagonal_scatter", (3, 4), (2,), {"offset": -1}),
    ("diagonal_scatter", (2, 3, 4), (3, 2), {"offset": 0, "dim1": 0, "dim2": 2}),
    ("diagonal_scatter", (2, 3, 4), (2, 1), {"offset": 2, "dim1": -1, "dim2": 1}),
]


@pytest.mark.parametrize("name, shape, src_shape, kwargs", SCATTERS)
def test_scatters_values_and_gradients(name, shape, src_shape, kwargs):
    x, src = RNG.standard_normal(shape), RNG.standard_normal(src_shape)
    check(lambda lib, a, b: getattr(lib, name)(a, b, **kwargs), x, src)
    check(lambda lib, a, b: getattr(a, name)(b, **kwargs), x.astype(F32), src.astype(F32))


@pytest.mark.parametrize("name, shape, src_shape, kwargs", SCATTERS[:1] + SCATTERS[3:4] +
                         SCATTERS[9:10])
def test_scatters_cast_src_to_input_dtype(name, shape, src_shape, kwargs):
    x, src = RNG.standard_normal(shape), RNG.standard_normal(src_shape) * 3
    check(lambda lib, a, b: getattr(lib, name)(a, b, **kwargs), x.astype(F32), src.astype(F64))
    check(lambda lib, a, b: getattr(lib, name)(a, b, **kwargs), x.astype(np.int64),
          src.astype(F32), grad=False)
    check(lambda lib, a, b: getattr(lib, name)(a, b, **kwargs), x.astype(F32),
          src.astype(np.int64), grad=False)


@pytest.mark.parametrize("name, shape, src_shape, kwargs", [SCATTERS[1], SCATTERS[4], SCATTERS[11]])
def test_scatters_second_derivatives(name, shape, src_shape, kwargs):
    x = tg.tensor(RNG.standard_normal(shape), requires_grad=True)
    src = tg.tensor(RNG.standard_normal(src_shape), requires_grad=True)

    def fn(a, b):
        return getattr(tg, name)(a, b, **kwargs) ** 2
    assert tg.autograd.gradcheck(fn, (x, src))
    assert tg.autograd.gradgradcheck(fn, (x, src))


def test_scatters_errors():
    zeros = lambda lib, *s: lib.zeros(*s)  # noqa: E731
    raises_like(lambda lib: lib.diagonal_scatter(zeros(lib, 3, 4), lib.ones(2), 1), RuntimeError)
    raises_like(lambda lib: lib.diagonal_scatter(zeros(lib, 2, 3, 4), lib.ones(3, 2), 0, 0, 1),
                RuntimeError)
    raises_like(lambda lib: lib.select_scatter(zeros(lib, 2, 3), lib.ones(2), 1, 5), IndexError)
    raises_like(lambda lib: lib.select_scatter(zeros(lib, 2, 3), lib.ones(3, 1), 0, 0),
                RuntimeError)
    raises_like(lambda lib: lib.select_scatter(lib.tensor(1.0), lib.tensor(2.0), 0, 0), IndexError)
    raises_like(lambda lib: lib.slice_scatter(zeros(lib, 4, 3), lib.ones(4, 2), dim=1, start=-1),
                RuntimeError)
    raises_like(lambda lib: lib.slice_scatter(zeros(lib, 4, 3), lib.ones(1, 3), start=2, end=1),
                RuntimeError)
    raises_like(lambda lib: lib.slice_scatter(zeros(lib, 4, 3), lib.ones(2, 3), step=0),
                RuntimeError)
    raises_like(lambda lib: lib.slice_scatter(zeros(lib, 4, 3), lib.ones(2, 3), dim=2),
                IndexError)


# ---- empty_strided, frombuffer, asarray ----------------------------------------------------------
def test_empty_strided_shape_dtype_and_stride_check():
    ours = tg.empty_strided((2, 3), (1, 2), dtype=tg.int32)
    theirs = torch.empty_strided((2, 3), (1, 2), dtype=torch.int32)
    assert tuple(ours.shape) == tuple(theirs.shape) and _name(ours.dtype) == _name(theirs.dtype)
    assert tg.empty_strided((2,), (1,), requires_grad=True).requires_grad
    raises_like(lambda lib: lib.empty_strided((2, 3), (1,)), RuntimeError)
    raises_like(lambda lib: lib.empty_strided((2, -3), (3, 1)), RuntimeError)


def test_frombuffer_reads_and_shares_memory():
    data = np.array([1, -2, 3, 7], np.int32).tobytes()
    for kwargs in [{}, {"count": 2, "offset": 4}, {"offset": 8}]:
        ours = tg.frombuffer(bytearray(data), dtype=tg.int32, **kwargs)
        theirs = torch.frombuffer(bytearray(data), dtype=torch.int32, **kwargs)
        assert_same(ours, theirs)
    buffer = bytearray(np.array([1.5, 2.5], np.float32).tobytes())
    ours = tg.frombuffer(buffer, dtype=tg.float32, requires_grad=True)
    assert ours.requires_grad and ours.tolist() == [1.5, 2.5]
    buffer[0:4] = np.array([9.0], np.float32).tobytes()              # the tensor sees the write
    assert ours.tolist() == [9.0, 2.5]


def test_frombuffer_of_read_only_bytes_warns():
    with pytest.warns(UserWarning):
        out = tg.frombuffer(np.array([4, 5], np.int64).tobytes(), dtype=tg.int64)
    assert out.tolist() == [4, 5]


@pytest.mark.parametrize("kwargs", [{"count": 3}, {"offset": 9}, {"offset": -1}, {"count": 0},
                                    {"offset": 2}])
def test_frombuffer_errors(kwargs):
    raises_like(lambda lib: lib.frombuffer(bytearray(8), dtype=lib.int32, **kwargs), ValueError)


def test_frombuffer_needs_a_buffer():
    raises_like(lambda lib: lib.frombuffer(bytearray(0), dtype=lib.int32), ValueError)
    raises_like(lambda lib: lib.frombuffer(bytearray(7), dtype=lib.int32), ValueError)
    raises_like(lambda lib: lib.frombuffer([1, 2], dtype=lib.float32), ValueError)


def test_asarray_of_tensors_aliases_or_copies():
    a = tg.tensor([1.0, 2.0])
    assert tg.asarray(a) is a and tg.asarray(a, dtype=tg.float32, copy=False) is a
    assert tg.asarray(a, device="cpu") is a
    copied = tg.asarray(a, copy=True)
    assert copied is not a and copied.tolist() == [1.0, 2.0]
    copied.add_(1.0)
    assert a.tolist() == [1.0, 2.0]
    cast = tg.asarray(a, dtype=tg.float64)
    assert cast.dtype == tg.float64 and cast.tolist() == [1.0, 2.0]
    assert tg.asarray(tg.tensor(1.5), dtype=tg.int64).tolist() == \
        torch.asarray(torch.tensor(1.5), dtype=torch.int64).tolist()
    raises_like(lambda lib: lib.asarray(lib.tensor([1.0]), dtype=lib.float64, copy=False),
                ValueError)


def test_asarray_requires_grad_as_torch():
    for lib in (tg, torch):
        a = lib.tensor([1.0, 2.0])
        out = lib.asarray(a, requires_grad=True)
        assert out is a and a.requires_grad                     # set on the aliased leaf
        b = lib.tensor([1.0, 2.0], requires_grad=True)
        out = lib.asarray(b, requires_grad=False)
        assert not out.requires_grad
        c = lib.tensor([1.0, 2.0], requires_grad=True) * 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)       # torch's note on the new default
            assert lib.asarray(c) is c and c.grad_fn is not None
        assert lib.asarray(c, requires_grad=True) is c
        out = lib.asarray(c, requires_grad=False)
        assert out.grad_fn is None and not out.requires_grad and c.requires_grad
        fresh = lib.tensor([1.0, 2.0])
        copied = lib.asarray(fresh, copy=True, requires_grad=True)
        assert copied.requires_grad and copied.is_leaf and not fresh.requires_grad
        d = lib.tensor([1.0, 2.0], requires_grad=True)
        kept = lib.asarray(d * 2, copy=True)                    # a copy stays in the graph
        assert kept.requires_grad and kept.grad_fn is not None
        kept.sum().backward()
        assert d.grad.tolist() == [2.0, 2.0]
        detached = lib.asarray(d, dtype=lib.float64, requires_grad=False)
        assert not detached.requires_grad and detached.grad_fn is None
        with pytest.raises(RuntimeError):
            lib.asarray(lib.tensor([1, 2]), requires_grad=True)


def test_asarray_of_numpy_shares_memory():
    n = np.array([1.0, 2.0])
    for lib in (tg, torch):
        out = lib.asarray(n)
        assert _name(out.dtype) == "float64" and np.shares_memory(out.numpy(), n)
        assert not np.shares_memory(lib.asarray(n, copy=True).numpy(), n)
        converted = lib.asarray(n, dtype=lib.float32)
        assert _name(converted.dtype) == "float32" and not np.shares_memory(converted.numpy(), n)
        assert _name(lib.asarray(np.array([1, 2], np.int32)).dtype) == "int32"
        assert lib.asarray(n, requires_grad=True).requires_grad
        assert _name(lib.asarray(np.float64(2.0)).dtype) == "float64"
        assert tuple(lib.asarray(n[::2]).shape) == (1,)
    raises_like(lambda lib: lib.asarray(n, dtype=lib.float32, copy=False), ValueError)


@pytest.mark.parametrize("obj", [[1, 2], [1, 2.0], 3.0, 3, True, (1, 2), [[1.5, 2.5]]])
def test_asarray_of_python_data(obj):
    assert_same(tg.asarray(obj), torch.asarray(obj))
    assert_same(tg.asarray(obj, dtype=tg.float64), torch.asarray(obj, dtype=torch.float64))


def test_asarray_of_python_data_errors_and_buffers():
    raises_like(lambda lib: lib.asarray([1, 2], copy=False), ValueError)
    raises_like(lambda lib: lib.asarray([[1, 2], [3]]), ValueError)
    raises_like(lambda lib: lib.asarray([1, 2], requires_grad=True), RuntimeError)
    raw = bytearray(np.array([1.0, -2.0], np.float32).tobytes())
    assert_same(tg.asarray(raw, dtype=tg.float32), torch.asarray(raw, dtype=torch.float32))
    assert tg.asarray(bytearray(np.array([3.0], np.float32).tobytes())).tolist() == [3.0]


# ---- range ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, kwargs", [((1, 4), {}), ((1, 4, 0.5), {}), ((0, 1, 0.3), {}),
                                          ((4, 1, -1), {}), ((1.0, 1.0), {}),
                                          ((1, 4), {"dtype": "int64"}),
                                          ((-3, 3, 2), {"dtype": "float64"})])
def test_range_includes_the_end_and_warns(args, kwargs):
    def run(lib):
        options = {k: getattr(lib, v) for k, v in kwargs.items()}
        with pytest.warns(UserWarning, match="deprecated"):
            return lib.range(*args, **options)
    assert_same(run(tg), run(torch))


def test_range_arguments_and_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert tg.range(tg.tensor(1), tg.tensor(3)).tolist() == [1.0, 2.0, 3.0]
        assert tg.range(1, 3, requires_grad=True).requires_grad
        raises_like(lambda lib: lib.range(4, 1), RuntimeError)
        raises_like(lambda lib: lib.range(1, 4, 0), RuntimeError)
        raises_like(lambda lib: lib.range(3), TypeError)


# ---- binomial ------------------------------------------------------------------------------------
def test_binomial_statistics_and_dtype():
    tg.manual_seed(0)
    count = tg.full((20000,), 10.0)
    draws = tg.binomial(count, tg.full((20000,), 0.3))
    assert draws.dtype == tg.float32 and tuple(draws.shape) == (20000,)
    values = draws.numpy()
    assert np.all(values == np.round(values)) and values.min() >= 0 and values.max() <= 10
    assert abs(values.mean() - 3.0) < 0.05                      # n p, std of the mean ~0.01
    assert abs(values.var() - 2.1) < 0.1                        # n p (1 - p)
    wide = tg.binomial(tg.tensor([[100.0], [40.0]], dtype=tg.float64),
                       tg.tensor([0.5, 0.25], dtype=tg.float64))
    assert wide.dtype == tg.float64 and tuple(wide.shape) == (2, 2)


def test_binomial_edges():
    out = tg.binomial(tg.tensor([5.0, -5.0, 7.0, 0.0]), tg.tensor([1.2, 0.5, 0.0, 0.5]))
    theirs = torch.binomial(torch.tensor([5.0, -5.0, 7.0, 0.0]), torch.tensor([1.2, 0.5, 0.0, 0.5]))
    assert out.tolist() == theirs.tolist() == [5.0, 0.0, 0.0, 0.0]
    assert not tg.binomial(tg.tensor([5.0], requires_grad=True), tg.tensor([0.5])).requires_grad


def test_binomial_is_reproducible_by_seed_and_generator():
    count, prob = tg.full((50,), 20.0), tg.full((50,), 0.4)
    tg.manual_seed(123)
    first = tg.binomial(count, prob).tolist()
    tg.manual_seed(123)
    assert tg.binomial(count, prob).tolist() == first
    assert tg.binomial(count, prob).tolist() != first           # the stream moved on
    g1, g2 = tg.Generator().manual_seed(7), tg.Generator().manual_seed(7)
    assert tg.binomial(count, prob, generator=g1).tolist() == \
        tg.binomial(count, prob, generator=g2).tolist()


def test_binomial_errors():
    raises_like(lambda lib: lib.binomial(lib.tensor([10, 5]), lib.tensor([0.5, 0.2])), ValueError)
    raises_like(lambda lib: lib.binomial(lib.tensor([10.0], dtype=lib.float64),
                                         lib.tensor([0.5])), RuntimeError)
    with pytest.raises(RuntimeError):
        tg.binomial(tg.tensor([float("nan")]), tg.tensor([0.5]))


# ---- histogramdd ---------------------------------------------------------------------------------
POINTS = np.array([[0.0, 1], [1, 0], [2, 0], [2, 2], [0.5, 1.5]])


@pytest.mark.parametrize("bins, kwargs", [
    ([3, 3], {}), (2, {"range": [0.0, 1.0, 0.0, 1.0]}), ((2, 4), {"density": True}),
    (3, {"weight": np.array([1.0, 2, 3, 4, 5])}),
    ([np.array([0.0, 1, 2]), np.array([0.0, 1, 3])], {"weight": np.array([1.0, 2, 3, 4, 0.5]),
                                                      "density": True}),
])
@pytest.mark.parametrize("dtype", [F32, F64])
def test_histogramdd_matches_torch(bins, kwargs, dtype):
    def run(lib):
        b = [lib.tensor(e.astype(dtype)) for e in bins] if isinstance(bins, list) and \
            isinstance(bins[0], np.ndarray) else bins
        kw = {k: (lib.tensor(v.astype(dtype)) if isinstance(v, np.ndarray) else v)
              for k, v in kwargs.items()}
        return lib.histogramdd(lib.tensor(POINTS.astype(dtype)), bins=b, **kw)
    ours, theirs = run(tg), run(torch)
    assert isinstance(ours.bin_edges, tuple)
    assert_same(ours.hist, theirs.hist)
    assert_same(ours.bin_edges, theirs.bin_edges)


def test_histogramdd_shapes_and_degenerate_ranges():
    for points in [np.zeros((0, 2)), np.ones((2, 2)), POINTS.reshape(1, 5, 2)]:
        ours = tg.histogramdd(tg.tensor(points), bins=2)
        theirs = torch.histogramdd(torch.tensor(points), bins=2)
        assert_same(ours.hist, theirs.hist)
        assert_same(ours.bin_edges, theirs.bin_edges)


def test_histogramdd_errors():
    pts = lambda lib: lib.tensor([[0.0, 1], [1, 0]])  # noqa: E731
    raises_like(lambda lib: lib.histogramdd(lib.tensor([[0, 1], [1, 0]]), bins=2),
                NotImplementedError)
    raises_like(lambda lib: lib.histogramdd(lib.tensor([0.0, 1.0]), bins=2), RuntimeError)
    raises_like(lambda lib: lib.histogramdd(pts(lib), bins=(2, 3, 4)), RuntimeError)
    raises_like(lambda lib: lib.histogramdd(pts(lib), bins=2, range=[0.0, 1.0]), RuntimeError)
    raises_like(lambda lib: lib.histogramdd(pts(lib), bins=2, range=[1.0, 0, 0, 1]), RuntimeError)
    raises_like(lambda lib: lib.histogramdd(pts(lib), bins=0), RuntimeError)
    raises_like(lambda lib: lib.histogramdd(pts(lib), bins=2, weight=lib.tensor([1.0])),
                RuntimeError)


# ---- window functions ----------------------------------------------------------------------------
WINDOWS = ["hann_window", "hamming_window", "bartlett_window", "blackman_window", "kaiser_window"]


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("length", [0, 1, 2, 3, 5, 8, 33])
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_windows_match_torch(name, length, periodic, dtype):
    ours = getattr(tg, name)(length, periodic, dtype=getattr(tg, dtype))
    theirs = getattr(torch, name)(length, periodic, dtype=getattr(torch, dtype))
    assert_same(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", WINDOWS)
def test_windows_defaults_and_errors(name):
    assert_same(getattr(tg, name)(7), getattr(torch, name)(7))
    assert_same(getattr(tg, name)(5, requires_grad=True), getattr(torch, name)(5))
    assert getattr(tg, name)(5, requires_grad=True).requires_grad
    raises_like(lambda lib: getattr(lib, name)(4, dtype=lib.int64), RuntimeError)
    raises_like(lambda lib: getattr(lib, name)(-1), RuntimeError)
    raises_like(lambda lib: getattr(lib, name)(2.5), TypeError)


def test_window_parameters():
    assert_same(tg.hamming_window(9, True, 0.5), torch.hamming_window(9, True, 0.5))
    assert_same(tg.hamming_window(9, False, alpha=0.5, beta=0.4),
                torch.hamming_window(9, False, alpha=0.5, beta=0.4))
    for beta in [0.0, 5.0, 20.0]:
        assert_same(tg.kaiser_window(11, False, beta), torch.kaiser_window(11, False, beta))
        assert_same(tg.kaiser_window(10, True, beta, dtype=tg.float64),
                    torch.kaiser_window(10, True, beta, dtype=torch.float64))


# ---- state and configuration ---------------------------------------------------------------------
def test_default_device_is_cpu():
    assert tg.get_default_device() == tg.device("cpu")
    assert str(tg.get_default_device()) == str(torch.get_default_device())
    tg.set_default_device("cpu")
    tg.set_default_device(None)
    tg.set_default_device(tg.device("cpu"))
    with pytest.raises(NotImplementedError, match="set_default_device"):
        tg.set_default_device("cuda")


def test_seed_reseeds_from_the_os():
    first = tg.seed()
    assert isinstance(first, int) and 0 <= first < 2 ** 64 and tg.initial_seed() == first
    draws = tg.rand(4).tolist()
    tg.manual_seed(first)
    assert tg.rand(4).tolist() == draws                     # the seed reproduces its stream
    assert tg.seed() != first
    tg.manual_seed(0)


def test_is_inference_and_typename():
    x = tg.tensor([1.0])
    assert tg.is_inference(x) is False and torch.is_inference(torch.tensor([1.0])) is False
    raises_like(lambda lib: lib.is_inference(3), TypeError)
    assert tg.typename(x) == torch.typename(torch.tensor([1.0])).replace("torch.", "tinygen.")
    assert tg.typename(tg.tensor([1])) == "tinygen.LongTensor"
    for obj in [3, np.zeros(2), np.ndarray, warnings.warn, pytest.raises, RNG]:
        assert tg.typename(obj) == torch.typename(obj)
    assert tg.typename(tg.nn.Linear) == "tinygen.nn.modules.linear.Linear"


def test_anomaly_switches():
    try:
        for lib in (tg, torch):
            assert lib.is_anomaly_enabled() is False and lib.is_anomaly_check_nan_enabled()
            lib.set_anomaly_enabled(True, False)
            assert lib.is_anomaly_enabled() and not lib.is_anomaly_check_nan_enabled()
            lib.set_anomaly_enabled(False)
            assert not lib.is_anomaly_enabled() and lib.is_anomaly_check_nan_enabled()
        tg.set_anomaly_enabled(True)
        assert tg.autograd.is_anomaly_enabled()
        x = tg.tensor([-1.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="Sqrt"):     # a NaN gradient (PyTorch checks
            x.sqrt().sum().backward()                       # backward results only)
    finally:
        tg.set_anomaly_enabled(False)
        torch.set_anomaly_enabled(False)


def test_warn_always_and_interop_threads():
    try:
        for lib in (tg, torch):
            assert lib.is_warn_always_enabled() is False
            lib.set_warn_always(True)
            assert lib.is_warn_always_enabled() is True
            lib.set_warn_always(False)
    finally:
        tg.set_warn_always(False)
        torch.set_warn_always(False)
    assert isinstance(tg.get_num_interop_threads(), int) and tg.get_num_interop_threads() >= 1
    before = tg.get_num_interop_threads()
    tg.set_num_interop_threads(3)
    assert tg.get_num_interop_threads() == 3
    tg.set_num_interop_threads(before)
    with pytest.raises(RuntimeError):
        tg.set_num_interop_threads(0)
    with pytest.raises(TypeError):
        tg.set_num_interop_threads(2.5)


def test_set_flush_denormal_is_unsupported_and_keeps_denormals():
    assert tg.set_flush_denormal(True) is False
    tiny = tg.tensor([1e-310], dtype=tg.float64)
    assert tiny.item() == 1e-310 and (tiny * 1.0).item() > 0
    assert tg.set_flush_denormal(False) is False


# ---- torch.*'s versions of functional ops --------------------------------------------------------
def test_embedding_aten_order_and_padding():
    weight, idx = RNG.standard_normal((5, 3)), np.array([[0, 3, 1], [1, 1, 4]])
    check(lambda lib, w, i: lib.embedding(w, i), weight, idx)
    check(lambda lib, w, i: lib.embedding(w, i, 1), weight, idx)
    check(lambda lib, w, i: lib.embedding(w, i, -2, True), weight, idx)
    raises_like(lambda lib: lib.embedding(lib.randn(4, 2), lib.tensor([0.0, 3.0])), RuntimeError)
    with pytest.raises(IndexError):
        tg.embedding(tg.randn(4, 2), tg.tensor([0, 4]))


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_aten_order_updates_running_stats(training):
    x, w, b = RNG.standard_normal((4, 3, 2)), RNG.standard_normal(3), RNG.standard_normal(3)
    stats = {lib: (lib.tensor(RNG.standard_normal(3) * 0 + 0.5), lib.ones(3, dtype=lib.float64))
             for lib in (tg, torch)}

    def run(lib, x, w, b):
        mean, var = stats[lib]
        return lib.batch_norm(x, w, b, mean, var, training, 0.2, 1e-5, False)
    check(run, x, w, b)
    for ours, theirs in zip(stats[tg], stats[torch]):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    check(lambda lib, x: lib.batch_norm(x, None, None, None, None, True, 0.1, 1e-5, True),
          RNG.standard_normal((5, 2)))
    raises_like(lambda lib: lib.batch_norm(lib.randn(4, 3), None, None, None, None, False, 0.1,
                                           1e-5, False), RuntimeError)


def test_instance_norm_aten_order():
    x, w, b = RNG.standard_normal((2, 3, 5)), RNG.standard_normal(3), RNG.standard_normal(3)
    check(lambda lib, x, w, b: lib.instance_norm(x, w, b, None, None, True, 0.1, 1e-5, False),
          x, w, b)
    means = {lib: lib.zeros(3, dtype=lib.float64) for lib in (tg, torch)}
    check(lambda lib, x: lib.instance_norm(x, None, None, means[lib],
                                           lib.ones(3, dtype=lib.float64), True, 0.3, 1e-5,
                                           False), x)
    np.testing.assert_allclose(means[tg].numpy(), means[torch].numpy(), rtol=1e-6)


@pytest.mark.parametrize("reduction", [0, 1, 2, 3])
def test_losses_with_int_reductions(reduction):
    x, y = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    t = np.sign(RNG.standard_normal((3, 4)))
    probs = 1 / (1 + np.exp(-y))
    check(lambda lib, a, b: lib.kl_div(a, b, reduction), x, np.exp(y) / 3)
    check(lambda lib, a, b: lib.kl_div(a, b, reduction, log_target=True), x, y)
    check(lambda lib, a, b: lib.binary_cross_entropy_with_logits(a, b, None, None, reduction),
          x, probs)
    check(lambda lib, a, b, w, pw: lib.binary_cross_entropy_with_logits(a, b, w, pw, reduction),
          x, probs, RNG.random(4), RNG.random(4) + 0.5, constants=(2, 3))
    check(lambda lib, a, b: lib.hinge_embedding_loss(a, b, 0.5, reduction), x, t,
          constants=(1,))
    check(lambda lib, a, b, c: lib.margin_ranking_loss(a, b, c, 0.1, reduction), x, y, t)
    check(lambda lib, a, b, c: lib.cosine_embedding_loss(a, b, c, 0.2, reduction), x, y,
          np.array([1.0, -1.0, 1.0]), constants=(2,))
    check(lambda lib, a, b, c: lib.triplet_margin_loss(a, b, c, 1.0, 2.0, 1e-6, True, reduction),
          x, y, x[::-1].copy())
    for log_input, full in [(True, False), (False, True)]:
        check(lambda lib, a, b: lib.poisson_nll_loss(a, b, log_input, full, 1e-8, reduction),
              np.abs(x) + 0.1, np.abs(y) * 3)


def test_loss_defaults_and_string_reductions_refused():
    x, y = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    check(lambda lib, a, b: lib.kl_div(a, b), x, np.exp(y))
    check(lambda lib, a, b, c: lib.triplet_margin_loss(a, b, c), x, y, x * 2)
    raises_like(lambda lib: lib.kl_div(lib.tensor(x), lib.tensor(y), "mean"), TypeError)


def test_shuffles_and_constant_pad_nd():
    x = RNG.standard_normal((2, 8, 3, 4))
    check(lambda lib, a: lib.pixel_shuffle(a, 2), x)
    check(lambda lib, a: lib.pixel_unshuffle(a, 1), x)
    check(lambda lib, a: lib.pixel_unshuffle(a, 2), RNG.standard_normal((1, 2, 4, 6)))
    check(lambda lib, a: lib.channel_shuffle(a, 4), x, grad=False)
    check(lambda lib, a: lib.channel_shuffle(a, 2), np.arange(4.0).reshape(1, 4, 1), grad=False)
    raises_like(lambda lib: lib.channel_shuffle(lib.ones(1, 4), 2), RuntimeError)
    check(lambda lib, a: lib.constant_pad_nd(a, (1, -1)), np.ones((2, 2)))
    check(lambda lib, a: lib.constant_pad_nd(a, (1, 2, 0, 1), 2.5), RNG.standard_normal((2, 3)))
    check(lambda lib, a: lib.constant_pad_nd(a, (1, 1), 2.5), np.ones((2, 2), np.int64),
          grad=False)
    raises_like(lambda lib: lib.constant_pad_nd(lib.ones(2, 2), (1, 1, 1)), RuntimeError)
    raises_like(lambda lib: lib.constant_pad_nd(lib.ones(2, 2), (1,) * 6), RuntimeError)


def test_adaptive_max_pool1d_returns_values_and_indices():
    x = RNG.standard_normal((2, 3, 10))
    for size in [3, (4,), 10, 1]:
        ours, theirs = check(lambda lib, a: lib.adaptive_max_pool1d(a, size), x, grad=False)
        assert isinstance(ours, tuple) and len(ours) == 2
    check(lambda lib, a: lib.adaptive_max_pool1d(a, 3)[0], x)
    check(lambda lib, a: lib.adaptive_max_pool1d(a, 4), RNG.standard_normal((3, 9)), grad=False)


def _channels_all_or_nothing(y, x, scale):
    """Each (sample, channel) slab of y is all zero or all x * scale."""
    y, x = y.reshape(y.shape[0], y.shape[1], -1), x.reshape(x.shape[0], x.shape[1], -1)
    for n in range(y.shape[0]):
        for c in range(y.shape[1]):
            slab = y[n, c]
            assert np.all(slab == 0) or np.allclose(slab, x[n, c] * scale)


def test_feature_dropout_drops_whole_channels():
    tg.manual_seed(0)
    x = tg.rand(40, 30, 4) + 0.5
    y = tg.feature_dropout(x, 0.25, True)
    _channels_all_or_nothing(y.numpy(), x.numpy(), 1 / 0.75)
    kept = (y.numpy().reshape(40, 30, -1)[:, :, 0] != 0).mean()
    assert abs(kept - 0.75) < 0.05
    assert tg.feature_dropout(x, 0.5, False) is x
    raises_like(lambda lib: lib.feature_dropout(lib.ones(2, 3), 1.5, True), RuntimeError)
    raises_like(lambda lib: lib.feature_dropout(lib.tensor([1.0, 2.0]), 0.5, True), RuntimeError)
    z = tg.ones(6, 5, 3)
    out = tg.feature_dropout_(z, 0.5, True)
    assert out is z
    _channels_all_or_nothing(z.numpy(), np.ones((6, 5, 3)), 2.0)
    assert 0 < (z.numpy() == 0).mean() < 1


def test_in_place_dropouts():
    tg.manual_seed(1)
    for lib in (tg, torch):
        x = lib.ones(3, 4)
        assert lib.dropout_(x, 1.0, True) is x and float(x.abs().sum()) == 0.0
        y = lib.ones(3, 4)
        assert lib.dropout_(y, 0.5, False) is y and float(y.sum()) == 12.0
        z = lib.ones(3, 4)
        assert lib.alpha_dropout_(z, 0.0, True) is z and float(z.sum()) == 12.0
    x = tg.ones(200, 50)
    tg.dropout_(x, 0.3, True)
    kept = x.numpy()[x.numpy() != 0]
    np.testing.assert_allclose(kept, 1 / 0.7, rtol=1e-6)
    assert abs((x.numpy() == 0).mean() - 0.3) < 0.03
    raises_like(lambda lib: lib.dropout_(lib.ones(2), 1.5, True), RuntimeError)
    raises_like(lambda lib: lib.alpha_dropout_(lib.ones(2), -0.5, True), RuntimeError)
    a = tg.ones(4, 6, 5)
    out = tg.feature_alpha_dropout_(a, 0.5, True)
    assert out is a
    slabs = a.numpy().reshape(4, 6, -1)
    assert np.all(slabs.max(axis=2) == slabs.min(axis=2))       # one value per channel
    assert len(set(np.round(slabs[:, :, 0].ravel(), 4).tolist())) == 2
    b = tg.ones(400)
    tg.alpha_dropout_(b, 0.5, True)
    assert len(set(np.round(b.numpy(), 4).tolist())) == 2


def test_detach_in_place():
    for lib in (tg, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3
        out = lib.detach_(y)
        assert out is y and y.grad_fn is None and not y.requires_grad and y.is_leaf
    raises_like(lambda lib: lib.detach_([1.0]), TypeError)
