"""linear_cross_entropy's chunked path: cross_entropy(x @ W^T + b, t) over chunks of rows, never
holding the (N, C) logits (the functional, its options and its reference path: tinygen/nn/
linear_cross_entropy.py).

  LinearCrossEntropyChunked       the loss ('mean' | 'sum' | 'none') from x (N, in), W (C, in),
                                  b (C,) or None and class indices t (N,); for 'mean' and 'sum'
                                  the gradients too, in the same pass (as PyTorch's custom op)
  LinearCrossEntropyChunkedGrad   the gradients of the 'none' loss for a given gloss (N,),
                                  recomputed chunk by chunk (LinearCrossEntropyChunked's backward)

Per chunk of B rows, one (B, C) buffer: the logits z = x W^T + b, shifted by their row max, then
exp'd in place, then turned in place into G = a * (softmax(z) - onehot(t)) (a: each row's
coefficient: its class weight, / the weights' sum for 'mean', * gloss for 'none'), from which
    gx[rows] = G W,    gW += G^T x[rows],    gb += sum over rows of G.
Peak memory: that buffer, one (C, in) product per chunk (NumPy has no accumulating product,
as torch's addmm_) and the gradients themselves, instead of the reference's (N, C) logits and
their (N, C) gradient: 133 -> 9.6 MiB for N=2048, in=128, C=8192 in float32 in chunks of 16
rows, 17 MiB in the CPU's default chunks of 256 (tracemalloc, forward and backward). Rows are
the only chunked dimension, as PyTorch's options allow (batch_chunk_size); the classes stay
whole. It is one autograd Function (with a second for the
'none' backward), not a composition of ops: a composition would keep each chunk's logits for
its backward, all N rows of them in the end.
"""
from __future__ import annotations

from ..autograd.function import Function, on_arrays, wrap, wrap_grad
from ..autograd.grad_mode import GRAD
from .linalg import _mm
from .loss import _check_targets

OP = "linear_cross_entropy"


def _chunk(xp, x, w, b, t, coef):
    """One chunk: x (B, in), w (C, in), b (C,) or None, t (B,) class indices (ignored rows
    already 0), coef (B,) or None. Returns nll (B,) = -log softmax(z)[t] and, where coef is
    given, G (B, C) = coef * (softmax(z) - onehot(t)), written over the logits' buffer."""
    z = _mm(x, w.T)                                  # (B, C) logits
    if b is not None:
        z += b
    z -= z.max(axis=1, keepdims=True)                # shift by the row max: exp never overflows
    rows = xp.arange(t.shape[0])
    picked = z[rows, t]                              # (B,) shifted logit of the target
    xp.exp(z, out=z)                                 # (B, C) exp(z - max)
    total = z.sum(axis=1)                            # (B,) softmax's denominator
    nll = xp.log(total) - picked                     # (B,) logsumexp(z) - z[t]
    if coef is None:
        return nll, None
    z *= (coef / total)[:, None]                     # coef * softmax(z)
    z[rows, t] -= coef                               # coef * (softmax(z) - onehot(t))
    return nll, z


def _targets(xp, t, class_weight, ignore_index, C, acc, shape):
    """Targets checked (IndexError naming the first out of [0, C), as cross_entropy), then
    (t with ignored rows at class 0, each row's class weight: 0 where ignored)."""
    _check_targets(OP, t, C, ignore_index, shape)
    valid = t != ignore_index
    safe = xp.where(valid, t, 0)                                       # (N,) ignored -> class 0
    if class_weight is None:
        return safe, valid.astype(acc)
    return safe, xp.where(valid, class_weight.astype(acc)[safe], 0)   # (N,) w[t], 0 if ignored


def _grad_buffers(xp, x, w, b, acc, needs):
    """The gradients of x, W, b where `needs` says so (else None): gx uninitialised, in x's
    dtype (each chunk writes its rows once); gW and gb zeroed, in the accumulation dtype (each
    chunk adds to them)."""
    gx = xp.empty(x.shape, dtype=x.dtype) if needs[0] else None
    gw = xp.zeros(w.shape, dtype=acc) if needs[1] else None
    gb = xp.zeros(b.shape, dtype=acc) if needs[2] and b is not None else None
    return gx, gw, gb


def _run(xp, x, w, b, safe, weights, coef, chunk, acc, grads, per_row=False):
    """The chunked loop. Returns (sum over rows of weights * nll, the (N,) per-row losses where
    per_row, else None); with coef (N,), adds each chunk's gradients into grads = (gx, gW, gb)
    (entries None: not wanted). x and W are cast to the accumulation dtype acc once, here."""
    x_acc, w_acc = x.astype(acc, copy=False), w.astype(acc, copy=False)
    b_acc = None if b is None else b.astype(acc, copy=False)
    gx, gw, gb = grads
    total = acc.type(0)
    per_row = xp.empty(x.shape[0], dtype=acc) if per_row else None
    for start in range(0, x.shape[0], chunk):
        rows = slice(start, start + chunk)
        nll, G = _chunk(xp, x_acc[rows], w_acc, b_acc, safe[rows],
                        None if coef is None else coef[rows])
        loss = xp.where(weights[rows] != 0, weights[rows] * nll, 0)   # ignored rows: exactly 0
        total += loss.sum()
        if per_row is not None:
            per_row[rows] = loss
        if G is None:
            continue
        if gx is not None:
            gx[rows] = _mm(G, w_acc)                                  # (B, in)
        if gw is not None:
            gw += _mm(G.T, x_acc[rows])                               # (C, in)
        if gb is not None:
            gb += G.sum(axis=0)                                       # (C,)
        del G                         # the buffer goes before the next chunk's is made
    return total, per_row


