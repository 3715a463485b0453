"""Observers: what calibration records about a layer's input, and the qparams it implies.

    observer = MinMaxObserver()
    for x in calibration_batches:
        observer(x)                          # returns x unchanged
    scale, zero_point = observer.calculate_qparams()

- MinMaxObserver: the running min and max over every batch (PyTorch's MinMaxObserver, per
  tensor, affine). Nothing is clipped on the calibration data; one outlier widens the step of
  every other value.
- PercentileObserver: the p-th and (100 - p)-th percentiles of the values seen (the
  "percentile" calibration of TensorRT and of Wu et al. 2020, "Integer Quantization for Deep
  Learning Inference"): the rarest values are clipped so that the step is smaller for the rest.
  It keeps an evenly strided subsample of at most `samples_per_batch` values of each batch (all
  of them when the batch is smaller) and takes the percentiles of all subsamples together, so
  memory grows with the number of batches, not with their size.

Both map their range onto the int8 levels with tinygen.ops.quantized.affine_qparams (the range
widened to contain 0, so that 0, ReLU's output and conv padding, is exact).
"""
from __future__ import annotations

import math

from ..autograd.grad_mode import no_grad
from ..creation import tensor
from ..nn.modules.module import Module
from ..ops.index import sort
from ..ops.quantized import affine_qparams
from ..ops.shape import cat


class _Observer(Module):
    """Counts batches; subclasses record and turn what they recorded into qparams."""

    def __init__(self):
        super().__init__()
        self.batches = 0

    def forward(self, x):
        if x.numel():
            with no_grad():
                self._record(x.detach())
            self.batches += 1
        return x

    def _check_saw_data(self):
        if self.batches == 0:
            raise RuntimeError(f"{self._get_name()} saw no data: run calibration batches "
                               "through the prepared model before convert()")


class MinMaxObserver(_Observer):
    """The running min and max of everything observed. Buffers min_val, max_val (0-d)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("min_val", tensor(float("inf")))
        self.register_buffer("max_val", tensor(float("-inf")))

    def _record(self, x):
        self.min_val.fill_(min(self.min_val.item(), x.amin().item()))
        self.max_val.fill_(max(self.max_val.item(), x.amax().item()))

    def calculate_qparams(self):
        """(scale, zero_point) of [min_val, max_val]."""
        self._check_saw_data()
        return affine_qparams(self.min_val.item(), self.max_val.item())

    def extra_repr(self):
        return f"min_val={self.min_val.item():.6g}, max_val={self.max_val.item():.6g}"


class PercentileObserver(_Observer):
    """The percentile-th and (100 - percentile)-th percentiles of the observed values (nearest
    rank over the kept subsamples, see the module docs). percentile in [50, 100]."""

    def __init__(self, percentile=99.99, samples_per_batch=1 << 16):
        super().__init__()
        if not 50.0 <= float(percentile) <= 100.0:
            raise ValueError(f"PercentileObserver: percentile must be in [50, 100], got "
                             f"{percentile}")
        if int(samples_per_batch) < 1:
            raise ValueError(f"PercentileObserver: samples_per_batch must be positive, got "
                             f"{samples_per_batch}")
        self.percentile = float(percentile)
        self.samples_per_batch = int(samples_per_batch)
        self.samples = []

    def _record(self, x):
        flat = x.reshape(-1)
        step = math.ceil(flat.numel() / self.samples_per_batch)
        self.samples.append(flat[::step].clone())

    def calculate_qparams(self):
        """(scale, zero_point) of [p_low, p_high], the two percentiles of what was kept."""
        self._check_saw_data()
        return affine_qparams(*self.range())

    def range(self):
        """(low, high): the (100 - percentile)-th and percentile-th percentiles, floats."""
        self._check_saw_data()
        values = sort(cat(self.samples)).values                   # ascending
        last = values.numel() - 1
        high = round(self.percentile / 100 * last)
        return values[last - high].item(), values[high].item()

    def extra_repr(self):
        return f"percentile={self.percentile}, batches={self.batches}"
