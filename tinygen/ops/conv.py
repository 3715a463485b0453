"""Convolution: conv1d, conv2d, conv_transpose2d (PyTorch's cross-correlation).

Three Functions form a closed set under differentiation, so every derivative of a convolution,
of any order, is again one of them (WGAN-GP's gradient penalty differentiates through convs):

  Conv2d(x, w)          y  = conv(x, w)                 kernel conv2d_fwd
  ConvInputGrad(gy, w)  gx = conv_transpose(gy, w)      kernel conv2d_bwd_input
  ConvWeightGrad(x, gy) gw = sum_n,pos gy * windows(x)  kernel conv2d_bwd_weight

Each is bilinear in its two tensor inputs, and the adjoint of each argument is one of the others:

  Conv2d:          dx = ConvInputGrad(gy, w)     dw = ConvWeightGrad(x, gy)
  ConvInputGrad:   dgy = Conv2d(g, w)            dw = ConvWeightGrad(g, gy)
  ConvWeightGrad:  dx = ConvInputGrad(gy, g)     dgy = Conv2d(x, g)

conv_transpose2d is ConvInputGrad with the output size from output_padding; conv1d is conv2d on
an unsqueezed height of 1. conv2d's bias goes into its kernel, which adds it as it writes y;
conv_transpose2d's is a broadcast add. The array work is in kernels/conv.py, reached through the
kernel table (`Function.kernel`), so a faster kernel replaces the reference transparently.
"""
from __future__ import annotations

from ..autograd import function as _fn
from ..autograd.function import Function
from ..autograd.grad_mode import GRAD
from .args import ntuple
from .shape import Pad


def full_output_hw(x_hw, w_shape, stride, padding, dilation):
    """(OH, OW) of the convolution of an input with spatial size x_hw."""
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in
                 zip(x_hw, w_shape[2:], stride, padding, dilation))


def _fit(xp, gy, full_hw):
    """gy (N, O, oh, ow) zero-padded at the bottom and right to full_hw (a no-op when equal)."""
    oh, ow = gy.shape[2:]
    if (oh, ow) == tuple(full_hw):
        return gy
    out = xp.zeros(gy.shape[:2] + tuple(full_hw), dtype=gy.dtype)
    out[:, :, :oh, :ow] = gy
    return out


class Conv2d(Function):
    """y = conv2d(x, w) + b: x (N, C, H, W), w (O, C // groups, kH, kW), b (O,) or None
    -> (N, O, OH, OW). The kernel adds the bias as it writes the output (one node, no second
    pass over it) and its gradient is gy summed over (N, OH, OW).

    out_hw, when given, keeps only the top-left out_hw of the output: the gradient of a
    ConvInputGrad whose x_shape has rows no window of gy reaches (see ConvInputGrad)."""

    def forward(self, x, w, b, stride, padding, dilation, groups, out_hw=None):
        self.params = (stride, padding, dilation, groups)
        self.x_shape, self.w_shape = x.shape, w.shape
        self.save_for_backward(x, w)
        if out_hw is None:               # the kernel adds the bias as it writes y
            return self.kernel("conv2d_fwd")(x, w, stride, padding, dilation, groups, bias=b)
        y = self.kernel("conv2d_fwd")(x, w, stride, padding, dilation, groups)
        if tuple(y.shape[2:]) != tuple(out_hw):
            y = self.xp.ascontiguousarray(y[:, :, :out_hw[0], :out_hw[1]])
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y

    def backward(self, gy):
        x, w = self.saved_tensors
        gx = gw = gb = None
        if self.inputs[0] is not None:
            gx = ConvInputGrad.apply(gy, w, self.x_shape, *self.params)
        if self.inputs[1] is not None and self.inputs[2] is not None and not GRAD.enabled:
            gw, gb = ConvWeightBiasGrad.apply(x, gy, self.w_shape, *self.params)  # one read of gy
        else:
            if self.inputs[1] is not None:
                gw = ConvWeightGrad.apply(x, gy, self.w_shape, *self.params)
            if self.inputs[2] is not None:
                gb = gy.sum(dim=(0, 2, 3))
        return gx, gw, gb, None, None, None, None, None


