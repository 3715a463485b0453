"""Flash attention on the GPU: kernels/flash_attention.cu launched through CuPy, registered against
kernels/attention.py's `flash_attention_fwd` / `flash_attention_bwd` (same signatures).

  flash_attention_fwd(q (..., T, D), k (..., S, D), v (..., S, D), causal, scale) -> (o, lse)
  flash_attention_bwd(q, k, v, o, lse, do, causal, scale) -> (dq, dk, dv)

What runs (device="cuda", impl="cuda_c_v1"; everything else returns NotImplemented, so the
CuPy reference runs):
  forward   float32, D in {32, 64, 128}: fwd v1 (CUDA cores, one thread per query row)
            float16 / bfloat16, D in {64, 128}: fwd v2 (tensor cores through WMMA, float32
            accumulation)
  backward  float16 / bfloat16, D in {64, 128}: bwd v2 (tensor cores through WMMA, float32
            accumulation; dQ summed in float32 with atomics, rounded at the end)
            float32 (and 16-bit with D = 32), D in {32, 64, 128}: bwd v1 in float32 (16-bit
            inputs widened first, gradients rounded back at the end)
Value head size must equal D. Memory: O(T D) beyond the inputs and outputs, never (T, S).

bfloat16: CuPy has no bfloat16 dtype, so bfloat16 arrays travel as their raw 16 bits (uint16, or
an ml_dtypes bfloat16 array viewed as uint16). `bf16_bits(x)` / `bf16_to_float32(bits)` convert;
`flash_attention_fwd_bf16(q_bits, k_bits, v_bits, ...)` and `flash_attention_bwd_bf16(...)` run
the bfloat16 kernels on such arrays.
"""
from __future__ import annotations

import math

import numpy as np

from . import attention as _ref
from . import cuda_build
from ._xp import array_module
from .registry import kernel

CU_FILE = "flash_attention.cu"
V1_ROWS = 64                   # fwd v1: query rows (threads) per block
W_ROWS, W_KEYS, W_THREADS = 64, 64, 128     # fwd v2 (WMMA)
B_THREADS = 32                 # bwd: keys (dK dV) or query rows (dQ) per block
F32_HEADS = (32, 64, 128)
WMMA_HEADS = (64, 128)


def wmma_smem_bytes(D):
    """Dynamic shared memory of flash_fwd_wmma at head size D (mirrors WmmaSmem in the .cu)."""
    pad16, pad32 = 8, 4
    q = k = v = 64 * (D + pad16) * 2
    s = W_ROWS * (W_KEYS + pad32) * 4
    p = W_ROWS * (W_KEYS + pad16) * 2
    o = W_ROWS * (D + pad32) * 4
    return q + k + v + s + p + o


def wmma_bwd_smem_bytes(D):
    """Dynamic shared memory of flash_bwd_wmma at head size D (mirrors WmmaBwdSmem)."""
    pad16, pad32 = 8, 4
    tile16 = 64 * (D + pad16) * 2
    acc = W_KEYS * (D + pad32) * 4
    pt = W_KEYS * (W_ROWS + pad32) * 4
    scratch = max(pt, W_ROWS * (D + pad32) * 4)
    pt16 = W_KEYS * (W_ROWS + pad16) * 2
    return 4 * tile16 + 2 * acc + pt + scratch + pt16 + 2 * W_ROWS * 4


def _is_bf16(dtype):
    return dtype.name == "bfloat16"


def bf16_bits(x):
    """float32 array -> its bfloat16 rounding (to nearest even) as uint16 bits."""
    xp = array_module(x)
    u = xp.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))
    return (rounded >> np.uint32(16)).astype(np.uint16)


def bf16_to_float32(bits):
    """uint16 bfloat16 bits -> float32 (exact)."""
    xp = array_module(bits)
    return (xp.ascontiguousarray(bits).astype(np.uint32) << np.uint32(16)).view(np.float32)


def _heads(q, k, v):
    """(q3, k3, v3, lead, T, S, D) with the leading dims flattened: (BH, T|S, D) contiguous."""
    xp = array_module(q)
    lead, (T, D), S = q.shape[:-2], q.shape[-2:], k.shape[-2]
    q3, k3, v3 = (xp.ascontiguousarray(a).reshape(-1, *a.shape[-2:]) for a in (q, k, v))
    return q3, k3, v3, lead, T, S, D


