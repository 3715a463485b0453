"""Differences from PyTorch 2.13 left over by earlier reviews, each checked against torch (skipped
without it): kthvalue's index among ties, quantile's gradient at NaN, any/all of uint8, the NaN
gradients of abs / maximum / minimum (and fmax / fmin), where with an int its dtype cannot
hold, negative slice steps, tinygen.Size, DataLoader's argument checks, the old
register_backward_hook, Embedding's scale_grad_by_freq and sparse, ModuleList.insert."""
import pickle
import warnings

import numpy as np
import pytest

import tinygen as tg
from tinygen.data import DataLoader, IterableDataset, TensorDataset
from tinygen.ops import binary

torch = pytest.importorskip("torch")

NAN = float("nan")
LIBS = ((torch, "torch"), (tg, "tinygen"))


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _same_error(fn):
    """The exception type torch raises for fn(torch) (None if none), and tinygen's."""
    kinds = []
    for lib, _ in LIBS:
        try:
            fn(lib)
            kinds.append(None)
        except Exception as e:                      # noqa: BLE001 - compared below
            kinds.append(type(e))
    return kinds


def test_kthvalue_index_among_ties_is_pytorchs():
    """PyTorch's CPU quickselect picks neither the first nor the last tie; tinygen the same."""
    rng = np.random.default_rng(0)
    cases = [np.zeros(8), np.array([2., 1., 1., 1., 0.]), np.array([3., 3., 1., 3., 3., 3.])]
    for trial in range(60):
        shape = tuple(int(v) for v in rng.integers(1, 8, rng.integers(1, 4)))
        x = rng.integers(0, 3, shape).astype([np.float32, np.float64, np.int64, np.uint8][trial % 4])
        if x.dtype.kind == "f" and trial % 3 == 0:
            x[rng.random(shape) < 0.3] = NAN           # NaN sorts last, and ties with NaN
        cases.append(x)
    for x in cases:
        for d in range(-x.ndim, x.ndim):
            for k in range(1, x.shape[d] + 1):
                for keepdim in (False, True):
                    want = torch.kthvalue(torch.from_numpy(x), k, d, keepdim)
                    got = tg.kthvalue(tg.tensor(x), k, d, keepdim)
                    np.testing.assert_array_equal(_np(got.indices), _np(want.indices))
                    np.testing.assert_array_equal(_np(got.values), _np(want.values))
    grads = []
    for lib, _ in LIBS:                                 # the gradient goes to that index
        a = lib.tensor([[1., 1., 0., 1.], [2., 2., 2., 2.]], requires_grad=True)
        lib.kthvalue(a, 2, 1).values.sum().backward()
        grads.append(_np(a.grad))
    np.testing.assert_array_equal(grads[1], grads[0])


@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_gradient_at_nan(name, interpolation):
    """A slice that gives NaN sends its gradient to a NaN element, as PyTorch (the last NaN in
    sorted order for quantile, the first for an all-NaN slice of nanquantile)."""
    cases = [([1., NAN, 3., 2.], 0.5, None), ([[1., NAN, 3., 2.], [4., 1., 2., 0.5]], 0.3, 1),
             ([[NAN, NAN], [1., 2.]], [0.2, 0.9], 1), ([1., NAN, NAN, 2.], 0.5, 0),
             ([[NAN, 1.], [NAN, NAN]], 0.7, 0)]
    for data, q, dim in cases:
        outs, grads = [], []
        for lib, _ in LIBS:
            x = lib.tensor(data, dtype=lib.float64, requires_grad=True)
            qq = lib.tensor(q, dtype=lib.float64) if isinstance(q, list) else q
            y = getattr(lib, name)(x, qq, dim=dim, interpolation=interpolation)
            y.sum().backward()
            outs.append(_np(y))
            grads.append(_np(x.grad))
        np.testing.assert_allclose(outs[1], outs[0], equal_nan=True)
        np.testing.assert_allclose(grads[1], grads[0], atol=1e-12)


