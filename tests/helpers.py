"""Shared test harness for tinygen: hypothesis strategies and `check_op` (tinygrad's helper_test_op).

Import from any test (tests/conftest.py puts tests/ on sys.path):

    from helpers import check_op, check_fn, shapes, broadcastable_shapes, shape_and_dim, FAST

API (kept stable; other suites import it):

  check_op(tg_fn, torch_fn, inputs, *, low=-2.0, high=2.0, positive=False, requires_grad=None,
           rtol=1e-6, atol=1e-9, forward=True, grad=True, gradgrad=True, gradcheck=True,
           gradcheck_max_numel=24, gc_atol=1e-5, gc_rtol=1e-3, seed=0) -> (tg_inputs, tg_outs)
      inputs: a list whose entries are shapes (tuples, filled with float64 uniform[low, high),
      or uniform[0.5, 2) when positive=True) or NumPy arrays (used as given;
      float arrays become float64 leaves that require grad, int/bool arrays plain tensors).
      tg_fn(*tg_tensors) and torch_fn(*torch_tensors) return a tensor or a tuple/list of them
      (namedtuples such as sort's (values, indices) are fine). torch_fn=None uses tg_fn for both
      (methods and operators are spelled the same). Checks, in float64:
        1. forward: every output's values (and int outputs exactly) against torch;
        2. first gradients: tg.autograd.grad(float outputs, grad inputs, fixed random
           grad_outputs, create_graph=True) against torch.autograd.grad;
        3. second gradients: grad of sum((g_i * fixed random).sum()) over the first gradients
           against torch (a None gradient counts as zeros);
        4. when the differentiable inputs hold <= gradcheck_max_numel elements (and are
           non-empty): tg.autograd.gradcheck and gradgradcheck (finite differences).
      Without torch installed steps 1-3 are skipped (step 4 still runs).
      requires_grad: optional list of bools, one per input (default: float inputs only).

  check_fn(fn, inputs, **kw): check_op(lambda *a: fn(tg, *a), lambda *a: fn(torch, *a), inputs)
      for ops spelled the same as module functions: check_fn(lambda m, x: m.exp(x), [(2, 3)]).

  make_arrays(inputs, low, high, positive, seed) -> list of NumPy arrays (as check_op draws them).
  to_numpy(t) -> NumPy array of a tinygen or torch tensor (or a number).
  assert_close(actual, expected, rtol=1e-6, atol=1e-9, what="") (arrays, tensors or numbers).
  TORCH: the torch module or None.   requires_torch(): pytest.importorskip("torch").
  needs_one_pool: a skipif marker for tests of numba's OpenMP pool shared with OpenBLAS's jobs
      (tinygen_kernels._threads.one_pool), where this machine's numba and NumPy allow it.

  Hypothesis strategies (all shapes have sides in [min_side, max_side], 0 and 1 included):
    shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)          -> tuple
    broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3)
                                                                    -> tuple of num_shapes shapes
    shape_and_dim(min_dims=1, max_dims=3, min_side=0, max_side=3)   -> (shape, dim), dim may be <0
    shape_and_dims(min_dims=0, max_dims=3, min_side=0, max_side=3)  -> (shape, dim) where dim is
        None, an int or a tuple of distinct ints (negative ones included)
    FAST: a `@settings(max_examples=15, deadline=None)` decorator; fast(n) for another count;
        TINYGEN_HYPOTHESIS_EXAMPLES=N in the environment overrides the count (deep local runs).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygen as tg
from tinygen_kernels import _numba

try:  # PyTorch is the reference when installed, never a dependency
    import torch as TORCH
except ImportError:  # pragma: no cover
    TORCH = None

__all__ = [
    "FAST",
    "TORCH",
    "assert_close",
    "broadcastable_shapes",
    "check_fn",
    "check_op",
    "fast",
    "make_arrays",
    "requires_torch",
    "shape_and_dim",
    "shape_and_dims",
    "shapes",
    "to_numpy",
]


# ---- hypothesis ------------------------------------------------------------------------------
def fast(n=15):
    """Hypothesis settings for op tests: few examples, no deadline (gradchecks are slowish).
    TINYGEN_HYPOTHESIS_EXAMPLES=200 in the environment runs a deeper search."""
    n = int(os.environ.get("TINYGEN_HYPOTHESIS_EXAMPLES", n))
    return settings(max_examples=n, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


FAST = fast(15)


def shapes(min_dims=0, max_dims=3, min_side=0, max_side=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3):
    """Shapes that broadcast together (size-1 and missing leading dims included)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda b: tuple(b.input_shapes))


@st.composite
def shape_and_dim(draw, min_dims=1, max_dims=3, min_side=0, max_side=3):
    shape = draw(shapes(max(min_dims, 1), max_dims, min_side, max_side))
    nd = len(shape)
    dim = draw(st.integers(-nd, nd - 1))
    return shape, dim


