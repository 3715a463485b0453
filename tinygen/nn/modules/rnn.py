"""Recurrent layers: RNN (tanh / relu), GRU, LSTM and their single-step cells, as PyTorch.

    lstm = nn.LSTM(input_size=32, hidden_size=64, num_layers=2, batch_first=True)
    out, (h_n, c_n) = lstm(x)       # x (N, L, 32) -> out (N, L, 64), h_n and c_n (2, N, 64)

Parameters per layer k (suffix `_reverse` for the backward direction when bidirectional):
weight_ih_l{k} (G*H, in), weight_hh_l{k} (G*H, H), bias_ih_l{k} (G*H,), bias_hh_l{k} (G*H,),
with G = 1 (RNN), 3 (GRU: gates r, z, n) or 4 (LSTM: gates i, f, g, o), stacked in that order.
All are initialised U(-1/sqrt(H), 1/sqrt(H)). An LSTM with proj_size P > 0 also has
weight_hr_l{k} (P, H): its hidden state is h = W_hr (o * tanh(c)), P wide (weight_hh (4H, P)).

The input projection of every time step is one matrix product before the time loop; the loop
does only the hidden-to-hidden product and the gate arithmetic. A PackedSequence input
(nn.utils.rnn) runs padded, each sequence's state frozen past its length (both directions:
the backward one starts at each sequence's own last step), and comes back packed.
"""
from __future__ import annotations

import math
import numbers

from .. import functional as F
from .. import init
from ...autograd import function as _fn
from ...creation import empty, zeros
from ...ops.binary import where
from ...ops.shape import cat, stack
from ..utils.rnn import PackedSequence, pack_like, pad_packed_sequence
from .module import Module
from .parameter import Parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


def _gates(t, n):
    """t (N, n*H) split into its n gates (N, H). Not chunk: chunk of an empty dim gives one piece
    (tinygen's ops/shape.py; PyTorch gives n), and hidden_size 0 is a valid cell."""
    size = t.shape[-1] // n
    return [t.narrow(-1, k * size, size) for k in range(n)]


# ---- one time step of each cell (gx: the input projection x W_ih^T + b_ih, precomputed) ---------
def _rnn_step(gx, h, w_hh, b_hh, relu):
    pre = gx + F.linear(h, w_hh, b_hh)                               # (N, H)
    return pre.relu() if relu else pre.tanh()


def _gru_step(gx, h, w_hh, b_hh):
    gh = F.linear(h, w_hh, b_hh)                                     # (N, 3H)
    x_r, x_z, x_n = _gates(gx, 3)
    h_r, h_z, h_n = _gates(gh, 3)
    r = (x_r + h_r).sigmoid()                                        # reset gate
    z = (x_z + h_z).sigmoid()                                        # update gate
    n = (x_n + r * h_n).tanh()                                       # candidate state
    return (1 - z) * n + z * h


def _lstm_step(gx, h, c, w_hh, b_hh, w_hr=None):
    gates = gx + F.linear(h, w_hh, b_hh)                             # (N, 4H)
    i, f, g, o = _gates(gates, 4)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    return (h if w_hr is None else F.linear(h, w_hr)), c             # (N, H or P), (N, H)


