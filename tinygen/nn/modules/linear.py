"""Linear and Bilinear layers: weight layouts and default initialisations as in PyTorch.

    fc = nn.Linear(784, 128)        # weight (128, 784), bias (128,)
    y = fc(x)                       # (N, *, 784) -> (N, *, 128): y = x @ W^T + b
    lazy = nn.LazyLinear(128)       # in_features from the first input; then a Linear
"""
from __future__ import annotations

import math

from .. import functional as F
from .. import init
from ...autograd.grad_mode import no_grad
from ...creation import empty
from .lazy import LazyModuleMixin
from .module import Module
from .parameter import Parameter, UninitializedParameter


def _factory(device, dtype):
    return {"device": device, "dtype": dtype}


class Linear(Module):
    """y = x W^T + b. x (*, in_features) -> (*, out_features).

    Init (PyTorch's): W ~ U(-1/sqrt(in), 1/sqrt(in)) via kaiming_uniform_(a=sqrt(5)), and the
    same bound for b."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty(out_features, in_features, **_factory(device, dtype)))
        if bias:
            self.bias = Parameter(empty(out_features, **_factory(device, dtype)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """y_k = x1^T A_k x2 + b_k. x1 (*, in1), x2 (*, in2) -> (*, out); weight (out, in1, in2).

    Init: U(-1/sqrt(in1), 1/sqrt(in1)) for weight and bias, as PyTorch."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None,
                 dtype=None):
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(empty(out_features, in1_features, in2_features,
                                      **_factory(device, dtype)))
        if bias:
            self.bias = Parameter(empty(out_features, **_factory(device, dtype)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear, under the name PyTorch gives MultiheadAttention.out_proj (so reprs match)."""


class LazyLinear(LazyModuleMixin, Linear):
    """A Linear whose in_features is inferred from the first input, (*, in_features): until
    then weight and bias are UninitializedParameters; the first forward materializes them,
    initialises them as Linear does (the same random draws as Linear(in_features, ...)) and
    makes the module a Linear. See nn.modules.lazy.LazyModuleMixin."""

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, 0, False)     # bias=False: no tensor that would soon be replaced
        self.weight = UninitializedParameter(**_factory(device, dtype))
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(**_factory(device, dtype))

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input):
        """in_features = input.shape[-1]; materialize and initialise weight and bias."""
        if input.ndim == 0:
            raise IndexError(f"{type(self).__name__}: cannot infer in_features from a 0-d "
                             "input: expected an input of shape (*, in_features)")
        if self.has_uninitialized_params():
            with no_grad():
                self.in_features = input.shape[-1]
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
                self.reset_parameters()
        if self.in_features == 0:           # materialized by load_state_dict
            if input.shape[-1] != self.weight.shape[-1]:
                raise AssertionError(f"The in_features inferred from input: {input.shape[-1]} "
                                     "is not equal to in_features from self.weight: "
                                     f"{self.weight.shape[-1]}")
            self.in_features = input.shape[-1]
