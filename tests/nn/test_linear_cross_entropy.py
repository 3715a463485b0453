"""F.linear_cross_entropy, nn.LinearCrossEntropyLoss and nn.LinearCrossEntropyOptions against
PyTorch 2.13 and against tinygen's own reference path, cross_entropy(linear(x, W, b), t):
every reduction, class weights, ignore_index, label_smoothing, probabilities, bias, K-dim
weights, options on and off; gradients by finite differences (float64) and against PyTorch;
the chunked path's memory; the module's state dict both ways; the errors."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from tinygen import nn
from tinygen.nn.linear_cross_entropy import CPU_MIN_CHUNK_ROWS

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]
TIGHT = dict(rtol=1e-12, atol=1e-13)          # chunked vs reference, float64
F32 = dict(rtol=2e-5, atol=2e-6)              # chunked vs reference and torch, float32
TORCH64 = dict(rtol=1e-10, atol=1e-12)        # tinygen vs torch, float64
CHUNKS = {"off": None, "rows2": nn.LinearCrossEntropyOptions(batch_chunk_size=2),
          "auto": nn.LinearCrossEntropyOptions()}


@pytest.fixture(scope="module", autouse=True)
def _warm_up():
    """Once per run, outside the timed tests: tinygen's first cross_entropy loads its numba
    kernels (~0.5 s)."""
    F.cross_entropy(tg.zeros(1, 2, requires_grad=True), tg.zeros(1, dtype=tg.int64)).backward()


def _case(N=5, D=3, C=7, seed=0, dtype=np.float64, ignore=True):
    """x (N, D), W (C, D), b (C,), class weights (C,), targets (N,) (one -100 if ignore)."""
    rng = np.random.default_rng(seed)
    x, W, b = rng.standard_normal((N, D)), rng.standard_normal((C, D)), rng.standard_normal(C)
    w = rng.uniform(0.2, 2.0, C)
    t = rng.integers(0, C, N)
    if ignore:
        t[1] = -100
    return [a.astype(dtype) for a in (x, W, b, w)] + [t]


def _run(lib, fn, arrays, diff=(0, 1, 2), gy_seed=1, **kwargs):
    """fn(x, W, t, linear_bias=b, weight=w, **kwargs) in tinygen or torch -> (loss, grads of
    the arrays in `diff`) as NumPy, backpropagating a fixed random output gradient gy (as
    (loss * gy).sum(): torch's backward(gy) imports sympy on first use, ~1 s)."""
    x, W, b, w, t = arrays
    make = tg.tensor if lib is tg else torch.tensor
    ts = [None if a is None else make(a, requires_grad=i in diff)
          for i, a in enumerate((x, W, b))]
    weight = None if w is None else make(w)
    loss = fn(ts[0], ts[1], make(t), linear_bias=None if b is None else ts[2], weight=weight,
              **kwargs)
    gy = np.random.default_rng(gy_seed).standard_normal(tuple(loss.shape)).astype(x.dtype)
    (loss * make(gy)).sum().backward()
    grads = [ts[i].grad.numpy() if ts[i].grad is not None else None for i in diff]
    return loss.detach().numpy(), grads


def _close(a, e, **tol):
    a, e = (v if isinstance(v, list) else [v] for v in (a, e))
    assert len(a) == len(e)
    for u, v in zip(a, e):
        np.testing.assert_allclose(u, v, **tol)


# ---- values and gradients ------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("chunks", ["rows2", "auto"])
@pytest.mark.parametrize("bias, weights", [(False, False), (True, True)])
def test_chunked_equals_reference_and_torch(reduction, chunks, bias, weights):
    arrays = _case()
    arrays[2] = arrays[2] if bias else None
    arrays[3] = arrays[3] if weights else None
    diff = (0, 1, 2) if bias else (0, 1)
    kw = dict(reduction=reduction)
    ref = _run(tg, F.linear_cross_entropy, arrays, diff, **kw)
    out = _run(tg, F.linear_cross_entropy, arrays, diff, options=CHUNKS[chunks], **kw)
    expected = _run(torch, TF.linear_cross_entropy, arrays, diff, **kw)
    _close(out[0], ref[0], **TIGHT)
    _close(out[1], ref[1], **TIGHT)
    _close(ref[0], expected[0], **TORCH64)
    _close(ref[1], expected[1], **TORCH64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_chunked_float32_within_stated_tolerance(reduction):
    arrays = _case(N=33, D=8, C=50, seed=3, dtype=np.float32)
    opts = nn.LinearCrossEntropyOptions(batch_chunk_size=4)
    ref = _run(tg, F.linear_cross_entropy, arrays, reduction=reduction)
    out = _run(tg, F.linear_cross_entropy, arrays, reduction=reduction, options=opts)
    # torch's reference path: its chunked op imports torch._dynamo on first use (3 s)
    expected = _run(torch, TF.linear_cross_entropy, arrays, reduction=reduction)
    assert out[0].dtype == np.float32 and all(g.dtype == np.float32 for g in out[1])
    for got in (out, ref):
        _close(got[0], expected[0], **F32)
        _close(got[1], expected[1], **F32)
    _close(out[0], ref[0], **F32)
    _close(out[1], ref[1], **F32)


@pytest.mark.parametrize("size", [1, 3, 5, 64])
def test_every_chunk_size_gives_the_same(size):
    arrays = _case(N=5)
    ref = _run(tg, F.linear_cross_entropy, arrays)
    out = _run(tg, F.linear_cross_entropy, arrays,
               options=nn.LinearCrossEntropyOptions(batch_chunk_size=size))
    _close(out[0], ref[0], **TIGHT)
    _close(out[1], ref[1], **TIGHT)


def test_ignore_index_default_custom_and_all_ignored():
    x, W, b, w, t = _case()                           # t[1] = -100: ignored by default
    t2 = np.where(t < 0, 2, t)                        # no -100; class 2 ignored below
    for opts in (None, CHUNKS["rows2"]):
        for target, kw in ((t, {}), (t, {"ignore_index": -100}), (t2, {"ignore_index": 2})):
            got = _run(tg, F.linear_cross_entropy, [x, W, b, w, target], options=opts, **kw)
            expected = _run(torch, TF.linear_cross_entropy, [x, W, b, w, target], **kw)
            _close(got[0], expected[0], **TORCH64)
            _close(got[1], expected[1], **TORCH64)
        # every target ignored: 'mean' is NaN and the gradients 0 (the reference path's; PyTorch's
        # chunked op gives NaN gradients there)
        loss, grads = _run(tg, F.linear_cross_entropy, [x, W, b, w, np.full(5, -100)],
                           options=opts)
        assert np.isnan(loss) and all(not g.any() for g in grads)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_label_smoothing_and_probabilities_fall_back_with_torch_warning(reduction):
    x, W, b, w, t = _case(ignore=False)
    probs = np.random.default_rng(4).dirichlet(np.ones(7), 5)            # (N, C)
    for target, kw in ((t, {"label_smoothing": 0.2}), (probs, {}),
                       (probs, {"label_smoothing": 0.1})):
        expected = _run(torch, TF.linear_cross_entropy, [x, W, b, w, target],
                        reduction=reduction, **kw)
        got = _run(tg, F.linear_cross_entropy, [x, W, b, w, target], reduction=reduction, **kw)
        with pytest.warns(UserWarning, match="linear_cross_entropy: ``options`` ignored"):
            chunked = _run(tg, F.linear_cross_entropy, [x, W, b, w, target],
                           reduction=reduction, options=CHUNKS["auto"], **kw)
        for out in (got, chunked):
            _close(out[0], expected[0], **TORCH64)
            _close(out[1], expected[1], **TORCH64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_k_dimensional_weights_and_probabilities(reduction):
    rng = np.random.default_rng(5)
    x, W = rng.standard_normal((3, 4)), rng.standard_normal((5, 2, 4))     # C = 5, d1 = 2
    b = rng.standard_normal((5, 2))
    w, t = rng.uniform(0.5, 2, 5), rng.integers(0, 5, (3, 2))
    t[0, 1] = -100
    probs = rng.dirichlet(np.ones(5), (3, 2)).transpose(0, 2, 1).copy()   # (N, C, d1)
    for target, weight in ((t, w), (probs, None)):
        arrays = [x, W, b, weight, target]
        expected = _run(torch, TF.linear_cross_entropy, arrays, reduction=reduction)
        got = _run(tg, F.linear_cross_entropy, arrays, reduction=reduction)
        _close(got[0], expected[0], **TORCH64)
        _close(got[1], expected[1], **TORCH64)
    with pytest.warns(UserWarning, match=r"out_features=\(2,\)"):
        F.linear_cross_entropy(tg.tensor(x), tg.tensor(W), tg.tensor(t), options=CHUNKS["auto"])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("chunks", ["off", "auto"])
def test_unbatched_input(reduction, chunks):
    x, W, b, w, t = _case(ignore=False)
    for target in (t[0], np.random.default_rng(6).dirichlet(np.ones(7))):
        if chunks == "auto" and target.dtype.kind == "f":
            continue                                   # probabilities: the reference path
        arrays = [x[0], W, b, w, target]
        expected = _run(torch, TF.linear_cross_entropy, arrays, reduction=reduction)
        got = _run(tg, F.linear_cross_entropy, arrays, reduction=reduction,
                   options=CHUNKS[chunks])
        assert got[0].shape == expected[0].shape
        _close(got[0], expected[0], **TORCH64)
        _close(got[1], expected[1], **TORCH64)


def test_empty_batch_like_torch():
    x, W, b, w, t = _case()
    for opts in (None, CHUNKS["auto"]):
        for reduction in REDUCTIONS:
            got = F.linear_cross_entropy(tg.tensor(x[:0]), tg.tensor(W), tg.tensor(t[:0]),
                                         reduction=reduction, options=opts)
            expected = TF.linear_cross_entropy(torch.tensor(x[:0]), torch.tensor(W),
                                               torch.tensor(t[:0]), reduction=reduction)
            _close(got.numpy(), expected.numpy(), equal_nan=True)


def test_half_input_accumulates_in_float32():
    x, W, b, w, t = _case(N=9, D=4, C=12, seed=7, ignore=False)
    x16, W16 = (tg.tensor(a.astype(np.float16), requires_grad=True) for a in (x, W))
    loss = F.linear_cross_entropy(x16, W16, tg.tensor(t), options=CHUNKS["auto"])
    loss.backward()
    assert loss.dtype == tg.float16 and x16.grad.dtype == tg.float16
    x32, W32 = (tg.tensor(a.astype(np.float16).astype(np.float32), requires_grad=True)
                for a in (x, W))
    ref = F.linear_cross_entropy(x32, W32, tg.tensor(t))
    ref.backward()
    _close(loss.float().numpy(), ref.numpy(), rtol=1e-3)
    _close(x16.grad.float().numpy(), x32.grad.numpy(), rtol=1e-2, atol=1e-4)


# ---- finite differences --------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("chunks", ["off", "rows2"])
def test_gradcheck(reduction, chunks):
    x, W, b, w, t = _case(N=3, D=2, C=4, seed=8)
    ins = [tg.tensor(a, requires_grad=True) for a in (x, W, b)]

    def fn(x, W, b):
        return F.linear_cross_entropy(x, W, tg.tensor(t), linear_bias=b, weight=tg.tensor(w),
                                      reduction=reduction, options=CHUNKS[chunks])

    assert tg.autograd.gradcheck(fn, ins)
    if chunks == "off":
        assert tg.autograd.gradgradcheck(fn, ins)


# ---- the chunked path's autograd contract ----------------------------------------------------
def test_backward_twice_and_double_backward():
    x, W, b, w, t = _case()
    xt, Wt = tg.tensor(x, requires_grad=True), tg.tensor(W, requires_grad=True)
    for allow in (False, True):
        loss = F.linear_cross_entropy(xt, Wt, tg.tensor(t), options=nn.LinearCrossEntropyOptions(
            allow_retain_graph=allow))
        loss.backward(retain_graph=True)
        if allow:
            loss.backward()
        else:
            with pytest.raises(RuntimeError, match="chunked backward called twice"):
                loss.backward()
    loss = F.linear_cross_entropy(xt, Wt, tg.tensor(t), reduction="none", options=CHUNKS["auto"])
    loss.sum().backward(retain_graph=True)
    loss.sum().backward()                             # 'none' recomputes: retain_graph works
    loss = F.linear_cross_entropy(xt, Wt, tg.tensor(t), options=CHUNKS["auto"])
    with pytest.raises(RuntimeError, match="linear_cross_entropy: the chunked path .* no double "
                                           "backward"):
        tg.autograd.grad(loss, xt, create_graph=True)
    with tg.no_grad():                                # no gradients asked for: the loss alone
        assert F.linear_cross_entropy(xt, Wt, tg.tensor(t), options=CHUNKS["auto"]).grad_fn is None


def test_chunked_path_saves_memory():
    """tracemalloc sees NumPy's allocations: the reference path holds the (N, C) logits and
    their gradient; the chunked path one (chunk, C) block and the gradients."""
    rng = np.random.default_rng(9)
    N, D, C = 2048, 16, 1024                          # logits: 16 MiB in float64, chunks of
    #                                                   256 rows (CPU_MIN_CHUNK_ROWS) 2 MiB
    x, W, t = rng.standard_normal((N, D)), rng.standard_normal((C, D)) * 0.1, rng.integers(0, C, N)
    peaks = {}
    for name, opts in (("reference", None), ("chunked", CHUNKS["auto"])):
        xt, Wt = tg.tensor(x, requires_grad=True), tg.tensor(W, requires_grad=True)
        tracemalloc.start()
        F.linear_cross_entropy(xt, Wt, tg.tensor(t), options=opts).backward()
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peaks["chunked"] < (N * D + 3 * C * D) * 8 + N * C * 8 / 4 < peaks["reference"] / 2


# ---- options ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fields", [
    {}, {"batch_chunk_size": 3}, {"batch_chunk_size": 1000}, {"chunking_method": "aspect_ratio"},
    {"chunking_method": "aspect_ratio:4"}, {"chunking_method": None},
    {"acc_policy": "balanced", "chunking_method": "aspect_ratio:2"}])
def test_options_resolve_as_torch(fields):
    for (N, D, C) in ((5, 3, 7), (4096, 64, 50000), (100, 200, 10), (0, 4, 8)):
        for dtype in ("float32", "float64", "float16"):
            if fields.get("batch_chunk_size") == 3 and N < 3:
                continue
            ours = nn.LinearCrossEntropyOptions(**fields)._adjust(N, D, C, getattr(tg, dtype),
                                                                   tg.device("cpu"))
            theirs = torch.nn.LinearCrossEntropyOptions(**fields)._adjust(
                N, D, C, getattr(torch, dtype), torch.device("cpu"))
            want = theirs.batch_chunk_size          # but chunks picked by a method on the CPU
            if theirs.chunking_method is not None and fields.get("batch_chunk_size") is None:
                want = max(want, min(N, CPU_MIN_CHUNK_ROWS))      # have tinygen's floor
            assert (ours.batch_chunk_size, ours.acc_policy, ours.chunking_method,
                    ours.acc_dtype.name) == (want, theirs.acc_policy,
                                             theirs.chunking_method, str(theirs.acc_dtype)[6:])


def test_options_errors_as_torch():
    for fields in ({"acc_policy": "fast"}, {"chunking_method": "square"},
                   {"chunking_method": "aspect_ratio:0"}, {"batch_chunk_size": 0},
                   {"batch_chunk_size": 2.0}):
        with pytest.raises(ValueError) as ours:
            nn.LinearCrossEntropyOptions(**fields)
        with pytest.raises(ValueError) as theirs:
            torch.nn.LinearCrossEntropyOptions(**fields)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError, match="acc_dtype must be one of"):
        nn.LinearCrossEntropyOptions(acc_dtype=tg.int64)
    with pytest.raises(ValueError, match="give different chunk sizes"):
        nn.LinearCrossEntropyOptions(batch_chunk_size=3, chunking_method="aspect_ratio")._adjust(
            64, 4, 8, tg.float32)
    x, W, b, w, t = _case()
    with pytest.raises(RuntimeError, match="supports float32 acc_dtype with float16/bfloat16"):
        F.linear_cross_entropy(tg.tensor(x), tg.tensor(W), tg.tensor(t),
                               options=nn.LinearCrossEntropyOptions(acc_dtype=tg.float32))
    with pytest.raises(TypeError, match="expected options to be a LinearCrossEntropyOptions"):
        F.linear_cross_entropy(tg.tensor(x), tg.tensor(W), tg.tensor(t), options={})


