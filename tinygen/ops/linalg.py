"""Matrix products: matmul (batched, broadcasting), linear (x @ W^T + b in one node), einsum."""
from __future__ import annotations

from ..autograd.function import Function
from .shape import unbroadcast


def _mT(t):
    nd = t.ndim
    return t.transpose(nd - 2, nd - 1)


class MatMul(Function):
    """a @ b for a.ndim >= 2 and b.ndim >= 2 (1-D operands are handled by tg.matmul)."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, gy):
        a, b = self.saved_tensors
        i = self.inputs
        ga = unbroadcast(gy @ _mT(b), a._data.shape) if i[0] is not None else None
        gb = unbroadcast(_mT(a) @ gy, b._data.shape) if i[1] is not None else None
        return ga, gb


class Linear(Function):
    """y = x @ W^T + b for x (..., in), W (out, in), b (out,) or None."""

    def forward(self, x, w, b):
        self.save_for_backward(x, w)
        y = x @ w.T
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        x, w = self.saved_tensors
        i = self.inputs
        gx = gy @ w if i[0] is not None else None
        gw = gb = None
        if i[1] is not None or i[2] is not None:
            g2 = gy.reshape(-1, gy.shape[-1])                  # (N, out)
            if i[1] is not None:
                gw = g2.t() @ x.reshape(-1, x.shape[-1])        # (out, in)
            if i[2] is not None:
                gb = g2.sum(dim=0)
        return gx, gw, gb


class Einsum(Function):
    """einsum with explicit output; each operand's gradient is another einsum."""

    def forward(self, *ops, spec):
        self.spec = spec
        self.shapes = [o.shape for o in ops]
        self.save_for_backward(*ops)
        return self.xp.einsum(spec, *ops, optimize=len(ops) > 2)

    def backward(self, gy):
        from ..functions import einsum
        ins, out = self.spec.split("->")
        ins = ins.split(",")
        ops = self.saved_tensors
        grads = []
        for k, sub in enumerate(ins):
            if self.inputs[k] is None:
                grads.append(None)
                continue
            others = [ins[j] for j in range(len(ins)) if j != k]
            other_ops = [ops[j] for j in range(len(ins)) if j != k]
            present = set(out).union(*others) if others else set(out)
            keep = "".join(c for c in sub if c in present)
            uniq = "".join(dict.fromkeys(keep))
            g = einsum(",".join([out] + others) + "->" + uniq, gy, *other_ops)
            # letters summed only inside this operand: broadcast the gradient over them;
            # a letter repeated in the operand (a diagonal) is scattered back with a mask
            g = _expand_to_subscripts(g, uniq, sub, self.shapes[k])
            grads.append(g)
        return tuple(grads)


def _expand_to_subscripts(g, have, want, shape):
    """Gradient g with subscripts `have` -> the operand's subscripts `want` (adds broadcast dims)."""
    from ..functions import einsum
    if len(set(want)) != len(want):
        raise NotImplementedError(f"einsum: no gradient for an operand with a repeated subscript "
                                  f"({want!r}, a diagonal); use torch-style diagonal() instead")
    sizes = dict(zip(want, shape))
    missing = [c for c in want if c not in have]
    if missing:
        g = g.reshape(tuple(g.shape) + (1,) * len(missing)).expand(
            tuple(g.shape) + tuple(sizes[c] for c in missing))
        have = have + "".join(missing)
    if have != want:
        g = einsum(have + "->" + want, g)
    return g
