"""torch.rnn_tanh_cell, rnn_relu_cell, lstm_cell, gru_cell: one time step of the recurrent
cells as functions of their weights, in ATen's argument order (input, hidden, w_ih, w_hh, b_ih,
b_hh), written with Tensor ops, so every gradient (and second derivative) comes from theirs.

    h = tg.rnn_tanh_cell(x, h, w_ih, w_hh, b_ih, b_hh)     x (B, I), h (B, H), w_ih (H, I)
    h, c = tg.lstm_cell(x, (h, c), w_ih, w_hh)            w_ih (4H, I), gates i, f, g, o
    h = tg.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)         w_ih (3H, I), gates r, z, n

The gates stack in PyTorch's order, so nn.LSTMCell's weight_ih etc. plug in as they are. Either
bias may be None (that term is left out), as in PyTorch.

Where tinygen differs: an input or hidden state that is not 2-D raises a RuntimeError naming
the shapes (PyTorch raises IndexError from reading dim 1), and the weights' gate dims are
checked up front (PyTorch's matmul or chunk fails later, or not at all).
"""
from __future__ import annotations

from .ops.activation import relu
from .ops.elementwise import sigmoid, tanh
from .tensor import Tensor


def _check_tensor(op, name, value, optional=False):
    if value is None and optional:
        return
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(value).__name__}")


def _check_cell(op, input, hx, w_ih, w_hh, b_ih, b_hh, gates):
    """PyTorch's checks of a cell's arguments, with the shapes in the message; hx one state."""
    for name, value in (("input", input), ("hx", hx), ("w_ih", w_ih), ("w_hh", w_hh)):
        _check_tensor(op, name, value)
    _check_tensor(op, "b_ih", b_ih, optional=True)
    _check_tensor(op, "b_hh", b_hh, optional=True)
    if input.ndim != 2 or hx.ndim != 2:
        raise RuntimeError(f"{op}: expected input (batch, input_size) and hidden state (batch, "
                           f"hidden_size), got shapes {tuple(input.shape)} and "
                           f"{tuple(hx.shape)}")
    hidden = w_hh.shape[1] if w_hh.ndim == 2 else -1
    if (w_ih.ndim != 2 or w_hh.ndim != 2 or w_ih.shape[0] != gates * hidden
            or w_hh.shape[0] != gates * hidden):
        raise RuntimeError(f"{op}: expected w_ih ({gates} * hidden_size, input_size) and w_hh "
                           f"({gates} * hidden_size, hidden_size), got shapes "
                           f"{tuple(w_ih.shape)} and {tuple(w_hh.shape)}")
    if input.shape[1] != w_ih.shape[1]:
        raise RuntimeError(f"{op}: input has inconsistent input_size: got {input.shape[1]} "
                           f"expected {w_ih.shape[1]} (input {tuple(input.shape)}, w_ih "
                           f"{tuple(w_ih.shape)})")
    if tuple(hx.shape) != (input.shape[0], hidden):
        raise RuntimeError(f"{op}: expected hidden state of shape ({input.shape[0]}, {hidden}) "
                           f"(batch, hidden_size), got {tuple(hx.shape)}")
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None and tuple(b.shape) != (gates * hidden,):
            raise RuntimeError(f"{op}: expected {name} of shape ({gates * hidden},), got "
                               f"{tuple(b.shape)}")
    dtypes = {t.dtype for t in (input, hx, w_ih, w_hh, b_ih, b_hh) if t is not None}
    if len(dtypes) > 1:
        raise RuntimeError(f"{op}: expected input, hidden state, weights and biases of one "
                           f"dtype, got {sorted(str(d) for d in dtypes)}")


def _linear(x, weight, bias):
    y = x.matmul(weight.t())                                              # (B, gates * H)
    return y if bias is None else y + bias


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = tanh(x w_ih^T + b_ih + h w_hh^T + b_hh): input (B, I), hx (B, H) -> (B, H)."""
    _check_cell("rnn_tanh_cell", input, hx, w_ih, w_hh, b_ih, b_hh, 1)
    return tanh(_linear(input, w_ih, b_ih) + _linear(hx, w_hh, b_hh))


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = relu(x w_ih^T + b_ih + h w_hh^T + b_hh): input (B, I), hx (B, H) -> (B, H)."""
    _check_cell("rnn_relu_cell", input, hx, w_ih, w_hh, b_ih, b_hh, 1)
    return relu(_linear(input, w_ih, b_ih) + _linear(hx, w_hh, b_hh))


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """(h', c') of an LSTM step (Hochreiter & Schmidhuber 1997, with the forget gate):
        i, f, g, o = split(x w_ih^T + b_ih + h w_hh^T + b_hh, 4)      each (B, H)
        c' = sigmoid(f) c + sigmoid(i) tanh(g),   h' = sigmoid(o) tanh(c')
    hx: the pair (h, c), each (B, H); w_ih (4H, I), w_hh (4H, H)."""
    op = "lstm_cell"
    if not isinstance(hx, (tuple, list)):
        raise TypeError(f"{op}(): argument 'hx' (position 2) must be tuple of Tensors, not "
                        f"{type(hx).__name__}")
    if len(hx) != 2:
        raise RuntimeError(f"{op}: lstm_cell expects two hidden states (h, c), got {len(hx)}")
    h, c = hx
    _check_cell(op, input, h, w_ih, w_hh, b_ih, b_hh, 4)
    _check_cell(op, input, c, w_ih, w_hh, b_ih, b_hh, 4)
    gates = _linear(input, w_ih, b_ih) + _linear(h, w_hh, b_hh)           # (B, 4H)
    i, f, g, o = gates.chunk(4, 1)
    c_next = sigmoid(f) * c + sigmoid(i) * tanh(g)
    return sigmoid(o) * tanh(c_next), c_next


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' of a GRU step (Cho et al. 2014), PyTorch's variant (r applied after w_hh):
        r = sigmoid(x_r + h_r),  z = sigmoid(x_z + h_z),  n = tanh(x_n + r h_n)
        h' = (1 - z) n + z h
    where x_* = split(x w_ih^T + b_ih, 3), h_* = split(h w_hh^T + b_hh, 3), each (B, H)."""
    _check_cell("gru_cell", input, hx, w_ih, w_hh, b_ih, b_hh, 3)
    x_r, x_z, x_n = _linear(input, w_ih, b_ih).chunk(3, 1)
    h_r, h_z, h_n = _linear(hx, w_hh, b_hh).chunk(3, 1)
    r = sigmoid(x_r + h_r)
    z = sigmoid(x_z + h_z)
    n = tanh(x_n + r * h_n)
    return n + z * (hx - n)