class LinearCrossEntropyChunked(Function):
    """cross_entropy(x W^T + b, t, weight=class_weight, ignore_index, reduction) chunk by chunk
    over the rows of x (N, in), never holding the (N, C) logits.

    'mean' and 'sum' (PyTorch's scalar op): the gradients of x, W and b asked for in `needs`
    are computed in forward, in the same pass as the loss, and backward scales them by the
    incoming gradient. Unless allow_retain_graph, backward consumes them (in place): a second
    backward, even with retain_graph=True, raises, as PyTorch's. 'none': forward computes the
    loss alone and saves x, W, b; backward recomputes the chunks (LinearCrossEntropyChunkedGrad),
    so retain_graph works. No double backward (PyTorch's chunked op has none either): under
    create_graph=True backward raises, naming the op. 'mean' with every target ignored (or no
    rows): NaN, gradients 0, as the reference path (PyTorch's chunked op gives NaN gradients).
    """

    def forward(self, x, w, b, t, class_weight, reduction, ignore_index, chunk, acc, needs,
                allow_retain_graph=False):
        xp, dtype = self.xp, x.dtype
        self.reduction, self.chunk, self.acc = reduction, chunk, acc
        self.allow_retain_graph = allow_retain_graph
        safe, weights = _targets(xp, t, class_weight, ignore_index, w.shape[0], acc,
                                 (x.shape[0], w.shape[0]))
        if reduction == "none":
            self.safe, self.weights = safe, weights
            self.save_for_backward(x, w, b)
            _, per_row = _run(xp, x, w, b, safe, weights, None, chunk, acc, (None,) * 3,
                              per_row=True)
            return per_row.astype(dtype, copy=False)
        count = weights.sum()                              # the mean's denominator
        scale = 1
        if reduction == "mean":                            # every target ignored: gradients 0
            scale = 1 / count if count else 0
        grads = _grad_buffers(xp, x, w, b, acc, needs)
        coef = weights * acc.type(scale) if any(g is not None for g in grads) else None
        total, _ = _run(xp, x, w, b, safe, weights, coef, chunk, acc, grads)
        self.grad_input, self.grad_weight, self.grad_bias = (
            None if g is None else g.astype(dtype, copy=False) for g in grads)
        if reduction == "mean":
            total = total * acc.type(scale) if count else acc.type("nan")
        return xp.asarray(total, dtype=dtype)

    def backward(self, gy):
        if GRAD.enabled:
            raise RuntimeError(f"{OP}: the chunked path (options given) has no double backward "
                               "(create_graph=True), as PyTorch's; use options=None, the "
                               "reference path, for higher-order gradients")
        if self.reduction == "none":
            x, w, b = self.saved_tensors
            needs = (self.needs_input_grad[0], self.needs_input_grad[1],
                     b is not None and self.needs_input_grad[2])
            grads = iter(LinearCrossEntropyChunkedGrad.apply(
                gy, x, w, b, self.safe, self.weights, self.chunk, self.acc, needs))
            return tuple(next(grads) if need else None for need in needs) + (None, None)
        stored = (self.grad_input, self.grad_weight, self.grad_bias)
        if not self.allow_retain_graph:
            if getattr(self, "consumed", False):
                raise RuntimeError(f"{OP} chunked backward called twice; retain_graph=True / "
                                   "double backward are not supported (pass "
                                   "LinearCrossEntropyOptions(allow_retain_graph=True))")
            self.consumed = True
            self.grad_input = self.grad_weight = self.grad_bias = None
        return tuple(None if g is None else self._scaled(g, gy) for g in stored) + (None, None)

    def _scaled(self, g, gy):
        """gy * g: in place where the gradients are consumed (no copy of a (C, in) array)."""
        if not on_arrays():                       # a captured step: recorded as an op
            return gy * wrap(g)
        if self.allow_retain_graph:
            return wrap_grad(g * gy._data)
        g *= gy._data
        return wrap_grad(g)


class LinearCrossEntropyChunkedGrad(Function):
    """The gradients of LinearCrossEntropyChunked's 'none' loss, given gloss (N,): the chunks
    recomputed with each row's coefficient gloss * w[t]. Returns those of (gx, gW, gb) that
    `needs` asks for, in that order. No backward (no double backward on the chunked path)."""

    def forward(self, gloss, x, w, b, safe, weights, chunk, acc, needs):
        grads = _grad_buffers(self.xp, x, w, b, acc, needs)
        coef = weights * gloss.astype(acc, copy=False)
        _run(self.xp, x, w, b, safe, weights, coef, chunk, acc, grads)
        return tuple(g.astype(x.dtype, copy=False) for g in grads if g is not None)