@st.composite
def shape_and_dims(draw, min_dims=0, max_dims=3, min_side=0, max_side=3):
    shape = draw(shapes(min_dims, max_dims, min_side, max_side))
    nd = len(shape)
    if nd == 0:
        return shape, None
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return shape, None
    if kind == "int":
        return shape, draw(st.integers(-nd, nd - 1))
    dims = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
    signs = draw(st.lists(st.booleans(), min_size=len(dims), max_size=len(dims)))
    return shape, tuple(d - nd if neg else d for d, neg in zip(dims, signs))


# ---- conversion and comparison -----------------------------------------------------------------
def requires_torch():
    return pytest.importorskip("torch")


needs_one_pool = pytest.mark.skipif(not _numba.ONE_POOL_LAYER,
                                    reason="numba's OpenMP layer with NumPy's OpenBLAS callback")


def to_numpy(t):
    if isinstance(t, tg.Tensor):
        return np.asarray(t.detach().cpu().numpy())
    if TORCH is not None and isinstance(t, TORCH.Tensor):
        return t.detach().cpu().numpy(force=True)  # force: torch's ZeroTensor gradients
    return np.asarray(t)


def assert_close(actual, expected, rtol=1e-6, atol=1e-9, what=""):
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != expected {e.shape}"
    if a.dtype.kind in "biu" and e.dtype.kind in "biu":
        np.testing.assert_array_equal(a, e, err_msg=what)
    else:
        np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), rtol=rtol,
                                   atol=atol, err_msg=what)


def make_arrays(inputs, low=-2.0, high=2.0, positive=False, seed=0):
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in inputs:
        if isinstance(spec, np.ndarray):
            arrays.append(spec.astype(np.float64) if spec.dtype.kind == "f" else spec)
        elif isinstance(spec, (int, float)) and not isinstance(spec, bool):
            raise TypeError("check_op: inputs are shapes (tuples) or arrays; pass Python scalars "
                            "by closing over them in the lambdas")
        else:
            shape = tuple(spec)
            if positive:
                arr = rng.uniform(0.5, 2.0, size=shape)
            else:
                arr = rng.uniform(low, high, size=shape)
            arrays.append(arr.astype(np.float64))
    return arrays


def _flat_outputs(out):
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res.extend(_flat_outputs(o))
        return res
    return [out]


def _is_float(t):
    return to_numpy(t).dtype.kind == "f"


# ---- check_op ----------------------------------------------------------------------------------
def check_op(tg_fn, torch_fn, inputs, *, low=-2.0, high=2.0, positive=False, requires_grad=None,
             rtol=1e-6, atol=1e-9, forward=True, grad=True, gradgrad=True, gradcheck=True,
             gradcheck_max_numel=24, gc_atol=1e-5, gc_rtol=1e-3, seed=0):
    """Compare tg_fn with torch_fn in float64 (values, first and second gradients) and run
    gradcheck / gradgradcheck on small inputs. Returns (tg_inputs, tg_outputs)."""
    if torch_fn is None:
        torch_fn = tg_fn
    arrays = make_arrays(inputs, low, high, positive, seed)
    if requires_grad is None:
        requires_grad = [a.dtype.kind == "f" for a in arrays]
    tg_in = [tg.tensor(a, requires_grad=bool(rg)) for a, rg in zip(arrays, requires_grad)]
    tg_out = _flat_outputs(tg_fn(*tg_in))
    for o in tg_out:
        assert isinstance(o, tg.Tensor), f"tg_fn returned a {type(o).__name__}, not a Tensor"
        if o._data.dtype.kind == "f":
            assert o.dtype == tg.float64, f"float64 inputs gave a {o.dtype} output"
    diff_in = [t for t in tg_in if t.requires_grad]
    diff_out = [o for o in tg_out if o.requires_grad]
    rng = np.random.default_rng(seed + 1)
    gos = [rng.standard_normal(o.shape) for o in diff_out]

    if TORCH is not None:
        th_in = [TORCH.tensor(a, requires_grad=bool(rg)) for a, rg in zip(arrays, requires_grad)]
        th_out = _flat_outputs(torch_fn(*th_in))
        assert len(th_out) == len(tg_out), f"{len(tg_out)} outputs, torch gives {len(th_out)}"
        if forward:
            for k, (a, e) in enumerate(zip(tg_out, th_out)):
                assert_close(a, e, rtol, atol, f"forward output {k}")
        th_diff_in = [t for t, rg in zip(th_in, requires_grad) if rg]
        th_diff_out = [o for o in th_out if isinstance(o, TORCH.Tensor) and o.requires_grad]
        if grad and diff_in and diff_out:
            assert len(th_diff_out) == len(diff_out), "differentiable outputs differ from torch"
            g_tg = tg.autograd.grad(diff_out, diff_in, [tg.tensor(g) for g in gos],
                                    create_graph=True, allow_unused=True)
            g_th = TORCH.autograd.grad(th_diff_out, th_diff_in, [TORCH.tensor(g) for g in gos],
                                       create_graph=True, allow_unused=True)
            for k, (a, e, x) in enumerate(zip(g_tg, g_th, arrays)):
                assert_close(_or_zeros(a, diff_in[k]), _or_zeros(e, diff_in[k]), rtol, atol,
                             f"first gradient of input {k}")
                if a is not None:
                    assert a.dtype == tg.float64 and tuple(a.shape) == tuple(diff_in[k].shape)
            if gradgrad:
                _check_second(g_tg, g_th, diff_in, th_diff_in, seed, rtol, atol)

    if gradcheck and diff_in and diff_out:
        n = sum(t.numel() for t in diff_in)
        n_out = sum(o.numel() for o in diff_out)
        if 0 < n <= gradcheck_max_numel and 0 < n_out <= 4 * gradcheck_max_numel:
            def fn(*xs):
                return tuple(o for o in _flat_outputs(tg_fn(*xs)) if _is_float(o))
            tg.autograd.gradcheck(fn, tg_in, atol=gc_atol, rtol=gc_rtol)
            if gradgrad:
                tg.autograd.gradgradcheck(fn, tg_in, atol=gc_atol, rtol=gc_rtol)
    return tg_in, tg_out


