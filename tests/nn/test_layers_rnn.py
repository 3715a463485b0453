"""PyTorch parity of RNN (tanh/relu), GRU and LSTM: layouts, layers, directions, initial states,
inter-layer dropout in eval mode, unbatched inputs, and the single-step cells."""
from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn
from test_layers_helpers import check_layer, randn, torch

tnn = torch.nn
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _check(build, inputs, **kw):
    torch.manual_seed(0)
    return check_layer(build(nn), build(tnn), inputs, **kw)


T, B, IN, H = 6, 3, 4, 5

RNNS = {
    "rnn_tanh": (lambda m: m.RNN(IN, H), [randn(T, B, IN)]),
    "rnn_relu_2layer_bf": (lambda m: m.RNN(IN, H, num_layers=2, nonlinearity="relu",
                                           batch_first=True), [randn(B, T, IN)]),
    "rnn_no_bias_h0": (lambda m: m.RNN(IN, H, bias=False),
                       [randn(T, B, IN), randn(1, B, H, seed=1)]),
    "gru_2layer": (lambda m: m.GRU(IN, H, num_layers=2), [randn(T, B, IN)]),
    "gru_h0_bidirectional": (lambda m: m.GRU(IN, H, bidirectional=True),
                             [randn(T, B, IN), randn(2, B, H, seed=1)]),
    "gru_3layer_bidirectional_bf": (lambda m: m.GRU(IN, H, num_layers=3, bidirectional=True,
                                                    batch_first=True), [randn(B, T, IN)]),
    "lstm": (lambda m: m.LSTM(IN, H), [randn(T, B, IN)]),
    "lstm_2layer_bf_bidirectional": (lambda m: m.LSTM(IN, H, num_layers=2, batch_first=True,
                                                      bidirectional=True), [randn(B, T, IN)]),
    "lstm_no_bias": (lambda m: m.LSTM(IN, H, bias=False), [randn(T, B, IN)]),
    "rnn_unbatched": (lambda m: m.RNN(IN, H, num_layers=2), [randn(T, IN)]),
    "gru_unbatched_h0": (lambda m: m.GRU(IN, H), [randn(T, IN), randn(1, H, seed=1)]),
    "lstm_proj": (lambda m: m.LSTM(IN, H, proj_size=3), [randn(T, B, IN)]),
    "lstm_proj_2layer_bidirectional_bf": (lambda m: m.LSTM(IN, H, num_layers=2, proj_size=2,
                                                           bidirectional=True, batch_first=True),
                                          [randn(B, T, IN)]),
    "lstm_proj_unbatched": (lambda m: m.LSTM(IN, H, proj_size=1), [randn(T, IN)]),
}


@pytest.mark.parametrize("name", list(RNNS))
def test_recurrent_layers(name):
    build, inputs = RNNS[name]
    _check(build, inputs)


@pytest.mark.parametrize("name", ["gru_2layer", "lstm_2layer_bf_bidirectional"])
def test_recurrent_layers_float64(name):
    build, inputs = RNNS[name]
    _check(build, inputs, dtype="float64")


class _LSTMWithState:
    """LSTM called with (h0, c0): a wrapper so check_layer can pass the pair as two inputs."""

    @staticmethod
    def build(lib, **kwargs):
        class Wrapper(lib.Module):
            def __init__(self):
                super().__init__()
                self.lstm = lib.LSTM(IN, H, **kwargs)

            def forward(self, x, h0, c0):
                return self.lstm(x, (h0, c0))

        return Wrapper()


@pytest.mark.parametrize("unbatched", [False, True])
def test_lstm_with_initial_state(unbatched):
    if unbatched:
        inputs = [randn(T, IN), randn(2, H, seed=1), randn(2, H, seed=2)]
    else:
        inputs = [randn(T, B, IN), randn(2, B, H, seed=1), randn(2, B, H, seed=2)]
    _check(lambda m: _LSTMWithState.build(m, num_layers=2), inputs)


