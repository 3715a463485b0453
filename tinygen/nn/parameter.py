"""tinygen.nn.parameter: PyTorch's torch.nn.parameter path to the parameter types, which live in
tinygen/nn/modules/parameter.py.

    from tinygen.nn.parameter import Parameter, UninitializedParameter, is_lazy
"""
from .modules.parameter import (Parameter, UninitializedBuffer, UninitializedParameter,
                                UninitializedTensorMixin, is_lazy)

__all__ = ["Parameter", "UninitializedParameter", "is_lazy", "UninitializedBuffer",
           "UninitializedTensorMixin"]
