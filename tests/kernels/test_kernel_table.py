"""The kernel table: every registered implementation equals its reference.

One parametrised test runs, for every entry of `registry.references()` and every CPU
implementation registered for it, the reference and the implementation on copies of the entry's
example inputs (float32 as registered, and float64), and compares the outputs and the arguments
(in-place kernels such as adam_step write into them) within the entry's stated tolerance
(float64: the stated one capped at 1e-9; integer kernels, such as int8_gemm, exactly: they have
no float64 variant), on the serial and on the forced parallel path.
Then hypothesis-drawn shapes (rows 1..70, columns 1..300, size 1 included) for the softmax,
layernorm, batchnorm, embedding, activation and adam families (conv: tests/kernels/test_conv_numba.py);
the references against PyTorch in float64;
the dispatch modes (TINYGEN_KERNELS=reference, set_mode) and the NotImplemented fallback.
"""
import contextlib
import copy
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tinygen_kernels
from tinygen_kernels import _numba, _threads, activation, registry

ENTRIES = registry.references()


def _is_integer_kernel(name):
    """True when the entry's example has no floating array (int8_gemm, int8_conv2d)."""
    args, _ = ENTRIES[name].example(np.random.default_rng(0), "test")
    return not any(a.dtype.kind == "f" for a in _arrays(args))


def _arrays(obj):
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [a for o in obj for a in _arrays(o)]
    return []


CASES = [(name, impl, dtype) for name, entry in sorted(ENTRIES.items())
         for (device, impl) in sorted(entry.impls) if device == "cpu"
         for dtype in (["int"] if _is_integer_kernel(name) else ["float32", "float64"])]
HYPOTHESIS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                      suppress_health_check=[HealthCheck.too_slow])
DTYPES = st.sampled_from([np.float32, np.float64])


def as_dtype(obj, dtype):
    """obj with every floating array (also inside lists and tuples) cast to dtype."""
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
        return obj.astype(dtype)
    if isinstance(obj, (list, tuple)):
        return type(obj)(as_dtype(o, dtype) for o in obj)
    return obj


def assert_same(got, want, rtol, atol, where="output"):
    """Recursive allclose over arrays, tuples, lists and None; NaN and inf must match too."""
    if isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, rtol, atol, f"{where}[{i}]")
    elif isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), f"{where}: {type(got).__name__}, expected an array"
        assert got.shape == want.shape and got.dtype == want.dtype, (
            f"{where}: {got.shape} {got.dtype} != {want.shape} {want.dtype}")
        if want.dtype.kind in "biu":                 # integers (and masks) are equal or wrong
            np.testing.assert_array_equal(got, want, err_msg=where)
            return
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=where)
    else:
        assert got == want, where


def tolerance(entry, dtype):
    if dtype == np.float64:
        return min(entry.rtol, 1e-9), min(entry.atol, 1e-9)
    return entry.rtol, entry.atol


def run_both(name, impl, args, kwargs):
    """(reference result, its args after the call), (impl result, its args after the call)."""
    entry = ENTRIES[name]
    ref_args, impl_args = copy.deepcopy(args), copy.deepcopy(args)
    want = entry.reference(*ref_args, **kwargs)
    got = registry.dispatch(name, "cpu", impl=impl)(*impl_args, **kwargs)
    return (want, ref_args), (got, impl_args)


@contextlib.contextmanager
def parallel_threshold(elements):
    """Run the numba kernels' parallel paths from `elements` elements on (as in use:
    _numba.PARALLEL_MIN_ELEMENTS); at 0 the one pool's prange twins for any work too."""
    saved = _numba.PARALLEL_MIN_ELEMENTS, _threads.ONE_POOL_MIN_NS
    _numba.PARALLEL_MIN_ELEMENTS = elements
    if elements == 0:
        _threads.ONE_POOL_MIN_NS = 0
    try:
        yield
    finally:
        _numba.PARALLEL_MIN_ELEMENTS, _threads.ONE_POOL_MIN_NS = saved


