"""The backward engine: iterative, boring, and exact about accumulation.

Two phases, as in micrograd, but without recursion:
  1. Order the graph. An iterative depth-first walk from the roots' grad_fns gives a post-order
     (every Function after all the Functions that produce its inputs); reversed, it is an order in
     which every Function comes after all of its consumers, so its output gradients are complete
     when it runs.
  2. Walk that order. Each Function's output gradients wait in a buffer (summed with `+` when a
     tensor is used twice); its backward turns them into input gradients, which go to the
     producing Function's buffer, or, for a leaf, into `.grad` (or into autograd.grad's answer).

Under create_graph=False the backward rules run with grad mode off, so they cost about what raw
array code costs; under create_graph=True they record a graph: double backward.
"""
from __future__ import annotations

from . import function as _function
from .grad_mode import GRAD


def _topo_order(root_fns):
    """Functions reachable from root_fns, consumers before producers (reverse DFS post-order)."""
    post = []
    visited = set()
    for root in root_fns:
        if root in visited:
            continue
        visited.add(root)
        stack = [(root, iter(root.inputs))]
        while stack:
            fn, it = stack[-1]
            for t in it:
                if t is not None:
                    p = t._grad_fn
                    if p is not None and p not in visited:
                        visited.add(p)
                        stack.append((p, iter(p.inputs)))
                        break
            else:
                stack.pop()
                post.append(fn)
    post.reverse()
    return post


def _needed(order, leaf_targets, node_targets):
    """For autograd.grad: the Functions whose backward leads to a requested input."""
    needed = set()
    for fn in reversed(order):        # producers first
        for t in fn.inputs:
            if t is None:
                continue
            p = t._grad_fn
            if (p is None and id(t) in leaf_targets) or (p is not None and (p in needed or (p, t._out_idx) in node_targets)):
                needed.add(fn)
                break
    return needed


def run_backward(roots, grad_roots, retain_graph=False, create_graph=False, inputs=None,
                 allow_unused=False):
    """Backpropagate from `roots` (Tensors) seeded with `grad_roots`.

    inputs=None: accumulate into `.grad` of every leaf that requires grad (Tensor.backward).
    inputs=[...]: return their gradients instead, touching no `.grad` (autograd.grad).
    """
    Tensor = _function.Tensor
    buffers = {}
    root_fns = []
    leaf_grads = {}                  # id(leaf) -> grad, for roots that are themselves leaves
    user_arrays = set()              # the caller's gradient arrays: a leaf's .grad never aliases them
    for r, g in zip(roots, grad_roots):
        if not r._requires_grad:
            raise RuntimeError(
                f"element of the outputs (shape {tuple(r.shape)}) does not require grad and "
                "does not have a grad_fn")
        if g is None:
            if r._data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; got a tensor of "
                    f"shape {tuple(r.shape)}. Pass gradient= (a tensor of that shape), or reduce "
                    "the output first (e.g. .sum()).")
            g = Tensor._make(_ones_like(r._data), None, 0, False)
        else:
            if not isinstance(g, Tensor):
                g = Tensor._make(_as_array(g, r._data), None, 0, False)
            if tuple(g.shape) != tuple(r.shape):
                raise RuntimeError(
                    f"backward: gradient has shape {tuple(g.shape)} but the output has shape "
                    f"{tuple(r.shape)}; they must match.")
            user_arrays.add(id(g._data))
        fn = r._grad_fn
        if fn is None:               # backward() on a leaf
            leaf_grads[id(r)] = (r, g if id(r) not in leaf_grads else leaf_grads[id(r)][1] + g)
            continue
        buf = buffers.get(fn)
        if buf is None:
            buf = buffers[fn] = [None] * fn._n_out
            root_fns.append(fn)
        i = r._out_idx
        buf[i] = g if buf[i] is None else buf[i] + g

    capture = inputs is not None
    leaf_targets, node_targets, captured = {}, {}, {}
    if capture:
        for k, t in enumerate(inputs):
            if not t._requires_grad:
                raise RuntimeError(f"autograd.grad: input {k} (shape {tuple(t.shape)}) does not "
                                   "require grad")
            if t._grad_fn is None:
                leaf_targets.setdefault(id(t), []).append(k)
            else:
                node_targets.setdefault((t._grad_fn, t._out_idx), []).append(k)

    order = _topo_order(root_fns)
    needed = _needed(order, leaf_targets, node_targets) if capture else None

    prev_mode = GRAD[0]
    GRAD[0] = bool(create_graph)
    assigned = user_arrays
    ran = []
    # a leaf's gradient is summed over all its uses first, then delivered once (hooks see the
    # total, as in PyTorch, where the leaf's AccumulateGrad runs after all its inputs are in)
    leaf_buf = dict(leaf_grads)                  # id(leaf) -> (leaf, summed grad)
    try:
        for fn in order:
            grads = buffers.pop(fn, None)
            if grads is None:
                continue
            if fn._hooks is not None or fn._retain is not None:
                grads = _run_node_hooks(fn, grads)
            if capture:
                for i, g in enumerate(grads):
                    ks = node_targets.get((fn, i))
                    if ks is not None and g is not None:
                        for k in ks:
                            captured[k] = g if k not in captured else captured[k] + g
                if fn not in needed:
                    continue
            if fn._n_out > 1:
                grads = [g if g is not None else _zeros(fn, i) for i, g in enumerate(grads)]
            if fn._saved is _function._FREED:
                fn._check_not_freed()
            gin = fn.backward(*grads)
            if type(gin) is not tuple:
                gin = (gin,)
            if _function.ANOMALY[0]:
                _function._check_finite(type(fn).__name__, "backward", gin)
            if not retain_graph:
                fn._release()
            for t, g in zip(fn.inputs, gin):
                if t is None or g is None:
                    continue
                if create_graph and not g._requires_grad:
                    g = ZeroDerivative.apply(g, t)
                p = t._grad_fn
                if p is None:
                    if capture and id(t) not in leaf_targets:
                        continue
                    if g._data.shape != t._data.shape:
                        raise RuntimeError(
                            f"internal error: {type(fn).__name__} returned a gradient of shape "
                            f"{tuple(g.shape)} for an input of shape {tuple(t.shape)}")
                    prev = leaf_buf.get(id(t))
                    leaf_buf[id(t)] = (t, g if prev is None else prev[1] + g)
                    continue
                buf = buffers.get(p)
                if buf is None:
                    buf = buffers[p] = [None] * p._n_out
                i = t._out_idx
                buf[i] = g if buf[i] is None else buf[i] + g
            if not retain_graph:
                ran.append(fn)
        for t, g in leaf_buf.values():
            _deliver_leaf(t, g, capture, leaf_targets, captured, assigned)
        # keep the edges, drop the arrays: a non-leaf input becomes an _Edge, so activations die
        # after backward even while the output (the loss) is alive. Done last: a saved output is
        # held (weakly by its producer) through its consumers' inputs until the producer has run.
        for fn in ran:
            fn.inputs = [t if t is None or t._grad_fn is None or type(t) is _Edge else _Edge(t)
                         for t in fn.inputs]
    finally:
        GRAD[0] = prev_mode

    if capture:
        result = []
        for k, t in enumerate(inputs):
            g = captured.get(k)
            if g is None and not allow_unused:
                raise RuntimeError(
                    f"autograd.grad: input {k} (shape {tuple(t.shape)}) was not used in the graph "
                    "of the outputs; pass allow_unused=True to get None for it.")
            result.append(g)
        return tuple(result)
    return None