def test_inter_layer_dropout_is_off_in_eval_and_random_in_train():
    _check(lambda m: m.LSTM(IN, H, num_layers=3, dropout=0.5), [randn(T, B, IN)], train=False)
    tg.manual_seed(0)
    lstm = nn.LSTM(IN, H, num_layers=2, dropout=0.5)
    x = tg.tensor(randn(T, B, IN))
    a, _ = lstm(x)
    b, _ = lstm(x)
    assert not np.allclose(a.numpy(), b.numpy())
    lstm.eval()
    np.testing.assert_array_equal(lstm(x)[0].numpy(), lstm(x)[0].numpy())


def test_parameter_names_and_shapes_match_torch():
    for build in (lambda m: m.RNN(3, 4, num_layers=2, bidirectional=True),
                  lambda m: m.GRU(3, 4, num_layers=2, bias=False),
                  lambda m: m.LSTM(3, 4, num_layers=3, bidirectional=True),
                  lambda m: m.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)):
        ours = [(n, tuple(p.shape)) for n, p in build(nn).named_parameters()]
        theirs = [(n, tuple(p.shape)) for n, p in build(tnn).named_parameters()]
        assert ours == theirs


def test_recurrent_errors():
    with pytest.raises(ValueError, match="input_size"):
        nn.GRU(IN, H)(tg.randn(T, B, IN + 1))
    with pytest.raises(ValueError, match="hidden"):
        nn.GRU(IN, H)(tg.randn(T, B, IN), tg.randn(2, B, H))
    with pytest.raises(ValueError, match="tuple"):
        nn.LSTM(IN, H)(tg.randn(T, B, IN), tg.randn(1, B, H))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(IN, H, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="smaller than hidden_size"):
        nn.LSTM(IN, H, proj_size=H)
    with pytest.raises(ValueError, match=r"hidden\[0\] size \(1, 3, 2\)"):       # h is P wide
        nn.LSTM(IN, H, proj_size=2)(tg.randn(T, B, IN), (tg.randn(1, B, H), tg.randn(1, B, H)))


CELLS = {
    "rnn_cell": (lambda m: m.RNNCell(IN, H), [randn(B, IN), randn(B, H, seed=1)]),
    "rnn_cell_relu": (lambda m: m.RNNCell(IN, H, nonlinearity="relu"), [randn(B, IN)]),
    "gru_cell": (lambda m: m.GRUCell(IN, H), [randn(B, IN), randn(B, H, seed=1)]),
    "gru_cell_unbatched": (lambda m: m.GRUCell(IN, H, bias=False), [randn(IN)]),
}


@pytest.mark.parametrize("name", list(CELLS))
def test_cells(name):
    build, inputs = CELLS[name]
    _check(build, inputs)


def test_lstm_cell():
    def build(lib):
        class Wrapper(lib.Module):
            def __init__(self):
                super().__init__()
                self.cell = lib.LSTMCell(IN, H)

            def forward(self, x, h, c):
                return self.cell(x, (h, c))

        return Wrapper()

    _check(build, [randn(B, IN), randn(B, H, seed=1), randn(B, H, seed=2)])
    _check(lambda m: m.LSTMCell(IN, H), [randn(B, IN)])


@pytest.mark.parametrize("size", [0, -1])
def test_rnn_sizes_below_one_are_refused_by_name(size):
    """LSTM(-1, 3) failed inside empty() with a negative dimension; now a ValueError naming
    input_size (as PyTorch's), and hidden_size likewise."""
    with pytest.raises(ValueError, match="input_size"):
        nn.LSTM(size, 3)
    with pytest.raises(ValueError, match="hidden_size"):
        nn.GRU(3, size)


def test_linear_without_a_weight_is_a_type_error():
    with pytest.raises(TypeError, match="weight"):
        tg.nn.functional.linear(tg.ones(2, 3), None)