class RNNBase(Module):
    """Shared constructor, parameters and layer/direction loop of RNN, GRU and LSTM."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        for name, size in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(size, int) or size <= 0:
                raise ValueError(f"{type(self).__name__}: {name} must be a positive int, got "
                                 f"{size!r}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"{type(self).__name__}: num_layers must be a positive int, got "
                             f"{num_layers!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or \
                not 0 <= dropout <= 1:                   # a bool is refused, as PyTorch
            raise ValueError(f"{type(self).__name__}: dropout should be a number in range [0, 1] "
                             "representing the probability of an element being zeroed, got "
                             f"{dropout!r}")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if not isinstance(proj_size, int) or proj_size < 0 or proj_size and \
                proj_size >= hidden_size:
            raise ValueError(f"{type(self).__name__}: proj_size should be a non-negative int "
                             f"smaller than hidden_size ({hidden_size}), got {proj_size!r}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate_size = _GATES[mode] * hidden_size
        out_size = proj_size or hidden_size                           # h's width
        num_directions = 2 if bidirectional else 1
        kw = {"device": device, "dtype": dtype}
        self._flat_weights_names = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else out_size * num_directions
                names = self._layer_names(layer, direction)
                shapes = [(gate_size, layer_input), (gate_size, out_size)]
                if bias:
                    shapes += [(gate_size,), (gate_size,)]
                if proj_size:
                    shapes.append((proj_size, hidden_size))
                for name, shape in zip(names, shapes):
                    setattr(self, name, Parameter(empty(*shape, **kw)))
                self._flat_weights_names.extend(names)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def flatten_parameters(self):
        """PyTorch packs the weights into one cuDNN buffer here; tinygen's weights are already
        what every step uses, so there is nothing to do (kept so PyTorch scripts run)."""

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in self._layer_names(layer, d)]
                for layer in range(self.num_layers) for d in range(self._num_directions)]

    @property
    def _num_directions(self):
        return 2 if self.bidirectional else 1

    def _layer_names(self, layer, direction):
        """PyTorch's order: weight_ih, weight_hh, bias_ih, bias_hh, weight_hr."""
        suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        names = ["weight_ih" + suffix, "weight_hh" + suffix]
        if self.bias:
            names += ["bias_ih" + suffix, "bias_hh" + suffix]
        if self.proj_size:
            names.append("weight_hr" + suffix)
        return names

    def _weights(self, layer, direction):
        suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        return [getattr(self, name + suffix, None)       # w_ih, w_hh, b_ih, b_hh, w_hr
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")]

    def _run_direction(self, x, state, layer, direction, running=None):
        """x (L, N, in); state h (N, H) or (h, c). Returns outputs (L, N, H) and the last state.
        running: per step an (N, 1) mask of the sequences still running (a PackedSequence's);
        the others keep their state."""
        w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, direction)
        gx = F.linear(x, w_ih, b_ih)                                   # (L, N, G*H)
        steps = range(x.shape[0] - 1, -1, -1) if direction == 1 else range(x.shape[0])
        outputs = [None] * x.shape[0]
        lstm = self.mode == "LSTM"
        for t in steps:
            if lstm:
                new = _lstm_step(gx[t], state[0], state[1], w_hh, b_hh, w_hr)
            elif self.mode == "GRU":
                new = _gru_step(gx[t], state, w_hh, b_hh)
            else:
                new = _rnn_step(gx[t], state, w_hh, b_hh, self.mode == "RNN_RELU")
            if running is not None:
                new = tuple(where(running[t], a, b) for a, b in zip(new, state)) if lstm else \
                    where(running[t], new, state)
            state = new
            outputs[t] = state[0] if lstm else state
        return stack(outputs), state

    def _check_input(self, input):
        name = type(self).__name__
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: expected input to be 2-D (unbatched) or 3-D, got shape "
                             f"{tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input.size(-1) must be equal to input_size. Expected "
                             f"{self.input_size}, got {input.shape[-1]} (input shape "
                             f"{tuple(input.shape)})")
        seq_dim = 1 if input.ndim == 3 and self.batch_first else 0
        if input.shape[seq_dim] == 0:               # PyTorch refuses it too: no h_n to return
            raise RuntimeError(f"{name}: expected sequence length to be larger than 0, got input "
                               f"of shape {tuple(input.shape)} (batch_first={self.batch_first})")

    def _check_hidden_dims(self, hx, batched):
        """hx's dims as given (before an unbatched hx is unsqueezed): 3-D for a batched input,
        2-D for an unbatched one, as PyTorch checks them."""
        states = hx if self.mode == "LSTM" else (hx,)
        want = 3 if batched else 2
        if any(h.ndim != want for h in states):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            what = "hx and cx" if self.mode == "LSTM" else "hx"
            given = " and ".join(f"{label} of shape {tuple(h.shape)}"
                                 for label, h in zip(("hx", "cx"), states))
            raise RuntimeError(f"{type(self).__name__}: for {kind} input, {what} should also be "
                               f"{want}-D, got {given}")

    def _check_hidden(self, h, expected, what):
        if tuple(h.shape) != tuple(expected):
            raise ValueError(f"{type(self).__name__}: expected {what} size {tuple(expected)}, "
                             f"got {tuple(h.shape)}")

    def forward(self, input, hx=None):
        """input (L, N, in), or (N, L, in) with batch_first, or unbatched (L, in), or a
        PackedSequence. hx: h_0 (num_layers * num_directions, N, H), for LSTM the pair (h_0,
        c_0) (h_0's last dim proj_size when set); zeros if None. Returns output (L, N, D*H)
        (batch_first: (N, L, D*H); a PackedSequence for one) and h_n (or (h_n, c_n))."""
        packed = input if isinstance(input, PackedSequence) else None
        running = None
        if packed is not None:                     # padded, in the batch's original order
            x, lengths = pad_packed_sequence(packed)
            self._check_input(x)
            batched = True
            steps = x.device.xp.arange(x.shape[0]).reshape(-1, 1, 1)
            running = _fn.wrap(steps < x.device.xp.asarray(lengths.numpy()).reshape(1, -1, 1))
        else:
            self._check_input(input)
            batched = input.ndim == 3
            x = input.unsqueeze(1) if not batched else \
                input.transpose(0, 1) if self.batch_first else input       # (L, N, in)
        hx = self._initial_state(hx, x, batched)
        is_lstm, num_directions = self.mode == "LSTM", self._num_directions
        last_h, last_c = [], []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(num_directions):
                k = layer * num_directions + direction
                state = (hx[0][k], hx[1][k]) if is_lstm else hx[k]
                out, state = self._run_direction(x, state, layer, direction, running)
                outs.append(out)
                last_h.append(state[0] if is_lstm else state)
                if is_lstm:
                    last_c.append(state[1])
            x = outs[0] if num_directions == 1 else cat(outs, dim=-1)    # (L, N, D*H)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        h_n = stack(last_h)                                             # (layers*D, N, H)
        c_n = stack(last_c) if is_lstm else None
        if packed is not None:
            x = pack_like(x, packed)
        elif not batched:
            x, h_n = x.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if is_lstm else None
        elif self.batch_first:
            x = x.transpose(0, 1)                                       # (N, L, D*H)
        return (x, (h_n, c_n)) if is_lstm else (x, h_n)

    def _initial_state(self, hx, x, batched):
        """hx checked (zeros where None): (layers*D, N, H), or LSTM's (h_0, c_0)."""
        n = x.shape[1]
        layers = self.num_layers * self._num_directions
        h_shape = (layers, n, self.proj_size or self.hidden_size)
        c_shape = (layers, n, self.hidden_size)
        is_lstm = self.mode == "LSTM"
        if hx is None:
            h0 = zeros(*h_shape, dtype=x.dtype, device=x.device)
            return (h0, zeros(*c_shape, dtype=x.dtype, device=x.device)) if is_lstm else h0
        if is_lstm and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError("LSTM: hx must be a tuple (h_0, c_0)")
        self._check_hidden_dims(hx, batched)
        if not batched:
            hx = tuple(h.unsqueeze(1) for h in hx) if is_lstm else hx.unsqueeze(1)
        if is_lstm:
            self._check_hidden(hx[0], h_shape, "hidden[0]")
            self._check_hidden(hx[1], c_shape, "hidden[1]")
        else:
            self._check_hidden(hx, h_shape, "hidden")
        return hx

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:                          # second, as PyTorch prints it
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        # (no nonlinearity: PyTorch's RNN repr omits it, unlike RNNCell's)
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r} (expected 'tanh' or "
                             "'relu')")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit (Cho et al. 2014), gates r, z, n as PyTorch:
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)


