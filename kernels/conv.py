"""2-D convolution (cross-correlation, PyTorch's conv2d), NumPy/CuPy references.

  conv2d_fwd         y  = conv2d(x, w)                      im2col + one batched GEMM
  conv2d_bwd_input   gx = conv_transpose2d(gy, w)           GEMM to columns + col2im
  conv2d_bwd_weight  gw = sum over batch, positions of gy x columns

Shapes: x (N, C, H, W), w (O, C // groups, kH, kW), y (N, O, OH, OW) with
OH = (H + 2 * pad_h - dil_h * (kH - 1) - 1) // stride_h + 1 (and the same for widths).
Every integer parameter arrives as a normalised pair (h, w); the op layer above validates user
input. Arrays keep their dtype (float32 or float64).

im2col: the windows of the padded input are a zero-copy `as_strided` view
(N, C, kH, kW, OH, OW); copying it gives the columns (N, groups, C/groups * kH * kW, OH * OW),
and the convolution is one batched matmul with w viewed as (groups, O/groups, C/groups*kH*kW).

Why in batch chunks: the columns are kH*kW times the input (160 MB for a 64x32x28x28 batch and a
5x5 kernel). Copying them out in one go, into fresh memory, cost almost as much as the GEMM
(28 ms against 39 ms there: page faults and memory traffic); a chunk of a few images whose
columns stay in cache, copied into one reused buffer, makes the copy nearly free.
On the GPU (CuPy) the whole batch is one chunk: there, launches cost more than memory.
"""
from __future__ import annotations

from ._xp import array_module
from .registry import reference

# Bytes of columns per chunk, about a core's L2 cache. On a 2-core AMD EPYC (1 MB L2 per core),
# 64x32x28x28 images and a 5x5 kernel (2.5 MB of columns per image): chunks of 1-2 images ran
# the forward in 41 ms, of 16 images in 55-68 ms, the whole batch at once in 69 ms.
_CHUNK_BYTES = 2 << 20


