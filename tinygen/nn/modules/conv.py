"""Convolution layers: Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d,
ConvTranspose3d, as PyTorch.

    conv = nn.Conv2d(3, 16, kernel_size=3, padding=1, groups=1)   # weight (16, 3, 3, 3)
    y = conv(x)                                                    # (N, 3, H, W) -> (N, 16, H, W)

Weight layouts: Conv (out, in // groups, *kernel); ConvTranspose (in, out // groups, *kernel).
Init (PyTorch's): kaiming_uniform_(a=sqrt(5)) for the weight, i.e. U(-1/sqrt(fan_in),
1/sqrt(fan_in)), and the same bound for the bias, fan_in computed from the weight's layout.

The Lazy* classes (LazyConv2d(16, 3)...) infer in_channels from their first input and then become
the regular class (nn.modules.lazy.LazyModuleMixin).
"""
from __future__ import annotations

import math

from .. import functional as F
from .. import init
from ...creation import empty
from .lazy import LazyModuleMixin
from .module import Module
from .parameter import Parameter, UninitializedParameter


def _ntuple(value, n, name, layer):
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"{layer}: {name} must be an int or a tuple of {n} ints, got "
                             f"{value!r}")
        return tuple(int(v) for v in value)
    return (int(value),) * n


class _ConvNd(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 transposed, output_padding, groups, bias, padding_mode, n, device=None,
                 dtype=None):
        super().__init__()
        name = type(self).__name__
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups != 0:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups "
                             f"({groups})")
        if out_channels % groups != 0:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups "
                             f"({groups})")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"{name}: padding_mode must be one of 'zeros', 'reflect', "
                             f"'replicate', 'circular', got {padding_mode!r}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of "
                                 "'valid', 'same'")
            if padding == "same" and any(s != 1 for s in _ntuple(stride, n, "stride", name)):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 "convolutions")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _ntuple(kernel_size, n, "kernel_size", name)
        self.stride = _ntuple(stride, n, "stride", name)
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, n, "padding", name)
        self.dilation = _ntuple(dilation, n, "dilation", name)
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, n, "output_padding", name)
        self.groups = groups
        self.padding_mode = padding_mode
        kw = {"device": device, "dtype": dtype}
        if transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(empty(*shape, **kw))
        if bias:
            self.bias = Parameter(empty(out_channels, **kw))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _pad_input(self, input):
        """Non-zero padding modes pad explicitly, then the convolution runs with padding 0.
        'same' puts the odd extra row/column at the end, as PyTorch does."""
        if self.padding == "valid":
            return input
        if self.padding == "same":
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            pairs = [(t // 2, t - t // 2) for t in totals]
        else:
            pairs = [(p, p) for p in self.padding]
        pad = []
        for before, after in reversed(pairs):     # F.pad takes the last dim first
            pad += [before, after]
        return F.pad(input, tuple(pad), mode=self.padding_mode)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        n = len(self.kernel_size)
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """(N, C_in, L) -> (N, C_out, L_out), L_out = (L + 2p - d(k - 1) - 1) // s + 1."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         False, 0, groups, bias, padding_mode, 1, device, dtype)

    def forward(self, input):
        if self.padding_mode != "zeros":
            return F.conv1d(self._pad_input(input), self.weight, self.bias, self.stride, 0,
                            self.dilation, self.groups)
        return F.conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class Conv2d(_ConvNd):
    """(N, C_in, H, W) -> (N, C_out, H_out, W_out), H_out = (H + 2p - d(k - 1) - 1) // s + 1."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         False, 0, groups, bias, padding_mode, 2, device, dtype)

    def forward(self, input):
        if self.padding_mode != "zeros":
            return F.conv2d(self._pad_input(input), self.weight, self.bias, self.stride, 0,
                            self.dilation, self.groups)
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class Conv3d(_ConvNd):
    """(N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out) (an im2col convolution)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         False, 0, groups, bias, padding_mode, 3, device, dtype)

    def forward(self, input):
        if self.padding_mode != "zeros":
            return F.conv3d(self._pad_input(input), self.weight, self.bias, self.stride, 0,
                            self.dilation, self.groups)
        return F.conv3d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class _ConvTransposeNd(_ConvNd):
    def _output_padding(self, input, output_size):
        """output_padding from a requested output_size (the sizes stride leaves ambiguous)."""
        if output_size is None:
            return self.output_padding
        n = len(self.kernel_size)
        output_size = tuple(output_size)[-n:]
        if len(output_size) != n:
            raise ValueError(f"{type(self).__name__}: output_size must have {n} or more "
                             f"elements, got {output_size}")
        res = []
        for d in range(n):
            size_in = input.shape[input.ndim - n + d]
            smallest = ((size_in - 1) * self.stride[d] - 2 * self.padding[d]
                        + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            largest = smallest + self.stride[d] - 1
            if not smallest <= output_size[d] <= largest:
                raise ValueError(f"{type(self).__name__}: requested an output size of "
                                 f"{output_size}, but valid sizes range from {smallest} to "
                                 f"{largest} in dim {d} (for an input of "
                                 f"{tuple(input.shape)})")
            res.append(output_size[d] - smallest)
        return tuple(res)


class ConvTranspose1d(_ConvTransposeNd):
    """(N, C_in, L) -> (N, C_out, L_out), L_out = (L - 1)s - 2p + d(k - 1) + output_padding + 1.
    Runs as conv_transpose2d on a height of 1."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError('Only "zeros" padding mode is supported for ConvTranspose1d')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         True, output_padding, groups, bias, padding_mode, 1, device, dtype)

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return F.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)


class ConvTranspose2d(_ConvTransposeNd):
    """(N, C_in, H, W) -> (N, C_out, H_out, W_out),
    H_out = (H - 1)s - 2p + d(k - 1) + output_padding + 1."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError('Only "zeros" padding mode is supported for ConvTranspose2d')
        if isinstance(padding, str):
            raise ValueError("ConvTranspose2d: padding must be an int or a tuple, not a string")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         True, output_padding, groups, bias, padding_mode, 2, device, dtype)

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)


class ConvTranspose3d(_ConvTransposeNd):
    """(N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out),
    D_out = (D - 1)s - 2p + d(k - 1) + output_padding + 1."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError('Only "zeros" padding mode is supported for ConvTranspose3d')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         True, output_padding, groups, bias, padding_mode, 3, device, dtype)

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return F.conv_transpose3d(input, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)


class _LazyConvXdMixin(LazyModuleMixin):
    """in_channels from the first input, (N, C_in, *spatial) or unbatched (C_in, *spatial);
    then weight and bias materialize in the regular layout and are initialised as the regular
    class's (the same random draws)."""

    def _become_lazy(self, out_channels, bias, device, dtype):
        """After the regular __init__ with 0 channels and no bias: the uninitialized tensors."""
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):
        if not self.has_uninitialized_params():
            return
        in_channels = self._get_in_channels(input)
        if in_channels % self.groups != 0:
            raise ValueError(f"{type(self).__name__}: in_channels must be divisible by groups "
                             f"(inferred in_channels {in_channels} from the input of shape "
                             f"{tuple(input.shape)}, groups {self.groups})")
        self.in_channels = in_channels
        if self.transposed:
            shape = (in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, in_channels // self.groups) + self.kernel_size
        self.weight.materialize(shape)
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()

    def _get_num_spatial_dims(self):
        return len(self.kernel_size)

    def _get_in_channels(self, input):
        unbatched = self._get_num_spatial_dims() + 1          # + 1 for the channels
        if input.ndim not in (unbatched, unbatched + 1):
            raise RuntimeError(f"Expected {unbatched}D (unbatched) or {unbatched + 1}D (batched) "
                               f"input to {type(self).__name__}, but got input of size: "
                               f"{tuple(input.shape)}")
        return input.shape[1] if input.ndim == unbatched + 1 else input.shape[0]


class LazyConv1d(_LazyConvXdMixin, Conv1d):
    """A Conv1d whose in_channels is inferred from input.shape[1] (or [0], unbatched)."""

    cls_to_become = Conv1d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode, device=device, dtype=dtype)
        self._become_lazy(out_channels, bias, device, dtype)