class ConvWeightBiasGrad(Function):
    """(gw, gb): ConvWeightGrad's gw and the bias gradient gy.sum((0, 2, 3)) from one kernel
    (conv2d_bwd_weight_bias), which sums gy for the bias while it reads it for the weight. What
    Conv2d's backward runs where no graph of the backward is recorded (as LinearGrad for
    Linear); under create_graph it uses ConvWeightGrad and Sum, which are differentiable. It
    has no backward of its own."""

    def forward(self, x, gy, w_shape, stride, padding, dilation, groups):
        full = full_output_hw(x.shape[2:], w_shape, stride, padding, dilation)
        return self.kernel("conv2d_bwd_weight_bias")(
            x, _fit(self.xp, gy, full), tuple(w_shape), stride, padding, dilation, groups)


class ConvInputGrad(Function):
    """gx = conv_transpose2d(gy, w) onto `x_shape`: gy (N, O, OH, OW), w (O, C // groups, kH, kW)
    -> (N, C, H, W), for any H, W whose convolution output is at least OH x OW (it is larger for
    conv_transpose2d with output_padding >= stride: gy is then the top-left of that output)."""

    def forward(self, gy, w, x_shape, stride, padding, dilation, groups):
        self.params = (stride, padding, dilation, groups)
        self.w_shape, self.gy_hw = w.shape, gy.shape[2:]
        self.save_for_backward(gy, w)
        full = full_output_hw(x_shape[2:], w.shape, stride, padding, dilation)
        return self.kernel("conv2d_bwd_input")(
            _fit(self.xp, gy, full), w, tuple(x_shape), stride, padding, dilation, groups)

    def backward(self, g):
        gy, w = self.saved_tensors
        dgy = dw = None
        if self.inputs[0] is not None:
            dgy = Conv2d.apply(g, w, None, *self.params, out_hw=self.gy_hw)
        if self.inputs[1] is not None:
            dw = ConvWeightGrad.apply(g, gy, self.w_shape, *self.params)
        return dgy, dw, None, None, None, None, None


class ConvWeightGrad(Function):
    """gw = the weight gradient of conv2d: x (N, C, H, W), gy (N, O, OH, OW) -> w_shape. gy may
    be the top-left of the convolution's output (the rest counts as zero), as in ConvInputGrad."""

    def forward(self, x, gy, w_shape, stride, padding, dilation, groups):
        self.params = (stride, padding, dilation, groups)
        self.x_shape, self.gy_hw = x.shape, gy.shape[2:]
        self.save_for_backward(x, gy)
        full = full_output_hw(x.shape[2:], w_shape, stride, padding, dilation)
        return self.kernel("conv2d_bwd_weight")(
            x, _fit(self.xp, gy, full), tuple(w_shape), stride, padding, dilation, groups)

    def backward(self, g):
        x, gy = self.saved_tensors
        dx = dgy = None
        if self.inputs[0] is not None:
            dx = ConvInputGrad.apply(gy, g, self.x_shape, *self.params)
        if self.inputs[1] is not None:
            dgy = Conv2d.apply(x, g, None, *self.params, out_hw=self.gy_hw)
        return dx, dgy, None, None, None, None, None


# ---- argument checks ---------------------------------------------------------------------------
def check_input(op, x, ndims, what):
    """x must be a Tensor with one of `ndims` dims; returns ndim."""
    if not isinstance(x, _fn.Tensor):
        raise TypeError(f"{op}: expected a Tensor as input, got {type(x).__name__}")
    if x.ndim not in ndims:
        raise RuntimeError(f"{op}: expected {what}, got input of shape {tuple(x.shape)}")
    return x.ndim


