"""The numba.cuda kernels under numba's CUDA simulator, against their NumPy references.

Not collected on its own (no test_ prefix): test_cuda_sim.py runs this file in a subprocess with
NUMBA_ENABLE_CUDASIM=1, which must be set before numba.cuda is first imported. The simulator runs
every GPU thread as a Python thread, so the shapes are tiny; the launchers use blocks of 32
threads and at most 4 blocks under the simulator (cuda_common), so rows longer than 32 and
grids with more rows than blocks still exercise the strided loops.
"""
import copy
import os

import numpy as np
import pytest

from tinygen_kernels import registry

assert os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", "run through test_cuda_sim.py"

IMPL = "numba_cuda_v1"
NAMES = sorted(name for name in registry.references()
               if ("cuda", IMPL) in registry.kernels_for(name))


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def run_both(name, args, kwargs):
    """(kernel output, reference output); for in-place kernels (returning None) the arrays they
    updated (the first positional argument, a list of arrays) on separate copies."""
    entry = registry.references()[name]
    fast = registry.kernels_for(name)[("cuda", IMPL)]
    args_fast, args_ref = copy.deepcopy(args), copy.deepcopy(args)
    got = fast(*args_fast, **kwargs)
    assert got is not NotImplemented, f"{name}: the CUDA kernel declined its own example"
    want = entry.reference(*args_ref, **kwargs)
    if got is None and want is None:
        return tuple(args_fast[0]), tuple(args_ref[0]), entry
    return _as_tuple(got), _as_tuple(want), entry


def check(name, args, kwargs, rtol=None, atol=None):
    got, want, entry = run_both(name, args, kwargs)
    rtol = entry.rtol if rtol is None else rtol
    atol = entry.atol if atol is None else atol
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape and g.dtype == w.dtype, (name, i, g.shape, w.shape, g.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{name} output {i}")


def test_every_numba_cuda_kernel_is_here():
    expected = {"softmax_fwd", "softmax_bwd", "log_softmax_fwd", "log_softmax_bwd",
                "cross_entropy_fwd", "cross_entropy_bwd", "layernorm_fwd", "layernorm_bwd",
                "embedding_bwd", "gelu_fwd", "gelu_bwd", "silu_fwd", "silu_bwd", "adam_step"}
    assert expected <= set(NAMES), expected - set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_registry_example(name):
    args, kwargs = registry.references()[name].example(np.random.default_rng(0), "test")
    check(name, args, kwargs)


# ---- beyond the registry examples: float64, other axes, options, errors ----------------------
RNG = np.random.default_rng(1)


@pytest.mark.parametrize("name", ["softmax_fwd", "log_softmax_fwd"])
def test_softmax_other_axis_float64_long_rows(name):
    x = RNG.standard_normal((3, 70, 2))               # rows of 70 > 32 threads; axis 1
    check(name, (x,), {"axis": 1}, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["softmax_bwd", "log_softmax_bwd"])
def test_softmax_bwd_axis0(name):
    y = RNG.standard_normal((5, 3)).astype(np.float32)
    gy = RNG.standard_normal((5, 3)).astype(np.float32)
    check(name, (y, gy), {"axis": 0})


def test_cross_entropy_no_smoothing_and_bad_target():
    logits = RNG.standard_normal((6, 40)).astype(np.float32)
    target = RNG.integers(0, 40, 6)
    check("cross_entropy_fwd", (logits, target), {"ignore_index": -100, "label_smoothing": 0.0})
    fast = registry.kernels_for("cross_entropy_fwd")[("cuda", IMPL)]
    target[2] = 40
    with pytest.raises(IndexError, match="cross_entropy"):
        fast(logits, target)


def test_cross_entropy_bwd_scalar_gloss():
    logits = RNG.standard_normal((5, 9))
    target = np.array([0, 8, -100, 3, 3])
    _, lse = registry.references()["cross_entropy_fwd"].reference(logits, target)
    check("cross_entropy_bwd", (logits, target, lse, 0.5), {}, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_3d_float64(affine):
    x = RNG.standard_normal((2, 3, 45)) * 3 + 1
    w = RNG.standard_normal(45) if affine else None
    b = RNG.standard_normal(45) if affine else None
    check("layernorm_fwd", (x, w, b, 1e-5), {}, rtol=1e-10, atol=1e-10)
    _, mean, rstd = registry.references()["layernorm_fwd"].reference(x, w, b, 1e-5)
    gy = RNG.standard_normal(x.shape)
    check("layernorm_bwd", (gy, x, w, mean, rstd), {}, rtol=1e-10, atol=1e-10)


def test_embedding_2d_indices_and_bad_index():
    gy = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    idx = RNG.integers(0, 6, (3, 4))
    check("embedding_bwd", (gy, idx, 6), {"padding_idx": -1})
    fast = registry.kernels_for("embedding_bwd")[("cuda", IMPL)]
    idx[1, 2] = 6
    with pytest.raises(IndexError, match="embedding"):
        fast(gy, idx, 6)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_float64(approximate):
    x = RNG.standard_normal(50) * 4
    gy = RNG.standard_normal(50)
    check("gelu_fwd", (x,), {"approximate": approximate}, rtol=1e-12, atol=1e-12)
    check("gelu_bwd", (x, gy), {"approximate": approximate}, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("decoupled,amsgrad,maximize", [(False, False, False),
                                                        (True, False, True),
                                                        (True, True, False)])
def test_adam_variants(decoupled, amsgrad, maximize):
    shapes = [(3, 4), (7,), (1,)]
    params = [RNG.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [RNG.standard_normal(s).astype(np.float32) for s in shapes]
    m = [RNG.standard_normal(s).astype(np.float32) * 0.1 for s in shapes]
    v = [np.abs(RNG.standard_normal(s)).astype(np.float32) * 0.01 for s in shapes]
    vmax = [a * 1.5 for a in v] if amsgrad else None
    check("adam_step", (params, grads, m, v, vmax),
          dict(step=5, lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.1,
               decoupled=decoupled, amsgrad=amsgrad, maximize=maximize))


def test_non_contiguous_param_declines_before_updating():
    p = np.zeros((4, 4), np.float32)[:, ::2]
    fast = registry.kernels_for("adam_step")[("cuda", IMPL)]
    before = p.copy()
    out = fast([p], [np.ones_like(p)], [np.zeros_like(p)], [np.zeros_like(p)], None, step=1,
               lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False,
               amsgrad=False)
    assert out is NotImplemented and np.array_equal(p, before)
