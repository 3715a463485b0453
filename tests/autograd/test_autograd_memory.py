"""Memory: the graph and its saved arrays are freed after backward (no reference cycles keep them
alive), so thousands of training steps of a small model keep memory flat."""
import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygen as tg
from tinygen.autograd import Function


def _mlp_step(params, x, y, lr=0.01):
    """One SGD step of a 2-layer MLP written with tg ops. x: (B, 4), y: (B, 1)."""
    w1, b1, w2, b2 = params
    h = (x @ w1 + b1).tanh()                     # (B, 16)
    out = h @ w2 + b2                            # (B, 1)
    loss = ((out - y) ** 2).mean()
    loss.backward()
    with tg.no_grad():
        for p in params:
            p.sub_(p.grad * lr)
            p.grad = None
    return loss.item()


def _make_mlp():
    tg.manual_seed(0)
    return [tg.randn(4, 16, requires_grad=True), tg.zeros(16, requires_grad=True),
            tg.randn(16, 1, requires_grad=True), tg.zeros(1, requires_grad=True)]


def _live_graph_objects():
    gc.collect()
    counts = {"Tensor": 0, "Function": 0}
    for o in gc.get_objects():
        kind = type(o)                        # type(), not isinstance: no __class__ lookups
        if kind is tg.Tensor:
            counts["Tensor"] += 1
        elif issubclass(kind, Function):
            counts["Function"] += 1
    return counts


def test_memory_flat_over_3000_steps():
    params = _make_mlp()
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((8, 4)).astype(np.float32))
    y = tg.tensor(rng.standard_normal((8, 1)).astype(np.float32))
    first_loss = _mlp_step(params, x, y)
    for _ in range(100):                          # warm up caches (dispatch tables, etc.)
        _mlp_step(params, x, y)
    counts = _live_graph_objects()
    for _ in range(2400):                          # no objects of the graph pile up
        _mlp_step(params, x, y)
    assert _live_graph_objects() == counts
    gc.collect()
    tracemalloc.start()                           # and no bytes either (tracemalloc is slow:
    try:                                          # a shorter window)
        for _ in range(100):
            _mlp_step(params, x, y)
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(400):
            last_loss = _mlp_step(params, x, y)
        gc.collect()
        end = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # 400 steps allocate and free ~1.5 MB of arrays and graph nodes; what stays must be tiny
    assert end - start < 16 * 1024, f"memory grew by {end - start} bytes over 400 steps"
    assert last_loss < first_loss                 # and it trained


def test_no_garbage_cycles_after_backward():
    """Freed by reference counting alone: the collector finds no cycles of graph objects."""
    params = _make_mlp()
    x, y = tg.randn(8, 4), tg.randn(8, 1)
    _mlp_step(params, x, y)
    gc.collect()
    gc.disable()
    try:
        gc.set_debug(0)
        for _ in range(20):
            _mlp_step(params, x, y)
        found = gc.collect()
    finally:
        gc.enable()
    assert found == 0, f"{found} objects were only freed by the cycle collector"


def test_graph_is_freed_when_output_dies():
    x = tg.randn(3, 3, requires_grad=True)
    y = (x.exp() * x).sum()
    fn_ref = weakref.ref(y.grad_fn)
    del y
    assert fn_ref() is None                       # no cycle output -> grad_fn -> output


def test_saved_arrays_are_freed_after_backward():
    x = tg.randn(64, 64, dtype=tg.float64, requires_grad=True)
    h = x.exp()                                   # Exp saves its output
    y = (h.sin() * 2).sum()                       # Sin saves h (an input)
    sin_fn = y.grad_fn
    while type(sin_fn).__name__ != "Sin":
        sin_fn = next(f for f, _ in sin_fn.next_functions if f is not None)
    h_ref = weakref.ref(h)
    del h
    assert h_ref() is not None                    # the graph holds h for backward
    y.backward()
    assert h_ref() is None                        # backward released it
    assert x.grad is not None


def test_intermediate_arrays_freed_after_backward():
    """Count live NumPy arrays of a distinctive size before and after."""
    n = 37 * 41

    def live():
        gc.collect()
        return sum(1 for o in gc.get_objects() if type(o) is tg.Tensor and o.numel() == n)

    x = tg.randn(37, 41, dtype=tg.float64, requires_grad=True)
    base = live()
    loss = (x.tanh() * x.sigmoid()).exp().sum()
    loss.backward()
    del loss
    assert live() <= base + 1                     # x.grad only


def test_retain_graph_keeps_saved_then_frees():
    x = tg.randn(5, requires_grad=True)
    h = x.exp()
    y = (h * h).sum()
    h_ref = weakref.ref(h)
    del h
    y.backward(retain_graph=True)
    assert h_ref() is not None
    y.backward()
    del y
    gc.collect()
    assert h_ref() is None


def test_arrays_kept_as_attributes_are_freed_after_backward():
    """Masks and weights a Function keeps as attributes (ReLU's mask, maximum's weights) go
    with the backward too; a second backward through such a node is the clear error."""
    x = tg.randn(50, requires_grad=True)
    y = tg.maximum(x.relu(), x * 0.5)
    loss = y.sum()
    relu_fn = y.grad_fn.next_functions[0][0]
    assert any(type(v) is np.ndarray for v in vars(relu_fn).values())
    loss.backward()
    assert not any(type(v) is np.ndarray for v in vars(relu_fn).values())
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_graph_without_saved_values_can_backward_twice():
    x = tg.randn(3, requires_grad=True)
    loss = (x + 1.0).sum()                        # as in PyTorch: nothing saved, nothing freed
    loss.backward()
    loss.backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