def check_same_dtype(op, **tensors):
    items = [(k, t) for k, t in tensors.items() if t is not None]
    for k, t in items:
        if not isinstance(t, _fn.Tensor):
            raise TypeError(f"{op}: expected {k} to be a Tensor, got {type(t).__name__}")
    dt = items[0][1].dtype
    if any(t.dtype != dt for _, t in items):
        desc = ", ".join(f"{k} {t.dtype} (shape {tuple(t.shape)})" for k, t in items)
        raise RuntimeError(f"{op}: expected input, weight and bias to have the same dtype, got "
                           f"{desc}")
    if not dt.is_floating_point:
        raise RuntimeError(f"{op}: expected floating-point tensors, got {dt}")


def _check_weight(op, x, weight, bias, groups, transposed, input_shape):
    if weight.ndim != 4:
        raise RuntimeError(f"{op}: expected a 4-D weight, got weight of shape "
                           f"{tuple(weight.shape)}")
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: expected groups to be a positive int, got {groups!r}")
    check_same_dtype(op, input=x, weight=weight, bias=bias)
    ws, C = tuple(weight.shape), x.shape[1]
    if transposed:
        # weight (C_in, C_out // groups, kH, kW)
        expected, out_channels = ws[0], ws[1] * groups
    else:
        # weight (C_out, C_in // groups, kH, kW)
        expected, out_channels = ws[1] * groups, ws[0]
    if C != expected:
        raise RuntimeError(f"{op}: expected input with {expected} channels (weight {ws}, groups "
                           f"{groups}), got input of shape {tuple(input_shape)}")
    if ws[0] % groups:
        raise RuntimeError(f"{op}: the weight's first dim {ws[0]} must be divisible by groups "
                           f"{groups} (weight {ws})")
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise RuntimeError(f"{op}: expected bias of shape ({out_channels},) for weight {ws}, got "
                           f"bias of shape {tuple(bias.shape)}")
    return out_channels


def _add_bias(y, bias):
    if bias is None:
        return y
    return y + bias.reshape(1, -1, 1, 1)