@contextlib.contextmanager
def own_threads(on):
    """on: splits and loops on tinygen's own threads, not the one pool (_threads.ONE_POOL)."""
    saved = _threads.ONE_POOL
    _threads.ONE_POOL = saved and not on
    try:
        yield
    finally:
        _threads.ONE_POOL = saved


def check_against_reference(name, args, kwargs, impl=None):
    """Each CPU implementation (or just `impl`) equals the reference: outputs and arguments
    after the call, both on the serial path and, forced, on the parallel path."""
    entry = ENTRIES[name]
    dtype = next((a.dtype for a in _arrays(args) if a.dtype.kind == "f"), np.dtype(np.float32))
    rtol, atol = tolerance(entry, dtype.type)
    for device_impl in [impl] if impl else [i for d, i in entry.impls if d == "cpu"]:
        fast = entry.impls[("cpu", device_impl)]
        assert fast(*copy.deepcopy(args), **kwargs) is not NotImplemented, (
            f"{name}[{device_impl}] declined {[getattr(a, 'shape', a) for a in args]}")
        # serial, then forced parallel on the one pool and on tinygen's own threads
        for threshold, one_pool in ((_numba.PARALLEL_MIN_ELEMENTS, True), (0, True), (0, False)):
            with parallel_threshold(threshold), own_threads(not one_pool):
                (want, ref_args), (got, impl_args) = run_both(name, device_impl, args, kwargs)
            where = f"{name}[{device_impl}, parallel from {threshold} elements, one_pool " \
                    f"{one_pool}]"
            assert_same(got, want, rtol, atol, f"{where} output")
            assert_same(impl_args, ref_args, rtol, atol, f"{where} arguments")


# ---------------------------------------------------------------- the table, on its own examples
@pytest.mark.parametrize("name, impl, dtype", CASES, ids=[f"{n}-{i}-{d}" for n, i, d in CASES])
def test_kernel_equals_reference(name, impl, dtype):
    args, kwargs = ENTRIES[name].example(np.random.default_rng(0), "test")
    if dtype != "int":
        args = as_dtype(args, np.dtype(dtype).type)
    check_against_reference(name, args, kwargs, impl)


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_reference_runs_on_its_example(name):
    entry = ENTRIES[name]
    assert entry.example is not None, f"{name}: register an example with the reference"
    args, kwargs = entry.example(np.random.default_rng(0), "test")
    entry.reference(*args, **kwargs)


def test_every_family_of_this_suite_has_a_numba_kernel():
    pytest.importorskip("numba")
    for name in ["softmax_fwd", "softmax_bwd", "log_softmax_fwd", "log_softmax_bwd",
                 "cross_entropy_fwd", "cross_entropy_bwd", "layernorm_fwd", "layernorm_bwd",
                 "embedding_bwd", "gelu_fwd", "gelu_bwd", "silu_fwd", "silu_bwd", "adam_step",
                 "sigmoid_fwd", "softplus_fwd", "sgd_step",
                 "batchnorm_fwd", "batchnorm_bwd", "leaky_relu_fwd", "leaky_relu_bwd", "zero_where",
                 "conv2d_fwd", "conv2d_bwd_input", "conv2d_bwd_weight", "maxpool2d_bwd"]:
        assert ENTRIES[name].defaults.get("cpu") == "numba_v1", name
    from tinygen_kernels import int8_vnni
    for name in ["int8_gemm", "int8_conv2d"]:       # the VNNI version where the CPU has it
        want = "numba_vnni_v2" if int8_vnni.has_vnni() else "numba_v1"
        assert ENTRIES[name].defaults.get("cpu") == want, name


# ---------------------------------------------------------------- hypothesis shapes
def rows_cols():
    return st.tuples(st.integers(1, 70), st.integers(1, 300))


