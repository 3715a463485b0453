"""tinygen.nn.parameter: PyTorch's torch.nn.parameter path to the parameter and buffer types,
which live in tinygen/nn/modules/parameter.py.

    from tinygen.nn.parameter import Buffer, Parameter, UninitializedParameter, is_lazy
"""
from .modules.parameter import (Buffer, Parameter, UninitializedBuffer, UninitializedParameter,
                                UninitializedTensorMixin, is_lazy)

__all__ = ["Buffer", "Parameter", "UninitializedParameter", "is_lazy", "UninitializedBuffer",
           "UninitializedTensorMixin"]
