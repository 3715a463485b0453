"""int8 layers: QuantizedLinear and QuantizedConv2d, the inference twins of nn.Linear and
nn.Conv2d (the math is in tinygen/ops/quantized.py).

    qfc = QuantizedLinear.from_float(fc)                        # dynamic: qparams per batch
    qconv = QuantizedConv2d.from_float(conv, input_qparams=(0.02, -128))   # static (calibrated)
    y = qfc(x)                                                 # float in, float out

The weight is int8, symmetric per output channel; the input is quantised per tensor, with this
batch's range (dynamic, as PyTorch's torch.ao.nn.quantized.dynamic.Linear) or with qparams found
by calibration (static: tinygen.quantization.prepare / convert). Inputs and outputs stay float:
each layer quantises its input and dequantises its int32 result, so quantised and float layers
mix freely (PyTorch's static modules pass quantized tensors between them instead).

State dict (all buffers: nothing here trains):
    weight            (out, in) or (O, C // groups, kH, kW) int8
    weight_scale      (out,) float32
    bias              (out,) float32, when the float layer had one
    input_scale       () float32, static only
    input_zero_point  () int64, static only
"""
from __future__ import annotations

from ..autograd.grad_mode import no_grad
from ..backend.dtypes import int8
from ..creation import ones, tensor, zeros
from ..nn.modules.module import Module
from ..ops.quantized import quantize_weight, quantized_conv2d, quantized_linear


def float_weight(module):
    """The weight a float layer computes with: weight_orig * weight_mask for a pruned one (its
    `weight` attribute is refreshed only by the next forward), else weight."""
    if "weight_orig" in module._parameters and "weight_mask" in module._buffers:
        return module.weight_orig * module.weight_mask
    return module.weight


class _QuantizedLayer(Module):
    """Buffers and qparams shared by the int8 layers."""

    def _init_buffers(self, weight_shape, out_channels, bias, dynamic, device):
        self.dynamic = dynamic
        self.register_buffer("weight", zeros(*weight_shape, dtype=int8, device=device))
        self.register_buffer("weight_scale", ones(out_channels, device=device))
        self.register_buffer("bias", zeros(out_channels, device=device) if bias else None)
        if not dynamic:
            self.register_buffer("input_scale", tensor(1.0, device=device))
            self.register_buffer("input_zero_point", tensor(0, device=device))

    def set_weight(self, weight, bias=None):
        """Quantise a float weight (and take a float bias) into this layer's buffers."""
        with no_grad():
            self.weight, self.weight_scale = quantize_weight(weight.detach())
            if bias is not None:
                self.bias = bias.detach().float().clone()

    def set_input_qparams(self, scale, zero_point):
        """The static input qparams (from an observer's calculate_qparams)."""
        if self.dynamic:
            raise RuntimeError(f"{self._get_name()}: a dynamic layer takes its input qparams "
                               "from each batch; build it with dynamic=False for static ones")
        with no_grad():
            self.input_scale.fill_(float(scale))
            self.input_zero_point.fill_(int(zero_point))

    def _input_qparams(self):
        if self.dynamic:
            return {}
        return {"input_scale": self.input_scale.item(),
                "input_zero_point": int(self.input_zero_point.item())}

    def _qparams_repr(self):
        if self.dynamic:
            return "dynamic"
        return (f"input_scale={self.input_scale.item():.6g}, "
                f"input_zero_point={int(self.input_zero_point.item())}")


class QuantizedLinear(_QuantizedLayer):
    """y = x W^T + b with W int8 (per output channel) and x quantised per tensor.
    x (*, in_features) float -> (*, out_features). Inference only (no backward)."""

    def __init__(self, in_features, out_features, bias=True, dynamic=True, device=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self._init_buffers((out_features, in_features), out_features, bias, dynamic, device)

    @classmethod
    def from_float(cls, module, input_qparams=None):
        """The int8 twin of an nn.Linear: dynamic, or static with input_qparams (scale, zp)."""
        q = cls(module.in_features, module.out_features, module.bias is not None,
                dynamic=input_qparams is None, device=float_weight(module).device)
        q.set_weight(float_weight(module), module.bias)
        if input_qparams is not None:
            q.set_input_qparams(*input_qparams)
        return q

    def forward(self, input):
        return quantized_linear(input, self.weight, self.weight_scale, self.bias,
                                **self._input_qparams())

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, {self._qparams_repr()}")


class QuantizedConv2d(_QuantizedLayer):
    """PyTorch's Conv2d with an int8 weight (per output channel) and the input quantised per
    tensor. x (N, C, H, W) float -> (N, O, OH, OW). Integer padding, zeros padding mode."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, dynamic=False, device=None):
        super().__init__()
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding, self.dilation = _pair(padding), _pair(dilation)
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self._init_buffers(shape, out_channels, bias, dynamic, device)

    @classmethod
    def from_float(cls, module, input_qparams=None):
        """The int8 twin of an nn.Conv2d: static with input_qparams (scale, zp), or dynamic."""
        name = type(module).__name__
        if module.padding_mode != "zeros":
            raise ValueError(f"QuantizedConv2d.from_float: {name} has padding_mode "
                             f"{module.padding_mode!r}; only 'zeros' is supported")
        q = cls(module.in_channels, module.out_channels, module.kernel_size, module.stride,
                _integer_padding(module), module.dilation, module.groups,
                module.bias is not None, dynamic=input_qparams is None,
                device=float_weight(module).device)
        q.set_weight(float_weight(module), module.bias)
        if input_qparams is not None:
            q.set_input_qparams(*input_qparams)
        return q

    def forward(self, input):
        return quantized_conv2d(input, self.weight, self.weight_scale, self.bias, self.stride,
                                self.padding, self.dilation, self.groups,
                                **self._input_qparams())

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, {self._qparams_repr()}")


def _pair(value):
    return tuple(int(v) for v in value) if isinstance(value, (tuple, list)) else (int(value),) * 2


def _integer_padding(module):
    """A Conv2d's padding as a pair of ints ('valid' is 0; 'same' when it is symmetric)."""
    if module.padding == "valid":
        return (0, 0)
    if module.padding == "same":
        total = [d * (k - 1) for d, k in zip(module.dilation, module.kernel_size)]
        if any(t % 2 for t in total):
            raise ValueError(f"QuantizedConv2d.from_float: padding='same' with kernel "
                             f"{module.kernel_size} pads unevenly; only symmetric padding is "
                             "supported")
        return tuple(t // 2 for t in total)
    return tuple(module.padding)