# ---- functional --------------------------------------------------------------------------------
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation), as torch.nn.functional.conv2d.

    input (N, C_in, H, W) or unbatched (C_in, H, W); weight (C_out, C_in // groups, kH, kW);
    bias (C_out,) or None; padding an int, a pair, 'valid' or 'same' (stride 1 only; odd total
    padding puts the extra row/column at the bottom/right, as PyTorch does).
    -> (N, C_out, OH, OW), OH = (H + 2 * pad - dilation * (kH - 1) - 1) // stride + 1.
    """
    op = "conv2d"
    nd = check_input(op, input, (3, 4), "a 3-D (unbatched) or 4-D (batched) input")
    x = input.unsqueeze(0) if nd == 3 else input
    _check_weight(op, x, weight, bias, groups, False, input.shape)
    stride = ntuple(stride, 2, "stride", op, 1)
    dilation = ntuple(dilation, 2, "dilation", op, 1)
    kernel = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions (stride {stride})")
            total = [d * (k - 1) for d, k in zip(dilation, kernel)]
            padding = tuple(t // 2 for t in total)
            extra = [t - 2 * (t // 2) for t in total]
            if any(extra):            # asymmetric: the odd row/column goes bottom/right
                x = Pad.apply(x, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])), 0.0)
        else:
            raise ValueError(f"{op}: invalid padding string {padding!r}; expected 'valid' or "
                             "'same'")
    else:
        padding = ntuple(padding, 2, "padding", op, 0)
    H, W = x.shape[2:]
    axes = ("height", "width")
    for size, k, s, p, d, axis in zip((H, W), kernel, stride, padding, dilation, axes):
        if size + 2 * p < d * (k - 1) + 1:
            raise RuntimeError(
                f"{op}: the input {axis} {size} (padded {size + 2 * p}) is smaller than the "
                f"kernel's extent {d * (k - 1) + 1} (weight {tuple(weight.shape)}, dilation "
                f"{dilation}); input of shape {tuple(input.shape)}")
    y = Conv2d.apply(x, weight, bias, stride, padding, dilation, groups)
    return y.squeeze(0) if nd == 3 else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution: input (N, C_in, L) or (C_in, L), weight (C_out, C_in // groups, k).
    Runs as conv2d on a height of 1."""
    op = "conv1d"
    nd = check_input(op, input, (2, 3), "a 2-D (unbatched) or 3-D (batched) input")
    if weight.ndim != 3:
        raise RuntimeError(f"{op}: expected a 3-D weight, got weight of shape "
                           f"{tuple(weight.shape)}")
    x = input.unsqueeze(0) if nd == 2 else input
    check_same_dtype(op, input=input, weight=weight, bias=bias)
    if x.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(f"{op}: expected input with {weight.shape[1] * groups} channels "
                           f"(weight {tuple(weight.shape)}, groups {groups}), got input of shape "
                           f"{tuple(input.shape)}")
    stride = ntuple(stride, 1, "stride", op, 1)
    dilation = ntuple(dilation, 1, "dilation", op, 1)
    if not isinstance(padding, str):
        padding = (0, ntuple(padding, 1, "padding", op, 0)[0])
    y = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, stride[0]), padding,
               (1, dilation[0]), groups).squeeze(2)                # (N, C_out, L_out)
    return y.squeeze(0) if nd == 2 else y


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 2-D convolution (the adjoint of conv2d), as torch.nn.functional.conv_transpose2d.

    input (N, C_in, H, W) or (C_in, H, W); weight (C_in, C_out // groups, kH, kW); bias (C_out,).
    -> (N, C_out, OH, OW), OH = (H - 1) * stride - 2 * padding + dilation * (kH - 1)
    + output_padding + 1.
    """
    op = "conv_transpose2d"
    nd = check_input(op, input, (3, 4), "a 3-D (unbatched) or 4-D (batched) input")
    x = input.unsqueeze(0) if nd == 3 else input
    out_channels = _check_weight(op, x, weight, bias, groups, True, input.shape)
    stride = ntuple(stride, 2, "stride", op, 1)
    padding = ntuple(padding, 2, "padding", op, 0)
    output_padding = ntuple(output_padding, 2, "output_padding", op, 0)
    dilation = ntuple(dilation, 2, "dilation", op, 1)
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= s and op_ >= d:
            raise ValueError(f"{op}: output_padding {output_padding} must be smaller than either "
                             f"stride {stride} or dilation {dilation}")
    kernel = weight.shape[2:]
    out_hw = tuple((n - 1) * s - 2 * p + d * (k - 1) + o + 1 for n, s, p, d, k, o in
                   zip(x.shape[2:], stride, padding, dilation, kernel, output_padding))
    if min(out_hw) <= 0:
        raise RuntimeError(f"{op}: the output size {out_hw} is too small (input of shape "
                           f"{tuple(input.shape)}, weight {tuple(weight.shape)}, stride {stride}, "
                           f"padding {padding})")
    x_shape = (x.shape[0], out_channels, *out_hw)
    y = ConvInputGrad.apply(x, weight, x_shape, stride, padding, dilation, groups)
    y = _add_bias(y, bias)
    return y.squeeze(0) if nd == 3 else y


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 1-D convolution: input (N, C_in, L) or (C_in, L), weight
    (C_in, C_out // groups, k) -> (N, C_out, L_out), L_out = (L - 1) s - 2 p + d (k - 1) +
    output_padding + 1. Runs as conv_transpose2d on a height of 1."""
    op = "conv_transpose1d"
    nd = check_input(op, input, (2, 3), "a 2-D (unbatched) or 3-D (batched) input")
    if weight.ndim != 3:
        raise RuntimeError(f"{op}: expected a 3-D weight, got weight of shape "
                           f"{tuple(weight.shape)}")
    x = (input if nd == 3 else input.unsqueeze(0)).unsqueeze(2)       # (N, C_in, 1, L)
    one = [ntuple(v, 1, name, op, low)[0] for v, name, low in (
        (stride, "stride", 1), (padding, "padding", 0), (output_padding, "output_padding", 0),
        (dilation, "dilation", 1))]
    y = conv_transpose2d(x, weight.unsqueeze(2), bias, (1, one[0]), (0, one[1]), (0, one[2]),
                         groups, (1, one[3])).squeeze(2)              # (N, C_out, L_out)
    return y if nd == 3 else y.squeeze(0)