def _fwd_launch(q3, k3, v3, T, S, D, causal, scale, kind):
    """Run fwd v1 ('f32') or v2 ('f16', 'bf16'); q3, k3, v3 raw (BH, T|S, D) arrays."""
    xp = array_module(q3)
    BH = q3.shape[0]
    o = xp.empty_like(q3)
    lse = xp.empty((BH, T), np.float32)
    scalars = (np.int32(T), np.int32(S), np.float32(scale), np.int32(bool(causal)))
    if kind == "f32":
        fn = cuda_build.function(CU_FILE, f"flash_fwd_f32_d{D}")
        fn((math.ceil(T / V1_ROWS), BH), (V1_ROWS,), (q3, k3, v3, o, lse, *scalars))
    else:
        smem = wmma_smem_bytes(D)
        fn = cuda_build.function(CU_FILE, f"flash_fwd_wmma_{kind}_d{D}", smem)
        fn((math.ceil(T / W_ROWS), BH), (W_THREADS,), (q3, k3, v3, o, lse, *scalars),
           shared_mem=smem)
    return o, lse


@kernel("flash_attention_fwd", device="cuda", impl="cuda_c_v1", default=True)
def flash_attention_fwd_cuda(q, k, v, causal=False, scale=None):
    _ref._check("flash_attention_fwd", q, k, v)
    if not cuda_build.on_device(q, k, v) or v.shape[-1] != q.shape[-1] or q.shape[-2] == 0 \
            or k.shape[-2] == 0:
        return NotImplemented
    q3, k3, v3, lead, T, S, D = _heads(q, k, v)
    scale = _ref._scale(scale, D)
    if q.dtype == np.float32 and D in F32_HEADS:
        o, lse = _fwd_launch(q3, k3, v3, T, S, D, causal, scale, "f32")
    elif q.dtype == np.float16 and D in WMMA_HEADS:
        o, lse = _fwd_launch(q3, k3, v3, T, S, D, causal, scale, "f16")
    elif _is_bf16(q.dtype) and D in WMMA_HEADS:
        bits = [a.view(np.uint16) for a in (q3, k3, v3)]
        o, lse = _fwd_launch(*bits, T, S, D, causal, scale, "bf16")
        o = o.view(q.dtype)
    else:
        return NotImplemented
    return o.reshape(*lead, T, D), lse.reshape(*lead, T)


def flash_attention_fwd_bf16(q_bits, k_bits, v_bits, causal=False, scale=None):
    """The bfloat16 forward on uint16 bit arrays (see the module docstring): (o_bits, lse)."""
    q3, k3, v3, lead, T, S, D = _heads(q_bits, k_bits, v_bits)
    if D not in WMMA_HEADS or q_bits.dtype != np.uint16:
        raise ValueError(f"flash_attention_fwd_bf16: expected uint16 bits with D in "
                         f"{WMMA_HEADS}, got {q_bits.dtype} and D = {D}")
    o, lse = _fwd_launch(q3, k3, v3, T, S, D, causal, _ref._scale(scale, D), "bf16")
    return o.reshape(*lead, T, D), lse.reshape(*lead, T)


def flash_attention_bwd_bf16(q_bits, k_bits, v_bits, o_bits, lse, do_bits, causal=False,
                             scale=None):
    """The bfloat16 backward (bwd v2) on uint16 bit arrays: (dq, dk, dv) as uint16 bits."""
    q3, k3, v3, lead, T, S, D = _heads(q_bits, k_bits, v_bits)
    if D not in WMMA_HEADS or q_bits.dtype != np.uint16:
        raise ValueError(f"flash_attention_bwd_bf16: expected uint16 bits with D in "
                         f"{WMMA_HEADS}, got {q_bits.dtype} and D = {D}")
    xp = array_module(q_bits)
    o3, do3 = (xp.ascontiguousarray(a).reshape(-1, T, D) for a in (o_bits, do_bits))
    lse2 = xp.ascontiguousarray(lse, dtype=np.float32).reshape(-1, T)
    dq, dk, dv = _bwd_wmma_launch(q3, k3, v3, o3, do3, lse2, T, S, D, causal,
                                  _ref._scale(scale, D), np.dtype(np.uint16))
    return dq.reshape(*lead, T, D), dk.reshape(*lead, S, D), dv.reshape(*lead, S, D)


def _widen(a):
    """float32 copy of a float16 / bfloat16 (bits or ml_dtypes) array; float32 as is."""
    xp = array_module(a)
    if a.dtype == np.float32:
        return xp.ascontiguousarray(a)
    if _is_bf16(a.dtype) or a.dtype == np.uint16:
        return bf16_to_float32(a.view(np.uint16))
    return a.astype(np.float32)