class LazyConv2d(_LazyConvXdMixin, Conv2d):
    """A Conv2d whose in_channels is inferred from input.shape[1] (or [0], unbatched)."""

    cls_to_become = Conv2d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode, device=device, dtype=dtype)
        self._become_lazy(out_channels, bias, device, dtype)


class LazyConv3d(_LazyConvXdMixin, Conv3d):
    """A Conv3d whose in_channels is inferred from input.shape[1] (or [0], unbatched)."""

    cls_to_become = Conv3d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode, device=device, dtype=dtype)
        self._become_lazy(out_channels, bias, device, dtype)


class LazyConvTranspose1d(_LazyConvXdMixin, ConvTranspose1d):
    """A ConvTranspose1d whose in_channels is inferred from input.shape[1] (or [0],
    unbatched)."""

    cls_to_become = ConvTranspose1d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False,
                         dilation, padding_mode, device=device, dtype=dtype)
        self._become_lazy(out_channels, bias, device, dtype)


class LazyConvTranspose2d(_LazyConvXdMixin, ConvTranspose2d):
    """A ConvTranspose2d whose in_channels is inferred from input.shape[1] (or [0],
    unbatched)."""

    cls_to_become = ConvTranspose2d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False,
                         dilation, padding_mode, device=device, dtype=dtype)
        self._become_lazy(out_channels, bias, device, dtype)


class LazyConvTranspose3d(_LazyConvXdMixin, ConvTranspose3d):
    """A ConvTranspose3d whose in_channels is inferred from input.shape[1] (or [0],
    unbatched)."""

    cls_to_become = ConvTranspose3d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False,
                         dilation, padding_mode, device=device, dtype=dtype)
        self._become_lazy(out_channels, bias, device, dtype)
