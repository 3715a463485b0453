"""tinygen_kernels.sgd: the numba SGD update gives the reference's bits (plain, momentum's first
and later steps, float32 and float64) and hands the cases it does not take to the reference."""
import numpy as np
import pytest

pytest.importorskip("numba")

from tinygen_kernels import registry, sgd  # noqa: E402


def _arrays(dtype, momentum_buffers):
    rng = np.random.default_rng(0)
    shapes = [(7, 5), (3,), (2, 3, 4)]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
    bufs = [rng.standard_normal(s).astype(dtype) if momentum_buffers else None for s in shapes]
    return params, grads, bufs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("momentum, with_buffers", [(0.0, False), (0.9, False), (0.9, True)])
def test_numba_gives_the_references_bits(dtype, momentum, with_buffers):
    kw = dict(lr=0.03, momentum=momentum, dampening=0.0, weight_decay=0.0, nesterov=False,
              maximize=False)
    runs = []
    for fn in (sgd.sgd_step, sgd.sgd_step_numba):
        params, grads, bufs = _arrays(dtype, with_buffers)
        new_bufs = fn(params, grads, bufs, **kw)
        runs.append((params, new_bufs, grads))
    (p_ref, b_ref, g_ref), (p_nb, b_nb, g_nb) = runs
    for a, b in zip(p_ref, p_nb):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    for a, b in zip(b_ref, b_nb):
        assert (a is None) == (b is None) == (momentum == 0)
        if a is not None:
            assert a.tobytes() == b.tobytes()
    for a, b in zip(g_ref, g_nb):
        np.testing.assert_array_equal(a, b)                 # gradients are not written into


@pytest.mark.parametrize("option", [dict(nesterov=True), dict(dampening=0.5),
                                    dict(weight_decay=0.1), dict(maximize=True)])
def test_other_options_run_the_reference(option):
    kw = dict(lr=0.03, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False,
              maximize=False) | option
    params, grads, bufs = _arrays(np.float32, True)
    assert sgd.sgd_step_numba(params, grads, bufs, **kw) is NotImplemented
    got = registry.dispatch("sgd_step", "cpu")(params, grads, bufs, **kw)
    params2, grads2, bufs2 = _arrays(np.float32, True)
    want = sgd.sgd_step(params2, grads2, bufs2, **kw)
    for a, b in zip(params + got, params2 + want):
        np.testing.assert_array_equal(a, b)


def test_non_contiguous_or_mixed_dtypes_run_the_reference():
    params, grads, bufs = _arrays(np.float32, False)
    grads[0] = np.asfortranarray(grads[0])
    assert sgd.sgd_step_numba(params, grads, bufs, lr=0.1, momentum=0.0, dampening=0.0,
                              weight_decay=0.0, nesterov=False, maximize=False) is NotImplemented