def _narrow(a, dtype):
    if dtype == np.float32:
        return a
    if _is_bf16(dtype) or dtype == np.uint16:
        return bf16_bits(a).view(dtype)
    return a.astype(dtype)


def _bwd_launch(q3, k3, v3, o3, do3, lse2, T, S, D, causal, scale):
    """bwd v1 on float32 (BH, T|S, D) arrays: (dq, dk, dv) float32."""
    xp = array_module(q3)
    BH = q3.shape[0]
    delta = xp.empty((BH, T), np.float32)
    rows = BH * T
    cuda_build.function(CU_FILE, f"flash_bwd_preprocess_f32_d{D}")(
        (math.ceil(rows / 256),), (256,), (o3, do3, delta, np.int32(rows)))
    dq, dk, dv = xp.empty_like(q3), xp.empty_like(k3), xp.empty_like(v3)
    scalars = (np.int32(T), np.int32(S), np.float32(scale), np.int32(bool(causal)))
    cuda_build.function(CU_FILE, f"flash_bwd_dkdv_f32_d{D}")(
        (math.ceil(S / B_THREADS), BH), (B_THREADS,),
        (q3, k3, v3, do3, lse2, delta, dk, dv, *scalars))
    cuda_build.function(CU_FILE, f"flash_bwd_dq_f32_d{D}")(
        (math.ceil(T / B_THREADS), BH), (B_THREADS,),
        (q3, k3, v3, do3, lse2, delta, dq, *scalars))
    return dq, dk, dv


@kernel("flash_attention_bwd", device="cuda", impl="cuda_c_v1", default=True)
def flash_attention_bwd_cuda(q, k, v, o, lse, do, causal=False, scale=None):
    _ref._check("flash_attention_bwd", q, k, v)
    dtype = q.dtype
    ok_dtype = dtype in (np.float32, np.float16) or _is_bf16(dtype)
    if (not ok_dtype or not cuda_build.on_device(q, k, v, o, lse, do) or v.shape[-1] != q.shape[-1]
            or q.shape[-1] not in F32_HEADS or q.shape[-2] == 0 or k.shape[-2] == 0):
        return NotImplemented
    xp = array_module(q)
    q3, k3, v3, lead, T, S, D = _heads(q, k, v)
    o3 = xp.ascontiguousarray(o).reshape(-1, T, D)
    do3 = xp.ascontiguousarray(do).reshape(-1, T, D)
    lse2 = xp.ascontiguousarray(lse, dtype=np.float32).reshape(-1, T)
    scale = _ref._scale(scale, D)
    if dtype != np.float32 and D in WMMA_HEADS:
        dq, dk, dv = _bwd_wmma_launch(q3, k3, v3, o3, do3, lse2, T, S, D, causal, scale, dtype)
    else:
        grads = _bwd_launch(*(_widen(a) for a in (q3, k3, v3, o3, do3)), lse2, T, S, D, causal,
                            scale)
        dq, dk, dv = (_narrow(g, dtype) for g in grads)
    return dq.reshape(*lead, T, D), dk.reshape(*lead, S, D), dv.reshape(*lead, S, D)


def _bwd_wmma_launch(q3, k3, v3, o3, do3, lse2, T, S, D, causal, scale, dtype):
    """bwd v2 (tensor cores) on 16-bit (BH, T|S, D) arrays: (dq, dk, dv) in dtype."""
    xp = array_module(q3)
    BH = q3.shape[0]
    delta = (_widen(do3) * _widen(o3)).sum(axis=-1)          # (BH, T) float32
    dq = xp.zeros((BH, T, D), np.float32)                   # the key blocks add into it
    bits = _is_bf16(dtype) or dtype == np.uint16          # bfloat16, as ml_dtypes or raw bits
    raw = [a.view(np.uint16) if bits else a for a in (q3, k3, v3, do3)]
    dk, dv = xp.empty_like(raw[1]), xp.empty_like(raw[2])
    smem = wmma_bwd_smem_bytes(D)
    fn = cuda_build.function(CU_FILE, f"flash_bwd_wmma_{'bf16' if bits else 'f16'}_d{D}", smem)
    fn((math.ceil(S / W_KEYS), BH), (W_THREADS,),
       (*raw, lse2, delta, dq, dk, dv, np.int32(T), np.int32(S), np.float32(scale),
        np.int32(bool(causal))), shared_mem=smem)
    if bits:
        dk, dv = dk.view(dtype), dv.view(dtype)
    return _narrow(dq, dtype), dk, dv
