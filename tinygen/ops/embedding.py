"""F.embedding_bag: the sum, mean or max of the embeddings of each bag of indices, without the
(bags, length, dim) tensor of the plain F.embedding + reduction for 'sum' and 'mean'.

Bags are the rows of a 2-D input, or the runs of a 1-D input cut at `offsets`. Indices equal to
padding_idx are left out (not counted by 'mean'; their rows get no gradient); an empty bag gives
zeros. 'sum' and 'mean' scatter-add the selected rows into their bags (IndexAdd, whose adjoint is
IndexSelect: differentiable to any order); 'max' pads the bags to one length with -inf and takes
the maximum (the gradient goes to the chosen row).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import wrap
from ..autograd import function as _fn
from .binary import where
from .index import IndexAdd

_MODES = ("sum", "mean", "max")


def _bags(op, input, offsets, include_last_offset):
    """(flat indices (n,), bag id of each (n,), number of bags) as NumPy arrays."""
    idx = input.cpu().numpy()
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected an integer (int64) index tensor, got {input.dtype}")
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: offsets must be None for a 2-D input (each row is a bag)")
        bags, length = idx.shape
        return idx.reshape(-1), np.repeat(np.arange(bags), length), bags
    if idx.ndim != 1 or offsets is None:
        raise ValueError(f"{op}: expected a 2-D input, or a 1-D input with offsets, got input of "
                         f"shape {tuple(input.shape)} and offsets {offsets!r}")
    starts = offsets.cpu().numpy() if isinstance(offsets, _fn.Tensor) else np.asarray(offsets)
    starts = starts.astype(np.int64).reshape(-1)
    if include_last_offset:
        starts = starts[:-1]
    if starts.size and (starts[0] != 0 or (np.diff(starts) < 0).any() or starts[-1] > idx.size):
        raise ValueError(f"{op}: offsets must start at 0 and be non-decreasing within the input "
                         f"length {idx.size}, got {starts.tolist()}")
    bag_of = np.searchsorted(starts, np.arange(idx.size), side="right") - 1
    return idx, bag_of, starts.size


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2.0,
                  scale_grad_by_freq=False, mode="mean", sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    """Reduce each bag's embedding rows: weight (num_embeddings, dim) -> (bags, dim).

    per_sample_weights (the input's shape) scale the rows, with mode='sum' only. max_norm,
    scale_grad_by_freq and sparse are not supported (they raise)."""
    op = "embedding_bag"
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError(f"{op}: max_norm, scale_grad_by_freq and sparse are not "
                                  "supported by tinygen")
    if mode not in _MODES:
        raise ValueError(f"{op}: mode must be one of {_MODES}, got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"{op}: per_sample_weights is only supported for mode='sum' "
                                  f"(got mode={mode!r}), as in PyTorch")
    if per_sample_weights is not None:
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(f"{op}: If per_sample_weights ({tuple(per_sample_weights.shape)}) "
                             f"is not None, then it must have the same shape as the input "
                             f"({tuple(input.shape)})")
        if per_sample_weights.dtype != weight.dtype:
            raise RuntimeError(f"{op}: expected per_sample_weights of the weight's dtype "
                               f"{weight.dtype}, got {per_sample_weights.dtype}")
    idx, bag_of, bags = _bags(op, input, offsets, include_last_offset)
    num, dim = weight.shape
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        raise IndexError(f"{op}: indices must be in [0, {num}) for weight of shape "
                         f"{tuple(weight.shape)}")
    keep = np.ones(idx.shape, dtype=bool) if padding_idx is None else idx != padding_idx % num
    xp = weight.device.xp
    rows = weight.index_select(0, wrap(xp.asarray(idx)))                   # (n, dim)
    if mode == "max":
        if idx.size == 0:         # no row at all: every bag is empty (zeros, as PyTorch)
            return rows.sum(0, keepdim=True).expand(bags, dim) * 0.0
        return _bag_max(rows, idx, bag_of, bags, keep, xp)
    scale = keep.astype(weight._data.dtype)
    if mode == "mean":
        counts = np.bincount(bag_of[keep], minlength=bags).astype(np.float64)
        scale = scale / np.maximum(counts, 1)[bag_of]
    rows = rows * wrap(xp.asarray(scale.astype(weight._data.dtype).reshape(-1, 1)))
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1, 1)
    return IndexAdd.apply(rows, (bags, dim), 0, xp.asarray(bag_of))


def _bag_max(rows, idx, bag_of, bags, keep, xp):
    """The elementwise maximum of each bag's kept rows (zeros for an empty bag)."""
    positions = np.zeros(idx.shape, dtype=np.int64)                      # place within the bag
    counts = np.zeros(bags, dtype=np.int64)
    for k in np.flatnonzero(keep):
        positions[k] = counts[bag_of[k]]
        counts[bag_of[k]] += 1
    longest = max(int(counts.max()) if bags else 0, 1)
    table = np.full((bags, longest), -1, dtype=np.int64)                  # row of each slot
    table[bag_of[keep], positions[keep]] = np.flatnonzero(keep)
    picked = rows.index_select(0, wrap(xp.asarray(np.maximum(table, 0).reshape(-1))))
    picked = picked.reshape(bags, longest, rows.shape[1])
    valid = wrap(xp.asarray((table >= 0)[:, :, None]))
    values = where(valid, picked, float("-inf")).max(dim=1).values        # (bags, dim)
    return where(wrap(xp.asarray((counts > 0)[:, None])), values, 0.0)
