"""The Adam / AdamW update over a list of parameters, in place: PyTorch's formula exactly.

  adam_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, lr, beta1, beta2, eps,
            weight_decay, decoupled, amsgrad, maximize=False) -> None

Lists of same-shaped arrays, one entry per parameter; max_exp_avg_sqs is used (and may be None)
only with amsgrad. `step` is the step number after increment (1 on the first update). For each
parameter p with gradient g (torch.optim.adam._single_tensor_adam, torch.optim.AdamW):

    g = -g if maximize
    p *= 1 - lr * wd                    if decoupled (AdamW)      else  g = g + wd * p
    m = lerp(m, g, 1 - beta1)           (m + (1 - beta1) (g - m))
    v = beta2 v + (1 - beta2) g^2
    vmax = max(vmax, v); use vmax for v if amsgrad
    p -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)

The grads are read only (weight decay does not write into them), as in PyTorch.

Versions (CPU):
  numba_v1  one pass over the elements of all the parameters, laid end to end and cut into one
            range per thread (_threads.kernel_over_ranges: tinygen's threads, or in one_pool() a
            prange loop on numba's pool, which takes the parameters of each dtype by address:
            the VAE's step, 0.65M parameters, 4.20 / 4.08 -> 4.02 / 3.74 ms), the serial loop
            on each parameter's slice of a range                                   <- default
"""
from __future__ import annotations

import math

import numpy as np

from ._numba import (HAVE_NUMBA, element_pointer, is_cpu_float, jit, jit_serial, numba,
                     numba_kernel, piece, prange)
from ._threads import kernel_over_ranges
from ._xp import array_module
from .registry import reference


def _gpt_shapes():
    """The parameters of nanoGPT's CPU baby GPT (4 layers, 4 heads, 128 wide, vocab 65, block 64:
    0.80M parameters, lm_head tied to wte), in PyTorch's layouts."""
    d, v, t = 128, 65, 64
    shapes = [(v, d), (t, d)]
    for _ in range(4):
        shapes += [(d,), (d,), (3 * d, d), (3 * d,), (d, d), (d,),          # ln_1, attention
                   (d,), (d,), (4 * d, d), (4 * d,), (d, 4 * d), (d,)]      # ln_2, MLP
    return shapes + [(d,), (d,)]                                            # ln_f


def _example(rng, which):
    shapes = _gpt_shapes() if which == "bench" else [(3, 4), (5,), (2, 3, 2), (1,)]

    def arrays(scale=1.0, positive=False):
        out = [(rng.standard_normal(s) * scale).astype("float32") for s in shapes]
        return [np.abs(a) for a in out] if positive else out

    params, grads, exp_avgs = arrays(), arrays(), arrays(0.1)
    exp_avg_sqs = arrays(0.01, positive=True)
    max_exp_avg_sqs = [a * 1.5 for a in exp_avg_sqs]
    return ((params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs),
            dict(step=3, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01,
                 decoupled=(which == "bench"), amsgrad=(which == "test")))


def _check(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, amsgrad):
    n = len(params)
    lists = {"grads": grads, "exp_avgs": exp_avgs, "exp_avg_sqs": exp_avg_sqs}
    if amsgrad:
        if max_exp_avg_sqs is None:
            raise ValueError("adam_step: amsgrad=True needs max_exp_avg_sqs")
        lists["max_exp_avg_sqs"] = max_exp_avg_sqs
    for name, arrays in lists.items():
        if len(arrays) != n:
            raise ValueError(f"adam_step: {n} params but {len(arrays)} {name}")
        for i, (p, a) in enumerate(zip(params, arrays)):
            if a.shape != p.shape:
                raise ValueError(f"adam_step: {name}[{i}] has shape {tuple(a.shape)}, "
                                 f"param {i} has {tuple(p.shape)}")
    if step < 1:
        raise ValueError(f"adam_step: step counts from 1, got {step}")


@reference("adam_step", example=_example, rtol=1e-5, atol=1e-7)
def adam_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, lr, beta1, beta2,
              eps, weight_decay, decoupled, amsgrad, maximize=False):
    """One Adam (decoupled=False) or AdamW (decoupled=True) update of every parameter, in place."""
    _check(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, amsgrad)
    bias_correction1 = 1 - beta1 ** step
    bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
    step_size = lr / bias_correction1
    for i, p in enumerate(params):
        xp = array_module(p)
        g, m, v = grads[i], exp_avgs[i], exp_avg_sqs[i]
        if maximize:
            g = -g
        if weight_decay:
            if decoupled:
                p *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * p
        _lerp_(m, g, 1 - beta1)                        # torch.lerp(m, g, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * g * g
        if amsgrad:
            xp.maximum(max_exp_avg_sqs[i], v, out=max_exp_avg_sqs[i])
            v = max_exp_avg_sqs[i]
        denom = xp.sqrt(v) / bias_correction2_sqrt + eps
        p -= step_size * (m / denom)