def normal(seed, shape, dtype, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


@HYPOTHESIS
@given(shape=rows_cols(), dtype=DTYPES, seed=st.integers(0, 2**16), masked=st.booleans())
def test_softmax_family_shapes(shape, dtype, seed, masked):
    x = normal(seed, shape, dtype, 4.0)
    if masked:
        rng = np.random.default_rng(seed)
        x[rng.random(shape) < 0.3] = -np.inf
        x[rng.integers(shape[0])] = -np.inf                     # one fully masked row
    gy = normal(seed + 1, shape, dtype)
    check_against_reference("softmax_fwd", (x,), {})
    check_against_reference("log_softmax_fwd", (x,), {})
    y = ENTRIES["softmax_fwd"].reference(x)
    check_against_reference("softmax_bwd", (y, gy), {})
    check_against_reference("log_softmax_bwd", (ENTRIES["log_softmax_fwd"].reference(x), gy), {})


@HYPOTHESIS
@given(shape=rows_cols(), dtype=DTYPES, seed=st.integers(0, 2**16),
       ignore_index=st.sampled_from([-100, 0]), smoothing=st.sampled_from([0.0, 0.1]))
def test_cross_entropy_shapes(shape, dtype, seed, ignore_index, smoothing):
    rng = np.random.default_rng(seed)
    logits = normal(seed, shape, dtype, 3.0)
    target = rng.integers(0, shape[1], size=shape[0]).astype(np.int64)
    target[rng.random(shape[0]) < 0.2] = ignore_index
    kw = {"ignore_index": ignore_index, "label_smoothing": smoothing}
    check_against_reference("cross_entropy_fwd", (logits, target), kw)
    _, lse = ENTRIES["cross_entropy_fwd"].reference(logits, target, **kw)
    gloss = normal(seed + 1, shape[0], dtype)
    check_against_reference("cross_entropy_bwd", (logits, target, lse, gloss), kw)


@HYPOTHESIS
@given(shape=rows_cols(), dtype=DTYPES, seed=st.integers(0, 2**16), affine=st.booleans())
def test_layernorm_shapes(shape, dtype, seed, affine):
    x = normal(seed, shape, dtype, 2.0) + 1
    w = normal(seed + 1, shape[1], dtype) if affine else None
    b = normal(seed + 2, shape[1], dtype) if affine else None
    check_against_reference("layernorm_fwd", (x, w, b, 1e-5), {})
    _, mean, rstd = ENTRIES["layernorm_fwd"].reference(x, w, b, 1e-5)
    gy = normal(seed + 3, shape, dtype)
    check_against_reference("layernorm_bwd", (gy, x, w, mean, rstd), {})


@HYPOTHESIS
@given(shape=rows_cols(), vocab=st.integers(1, 70), dtype=DTYPES, seed=st.integers(0, 2**16),
       padding=st.booleans())
def test_embedding_bwd_shapes(shape, vocab, dtype, seed, padding):
    gy = normal(seed, shape, dtype)
    indices = np.random.default_rng(seed).integers(0, vocab, size=shape[0])
    check_against_reference("embedding_bwd", (gy, indices, vocab),
                            {"padding_idx": -1 if padding else None})


def test_float32_log1p_within_three_ulp_and_its_special_values():
    """_numba's vectorised float32 log1p (softplus_fwd's) against float64 over (-1, 3.4e38):
    both branches, the seam at sqrt(2) - 1 and 1 - sqrt(1/2), tiny values exactly."""
    pytest.importorskip("numba")

    @_numba.jit_serial
    def log1p_all(x, out):
        for i in range(x.shape[0]):
            out[i] = _numba.log1p(x[i])

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1, 1, 200_000), np.exp(rng.uniform(-80, 88, 200_000)),
                        -np.exp(rng.uniform(-80, 0, 200_000)),
                        [0.41421356, 0.4142135, -0.29289322, -0.2928932]]).astype(np.float32)
    x = x[x > -1]
    out = np.empty_like(x)
    log1p_all(x, out)
    exact = np.log1p(x.astype(np.float64))
    ulps = np.abs(out - exact) / np.spacing(np.abs(exact.astype(np.float32)))
    assert ulps.max() <= 3, (ulps.max(), x[ulps.argmax()])
    special = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-45, -1.0, -1.5, np.inf, -np.inf, np.nan],
                       np.float32)
    out = np.empty_like(special)
    log1p_all(special, out)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.testing.assert_array_equal(out, np.log1p(special))
    assert np.signbit(out[1])                        # log1p(-0.0) is -0.0


