"""The integer kernels of int8 inference (tinygen.quantization): a GEMM, a convolution, and the
quantisation of their float input.

  int8_gemm(a (M, K) int8, b (N, K) int8) -> c (M, N) int32
      c[m, n] = sum_k a[m, k] * b[n, k]                       (a @ b^T, exactly)
  int8_conv2d(x (N, C, H, W) int8, w (O, C // groups, kH, kW) int8, stride, padding, dilation,
              groups, pad_value) -> y (N, O, OH, OW) int32
      y[n, o, a, b] = sum_{c, i, j} x_pad[n, g * C/G + c, a * sh + i * dh, b * sw + j * dw]
                                    * w[o, c, i, j]          (PyTorch's conv2d, no bias)
      where g = o // (O/G) and x_pad is x padded with `pad_value` (not 0: see below).
  int8_quantize(x float, scale, zero_point) -> q int8, x's shape
      q = clamp(round(x / scale) + zero_point, -128, 127)     (round half to even, as NumPy)
  int8_dequantize(acc (A, O, B) int32, offsets (O,) int64, scales (O,) float, bias (O,) | None)
      -> y (A, O, B) in scales' dtype,  y = (acc - offsets[o]) * scales[o] + bias[o]
      (the int32 sums of the GEMM or the conv back to float: the subtraction exact in int64,
      then one rounding to float, one product, one sum, in that order)

Both are exact. Every product is at most 128 * 128 = 2^14 in magnitude, so a sum of K < 2^17
products stays below 2^31 and int32 never overflows (K is checked); exact integers make "equal to
the reference" an equality, with no tolerance.

Layouts. b is (N, K), the layout of a Linear weight (out, in), so both operands are read along
their rows and every output is one dot product of two contiguous int8 rows. The convolution is
the same GEMM: its weight, viewed (O, C/G * kH * kW), is already that layout, and its input is
unrolled to rows ("im2row", the transpose of kernels/conv.py's im2col): one row per output
position, rows[g, m * L + l, (c, i, j)] = x_pad[n0 + m, g * C/G + c, ...] with L = OH * OW, so
each group is int8_gemm(rows_g (n * L, K), w_g (O/G, K)) -> (n * L, O/G).

Why pad_value. A quantised activation has a zero point z: x ~ scale * (q - z). A padded position
holds the real value 0, which is q = z, so the unrolled rows must read z there; then the
quantised op subtracts z * sum(w) once per output (tinygen/ops/quantized.py) and padding
contributes exactly nothing.

Versions:
  reference   NumPy's integer matmul on int32 copies (no BLAS: slow, obviously right); im2row as
              a strided view of the padded input, copied
  numba_v1    one dot product per output over two contiguous int8 rows with an int32
              accumulator; LLVM vectorises it to vpmovsxbw + vpmaddwd + vpaddd (16-bit products
              summed in pairs into int32 lanes) on AVX2 / AVX-512; a prange over blocks of rows
              of a; im2row as gathers through conv.gather_index; int8_quantize and
              int8_dequantize in one pass each instead of NumPy's five and four   <- default
  numba_vnni_v2  int8_gemm and int8_conv2d on AVX-512 VNNI: kernels/int8_vnni.py
"""
from __future__ import annotations

import numpy as np

from ._numba import HAVE_NUMBA, jit, jit_serial, numba, numba_kernel, parallel_blocks, prange
from ._threads import numba_parallel
from ._xp import array_module
from .conv import _batch_chunk, _geometry, gather_index
from .registry import reference

MAX_K = (1 << 17) - 1          # K * 2^14 < 2^31: the int32 sums cannot overflow


