"""2-D convolution (cross-correlation, PyTorch's conv2d): NumPy/CuPy references and numba kernels.

  conv2d_fwd         y  = conv2d(x, w) + bias               im2col + one GEMM per chunk of images
  conv2d_bwd_input   gx = conv_transpose2d(gy, w)           one GEMM to columns per chunk + col2im
  conv2d_bwd_weight  gw = sum over batch, positions of gy x columns   (one GEMM per chunk)
                     reference: im2col / col2im as NumPy strided copies and adds, and for
                                stride 1 with "same" padding bwd_input as a forward conv with the
                                flipped weight (no col2im)
                     numba_v1:  the same GEMMs; im2col as gathers where output rows are short,
                                col2im as scatter-adds over (image, channel) planes in parallel,
                                both through one index table per geometry; 1x1 convolutions
                                without columns (one GEMM per image), and so windows as large
                                as the image (one GEMM per batch); 3x3 ones with stride 1
                                and padding 1 by Winograd F(4x4, 3x3), 36 GEMMs on transformed
                                tiles, and 4x4 ones with stride 2 and padding 1 by F(4x4, 2x2)
                                on the image's four phases, 25 GEMMs (their sections below)
                                                                            <- default (CPU)
                     both:      on the CPU the batch chunks are split over BLAS's threads, each
                                thread an im2col and a one-thread GEMM per chunk (_threads.py)

Shapes: x (N, C, H, W), w (O, C // groups, kH, kW), y (N, O, OH, OW) with
OH = (H + 2 * pad_h - dil_h * (kH - 1) - 1) // stride_h + 1 (and the same for widths).
Every integer parameter arrives as a normalised pair (h, w); the op layer above validates user
input. Arrays keep their dtype (float32 or float64).

The columns of a chunk of n images are one matrix per group, (G, K, n * L) with K = C/G * kH * kW
rows (channel, window row, window column) and n * L columns (image, output row, output column):
cols[g, (c, i, j), (m, oh, ow)]
    = x[n0 + m, g * C/G + c, oh * sh - ph + i * dh, ow * sw - pw + j * dw]
(0 outside x). Then, per group, the three kernels are three GEMMs:

  forward       y_g   (O/G, nL) = w_g (O/G, K)   @ cols_g (K, nL)
  bwd_weight    gw_g  (O/G, K) += gy_g (O/G, nL) @ cols_g^T
  bwd_input     cols_g (K, nL)  = w_g^T (K, O/G) @ gy_g (O/G, nL),  then col2im adds them back

Images side by side in one GEMM, not one GEMM per image: a DCGAN layer has L = 49 (7x7 outputs)
or L = 1 (a 7x7 kernel over a 7x7 input), and per-image products of that width ran BLAS at a few
percent of its speed (the weight gradient of a 7x7 layer took 66 ms as 64 outer products summed,
1.6 ms as one GEMM; PyTorch: 1.6 ms).

Why in batch chunks: the columns are kH*kW times the input (58 MB for a 64x32x28x28 batch and a
3x3 kernel). Written in one go into fresh memory they cost almost as much as the GEMM (page
faults and memory traffic); a chunk of a few images whose columns stay in cache, written into
one reused buffer, is nearly free. On the GPU (CuPy) the whole batch is one chunk: there,
launches cost more than memory.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from . import _numba
from ._numba import is_cpu_float, jit, jit_inline, jit_serial, numba_kernel, prange
from ._scratch import scratch
from . import _threads         # SPLIT_MIN_MACS read per call: tests lower it
from ._threads import numba_parallel, run_split, split_threads
from ._xp import array_module
from .registry import reference

# Bytes of columns per chunk. Measured (2-core AMD EPYC, 1 MB L2 per core; numba_v1, BLAS with
# 2 threads):
# the DCGAN training step of benchmarks/models.py ran in 141 / 131 / 125 / 129 / 146 ms with
# chunks of 1 / 2 / 4 / 8 / 32 MB; the three kernels of a 64x32x28x28, 3x3 MNIST-CNN layer in
# 67 / 64 / 59 / 55 ms with 1 / 2 / 4 / 8 MB. 4 MB: a few images per GEMM, still cache-sized.
_CHUNK_BYTES = 4 << 20


def conv_output_size(size, kernel, stride, padding, dilation):
    """Output length of a convolution along one axis (plain ints)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _batch_chunk(xp, n, item_bytes):
    """How many images to process at once (see the module docstring)."""
    if xp.__name__ != "numpy":
        return max(n, 1)
    return int(min(max(n, 1), max(1, _CHUNK_BYTES // max(item_bytes, 1))))


def _geometry(x_shape, w_shape, stride, padding, dilation, groups):
    """(OH, OW), (kH, kW) of a convolution, checking that x and w agree on channels."""
    _, C, H, W = x_shape
    O, Cg, kh, kw = w_shape
    assert C == Cg * groups and O % groups == 0, (x_shape, w_shape, groups)
    oh = conv_output_size(H, kh, stride[0], padding[0], dilation[0])
    ow = conv_output_size(W, kw, stride[1], padding[1], dilation[1])
    assert oh >= 0 and ow >= 0, (x_shape, w_shape, stride, padding, dilation)
    return (oh, ow), (kh, kw)


def _temporary(xp, shape, dtype, slot):
    """An uninitialised array that does not leave the kernel: this thread's scratch buffer for
    `slot` on the CPU (kernels/_scratch.py), a fresh one on the GPU (CuPy pools its memory)."""
    return scratch(shape, dtype, slot) if xp is np else xp.empty(shape, dtype=dtype)


# ---------------------------------------------------------------- im2col / col2im, NumPy
def im2col_reference(x, n0, n1, kernel, stride, padding, dilation, out_hw, cols):
    """Writes the columns of images n0:n1 of x into cols (C * kH * kW, (n1 - n0) * OH * OW):
    a strided view of the zero-padded images, copied."""
    xp = array_module(x)
    C, H, W = x.shape[1:]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel, stride, padding, dilation, out_hw
    xpad = x[n0:n1]
    if ph or pw:
        xpad = _temporary(xp, (n1 - n0, C, H + 2 * ph, W + 2 * pw), x.dtype, "conv_padded")
        xpad[:, :, :ph] = xpad[:, :, ph + H:] = xpad[:, :, :, :pw] = xpad[:, :, :, pw + W:] = 0
        xpad[:, :, ph:ph + H, pw:pw + W] = x[n0:n1]
    s_n, s_c, s_h, s_w = xpad.strides
    # windows[c, i, j, m, a, b] = xpad[m, c, a * sh + i * dh, b * sw + j * dw]
    windows = xp.lib.stride_tricks.as_strided(
        xpad, shape=(C, kh, kw, n1 - n0, oh, ow),
        strides=(s_c, s_h * dh, s_w * dw, s_n, s_h * sh, s_w * sw))
    xp.copyto(cols.reshape(windows.shape), windows)


def col2im_reference(cols, n0, n1, kernel, stride, padding, dilation, out_hw, gx):
    """gx[n0:n1] = the sum of the columns cols (C * kH * kW, (n1 - n0) * OH * OW) back at the
    input positions they were read from (the adjoint of im2col)."""
    xp = array_module(cols)
    C, H, W = gx.shape[1:]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel, stride, padding, dilation, out_hw
    cols = cols.reshape(C, kh, kw, n1 - n0, oh, ow)
    acc = xp.zeros((C, n1 - n0, H + 2 * ph + sh + dh * kh, W + 2 * pw + sw + dw * kw), gx.dtype)
    for i in range(kh):
        rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
        for j in range(kw):
            acc[:, :, rows, j * dw:j * dw + (ow - 1) * sw + 1:sw] += cols[:, i, j]
    gx[n0:n1] = acc[:, :, ph:ph + H, pw:pw + W].transpose(1, 0, 2, 3)


# ---------------------------------------------------------------- the three GEMM drivers
def _each_chunk(xp, N, G, K, L, O, dtype, work, columns=True):
    """[work(n0, n1, cols) for each chunk n0:n1 of the batch], in batch order. cols is
    (G, K, (n1 - n0) * L), a view of a buffer reused by the chunks of one thread (see the module
    docstring). On the CPU the chunks are split over BLAS's threads (tinygen_kernels._threads),
    the batch cut into at least one chunk per thread. columns=False: work(n0, n1), no buffers,
    one chunk per thread."""
    chunk = _batch_chunk(xp, N, G * K * L * np.dtype(dtype).itemsize) if columns else max(N, 1)
    threads = 1
    if xp is np and N and N * L * K * O // G >= _threads.SPLIT_MIN_MACS:
        threads = split_threads(N, convolution=True)
        # as many chunks for every thread, of equal size: 64 images in chunks of 20 went 40 to
        # one thread and 24 to the other (a DCGAN layer, 64 -> 128 channels at 14x14, 4x4
        # windows with stride 2: 6.5 ms on 2 threads, one thread 10.0)
        per_thread = -(-N // (threads * min(chunk, -(-N // threads))))
        chunk = -(-N // (threads * per_thread))
    starts = range(0, N, chunk)
    threads = max(1, min(threads, len(starts)))

    def piece(i):
        n0 = starts[i]
        n1 = min(n0 + chunk, N)
        if not columns:
            return work(n0, n1)
        return work(n0, n1, _temporary(xp, (G, K, (n1 - n0) * L), dtype, "conv_columns"))
    if xp is not np:                                # one chunk on the GPU, no BLAS to set
        return [piece(i) for i in range(len(starts))]
    return run_split(piece, len(starts), threads)


# Where an image's outputs are at least this many (L = OH * OW), the GEMMs go image by image on
# the columns (a strided view), reading and writing the images where they are; below, one GEMM per
# chunk with the images side by side, then a transposed copy of y (forward) or of gy (weight
# gradient) between the (O, n, L) order of the GEMM and the arrays' (n, O, L). Measured on the
# 1 -> 32 channel 3x3 layer at 28x28, batch 64, one thread: forward 1.15 -> 0.50 ms, weight
# gradient 2.14 -> 0.52 (PyTorch: 0.59, 0.58); the copies of y and gy (6.4 MB each) were most of
# both. At 14x14 (L = 196) image by image lost: the DCGAN's 1 -> 64 channel 4x4 stride-2 forward
# 0.64 -> 1.03 ms (small GEMMs, 64 calls).
_PER_IMAGE_MIN_L = 512
# The weight gradient also goes image by image from L = 128 when its columns are short (K rows):
# its copy of gy (O x L per image) then costs more than the small products (the DCGAN's 1 -> 64
# channel 4x4 stride-2 layer, K = 16, L = 196, 2 threads: 0.52 -> 0.30 ms; at K = 150, L = 64,
# or K = 288, L = 196 with 32 channels out, it lost 4-6%).
_PER_IMAGE_WEIGHT_MAX_K, _PER_IMAGE_WEIGHT_MIN_L = 64, 128


def _per_image(xp, groups, L, K=None):
    """Whether the GEMMs go image by image; K given: for the weight gradient."""
    if xp is not np or groups != 1:
        return False
    return L >= _PER_IMAGE_MIN_L or (
        K is not None and K <= _PER_IMAGE_WEIGHT_MAX_K and L >= _PER_IMAGE_WEIGHT_MIN_L)


def _forward(x, w, stride, padding, dilation, groups, im2col, bias=None, columns_out=None):
    """y = conv2d(x, w) (+ bias), chunk by chunk. columns_out(Y, b, n0, y), where given, writes a
    chunk's product Y (O, n L) into y[n0:n0 + n] plus b (numba_v1's `_columns_out`); else NumPy's
    strided copy, then the bias added to the chunk while it is in cache."""
    xp = array_module(x)
    assert x.dtype == w.dtype, (x.dtype, w.dtype)
    N, C = x.shape[:2]
    O, G = w.shape[0], groups
    out_hw, kernel = _geometry(x.shape, w.shape, stride, padding, dilation, groups)
    K, L = C // G * kernel[0] * kernel[1], out_hw[0] * out_hw[1]
    w_g = xp.ascontiguousarray(w).reshape(G, O // G, K)
    y = xp.empty((N, O, L), dtype=x.dtype)

    per_image = _per_image(xp, G, L)
    b = bias if columns_out is None else _bias_or_zeros(bias, O, x.dtype)

    def per_chunk(n0, n1, c):
        im2col(x, n0, n1, kernel, stride, padding, dilation, out_hw, c.reshape(G * K, -1))
        if per_image:                 # y_m (O, L) = w (O, K) @ cols_m (K, L), straight into y
            xp.matmul(w_g[0], c[0].reshape(K, n1 - n0, L).transpose(1, 0, 2), out=y[n0:n1])
        else:
            y_g = xp.matmul(w_g, c, out=_temporary(xp, (G, O // G, c.shape[2]), y.dtype,
                                                    "conv_out"))        # (G, O/G, nL)
            if columns_out is not None:
                return columns_out(y_g.reshape(O, -1), b, n0, y)
            y[n0:n1] = y_g.reshape(O, n1 - n0, L).transpose(1, 0, 2)
        if bias is not None:
            y[n0:n1] += b[:, None]
    _each_chunk(xp, N, G, K, L, O, x.dtype, per_chunk)
    return y.reshape(N, O, *out_hw)


def _bwd_weight(x, gy, w_shape, stride, padding, dilation, groups, im2col, with_bias=False):
    """gw, or (gw, gb) with_bias: gb the bias gradient, gy summed per channel chunk by chunk
    while the chunk is in cache (numba_v1: `_bias_part`)."""
    xp = array_module(x)
    assert x.dtype == gy.dtype, (x.dtype, gy.dtype)
    N, C = x.shape[:2]
    O, G = w_shape[0], groups
    out_hw, kernel = _geometry(x.shape, w_shape, stride, padding, dilation, groups)
    assert gy.shape == (N, O, *out_hw), (gy.shape, x.shape, w_shape)
    K, L = C // G * kernel[0] * kernel[1], out_hw[0] * out_hw[1]
    gy_t = gy.reshape(N, O, L).transpose(1, 0, 2)                  # (O, N, L), a view
    # accumulated transposed, gw_g^T (K, O/G) += cols_g @ gy_g^T: with the long summed axis
    # contiguous in both operands OpenBLAS ran this 30% faster than gy_g @ cols_g^T (the 32 -> 32
    # channel 3x3 layer of the diffusion U-Net at 28x28: 11.1 against 16.1 ms per 64 images)

    per_image = _per_image(xp, G, L, K)

    def per_chunk(n0, n1, c):
        im2col(x, n0, n1, kernel, stride, padding, dilation, out_hw, c.reshape(G * K, -1))
        if per_image:                 # sum over m of cols_m (K, L) @ gy_m^T (L, O): no copy of gy
            cols_m = c[0].reshape(K, n1 - n0, L).transpose(1, 0, 2)
            part = xp.matmul(cols_m, gy[n0:n1].reshape(n1 - n0, O, L).transpose(0, 2, 1)).sum(
                axis=0)[None]
        else:
            gy_g = _gathered_gy(xp, gy_t, n0, n1, G)
            part = xp.matmul(c, gy_g.transpose(0, 2, 1))                # (G, K, O/G)
        return (part, _bias_part(gy, n0, n1)) if with_bias else part
    parts = _each_chunk(xp, N, G, K, L, O, x.dtype, per_chunk)
    gw_t, gb = _in_batch_order(parts, xp.zeros((G, K, O // G), dtype=x.dtype), O, with_bias)
    gw = xp.ascontiguousarray(gw_t.transpose(0, 2, 1)).reshape(w_shape)
    return (gw, gb) if with_bias else gw


def _in_batch_order(parts, empty, O, with_bias):
    """The chunks' parts of gw (and of gb, with_bias: parts are pairs) summed in batch order,
    however many threads made them; `empty` (and zeros) for an empty batch. gb is summed in
    float64 and returned in gw's dtype."""
    gw_parts = [part for part, _ in parts] if with_bias else parts
    gw = gw_parts[0] if gw_parts else empty
    for part in gw_parts[1:]:
        gw += part
    if not with_bias:
        return gw, None
    gb = np.zeros(O, dtype=np.float64)
    for _, bias_part in parts:
        gb += bias_part
    return gw, gb.astype(empty.dtype)


def _bwd_input(gy, w, x_shape, stride, padding, dilation, groups, col2im, im2col):
    xp = array_module(gy)
    assert gy.dtype == w.dtype, (gy.dtype, w.dtype)
    N, C, H, W = x_shape
    O, G = w.shape[0], groups
    full_hw, kernel = _geometry(x_shape, w.shape, stride, padding, dilation, groups)
    out_hw = gy.shape[2:]
    assert gy.shape[:2] == (N, O) and out_hw[0] <= full_hw[0] and out_hw[1] <= full_hw[1], (
        gy.shape, x_shape, w.shape)
    K, L = C // G * kernel[0] * kernel[1], out_hw[0] * out_hw[1]
    flipped_padding = tuple(d * (k - 1) - p for k, p, d in zip(kernel, padding, dilation))
    if (tuple(stride) == (1, 1) and tuple(out_hw) == tuple(full_hw) and min(flipped_padding) >= 0
            and H * W <= L and _finite_weight(w)):
        # With stride 1 the gradient is a forward convolution of gy with the flipped, transposed
        # weight: no col2im. Only when gx is no larger than gy ("same" padding), else the
        # forward convolution would multiply mostly padding (a 7x7 ConvTranspose from 1x1: 49x
        # the work); and only for a finite weight, whose inf or NaN would meet the padding's
        # zeros (NaN at the edges, where PyTorch, which multiplies no padding, has none).
        return _forward(gy, _flipped_weight(w, G), stride, flipped_padding, dilation, groups,
                        im2col)
    w_t = w.reshape(G, O // G, K).transpose(0, 2, 1)               # (G, K, O/G), a view
    gy_t = gy.reshape(N, O, L).transpose(1, 0, 2)                  # (O, N, L), a view
    gx = xp.empty(x_shape, dtype=gy.dtype)

    def per_chunk(n0, n1, c):
        xp.matmul(w_t, _gathered_gy(xp, gy_t, n0, n1, G), out=c)   # (G, K, nL)
        col2im(c.reshape(G * K, -1), n0, n1, kernel, stride, padding, dilation, out_hw, gx)
    _each_chunk(xp, N, G, K, L, O, gy.dtype, per_chunk)
    return gx


def _finite_weight(w):
    """Whether every value of w is finite (the input gradient's paths that multiply gy's padding
    by the weight need it)."""
    return bool(array_module(w).isfinite(w).all())


def _gathered_gy(xp, gy_t, n0, n1, G):
    """gy of images n0:n1 as the GEMMs take it, (G, O/G, (n1 - n0) * L), copied out of gy_t, the
    (O, N, L) view of gy."""
    O, _, L = gy_t.shape
    out = _temporary(xp, (O, n1 - n0, L), gy_t.dtype, "conv_gy")
    out[...] = gy_t[:, n0:n1]
    return out.reshape(G, O // G, (n1 - n0) * L)


def _flipped_weight(w, groups):
    """The weight of the forward convolution that is conv2d's input gradient at stride 1: in
    and out channels swapped (per group), the window turned by 180 degrees."""
    O, Cg, kh, kw = w.shape
    w_flip = w.reshape(groups, O // groups, Cg, kh, kw)[:, :, :, ::-1, ::-1]
    return array_module(w).ascontiguousarray(w_flip.transpose(0, 2, 1, 3, 4)).reshape(
        Cg * groups, O // groups, kh, kw)


# ---------------------------------------------------------------- references
def _conv_example(which):
    """(x_shape, w_shape, stride, padding, dilation, groups) of the registry examples."""
    if which == "bench":         # a MNIST-CNN layer: 64 images, 32 -> 64 channels, 28x28, 3x3
        return (64, 32, 28, 28), (64, 32, 3, 3), (1, 1), (1, 1), (1, 1), 1
    # small, with every parameter off its default
    return (2, 4, 9, 8), (6, 2, 3, 2), (2, 1), (1, 1), (1, 2), 2


def _example_fwd(rng, which):
    x_shape, w_shape, stride, padding, dilation, groups = _conv_example(which)
    x = rng.standard_normal(x_shape).astype("float32")
    w = rng.standard_normal(w_shape).astype("float32")
    bias = rng.standard_normal(w_shape[0]).astype("float32")
    return (x, w, stride, padding, dilation, groups, bias), {}


def _example_bwd_input(rng, which):
    x_shape, w_shape, stride, padding, dilation, groups = _conv_example(which)
    out_hw, _ = _geometry(x_shape, w_shape, stride, padding, dilation, groups)
    gy = rng.standard_normal((x_shape[0], w_shape[0], *out_hw)).astype("float32")
    w = rng.standard_normal(w_shape).astype("float32")
    return (gy, w, x_shape, stride, padding, dilation, groups), {}


def _example_bwd_weight(rng, which):
    x_shape, w_shape, stride, padding, dilation, groups = _conv_example(which)
    out_hw, _ = _geometry(x_shape, w_shape, stride, padding, dilation, groups)
    x = rng.standard_normal(x_shape).astype("float32")
    gy = rng.standard_normal((x_shape[0], w_shape[0], *out_hw)).astype("float32")
    return (x, gy, w_shape, stride, padding, dilation, groups), {}


# The float32 tolerances hold Winograd F(4x4, 3x3)'s rounding (its section below): a few 1e-6 of
# the largest value from the exact result, 3.8e-4 on the U-Net's 32 -> 32 layer's forward
# (outputs of standard normal inputs up to ~80; the tolerance was 1e-4 + 1e-4 |want|), 4.7e-3 on
# the "bench" example's weight gradient (values up to 880; the columns' 3.1e-4; it was 1e-3)
@reference("conv2d_fwd", example=_example_fwd, rtol=1e-4, atol=1e-3)
def conv2d_fwd(x, w, stride, padding, dilation, groups, bias=None):
    """PyTorch's conv2d. x (N, C, H, W), w (O, C // groups, kH, kW), bias (O,) or None
    -> (N, O, OH, OW). The bias is added to each chunk of outputs as it is made, while it is in
    cache, not in a pass of its own over y.

    conv2d_fwd(ones((1, 1, 3, 3)), ones((1, 1, 2, 2)), (1, 1), (0, 0), (1, 1), 1) is 4 everywhere,
    shape (1, 1, 2, 2): each output sums one 2x2 window.
    """
    return _forward(x, w, stride, padding, dilation, groups, im2col_reference, bias)


@reference("conv2d_bwd_input", example=_example_bwd_input, rtol=1e-4, atol=1e-3)
def conv2d_bwd_input(gy, w, x_shape, stride, padding, dilation, groups):
    """Gradient of conv2d wrt its input: gy (N, O, OH, OW), w (O, C // groups, kH, kW) -> gx of
    shape x_shape = (N, C, H, W).

    This is also conv_transpose2d(gy, w, stride, padding, output_padding, groups, dilation), w in
    ConvTranspose layout, x_shape its output shape: H = (OH - 1) * sh - 2 * ph + dh * (kH - 1) + 1
    + output_padding_h. So any x_shape whose conv output is at least OH x OW is accepted (it is
    exactly OH x OW when output_padding < stride); rows and columns no window of gy reaches get 0.
    """
    return _bwd_input(gy, w, tuple(x_shape), stride, padding, dilation, groups, col2im_reference,
                      im2col_reference)


@reference("conv2d_bwd_weight", example=_example_bwd_weight, rtol=1e-4, atol=1e-2)
def conv2d_bwd_weight(x, gy, w_shape, stride, padding, dilation, groups):
    """Gradient of conv2d wrt its weight: x (N, C, H, W), gy (N, O, OH, OW) -> gw of shape
    w_shape = (O, C // groups, kH, kW), summed over the batch."""
    return _bwd_weight(x, gy, w_shape, stride, padding, dilation, groups, im2col_reference)


# ---------------------------------------------------------------- numba_v1
@functools.lru_cache(maxsize=256)
def gather_index(hw, kernel, stride, padding, dilation, out_hw):
    """(kH * kW, OH * OW) int64: for window element (i, j) and output (a, b), the flat offset into
    an (H, W) plane of the input it reads, or -1 where it reads padding. It depends on the
    geometry only, not on the channel or the image, so every row of the columns shares it."""
    (H, W), (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = (
        hw, kernel, stride, padding, dilation, out_hw)
    rows = np.arange(oh)[None, :] * sh - ph + np.arange(kh)[:, None] * dh        # (kH, OH)
    cols = np.arange(ow)[None, :] * sw - pw + np.arange(kw)[:, None] * dw        # (kW, OW)
    rows, cols = rows[:, None, :, None], cols[None, :, None, :]                 # (kH, kW, OH, OW)
    inside = (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)
    index = np.where(inside, rows * W + cols, -1).reshape(kh * kw, oh * ow).astype(np.int64)
    index.flags.writeable = False
    return index


@jit_serial
def _gather_row(x, n0, n1, index, cols, r):
    # row r = (c, i, j) of the columns: an L-long gather per image
    KK, L = index.shape
    c, k = r // KK, r % KK
    idx, out = index[k], cols[r]
    for m in range(n1 - n0):
        src = x[n0 + m, c]
        for l in range(L):
            p = idx[l]
            out[m * L + l] = src[p] if p >= 0 else 0


@jit_serial
def _scatter_plane(cols, n0, index, gx, p):
    # (image, channel) plane p of gx: only its own rows of the columns add into it
    C = gx.shape[1]
    KK, L = index.shape
    m, c = p // C, p % C
    plane = gx[n0 + m, c]
    plane[:] = 0
    for k in range(KK):
        idx, src = index[k], cols[c * KK + k, m * L:(m + 1) * L]
        for l in range(L):
            q = idx[l]
            if q >= 0:
                plane[q] += src[l]


@jit
def _im2col_gather(x, n0, n1, index, cols):
    # x (N, C, H * W); rows of the columns in parallel
    for r in prange(x.shape[1] * index.shape[0]):
        _gather_row(x, n0, n1, index, cols, r)


@jit_serial
def _im2col_gather_serial(x, n0, n1, index, cols):
    # the same on this thread only, without the GIL, for chunks split over threads (_threads);
    # a separate function, not jit_serial(_im2col_gather.py_func): numba's cache keys a compiled
    # function by its Python function, so the two would share one (parallel) machine code
    for r in range(x.shape[1] * index.shape[0]):
        _gather_row(x, n0, n1, index, cols, r)


@jit
def _col2im_scatter(cols, n0, n1, index, gx):
    # gx (N, C, H * W); (image, channel) planes in parallel, no two writing the same element
    for p in prange((n1 - n0) * gx.shape[1]):
        _scatter_plane(cols, n0, index, gx, p)


@jit_serial
def _col2im_scatter_serial(cols, n0, n1, index, gx):
    for p in range((n1 - n0) * gx.shape[1]):
        _scatter_plane(cols, n0, index, gx, p)


def im2col_numba(x, n0, n1, kernel, stride, padding, dilation, out_hw, cols):
    """im2col as L-long gathers through `gather_index` where NumPy's strided copy is slow: its
    innermost loop runs along an output row (OW, or the batch when OH = OW = 1), and below 16
    elements its per-row overhead dominates (a DCGAN layer, 64x14x14 -> 7x7 with 4x4 stride-2
    windows: 2.8 ms per 64 images copied, 1.5 ms gathered). Longer rows: the NumPy copy."""
    N, C, H, W = x.shape
    inner = out_hw[1] if out_hw[0] * out_hw[1] > 1 else n1 - n0
    if inner >= 16:
        return im2col_reference(x, n0, n1, kernel, stride, padding, dilation, out_hw, cols)
    index = gather_index((H, W), kernel, stride, padding, dilation, out_hw)
    numba_parallel(_im2col_gather, _im2col_gather_serial, x.reshape(N, C, H * W), n0, n1, index,
                   cols)


def col2im_numba(cols, n0, n1, kernel, stride, padding, dilation, out_hw, gx):
    """col2im as scatter-adds through `gather_index`, planes in parallel (the reference makes
    kH * kW strided passes over a padded buffer: 8.0 ms against 2.2 ms per 64 images on the DCGAN
    layer above)."""
    N, C, H, W = gx.shape
    index = gather_index((H, W), kernel, stride, padding, dilation, out_hw)
    if index.shape == (H * W, 1) and _reads_each_once(index):
        # one output per image whose window is the whole input (a 7x7 kernel on a 7x7 input, or
        # a ConvTranspose from 1x1): col2im is a transpose, columns (C * H * W, n) -> (n, C, H, W)
        gx[n0:n1] = cols.reshape(C, H * W, n1 - n0).transpose(2, 0, 1).reshape(n1 - n0, C, H, W)
        return
    numba_parallel(_col2im_scatter, _col2im_scatter_serial, cols, n0, n1, index,
                   gx.reshape(N, C, H * W))


def _bias_or_zeros(bias, O, dtype):
    """The bias as the numba loops take it: contiguous, of the outputs' dtype; zeros for None
    (adding +0.0 leaves every value but a -0.0 as it was, and that becomes +0.0)."""
    return np.zeros(O, dtype) if bias is None else np.ascontiguousarray(bias, dtype=dtype)


@jit_serial
def _columns_out(Y, b, n0, y):
    """y[n0 + m, o] = Y[o, m L:(m + 1) L] + b[o]: a chunk's product (O, n L), images side by
    side, into y (N, O, L), the bias added on the way (no pass of its own over y)."""
    O, L = y.shape[1:]
    for m in range(Y.shape[1] // L):
        for o in range(O):
            src, dst, bo = Y[o, m * L:(m + 1) * L], y[n0 + m, o], b[o]
            for j in range(L):
                dst[j] = src[j] + bo


@jit_serial
def _bias_part(gy, n0, n1):
    """gy[n0:n1] (N, O, H, W) summed over its images and positions per channel, in float64: a
    chunk's share of the bias gradient, summed while the weight gradient has the chunk in cache
    (one pass less over gy than a sum of its own)."""
    out = np.zeros(gy.shape[1], np.float64)
    for m in range(n0, n1):
        for o in range(gy.shape[1]):
            plane = gy[m, o]
            s = 0.0
            for i in range(plane.shape[0]):
                for j in range(plane.shape[1]):
                    s += plane[i, j]
            out[o] += s
    return out


def _reads_each_once(index):
    return bool((index[:, 0] == np.arange(index.shape[0])).all())


# ---------------------------------------------------------------- 1x1 convolutions, no columns
# Per-image GEMMs need long enough rows: measured on the diffusion U-Net's 1x1 layers (batch 64,
# 2-core AMD EPYC), forward and input gradient were faster without columns from 14x14 (L = 196:
# 1.2 against 2.5 ms at one thread), slower at 7x7 (L = 49, two threads: 0.8 against 0.6); the
# weight gradient, a sum of per-image products, only at 28x28 (4.5 against 6.2 ms).
_POINTWISE_MIN_L, _POINTWISE_MIN_L_WEIGHT = 128, 512


def _pointwise(w_shape, stride, padding, groups, hw, min_l=_POINTWISE_MIN_L):
    """A 1x1 convolution with stride 1, no padding and one group, on hw-sized images: the columns
    of an image are the image itself, a (C, H * W) matrix, so each kernel is one GEMM per image
    straight on the arrays, no im2col, no col2im, no transposed copy of the output."""
    return (tuple(w_shape[2:]) == (1, 1) and tuple(stride) == (1, 1)
            and tuple(padding) == (0, 0) and groups == 1 and hw[0] * hw[1] >= min_l)


def _pointwise_blocks(N, C, O, L, dtype, work):
    return _each_chunk(np, N, 1, C, L, O, dtype, work, columns=False)


def _pointwise_forward(x, w, bias=None):
    N, C, H, W = x.shape
    O = w.shape[0]
    x3, w2 = x.reshape(N, C, H * W), np.ascontiguousarray(w).reshape(O, C)
    y = np.empty((N, O, H * W), dtype=x.dtype)

    def block(n0, n1):
        np.matmul(w2, x3[n0:n1], out=y[n0:n1])
        if bias is not None:
            y[n0:n1] += bias[:, None]
    _pointwise_blocks(N, C, O, H * W, x.dtype, block)
    return y.reshape(N, O, H, W)


def _pointwise_bwd_weight(x, gy, w_shape, with_bias=False):
    N, C, H, W = x.shape
    O = w_shape[0]
    x3, gy3 = x.reshape(N, C, H * W), gy.reshape(N, O, H * W)

    def block(n0, n1):                                  # sum over images of gy_m @ x_m^T
        part = np.matmul(gy3[n0:n1], x3[n0:n1].transpose(0, 2, 1)).sum(axis=0)
        return (part, _bias_part(gy, n0, n1)) if with_bias else part
    parts = _pointwise_blocks(N, C, O, H * W, x.dtype, block)
    gw, gb = _in_batch_order(parts, np.zeros((O, C), dtype=x.dtype), O, with_bias)
    return (gw.reshape(w_shape), gb) if with_bias else gw.reshape(w_shape)


def _whole_window(w_shape, stride, padding, dilation, groups, hw):
    """One window that covers the whole image (kernel = image size, no padding, no dilation, one
    group), as in a DCGAN's last discriminator layer (a 7x7 kernel on 7x7 inputs) and its
    generator's first (a ConvTranspose from 1x1 to 7x7): the output is 1x1 and the columns of an
    image are the image, so each kernel is one GEMM on the arrays as they are. Measured (2-core
    Xeon, batch 64, through the columns: forward, then forward and backward): 128 -> 1 channels
    0.36 and 2.26 ms, against PyTorch's 0.15 and 0.83; the 100 -> 128 ConvTranspose 0.87, 3.51
    against 0.71, 2.49."""
    return (tuple(w_shape[2:]) == tuple(hw) and tuple(padding) == (0, 0)
            and tuple(dilation) == (1, 1) and groups == 1)


def _whole_window_forward(x, w, bias=None):     # y (N, O) = x (N, K) @ w (O, K)^T + bias
    N, O, K = x.shape[0], w.shape[0], math.prod(w.shape[1:])
    y = _threads.matmul(x.reshape(N, K), np.ascontiguousarray(w).reshape(O, K).T)
    if bias is not None:
        y += bias
    return y.reshape(N, O, 1, 1)


def _whole_window_bwd_input(gy, w, x_shape):       # gx (N, K) = gy (N, O) @ w (O, K)
    N, O, K = x_shape[0], w.shape[0], math.prod(w.shape[1:])
    return _threads.matmul(gy.reshape(N, O), np.ascontiguousarray(w).reshape(O, K)).reshape(
        x_shape)


def _whole_window_bwd_weight(x, gy, w_shape, with_bias=False):   # gw (O, K) = gy^T (O, N) @ x
    N, O, K = x.shape[0], w_shape[0], math.prod(w_shape[1:])
    gw = _threads.matmul(gy.reshape(N, O).T, x.reshape(N, K)).reshape(w_shape)
    return (gw, gy.reshape(N, O).sum(axis=0, dtype=np.float64).astype(gy.dtype)) if with_bias \
        else gw


# ---------------------------------------------------------------- direct, few output channels
# With one output channel (the U-Net's last layer, 32 -> 1 at 28x28) or a few (LeNet's first,
# 1 -> 6 with 5x5 windows), the GEMM has one row or a few: it only streams the columns, and
# writing them costs more than the product. Here instead each image's planes go once into a
# zero-bordered row of width Wp = W + 2 pw, images one after another (`_stacked`), and an output
# at (i, j) is at i * Wp + j on the same grid, so a tap (ki, kj) of the window is the whole grid
# shifted by ki * Wp + kj: y_o += w[o, c, ki, kj] * shifted, one long loop that vectorises. The
# grid's extra columns (and rows below each image) are computed and dropped, so the window rows
# must be mostly image: plane / (OH * OW) at most _DIRECT_MAX_WASTE. Taps go three at a time
# (one load and store of y_o per three multiply-adds). The weight gradient is the same loop as
# dot products with gy put on the grid (0 on the extra columns). Measured (batch 64, 2 threads,
# 2-core Xeon), direct against columns: the U-Net's 32 -> 1 3x3 at 28x28 in its step, forward
# 1.1 against 5.0-5.4 ms, weight gradient 1.0 against 3.9 (PyTorch alone: 1.8, 2.0); LeNet's
# 1 -> 6 5x5 at 28x28 0.30 against 0.39, 0.29 against 0.41-0.51; with 16 or 32 output channels
# columns won (6 -> 16 at 12x12, one thread direct: 0.73-1.07 ms, columns on two: 0.42).
_DIRECT_MAX_OUT = 8            # output channels (of the forward convolution computed)
_DIRECT_MAX_WASTE = 1.5        # the grid's positions per output
_DIRECT_CHUNK = 4              # images per pass over the weights: a few planes, L1/L2-sized


def _direct(w_shape, stride, padding, dilation, groups, hw, out_hw):
    """Whether a convolution (as a forward convolution of x of spatial size hw) runs direct."""
    if (tuple(stride) != (1, 1) or tuple(dilation) != (1, 1) or groups != 1
            or w_shape[0] > _DIRECT_MAX_OUT or min(padding) < 0 or 0 in out_hw):
        return False
    plane = (hw[0] + 2 * padding[0]) * (hw[1] + 2 * padding[1])
    return plane <= _DIRECT_MAX_WASTE * out_hw[0] * out_hw[1]


@jit_serial
def _stacked(x, n0, n1, ph, pw, Wp, plane, P):
    """Images n0:n1 of x into P (C, ...) one plane after another, rows Wp wide, at row ph and
    column pw of their plane (P's other positions are left as they are: zeros)."""
    C, H, W = x.shape[1:]
    for m in range(n1 - n0):
        for c in range(C):
            for i in range(H):
                r = m * plane + (i + ph) * Wp + pw
                for j in range(W):
                    P[c, r + j] = x[n0 + m, c, i, j]


@jit_serial
def _grid(x, ph, pw, kh, kw, n):
    """(Wp, plane, chunk, P) for images of x on the grid: its row width and plane size, the
    images per pass (at most n), and a zeroed buffer for their planes (C, ...) with room past
    the last plane for the window's furthest tap."""
    C, H, W = x.shape[1:]
    Wp = W + 2 * pw
    plane = (H + 2 * ph) * Wp
    chunk = min(_DIRECT_CHUNK, n)
    return Wp, plane, chunk, np.zeros((C, chunk * plane + kh * Wp + kw), x.dtype)


@jit_serial
def _direct_forward_images(x, w, bias, ph, pw, n0, n1, y):
    # slices, not P[c, b + t]: numba cannot tell that b + t >= 0 and does not vectorise the loop
    O, C, kh, kw = w.shape
    OH, OW = y.shape[2:]
    Wp, plane, chunk, P = _grid(x, ph, pw, kh, kw, n1 - n0)
    acc = np.empty(chunk * plane, x.dtype)
    for a in range(n0, n1, chunk):
        m = min(chunk, n1 - a)
        T = m * plane
        _stacked(x, a, a + m, ph, pw, Wp, plane, P)
        for o in range(O):
            acc[:T] = 0
            for c in range(C):
                for ki in range(kh):
                    for kj in range(0, kw, 3):
                        b = ki * Wp + kj
                        w0, p0 = w[o, c, ki, kj], P[c, b:b + T]
                        if kw - kj >= 3:
                            w1, w2 = w[o, c, ki, kj + 1], w[o, c, ki, kj + 2]
                            p1, p2 = P[c, b + 1:b + 1 + T], P[c, b + 2:b + 2 + T]
                            for t in range(T):
                                acc[t] += w0 * p0[t] + w1 * p1[t] + w2 * p2[t]
                        elif kw - kj == 2:
                            w1, p1 = w[o, c, ki, kj + 1], P[c, b + 1:b + 1 + T]
                            for t in range(T):
                                acc[t] += w0 * p0[t] + w1 * p1[t]
                        else:
                            for t in range(T):
                                acc[t] += w0 * p0[t]
            bo = bias[o]
            for mm in range(m):
                for i in range(OH):
                    r = mm * plane + i * Wp
                    for j in range(OW):
                        y[a + mm, o, i, j] = acc[r + j] + bo


@jit_serial
def _direct_bwd_weight_images(x, gy, ph, pw, n0, n1, gw):
    """gw (O, C, kh, kw) = the weight gradient summed over images n0:n1."""
    O, C, kh, kw = gw.shape
    OH, OW = gy.shape[2:]
    Wp, plane, chunk, P = _grid(x, ph, pw, kh, kw, n1 - n0)
    G = np.zeros(chunk * plane, x.dtype)          # gy on the grid, 0 at the extra positions
    zero = x.dtype.type(0)
    gw[...] = 0
    for a in range(n0, n1, chunk):
        m = min(chunk, n1 - a)
        T = m * plane
        _stacked(x, a, a + m, ph, pw, Wp, plane, P)
        for o in range(O):
            for mm in range(m):
                for i in range(OH):
                    r = mm * plane + i * Wp
                    for j in range(OW):
                        G[r + j] = gy[a + mm, o, i, j]
            for c in range(C):
                for ki in range(kh):
                    for kj in range(0, kw, 3):
                        b = ki * Wp + kj
                        p0 = P[c, b:b + T]
                        s0, s1, s2 = zero, zero, zero
                        if kw - kj >= 3:
                            p1, p2 = P[c, b + 1:b + 1 + T], P[c, b + 2:b + 2 + T]
                            for t in range(T):
                                g = G[t]
                                s0 += g * p0[t]
                                s1 += g * p1[t]
                                s2 += g * p2[t]
                            gw[o, c, ki, kj + 1] += s1
                            gw[o, c, ki, kj + 2] += s2
                        elif kw - kj == 2:
                            p1 = P[c, b + 1:b + 1 + T]
                            for t in range(T):
                                g = G[t]
                                s0 += g * p0[t]
                                s1 += g * p1[t]
                            gw[o, c, ki, kj + 1] += s1
                        else:
                            for t in range(T):
                                s0 += G[t] * p0[t]
                        gw[o, c, ki, kj] += s0


def _direct_forward(x, w, padding, bias=None):
    """conv2d(x, w) + bias with stride 1 (`_direct`), the batch split over threads."""
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    oh, ow = H + 2 * padding[0] - kh + 1, W + 2 * padding[1] - kw + 1
    y = np.empty((N, O, oh, ow), dtype=x.dtype)
    w, b = np.ascontiguousarray(w), _bias_or_zeros(bias, O, x.dtype)
    _each_chunk(np, N, 1, C * kh * kw, oh * ow, O, x.dtype,
                lambda n0, n1: _direct_forward_images(x, w, b, *padding, n0, n1, y), columns=False)
    return y


def _direct_bwd_weight(x, gy, w_shape, padding, with_bias=False):
    """The weight gradient of a `_direct` convolution (and the bias's, with_bias): per thread a
    sum over its images, then the threads' sums in batch order."""
    N = x.shape[0]
    O, C, kh, kw = w_shape

    def images(n0, n1):
        gw = np.empty(w_shape, dtype=x.dtype)
        _direct_bwd_weight_images(x, gy, *padding, n0, n1, gw)
        return (gw, _bias_part(gy, n0, n1)) if with_bias else gw
    parts = _each_chunk(np, N, 1, C * kh * kw, gy.shape[2] * gy.shape[3], O, x.dtype, images,
                        columns=False)
    gw, gb = _in_batch_order(parts, np.zeros(w_shape, dtype=x.dtype), O, with_bias)
    return (gw, gb) if with_bias else gw


# ---------------------------------------------------------------- Winograd F(4x4, 3x3)
# A 3x3 convolution with stride 1 and padding 1 computes each 4x4 tile of outputs from the 6x6
# tile of inputs around it (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural
# Networks"). In the Winograd domain the 3x3 window becomes an elementwise product of 6x6 tiles:
#     y_tile = A^T [(G g G^T) * (B^T d B)] A          (* elementwise, per input channel, summed)
#     B^T = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
#            [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]    (input tile d)
#     G   = D [[1, 0, 0], [1, 1, 1], [1, -1, 1], [1, 2, 4], [1, -2, 4], [0, 0, 1]]   (window g)
#     A^T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
#     D   = diag(1/4, -1/6, -1/6, 1/24, 1/24, 1)
# (the points 0, 1, -1, 2, -2 and infinity: G's rows are the powers of each point, A^T's columns
# too), so, with V[xi, tile, c] = (B^T d B)[xi] and U[xi, c, o] = (G g G^T)[xi], the convolution
# is 36 GEMMs M[xi] = V[xi] @ U[xi] (tiles x C times C x O) and the output transform: 36
# multiply-adds per 16 outputs and input channel instead of 144, 4x fewer. The weight gradient
# is the same algorithm with the roles turned, F(3x3, 4x4): the 3x3 gradient of a window is the
# correlation of each 6x6 input tile with the 4x4 tile of gy at the same place, so
#     gw = A'^T [sum over tiles and images of (G' gy_tile G'^T) * (B^T d B)] A'
#     G'  = D [[1, 0, 0, 0], [1, 1, 1, 1], [1, -1, 1, -1], [1, 2, 4, 8], [1, -2, 4, -8],
#              [0, 0, 0, 1]]
#     A'^T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 1]]
# (the same B^T: the same input transform serves both; D is applied to the sums, not to each
# tile), 36 GEMMs summing over the tiles, and one inverse transform at the end. The input
# gradient of such a convolution is itself one (the flipped weight, padding 1).
#
# F(4x4) against F(2x2, 3x3) (16 GEMMs, 2.25x fewer multiply-adds than the window; tinygen's
# algorithm before), measured on the diffusion U-Net's layers, batch 64, 2 threads, 2-core Xeon,
# each call alone: 32 -> 32 channels at 28x28 forward 5.05 -> 3.3-3.4 ms, weight gradient 6.00
# -> 3.7 (PyTorch: 3.07-3.41, 3.29-3.48); 64 -> 64 at 7x7, where F(2x2) lost to columns, forward
# 1.61 ms with columns -> 1.0-1.1 (PyTorch 0.74-0.80), weight gradient 1.64 -> 1.2-1.3 (0.98);
# the U-Net's training step 310-319 -> 257-272 ms. From 7x7 on both win against columns (64 ->
# 64 channels at 7x7: forward 1.29 against 1.71 ms, weight gradient 1.43 against 1.75; at 6x6
# 1.51 against 1.36 and 1.40 against 1.49, and at 5x5 both lose). The price is rounding:
# the transforms multiply by up to 8 and 1/24, so float32 results are further from the truth
# than the columns' (measured on a 32 -> 32 layer at 16x16: forward 3.5e-4 against 4.3e-5 at
# outputs up to 83, weight gradient 2.4e-4 against 4.3e-5 at values up to 111; the weight
# gradient of a 32 -> 64 layer at 28x28, batch 64: 4.7e-3 against 3.1e-4 at values up to 880: a
# few 1e-6 of the largest value, 6-15x the columns'), as with cuDNN's and NNPACK's F(4x4, 3x3).
# float64 runs the same algorithm (errors ~1e-13). Each transform's tile loop writes 36 planes
# at a time: planes a multiple of 4 KB apart fall into one set of the L1 cache and the loops ran
# 4-5x slower (the 64 -> 64 layer at 14x14: input transform 580 -> 114 us a chunk), so the
# planes lie an odd number of 64-byte lines apart (`_winograd_planes`). The transforms run along
# the channels, a row of tiles at a time (tiles, then channels, in V's rows: the images are laid
# out channels last by `_split4` first): one tile at a time they did not vectorise, and the
# transforms took two thirds of the 32 -> 32 layer's time at 28x28. Old against new in one
# process (2-core EPYC, batch 64, 2 threads, forward / input gradient / weight gradient): 32 -> 32
# at 28x28 0.88 / 0.88 / 0.87 of the time, 64 -> 64 at 14x14 0.82 / 0.79 / 0.90, at 7x7 0.92 /
# 0.91 / 0.94 (the weight gradient's gy transform, `_winograd_grad_output`, stayed as it was: the
# same along the channels ran slower). A tile's 36 products mix
# its inputs: one inf or NaN in x would spread over the whole tile (25 outputs a channel, against
# the 9 of the windows that read it), so where an output is not finite (checked as the output
# transform writes it, and on the weight gradient) the kernel is done again with columns.
_WINOGRAD_MIN_SIDE = 7           # images at least this high and wide
_WINOGRAD_MIN_CHANNELS = 4       # and at least this many input and output channels
_WINOGRAD_CHUNK_BYTES = 1 << 20  # the transformed tiles of a chunk of images (V and M): L2-sized
#                                  (2 MB before the transforms ran along the channels; now 1 MB
#                                  and 2 MB alike, 0.5 MB 5-10% slower)
_WINOGRAD_D = np.array([1 / 4, -1 / 6, -1 / 6, 1 / 24, 1 / 24, 1])
_WINOGRAD_G = _WINOGRAD_D[:, None] * np.array([[1, 0, 0], [1, 1, 1], [1, -1, 1], [1, 2, 4],
                                                [1, -2, 4], [0, 0, 1]])
_WINOGRAD_AT_WEIGHT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 1]])
# Both sides of the weight's transforms at once, as one GEMM over all (o, c): (G g G^T)[i, j] =
# sum over k, l of (G kron G)[6i + j, 3k + l] g[k, l], and so A'^T s A'. As a product per (o, c)
# (G @ w @ G.T, 4096 3x3 windows) the transform took 0.6 ms a call, as long as the 64 -> 64
# layer's convolution at 7x7 on 2 threads; as one GEMM 0.05 ms (and the weight gradient's 0.08)
_WINOGRAD_GG = np.kron(_WINOGRAD_G, _WINOGRAD_G)                       # (36, 9)
# and D D^T of the weight gradient's sums s in the same product as A'^T s A'
_WINOGRAD_AA_D = np.kron(_WINOGRAD_AT_WEIGHT, _WINOGRAD_AT_WEIGHT) * np.outer(
    _WINOGRAD_D, _WINOGRAD_D).reshape(1, 36)                             # (9, 36)


def _winograd(w_shape, stride, padding, dilation, groups, hw):
    """Whether a convolution runs as Winograd F(4x4, 3x3): 3x3 windows, stride 1, padding 1, no
    dilation, one group, images at least _WINOGRAD_MIN_SIDE a side."""
    return (tuple(w_shape[2:]) == (3, 3) and tuple(stride) == (1, 1)
            and tuple(padding) == (1, 1) and tuple(dilation) == (1, 1) and groups == 1
            and min(hw) >= _WINOGRAD_MIN_SIDE and min(w_shape[:2]) >= _WINOGRAD_MIN_CHANNELS)


def _winograd_constants(dtype):
    # the transforms' factors in the arrays' dtype (a float literal in a numba loop is a float64,
    # and every float32 product would convert to it and back)
    return np.array([2, 4, 5, 8], dtype)


@jit_inline
def _bt(d0, d1, d2, d3, d4, d5, two, four, five):
    # B^T d (rows in the section's comment), with the sums they share
    e, f, g, h = d4 - d2, two * (d3 - d1), d3 + d4, four * (d1 + d2)
    k, l = d4 - d3, four * (d1 - d2)
    return (four * d0 - five * d2 + d4, g - h, k + l, e + f, e - f, four * d1 - five * d3 + d5)


@jit_inline
def _at(m0, m1, m2, m3, m4, m5, two, four, eight):
    # A^T m
    s, d, t, e = m1 + m2, m1 - m2, m3 + m4, m3 - m4
    return (m0 + s + t, d + two * e, s + four * t, d + eight * e + m5)


@jit_inline
def _powers(g0, g1, g2, g3, two, four, eight):
    # G' g without D: the cubic with coefficients g at 0, 1, -1, 2, -2 and its leading one
    e, o, f, p = g0 + g2, g1 + g3, g0 + four * g2, two * g1 + eight * g3
    return (g0, e + o, e - o, f + p, f - p, g3)


@jit_inline
def _store(V, r, c, t, v):
    # V[6r .. 6r + 5, c, t] = v
    V[6 * r, c, t], V[6 * r + 1, c, t], V[6 * r + 2, c, t] = v[0], v[1], v[2]
    V[6 * r + 3, c, t], V[6 * r + 4, c, t], V[6 * r + 5, c, t] = v[3], v[4], v[5]


@jit_inline
def _bt_rows(p0, p1, p2, p3, p4, p5, o0, o1, o2, o3, o4, o5, two, four, five):
    # o_r[c] = (B^T (p0[c] .. p5[c]))_r for every channel c: one loop along the channels, which
    # vectorises (the transforms below run every step this way, on rows of channels)
    for c in range(p0.shape[0]):
        v = _bt(p0[c], p1[c], p2[c], p3[c], p4[c], p5[c], two, four, five)
        o0[c], o1[c], o2[c], o3[c], o4[c], o5[c] = v[0], v[1], v[2], v[3], v[4], v[5]


@jit_inline
def _at_rows(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3, two, four, eight):
    # o_r[c] = (A^T (m0[c] .. m5[c]))_r, as _bt_rows
    for c in range(m0.shape[0]):
        v = _at(m0[c], m1[c], m2[c], m3[c], m4[c], m5[c], two, four, eight)
        o0[c], o1[c], o2[c], o3[c] = v[0], v[1], v[2], v[3]


@jit_inline
def _split4(image, P, pad):
    # P[i + pad, q % 4, (q // 4) C + c] = image[c, i, j], q = j + pad: the image channels last,
    # its columns split by their remainder mod 4, so that the k-th columns of a row of tiles (4
    # apart) lie side by side with their channels, one contiguous run
    C, H, W = image.shape
    for c in range(C):
        for i in range(H):
            row, dst = image[c, i], P[i + pad]
            for j in range(W):
                q = j + pad
                dst[q % 4, (q // 4) * C + c] = row[j]


@jit_inline
def _join4(Q, image):
    # image[c, i, j] = Q[i, j % 4, (j // 4) C + c], _split4's inverse
    C, H, W = image.shape
    for c in range(C):
        for i in range(H):
            row, src = image[c, i], Q[i]
            for j in range(W):
                row[j] = src[j % 4, (j // 4) * C + c]


@jit_inline
def _add_bias(Q, brow):
    # Q[i, s] += brow for every row of Q; returns the sum of the values times 0 (NaN where one is
    # not finite), a reduction that vectorises (as a chain of adds in _join4's copy, which
    # cannot vectorise, it took most of the output transform's time)
    zero = Q.dtype.type(0)
    check = zero
    for i in range(Q.shape[0]):
        for s in range(Q.shape[1]):
            q = Q[i, s]
            for e in range(q.shape[0]):
                v = q[e] + brow[e]
                q[e] = v
                check += v * zero
    return check


@jit_serial
def _winograd_input(x, n0, n1, V, ps, k):
    # V[xi, m T + a tw + b, c] = (B^T d B)[xi] for the 6x6 tile d of image n0 + m, channel c at
    # rows 4a - 1 .. 4a + 4, columns 4b - 1 .. 4b + 4 (zeros outside the image); V is the flat
    # scratch of _winograd_planes (tiles, C), its planes ps apart. Each image goes once into P
    # (`_split4`, inside a zero border), and then each row of tiles is B^T down the columns of
    # its six rows of P, into D, and B along D's rows, into V: each a loop over the tiles of the
    # row and their channels, which vectorises (one tile at a time, tiles then channels inside,
    # did not: 2.4 ms of the U-Net's 32 -> 32 layer at 28x28, batch 64)
    two, four, five = k[0], k[1], k[2]
    C, H, W = x.shape[1:]
    th, tw = (H + 3) // 4, (W + 3) // 4
    n = tw * C
    P = np.zeros((4 * th + 2, 4, n + C), x.dtype)     # past the image: never written
    D = np.empty((6, 4, n + C), x.dtype)              # D[r, s % 4, (s // 4) C + c] = B^T d
    for m in range(n1 - n0):
        _split4(x[n0 + m], P, 1)
        for a in range(th):
            i = 4 * a
            for s in range(4):
                _bt_rows(P[i, s], P[i + 1, s], P[i + 2, s], P[i + 3, s], P[i + 4, s],
                         P[i + 5, s], D[0, s], D[1, s], D[2, s], D[3, s], D[4, s], D[5, s],
                         two, four, five)
            e = (m * th + a) * n
            for r in range(6):
                f, d = e + 6 * r * ps, D[r]
                _bt_rows(d[0, :n], d[1, :n], d[2, :n], d[3, :n], d[0, C:], d[1, C:],
                         V[f:f + n], V[f + ps:f + ps + n], V[f + 2 * ps:f + 2 * ps + n],
                         V[f + 3 * ps:f + 3 * ps + n], V[f + 4 * ps:f + 4 * ps + n],
                         V[f + 5 * ps:f + 5 * ps + n], two, four, five)


@jit_serial
def _winograd_output(M, ps, bias, n0, n1, y, k):
    # y[n0 + m, o, 4a:4a+4, 4b:4b+4] = A^T m A + bias[o] for the 6x6 values m = M[:, tile, o]
    # (M the flat scratch of _winograd_planes (tiles, O), planes ps apart), a row of tiles at a
    # time as _winograd_input: A^T down the columns into D, A along D's rows into Q (the image
    # as _split4 lays it out), the bias added, and Q copied out (`_join4`). Returns whether every
    # value of Q is finite (its part past the image too)
    two, four, eight = k[0], k[1], k[3]
    O, H, W = y.shape[1:]
    th, tw = (H + 3) // 4, (W + 3) // 4
    n = tw * O
    Q = np.empty((4 * th, 4, n), y.dtype)
    D = np.empty((4, 6, n), y.dtype)                  # D[r, s] = A^T m, the tiles side by side
    brow = np.empty(n, y.dtype)                       # the bias of a row of Q
    for b in range(tw):
        brow[b * O:(b + 1) * O] = bias
    zero = y.dtype.type(0)
    check = zero
    for m in range(n1 - n0):
        for a in range(th):
            e = (m * th + a) * n
            for s in range(6):
                f = e + s * ps
                _at_rows(M[f:f + n], M[f + 6 * ps:f + 6 * ps + n], M[f + 12 * ps:f + 12 * ps + n],
                         M[f + 18 * ps:f + 18 * ps + n], M[f + 24 * ps:f + 24 * ps + n],
                         M[f + 30 * ps:f + 30 * ps + n], D[0, s], D[1, s], D[2, s], D[3, s],
                         two, four, eight)
            for r in range(4):
                d, q = D[r], Q[4 * a + r]
                _at_rows(d[0], d[1], d[2], d[3], d[4], d[5], q[0], q[1], q[2], q[3],
                         two, four, eight)
        check += _add_bias(Q, brow)
        _join4(Q, y[n0 + m])
    return check == zero


@jit_inline
def _planes_into(gy, m, R, gb):
    # image m's planes of gy into R (inside R's zeros), each plane's sum added to gb (float64):
    # the bias's gradient, summed as gy is read
    O, H, W = gy.shape[1:]
    for o in range(O):
        plane, total = gy[m, o], 0.0
        for i in range(H):
            for j in range(W):
                R[o, i, j] = plane[i, j]
                total += plane[i, j]
        gb[o] += total


@jit_serial
def _winograd_grad_output(gy, n0, n1, GY, k, gb):
    # GY[xi, tile, o] = (V4 g V4^T)[xi] for the 4x4 tile g of gy's plane o at rows 4a .. 4a + 3,
    # columns 4b .. 4b + 3 (zeros past the edge), tiles numbered as in _winograd_input; V4 is G'
    # without D, which _winograd_bwd_weight applies to the sums. Tiles by output channel, not
    # output channels by tile as V has its input channels: so the products V[xi] @ GY[xi] read
    # GY as a plain (tiles x O) matrix, which OpenBLAS takes 1.3-1.7x faster than the transpose
    # of an (O x tiles) one at these shapes. gb[o] += the sum of gy's plane o (in float64), the
    # bias's gradient, as the image is copied into R inside zeros
    two, four, eight = k[0], k[1], k[3]
    O, H, W = gy.shape[1:]
    th, tw = (H + 3) // 4, (W + 3) // 4
    R = np.zeros((O, 4 * th, 4 * tw), gy.dtype)       # past the image: never written
    for m in range(n1 - n0):
        _planes_into(gy, n0 + m, R, gb)
        for a in range(th):
            for b in range(tw):
                j, t = 4 * b, (m * th + a) * tw + b
                for o in range(O):
                    q0, q1, q2, q3 = R[o, 4 * a], R[o, 4 * a + 1], R[o, 4 * a + 2], R[o, 4 * a + 3]
                    c0 = _powers(q0[j], q1[j], q2[j], q3[j], two, four, eight)
                    c1 = _powers(q0[j + 1], q1[j + 1], q2[j + 1], q3[j + 1], two, four, eight)
                    c2 = _powers(q0[j + 2], q1[j + 2], q2[j + 2], q3[j + 2], two, four, eight)
                    c3 = _powers(q0[j + 3], q1[j + 3], q2[j + 3], q3[j + 3], two, four, eight)
                    for r in range(6):
                        _store(GY, r, t, o, _powers(c0[r], c1[r], c2[r], c3[r], two, four, eight))


def _winograd_planes(rows, cols, dtype, slot, count=36):
    """A scratch array (count, rows, cols), each of its planes a C-contiguous matrix, the planes
    an odd number of 64-byte lines apart (see the section's comment)."""
    itemsize = np.dtype(dtype).itemsize
    lines = -(-rows * cols * itemsize // 64)
    lines += 1 - lines % 2
    flat = scratch((count * lines * 64 // itemsize,), dtype, slot)
    return np.lib.stride_tricks.as_strided(flat, (count, rows, cols),
                                           (lines * 64, cols * itemsize, itemsize))


def _flat(planes):
    """The scratch behind a `_winograd_planes` array as one flat array, and its planes' distance
    in elements: the transforms address rows of its planes by offset, as contiguous slices."""
    step = planes.strides[0] // planes.itemsize
    return (np.lib.stride_tricks.as_strided(planes, (planes.shape[0] * step,),
                                            (planes.itemsize,)), step)


def _winograd_blocks(N, C, O, T, dtype, work, K, L, count=36, chunk_bytes=None):
    """One range of images per thread (_each_chunk: K, L as for the columns of the same
    convolution, for its decision to split), each range cut into chunks whose transformed tiles
    (count x (C + O) x tiles, C and O the transformed channels in and out) take about
    chunk_bytes: [work(chunks, T, tiles) per thread], chunks a list of (n0, n1), T the tiles of
    one image, tiles the most in a chunk (the buffers' size). chunk_bytes: by default
    _WINOGRAD_CHUNK_BYTES."""
    chunk_bytes = _WINOGRAD_CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    step = max(1, chunk_bytes // (count * (C + O) * T * np.dtype(dtype).itemsize))

    def block(n0, n1):
        return work([(a, min(a + step, n1)) for a in range(n0, n1, step)], T,
                    min(step, n1 - n0) * T)
    return _each_chunk(np, N, 1, K, L, O, dtype, block, columns=False)


def _winograd_tiles(x):
    """The 4x4 tiles of one image of x (N, C, H, W), and the arguments of _winograd_blocks."""
    N, C, H, W = x.shape
    return N, C, ((H + 3) // 4) * ((W + 3) // 4), 9 * C, H * W


def _winograd_forward(x, w, bias=None, flipped=False):
    """conv2d(x, w) + bias for 3x3 windows, stride 1, padding 1 (`_winograd`); None where an
    output is not finite (see below). flipped: the input gradient of the convolution by w
    instead, conv2d(x, _flipped_weight(w, 1)), its transformed weight the product with the taps
    reversed (no copy of the flipped weight: 0.09 -> 0.05 ms for 64 -> 64 channels)."""
    Ow, Cw = w.shape[:2]
    # U[xi] (C in, O out) for M[xi] = V[xi] @ U[xi]: the taps' rows in that order
    if flipped:
        U = (_WINOGRAD_GG[:, ::-1].astype(w.dtype) @ w.reshape(Ow * Cw, 9).T).reshape(36, Ow, Cw)
    else:
        taps = w.transpose(1, 0, 2, 3).reshape(Cw * Ow, 9).T
        U = (_WINOGRAD_GG.astype(w.dtype) @ taps).reshape(36, Cw, Ow)
    N, C, H, W = x.shape
    O = U.shape[2]
    k = _winograd_constants(x.dtype)
    y, b = np.empty((N, O, H, W), dtype=x.dtype), _bias_or_zeros(bias, O, x.dtype)

    def work(chunks, T, tiles):
        V = _winograd_planes(tiles, C, x.dtype, "winograd_V")
        M = _winograd_planes(tiles, O, x.dtype, "winograd_M")
        (Vf, ps), (Mf, ms) = _flat(V), _flat(M)
        finite = True
        for n0, n1 in chunks:
            n = (n1 - n0) * T
            _winograd_input(x, n0, n1, Vf, ps, k)
            np.matmul(V[:, :n], U, out=M[:, :n])
            finite &= _winograd_output(Mf, ms, b, n0, n1, y, k)
        return finite
    N, C, T, K, L = _winograd_tiles(x)
    return y if all(_winograd_blocks(N, C, O, T, x.dtype, work, K, L)) else None


@jit_serial
def _add_products_blas(gemm, V, GY, n, acc, trans):
    # acc[xi] += op(V[xi]) @ GY[xi, :n] for each plane xi, by BLAS with beta = 1; op(V[xi]) is
    # V[xi, :, :n] (trans 111) or V[xi, :n].T (112)
    one, size = acc.dtype.type(1), V.itemsize
    C, O = acc.shape[1:]
    for xi in range(V.shape[0]):
        _numba.cblas_gemm(gemm, trans, _NO_TRANS, np.int64(C), np.int64(O), np.int64(n), one,
                          np.uintp(V.ctypes.data + xi * V.strides[0]),
                          np.int64(V.strides[1] // size),
                          np.uintp(GY.ctypes.data + xi * GY.strides[0]),
                          np.int64(GY.strides[1] // size), one,
                          np.uintp(acc.ctypes.data + xi * acc.strides[0]), np.int64(O))


_NO_TRANS, _TRANS = np.int32(111), np.int32(112)


def _add_products(V, GY, n, acc, tiles_by_rows=False):
    """acc[xi] += V[xi, :, :n] @ GY[xi, :n] for each plane xi of the (P, C, O) C-contiguous acc
    (tiles_by_rows: V[xi, :n].T @ GY[xi, :n], V's planes (tiles, C)):
    by BLAS called from numba with beta = 1, straight into acc, else as products and sums. The
    products into a scratch array, then their sums into acc, passed over acc twice a chunk (2-core
    EPYC, batch 64, 2 threads, medians of 9: the DCGAN's 64 -> 128 layer, 4x4 windows, stride 2,
    at 14x14, 25 x 256 x 128 sums: 5.5 -> 4.4 ms; the U-Net's 3x3 layers 32 -> 32 at 28x28 4.9
    -> 4.7 ms, 64 -> 64 at 7x7 1.6 -> 1.4)."""
    gemm = _numba.gemm_address(acc.dtype) if _numba.cblas_gemm is not None else None
    if gemm is None or _numba.numba.config.DISABLE_JIT:
        Vn = V[:, :n].transpose(0, 2, 1) if tiles_by_rows else V[:, :, :n]
        acc += np.matmul(Vn, GY[:, :n], out=scratch(acc.shape, acc.dtype, "products"))
    else:
        _add_products_blas(gemm, V, GY, n, acc, _TRANS if tiles_by_rows else _NO_TRANS)


@jit_serial
def _small_product(A, T, U):
    # U = A @ T for a small A (P, K) and a wide T (K, E), by blocks of T's columns that stay in
    # L1. The Winograd weights' transforms: BLAS took 0.53 ms for the DCGAN layer's (25, 4) @
    # (4, 32768) at one thread (as inside a step with convolutions), this 0.16; and its weight
    # gradient's (4, 25) @ (25, 32768) 0.36 against 0.14 (EPYC)
    P, K = A.shape
    E = T.shape[1]
    for e0 in range(0, E, 512):
        e1 = min(E, e0 + 512)
        for p in range(P):
            row = U[p, e0:e1]
            t, a = T[0, e0:e1], A[p, 0]
            for e in range(e1 - e0):
                row[e] = a * t[e]
            for k in range(1, K):
                t, a = T[k, e0:e1], A[p, k]
                if a != 0:
                    for e in range(e1 - e0):
                        row[e] += a * t[e]


def _transformed(A, T):
    """A (P, K) @ T (K, E) in T's dtype, by `_small_product`."""
    U = np.empty((A.shape[0], T.shape[1]), T.dtype)
    _small_product(A.astype(T.dtype), T, U)
    return U


@jit_serial
def _window_weight(g, gw):
    # gw[o, c, i, j] = g[3i + j, c O + o]: the 3x3 weight gradient from its rows by tap, written
    # a row of gw at a time (as a strided copy 0.09 -> 0.03 ms for 64 x 64 channels, EPYC)
    O, C = gw.shape[:2]
    for o in range(O):
        for c in range(C):
            d = gw[o, c]
            for i in range(3):
                for j in range(3):
                    d[i, j] = g[3 * i + j, c * O + o]


def _winograd_bwd_weight(x, gy, w_shape, with_bias=False):
    """The weight gradient of a `_winograd` convolution: F(3x3, 4x4), summed in the Winograd
    domain over tiles and images (per thread, then the threads' sums in batch order), D applied
    and one inverse transform at the end; with_bias also the bias's (summed as gy is read)."""
    O, C = w_shape[:2]
    k = _winograd_constants(x.dtype)

    def work(chunks, T, tiles):
        V = _winograd_planes(tiles, C, x.dtype, "winograd_V")
        GY = _winograd_planes(tiles, O, x.dtype, "winograd_M")
        Vf, ps = _flat(V)
        acc, gb = np.zeros((36, C, O), x.dtype), np.zeros(O, np.float64)
        for n0, n1 in chunks:
            n = (n1 - n0) * T
            _winograd_input(x, n0, n1, Vf, ps, k)
            _winograd_grad_output(gy, n0, n1, GY, k, gb)
            _add_products(V, GY, n, acc, tiles_by_rows=True)
        return (acc, gb) if with_bias else acc
    N, _, T, K, L = _winograd_tiles(x)
    parts = _winograd_blocks(N, C, O, T, x.dtype, work, K, L)
    acc, gb = _in_batch_order(parts, np.zeros((36, C, O), dtype=x.dtype), O, with_bias)
    gw = np.empty((O, C, 3, 3), x.dtype)
    _window_weight(_transformed(_WINOGRAD_AA_D, acc.reshape(36, C * O)), gw)
    if not np.isfinite(gw).all():
        return None
    return (gw, gb) if with_bias else gw


# ---------------------------------------------------------------- Winograd F(4x4, 2x2), stride 2
# The DCGAN's layers (4x4 windows, stride 2, padding 1: 14x14 <-> 7x7 with 64 <-> 128 channels)
# are a 2x2 convolution with stride 1 in disguise. Cut the padded input xp into its four phases
# X_pq[r, s] = xp[2r + p, 2s + q] (p, q in {0, 1}) and the window into the matching taps
# w_pq[u, v] = w[2u + p, 2v + q]: then
#     y[a, b] = sum over c, p, q, u, v of w_pq[o, c, u, v] X_pq[c, a + u, b + v],
# a 2x2 stride-1 convolution over 4C channels (c, p, q). Its input gradient (the transposed
# convolution, a DCGAN generator's layer) is one too: gx at rows 2r + p - 1 of phase (p, q)
# is Z_pq[r] = sum over o, u of w[o, c, 2(1 - u) + p, ...] gyp[o, r + u], gy padded by 1, for
# r = 0 .. H/2, the 4C output channels (c, p, q) scattered back into gx's phases. And the weight
# gradient of w_pq is the correlation of X_pq with gy.
# The 2x2 convolution goes by Winograd F(4x4, 2x2), as F(4x4, 3x3) above with the points 0, 1,
# -1, 2 and infinity (5x5 tiles):
#     B'^T = [[2, -1, -2, 1, 0], [0, 2, 1, -1, 0], [0, -2, 3, -1, 0], [0, -1, 0, 1, 0],
#             [0, 2, -1, -2, 1]]                    (input tile d; B^T = D B'^T)
#     G    = D [[1, 0], [1, 1], [1, -1], [1, 2], [0, 1]]              (window g)
#     A^T  = [[1, 1, 1, 1, 0], [0, 1, -1, 2, 0], [0, 1, 1, 4, 0], [0, 1, -1, 8, 1]]
#     D    = diag(1/2, 1/2, 1/6, 1/6, 1)
# 25 GEMMs on transformed tiles instead of 64 multiply-adds per 16 outputs and input channel
# (2.56x fewer; 1.96x at 7x7 outputs, whose 2x2 tiles of 4 cover 8x8). The weight gradient is
# F(2x2, 4x4) with G'' = [[1, 0, 0, 0], [1, 1, 1, 1], [1, -1, 1, -1], [1, 2, 4, 8], [0, 0, 0, 1]]
# on gy's 4x4 tiles and A''^T = [[1, 1, 1, 1, 0], [0, 1, -1, 2, 1]], the same B'^T on the input.
# The phases are read straight from the image by the input transform, and the output transform
# writes straight into the output's phases: no copies of x, gy or gx.
# Where an output is not finite the kernel is done again with columns, as for F(4x4, 3x3). The
# price is rounding, as there: the transforms mix a tile's 25 inputs, so an output's float32
# error follows the largest value in its tile, not its own terms (one input of 1e4 among values
# ~1 put ~900 eps of their terms into outputs that never read it, ~6 eps at 1e2; columns: 0.3),
# and outputs whose terms are all 0 come out ~1e-5 instead of 0 (TINYGEN_KERNELS=reference for
# the columns everywhere).
# Chunks of 1 MB: on the 2-core EPYC (Zen 4, 1 MB of L2 a core) the DCGAN layer's three kernels
# (64 <-> 128 channels, 14x14 <-> 7x7, batch 64, 2 threads; best of 9) ran in 3.7 / 4.2 / 4.7 ms
# with 1 MB, 4.1 / 4.5 / 4.9 with 2 MB, 4.3 / 4.8 / 5.3 with 0.5 MB (F(4x4, 3x3)'s layers did not
# care: within 3% either way)
_WINOGRAD2_CHUNK_BYTES = 1 << 20
_WINOGRAD2_D = np.array([1 / 2, 1 / 2, 1 / 6, 1 / 6, 1])
_WINOGRAD2_G = _WINOGRAD2_D[:, None] * np.array([[1, 0], [1, 1], [1, -1], [1, 2], [0, 1]])
_WINOGRAD2_GG = np.kron(_WINOGRAD2_G, _WINOGRAD2_G)                    # (25, 4)
# A''^T s A'' of the weight gradient's sums s as one product (see _WINOGRAD_AA_D), D D^T
# applied to s in the same product
_WINOGRAD2_AA_D = np.kron(np.array([[1, 1, 1, 1, 0], [0, 1, -1, 2, 1]]),
                          np.array([[1, 1, 1, 1, 0], [0, 1, -1, 2, 1]])) * np.outer(
                              _WINOGRAD2_D, _WINOGRAD2_D).reshape(1, 25)            # (4, 25)


@jit_serial
def _phase_taps(w, T):
    # T[2u + v, (o C + c) 4 + 2p + q] = w[o, c, 2u + p, 2v + q]: a 4x4 window's taps (u, v) of
    # its phases (p, q), each a row over (o, c, p, q) (as a strided copy: 0.34 against 0.02 ms
    # for the DCGAN's 128 x 64, EPYC)
    O, C = w.shape[:2]
    for o in range(O):
        for c in range(C):
            g = w[o, c]
            e = (o * C + c) * 4
            for u in range(2):
                for v in range(2):
                    row = T[2 * u + v]
                    row[e], row[e + 1] = g[2 * u, 2 * v], g[2 * u, 2 * v + 1]
                    row[e + 2], row[e + 3] = g[2 * u + 1, 2 * v], g[2 * u + 1, 2 * v + 1]


@jit_serial
def _phase_weight(g, gw):
    # gw[o, c, 2u + p, 2v + q] = g[2u + v, ((c 2 + p) 2 + q) O + o]: the weight gradient from its
    # rows by tap, written a row of gw at a time (as a strided copy: 0.26 against 0.08 ms for the
    # DCGAN's 128 x 64, EPYC)
    O, C = gw.shape[:2]
    for o in range(O):
        for c in range(C):
            d = gw[o, c]
            for i in range(4):
                for j in range(4):
                    d[i, j] = g[2 * (i // 2) + j // 2, ((c * 2 + i % 2) * 2 + j % 2) * O + o]


def _winograd2_weight(w, flipped=False):
    """U (25, O, 4C) of the forward convolution by w (O, C, 4, 4): the transformed taps
    U[xi, o, (c, p, q)] of w[o, c, 2u + p, 2v + q]; flipped: U (25, 4C, O) of its input gradient,
    taps w[o, c, 2 (1 - u) + p, 2 (1 - v) + q], the same rows reversed, as a transposed view
    (0.44 ms a call as a strided copy and BLAS's product, now ~0.18, for the DCGAN's 128 x 64)."""
    O, C = w.shape[:2]
    T = np.empty((4, O * C * 4), w.dtype)
    _phase_taps(w, T)
    if flipped:
        return _transformed(_WINOGRAD2_GG[:, ::-1], T).reshape(25, O, 4 * C).transpose(0, 2, 1)
    return _transformed(_WINOGRAD2_GG, T).reshape(25, O, 4 * C)


def _winograd2(w_shape, stride, padding, dilation, groups, hw):
    """Whether a convolution of an image of size hw runs as Winograd F(4x4, 2x2) on its phases:
    4x4 windows, stride 2, padding 1, no dilation, one group, even sides at least 8."""
    return (tuple(w_shape[2:]) == (4, 4) and tuple(stride) == (2, 2)
            and tuple(padding) == (1, 1) and tuple(dilation) == (1, 1) and groups == 1
            and hw[0] % 2 == 0 and hw[1] % 2 == 0 and min(hw) >= 8
            and min(w_shape[:2]) >= _WINOGRAD_MIN_CHANNELS)


@jit_inline
def _bt5(d0, d1, d2, d3, d4, two, three):
    # B'^T d
    e = d3 - d1
    return (two * (d0 - d2) + e, d1 + d2 - e, three * d2 - two * d1 - d3, e,
            d4 - two * e - d2)


@jit_inline
def _at5(m0, m1, m2, m3, m4, two, four, eight):
    # A^T m
    s, d = m1 + m2, m1 - m2
    return (m0 + s + m3, d + two * m3, s + four * m3, d + eight * m3 + m4)


@jit_inline
def _at5_down(M, s, o, t, two, four, eight):
    # A^T down column s of tile t's 5x5 values in M's plane o
    return _at5(M[s, o, t], M[s + 5, o, t], M[s + 10, o, t], M[s + 15, o, t], M[s + 20, o, t],
                two, four, eight)


@jit_inline
def _store5(V, r, c, t, v):
    # V[5r .. 5r + 4, c, t] = v
    V[5 * r, c, t], V[5 * r + 1, c, t], V[5 * r + 2, c, t] = v[0], v[1], v[2]
    V[5 * r + 3, c, t], V[5 * r + 4, c, t] = v[3], v[4]


@jit_inline
def _winograd2_tiles(P, V, ch, t0, th, tw, two, three):
    # V[xi, ch, t0 + a tw + b] = (B'^T d B')[xi] for the 5x5 tiles d of the plane P at rows
    # 4a .. 4a + 4, columns 4b .. 4b + 4: B'^T down each of a tile's 5 columns, then B' along
    # its rows; a tile's first column is the last of the tile before it
    for a in range(th):
        p0, p1, p2, p3, p4 = P[4 * a], P[4 * a + 1], P[4 * a + 2], P[4 * a + 3], P[4 * a + 4]
        c4 = _bt5(p0[0], p1[0], p2[0], p3[0], p4[0], two, three)
        for b in range(tw):
            c0, j = c4, 4 * b + 1
            c1 = _bt5(p0[j], p1[j], p2[j], p3[j], p4[j], two, three)
            c2 = _bt5(p0[j + 1], p1[j + 1], p2[j + 1], p3[j + 1], p4[j + 1], two, three)
            c3 = _bt5(p0[j + 2], p1[j + 2], p2[j + 2], p3[j + 2], p4[j + 2], two, three)
            c4 = _bt5(p0[j + 3], p1[j + 3], p2[j + 3], p3[j + 3], p4[j + 3], two, three)
            for r in range(5):
                _store5(V, r, ch, t0 + a * tw + b,
                        _bt5(c0[r], c1[r], c2[r], c3[r], c4[r], two, three))


@jit_serial
def _winograd2_input(x, n0, n1, S, th, tw, V, k):
    # V[xi, (c S + p) S + q, m th tw + a tw + b] = (B'^T d B')[xi] for the 5x5 tile d at rows
    # 4a .. 4a + 4, columns 4b .. 4b + 4 of phase (p, q) of image n0 + m's plane c padded by 1:
    # X_pq[r, s] = xp[S r + p, S s + q] (S = 2: the forward's four phases; S = 1: the plane).
    # Each plane is copied once into its phases P[p, q] inside zeros, so that the tile loop reads
    # without bounds tests and with unit strides (with S in the tile loop's indices it ran 1.7x
    # slower)
    two, three = k[0], k[4]
    C, H, W = x.shape[1:]
    P = np.zeros((S, S, 4 * th + 1, 4 * tw + 1), x.dtype)   # past the image: never written
    for c in range(C):              # images inside channels: V's rows filled a line at a time
        for m in range(n1 - n0):
            plane = x[n0 + m, c]
            if S == 1:
                for i in range(H):
                    for j in range(W):
                        P[0, 0, i + 1, j + 1] = plane[i, j]
            else:
                for i in range(H):
                    for j in range(W):
                        P[(i + 1) % 2, (j + 1) % 2, (i + 1) // 2, (j + 1) // 2] = plane[i, j]
            for p in range(S):
                for q in range(S):
                    _winograd2_tiles(P[p, q], V, (c * S + p) * S + q, m * th * tw, th, tw,
                                     two, three)


@jit_serial
def _winograd2_output(M, bias, n0, n1, S, th, tw, y, k):
    # y[n0 + m, c, S r + p - pad, S s + q - pad] = (A^T M A)[r - 4a, s - 4b] + bias[c] for
    # tile (a, b) of M's plane (c S + p) S + q, where that lies in y (pad = S - 1: gx's phases
    # start at row 1 of the padded image). Returns whether every value written is finite (a sum
    # of value * 0: NaN from any inf or NaN)
    two, four, eight = k[0], k[1], k[3]
    C, H, W = y.shape[1:]
    Q = np.empty((4 * th, 4 * tw), y.dtype)
    zero = y.dtype.type(0)
    check = zero
    for c in range(C):              # images inside channels, as _winograd2_input
        for m in range(n1 - n0):
            plane, bc = y[n0 + m, c], bias[c]
            for p in range(S):
                for q in range(S):
                    ch = (c * S + p) * S + q
                    for a in range(th):
                        t0 = (m * th + a) * tw
                        for b in range(tw):
                            t, j = t0 + b, 4 * b
                            # A^T down each of the 5 columns of M's tile, then A along the rows
                            c0 = _at5_down(M, 0, ch, t, two, four, eight)
                            c1 = _at5_down(M, 1, ch, t, two, four, eight)
                            c2 = _at5_down(M, 2, ch, t, two, four, eight)
                            c3 = _at5_down(M, 3, ch, t, two, four, eight)
                            c4 = _at5_down(M, 4, ch, t, two, four, eight)
                            for r in range(4):
                                row = Q[4 * a + r]
                                row[j], row[j + 1], row[j + 2], row[j + 3] = _at5(
                                    c0[r], c1[r], c2[r], c3[r], c4[r], two, four, eight)
                    if S == 1:
                        for i in range(H):
                            out = plane[i]
                            for s in range(W):
                                v = Q[i, s] + bc
                                out[s] = v
                                check += v * zero
                    else:           # Q's rows r with 0 <= 2r + p - 1 < H, and so its columns
                        for r in range(1 - p, (H - p) // 2 + 1):
                            out = plane[2 * r + p - 1]
                            for s in range(1 - q, (W - q) // 2 + 1):
                                v = Q[r, s] + bc
                                out[2 * s + q - 1] = v
                                check += v * zero
    return check == zero


@jit_inline
def _powers4(g0, g1, g2, g3, two, four, eight):
    # G'' g: the cubic with coefficients g at 0, 1, -1, 2 and its leading one
    e, o = g0 + g2, g1 + g3
    return (g0, e + o, e - o, g0 + two * g1 + four * g2 + eight * g3, g3)


@jit_serial
def _winograd2_grad_output(gy, n0, n1, GY, k, gb):
    # GY[xi, tile, o] = (G'' g G''^T)[xi] for the 4x4 tile g of gy's plane o at rows 4a ..
    # 4a + 3, columns 4b .. 4b + 3 (zeros past the edge), tiles numbered as in
    # _winograd2_input; gb[o] += the sum of the plane (in float64). As _winograd_grad_output
    two, four, eight = k[0], k[1], k[3]
    O, H, W = gy.shape[1:]
    th, tw = (H + 3) // 4, (W + 3) // 4
    R = np.zeros((O, 4 * th, 4 * tw), gy.dtype)       # past the image: never written
    for m in range(n1 - n0):
        _planes_into(gy, n0 + m, R, gb)
        for a in range(th):
            for b in range(tw):
                j, t = 4 * b, (m * th + a) * tw + b
                for o in range(O):
                    q0, q1, q2, q3 = R[o, 4 * a], R[o, 4 * a + 1], R[o, 4 * a + 2], R[o, 4 * a + 3]
                    c0 = _powers4(q0[j], q1[j], q2[j], q3[j], two, four, eight)
                    c1 = _powers4(q0[j + 1], q1[j + 1], q2[j + 1], q3[j + 1], two, four, eight)
                    c2 = _powers4(q0[j + 2], q1[j + 2], q2[j + 2], q3[j + 2], two, four, eight)
                    c3 = _powers4(q0[j + 3], q1[j + 3], q2[j + 3], q3[j + 3], two, four, eight)
                    for r in range(5):
                        _store5(GY, r, t, o, _powers4(c0[r], c1[r], c2[r], c3[r], two, four,
                                                      eight))


def _winograd2_constants(dtype):
    return np.array([2, 4, 5, 8, 3], dtype)        # _winograd_constants' and a 3


def _winograd2_run(x, U, S_in, S_out, y, bias):
    """The 2x2 convolution's driver: x's phases (S_in = 2) or x padded by 1 (S_in = 1) through
    the transforms and U (25, C', C) into y's phases (S_out = 2, gx) or y itself (S_out = 1).
    False where an output is not finite (y then holds garbage)."""
    N, Ci = x.shape[0], x.shape[1] * S_in * S_in
    Co = U.shape[1]
    pad_out = S_out - 1                            # gx's phases start at padded row 1
    th = -(-((y.shape[2] + 2 * pad_out) // S_out) // 4)
    tw = -(-((y.shape[3] + 2 * pad_out) // S_out) // 4)
    k, b = _winograd2_constants(x.dtype), _bias_or_zeros(bias, y.shape[1], x.dtype)

    def work(chunks, T, tiles):
        V = _winograd_planes(Ci, tiles, x.dtype, "winograd_V", 25)
        M = _winograd_planes(Co, tiles, x.dtype, "winograd_M", 25)
        finite = True
        for n0, n1 in chunks:
            n = (n1 - n0) * T
            _winograd2_input(x, n0, n1, S_in, th, tw, V, k)
            np.matmul(U, V[:, :, :n], out=M[:, :, :n])
            finite &= _winograd2_output(M, b, n0, n1, S_out, th, tw, y, k)
        return finite
    # for the decision to split: the columns' K and L of the same convolution (16 C, H/2 W/2)
    K, L = 4 * Ci, 16 * th * tw
    return all(_winograd_blocks(N, Ci, Co, th * tw, x.dtype, work, K, L, 25,
                                _WINOGRAD2_CHUNK_BYTES))


def _winograd2_forward(x, w, bias=None):
    """conv2d(x, w) + bias for 4x4 windows, stride 2, padding 1 (`_winograd2`); None where an
    output is not finite."""
    N, C, H, W = x.shape
    y = np.empty((N, w.shape[0], H // 2, W // 2), dtype=x.dtype)
    return y if _winograd2_run(x, _winograd2_weight(w), 2, 1, y, bias) else None


def _winograd2_bwd_input(gy, w, x_shape):
    """gx of a `_winograd2` convolution: gy padded by 1 through the flipped taps into gx's
    phases; None where a value is not finite."""
    gx = np.empty(x_shape, dtype=gy.dtype)
    return gx if _winograd2_run(gy, _winograd2_weight(w, flipped=True), 1, 2, gx, None) else None


def _winograd2_bwd_weight(x, gy, w_shape, with_bias=False):
    """The weight gradient of a `_winograd2` convolution (and the bias's, with_bias), summed in
    the Winograd domain as _winograd_bwd_weight; None where a value is not finite."""
    N = x.shape[0]
    O, C = w_shape[:2]
    th, tw = (gy.shape[2] + 3) // 4, (gy.shape[3] + 3) // 4
    k = _winograd2_constants(x.dtype)

    def work(chunks, T, tiles):
        V = _winograd_planes(4 * C, tiles, x.dtype, "winograd_V", 25)
        GY = _winograd_planes(tiles, O, x.dtype, "winograd_M", 25)
        acc = np.zeros((25, 4 * C, O), x.dtype)
        gb = np.zeros(O, np.float64)
        for n0, n1 in chunks:
            n = (n1 - n0) * T
            _winograd2_input(x, n0, n1, 2, th, tw, V, k)
            _winograd2_grad_output(gy, n0, n1, GY, k, gb)
            _add_products(V, GY, n, acc)
        return (acc, gb) if with_bias else acc
    parts = _winograd_blocks(N, 4 * C, O, th * tw, x.dtype, work, 16 * C,
                             gy.shape[2] * gy.shape[3], 25, _WINOGRAD2_CHUNK_BYTES)
    acc, gb = _in_batch_order(parts, np.zeros((25, 4 * C, O), dtype=x.dtype), O, with_bias)
    gw = np.empty(w_shape, x.dtype)     # from the taps' rows ((u, v), (c, p, q), o)
    _phase_weight(_transformed(_WINOGRAD2_AA_D, acc.reshape(25, 4 * C * O)), gw)
    if not np.isfinite(gw).all():
        return None
    return (gw, gb) if with_bias else gw


@numba_kernel("conv2d_fwd", impl="numba_v1", default=True)
def conv2d_fwd_numba(x, w, stride, padding, dilation, groups, bias=None):
    """numba_v1: the reference's GEMMs, im2col by `im2col_numba`, the bias added as each chunk's
    product is copied into y (`_columns_out`); 1x1 convolutions and windows as large as the image
    without columns (`_pointwise`, `_whole_window`); 3x3 ones with stride 1 and padding 1 by
    Winograd (`_winograd`), and 4x4 ones with stride 2 and padding 1 (`_winograd2`); few output
    channels direct (`_direct`). Each path adds the bias as it writes its outputs (the Winograd
    and direct loops, as they write each value)."""
    if (not is_cpu_float(w) or type(x) is not np.ndarray or x.dtype != w.dtype
            or (bias is not None and (type(bias) is not np.ndarray or bias.dtype != x.dtype))):
        return NotImplemented
    if _pointwise(w.shape, stride, padding, groups, x.shape[2:]):
        return _pointwise_forward(np.ascontiguousarray(x), w, bias)
    if _whole_window(w.shape, stride, padding, dilation, groups, x.shape[2:]):
        return _whole_window_forward(np.ascontiguousarray(x), w, bias)
    # the Winograd paths give None where an output is not finite: then columns
    if _winograd(w.shape, stride, padding, dilation, groups, x.shape[2:]):
        y = _winograd_forward(np.ascontiguousarray(x), np.ascontiguousarray(w), bias)
        if y is not None:
            return y
    elif _winograd2(w.shape, stride, padding, dilation, groups, x.shape[2:]):
        y = _winograd2_forward(np.ascontiguousarray(x), np.ascontiguousarray(w), bias)
        if y is not None:
            return y
    out_hw, _ = _geometry(x.shape, w.shape, stride, padding, dilation, groups)
    if _direct(w.shape, stride, padding, dilation, groups, x.shape[2:], out_hw):
        return _direct_forward(np.ascontiguousarray(x), w, tuple(padding), bias)
    return _forward(np.ascontiguousarray(x), w, stride, padding, dilation, groups, im2col_numba,
                    bias, _columns_out)


@numba_kernel("conv2d_bwd_input", impl="numba_v1", default=True)
def conv2d_bwd_input_numba(gy, w, x_shape, stride, padding, dilation, groups):
    """numba_v1: the reference's GEMMs, col2im by `col2im_numba` (and im2col by `im2col_numba`
    where the driver turns the gradient into a forward convolution); 1x1 convolutions without
    columns: a forward 1x1 convolution of gy with the transposed weight; windows as large as the
    image: one GEMM; 3x3 ones with stride 1 and padding 1: a Winograd forward convolution of gy
    with the flipped weight; 4x4 ones with stride 2 and padding 1: Winograd on gx's phases."""
    if not is_cpu_float(w) or type(gy) is not np.ndarray or gy.dtype != w.dtype:
        return NotImplemented
    if (_pointwise(w.shape, stride, padding, groups, x_shape[2:])
            and tuple(gy.shape[2:]) == tuple(x_shape[2:])):
        O, C = w.shape[:2]
        return _pointwise_forward(np.ascontiguousarray(gy), np.ascontiguousarray(w.reshape(O, C).T))
    if (_whole_window(w.shape, stride, padding, dilation, groups, x_shape[2:])
            and tuple(gy.shape[2:]) == (1, 1)):
        return _whole_window_bwd_input(np.ascontiguousarray(gy), w, tuple(x_shape))
    if (_winograd(w.shape, stride, padding, dilation, groups, x_shape[2:])
            and tuple(gy.shape[2:]) == tuple(x_shape[2:])):
        gx = _winograd_forward(np.ascontiguousarray(gy), np.ascontiguousarray(w), flipped=True)
        if gx is not None:
            return gx
    if (_winograd2(w.shape, stride, padding, dilation, groups, x_shape[2:])
            and tuple(gy.shape[2:]) == (x_shape[2] // 2, x_shape[3] // 2)):
        gx = _winograd2_bwd_input(np.ascontiguousarray(gy), np.ascontiguousarray(w),
                                  tuple(x_shape))
        if gx is not None:
            return gx
    full_hw, _ = _geometry(x_shape, w.shape, stride, padding, dilation, groups)
    flipped_padding = tuple(k - 1 - p for k, p in zip(w.shape[2:], padding))
    if (tuple(gy.shape[2:]) == full_hw and _direct(
            (w.shape[1], w.shape[0]) + w.shape[2:], stride, flipped_padding, dilation, groups,
            full_hw, x_shape[2:]) and _finite_weight(w)):  # a forward convolution of gy, as for
        # Winograd (and as `_bwd_input`'s, only for a finite weight)
        return _direct_forward(np.ascontiguousarray(gy), _flipped_weight(w, 1), flipped_padding)
    return _bwd_input(np.ascontiguousarray(gy), w, tuple(x_shape), stride, padding, dilation,
                      groups, col2im_numba, im2col_numba)


@numba_kernel("conv2d_bwd_weight", impl="numba_v1", default=True)
def conv2d_bwd_weight_numba(x, gy, w_shape, stride, padding, dilation, groups):
    """numba_v1: the reference's GEMMs, im2col by `im2col_numba`; 1x1 convolutions and windows
    as large as the image without columns (`_pointwise`, `_whole_window`); 3x3 ones with stride 1
    and padding 1 by Winograd F(3x3, 4x4), 4x4 ones with stride 2 and padding 1 by F(2x2, 4x4)
    on x's phases; few output channels direct (`_direct`)."""
    return _weight_grads(x, gy, w_shape, stride, padding, dilation, groups, False)


@reference("conv2d_bwd_weight_bias", example=_example_bwd_weight, rtol=1e-4, atol=1e-2)
def conv2d_bwd_weight_bias(x, gy, w_shape, stride, padding, dilation, groups):
    """(gw, gb): conv2d_bwd_weight and the bias's gradient, gy summed over images and positions
    per channel (in gy's dtype)."""
    return (conv2d_bwd_weight(x, gy, w_shape, stride, padding, dilation, groups),
            gy.sum(axis=(0, 2, 3)))


@numba_kernel("conv2d_bwd_weight_bias", impl="numba_v1", default=True)
def conv2d_bwd_weight_bias_numba(x, gy, w_shape, stride, padding, dilation, groups):
    """numba_v1: conv2d_bwd_weight_numba's paths, each summing gy per channel chunk by chunk as
    it reads it (`_bias_part`), in float64: no pass of its own over gy for the bias."""
    return _weight_grads(x, gy, w_shape, stride, padding, dilation, groups, True)


def _weight_grads(x, gy, w_shape, stride, padding, dilation, groups, with_bias):
    """gw, or (gw, gb) with_bias, by the path the shapes choose (see conv2d_bwd_weight_numba)."""
    if type(gy) is not np.ndarray or type(x) is not np.ndarray or gy.dtype != x.dtype \
            or x.dtype not in (np.float32, np.float64):
        return NotImplemented
    x, gy = np.ascontiguousarray(x), np.ascontiguousarray(gy)
    if (_pointwise(w_shape, stride, padding, groups, x.shape[2:], _POINTWISE_MIN_L_WEIGHT)
            and gy.shape[2:] == x.shape[2:]):
        return _pointwise_bwd_weight(x, gy, w_shape, with_bias)
    if (_whole_window(w_shape, stride, padding, dilation, groups, x.shape[2:])
            and gy.shape[2:] == (1, 1)):
        return _whole_window_bwd_weight(x, gy, w_shape, with_bias)
    if (_winograd(w_shape, stride, padding, dilation, groups, x.shape[2:])
            and gy.shape[2:] == x.shape[2:]):
        grads = _winograd_bwd_weight(x, gy, w_shape, with_bias)
        if grads is not None:
            return grads
    if (_winograd2(w_shape, stride, padding, dilation, groups, x.shape[2:])
            and gy.shape[2:] == (x.shape[2] // 2, x.shape[3] // 2)):
        grads = _winograd2_bwd_weight(x, gy, w_shape, with_bias)
        if grads is not None:
            return grads
    if (_direct(w_shape, stride, padding, dilation, groups, x.shape[2:], gy.shape[2:])
            and gy.shape[2:] == _geometry(x.shape, w_shape, stride, padding, dilation, groups)[0]):
        grads = _direct_bwd_weight(x, gy, w_shape, tuple(padding), with_bias)
        if np.isfinite(grads[0] if with_bias else grads).all():   # else an inf in x met a 0 on
            return grads                                           # the grid's extra positions
    return _bwd_weight(x, gy, w_shape, stride, padding, dilation, groups, im2col_numba, with_bias)
