"""The Adam / AdamW update on the GPU (numba.cuda), against kernels/adam.py's `adam_step`:

  adam_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, lr, beta1, beta2, eps,
            weight_decay, decoupled, amsgrad, maximize=False) -> None      (all updated in place)

Per element, one read of p, g, m, v (and vmax) and one write of p, m, v (and vmax): 28 bytes per
float32 element without amsgrad, the whole update fused (PyTorch's foreach path makes ~10 passes).

Versions (device="cuda"):
  numba_cuda_v1  one grid-stride kernel launch per parameter, PyTorch's formula exactly, float64
                 arithmetic on either dtype (memory-bound)                         <- default
  cuda_c_v2      kernels/adam_multi_tensor.cu: one launch for all parameters ("multi-tensor
                 apply", as apex / PyTorch's fused Adam): a device table of pointers and sizes,
                 each block a chunk of 16384 elements of one parameter; arithmetic in the
                 parameter's dtype. Saves a launch (tens of microseconds from Python) per
                 parameter; the tables are cached per set of parameters.
                 (to become the default once measured on a GPU: issue 9)
"""
from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np

from . import adam as _ref
from . import cuda_build
from ._xp import array_module
from .cuda_common import flat_launch, float_inputs, numba_cuda, usable
from .registry import kernel

cuda = None      # numba.cuda once _kernels() runs (a module global: see cuda_common)


@functools.cache
def _kernels():
    global cuda
    cuda = numba_cuda()

    @cuda.jit
    def adam_update(p, g, m, v, vmax, w1, beta2, w2, decay, step_size, bc2_sqrt, eps, amsgrad,
                    decoupled, maximize):
        """One parameter, flattened (1-D); vmax unused unless amsgrad. w1 = 1 - beta1,
        w2 = 1 - beta2, decay = 1 - lr wd (decoupled) or wd."""
        for i in range(cuda.grid(1), p.size, cuda.gridsize(1)):
            gi = -g[i] if maximize else g[i]
            pi = p[i]
            if decoupled:
                pi = pi * decay
            else:
                gi = gi + decay * pi
            mi = m[i] + w1 * (gi - m[i])               # lerp(m, g, 1 - beta1)
            vi = v[i] * beta2 + w2 * gi * gi
            m[i] = mi
            v[i] = vi
            if amsgrad:
                if vmax[i] > vi:
                    vi = vmax[i]
                vmax[i] = vi
            p[i] = pi - step_size * (mi / (math.sqrt(vi) / bc2_sqrt + eps))

    return SimpleNamespace(adam_update=adam_update)


def _flat_view(a):
    """a as a 1-D view (never a copy: the update is in place), or None if a is not contiguous."""
    if not a.flags.c_contiguous:
        return None
    return a.reshape(-1)


@kernel("adam_step", device="cuda", impl="numba_cuda_v1", default=True)
def adam_step_cuda(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, lr, beta1, beta2,
                   eps, weight_decay, decoupled, amsgrad, maximize=False):
    _ref._check(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, amsgrad)
    # check every parameter before touching any: a NotImplemented after a partial update would
    # let the reference apply the step twice
    work = []
    for i, p in enumerate(params):
        arrays = (p, grads[i], exp_avgs[i], exp_avg_sqs[i])
        if amsgrad:
            arrays += (max_exp_avg_sqs[i],)
        if not usable(*arrays) or not float_inputs(*arrays):
            return NotImplemented
        if p.size == 0:
            continue
        views = [_flat_view(a) for a in arrays]
        if any(view is None for view in views):
            return NotImplemented
        if not amsgrad:       # the kernel wants an array there; a distinct one (no aliasing)
            views.append(array_module(p).empty(1, p.dtype))
        work.append(views)
    step_size = lr / (1 - beta1 ** step)
    bc2_sqrt = math.sqrt(1 - beta2 ** step)
    decay = 1 - lr * weight_decay if decoupled else weight_decay
    update = _kernels().adam_update
    for p, g, m, v, vmax in work:
        update[flat_launch(p.size)](p, g, m, v, vmax, 1 - beta1, beta2, 1 - beta2, decay,
                                    step_size, bc2_sqrt, eps, bool(amsgrad), bool(decoupled),
                                    bool(maximize))
    return None


# ---- cuda_c_v2: one launch for all parameters ---------------------------------------------------
CU_FILE = "adam_multi_tensor.cu"
CHUNK = 16384                  # elements per block (the .cu's CHUNK)
THREADS = 256
_TABLES: dict = {}             # pointers of a parameter set -> its device tables


def multi_tensor_tables(pointers, sizes, chunk=CHUNK):
    """Host tables for adam_multi_tensor: pointers (5 roles p, g, m, v, vmax; n each) and sizes
    (n,) -> (ptrs uint64 (5 n,) role-major, sizes int64 (n,), chunk_tensor int32 (blocks,),
    chunk_start int64 (blocks,)). Empty parameters get no chunk."""
    n = len(sizes)
    ptrs = np.array([int(p) for role in pointers for p in role], dtype=np.uint64)
    assert ptrs.size == 5 * n
    sizes = np.asarray(sizes, dtype=np.int64)
    per = (sizes + chunk - 1) // chunk
    chunk_tensor = np.repeat(np.arange(n, dtype=np.int32), per)
    first = np.concatenate([[0], np.cumsum(per)[:-1]]).astype(np.int64)
    chunk_start = (np.arange(per.sum(), dtype=np.int64) - np.repeat(first, per)) * chunk
    return ptrs, sizes, chunk_tensor, chunk_start


@kernel("adam_step", device="cuda", impl="cuda_c_v2")
def adam_step_multi_tensor(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, lr,
                           beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize=False):
    _ref._check(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, amsgrad)
    if not params:
        return None
    dtype = params[0].dtype
    roles = [params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs if amsgrad else params]
    for role in roles:
        for a in role:
            if (not cuda_build.on_device(a) or a.dtype != dtype
                    or dtype not in (np.float32, np.float64) or not a.flags.c_contiguous):
                return NotImplemented                # checked before any update (see v1)
    xp = array_module(params[0])
    pointers = tuple(tuple(cuda_build.pointer(a) for a in role) for role in roles)
    key = (pointers, tuple(p.size for p in params))
    tables = _TABLES.get(key)
    if tables is None:
        host = multi_tensor_tables(pointers, [p.size for p in params])
        tables = _TABLES[key] = tuple(xp.asarray(t) for t in host)
        if len(_TABLES) > 64:                        # parameter sets come and go: keep a few
            _TABLES.pop(next(iter(_TABLES)))
    ptrs, sizes, chunk_tensor, chunk_start = tables
    blocks = int(chunk_tensor.size)
    if blocks == 0:
        return None
    real = dtype.type
    step_size = lr / (1 - beta1 ** step)
    bc2_sqrt = math.sqrt(1 - beta2 ** step)
    decay = 1 - lr * weight_decay if decoupled else weight_decay
    name = "adam_multi_tensor_f32" if dtype == np.float32 else "adam_multi_tensor_f64"
    cuda_build.function(CU_FILE, name)(
        (blocks,), (THREADS,),
        (ptrs, sizes, chunk_tensor, chunk_start, np.int32(len(params)), real(1 - beta1),
         real(beta2), real(1 - beta2), real(decay), real(step_size), real(bc2_sqrt), real(eps),
         np.int32(bool(amsgrad)), np.int32(bool(decoupled)), np.int32(bool(maximize))))
    return None
