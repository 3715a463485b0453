"""linear_cross_entropy and LinearCrossEntropyOptions, as torch.nn.functional and torch.nn (2.13).

    loss = F.linear_cross_entropy(h, W, t)               # = F.cross_entropy(F.linear(h, W), t)
    opts = nn.LinearCrossEntropyOptions()                # chunked: no (N, C) logits kept
    loss = F.linear_cross_entropy(h, W, t, options=opts) # h (N, in), W (C, in), t (N,) int64

options=None runs the reference path, linear then cross_entropy (differentiable twice). Options
run the chunked path of tinygen/ops/linear_cross_entropy.py (the loss and its gradient chunk by
chunk over the rows) where PyTorch's does: class indices of int64, label_smoothing 0, no
out_features; anything else falls back to the reference path with PyTorch's warning.
"""
from __future__ import annotations

import dataclasses
import math
import warnings

from ..autograd.grad_mode import is_grad_enabled
from ..backend import dtypes as _dtypes
from ..ops.conv import check_same_dtype
from ..ops.linalg import Linear
from ..ops.linear_cross_entropy import LinearCrossEntropyChunked
from ..ops.loss import _reduction, cross_entropy

__all__ = ["LinearCrossEntropyOptions", "linear_cross_entropy"]

OP = "linear_cross_entropy"
_ACC_DTYPES = ("float16", "bfloat16", "float32", "float64")
# "auto" per (device type, input dtype), PyTorch's table (its CPU picks "accurate" for the half
# types); other pairs fall back to ("compact", "aspect_ratio:2")
_AUTO_DEFAULTS = {
    ("cuda", "bfloat16"): ("compact", "aspect_ratio:2"),
    ("cuda", "float16"): ("compact", "aspect_ratio:2"),
    ("cpu", "bfloat16"): ("accurate", "aspect_ratio"),
    ("cpu", "float16"): ("accurate", "aspect_ratio"),
}
_AUTO_FALLBACK = ("compact", "aspect_ratio:2")
# On the CPU a chunk picked by chunking_method has at least this many rows (where PyTorch's rule
# gives fewer): each chunk adds its (C, in) share into W's gradient, a pass over C x in values
# that a chunk of few rows does not amortise. N = 2048, in = 128, C = 8192, float32, forward and
# backward (2-core EPYC): PyTorch's rule, 16 rows, 2.2-3.3 s and 9.6 MiB at the peak; 256 rows
# 0.3-0.6 s and 17 MiB; the unchunked reference 0.35 s and 133 MiB. An explicit batch_chunk_size
# is kept as given.
CPU_MIN_CHUNK_ROWS = 256