def conv_output_size(size, kernel, stride, padding, dilation):
    """Output length of a convolution along one axis (plain ints)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _batch_chunk(xp, n, item_bytes):
    """How many images to process at once (see the module docstring)."""
    if xp.__name__ != "numpy":
        return max(n, 1)
    return int(min(max(n, 1), max(1, _CHUNK_BYTES // max(item_bytes, 1))))


def _windows(xpad, kernel, stride, dilation, out_hw):
    """Zero-copy view (N, C, kH, kW, OH, OW) of the windows of the (already padded) input:
    view[n, c, i, j, oh, ow] = xpad[n, c, oh * sh + i * dh, ow * sw + j * dw]."""
    xp = array_module(xpad)
    N, C = xpad.shape[:2]
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    s_n, s_c, s_h, s_w = xpad.strides
    return xp.lib.stride_tricks.as_strided(
        xpad, shape=(N, C, kh, kw, oh, ow),
        strides=(s_n, s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw))


def _padded_chunks(x, padding, chunk):
    """Yields (n0, n1, xpad) over chunks of the batch, xpad (n1 - n0, C, H + 2ph, W + 2pw) the
    zero-padded images n0:n1. One buffer serves every chunk: its border is zeroed once and only
    the interior rewritten, so each padded chunk is still in cache for the im2col copy."""
    xp = array_module(x)
    N, C, H, W = x.shape
    ph, pw = padding
    buffer = None
    if ph or pw:
        buffer = xp.zeros((min(chunk, N), C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
    for n0 in range(0, N, chunk):
        n1 = min(n0 + chunk, N)
        if buffer is None:
            yield n0, n1, x[n0:n1]
        else:
            xpad = buffer[:n1 - n0]
            xpad[:, :, ph:ph + H, pw:pw + W] = x[n0:n1]
            yield n0, n1, xpad


def _im2col_chunks(x, kernel, stride, padding, dilation, groups, out_hw):
    """im2col of x, a chunk of images at a time: yields (n0, n1, cols), cols of shape
    (n1 - n0, groups, C/groups * kH * kW, OH * OW), each chunk written into one reused buffer."""
    xp = array_module(x)
    N, C = x.shape[:2]
    (kh, kw), (oh, ow) = kernel, out_hw
    K, L = C // groups * kh * kw, oh * ow
    chunk = _batch_chunk(xp, N, C * kh * kw * L * x.itemsize)
    if tuple(kernel) == (1, 1) and tuple(stride) == (1, 1) and tuple(padding) == (0, 0):
        x = xp.ascontiguousarray(x)               # 1x1, stride 1: the columns are x itself
        for n0 in range(0, N, chunk):
            n1 = min(n0 + chunk, N)
            yield n0, n1, x[n0:n1].reshape(n1 - n0, groups, K, L)
        return
    buffer = xp.empty((min(chunk, N), C, kh, kw, oh, ow), dtype=x.dtype)
    for n0, n1, xpad in _padded_chunks(x, padding, chunk):
        cols = buffer[:n1 - n0]                                   # (n, C, kH, kW, OH, OW)
        xp.copyto(cols, _windows(xpad, kernel, stride, dilation, out_hw))
        yield n0, n1, cols.reshape(n1 - n0, groups, K, L)


def _geometry(x_shape, w_shape, stride, padding, dilation, groups):
    """(OH, OW), (kH, kW) of a convolution, checking that x and w agree on channels."""
    _, C, H, W = x_shape
    O, Cg, kh, kw = w_shape
    assert C == Cg * groups and O % groups == 0, (x_shape, w_shape, groups)
    oh = conv_output_size(H, kh, stride[0], padding[0], dilation[0])
    ow = conv_output_size(W, kw, stride[1], padding[1], dilation[1])
    assert oh >= 0 and ow >= 0, (x_shape, w_shape, stride, padding, dilation)
    return (oh, ow), (kh, kw)


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
    return (x, w, stride, padding, dilation, groups), {}


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


@reference("conv2d_fwd", example=_example_fwd, rtol=1e-4, atol=1e-4)
def conv2d_fwd(x, w, stride, padding, dilation, groups):
    """PyTorch's conv2d without bias. x (N, C, H, W), w (O, C // groups, kH, kW) -> (N, O, OH, OW).

    conv2d_fwd(ones((1, 1, 3, 3)), ones((1, 1, 2, 2)), (1, 1), (0, 0), (1, 1), 1) is 4 everywhere,
    shape (1, 1, 2, 2): each output sums one 2x2 window.
    """
    xp = array_module(x)
    assert x.dtype == w.dtype, (x.dtype, w.dtype)
    N, C = x.shape[:2]
    O, G = w.shape[0], groups
    out_hw, (kh, kw) = _geometry(x.shape, w.shape, stride, padding, dilation, groups)
    K, L = C // G * kh * kw, out_hw[0] * out_hw[1]
    w_groups = xp.ascontiguousarray(w).reshape(G, O // G, K)
    y = xp.empty((N, O, *out_hw), dtype=x.dtype)
    for n0, n1, cols in _im2col_chunks(x, (kh, kw), stride, padding, dilation, G, out_hw):
        # y_g = w_g @ cols_g: (O/G, K) @ (K, L) for each image and group, straight into y
        out = y[n0:n1].reshape(n1 - n0, G, O // G, L)
        xp.matmul(w_groups, cols, out=out)                      # (n, G, O/G, L)
    return y


@reference("conv2d_bwd_input", example=_example_bwd_input, rtol=1e-4, atol=1e-4)
def conv2d_bwd_input(gy, w, x_shape, stride, padding, dilation, groups):
    """Gradient of conv2d wrt its input: gy (N, O, OH, OW), w (O, C // groups, kH, kW) -> gx of
    shape x_shape = (N, C, H, W).

    This is also conv_transpose2d(gy, w, stride, padding, output_padding, groups, dilation), w in
    ConvTranspose layout, x_shape its output shape: H = (OH - 1) * sh - 2 * ph + dh * (kH - 1) + 1
    + output_padding_h. So any x_shape whose conv output is at least OH x OW is accepted (it is
    exactly OH x OW when output_padding < stride); rows and columns no window of gy reaches get 0.
    """
    xp = array_module(gy)
    assert gy.dtype == w.dtype, (gy.dtype, w.dtype)
    N, C, H, W = x_shape
    O, G = w.shape[0], groups
    full_hw, (kh, kw) = _geometry(x_shape, w.shape, stride, padding, dilation, groups)
    out_hw = gy.shape[2:]
    assert gy.shape[:2] == (N, O) and out_hw[0] <= full_hw[0] and out_hw[1] <= full_hw[1], (
        gy.shape, x_shape, w.shape)
    (oh, ow), (sh, sw), (ph, pw), (dh, dw) = out_hw, stride, padding, dilation
    K, L = C // G * kh * kw, oh * ow
    # columns_g = w_g^T @ gy_g: (K, O/G) @ (O/G, L) for each image and group
    w_t = xp.ascontiguousarray(w.reshape(G, O // G, K).transpose(0, 2, 1))  # (G, K, O/G)
    gy = xp.ascontiguousarray(gy)
    nb = _batch_chunk(xp, N, C * kh * kw * L * gy.itemsize)
    gx = xp.empty(x_shape, dtype=gy.dtype)
    cols_buffer = xp.empty((min(nb, N), G, K, L), dtype=gy.dtype)
    padded = xp.empty((min(nb, N), C, H + 2 * ph, W + 2 * pw), dtype=gy.dtype)
    for n0 in range(0, N, nb):
        n = min(n0 + nb, N) - n0
        cols = cols_buffer[:n]
        xp.matmul(w_t, gy[n0:n0 + n].reshape(n, G, O // G, L), out=cols)    # (n, G, K, L)
        cols = cols.reshape(n, C, kh, kw, oh, ow)
        # col2im: window element (i, j) of output (oh, ow) sits at padded row oh*sh + i*dh
        acc = padded[:n]
        acc.fill(0)
        for i in range(kh):
            rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
            for j in range(kw):
                acc[:, :, rows, j * dw:j * dw + (ow - 1) * sw + 1:sw] += cols[:, :, i, j]
        gx[n0:n0 + n] = acc[:, :, ph:ph + H, pw:pw + W]                    # crop the padding
    return gx


@reference("conv2d_bwd_weight", example=_example_bwd_weight, rtol=1e-4, atol=1e-3)
def conv2d_bwd_weight(x, gy, w_shape, stride, padding, dilation, groups):
    """Gradient of conv2d wrt its weight: x (N, C, H, W), gy (N, O, OH, OW) -> gw of shape
    w_shape = (O, C // groups, kH, kW), summed over the batch."""
    xp = array_module(x)
    assert x.dtype == gy.dtype, (x.dtype, gy.dtype)
    N, C = x.shape[:2]
    O, G = w_shape[0], groups
    out_hw, (kh, kw) = _geometry(x.shape, w_shape, stride, padding, dilation, groups)
    assert gy.shape == (N, O, *out_hw), (gy.shape, x.shape, w_shape)
    K, L = C // G * kh * kw, out_hw[0] * out_hw[1]
    gy = xp.ascontiguousarray(gy).reshape(N, G, O // G, L)
    gw_t = xp.zeros((G, K, O // G), dtype=x.dtype)                  # gw transposed, per group
    for n0, n1, cols in _im2col_chunks(x, (kh, kw), stride, padding, dilation, G, out_hw):
        # gw_g^T += cols_g @ gy_g^T: (K, L) @ (L, O/G) for each image and group, summed. (In this
        # order rather than gy_g @ cols_g^T: OpenBLAS ran it 25% faster, 1 thread, 64x288x784.)
        gw_t += xp.matmul(cols, gy[n0:n1].transpose(0, 1, 3, 2)).sum(axis=0)
    return xp.ascontiguousarray(gw_t.transpose(0, 2, 1)).reshape(w_shape)