def test_any_all_of_uint8_are_uint8():
    for dtype in ("uint8", "int8", "bool", "float32", "int64"):
        data = [[0, 3], [1, 2]]
        for fn in (lambda x: x.any(), lambda x: x.all(dim=1), lambda x: x.any(0, keepdim=True),
                   lambda x: x[:0].all(), lambda x: x[:0].any()):
            want = fn(torch.tensor(data, dtype=getattr(torch, dtype)))
            got = fn(tg.tensor(data, dtype=getattr(tg, dtype)))
            assert str(got.dtype).split(".")[1] == str(want.dtype).split(".")[1]
            np.testing.assert_array_equal(_np(got), _np(want))


@pytest.mark.parametrize("name", ["abs", "maximum", "minimum", "fmax", "fmin"])
def test_nan_gradients_of_abs_maximum_minimum(name):
    """abs: 0 at NaN (sgn(NaN) = 0); maximum / minimum: both inputs get the whole gradient where
    either is NaN, half each at a tie; fmax / fmin: a tie's all to input. Broadcast; to second
    order on ties without NaN (a NaN there meets the engine's 0 * NaN, see the report)."""
    rng = np.random.default_rng(1)
    a = rng.integers(-2, 3, (3, 1)).astype(np.float64)
    b = rng.integers(-2, 3, (1, 4)).astype(np.float64)
    w = rng.standard_normal((3, 4))
    for with_nan in (True, False):
        if with_nan:
            a[0, 0], b[0, 2] = NAN, NAN
        else:
            a, b = np.nan_to_num(a), np.nan_to_num(b)
        results = []
        for lib, _ in LIBS:
            x = lib.tensor(a, requires_grad=True)
            y = lib.tensor(b, requires_grad=True)
            out = lib.abs(x * y) if name == "abs" else getattr(lib, name)(x, y)
            loss = (out * lib.tensor(w)).sum() if with_nan else (out * out * lib.tensor(w)).sum()
            gx, gy = lib.autograd.grad(loss, (x, y), create_graph=not with_nan)
            results.append([_np(v) for v in (out, gx, gy)])
            if not with_nan:
                (gx.sum() + gy.sum()).backward()
                results[-1] += [_np(x.grad), _np(y.grad)]
        for got, want in zip(results[1], results[0]):
            np.testing.assert_allclose(got, want, equal_nan=True, atol=1e-12)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_backward_on_arrays_gives_the_bits_of_its_tensor_ops(name, monkeypatch):
    """Maximum's usual backward computes the shares on the arrays (on_arrays), a captured or
    create_graph one with the Shares op: the same bits, NaN and ties included."""
    a = np.array([[NAN], [1.0], [2.0]], np.float32)
    b = np.array([[1.0, NAN, 2.0, -1.0]], np.float32)
    gy = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    grads = []
    for arrays in (True, False):
        with monkeypatch.context() as m:
            if not arrays:
                m.setattr(binary, "on_arrays", lambda: False)
            x, y = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
            grads.append([g.numpy() for g in tg.autograd.grad(getattr(tg, name)(x, y), (x, y),
                                                             tg.tensor(gy))])
    for got, want in zip(*grads):
        assert got.dtype == want.dtype == np.float32 and np.array_equal(got, want)


def test_where_with_an_int_its_dtype_cannot_hold():
    """Beside an integer tensor, an int outside its dtype raises RuntimeError (an unsigned one
    takes negatives down to -max: -1 is 255); past 64 bits OverflowError; beside a bool or
    float tensor, or another number, it promotes."""
    cases = [("uint8", 300), ("uint8", -1), ("uint8", -255), ("uint8", -256), ("uint8", 255),
             ("int8", 200), ("int8", -129), ("int8", -128), ("int16", 70000),
             ("int32", 2 ** 40), ("int64", 2 ** 63), ("int64", -2 ** 63 - 1),
             ("bool", 2), ("float32", 2 ** 64), ("float32", 2 ** 63), ("uint8", 2.5)]
    for dtype, value in cases:
        for order in ("tensor first", "number first", "two numbers"):
            def program(lib, dtype=dtype, value=value, order=order):
                c = lib.tensor([True, False])
                x = lib.tensor([1, 0], dtype=getattr(lib, dtype))
                if order == "tensor first":
                    return lib.where(c, x, value)
                return lib.where(c, value, x) if order == "number first" else \
                    lib.where(c, value, 1)
            want, got = _same_error(program)
            if order == "two numbers" and value == 2 ** 63:
                want = RuntimeError       # PyTorch: "Promotion for uint16, uint32, uint64 ..."
            assert got is want, (dtype, value, order, got, want)
            if want is None:
                t, g = program(torch), program(tg)
                assert str(g.dtype).split(".")[1] == str(t.dtype).split(".")[1]
                np.testing.assert_array_equal(_np(g), _np(t))


