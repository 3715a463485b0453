"""torch.nn.utils.convert_conv2d_weight_memory_format and its 3-D twin.

    model = nn.utils.convert_conv2d_weight_memory_format(model, tg.channels_last)

PyTorch re-lays the weights of the module's Conv2d / ConvTranspose2d (3-D: Conv3d /
ConvTranspose3d) layers in the given memory format, for cuDNN's channels-last kernels. tinygen's
convolutions take row-major weights (their kernels are written for that layout), so the weights
stay as they are; the module is returned, as PyTorch returns it, after its argument checks.
"""
from __future__ import annotations

from ...legacy import memory_format as _memory_format
from ..modules.module import Module


def _convert(module, memory_format, name):
    if not isinstance(module, Module):
        raise TypeError(f"{name}: expected an nn.Module, got {type(module).__name__}")
    if not isinstance(memory_format, _memory_format):
        raise TypeError(f"{name}: expected a memory format (tg.channels_last, "
                        f"tg.contiguous_format, ...), got {memory_format!r}")
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    return _convert(module, memory_format, "convert_conv2d_weight_memory_format")


def convert_conv3d_weight_memory_format(module, memory_format):
    return _convert(module, memory_format, "convert_conv3d_weight_memory_format")