def _lerp_(start, end, weight):
    """start.lerp_(end, weight), PyTorch's formula (start + w (end - start) below 0.5, else
    end - (1 - w) (end - start)): they differ where end is infinite (nan, not inf, at w >= 0.5)."""
    dtype = start.dtype.type
    weight = dtype(weight)
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (dtype(1) - weight)


@jit_serial
def _adam_update(p, g, m, v, vmax, scalars, amsgrad, decoupled, maximize):
    """The update of one flattened parameter (1-D arrays; vmax unused unless amsgrad). scalars,
    in p's dtype: [1 - beta1, beta2, 1 - beta2, decay, step_size, sqrt(bias_correction2), eps]."""
    w1, beta2, w2, decay = scalars[0], scalars[1], scalars[2], scalars[3]
    step_size, bc2_sqrt, eps = scalars[4], scalars[5], scalars[6]
    for i in range(p.shape[0]):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if decoupled:
            pi = pi * decay                           # decay = 1 - lr * wd
        elif decay != 0:                              # PyTorch: only where wd != 0 (else
            gi = gi + decay * pi                      # 0 * inf = nan); decay = wd
        # torch.lerp's formula: from the nearer end (scalars[7] = 1 - w1 in p's dtype)
        mi = m[i] + w1 * (gi - m[i]) if abs(w1) < 0.5 else gi - (gi - m[i]) * scalars[7]
        vi = v[i] * beta2 + w2 * gi * gi
        m[i] = mi
        v[i] = vi
        if amsgrad:
            vi = np.maximum(vmax[i], vi)                # NaN-propagating, as torch.maximum
            vmax[i] = vi
        p[i] = pi - step_size * (mi / (np.sqrt(vi) / bc2_sqrt + eps))


@numba_kernel("adam_step", impl="numba_v1", default=True)
def adam_step_numba(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, lr, beta1,
                    beta2, eps, weight_decay, decoupled, amsgrad, maximize=False):
    _check(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, amsgrad)
    for i, p in enumerate(params):
        arrays = [p, grads[i], exp_avgs[i], exp_avg_sqs[i]]
        if amsgrad:
            arrays.append(max_exp_avg_sqs[i])
        if not is_cpu_float(*arrays):
            return NotImplemented
    if not HAVE_NUMBA:  # pragma: no cover
        return NotImplemented
    bias_correction2 = 1 - beta2 ** step
    decay = 1 - lr * weight_decay if decoupled else weight_decay
    values = [1 - beta1, beta2, 1 - beta2, decay, lr / (1 - beta1 ** step),
              math.sqrt(bias_correction2), eps]
    scalars = {np.dtype(dt): np.append(a, dt(1) - a[0]) for dt in (np.float32, np.float64)
               for a in [np.array(values, dt)]}
    flags = bool(amsgrad), bool(decoupled), bool(maximize)
    groups = {}                    # the parameters by dtype, each group one pass
    for i, p in enumerate(params):
        groups.setdefault(p.dtype, []).append(i)
    vmaxs = max_exp_avg_sqs if amsgrad else params
    for dtype, index in groups.items():
        # by address: a prange loop takes no list or tuple of arrays
        addresses = np.array([[a[i].__array_interface__["data"][0] for a in
                               (params, grads, exp_avgs, exp_avg_sqs, vmaxs)] for i in index],
                             np.uintp)
        sizes = np.array([params[i].size for i in index], np.int64)
        ends = np.cumsum(sizes)
        kernel_over_ranges(_adam_ranges, (addresses, sizes, ends, scalars[dtype], *flags),
                           int(ends[-1]), int(ends[-1]), 1.0, _adam_parallel)
    return None


@jit_serial
def _adam_ranges(lo, hi, addresses, sizes, ends, scalars, amsgrad, decoupled, maximize):
    """The elements lo:hi of the parameters laid end to end (addresses (k, 5): p, g, m, v, vmax
    of each, sizes (k,), ends their cumulative sizes): _adam_update on each parameter's part."""
    for k in range(np.searchsorted(ends, lo, side="right"), ends.shape[0]):
        start = ends[k] - sizes[k]
        if start >= hi:
            break
        a, z = max(lo, start) - start, min(hi, ends[k]) - start
        p, g, m, v, vmax = [numba.carray(element_pointer(addresses[k, j], scalars),
                                         sizes[k])[a:z] for j in range(5)]
        _adam_update(p, g, m, v, vmax, scalars, amsgrad, decoupled, maximize)


@jit
def _adam_parallel(n, pieces, addresses, sizes, ends, scalars, amsgrad, decoupled, maximize):
    """_adam_ranges' prange twin (one_pool())."""
    for q in prange(pieces):
        lo, hi = piece(n, pieces, q)
        _adam_ranges(lo, hi, addresses, sizes, ends, scalars, amsgrad, decoupled, maximize)