@HYPOTHESIS
@given(shape=rows_cols(), dtype=DTYPES, seed=st.integers(0, 2**16),
       approximate=st.sampled_from(["none", "tanh"]),
       softplus=st.sampled_from([(1.0, 20.0), (1.0, np.inf), (3.0, 2.0), (-0.5, 20.0)]))
def test_activation_shapes(shape, dtype, seed, approximate, softplus):
    x, gy = normal(seed, shape, dtype, 4.0), normal(seed + 1, shape, dtype)
    check_against_reference("gelu_fwd", (x,), {"approximate": approximate})
    check_against_reference("gelu_bwd", (x, gy), {"approximate": approximate})
    check_against_reference("silu_fwd", (x,), {})
    check_against_reference("silu_bwd", (x, gy), {})
    check_against_reference("sigmoid_fwd", (x * 30,), {})          # and the saturated tails
    beta, threshold = softplus
    check_against_reference("softplus_fwd", (x * 30,), {"beta": beta, "threshold": threshold})
    x[0, 0] = 0.0                                          # the kink: the slope is taken there
    check_against_reference("leaky_relu_fwd", (x,), {"negative_slope": 0.2})
    check_against_reference("leaky_relu_bwd", (x, gy), {"negative_slope": -1.5})
    mask = np.random.default_rng(seed).random(shape) < 0.5
    gy.reshape(-1)[:2] = [np.inf, np.nan][:gy.size]         # masked or not, never 0 * inf
    check_against_reference("zero_where", (gy, mask), {})


@HYPOTHESIS
@given(shape=st.tuples(st.integers(1, 9), st.integers(1, 40), st.integers(1, 50)), dtype=DTYPES,
       seed=st.integers(0, 2**16), affine=st.booleans())
def test_batchnorm_shapes(shape, dtype, seed, affine):
    if shape[0] * shape[2] < 2:
        shape = (2,) + shape[1:]                  # training mode needs 2 values per channel
    x = normal(seed, shape, dtype, 2.0) + 1
    w = normal(seed + 1, shape[1], dtype) if affine else None
    b = normal(seed + 2, shape[1], dtype) if affine else None
    check_against_reference("batchnorm_fwd", (x, w, b, 1e-5), {})
    _, mean, var = ENTRIES["batchnorm_fwd"].reference(x, w, b, 1e-5)
    rstd = (1 / np.sqrt(var + 1e-5)).astype(dtype)
    gy = normal(seed + 3, shape, dtype)
    check_against_reference("batchnorm_bwd", (gy, x, w, mean, rstd), {})


@HYPOTHESIS
@given(shapes=st.lists(rows_cols(), min_size=1, max_size=4), dtype=DTYPES,
       seed=st.integers(0, 2**16), step=st.integers(1, 5), decoupled=st.booleans(),
       amsgrad=st.booleans(), weight_decay=st.sampled_from([0.0, 0.1]), maximize=st.booleans())