def test_negative_slice_steps_raise():
    x = tg.arange(6).reshape(2, 3)
    for index in (slice(None, None, -1), slice(None, None, 0), (0, slice(None, None, -1)),
                  (slice(None, None, -2), [0, 1]), (Ellipsis, slice(2, 0, -1))):
        def read(lib, index=index):
            return lib.arange(6).reshape(2, 3)[index]

        def write(lib, index=index):
            y = lib.arange(6).reshape(2, 3)
            y[index] = 0
        assert _same_error(read) == [ValueError, ValueError]
        assert _same_error(write) == [ValueError, ValueError]
        with pytest.raises(ValueError, match="step must be greater than zero.*flip"):
            x[index]
    assert x[::2].tolist() == torch.arange(6).reshape(2, 3)[::2].tolist()
    assert x[:, 1::1].tolist() == [[1, 2], [4, 5]]


def test_size_is_a_tuple_with_numel_and_a_repr():
    """tg.Size as torch.Size; Tensor.shape stays a plain tuple (its cost: see backend/size.py),
    equal to PyTorch's Size."""
    for shape in ((2, 3), (), (4, 0, 1)):
        ts, gs = torch.Size(shape), tg.Size(shape)
        assert isinstance(gs, tuple) and gs == ts == tuple(shape) == tg.zeros(shape).shape
        assert hash(gs) == hash(tuple(shape)) and gs.numel() == ts.numel()
        assert repr(gs) == repr(ts).replace("torch", "tinygen") == str(gs)
        for ours, theirs in ((gs[1:], ts[1:]), (gs + (5,), ts + (5,)), ((5,) + gs, (5,) + ts),
                             (gs * 2, ts * 2), (2 * gs, 2 * ts)):
            assert type(ours) is tg.Size and type(theirs) is torch.Size and ours == theirs
        assert pickle.loads(pickle.dumps(gs)) == gs
    assert tg.Size([np.int64(2), tg.tensor(3)]) == torch.Size([np.int64(2), torch.tensor(3)])
    for lib in (torch, tg):
        with pytest.raises(TypeError, match="item 0 is 'float'"):
            lib.Size([2.0])
    x = tg.zeros(2, 3)                       # a Size is taken wherever a shape is
    for y in (tg.zeros(tg.Size([2, 3])), x.reshape(tg.Size([2, 3])), x.new_zeros(tg.Size([2, 3])),
              x.expand(tg.Size([4, 2, 3]))[0], x.view(tg.Size([2, 3]))):
        assert y.shape == (2, 3)


def test_dataloader_argument_checks():
    from torch.utils.data import DataLoader as TorchLoader, TensorDataset as TorchTensors
    import torch.utils.data as tud  # lazy: torch is the optional reference (importorskip above)
    ds, tds = TensorDataset(np.arange(10)), TorchTensors(torch.arange(10))
    for kwargs in (dict(batch_size=2.0), dict(batch_size=True), dict(batch_size=0),
                   dict(batch_size="2"), dict(multiprocessing_context="fork"),
                   dict(multiprocessing_context="spawn", num_workers=0),
                   dict(multiprocessing_context="no such method", num_workers=1),
                   dict(multiprocessing_context=3, num_workers=1)):
        kinds = []
        for loader, data in ((TorchLoader, tds), (DataLoader, ds)):
            with pytest.raises(Exception) as e:
                loader(data, **kwargs)
            kinds.append(e.type)
        assert kinds[0] is kinds[1] and kinds[0] in (ValueError, TypeError), kwargs
    assert len(DataLoader(ds, batch_size=3)) == len(TorchLoader(tds, batch_size=3)) == 4
    loader = DataLoader(ds, num_workers=1, multiprocessing_context="spawn")
    assert loader.multiprocessing_context is not None

    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(3))

    class TorchStream(tud.IterableDataset):
        def __iter__(self):
            return iter(range(3))
    assert hasattr(Stream(), "__len__") is hasattr(TorchStream(), "__len__") is False
    assert hasattr(tg.data.Dataset(), "__len__") is hasattr(tud.Dataset(), "__len__") is False
    for stream in (Stream(), TorchStream()):
        with pytest.raises(TypeError):
            len(stream)
    with pytest.raises(TypeError):
        len(DataLoader(Stream()))
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=2)] == [[0, 1], [2]]