# ---- errors ----------------------------------------------------------------------------------
def test_errors():
    x, W, b, w, t = (tg.tensor(a) for a in _case())
    cases = [
        (RuntimeError, "dimensionality 1 or 2, got 3", lambda: F.linear_cross_entropy(
            x.reshape(5, 3, 1), W, t)),
        (RuntimeError, "linear_weight with dimensionality at least 2", lambda:
            F.linear_cross_entropy(x, W[0], t)),
        (RuntimeError, "in_features\\), got 3 and 2", lambda: F.linear_cross_entropy(
            x, W[:, :2], t)),
        (RuntimeError, r"expected linear_bias shape \(7,\), got \(6,\)", lambda:
            F.linear_cross_entropy(x, W, t, linear_bias=b[:6])),
        (RuntimeError, "requires batched input", lambda: F.linear_cross_entropy(
            x[0], W.reshape(7, 1, 3), t[0])),
        (RuntimeError, "ignore_index cannot be specified when target contains probabilities",
         lambda: F.linear_cross_entropy(x, W, tg.ones(5, 7, dtype=tg.float64) / 7,
                                        ignore_index=-1)),
        (ValueError, "'batchmean' is not a valid value for reduction", lambda:
            F.linear_cross_entropy(x, W, t, reduction="batchmean", options=CHUNKS["auto"])),
        (RuntimeError, "same dtype", lambda: F.linear_cross_entropy(x.float(), W, t)),
        (RuntimeError, r"expected target of shape \(5,\) .* got target of shape \(5, 1\)",
         lambda: F.linear_cross_entropy(x, W, t.reshape(5, 1), options=CHUNKS["auto"])),
        (IndexError, "linear_cross_entropy: target 7 is out of bounds", lambda:
            F.linear_cross_entropy(x, W, tg.tensor([0, 1, 2, 3, 7]), options=CHUNKS["auto"])),
        (RuntimeError, r"expected weight of shape \(7,\)", lambda: F.linear_cross_entropy(
            x, W, t, weight=w[:3], options=CHUNKS["auto"])),
        (RuntimeError, "gives no gradient for the class weights", lambda:
            F.linear_cross_entropy(x, W, t, weight=w.requires_grad_(), options=CHUNKS["auto"])),
    ]
    for kind, message, call in cases:
        with pytest.raises(kind, match=message):
            call()


