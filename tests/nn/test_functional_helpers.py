"""Shared checks for the tinygen.nn.functional tests (no tests of its own).

`check_torch(tg_fn, torch_fn, arrays)` builds the same computation in tinygen and in PyTorch,
in float64, and compares: the forward value; the first gradients with respect to every float
input, for a random output gradient, with and without create_graph (ops with a fused-kernel
backward take a different path in each); and the second gradients of
(first gradients * random).sum().
`check_grads(fn, arrays)` runs tg.autograd.gradcheck and gradgradcheck (finite differences).
"""
from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-6, 1e-9


def _is_float(a):
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def make_inputs(arrays, diff=None):
    """numpy arrays -> (tinygen tensors, torch tensors, indices of differentiable inputs).
    Float arrays require grad (or only those in `diff`); other values pass through as they are."""
    if diff is None:
        diff = [i for i, a in enumerate(arrays) if _is_float(a)]
    tgs, ths = [], []
    for i, a in enumerate(arrays):
        if isinstance(a, np.ndarray):
            tgs.append(tg.tensor(a, requires_grad=i in diff))
            ths.append(torch.tensor(a, requires_grad=i in diff))
        else:
            tgs.append(a)
            ths.append(a)
    return tgs, ths, diff


def _np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy(force=True)        # force: torch's ZeroTensor gradients too
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def assert_close(actual, expected, what, rtol=RTOL, atol=ATOL):
    a, e = _np(actual), _np(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != torch's {e.shape}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=what)


def check_torch(tg_fn, torch_fn, arrays, diff=None, seed=0, rtol=RTOL, atol=ATOL, second=True):
    """Forward, first and second derivatives of tg_fn against torch_fn (see the module doc)."""
    rng = np.random.default_rng(seed)
    tgs, ths, diff = make_inputs(arrays, diff)
    out, ref = tg_fn(*tgs), torch_fn(*ths)
    assert_close(out, ref, "forward", rtol, atol)
    if not diff or not ref.requires_grad:
        return
    gy = rng.standard_normal(tuple(ref.shape))
    tg_in, th_in = [tgs[i] for i in diff], [ths[i] for i in diff]
    g_ref = torch.autograd.grad(ref, th_in, torch.tensor(gy), create_graph=True,
                                allow_unused=True)
    # without create_graph (the fused-kernel backward path), then with it (Tensor-op path)
    g_plain = tg.autograd.grad(out, tg_in, tg.tensor(gy), retain_graph=True, allow_unused=True)
    g = tg.autograd.grad(out, tg_in, tg.tensor(gy), create_graph=True, allow_unused=True)
    for grads, how in ((g_plain, ""), (g, " (create_graph)")):
        for k, (a, e) in enumerate(zip(grads, g_ref)):
            e = torch.zeros_like(th_in[k]) if e is None else e
            a = np.zeros(e.shape) if a is None else a
            assert_close(a, e, f"gradient wrt input {diff[k]}{how}", rtol, atol)
    if not second:
        return
    weights = [rng.standard_normal(tuple(t.shape)) for t in th_in]
    s_ref = sum((e * torch.tensor(w)).sum() for e, w in zip(g_ref, weights) if e is not None)
    s = sum((a * tg.tensor(w)).sum() for a, w in zip(g, weights) if a is not None)
    if not getattr(s_ref, "requires_grad", False):
        assert not getattr(s, "requires_grad", False) or _all_zero(s, tg_in)
        return
    g2_ref = torch.autograd.grad(s_ref, th_in, allow_unused=True)
    g2 = tg.autograd.grad(s, tg_in, allow_unused=True) if s.requires_grad else [None] * len(tg_in)
    for k, (a, e) in enumerate(zip(g2, g2_ref)):
        e = torch.zeros_like(th_in[k]) if e is None else e
        a = np.zeros(e.shape) if a is None else a
        assert_close(a, e, f"second derivative wrt input {diff[k]}", rtol, atol)


def _all_zero(s, inputs):
    grads = tg.autograd.grad(s, inputs, allow_unused=True)
    return all(g is None or not np.any(g.numpy()) for g in grads)


def check_grads(fn, arrays, diff=None, second=True, atol=1e-5, rtol=1e-3):
    """tg.autograd.gradcheck (and gradgradcheck) of fn at float64 `arrays`."""
    tgs, _, _ = make_inputs(arrays, diff)
    assert tg.autograd.gradcheck(fn, tgs, atol=atol, rtol=rtol)
    if second:
        assert tg.autograd.gradgradcheck(fn, tgs, atol=atol, rtol=rtol)


def randn(*shape, seed=None, rng=None):
    rng = rng or np.random.default_rng(seed if seed is not None else hash(shape) % 2**32)
    return rng.standard_normal(shape)