@dataclasses.dataclass(slots=True, frozen=True)
class LinearCrossEntropyOptions:
    """How linear_cross_entropy chunks (PyTorch's fields, defaults and checks); passing one turns
    the chunked path on.

    batch_chunk_size: rows per chunk (None: one chunk, or what chunking_method picks; both set
    and disagreeing is a ValueError). chunking_method: "auto", "aspect_ratio[:k]" (chunks whose
    (B, C) logits are about as big as the (N, in) input, then k times smaller) or None.
    acc_dtype: the dtype the chunks compute and accumulate in (None: float32 for float16 and
    bfloat16 inputs under acc_policy "auto", else the input's). allow_retain_graph: for 'mean'
    and 'sum', keep the gradients computed in forward, so backward can run twice.

    Where tinygen differs: acc_policy ("accurate" | "balanced" | "compact" | "auto") is checked
    and resolved as PyTorch's but changes nothing: tinygen's chunks always compute in acc_dtype
    (PyTorch's "accurate" arithmetic), and each chunk's share of W's gradient is one (C, in)
    product added to the total ("balanced"'s memory: NumPy has no accumulating matmul, which
    "compact" needs). acc_dtype takes tinygen dtypes (tg.float32...), not torch's. On cuda,
    "auto" assumes a GPU with mixed-precision products (PyTorch asks the device).
    """

    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: str = "auto"
    acc_dtype: object = None

    def __post_init__(self):
        if self.acc_policy not in {"auto", "accurate", "balanced", "compact"}:
            raise ValueError(f"invalid acc_policy: {self.acc_policy!r}")
        if self.chunking_method is not None and self.chunking_method != "auto":
            name, sep, factor = self.chunking_method.partition(":")
            if not sep:
                factor = "1"
            if not (name == "aspect_ratio" and factor.isdigit() and int(factor) > 0):
                raise ValueError(f"invalid chunking_method: {self.chunking_method!r}")
        size = self.batch_chunk_size
        if not (size is None or (isinstance(size, int) and size > 0)):
            raise ValueError(f"batch_chunk_size must be positive int or None, got {size!r}")
        if self.acc_dtype is not None and getattr(self.acc_dtype, "name", None) not in _ACC_DTYPES:
            raise ValueError(f"acc_dtype must be one of {{None, tinygen.float16, tinygen.bfloat16, "
                             f"tinygen.float32, tinygen.float64}}, got {self.acc_dtype!r}. Pass "
                             "acc_dtype=None to let the op pick automatically.")

    @staticmethod
    def _compute_batch_chunk_size(num_batches, in_features, num_classes, method):
        """Rows per chunk for "aspect_ratio[:k]": the power of two at or above
        ceil(num_batches / ceil(num_classes / in_features)), divided by k, at most num_batches."""
        factor = int(method.split(":", 1)[1]) if ":" in method else 1
        per_row = -(-num_classes // max(in_features, 1))            # ceil(C / in)
        target = -(-num_batches // per_row)
        chunk_size = 1 << (target - 1).bit_length()                  # next power of 2 >= target
        return min(chunk_size // factor, num_batches)

    def _adjust(self, num_batches, in_features, num_classes, dtype, device=None):
        """The options with "auto" and None resolved for one call (PyTorch's _adjust): a concrete
        batch_chunk_size (at least 1), acc_policy, chunking_method and acc_dtype."""
        acc_policy, method = self.acc_policy, self.chunking_method
        if method == "auto" and self.batch_chunk_size is not None:
            method = None                       # an explicit size turns the heuristic off
        if acc_policy == "auto" or method == "auto":
            key = (getattr(device, "type", None), dtype.name)
            policy, auto_method = _AUTO_DEFAULTS.get(key, _AUTO_FALLBACK)
            acc_policy = policy if acc_policy == "auto" else acc_policy
            method = auto_method if method == "auto" else method
        if self.batch_chunk_size is None:
            size = num_batches
        else:
            size = min(self.batch_chunk_size, num_batches)
        if method is not None:
            size = self._compute_batch_chunk_size(num_batches, in_features, num_classes, method)
            if self.batch_chunk_size is not None and self.batch_chunk_size != size:
                raise ValueError(f"batch_chunk_size (={self.batch_chunk_size}) and "
                                 f"chunking_method ('{method}') give different chunk sizes "
                                 f"({self.batch_chunk_size} vs {size}); pass only one.")
            if getattr(device, "type", "cpu") == "cpu" and self.batch_chunk_size is None:
                size = max(size, min(num_batches, CPU_MIN_CHUNK_ROWS))
        acc_dtype = self.acc_dtype
        if acc_dtype is None:
            half = dtype.name in ("float16", "bfloat16") and device is not None
            acc_dtype = _dtypes.float32 if self.acc_policy == "auto" and half else dtype
        return dataclasses.replace(self, acc_policy=acc_policy, chunking_method=method,
                                   batch_chunk_size=max(1, size), acc_dtype=acc_dtype)


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None,
                         reduction="mean", ignore_index=None, label_smoothing=0.0, options=None):
    """cross_entropy(linear(input, linear_weight, linear_bias), target, ...), with the logits
    reshaped to (N, C, *out_features) for a K-dimensional linear_weight.

    input (in,) or (N, in); linear_weight (C, in) or (C, d1, ..., dK, in) (K >= 1 needs a
    batched input); linear_bias (C, d1, ..., dK) or None; target class indices ((), (N,) or
    (N, d1, ..., dK), integer) or probabilities of the logits' shape (floating: a target of
    exactly that shape is read as probabilities, and then ignore_index must stay None).
    weight (C,): class weights. ignore_index None means -100. reduction: 'mean' (weighted by
    the targets' class weights) | 'sum' | 'none'. options: a LinearCrossEntropyOptions for the
    chunked path, or None. The chunked path is one autograd Function
    (ops/linear_cross_entropy.py, LinearCrossEntropyChunked) that holds one (chunk, C) block
    of logits at a time, in forward and in backward; for 'mean' and 'sum' it computes the
    gradients in forward, as PyTorch's (see LinearCrossEntropyOptions.allow_retain_graph).

    Where tinygen differs (chunked path only): double backward raises (PyTorch's returns a
    gradient that is silently not differentiable); class weights that require grad raise
    (PyTorch's chunked op gives them no gradient; its reference path raises too); input,
    linear_weight and linear_bias must share one dtype; 'mean' with every target ignored has
    gradients 0, as the reference path (PyTorch's chunked op gives NaN gradients).
    """
    num_classes, out_features = _check_shapes(input, linear_weight, linear_bias)
    logits_shape = (*input.shape[:-1], num_classes, *out_features)
    if tuple(target.shape) == logits_shape and ignore_index is not None:
        raise RuntimeError(f"{OP}: ignore_index cannot be specified when target contains "
                           f"probabilities (target of the logits' shape {logits_shape})")
    ignore_index = -100 if ignore_index is None else ignore_index
    reduction = _reduction(reduction, None, None, OP)
    if options is not None:
        if not isinstance(options, LinearCrossEntropyOptions):
            raise TypeError(f"{OP}: expected options to be a LinearCrossEntropyOptions or None, "
                            f"got {type(options).__name__}")
        if out_features or label_smoothing != 0.0 or target.dtype != _dtypes.int64:
            bias_shape = None if linear_bias is None else tuple(linear_bias.shape)
            warnings.warn(
                f"{OP}: ``options`` ignored; chunked path needs reduction in "
                "{'mean','sum','none'}, label_smoothing == 0, target.dtype == int64, "
                f"out_features == (). Got reduction={reduction!r}, label_smoothing="
                f"{label_smoothing}, target.dtype={target.dtype}, out_features="
                f"{tuple(out_features)}, linear_bias.shape={bias_shape}.", stacklevel=2)
        else:
            return _chunked(input, linear_weight, target, linear_bias, weight, reduction,
                            ignore_index, options)
    return _reference(input, linear_weight, target, linear_bias, weight, reduction,
                      ignore_index, label_smoothing, logits_shape)


def _check_shapes(input, linear_weight, linear_bias):
    """PyTorch's checks of the three shapes, in its order -> (C, out_features)."""
    if input.ndim < 1 or input.ndim > 2:
        raise RuntimeError(f"{OP}: expected input with dimensionality 1 or 2, got {input.ndim} "
                           f"(input of shape {tuple(input.shape)})")
    if linear_weight.ndim < 2:
        raise RuntimeError(f"{OP}: expected linear_weight with dimensionality at least 2, got "
                           f"{linear_weight.ndim} (shape {tuple(linear_weight.shape)})")
    if input.shape[-1] != linear_weight.shape[-1]:
        raise RuntimeError(f"{OP}: expected equal input and linear_weight last dimensions "
                           f"(in_features), got {input.shape[-1]} and {linear_weight.shape[-1]}, "
                           f"respectively")
    num_classes, out_features = linear_weight.shape[0], tuple(linear_weight.shape[1:-1])
    expected = (num_classes, *out_features)
    if linear_bias is not None and tuple(linear_bias.shape) != expected:
        raise RuntimeError(f"{OP}: expected linear_bias shape {expected}, got "
                           f"{tuple(linear_bias.shape)}")
    if out_features and input.ndim == 1:
        raise RuntimeError(f"{OP}: K-dimensional loss defined by linear_weight shape "
                           f"{tuple(linear_weight.shape)} requires batched input, "
                           f"(N, {input.shape[-1]}), got unbatched input with shape "
                           f"{tuple(input.shape)}")
    check_same_dtype(OP, input=input, linear_weight=linear_weight, linear_bias=linear_bias)
    return num_classes, out_features


def _reference(input, linear_weight, target, linear_bias, weight, reduction, ignore_index,
               label_smoothing, logits_shape):
    """linear, then cross_entropy on the logits reshaped to logits_shape: PyTorch's reference
    path (the (N, C, ...) logits and their log-softmax are kept for backward)."""
    if linear_weight.ndim > 2:                             # K-dim: W as (C * d1 * ... dK, in)
        rows = math.prod(linear_weight.shape[:-1])
        linear_weight = linear_weight.reshape(rows, input.shape[-1])
        linear_bias = None if linear_bias is None else linear_bias.reshape(rows)
    x = input if input.ndim == 2 else input.unsqueeze(0)   # (N, in)
    logits = Linear.apply(x, linear_weight, linear_bias)   # (N, C * d1 * ... dK)
    logits = logits.reshape(logits_shape)                  # (N, C, d1, ..., dK) or (C,)
    return cross_entropy(logits, target, weight=weight, reduction=reduction,
                         ignore_index=ignore_index, label_smoothing=label_smoothing)


def _chunked(input, linear_weight, target, linear_bias, weight, reduction, ignore_index,
             options):
    """The chunked op on (N, in) rows (an unbatched input as one row), options resolved."""
    batched = input.ndim == 2
    expected = tuple(input.shape[:1]) if batched else ()
    if tuple(target.shape) != expected:
        raise RuntimeError(f"{OP}: expected target of shape {expected} (class indices) for "
                           f"input of shape {tuple(input.shape)}, got target of shape "
                           f"{tuple(target.shape)}")
    num_classes = linear_weight.shape[0]
    if weight is not None and tuple(weight.shape) != (num_classes,):
        raise RuntimeError(f"{OP}: expected weight of shape ({num_classes},) for "
                           f"{num_classes} classes, got weight of shape {tuple(weight.shape)}")
    grad_on = is_grad_enabled()
    if weight is not None and weight.requires_grad and grad_on:
        raise RuntimeError(f"{OP}: the chunked path (options given) gives no gradient for the "
                           "class weights `weight`, which require grad; pass weight.detach(), "
                           "or options=None")
    x, t = (input, target) if batched else (input.unsqueeze(0), target.reshape(1))
    resolved = options._adjust(x.shape[0], x.shape[1], num_classes, input.dtype, input.device)
    acc = resolved.acc_dtype
    if acc != input.dtype and not (input.dtype.name in ("float16", "bfloat16")
                                   and acc == _dtypes.float32):
        raise RuntimeError(f"{OP} supports float32 acc_dtype with float16/bfloat16 inputs, but "
                           f"got {acc} acc_dtype and {input.dtype} inputs.")
    needs = tuple(p is not None and p.requires_grad and grad_on
                  for p in (input, linear_weight, linear_bias))
    loss = LinearCrossEntropyChunked.apply(
        x, linear_weight, linear_bias, t, weight, reduction, ignore_index,
        resolved.batch_chunk_size, _dtypes.to_np_dtype(acc), needs,
        allow_retain_graph=resolved.allow_retain_graph)
    return loss if batched or reduction != "none" else loss.squeeze(0)