def test_old_register_backward_hook():
    """Run as a full backward hook (warns, FutureWarning, as PyTorch): for a module of one op on
    one input (ReLU) grad_input, grad_output and a replaced grad_input are PyTorch's; mixing
    old and full hooks on one module raises RuntimeError, as PyTorch."""
    seen = []
    for lib, _ in LIBS:
        rec = []
        m = lib.nn.ReLU()
        x = lib.tensor([-1., 2., 3.], requires_grad=True)
        with warnings.catch_warnings():               # (PyTorch's at forward, tinygen's here)
            warnings.simplefilter("ignore")
            m.register_backward_hook(lambda mod, gi, go, rec=rec: rec.append(
                (_np(gi[0]), _np(go[0]))) or (gi[0] * 0 + 5,))
            (m(x) * lib.tensor([1., 2., 3.])).sum().backward()
        seen.append((rec, _np(x.grad)))
    (t_rec, t_grad), (g_rec, g_grad) = seen
    assert len(g_rec) == len(t_rec) == 1
    for got, want in zip(g_rec[0], t_rec[0]):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(g_grad, t_grad)
    with pytest.warns(FutureWarning, match="register_full_backward_hook"):
        tg.nn.Tanh().register_backward_hook(lambda *a: None)
    for first, second in (("register_full_backward_hook", "register_backward_hook"),
                          ("register_backward_hook", "register_full_backward_hook")):
        def program(lib, first=first, second=second):
            m = lib.nn.ReLU()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                getattr(m, first)(lambda *a: None)
                getattr(m, second)(lambda *a: None)
        assert _same_error(program) == [RuntimeError, RuntimeError]


@pytest.mark.parametrize("kwargs", [dict(scale_grad_by_freq=True),
                                    dict(scale_grad_by_freq=True, padding_idx=0),
                                    dict(scale_grad_by_freq=True, max_norm=1.0),
                                    dict(sparse=True), dict(sparse=True, padding_idx=2)])
def test_embedding_scale_grad_by_freq_and_sparse(kwargs):
    """scale_grad_by_freq: each row's gradient divided by its index's count in the batch (and
    PyTorch's unscaled double backward); sparse=True: PyTorch's values, in a dense gradient."""
    rng = np.random.default_rng(0)
    weight, g = rng.standard_normal((6, 3)), rng.standard_normal((2, 4, 3))
    idx = np.array([[0, 2, 2, 5], [2, 1, 0, 0]])
    grads = []
    for lib, _ in LIBS:
        m = lib.nn.Embedding(6, 3, **kwargs).double()
        with lib.no_grad():
            m.weight.copy_(lib.tensor(weight))
        (m(lib.tensor(idx)) * lib.tensor(g)).sum().backward()
        grad = m.weight.grad
        grads.append(_np(grad.to_dense() if lib is torch and grad.is_sparse else grad))
        if not kwargs.get("sparse"):                   # second order, through F.embedding
            w = lib.tensor(weight, requires_grad=True)
            y = lib.nn.functional.embedding(lib.tensor(idx), w, **kwargs)
            (first,) = lib.autograd.grad((y ** 2).sum(), w, create_graph=True)
            first.sum().backward()
            grads += [_np(first), _np(w.grad)]
    half = len(grads) // 2
    for got, want in zip(grads[half:], grads[:half]):
        np.testing.assert_allclose(got, want, atol=1e-12)
    both = lambda lib: lib.nn.functional.embedding(                       # noqa: E731
        lib.tensor(idx), lib.ones(6, 3, requires_grad=True), scale_grad_by_freq=True,
        sparse=True).sum().backward()
    assert _same_error(both) == [RuntimeError, RuntimeError]


