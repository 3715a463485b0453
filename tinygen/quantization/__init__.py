"""tinygen.quantization: post-training int8 quantisation of Linear and Conv2d layers.

    import tinygen as tg
    from tinygen import nn, quantization

    qmodel = quantization.quantize_dynamic(model, {nn.Linear}, dtype=tg.qint8)
    prepared = quantization.prepare(model, {nn.Conv2d})        # static: observe inputs...
    for x in calibration_batches:
        prepared(x)
    qmodel = quantization.convert(prepared)                   # ...then quantise
    tg.save(qmodel.state_dict(), "model.safetensors")         # int8 weights + float32 scales

Weights: int8, symmetric, one scale per output channel. Inputs: int8 with a scale and zero point
per tensor, from each batch (dynamic) or from calibration (static; MinMaxObserver or
PercentileObserver). The products run on the int8 kernels (kernels/int8.py) and are exact; the
only error is the rounding of the operands (see tinygen/ops/quantized.py for the math).
"""
from ..backend.dtypes import qint8
from ..ops.quantized import (affine_qparams, dequantize, quantize_per_tensor, quantize_weight,
                             quantized_conv2d, quantized_linear)
from .modules import QuantizedConv2d, QuantizedLinear
from .observers import MinMaxObserver, PercentileObserver
from .quantize import apply_plan, convert, prepare, quantization_plan, quantize_dynamic

__all__ = ["qint8", "quantize_dynamic", "prepare", "convert", "QuantizedLinear",
           "QuantizedConv2d", "MinMaxObserver", "PercentileObserver", "quantization_plan",
           "apply_plan", "affine_qparams", "quantize_per_tensor", "dequantize", "quantize_weight",
           "quantized_linear", "quantized_conv2d"]