class ZeroDerivative(_function.Function):
    """Under create_graph, a gradient that does not depend on the graph (relu's masked gy, a
    pooling's scattered gy) is tied to the input it is the gradient of, with a zero derivative:
    what PyTorch's `zeros_like(grad)` double-backward formulas give. So every first gradient of an
    input that requires grad can be differentiated again (its second derivative is then 0)."""

    is_view = True

    def forward(self, g, anchor):
        self.shape, self.dtype = anchor.shape, anchor.dtype
        return g

    def backward(self, gg):
        zeros = _function.Tensor._make(self.xp.zeros(self.shape, self.dtype), None, 0, False)
        return gg, zeros


class _Edge:
    """What a non-leaf input of a Function becomes after a backward that freed the graph: where
    its gradient goes (grad_fn, output index), its shape and dtype (for to_dot), not its array."""

    __slots__ = ("_grad_fn", "_out_idx", "_requires_grad", "shape", "_np_dtype")

    def __init__(self, t):
        self._grad_fn, self._out_idx, self._requires_grad = t._grad_fn, t._out_idx, True
        self.shape, self._np_dtype = t._data.shape, t._data.dtype

    @property
    def grad_fn(self):
        return self._grad_fn

    @property
    def dtype(self):
        from ..backend.dtypes import from_np_dtype
        return from_np_dtype(self._np_dtype)


def _deliver_leaf(t, g, capture, leaf_targets, captured, assigned, fn=None):
    if g._data.shape != t._data.shape:
        raise RuntimeError(
            f"internal error: {type(fn).__name__ if fn else 'backward'} returned a gradient of "
            f"shape {tuple(g.shape)} for an input of shape {tuple(t.shape)}")
    if t._hooks:
        for hook in t._hooks:
            new = hook(g)
            if new is not None:
                g = new
    if capture:
        ks = leaf_targets.get(id(t))
        if ks is not None:
            for k in ks:
                captured[k] = g if k not in captured else captured[k] + g
        return
    if t.grad is None:
        # .grad must own writable storage (optimisers and clip_grad_norm_ write into it): copy a
        # gradient array that reached two leaves (a + b), the caller's own array, a view of
        # another array, or a read-only broadcast (the gradient of a sum)
        arr = g._data
        if not GRAD[0] and (id(arr) in assigned or arr.base is not None
                            or not getattr(arr.flags, "writeable", True)):
            g = _function.Tensor._make(arr.copy(), None, 0, False)
        assigned.add(id(g._data))
        t.grad = g
    else:
        t.grad = t.grad + g


def _run_node_hooks(fn, grads):
    grads = list(grads)
    if fn._hooks:
        for i, hooks in fn._hooks.items():
            if grads[i] is None:
                continue
            for hook in hooks:
                new = hook(grads[i])
                if new is not None:
                    grads[i] = new
    if fn._retain:
        for i, ref in fn._retain.items():
            t = ref()
            if t is not None and grads[i] is not None:
                g = grads[i] if GRAD[0] else grads[i].detach()
                t.grad = g if t.grad is None else t.grad + g
    return grads


def _zeros(fn, i):
    shape, dtype = fn._out_meta[i]
    return _function.Tensor._make(fn.xp.zeros(shape, dtype), None, 0, False)


def _ones_like(arr):
    from ..backend import array_module
    return array_module(arr).ones_like(arr)


def _as_array(g, like):
    from ..backend import array_module
    return array_module(like).asarray(g, dtype=like.dtype)
