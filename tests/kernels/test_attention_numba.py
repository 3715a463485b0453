"""The CPU flash-attention kernels (tinygen_kernels.attention, impls numba_v1 and blas_v1)
against the NumPy references: hypothesis-drawn shapes (batch, heads 1-3, T, S 1-150, D, Dv
1-40, causal or not, scale None or a float, float32 and float64), sizes over one block in T and
S, on the serial and the forced parallel path, and the NotImplemented fallback for inputs it does
not take."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

pytest.importorskip("numba")

from tinygen_kernels import _numba, _threads, attention, registry  # noqa: E402

HYPOTHESIS = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                      suppress_health_check=[HealthCheck.too_slow])
FWD_TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-9, atol=1e-9)}
BWD_TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-9, atol=1e-9)}


def _inputs(seed, B, H, T, S, D, Dv, dtype):
    rng = np.random.default_rng(seed)
    q, k = (rng.standard_normal((B, H, n, D)).astype(dtype) for n in (T, S))
    v = rng.standard_normal((B, H, S, Dv)).astype(dtype)
    do = rng.standard_normal((B, H, T, Dv)).astype(dtype)
    return q, k, v, do


# blas_v1 twice: its chunks of heads over tinygen's threads, and as one prange loop on numba's
# pool calling BLAS by address (_threads.one_pool, where numba runs on OpenMP)
IMPLS = ["numba_v1", "blas_v1", "blas_v1/one_pool"]


def _check(q, k, v, do, causal, scale, parallel_from=None, impl="numba_v1"):
    dtype = q.dtype.type
    impl, _, mode = impl.partition("/")
    if mode and not _numba.ONE_POOL_LAYER:
        pytest.skip("numba's OpenMP layer with NumPy's OpenBLAS callback")
    saved = _numba.PARALLEL_MIN_ELEMENTS, _threads.ONE_POOL
    native = attention._native_forward, attention._native_backward
    ran = []
    attention._native_forward, attention._native_backward = (
        lambda *a, _f=f: (ran.append(_f), _f(*a))[1] for f in native)
    _threads.ONE_POOL = bool(mode)                    # one_pool() or tinygen's threads
    if parallel_from is not None:
        _numba.PARALLEL_MIN_ELEMENTS = parallel_from
    try:
        o, lse = registry.dispatch("flash_attention_fwd", "cpu", impl=impl)(
            q, k, v, causal=causal, scale=scale)
        o_ref, lse_ref = attention.flash_attention_fwd(q, k, v, causal=causal, scale=scale)
        assert o.dtype == o_ref.dtype and lse.dtype == lse_ref.dtype == q.dtype
        assert o.shape == o_ref.shape and lse.shape == lse_ref.shape
        np.testing.assert_allclose(o, o_ref, **FWD_TOL[dtype])
        np.testing.assert_allclose(lse, lse_ref, **FWD_TOL[dtype])
        grads = registry.dispatch("flash_attention_bwd", "cpu", impl=impl)(
            q, k, v, o_ref, lse_ref, do, causal=causal, scale=scale)
        refs = attention.flash_attention_bwd(q, k, v, o_ref, lse_ref, do, causal=causal,
                                             scale=scale)
        for name, got, want in zip(("dq", "dk", "dv"), grads, refs):
            assert got.dtype == want.dtype and got.shape == want.shape, name
            np.testing.assert_allclose(got, want, err_msg=name, **BWD_TOL[dtype])
        assert ran == (list(native) if mode else [])
    finally:
        _numba.PARALLEL_MIN_ELEMENTS, _threads.ONE_POOL = saved
        attention._native_forward, attention._native_backward = native


@pytest.fixture(autouse=True)
def numba_loops_for_every_size(monkeypatch):
    """The tests below check the numba loops at every size: lift the size above which numba_v1
    and blas_v1 hand a head to numpy_tiled_v1 (test_large_heads_run_the_tiled_version checks
    that choice)."""
    monkeypatch.setattr(attention, "NUMBA_MAX_SCORES", 10**12)
    monkeypatch.setattr(attention, "BLAS_MAX_SCORES", 10**12)


def test_both_are_registered_and_blas_is_the_default():
    for name in ("flash_attention_fwd", "flash_attention_bwd"):
        impls = registry.kernels_for(name)
        assert ("cpu", "numba_v1") in impls and ("cpu", "blas_v1") in impls
        assert registry._TABLE[name].defaults["cpu"] == "blas_v1"


@pytest.mark.parametrize("impl", IMPLS[:2])
def test_large_heads_run_the_tiled_version(monkeypatch, impl):
    calls = []
    monkeypatch.setattr(attention, "NUMBA_MAX_SCORES", 100)
    monkeypatch.setattr(attention, "BLAS_MAX_SCORES", 100)
    for name in ("flash_attention_fwd_tiled", "flash_attention_bwd_tiled"):
        original = getattr(attention, name)
        monkeypatch.setattr(attention, name,
                            lambda *a, _f=original, _n=name, **k: calls.append(_n) or _f(*a, **k))
    q, k, v, do = _inputs(0, 1, 2, 11, 11, 8, 8, np.float64)       # 121 scores per head > 100
    _check(q, k, v, do, True, None, impl=impl)
    assert calls == ["flash_attention_fwd_tiled", "flash_attention_bwd_tiled"]


@HYPOTHESIS
@given(B=st.integers(1, 3), H=st.integers(1, 3), T=st.integers(1, 150), S=st.integers(1, 150),
       D=st.integers(1, 40), Dv=st.one_of(st.none(), st.integers(1, 40)), causal=st.booleans(),
       scale=st.one_of(st.none(), st.floats(0.05, 2.0)),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16),
       parallel=st.booleans(), chunk=st.sampled_from([1 << 20, 1]))
@pytest.mark.parametrize("impl", IMPLS)
def test_kernel_matches_reference(impl, B, H, T, S, D, Dv, causal, scale, dtype, seed, parallel,
                                  chunk):
    if causal:
        S = T
    q, k, v, do = _inputs(seed, B, H, T, S, D, D if Dv is None else Dv, dtype)
    saved = attention.BLAS_CHUNK_SCORES
    attention.BLAS_CHUNK_SCORES = chunk                 # 1: blas_v1 one head at a time
    try:
        _check(q, k, v, do, causal, scale, parallel_from=0 if parallel else None, impl=impl)
    finally:
        attention.BLAS_CHUNK_SCORES = saved


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("T,S", [(200, 200), (130, 257), (257, 70)])
def test_over_one_block(impl, dtype, causal, T, S):
    assert max(T, S) > attention.NUMBA_BLOCK and min(T, S) > 1
    q, k, v, do = _inputs(T * S, 2, 2, T, S, 24, 20, dtype)
    _check(q, k, v, do, causal, None, impl=impl)
    _check(q, k, v, do, causal, 0.5, parallel_from=0, impl=impl)


def _views(rng, lead, T, S, D, dtype):
    """q, k, v, do as a model passes them: (B, H, T, D) transposed views of one (B, T, 3, H, D)
    projection (rows 3 H D apart), for lead = (B, H); for other ranks, slices of wider rows."""
    if len(lead) == 2:
        B, H = lead
        qkv = rng.standard_normal((B, T, 3, H, D)).astype(dtype)
        q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
        return q, k, v, rng.standard_normal((B, T, H, D)).astype(dtype).transpose(0, 2, 1, 3)
    wide = [rng.standard_normal(lead + (T, 2 * D + 1)).astype(dtype) for _ in range(4)]
    return tuple(a[..., 1:D + 1] for a in wide)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("lead", [(3, 2), (2,), (), (2, 1, 2), (1, 3)])
@pytest.mark.parametrize("causal", [False, True])
def test_heads_given_as_views(impl, lead, causal):
    # blas_v1 hands such views to BLAS with their strides (attention._stacks); numba_v1 copies
    rng = np.random.default_rng(len(lead))
    q, k, v, do = _views(rng, lead, 9, 9, 5, np.float64)
    assert not q.flags.c_contiguous
    _check(q, k, v, do, causal, None, impl=impl)
    _check(q[..., ::-1], k[..., ::-1], v, do, causal, None, impl=impl)    # no unit stride: a copy


def test_one_pool_takes_blas_views_only(monkeypatch):
    # BLAS by address needs unit steps along rows and rows at least a row apart: a length-1 axis
    # with a small stride (NumPy allows any) goes to the stacked products instead
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    one_row = np.lib.stride_tricks.as_strided(a[:, :, :1], strides=(240, 80, 4, 4))
    monkeypatch.setattr(_threads, "ONE_POOL", True)
    assert attention._native_ok(a, a) == _numba.ONE_POOL_LAYER
    assert not attention._native_ok(a, one_row)
    assert not attention._native_ok(a, a[..., ::2])


@pytest.mark.parametrize("impl", IMPLS[:2])
def test_declines_what_it_does_not_take(impl):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 5, 4)).astype(np.float32) for _ in range(3))
    fwd, bwd = ((attention.flash_attention_fwd_numba, attention.flash_attention_bwd_numba)
                if impl == "numba_v1" else
                (attention.flash_attention_fwd_blas, attention.flash_attention_bwd_blas))
    assert fwd(q.astype(np.float16), k.astype(np.float16), v.astype(np.float16)) \
        is NotImplemented
    assert fwd(q[:, :0], k, v) is NotImplemented                       # empty T
    assert fwd(q, k[:, :0], v[:, :0]) is NotImplemented                # empty S
    o, lse = attention.flash_attention_fwd(q, k, v)
    assert bwd(q, k, v, o, lse, o.astype(np.float64)) is NotImplemented   # do of another dtype
    assert fwd(q, k.astype(np.float64), v) is NotImplemented           # mismatched dtypes
    assert fwd(list(q), k, v) is NotImplemented                         # not a NumPy array
    # through dispatch the reference runs instead
    o16, _ = registry.dispatch("flash_attention_fwd", "cpu", impl=impl)(
        q.astype(np.float16), k.astype(np.float16), v.astype(np.float16))
    assert o16.dtype == np.float16


@pytest.mark.parametrize("mode", [False, True])
def test_outputs_laid_out_as_the_inputs(monkeypatch, mode):
    # blas_v1 gives o, dq, dk, dv their inputs' memory order (attention._laid_out_as): heads
    # transposed from (B, T, H, D) give a (B, T, H, D) output, which the model's
    # `y.transpose(1, 2).contiguous()` then takes without a copy; q, k, v that make up one
    # projection get gradients that make up one array, in the same places (ops/shape.py's
    # Split takes it as its gradient without concatenating)
    if mode and not _numba.ONE_POOL_LAYER:
        pytest.skip("numba's OpenMP layer with NumPy's OpenBLAS callback")
    monkeypatch.setattr(_threads, "ONE_POOL", mode)
    fwd, bwd = (registry.dispatch(n, "cpu", impl="blas_v1")
                for n in ("flash_attention_fwd", "flash_attention_bwd"))
    rng = np.random.default_rng(5)
    q, k, v, do = _views(rng, (3, 2), 9, 9, 5, np.float32)
    o, lse = fwd(q, k, v, causal=True)
    assert o.transpose(0, 2, 1, 3).flags.c_contiguous
    grads = bwd(q, k, v, o, lse, do, causal=True)
    whole = grads[0].base
    assert whole.size == 3 * q.size and all(g.base is whole for g in grads)
    for g, a in zip(grads, (q, k, v)):
        assert g.strides == a.strides
        assert (g.__array_interface__["data"][0] - whole.__array_interface__["data"][0]
                == a.__array_interface__["data"][0] - q.base.__array_interface__["data"][0])
    copies = [np.ascontiguousarray(a) for a in (q, k, v, do)]
    o_c, lse_c = fwd(*copies[:3], causal=True)
    np.testing.assert_allclose(o, o_c, rtol=1e-6, atol=1e-6)
    for g, want in zip(grads, bwd(*copies[:3], o_c, lse_c, copies[3], causal=True)):
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)
    # q, k, v one array (self-attention on one tensor), or three of four pieces: each its own
    four = rng.standard_normal((3, 9, 4, 2, 5)).astype(np.float32)
    for qkv in ((q, q, q), tuple(four[:, :, i].transpose(0, 2, 1, 3) for i in range(3))):
        o, lse = fwd(*qkv, causal=False)
        grads = bwd(*qkv, o, lse, do, causal=False)
        assert len({id(g.base) for g in grads}) == 3
        refs = attention.flash_attention_bwd(*qkv, o, lse, do, causal=False)
        for g, want in zip(grads, refs):
            np.testing.assert_allclose(g, want, **BWD_TOL[np.float32])


def test_expanded_views_get_gradients_of_their_own():
    # q, k, v expanded from three slices of one array (stride 0 over the heads) make up as many
    # elements as the array but repeat them: their gradients must not be views of one array in
    # the same places (each head's would overwrite the last where they are to be summed)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 6, 7, 5))                  # 3 * q.size == x.size
    q, k, v = (np.ndarray((1, 2, 7, 5), x.dtype, x, i * x.strides[1],
                          (x.strides[0], 0) + x.strides[2:]) for i in range(3))   # x[:, i].expand
    assert q.base is x and not attention._distinct_elements(q)
    grads = attention._grads_laid_out(q, k, v)
    assert all(attention._distinct_elements(g) for g in grads)
    assert attention._distinct_elements(x[:, :2].transpose(0, 2, 1, 3))
    do = rng.standard_normal(q.shape)
    fwd, bwd = (registry.dispatch(n, "cpu", impl="blas_v1")
                for n in ("flash_attention_fwd", "flash_attention_bwd"))
    o, lse = fwd(q, k, v, causal=True)
    copies = [np.ascontiguousarray(a) for a in (q, k, v)]
    for g, want in zip(bwd(q, k, v, o, lse, do, causal=True),
                       attention.flash_attention_bwd(*copies, o, lse, do, causal=True)):
        np.testing.assert_allclose(g, want, **BWD_TOL[np.float64])


@HYPOTHESIS
@given(B=st.integers(1, 3), H=st.integers(1, 3), T=st.integers(1, 40), S=st.integers(1, 40),
       D=st.integers(1, 12), causal=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16), lead=st.integers(0, 2),
       broadcast=st.tuples(*[st.booleans()] * 4), masked=st.floats(0.0, 1.0))
@pytest.mark.parametrize("impl", IMPLS[1:])
def test_bias_matches_reference(impl, B, H, T, S, D, causal, dtype, seed, lead, broadcast,
                                masked):
    # blas_v1 adds an additive mask (bias) to the scores: any of its dims 1 (broadcast), -inf
    # entries, whole rows of -inf (o = 0, lse = -inf, no gradient through them); for q of 4, 3
    # and 2 dims
    impl, _, mode = impl.partition("/")
    if mode and not _numba.ONE_POOL_LAYER:
        pytest.skip("numba's OpenMP layer with NumPy's OpenBLAS callback")
    if causal:
        S = T
    rng = np.random.default_rng(seed)
    q, k, v, do = (a[(0,) * lead] for a in _inputs(seed, B, H, T, S, D, D, dtype))
    full = q.shape[:-1] + (S,)
    bias = rng.standard_normal(tuple(1 if b else n for b, n in zip(broadcast[-len(full):],
                                                                   full))).astype(dtype)
    bias[rng.uniform(size=bias.shape) < masked] = -np.inf
    saved = _threads.ONE_POOL
    _threads.ONE_POOL = bool(mode)
    try:
        fwd, bwd = (registry.dispatch(n, "cpu", impl=impl)
                    for n in ("flash_attention_fwd", "flash_attention_bwd"))
        o, lse = fwd(q, k, v, causal=causal, bias=bias)
        o_ref, lse_ref = attention.flash_attention_fwd(q, k, v, causal=causal, bias=bias)
        np.testing.assert_allclose(o, o_ref, **FWD_TOL[dtype])
        np.testing.assert_array_equal(np.isneginf(lse), np.isneginf(lse_ref))
        np.testing.assert_allclose(lse, lse_ref, **FWD_TOL[dtype])
        grads = bwd(q, k, v, o_ref, lse_ref, do, causal=causal, bias=bias)
        refs = attention.flash_attention_bwd(q, k, v, o_ref, lse_ref, do, causal=causal,
                                             bias=bias)
        for name, got, want in zip(("dq", "dk", "dv"), grads, refs):
            assert np.isfinite(got).all(), name
            np.testing.assert_allclose(got, want, err_msg=name, **BWD_TOL[dtype])
    finally:
        _threads.ONE_POOL = saved


def test_a_bias_goes_to_the_reference_where_no_kernel_takes_it(monkeypatch):
    # numba_v1 and numpy_tiled_v1 take no bias, nor blas_v1 one that adds dims or does not
    # broadcast: they decline, and the table runs the reference
    rng = np.random.default_rng(1)
    q, k, v, _ = _inputs(1, 2, 2, 5, 6, 4, 4, np.float64)
    bias = rng.standard_normal((2, 1, 5, 6))
    assert attention.flash_attention_fwd_numba(q, k, v, bias=bias) is NotImplemented
    assert attention.flash_attention_fwd_tiled(q, k, v, bias=bias) is NotImplemented
    assert attention.flash_attention_fwd_blas(q, k, v, bias=bias[None]) is NotImplemented
    assert attention.flash_attention_fwd_blas(q, k, v, bias=bias[..., :3]) is NotImplemented
    o, _ = registry.dispatch("flash_attention_fwd", "cpu", impl="numba_v1")(q, k, v, bias=bias)
    np.testing.assert_allclose(o, attention.flash_attention_fwd(q, k, v, bias=bias)[0],
                               rtol=1e-12)