def test_adam_shapes(shapes, dtype, seed, step, decoupled, amsgrad, weight_decay, maximize):
    params = [normal(seed + i, s, dtype) for i, s in enumerate(shapes)]
    grads = [normal(seed + 10 + i, s, dtype) for i, s in enumerate(shapes)]
    exp_avgs = [normal(seed + 20 + i, s, dtype, 0.1) for i, s in enumerate(shapes)]
    exp_avg_sqs = [np.abs(normal(seed + 30 + i, s, dtype, 0.01)) for i, s in enumerate(shapes)]
    max_sqs = [a * 1.5 for a in exp_avg_sqs] if amsgrad else None
    check_against_reference(
        "adam_step", (params, grads, exp_avgs, exp_avg_sqs, max_sqs),
        dict(step=step, lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=weight_decay,
             decoupled=decoupled, amsgrad=amsgrad, maximize=maximize))


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 1, 1), (4, 1, 300)])
def test_leading_dimensions_are_rows(shape):
    x, gy = normal(0, shape, np.float32, 2.0), normal(1, shape, np.float32)
    for name, args in [("softmax_fwd", (x,)), ("log_softmax_fwd", (x,)),
                       ("softmax_bwd", (ENTRIES["softmax_fwd"].reference(x), gy)),
                       ("gelu_fwd", (x,)), ("silu_bwd", (x, gy)),
                       ("layernorm_fwd", (x, None, None, 1e-5))]:
        check_against_reference(name, args, {})
    _, mean, rstd = ENTRIES["layernorm_fwd"].reference(x, None, None, 1e-5)
    check_against_reference("layernorm_bwd", (gy, x, None, mean, rstd), {})
    indices = np.random.default_rng(2).integers(0, 5, size=shape[:-1])
    check_against_reference("embedding_bwd", (gy, indices, 5), {})


# ---------------------------------------------------------------- semantics and errors
@pytest.mark.parametrize("impl", [None, "reference"])
def test_fully_masked_rows(impl):
    x = np.full((2, 5), -np.inf, np.float32)
    x[0, 1] = 2.0
    y = registry.dispatch("softmax_fwd", "cpu", impl=impl)(x)
    np.testing.assert_array_equal(y, [[0, 1, 0, 0, 0], [0, 0, 0, 0, 0]])
    log_y = registry.dispatch("log_softmax_fwd", "cpu", impl=impl)(x)
    assert log_y[0, 1] == 0 and np.all(np.isneginf(log_y[1]))
    gy = np.ones_like(x)
    assert np.all(registry.dispatch("softmax_bwd", "cpu", impl=impl)(y, gy)[1] == 0)
    assert np.all(registry.dispatch("log_softmax_bwd", "cpu", impl=impl)(log_y, gy)[1] == 1)


@pytest.mark.parametrize("impl", [None, "reference"])
def test_index_errors_name_the_op(impl):
    logits = np.zeros((3, 4), np.float32)
    with pytest.raises(IndexError, match="cross_entropy.*4 classes"):
        registry.dispatch("cross_entropy_fwd", "cpu", impl=impl)(logits, np.array([0, 4, 1]))
    with pytest.raises(IndexError, match="cross_entropy"):
        registry.dispatch("cross_entropy_fwd", "cpu", impl=impl)(logits, np.array([0, -2, 1]))
    gy = np.ones((3, 2), np.float32)
    with pytest.raises(IndexError, match="embedding.*5 embeddings"):
        registry.dispatch("embedding_bwd", "cpu", impl=impl)(gy, np.array([0, 5, 1]), 5)


def test_kernels_decline_what_they_do_not_handle():
    x = normal(0, (6, 9), np.float32)
    fast = ENTRIES["softmax_fwd"].impls.get(("cpu", "numba_v1"))
    if fast is None:
        pytest.skip("numba missing")
    assert fast(x.T) is NotImplemented                           # not contiguous
    assert fast(x, axis=0) is NotImplemented                     # not the last axis
    assert fast(x.astype(np.float16)) is NotImplemented          # dtype
    for args, kwargs in [((x.T,), {}), ((x,), {"axis": 0}), ((x.astype(np.float16),), {})]:
        want = ENTRIES["softmax_fwd"].reference(*args, **kwargs)
        got = registry.dispatch("softmax_fwd", "cpu")(*args, **kwargs)    # falls back
        np.testing.assert_allclose(got, want, rtol=1e-3)


def test_broadcast_gradients_are_copied_not_declined():
    x = normal(1, (4, 9), np.float32)
    gy = np.broadcast_to(normal(2, (1, 9), np.float32), x.shape)      # stride 0 on the rows
    y = ENTRIES["softmax_fwd"].reference(x)
    for name, args in [("softmax_bwd", (y, gy)), ("gelu_bwd", (x, gy)), ("silu_bwd", (x, gy))]:
        check_against_reference(name, args, {})
    _, mean, rstd = ENTRIES["layernorm_fwd"].reference(x, None, None, 1e-5)
    check_against_reference("layernorm_bwd", (gy, x, None, mean, rstd), {})