# ---------------------------------------------------------------- checks and examples
def check_int8_gemm(op, a, b):
    """ValueError/TypeError naming the op unless a (M, K) and b (N, K) are int8 with K <= MAX_K."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"{op}: expected a (M, K) and b (N, K) (c = a @ b^T), got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    if a.dtype != np.int8 or b.dtype != np.int8:
        raise TypeError(f"{op}: expected int8 matrices, got {a.dtype} and {b.dtype}")
    if a.shape[1] > MAX_K:
        raise ValueError(f"{op}: K = {a.shape[1]} products could overflow the int32 sum "
                         f"(at most {MAX_K})")


def check_int8_conv(op, x, w, groups, pad_value):
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1] * groups or w.shape[0] % groups:
        raise ValueError(f"{op}: expected x (N, C, H, W) and w (O, C // groups, kH, kW) with "
                         f"groups = {groups} dividing O, got {tuple(x.shape)} and "
                         f"{tuple(w.shape)}")
    if x.dtype != np.int8 or w.dtype != np.int8:
        raise TypeError(f"{op}: expected int8 input and weight, got {x.dtype} and {w.dtype}")
    if not -128 <= int(pad_value) <= 127:
        raise ValueError(f"{op}: pad_value must be an int8 value, got {pad_value}")
    if w[0].size > MAX_K:
        raise ValueError(f"{op}: {w[0].size} products per output could overflow the int32 sum "
                         f"(at most {MAX_K})")


def _int8(rng, shape):
    return rng.integers(-128, 128, size=shape).astype(np.int8)


def _example_gemm(rng, which):
    # bench: the classifier's first Linear (3136 -> 128) on an evaluation batch of 1000
    M, K, N = (1000, 3136, 128) if which == "bench" else (67, 45, 33)
    return (_int8(rng, (M, K)), _int8(rng, (N, K))), {}


def _example_conv(rng, which):
    if which == "bench":    # the classifier's second conv: 32 -> 64 channels, 14x14, 3x3, 64 images
        x_shape, w_shape, geometry = (64, 32, 14, 14), (64, 32, 3, 3), ((1, 1), (1, 1), (1, 1), 1)
    else:                   # small, with every parameter off its default
        x_shape, w_shape, geometry = (3, 4, 9, 8), (6, 2, 3, 2), ((2, 1), (1, 2), (1, 2), 2)
    return (_int8(rng, x_shape), _int8(rng, w_shape), *geometry), {"pad_value": -7}


def _example_quantize(rng, which):
    shape = (1000, 3136) if which == "bench" else (37, 29)
    x = rng.standard_normal(shape).astype("float32") * 2
    x.flat[:4] = [0.5 * 0.05, 1.5 * 0.05, 100.0, -100.0]       # ties (to even) and clamped ends
    return (x, 0.05, -3), {}


# ---------------------------------------------------------------- references
@reference("int8_quantize", example=_example_quantize, rtol=0, atol=0)
def int8_quantize(x, scale, zero_point):
    """clamp(round(x / scale) + zero_point, -128, 127) as int8, x's shape; scale a number, taken
    in x's dtype, zero_point an int. int8_quantize(float32 [0.26, -9.0], 0.1, 3) is [6, -87]."""
    xp = array_module(x)
    q = xp.rint(x / xp.asarray(scale, dtype=x.dtype))
    q += zero_point
    return xp.clip(q, -128, 127, out=q).astype(xp.int8)


def _example_dequantize(rng, which):
    a, o, b = (64, 784, 500) if which == "bench" else (3, 7, 11)
    acc = rng.integers(-2**31, 2**31, size=(a, o, b), dtype=np.int64).astype(np.int32)
    offsets = rng.integers(-2**31, 2**31, size=o)                # int64: z_x * sum(w[o]) and more
    scales = (rng.random(o) * 1e-4).astype("float32")
    return (acc, offsets, scales, rng.standard_normal(o).astype("float32")), {}


@reference("int8_dequantize", example=_example_dequantize, rtol=0, atol=0)
def int8_dequantize(acc, offsets, scales, bias=None):
    """(acc - offsets[o]) * scales[o] + bias[o] along axis 1 of acc (A, O, B) int32, in scales'
    dtype: int64 subtraction (exact), then float. int8_dequantize(int32 [[[7]]], [2], [0.5],
    [1.0]) is [[[3.5]]]."""
    xp = array_module(acc)
    y = (acc - offsets.reshape(1, -1, 1)).astype(scales.dtype)
    y *= scales.reshape(1, -1, 1)
    if bias is not None:
        y += bias.astype(scales.dtype).reshape(1, -1, 1)
    return xp.ascontiguousarray(y)


@reference("int8_gemm", example=_example_gemm, rtol=0, atol=0)
def int8_gemm(a, b):
    """c = a @ b^T in int32 for int8 a (M, K), b (N, K) -> (M, N), exactly.

    int8_gemm(int8 [[1, 2]], int8 [[3, 4], [-1, 1]]) is int32 [[11, 1]]."""
    check_int8_gemm("int8_gemm", a, b)
    xp = array_module(a)
    return xp.matmul(a.astype(xp.int32), b.astype(xp.int32).T)