def test_module_list_insert_negative_index():
    """PyTorch raises KeyError for a negative index (tinygen without changing the list);
    0..len inserts as list.insert."""
    for index in (-1, -3, -4, 0, 1, 3):
        def program(lib, index=index):
            ml = lib.nn.ModuleList([lib.nn.ReLU(), lib.nn.Tanh(), lib.nn.Sigmoid()])
            ml.insert(index, lib.nn.Identity())
            return [type(m).__name__ for m in ml], list(ml._modules)
        kinds = _same_error(program)
        assert kinds[0] is kinds[1], (index, kinds)
        if kinds[0] is None:
            assert program(tg) == program(torch)
    ml = tg.nn.ModuleList([tg.nn.ReLU(), tg.nn.Tanh()])
    with pytest.raises(KeyError, match="negative index -1"):
        ml.insert(-1, tg.nn.Identity())
    assert [type(m).__name__ for m in ml] == ["ReLU", "Tanh"]


def test_sign_of_nan_is_zero_as_torch():
    # NumPy's sign(NaN) is NaN; torch's sign and sgn give 0 (in place too); abs's gradient at NaN
    # follows (0)
    torch = pytest.importorskip("torch")
    values = [float("nan"), -0.0, 0.0, -2.5, 3.0, float("inf"), -float("inf")]
    for dtype, tdtype in [(tg.float32, torch.float32), (tg.float16, torch.float16)]:
        want = torch.tensor(values, dtype=tdtype)
        for name in ("sign", "sgn"):
            got = getattr(tg.tensor(values, dtype=dtype), name)()
            np.testing.assert_array_equal(got.numpy(), getattr(want, name)().numpy())
        t = tg.tensor(values, dtype=dtype)
        t.sign_()
        np.testing.assert_array_equal(t.numpy(), want.sign().numpy())
    x = tg.tensor(values, requires_grad=True)
    xt = torch.tensor(values, requires_grad=True)
    tg.sign(x).sum().backward()
    torch.sign(xt).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


def test_format_of_a_tensor_as_torch():
    # f"{loss:.4f}" in a training loop: a 0-d tensor formats as its number; others as their repr
    # without a spec and a TypeError with one
    torch = pytest.importorskip("torch")
    for value, spec in [(0.5, ".3f"), (0.123456, ".4f"), (3, ">4"), (2.5, ""), (True, "")]:
        assert format(tg.tensor(value), spec) == format(torch.tensor(value), spec)
    assert format(tg.tensor(0.25, requires_grad=True) * 2, ".2f") == "0.50"
    assert f"{tg.tensor([0.5])}" == repr(tg.tensor([0.5]))
    with pytest.raises(TypeError):
        format(tg.tensor([0.5]), ".3f")
    with pytest.raises(TypeError):
        format(torch.tensor([0.5]), ".3f")


@pytest.mark.parametrize("f", [lambda m, x: m.prod(x), lambda m, x: (1 / x).sum(),
                               lambda m, x: m.log(x.abs()).sum(), lambda m, x: x.abs().sqrt().sum()])
def test_second_derivative_through_a_zero_upstream_gradient_as_torch(f):
    # d/dv of (d f / d x)^T-vector products at v = 0: the backward rules' zero guard cut the
    # graph to v where v was exactly 0 (found by the autograd.functional helper: hvp of prod)
    x0 = np.array([0.5, 1.5, -0.4, 2.0])
    results = []
    for lib in (tg, torch):
        x = lib.tensor(x0, requires_grad=True)
        v = lib.tensor(np.zeros(4), requires_grad=True)
        (g,) = lib.autograd.grad(f(lib, x), x, create_graph=True)
        (h,) = lib.autograd.grad(g, x, v, create_graph=True)
        (r,) = lib.autograd.grad((h * lib.tensor(np.arange(1.0, 5.0))).sum(), v)
        results.append(r.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-12)