# ---------------------------------------------------------------- dispatch modes
@pytest.fixture
def default_mode():
    """Kernel mode 'default' for one test (the suite may run under TINYGEN_KERNELS=reference)."""
    saved = registry.KERNEL_MODE["mode"]
    registry.set_mode("default")
    yield
    registry.set_mode(saved)


def test_notimplemented_falls_back_to_reference(default_mode):
    name = "_test_fallback_kernel"

    @registry.reference(name)
    def ref(x):
        return ("reference", x)

    @registry.kernel(name, device="cpu", impl="picky", default=True)
    def picky(x):
        return NotImplemented if x < 0 else ("kernel", x)

    try:
        fn = registry.dispatch(name, "cpu")
        assert fn(3) == ("kernel", 3)
        assert fn(-1) == ("reference", -1)
        assert registry.dispatch(name, "cuda") is ref              # nothing registered there
    finally:
        del registry._TABLE[name]
        registry._CACHE.clear()


def test_set_mode_reference_dispatches_the_reference():
    saved = registry.KERNEL_MODE["mode"]          # the suite may run under TINYGEN_KERNELS
    try:
        registry.set_mode("reference")
        for name, entry in ENTRIES.items():
            assert registry.dispatch(name, "cpu") is entry.reference, name
        registry.set_mode("default")
        for name, entry in ENTRIES.items():
            default = ("cpu", entry.defaults.get("cpu"))
            if default in entry.impls:
                assert registry.dispatch(name, "cpu").impl is entry.impls[default]
        with pytest.raises(ValueError, match="kernel mode"):
            registry.set_mode("fastest")
    finally:
        registry.set_mode(saved)


def test_environment_variable_forces_references():
    code = ("from tinygen_kernels import registry as r\n"
            "assert r.KERNEL_MODE['mode'] == 'reference'\n"
            "for name, e in r.references().items():\n"
            "    assert r.dispatch(name, 'cpu') is e.reference, name\n"
            "print(len(r.references()))")
    env = dict(os.environ, TINYGEN_KERNELS="reference")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == len(ENTRIES)