def im2row_reference(x, n0, n1, geometry, pad_value, rows):
    """Writes the rows of images n0:n1 of x into rows (G, (n1 - n0) * OH * OW, C/G * kH * kW):
    a strided view of the input padded with pad_value, copied."""
    xp = array_module(x)
    C, H, W = x.shape[1:]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow), G = geometry
    xpad = xp.full((n1 - n0, C, H + 2 * ph, W + 2 * pw), pad_value, dtype=x.dtype)
    xpad[:, :, ph:ph + H, pw:pw + W] = x[n0:n1]
    s_n, s_c, s_h, s_w = xpad.strides
    # windows[g, m, a, b, c, i, j] = xpad[m, g * C/G + c, a * sh + i * dh, b * sw + j * dw]
    windows = xp.lib.stride_tricks.as_strided(
        xpad, shape=(G, n1 - n0, oh, ow, C // G, kh, kw),
        strides=(s_c * (C // G), s_n, s_h * sh, s_w * sw, s_c, s_h * dh, s_w * dw))
    rows[...] = windows.reshape(rows.shape)


def conv_forward(x, w, stride, padding, dilation, groups, pad_value, im2row, gemm_into,
                 row_multiple=1):
    """The convolution as im2row + one int8 GEMM per group, over chunks of the batch whose rows
    stay cache-sized (kernels/conv.py's reason, in int8). gemm_into(rows_g, w_g, y, n0, o0)
    writes the products of images n0.. into y (N, O, L) from channel o0 on. Rows are
    zero-padded to a multiple of row_multiple bytes (im2row writes the first K of each)."""
    xp = array_module(x)
    N = x.shape[0]
    O, G = w.shape[0], groups
    out_hw, kernel = _geometry(x.shape, w.shape, stride, padding, dilation, groups)
    K, L = w[0].size, out_hw[0] * out_hw[1]
    geometry = (kernel, stride, padding, dilation, out_hw, G)
    w_g = xp.ascontiguousarray(w).reshape(G, O // G, K)
    y = xp.empty((N, O, L), dtype=xp.int32)
    width = -(-K // row_multiple) * row_multiple
    chunk = _batch_chunk(xp, N, G * width * L)
    buffer = xp.zeros(G * min(chunk, N) * L * width, dtype=xp.int8)  # reused by every chunk
    for n0 in range(0, N, chunk):
        n1 = min(n0 + chunk, N)
        r = buffer[:G * (n1 - n0) * L * width].reshape(G, (n1 - n0) * L, width)
        im2row(x, n0, n1, geometry, pad_value, r[:, :, :K] if width != K else r)
        for g in range(G):
            gemm_into(r[g], w_g[g], y, n0, g * (O // G))
    return y.reshape(N, O, *out_hw)


def _gemm_into_reference(rows, w, y, n0, o0):
    """y[n0 + m, o0 + o, l] = (rows @ w^T)[m * L + l, o]: one GEMM, then a transposed copy."""
    n, L = rows.shape[0] // y.shape[2], y.shape[2]
    y_g = int8_gemm(rows, w)                                           # (nL, O/G)
    y[n0:n0 + n, o0:o0 + w.shape[0]] = y_g.reshape(n, L, w.shape[0]).transpose(0, 2, 1)


@reference("int8_conv2d", example=_example_conv, rtol=0, atol=0)
def int8_conv2d(x, w, stride, padding, dilation, groups, pad_value=0):
    """PyTorch's conv2d (no bias) in int32 for int8 x (N, C, H, W), w (O, C // groups, kH, kW)
    -> (N, O, OH, OW), padding reading pad_value; exact. stride, padding, dilation: pairs.

    int8_conv2d(ones((1, 1, 3, 3)), ones((1, 1, 2, 2)), (1, 1), (0, 0), (1, 1), 1) is 4
    everywhere, shape (1, 1, 2, 2)."""
    check_int8_conv("int8_conv2d", x, w, groups, pad_value)
    return conv_forward(x, w, stride, padding, dilation, groups, pad_value, im2row_reference,
                         _gemm_into_reference)


# ---------------------------------------------------------------- numba_v1
@jit_serial
def _dot_block(a, b, c, m0, m1):
    """c[m, n] = a[m] . b[n] for m in m0:m1. The k loop is the one LLVM vectorises: int8 rows
    widened to int16 and multiplied into pairs summed in int32 (vpmaddwd). The accumulator is
    Python's int (int64 in numba); its only use is the int32 store, so LLVM narrows the sum to
    int32 lanes, which is exact here (|sum| < 2^31, see MAX_K)."""
    K = a.shape[1]
    for m in range(m0, m1):
        for n in range(b.shape[0]):
            acc = 0
            for k in range(K):
                acc += np.int32(a[m, k]) * np.int32(b[n, k])
            c[m, n] = acc


@jit
def _gemm_rows(a, b, c, blocks):
    M = a.shape[0]
    if blocks == 0:
        _dot_block(a, b, c, 0, M)
        return
    for blk in prange(blocks):
        _dot_block(a, b, c, blk * M // blocks, (blk + 1) * M // blocks)


@jit_serial
def _dot_block_into(rows, w, y, n0, o0, m0, m1):
    """y[n0 + m // L, o0 + o, m % L] = rows[m] . w[o] for m in m0:m1: _dot_block writing each
    sum where the convolution's output (N, O, L) wants it, so no transposed copy follows (on
    the classifier's first conv, 1000 images, the copy took 34 of 97 ms)."""
    K, L = rows.shape[1], y.shape[2]
    for m in range(m0, m1):
        image, l = n0 + m // L, m % L
        for o in range(w.shape[0]):
            acc = 0
            for k in range(K):
                acc += np.int32(rows[m, k]) * np.int32(w[o, k])
            y[image, o0 + o, l] = acc


@jit
def _gemm_rows_into(rows, w, y, n0, o0, blocks):
    M = rows.shape[0]
    if blocks == 0:
        _dot_block_into(rows, w, y, n0, o0, 0, M)
        return
    for blk in prange(blocks):
        _dot_block_into(rows, w, y, n0, o0, blk * M // blocks, (blk + 1) * M // blocks)


def gemm_into_numba(rows, w, y, n0, o0):
    w = np.ascontiguousarray(w)
    numba_parallel(_gemm_rows_into, lambda *args: _gemm_rows_into(*args[:-1], 0), rows, w, y, n0,
                   o0, parallel_blocks(rows.shape[0], w.shape[0] * w.shape[1]))


def _is_cpu_int8(*arrays):
    return all(type(a) is np.ndarray and a.dtype == np.int8 for a in arrays)


def int8_gemm_rows(a, b):
    """numba_v1's GEMM on two int8 NumPy matrices (made C-contiguous)."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    c = np.empty((a.shape[0], b.shape[0]), dtype=np.int32)
    numba_parallel(_gemm_rows, lambda *args: _gemm_rows(*args[:-1], 0), a, b, c,
                   parallel_blocks(a.shape[0], b.shape[0] * max(a.shape[1], 1)))
    return c


@numba_kernel("int8_gemm", impl="numba_v1", default=True)
def int8_gemm_numba(a, b):
    """numba_v1: one vectorised dot product per output, rows of a in parallel blocks."""
    if not _is_cpu_int8(a, b):
        return NotImplemented
    check_int8_gemm("int8_gemm", a, b)
    return int8_gemm_rows(a, b)


@jit_serial
def _im2row_position(x, n0, index, pad_value, rows, p):
    # x (N, C, H * W); rows (G, n * L, C/G * KK); output position p = (image, l): every group's
    # row written there
    G = rows.shape[0]
    KK, L = index.shape
    Cg = x.shape[1] // G
    m, l = p // L, p % L
    for g in range(G):
        out = rows[g, p]
        for c in range(Cg):
            plane = x[n0 + m, g * Cg + c]
            for k in range(KK):
                q = index[k, l]
                out[c * KK + k] = plane[q] if q >= 0 else pad_value


@jit
def _im2row_gather(x, n0, n1, index, pad_value, rows):
    for p in prange((n1 - n0) * index.shape[1]):
        _im2row_position(x, n0, index, pad_value, rows, p)


@jit_serial
def _im2row_gather_serial(x, n0, n1, index, pad_value, rows):
    for p in range((n1 - n0) * index.shape[1]):
        _im2row_position(x, n0, index, pad_value, rows, p)


def im2row_numba(x, n0, n1, geometry, pad_value, rows):
    """im2row as gathers through conv.gather_index (one table per geometry, shared by every
    channel and image), output positions in parallel."""
    N, C, H, W = x.shape
    kernel, stride, padding, dilation, out_hw, _ = geometry
    index = gather_index((H, W), kernel, stride, padding, dilation, out_hw)
    numba_parallel(_im2row_gather, _im2row_gather_serial, x.reshape(N, C, H * W), n0, n1, index,
                   np.int8(pad_value), rows)


@numba_kernel("int8_conv2d", impl="numba_v1", default=True)
def int8_conv2d_numba(x, w, stride, padding, dilation, groups, pad_value=0):
    """numba_v1: im2row by gathers, then numba_v1's dot products per group, written straight
    into the output layout."""
    if not _is_cpu_int8(x, w):
        return NotImplemented
    check_int8_conv("int8_conv2d", x, w, groups, pad_value)
    return conv_forward(np.ascontiguousarray(x), w, stride, padding, dilation, groups,
                         pad_value, im2row_numba, gemm_into_numba)


if HAVE_NUMBA:
    # no fastmath: 'arcp' would let LLVM turn x / scale into x * (1 / scale), which rounds
    # differently, and the kernel must equal the reference exactly
    @numba.njit(cache=True)
    def _quantize_block(x, scale, zero_point, q, start, stop):
        lo, hi = x.dtype.type(-128.0), x.dtype.type(127.0)
        for i in range(start, stop):
            q[i] = np.int8(min(max(np.rint(x[i] / scale) + zero_point, lo), hi))

    @numba.njit(parallel=True, cache=True)
    def _quantize_flat(x, scale, zero_point, q, blocks):
        n = x.shape[0]
        if blocks == 0:
            _quantize_block(x, scale, zero_point, q, 0, n)
            return
        for blk in prange(blocks):
            _quantize_block(x, scale, zero_point, q, blk * n // blocks, (blk + 1) * n // blocks)


if HAVE_NUMBA:
    @numba.njit(cache=True)       # no fastmath: no contraction of the product and sum to an FMA
    def _dequantize_block(acc, offsets, scales, bias, y, start, stop):
        for a in range(start, stop):
            for o in range(acc.shape[1]):
                offset, scale, shift = offsets[o], scales[o], bias[o]
                for b in range(acc.shape[2]):
                    y[a, o, b] = scales.dtype.type(np.int64(acc[a, o, b]) - offset) * scale + shift

    @numba.njit(parallel=True, cache=True)
    def _dequantize_rows(acc, offsets, scales, bias, y, blocks):
        n = acc.shape[0]
        if blocks == 0:
            _dequantize_block(acc, offsets, scales, bias, y, 0, n)
            return
        for blk in prange(blocks):
            _dequantize_block(acc, offsets, scales, bias, y, blk * n // blocks,
                              (blk + 1) * n // blocks)


@numba_kernel("int8_dequantize", impl="numba_v1", default=True)
def int8_dequantize_numba(acc, offsets, scales, bias=None):
    """numba_v1: one pass, (acc - offset) in int64, to float, times the scale, plus the bias
    (0 without one: x + 0 equals x, though a -0.0 comes out +0.0)."""
    arrays = (acc, offsets, scales) + (() if bias is None else (bias,))
    if any(type(a) is not np.ndarray for a in arrays) or acc.dtype != np.int32 \
            or acc.ndim != 3 or scales.dtype.kind != "f":
        return NotImplemented
    bias = np.zeros(acc.shape[1], scales.dtype) if bias is None else bias.astype(scales.dtype)
    y = np.empty(acc.shape, scales.dtype)
    _dequantize_rows(acc, offsets.astype(np.int64), scales, bias, y,
                     parallel_blocks(acc.shape[0], acc.shape[1] * acc.shape[2]))
    return y


@numba_kernel("int8_quantize", impl="numba_v1", default=True)
def int8_quantize_numba(x, scale, zero_point):
    """numba_v1: one pass (divide, round, add, clamp, store) per element."""
    if type(x) is not np.ndarray or x.dtype.kind != "f" or not x.flags.c_contiguous:
        return NotImplemented
    q = np.empty(x.shape, np.int8)
    flat = x.reshape(-1)
    _quantize_flat(flat, x.dtype.type(scale), x.dtype.type(int(zero_point)), q.reshape(-1),
                   parallel_blocks(flat.shape[0], 1))
    return q
