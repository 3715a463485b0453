"""Variable-length sequences (tinygen.nn.utils.rnn) against PyTorch: pad_sequence, packing and
unpacking (sorted and not, batch_first, padding values, total_length), and RNN, GRU and LSTM on a
PackedSequence (layers, directions, proj_size, initial states): outputs, final states and the
gradients of the inputs and every parameter, in float64."""
from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn
from tinygen.nn.utils import rnn as G

torch = pytest.importorskip("torch")
R = torch.nn.utils.rnn


def _pair(x):
    return tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths, enforce_sorted", [([5, 3, 3, 1], True), ([2, 5, 1, 4], False)])
def test_pack_and_pad_match_torch(lengths, enforce_sorted, batch_first):
    x = np.random.default_rng(0).standard_normal((4, 5, 2) if batch_first else (5, 4, 2))
    ours, theirs = _pair(x)
    p = G.pack_padded_sequence(ours, lengths, batch_first, enforce_sorted)
    q = R.pack_padded_sequence(theirs, lengths, batch_first, enforce_sorted)
    np.testing.assert_array_equal(p.data.numpy(), q.data.detach().numpy())
    np.testing.assert_array_equal(p.batch_sizes.numpy(), q.batch_sizes.numpy())
    for a, b in ((p.sorted_indices, q.sorted_indices), (p.unsorted_indices, q.unsorted_indices)):
        assert (a is None) == (b is None) and (a is None or np.array_equal(a.numpy(), b.numpy()))
    padded, n = G.pad_packed_sequence(p, batch_first, padding_value=-2.0, total_length=7)
    ref, m = R.pad_packed_sequence(q, batch_first, padding_value=-2.0, total_length=7)
    np.testing.assert_array_equal(padded.numpy(), ref.detach().numpy())
    np.testing.assert_array_equal(n.numpy(), m.numpy())
    gy = np.random.default_rng(1).standard_normal(tuple(ref.shape))
    (padded * tg.tensor(gy)).sum().backward()
    (ref * torch.tensor(gy)).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_pack_sequence_and_unpacking(side, batch_first):
    seqs = [np.random.default_rng(k).standard_normal((n, 3)) for k, n in enumerate((2, 4, 3))]
    ours = G.pad_sequence([tg.tensor(s) for s in seqs], batch_first, 0.5, side)
    theirs = R.pad_sequence([torch.tensor(s) for s in seqs], batch_first, 0.5, side)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    packed = G.pack_sequence([tg.tensor(s) for s in seqs], enforce_sorted=False)
    ref = R.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(packed.data.numpy(), ref.data.numpy())
    for a, s in zip(G.unpack_sequence(packed), seqs):
        np.testing.assert_array_equal(a.numpy(), s)
    padded = G.pad_sequence([tg.tensor(s) for s in seqs], batch_first)
    for a, s in zip(G.unpad_sequence(padded, tg.tensor([2, 4, 3]), batch_first), seqs):
        np.testing.assert_array_equal(a.numpy(), s)


def test_packing_errors_as_torch():
    x = tg.zeros(4, 3, 2)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        G.pack_padded_sequence(x, [4, 2, 3])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        G.pack_padded_sequence(x, [4, 0, 3], enforce_sorted=False)
    with pytest.raises(ValueError, match="expected 3 lengths"):
        G.pack_padded_sequence(x, [4, 2])
    with pytest.raises(ValueError, match="total_length to be at least"):
        G.pad_packed_sequence(G.pack_padded_sequence(x, [4, 2, 1]), total_length=2)


LAYERS = {
    "rnn_2layer_bidirectional": lambda m: m.RNN(3, 4, num_layers=2, bidirectional=True),
    "gru_bf": lambda m: m.GRU(3, 4, batch_first=True),
    "lstm_bidirectional": lambda m: m.LSTM(3, 4, bidirectional=True),
    "lstm_proj_2layer": lambda m: m.LSTM(3, 4, num_layers=2, proj_size=2),
}


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("name", list(LAYERS))
def test_recurrent_layers_on_packed_sequences_match_torch(name, with_state):
    """Each sequence's state stops at its own length (the backward direction starts there):
    the packed output, h_n (c_n) and every gradient as PyTorch's."""
    rng = np.random.default_rng(0)
    theirs = LAYERS[name](torch.nn).double()
    ours = LAYERS[name](nn).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    first = theirs.batch_first
    x = rng.standard_normal((4, 6, 3) if first else (6, 4, 3))
    lengths = [3, 6, 1, 4]
    x_g, x_t = _pair(x)
    args_g, args_t = [G.pack_padded_sequence(x_g, lengths, first, enforce_sorted=False)], \
        [R.pack_padded_sequence(x_t, lengths, first, enforce_sorted=False)]
    states = []
    if with_state:
        h, c = theirs(args_t[0])[1] if isinstance(theirs, torch.nn.LSTM) else (
            theirs(args_t[0])[1], None)
        for s in (h, c):
            if s is not None:
                states.append(_pair(rng.standard_normal(tuple(s.shape))))
        hx = [s[0] for s in states], [s[1] for s in states]
        args_g.append(tuple(hx[0]) if len(states) == 2 else hx[0][0])
        args_t.append(tuple(hx[1]) if len(states) == 2 else hx[1][0])
    out_g, h_g = ours(*args_g)
    out_t, h_t = theirs(*args_t)
    h_g, h_t = (h_g, h_t) if isinstance(h_t, torch.Tensor) else (h_g[0] + 2 * h_g[1].sum(),
                                                                 h_t[0] + 2 * h_t[1].sum())
    np.testing.assert_allclose(out_g.data.numpy(), out_t.data.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(h_g.numpy(), h_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    gy = rng.standard_normal(tuple(out_t.data.shape))
    ((out_g.data * tg.tensor(gy)).sum() + h_g.sum()).backward()
    ((out_t.data * torch.tensor(gy)).sum() + h_t.sum()).backward()
    pairs = [(x_g, x_t)] + states + [(ours.get_parameter(n), p)
                                     for n, p in theirs.named_parameters()]
    for a, b in pairs:
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)
