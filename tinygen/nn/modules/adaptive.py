"""AdaptiveLogSoftmaxWithLoss, as PyTorch (Grave et al. 2017, "Efficient softmax approximation
for GPUs", arXiv:1609.04309): frequent classes in a head softmax, rarer ones in tail clusters
reached through one head entry per cluster, each cluster a low-rank projection.

    asm = nn.AdaptiveLogSoftmaxWithLoss(64, 1000, cutoffs=[100, 400])
    output, loss = asm(hidden, target)      # hidden (N, 64), target (N,) -> output (N,), loss ()
    asm.log_prob(hidden)                    # (N, 1000)
    asm.predict(hidden)                     # (N,)

Parameters are named as PyTorch's (head.weight, head.bias, tail.i.0.weight, tail.i.1.weight),
so a PyTorch state dict loads. The per-cluster outputs are put back in batch order with a
gather instead of PyTorch's in-place index_copy_; values and gradients are the same.
"""
from __future__ import annotations

import itertools
from collections import namedtuple

import numpy as np

from .. import functional as F
from ...creation import tensor
from ...ops.shape import cat
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


def _check_cutoffs(cutoffs, n_classes):
    cutoffs = list(cutoffs)
    if len(cutoffs) == 0:
        raise ValueError("AdaptiveLogSoftmaxWithLoss: cutoffs should be a sequence of length "
                         "larger than 0")
    if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
            or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
        raise ValueError("AdaptiveLogSoftmaxWithLoss: cutoffs should be a sequence of unique, "
                         "positive integers sorted in an increasing order, where each value is "
                         f"between 1 and n_classes-1, got {cutoffs} for n_classes {n_classes}")
    return cutoffs


class AdaptiveLogSoftmaxWithLoss(Module):
    """forward(input (N, in_features) or (in_features,), target (N,) or ()) ->
    (output: the target's log-probability, (N,) or (); loss: mean of -output)."""

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False,
                 device=None, dtype=None):
        super().__init__()
        cutoffs = _check_cutoffs(cutoffs, n_classes)
        factory = {"device": device, "dtype": dtype}
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, **factory)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))      # each cluster's rank
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, **factory),
                                        Linear(hidden, size, bias=False, **factory)))

    def reset_parameters(self):
        self.head.reset_parameters()
        for to_hidden, to_output in self.tail:
            to_hidden.reset_parameters()
            to_output.reset_parameters()

    def _check(self, input, target):
        if target.ndim == 1:
            if input.shape[0] != target.shape[0]:
                raise RuntimeError("AdaptiveLogSoftmaxWithLoss: Input and target should have "
                                   "the same size in the batch dimension.")
            if input.ndim != 2:
                raise RuntimeError("AdaptiveLogSoftmaxWithLoss: 1D target tensor expects 2D "
                                   f"input tensors, but found inputs with size {input.shape}")
        elif target.ndim == 0:
            if input.ndim != 1:
                raise RuntimeError("AdaptiveLogSoftmaxWithLoss: 0D target tensor expects 1D "
                                   f"input tensors, but found inputs with size {input.shape}")
        else:
            raise RuntimeError("AdaptiveLogSoftmaxWithLoss: 0D or 1D target tensor expected, "
                               "multi-target not supported")

    def forward(self, input_, target_):
        self._check(input_, target_)
        batched = target_.ndim > 0
        input = input_ if batched else input_.unsqueeze(0)
        labels = np.asarray(target_.numpy()).reshape(-1).astype(np.int64)      # (N,)
        if labels.size and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: Target values should be in "
                               f"[0, {self.n_classes - 1}], but values in range "
                               f"[{labels.min()}, {labels.max()}] were found.")
        cluster = np.searchsorted(np.asarray(self.cutoffs), labels, side="right")  # 0: head
        # the head entry each row reads: its class in the shortlist, else its cluster's entry
        head_index = np.where(cluster == 0, labels, self.shortlist_size + cluster - 1)
        rows, pieces = [np.flatnonzero(cluster == 0)], []
        for i in range(1, self.n_clusters + 1):
            members = np.flatnonzero(cluster == i)
            if members.size == 0:
                continue
            local = tensor(labels[members] - self.cutoffs[i - 1], device=input.device)
            subset = input.index_select(0, tensor(members, device=input.device))
            logprob = F.log_softmax(self.tail[i - 1](subset), dim=1)          # (n_i, size_i)
            pieces.append(logprob.gather(1, local.unsqueeze(1)).squeeze(1))
            rows.append(members)
        head_logprob = F.log_softmax(self.head(input), dim=1)                 # (N, head_size)
        index = tensor(head_index, device=input.device).unsqueeze(1)
        output = head_logprob.gather(1, index).squeeze(1)                     # (N,)
        if pieces:
            # tail log-probs in batch order; the shortlist rows add 0
            zeros = output.new_zeros((rows[0].size,))
            order = np.argsort(np.concatenate(rows), kind="stable")
            tail = cat([zeros] + pieces).index_select(0, tensor(order, device=input.device))
            output = output + tail
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _get_full_log_prob(self, input, head_output):
        """log p(class) for every class: (N, n_classes)."""
        head_logprob = F.log_softmax(head_output, dim=1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i, _ in enumerate(itertools.pairwise(self.cutoffs)):
            cluster_logprob = F.log_softmax(self.tail[i](input), dim=1)
            entry = self.shortlist_size + i
            parts.append(cluster_logprob + head_logprob[:, entry:entry + 1])
        return cat(parts, dim=1)

    def log_prob(self, input):
        """(N, in_features) -> (N, n_classes) log-probabilities."""
        return self._get_full_log_prob(input, self.head(input))

    def predict(self, input):
        """(N, in_features) -> (N,) the most probable class, as log_prob(input).argmax(1)."""
        head_output = self.head(input)
        output = head_output.argmax(dim=1)
        outside = output >= self.shortlist_size
        if not bool(outside.any()):
            return output
        picked = np.flatnonzero(outside.numpy())
        index = tensor(picked, device=input.device)
        best = self._get_full_log_prob(input.index_select(0, index),
                                       head_output.index_select(0, index)).argmax(dim=1)
        return output.index_copy(0, index, best)