def _or_zeros(g, like):
    if g is None:
        return np.zeros(tuple(like.shape))
    return g


def _check_second(g_tg, g_th, diff_in, th_diff_in, seed, rtol, atol):
    rng = np.random.default_rng(seed + 2)
    weights = [rng.standard_normal(tuple(x.shape)) for x in diff_in]
    tg_terms = [(g * tg.tensor(w)).sum() for g, w in zip(g_tg, weights)
                if g is not None and g.requires_grad]
    th_terms = [(g * TORCH.tensor(w)).sum() for g, w in zip(g_th, weights)
                if g is not None and g.requires_grad]
    if tg_terms:
        s = tg_terms[0]
        for t in tg_terms[1:]:
            s = s + t
        gg_tg = tg.autograd.grad(s, diff_in, allow_unused=True)
    else:
        gg_tg = [None] * len(diff_in)
    if th_terms:
        gg_th = TORCH.autograd.grad(sum(th_terms), th_diff_in, allow_unused=True)
    else:
        gg_th = [None] * len(diff_in)
    for k, (a, e) in enumerate(zip(gg_tg, gg_th)):
        assert_close(_or_zeros(a, diff_in[k]), _or_zeros(e, diff_in[k]), rtol, atol,
                     f"second gradient of input {k}")


def check_fn(fn, inputs, **kw):
    """check_op for code spelled the same with either module: fn(module, *tensors)."""
    torch_mod = TORCH
    return check_op(lambda *a: fn(tg, *a),
                    (lambda *a: fn(torch_mod, *a)) if torch_mod is not None else None,
                    inputs, **kw)


def shared_data_dir():
    """The shared data folder ($TINYGEN_TEST_DATA, else ../shared/data beside the repository)
    when it holds SHA256SUMS, else None (tests that need it skip)."""
    env = os.environ.get("TINYGEN_TEST_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    for path in candidates:
        if (path / "SHA256SUMS").is_file():
            return path.resolve()
    return None


def assert_programs_match(seeds, first_difference, explain):
    """The differential fuzzers' block test: fail naming every seed of `seeds` whose program
    differs between tinygen and PyTorch (first_difference(seed) is not None), with
    explain(seed, found) of the first."""
    found = {seed: d for seed in seeds if (d := first_difference(seed)) is not None}
    if found:
        pytest.fail(f"{len(found)} of {len(seeds)} programs differ (seeds {sorted(found)}); the "
                    f"first: {explain(*next(iter(found.items())))}", pytrace=False)


def length_difference(ours, theirs):
    """The fuzzers' last check of two logs that agree as far as both go: (index, where, the
    first extra entry, None) where one is longer, else None."""
    if len(ours) == len(theirs):
        return None
    extra = ours[len(theirs):] or theirs[len(ours):]
    return len(theirs), f"log lengths {len(ours)} vs {len(theirs)}", extra[0], None


def explain_difference(seed, found, program):
    """A fuzzer's report of `found` = (log entry index, where, ours, theirs) for program `seed`."""
    n, where, a, b = found
    return (f"seed {seed}, log entry {n}: {where}\n  tinygen: {str(a)[:1500]}\n  "
            f"torch:   {str(b)[:1500]}\n  program: {str(program)[:3000]}")
