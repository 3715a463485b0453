"""Variable-length sequences, as torch.nn.utils.rnn: pad_sequence, PackedSequence and its
pack/pad functions, which nn.RNN, nn.GRU and nn.LSTM take as input.

    batch = pad_sequence([seq_a, seq_b], batch_first=True)            # (2, L_max, *)
    packed = pack_padded_sequence(batch, lengths, batch_first=True, enforce_sorted=False)
    out, h_n = lstm(packed)                                            # out: a PackedSequence
    padded, lengths = pad_packed_sequence(out, batch_first=True)

A PackedSequence holds the sequences' steps time-major, longest first: data (sum(lengths), *)
is step 0 of every sequence, then step 1 of those at least 2 long, and so on; batch_sizes[t] is
how many sequences are longer than t. sorted_indices (None when the batch came sorted) orders
the batch by decreasing length, unsorted_indices undoes it. Packing reads the padded tensor at
those places and unpacking writes them back (an indexing op and its adjoint), so gradients flow
through both.
"""
from __future__ import annotations

import collections

import numpy as np

from ... import creation
from ...autograd.function import wrap
from ...backend import dtypes as _dt
from ...ops import shape as _shape
from ...tensor import Tensor


class PackedSequence(collections.namedtuple(
        "PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """(data, batch_sizes, sorted_indices, unsorted_indices): see the module doc. batch_sizes
    and the indices are int64 tensors on the CPU, as PyTorch's."""
    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _inverse(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """data moved or cast (Tensor.to's arguments); the indices move with it."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        device = data.device
        return type(self)(data, self.batch_sizes,
                          *(None if i is None else i.to(device)
                            for i in (self.sorted_indices, self.unsorted_indices)))

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    def double(self):
        return self.to(_dt.float64)

    def float(self):
        return self.to(_dt.float32)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def _inverse(order):
    values = order.cpu().numpy() if isinstance(order, Tensor) else np.asarray(order)
    inverse = np.empty_like(values)
    inverse[values] = np.arange(values.shape[0])
    return wrap(inverse.astype(np.int64))


def _lengths(lengths):
    """lengths (a list, an array or an int64 tensor) as an int64 NumPy vector."""
    values = lengths.cpu().numpy() if isinstance(lengths, Tensor) else np.asarray(lengths)
    return values.reshape(-1).astype(np.int64)


def _rows(batch_sizes, order):
    """(time index, batch index) of each packed row: step t of the sequences
    order[:batch_sizes[t]]."""
    times = np.repeat(np.arange(batch_sizes.shape[0]), batch_sizes)
    rows = np.concatenate([order[:n] for n in batch_sizes]) if batch_sizes.size else order[:0]
    return times, rows


def _layout(packed):
    """(batch_sizes, order) of a PackedSequence as int64 NumPy vectors (order: sorted_indices,
    or the identity)."""
    batch_sizes = _lengths(packed.batch_sizes)
    batch = int(batch_sizes[0]) if batch_sizes.size else 0
    order = np.arange(batch) if packed.sorted_indices is None else \
        _lengths(packed.sorted_indices)
    return batch_sizes, order


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """The PackedSequence of input (L, B, *) (batch_first: (B, L, *)) whose sequence b is the
    first lengths[b] steps. enforce_sorted: lengths must decrease (else they are sorted here,
    stably, and sorted_indices records the order). A length longer than the input is refused
    (a RuntimeError; PyTorch packs it, reading past the input: a deliberate difference)."""
    op = "pack_padded_sequence"
    n = _lengths(lengths)
    x = input.transpose(0, 1) if batch_first else input                   # (L, B, *)
    if x.ndim < 2 or n.shape[0] != x.shape[1]:
        raise ValueError(f"{op}: expected {x.shape[1] if x.ndim > 1 else 0} lengths (one per "
                         f"sequence of input of shape {tuple(input.shape)}, batch_first="
                         f"{batch_first}), got {n.shape[0]}")
    if n.size and n.min() <= 0:
        raise RuntimeError(f"{op}: Length of all samples has to be greater than 0, but found an "
                           f"element in 'lengths' that is <= 0: {n.tolist()}")
    if n.size and n.max() > x.shape[0]:
        raise RuntimeError(f"{op}: a length of {n.max()} is longer than the input's "
                           f"{x.shape[0]} steps (input of shape {tuple(input.shape)})")
    if enforce_sorted:
        if np.any(n[1:] > n[:-1]):
            raise RuntimeError(f"{op}: `lengths` array must be sorted in decreasing order when "
                               f"`enforce_sorted` is True (got {n.tolist()}). You can pass "
                               "`enforce_sorted=False` to pack_padded_sequence and/or "
                               "pack_sequence to sidestep this requirement.")
        order, sorted_indices = np.arange(n.shape[0]), None
    else:
        order = np.argsort(-n, kind="stable")
        sorted_indices = wrap(order.astype(np.int64))
    batch_sizes = (n[None, :] > np.arange(int(n.max()) if n.size else 0)[:, None]).sum(axis=1)
    times, batch = _rows(batch_sizes, order)
    data = x[wrap(times), wrap(batch)]
    return PackedSequence(data, wrap(batch_sizes.astype(np.int64)), sorted_indices)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """(padded, lengths): the PackedSequence's sequences back in (L, B, *) (batch_first:
    (B, L, *)), in the original batch order, padded with padding_value to total_length (at
    least the longest), and their lengths (int64)."""
    batch_sizes, order = _layout(sequence)
    steps, batch = batch_sizes.shape[0], order.shape[0]
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"pad_packed_sequence: Expected total_length to be at least the "
                             f"length of the longest sequence in input, but got total_length="
                             f"{total_length} and max sequence length being {steps}")
        steps = total_length
    lengths = np.empty(batch, np.int64)
    lengths[order] = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1)
    times, rows = _rows(batch_sizes, order)
    data = sequence.data
    padded = creation.full((steps, batch) + tuple(data.shape[1:]), padding_value,
                           dtype=data.dtype, device=data.device)
    padded = padded.index_put((wrap(times), wrap(rows)), data)
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, wrap(lengths)


def pack_like(padded, packed):
    """padded (L, B, *) in the batch's original order packed as `packed` is (the same lengths,
    batch_sizes and indices): how nn.RNN returns its output for a PackedSequence input."""
    times, rows = _rows(*_layout(packed))
    return PackedSequence(padded[wrap(times), wrap(rows)], packed.batch_sizes,
                          packed.sorted_indices, packed.unsorted_indices)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Tensors (L_i, *) stacked into (L_max, B, *) (batch_first: (B, L_max, *)), each padded
    with padding_value on the right (or the left)."""
    if padding_side not in ("right", "left"):
        raise RuntimeError(f"pad_sequence: padding_side should be 'left' or 'right', got "
                         f"{padding_side!r}")
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = longest - s.shape[0]
        steps = (0, extra) if padding_side == "right" else (extra, 0)
        padded.append(_shape.Pad.apply(s, (steps,) + ((0, 0),) * (s.ndim - 1), padding_value)
                      if extra else s)
    return _shape.stack(padded, dim=0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    """pack_padded_sequence of pad_sequence(sequences) with their lengths."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences pad_sequence stacked: sequence b its first lengths[b] steps.
    lengths: a tensor, as PyTorch's, or also a list (which PyTorch refuses)."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)     # (B, L, *)
    return [x[b, :int(n)] for b, n in enumerate(_lengths(lengths))]


def unpack_sequence(packed_sequences):
    """The list of sequences a PackedSequence holds, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
