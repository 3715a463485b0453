"""Connectionist Temporal Classification loss (Graves et al. 2006), as F.ctc_loss.

The forward (alpha) recursion in log space over the blank-extended targets l' = (b, l1, b, l2,
..., b), all samples of the batch at once, written with Tensor ops so that autograd gives the
gradient (and the second derivative) without a hand-written beta pass:
    alpha_0(s) = lp_0(l'_s) for s < 2,  -inf elsewhere
    alpha_t(s) = logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), [alpha_{t-1}(s-2)]) + lp_t(l'_s)
where the s-2 term is allowed when l'_s is a label different from l'_{s-2}; then
    loss = -logsumexp(alpha_{T-1}(|l'| - 1), alpha_{T-1}(|l'| - 2)),
with T each sample's own input length. Unreachable cells hold -inf and receive exactly zero
gradient (the logs' `guard`). Cost: T steps of O(N |l'|) ops, for the short sequences of small
models.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import wrap
from ..autograd import function as _fn
from .args import check_float
from .binary import where
from .loss import _reduction
from .reduce import logsumexp
from .shape import cat, stack

NEG_INF = float("-inf")


def _lengths(op, lengths, n, name):
    values = lengths.cpu().numpy() if isinstance(lengths, _fn.Tensor) else np.asarray(lengths)
    values = values.reshape(-1).astype(np.int64)
    if values.shape[0] != n:
        raise RuntimeError(f"{op}: expected {n} {name} (one per sample), got {values.shape[0]}")
    return values


def _extended_targets(targets, target_lengths, blank, n):
    """(N, 2 S + 1) int64 blank-extended targets (padded with blanks) and the skip mask."""
    data = targets.cpu().numpy().astype(np.int64)
    longest = int(target_lengths.max()) if n else 0
    ext = np.full((n, 2 * longest + 1), blank, dtype=np.int64)
    offset = 0
    for k, length in enumerate(target_lengths):
        if data.ndim == 2:
            labels = data[k, :length]
        else:                                     # concatenated 1-D targets
            labels, offset = data[offset:offset + length], offset + length
        ext[k, 1:2 * length:2] = labels
    skip = np.zeros(ext.shape, dtype=bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    return ext, skip


def _alpha_recursion(emissions, skip, input_lengths, like):
    """alpha_{T_n - 1} for every sample: emissions (T, N, L) log-probabilities of l'."""
    T, N, L = emissions.shape
    xp = like.device.xp
    start = np.zeros((N, L), dtype=bool)
    start[:, :2] = True
    alpha = where(wrap(xp.asarray(start)), emissions[0], NEG_INF)             # (N, L)
    skip = wrap(xp.asarray(skip))
    pad1 = wrap(xp.full((N, 1), NEG_INF, like._data.dtype))
    pad2 = wrap(xp.full((N, 2), NEG_INF, like._data.dtype))
    running = wrap(xp.asarray(input_lengths.reshape(N, 1)))
    for t in range(1, T):
        terms = [alpha, cat([pad1, alpha[:, :L - 1]], 1)]                   # s and s - 1
        if L > 2:                                                             # s - 2, if allowed
            terms.append(where(skip, cat([pad2, alpha[:, :L - 2]], 1), NEG_INF))
        new = logsumexp(stack(terms), 0) + emissions[t]
        alpha = where(running > t, new, alpha)                               # past T_n: kept
    return alpha


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """CTC loss of log_probs (T, N, C) (log-softmax outputs; (T, C) unbatched) for targets
    (N, S) padded or 1-D concatenated, with per-sample input_lengths and target_lengths.
    reduction 'mean' divides each loss by its target length, then averages over the batch;
    zero_infinity replaces infinite losses (impossible alignments) and their gradients by 0.
    The gradient in log_probs is the exact one; PyTorch's differs from it by a multiple of
    exp(log_probs) at each (t, n), which the backward of the usual log_softmax removes. An input
    length of 0 is refused (PyTorch accepts it). An impossible alignment (an infinite loss) with
    zero_infinity=False has the exact gradient of its recursion, 0 where no path reaches (NaN
    only where -inf - -inf meets); PyTorch's CPU kernel gives NaN at every t < input_length
    (exp(-inf + inf)), so after log_softmax its whole (t, n) rows are NaN."""
    op = "ctc_loss"
    reduction = _reduction(reduction, None, None, op)
    check_float(op, log_probs)
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs                    # (T, N, C)
    if lp.ndim != 3:
        raise RuntimeError(f"{op}: expected log_probs (T, N, C) or (T, C), got shape "
                           f"{tuple(log_probs.shape)}")
    T, N, C = lp.shape
    tgt = targets.unsqueeze(0) if unbatched and targets.ndim == 1 else targets
    in_len = _lengths(op, input_lengths, N, "input_lengths")
    tgt_len = _lengths(op, target_lengths, N, "target_lengths")
    if (in_len > T).any() or (in_len < 1).any():
        raise RuntimeError(f"{op}: input_lengths must be in [1, {T}], got {in_len.tolist()}")
    if (tgt_len < 0).any():
        raise RuntimeError(f"{op}: target_lengths must be non-negative, got {tgt_len.tolist()}")
    if tgt.ndim == 2 and N and int(tgt_len.max()) > tgt.shape[1]:
        raise RuntimeError(f"{op}: a target length of {int(tgt_len.max())} is longer than the "
                           f"padded targets of shape {tuple(tgt.shape)}")
    if tgt.ndim == 1 and int(tgt_len.sum()) > tgt.shape[0]:
        raise RuntimeError(f"{op}: target_lengths add up to {int(tgt_len.sum())}, more than the "
                           f"{tgt.shape[0]} concatenated targets")
    if tgt.ndim not in (1, 2):
        raise RuntimeError(f"{op}: expected targets (N, S) padded or 1-D concatenated, got shape "
                           f"{tuple(targets.shape)}")
    ext, skip = _extended_targets(tgt, tgt_len, blank, N)
    if ext.size and ((ext < 0).any() or (ext >= C).any()):
        raise IndexError(f"{op}: target labels must be in [0, {C}) (blank {blank})")
    index = wrap(lp.device.xp.asarray(np.broadcast_to(ext, (T,) + ext.shape).copy()))
    emissions = lp.gather(2, index)                                           # (T, N, L)
    alpha = _alpha_recursion(emissions, skip, in_len, lp)
    last = lp.device.xp.asarray((2 * tgt_len).reshape(N, 1))
    before = lp.device.xp.asarray(np.maximum(2 * tgt_len - 1, 0).reshape(N, 1))
    has_label = wrap(lp.device.xp.asarray((tgt_len > 0).reshape(N, 1)))
    ends = stack([alpha.gather(1, wrap(last)),
                  where(has_label, alpha.gather(1, wrap(before)), NEG_INF)])
    loss = -logsumexp(ends, 0).reshape(N)                                     # (N,)
    if zero_infinity:
        loss = where(loss.detach().isinf(), 0.0, loss)
    if reduction == "mean":
        scale = wrap(lp.device.xp.asarray(1.0 / np.maximum(tgt_len, 1)).astype(
            lp._data.dtype))
        return (loss * scale).mean()
    if reduction == "sum":
        return loss.sum()
    return loss.reshape(()) if unbatched else loss