# ---- the module ------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    {}, {"bias": True, "out_features": (2, 3)},
    {"bias": True, "reduction": "sum", "ignore_index": 1, "label_smoothing": 0.1},
    {"bias": True, "options": "auto"}])
def test_module_state_dict_both_ways_and_forward(kwargs):
    torch.manual_seed(0)
    D, C, N = 4, 6, 5
    out = kwargs.get("out_features", ())
    weight = np.random.default_rng(10).uniform(0.5, 2, C)
    kw_tg, kw_th = dict(kwargs), dict(kwargs)
    if kwargs.get("options") == "auto":      # torch's reference path: its chunked op imports
        kw_tg["options"], kw_th["options"] = CHUNKS["auto"], None     # torch._dynamo (3 s)
    ours = nn.LinearCrossEntropyLoss(D, C, weight=tg.tensor(weight), dtype=tg.float64, **kw_tg)
    theirs = torch.nn.LinearCrossEntropyLoss(D, C, weight=torch.tensor(weight),
                                             dtype=torch.float64, **kw_th)
    ours_keys = list(ours.state_dict())
    assert ours_keys == list(theirs.state_dict())
    for k, v in ours.state_dict().items():                    # PyTorch's init bound, 1/sqrt(in)
        assert tuple(v.shape) == tuple(theirs.state_dict()[k].shape)
        if k.startswith("linear."):
            assert np.abs(v.numpy()).max() <= 1 / np.sqrt(D)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(11)
    x, t = rng.standard_normal((N, D)), rng.integers(0, C, (N, *out))
    got, expected = ours(tg.tensor(x), tg.tensor(t)), theirs(torch.tensor(x), torch.tensor(t))
    _close(got.detach().numpy(), expected.detach().numpy(), **TORCH64)
    got.sum().backward()
    expected.sum().backward()
    _close(ours.linear.weight.grad.numpy(), theirs.linear.weight.grad.numpy(), **TORCH64)


def test_module_constructor_errors():
    with pytest.raises(RuntimeError, match=r"expected weight shape to be \(6,\), got \(5,\)"):
        nn.LinearCrossEntropyLoss(4, 6, weight=tg.ones(5))
    with pytest.raises(RuntimeError, match=r"label_smoothing to be in range \[0, 1\], got 1.5"):
        nn.LinearCrossEntropyLoss(4, 6, label_smoothing=1.5)
    module = nn.LinearCrossEntropyLoss(4, 6)
    assert module.linear.bias is None and tuple(module.linear.weight.shape) == (6, 4)
    assert "linear_cross_entropy" in F.__all__
    assert {"LinearCrossEntropyLoss", "LinearCrossEntropyOptions"} <= set(nn.__all__)