class LSTM(RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), gates i, f, g, o:
    c' = f * c + i * g,  h' = o * tanh(c'). Returns output, (h_n, c_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device=device, dtype=dtype)


class RNNCellBase(Module):
    """The base of RNNCell, GRUCell and LSTMCell (PyTorch's): weight_ih (G*H, in), weight_hh
    (G*H, H), bias_ih and bias_hh (G*H,), G = num_chunks, initialised U(-1/sqrt(H), 1/sqrt(H));
    and the checks of the input (1D or 2D, input_size wide) and hidden-state shapes its
    subclasses run. Differs from PyTorch: PyTorch's base holds no checks (each cell's forward
    has them); the messages are the same."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        gates = num_chunks
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        kw = {"device": device, "dtype": dtype}
        self.weight_ih = Parameter(empty(gates * hidden_size, input_size, **kw))
        self.weight_hh = Parameter(empty(gates * hidden_size, hidden_size, **kw))
        if bias:
            self.bias_ih = Parameter(empty(gates * hidden_size, **kw))
            self.bias_hh = Parameter(empty(gates * hidden_size, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0   # as PyTorch
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def _prepare(self, input, hx):
        """input (N, in) or unbatched (in,) -> (N, in), checked as PyTorch checks it."""
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead "
                             f"(input of shape {tuple(input.shape)})")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input has inconsistent input_size: got "
                               f"{input.shape[-1]} expected {self.input_size} (input of shape "
                               f"{tuple(input.shape)})")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        return x, batched

    def _hidden(self, input, h, label):
        """h checked against input as PyTorch does (dims, batch size, hidden size) -> (N, H).
        label: 0 for h, 1 for LSTMCell's c (PyTorch's 'hidden0', 'hidden1')."""
        name = type(self).__name__
        if h.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected hidden{label} to be 1D or 2D, got {h.ndim}D "
                             f"instead (hidden{label} of shape {tuple(h.shape)})")
        batched = input.ndim == 2
        if batched and h.ndim == 2 and h.shape[0] != input.shape[0]:
            raise RuntimeError(f"{name}: Input batch size {input.shape[0]} doesn't match "
                               f"hidden{label} batch size {h.shape[0]}")
        if h.ndim != input.ndim:                     # PyTorch would broadcast or misreport
            want = f"({input.shape[0]}, {self.hidden_size})" if batched else \
                f"({self.hidden_size},)"
            raise RuntimeError(f"{name}: hidden{label} of shape {tuple(h.shape)} doesn't match "
                               f"the {'batched' if batched else 'unbatched'} input of shape "
                               f"{tuple(input.shape)}: expected shape {want}")
        if h.shape[-1] != self.hidden_size:
            raise RuntimeError(f"{name}: hidden{label} has inconsistent hidden_size: got "
                               f"{h.shape[-1]}, expected {self.hidden_size}")
        return h if batched else h.unsqueeze(0)

    def _zeros(self, x):
        return zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"              # unquoted, as PyTorch
        return s


class RNNCell(RNNCellBase):
    """One step of RNN: (N, in), (N, H) -> (N, H). An unknown nonlinearity is refused when the
    cell runs (RuntimeError "Unknown nonlinearity: ..."), not when it is built, as PyTorch."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, batched = self._prepare(input, hx)
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"RNNCell: Unknown nonlinearity: {self.nonlinearity} (expected "
                               "'tanh' or 'relu')")
        h = self._zeros(x) if hx is None else self._hidden(input, hx, 0)
        h = _rnn_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh,
                      self.nonlinearity == "relu")
        return h if batched else h.squeeze(0)


class GRUCell(RNNCellBase):
    """One step of GRU: (N, in), (N, H) -> (N, H)."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, batched = self._prepare(input, hx)
        h = self._zeros(x) if hx is None else self._hidden(input, hx, 0)
        h = _gru_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One step of LSTM: (N, in), ((N, H), (N, H)) -> (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        x, batched = self._prepare(input, hx)
        if hx is None:
            h, c = self._zeros(x), self._zeros(x)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ValueError(f"LSTMCell: hx must be a tuple (h, c), got "
                                 f"{type(hx).__name__}")
            h, c = self._hidden(input, hx[0], 0), self._hidden(input, hx[1], 1)
        h, c = _lstm_step(F.linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh,
                          self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))