def test_without_numba_the_references_run():
    code = ("import sys\n"
            "sys.modules['numba'] = None   # import numba now raises ImportError\n"
            "import numpy as np\n"
            "from tinygen_kernels import registry as r\n"
            "mine = ['softmax_fwd', 'cross_entropy_bwd', 'layernorm_bwd', 'embedding_bwd',\n"
            "        'gelu_fwd', 'silu_bwd', 'adam_step']\n"
            "for name in mine:\n"
            "    e = r.references()[name]\n"
            "    assert not any(d == 'cpu' for d, i in e.impls), name\n"
            "    assert r.dispatch(name, 'cpu') is e.reference, name\n"
            "x = np.array([[0.0, np.log(3.0)]])\n"
            "print(*r.dispatch('softmax_fwd', 'cpu')(x)[0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    np.testing.assert_allclose([float(v) for v in out.stdout.split()], [0.25, 0.75])


def test_package_imports_every_family():
    assert {"softmax", "layernorm", "embedding", "activation", "adam"} <= set(
        tinygen_kernels._FAMILIES)


def test_layer_chosen_even_when_numba_was_imported_first():
    """numba's OpenMP layer spin-waits and starves BLAS's own threads on small machines:
    tinygen_kernels picks it only where OpenBLAS runs its threads' jobs on it (ONE_POOL_LAYER),
    else the workqueue layer, also when the user's script imported numba before it (unless the
    user chose a layer with NUMBA_THREADING_LAYER)."""
    pytest.importorskip("numba")
    code = ("import numba, numpy as np\n"
            "import tinygen_kernels\n"
            "@numba.njit(parallel=True)\n"          # a parallel loop, as the prange kernels have
            "def f(a):\n"
            "    for i in numba.prange(a.shape[0]):\n"
            "        a[i] += 1\n"
            "f(np.zeros(1000))\n"
            "print(numba.threading_layer())\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[-1] == ("omp" if _numba.ONE_POOL_LAYER else "workqueue"), out



def test_wide_vector_features_only_where_chosen():
    """512-bit vectors on the listed AVX-512 cores, not elsewhere, not over the user's choice."""
    wide = _numba.wide_vector_features
    assert wide("emeraldrapids", "+avx2,+avx512f", {}) == "+avx2,+avx512f,-prefer-256-bit"
    assert wide("znver3", "+avx2", {}) is None
    assert wide("skylake-avx512", "+avx2,+avx512f", {}) is None
    assert wide("sapphirerapids", "+avx2,-avx512f", {}) is None     # a VM without AVX-512
    # a server core a hypervisor named otherwise: known by its AMX tiles
    assert wide("rocketlake", "+avx512f,+amx-tile", {}) == "+avx512f,+amx-tile,-prefer-256-bit"
    assert wide("rocketlake", "+avx512f,-amx-tile", {}) is None
    for var in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES"):
        assert wide("emeraldrapids", "+avx2,+avx512f", {var: "generic"}) is None


@pytest.mark.parametrize("numba_first", [False, True])
def test_wide_vectors_reach_numba_unless_the_user_set_the_target(numba_first):
    """On this host the import sets numba's target as wide_vector_features says (also when numba
    was imported first); with NUMBA_CPU_NAME set by the user it leaves numba's target alone."""
    pytest.importorskip("numba")
    code = ("import numba\n" if numba_first else "") + (
        "import llvmlite.binding as ll, numba, tinygen_kernels\n"
        "from tinygen_kernels import _numba\n"
        "wide = _numba.wide_vector_features(ll.get_host_cpu_name(), "
        "ll.get_host_cpu_features().flatten(), {})\n"
        "print(repr(numba.config.CPU_NAME), repr(numba.config.CPU_FEATURES), repr(wide), "
        "sep='\\n')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CPU_")}
    name, features, wide = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True,
        check=True).stdout.splitlines()
    if wide == "None":                       # not one of WIDE_VECTOR_CPUS: numba's own target
        assert (name, features) == ("None", "None")
    else:
        assert features == wide and name != "None"
    env["NUMBA_CPU_NAME"] = "generic"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == "'generic'" and "prefer-256-bit" not in out[1], out[:2]

def test_zero_where_loop_and_small_path():
    """zero_where_numba on either side of 2048 elements (where it once handed the work to
    NumPy's where) equals the reference."""
    rng = np.random.default_rng(3)
    for n in (7, 2047, 2048, 5000):
        gy = rng.standard_normal(n).astype(np.float32)
        gy[:2] = [np.inf, np.nan]
        check_against_reference("zero_where", (gy, rng.random(n) < 0.5), {})
    # a broadcast gradient (a sum's) runs the loop too, on a copy
    gy, mask = np.broadcast_to(np.float32(2.5), (50, 60)), rng.random((50, 60)) < 0.5
    np.testing.assert_array_equal(activation.zero_where_numba(gy, mask), np.where(mask, 0, gy))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_fwd_bitwise_with_specials(dtype):
    """relu_fwd_numba gives NumPy's maximum(x, 0) bit for bit (-0.0 becomes +0.0, NaN and +inf
    pass, -inf becomes 0) and the mask x <= 0, short and long (over threads)."""
    rng = np.random.default_rng(5)
    for n in (7, 2047, 2048, 300_000):
        x = rng.standard_normal(n).astype(dtype)
        x[:6] = [np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.0]
        y, off = activation.relu_fwd_numba(x)
        want_y, want_off = np.maximum(x, dtype(0)), x <= 0
        assert y.dtype == x.dtype and off.dtype == np.bool_
        np.testing.assert_array_equal(off, want_off)
        finite = ~np.isnan(want_y)
        assert np.array_equal(y[finite].view(np.uint8), want_y[finite].view(np.uint8))
        assert np.isnan(y[~finite]).all()
