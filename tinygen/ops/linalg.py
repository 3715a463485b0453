"""Matrix products: matmul (batched, broadcasting), linear (x @ W^T + b in one node), einsum.

A 2-D float32 product asks the kernel table for "sgemm" (kernels/gemm.py): BLAS / cuBLAS by
default, or a study kernel once chosen (so a model can run on one). Batched and float64 products
call the array library's matmul directly.
"""
from __future__ import annotations

import numpy as np

from ..autograd import function as _fn
from ..autograd.function import Function
from .shape import unbroadcast, unsqueeze, squeeze


def _mT(t):
    nd = t.ndim
    return t.transpose(nd - 2, nd - 1)


class MatMul(Function):
    """a @ b for a.ndim >= 2 and b.ndim >= 2 (1-D operands are handled by tg.matmul)."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        if a.ndim == 2 and b.ndim == 2 and a.dtype == np.float32 and b.dtype == np.float32:
            return self.kernel("sgemm")(a, b)
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


# ---- the functions (Tensor methods and tg.*) ----------------------------------------------------
def matmul(input, other):
    """Matrix product with PyTorch's rules for 1-D operands and batch broadcasting."""
    a, b = input, other
    if not isinstance(a, _fn.Tensor) or not isinstance(b, _fn.Tensor):
        raise TypeError(f"matmul: expected Tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"matmul: expected both operands to have the same dtype, got "
                           f"{a.dtype} (shape {tuple(a.shape)}) and {b.dtype} (shape "
                           f"{tuple(b.shape)})")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        raise RuntimeError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                           f"multiplied ({ka} != {kb})")
    if a.ndim == 1 and b.ndim == 1:
        return (a * b).sum()
    if a.ndim == 1:
        return squeeze(MatMul.apply(unsqueeze(a, 0), b), -2)
    if b.ndim == 1:
        return squeeze(MatMul.apply(a, unsqueeze(b, -1)), -1)
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise RuntimeError(f"matmul: batch dims of {tuple(a.shape)} and {tuple(b.shape)} do not "
                           "broadcast") from None
    return MatMul.apply(a, b)


mm = bmm = dot = matmul


def einsum(equation, *operands):
    """einsum with explicit or implicit output and '...'. Gradients for every operand without
    repeated subscripts."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ins, rhs = _einsum_subscripts(equation, operands)
    for sub, op in zip(ins, operands):
        if len(sub) != op.ndim:
            raise ValueError(f"einsum: subscripts {sub!r} don't match an operand of shape "
                             f"{tuple(op.shape)}")
    dt = operands[0]._data.dtype
    operands = [op if op._data.dtype == dt else op.to(dt) for op in operands]
    return Einsum.apply(*operands, spec=",".join(ins) + "->" + rhs)


def _einsum_subscripts(equation, operands):
    """(per-operand subscripts, output subscripts) with '...' spelled out in free letters and an
    implicit output made explicit (the letters used once, sorted)."""
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    ins = lhs.split(",")
    if len(ins) != len(operands):
        raise ValueError(f"einsum: {len(ins)} operand subscripts for {len(operands)} operands")
    ell = ""
    if "..." in equation:
        used = set(c for c in equation if c.isalpha())
        free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
        nell = max((op.ndim - (len(s) - 3)) for s, op in zip(ins, operands) if "..." in s)
        ell = "".join(free[:nell])
        ins = [s.replace("...", ell[nell - (op.ndim - (len(s) - 3)):]) if "..." in s else s
               for s, op in zip(ins, operands)]
        rhs = rhs.replace("...", ell)
    if not arrow:
        joined = "".join(ins)
        rhs = ell + "".join(sorted(c for c in set(joined) if joined.count(c) == 1 and c not in ell))
    return ins, rhs
