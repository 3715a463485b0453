"""Matrix products: matmul (batched, broadcasting), linear (x @ W^T + b in one node), einsum.

A 2-D float32 product asks the kernel table for "sgemm" (kernels/gemm.py): BLAS / cuBLAS by
default, or a study kernel once chosen (so a model can run on one); other products call the array
library's matmul. On the CPU every product, the sgemm reference's too, goes through
tinygen_kernels._threads.matmul: BLAS on one thread, large products split over tinygen's
threads, because OpenBLAS's own threads spin for a tenth of a second after each product and
take the second core from the next convolution (see that module).
"""
from __future__ import annotations

import math

import numpy as np

from tinygen_kernels._threads import matmul as _threaded_matmul

from ..autograd import function as _fn
from ..autograd.function import Function, on_arrays, wrap_grad
from ..autograd.grad_mode import GRAD
from ..backend import dtypes as _dtypes
from .binary import zero_gradient
from .shape import stack, unbroadcast, unsqueeze, squeeze


def _mm(a, b):
    """a @ b; NumPy matrices (and stacks) through tinygen_kernels._threads."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim >= 2 and b.ndim >= 2:
        return _threaded_matmul(a, b)
    return a @ b


def _mT(t):
    nd = t.ndim
    return t.transpose(nd - 2, nd - 1)


class MatMul(Function):
    """a @ b for a.ndim >= 2 and b.ndim >= 2 (1-D operands are handled by tg.matmul)."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return self._product(a, b)

    def _product(self, a, b):
        if a.ndim == 2 and b.ndim == 2 and a.dtype == np.float32 and b.dtype == np.float32:
            return self.kernel("sgemm")(a, b)
        return _mm(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        i = self.inputs
        # a stack of matrices times one matrix (x @ W.t() on (batch, seq, in)): b's gradient is
        # one product over the stack's rows side by side, (rows, K)^T (rows, N), as PyTorch's
        # folded matmul gives, not a product per matrix then their sum (the baby GPT's tied
        # output layer: 12 products of 128 x 64 @ 64 x 65 and a sum, 139 us, against one)
        fold = i[1] is not None and b.ndim == 2 and a.ndim > 2
        if on_arrays():              # the two products without their ops (see on_arrays)
            g, da, db = gy._data, a._data, b._data
            ga = (unbroadcast(wrap_grad(self._product(g, db.swapaxes(-1, -2))), da.shape)
                  if i[0] is not None else None)
            if fold:                            # (explicit rows: a K or N of 0 is allowed)
                rows = int(np.prod(da.shape[:-1]))
                gb = wrap_grad(self._product(da.reshape(rows, da.shape[-1]).T,
                                             g.reshape(rows, g.shape[-1])))
            else:
                gb = (unbroadcast(wrap_grad(self._product(da.swapaxes(-1, -2), g)), db.shape)
                      if i[1] is not None else None)
            return ga, gb
        ga = unbroadcast(gy @ _mT(b), a._data.shape) if i[0] is not None else None
        if fold:
            rows = int(np.prod(a.shape[:-1]))
            gb = a.reshape(rows, a.shape[-1]).t() @ gy.reshape(rows, gy.shape[-1])
        else:
            gb = unbroadcast(_mT(a) @ gy, b._data.shape) if i[1] is not None else None
        return ga, gb


class Linear(Function):
    """y = x @ W^T + b for x (..., in), W (out, in), b (out,) or None."""

    def forward(self, x, w, b):
        self.save_for_backward(x, w)
        y = _mm(x, w.T)
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        x, w = self.saved_tensors
        i = self.inputs
        if not GRAD.enabled:              # no graph of the backward: one op (LinearGrad), or its
            needs = (i[0] is not None, i[1] is not None, i[2] is not None)     # arrays alone
            if on_arrays():
                grads = map(wrap_grad, _linear_grads(gy._data, x._data, w._data, needs))
            else:
                grads = iter(LinearGrad.apply(gy, x, w, needs=needs))
            return (next(grads) if needs[0] else None, next(grads) if needs[1] else None,
                    next(grads) if needs[2] else None)
        gx = gy @ w if i[0] is not None else None
        gw = gb = None
        if i[1] is not None or i[2] is not None:
            rows = math.prod(gy.shape[:-1])                    # not -1: in or out may be 0
            g2 = gy.reshape(rows, gy.shape[-1])                # (N, out)
            if i[1] is not None:
                gw = g2.t() @ x.reshape(rows, x.shape[-1])      # (out, in)
            if i[2] is not None:
                gb = g2.sum(dim=0)
        return gx, gw, gb


class LinearGrad(Function):
    """Linear's input gradients as one op on arrays: gx = gy @ W, gW = gy^T x (rows of all
    leading dimensions), gb = gy summed over them; those of `needs` (x, W, b), in that order.
    Linear's backward runs it in a captured step, where no graph of the backward is recorded
    but ops are: one node instead of five (a transpose, two reshapes, two products and a sum).
    The usual backward computes the same arrays without the op (`_linear_grads`, on_arrays()).
    Under create_graph Linear's backward builds the same from differentiable ops; it has no
    backward of its own."""

    def forward(self, gy, x, w, needs):
        return _linear_grads(gy, x, w, needs)


def _linear_grads(gy, x, w, needs):
    """LinearGrad's arrays (also Linear's backward where on_arrays(): no op at all)."""
    out = []
    if needs[0]:
        out.append(_mm(gy, w))
    if needs[1] or needs[2]:
        rows = math.prod(gy.shape[:-1])                    # not -1: in or out may be 0
        g2 = gy.reshape(rows, gy.shape[-1])                # (N, out)
        if needs[1]:
            out.append(_mm(g2.T, x.reshape(rows, x.shape[-1])))
        if needs[2]:
            out.append(g2.sum(axis=0))
    return tuple(out)


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
            if tuple(g.shape) != tuple(self.shapes[k]):     # '...' dims of size 1 broadcast
                g = g.sum_to_size(*self.shapes[k])
            grads.append(g)
        return tuple(grads)


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _expand_to_subscripts(g, have, want, shape):
    """Gradient g with subscripts `have` -> the operand's subscripts `want` (adds broadcast dims;
    a letter repeated in the operand, a diagonal, gets g on that diagonal and 0 off it)."""
    sizes = dict(zip(want, shape))
    missing = [c for c in dict.fromkeys(want) if c not in have]
    if missing:
        g = g.reshape(tuple(g.shape) + (1,) * len(missing)).expand(
            tuple(g.shape) + tuple(sizes[c] for c in missing))
        have = have + "".join(missing)
    if len(set(want)) != len(want):            # each repeat renamed, tied to its letter by an eye
        free = iter(c for c in _LETTERS if c not in want)
        seen, spread, eyes = set(), "", []
        for c in want:
            if c in seen:
                z = next(free)
                spread, eyes = spread + z, eyes + [(c + z, sizes[c])]
            else:
                seen.add(c)
                spread += c
        identities = [g.new_ones(n).diag_embed() for _, n in eyes]
        return einsum(",".join([have] + [s for s, _ in eyes]) + "->" + spread, g, *identities)
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
        out = (a * b).sum()                       # (an integer dot keeps its dtype, as PyTorch)
        return out.to(a.dtype) if a._data.dtype.kind in "iu" else out
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


def _check_dims(op, **tensors):
    """Each named tensor must have the given number of dims: name=(tensor, ndim)."""
    for name, (t, nd) in tensors.items():
        if not isinstance(t, _fn.Tensor):
            raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(t).__name__}")
        if t.ndim != nd:
            shapes = ", ".join(f"{n} {tuple(v.shape)}" for n, (v, _) in tensors.items())
            raise RuntimeError(f"{op}: expected {name} to be {nd}-D, got {t.ndim}-D ({shapes})")


def mm(input, mat2):
    """(n, k) @ (k, m) -> (n, m); both 2-D (matmul without broadcasting)."""
    _check_dims("mm", input=(input, 2), mat2=(mat2, 2))
    return matmul(input, mat2)


def bmm(input, mat2):
    """(b, n, k) @ (b, k, m) -> (b, n, m); both 3-D with the same batch size."""
    _check_dims("bmm", input=(input, 3), mat2=(mat2, 3))
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: input {tuple(input.shape)}, mat2 "
                           f"{tuple(mat2.shape)}")
    return matmul(input, mat2)


def mv(input, vec):
    """(n, m) @ (m,) -> (n,)."""
    _check_dims("mv", input=(input, 2), vec=(vec, 1))
    return matmul(input, vec)


def dot(input, other):
    """The inner product of two 1-D tensors of the same size and dtype (a 0-d tensor)."""
    _check_dims("dot", input=(input, 1), other=(other, 1))
    if input.shape != other.shape:
        raise RuntimeError(f"dot: expected 1-D tensors of the same size, got {tuple(input.shape)}"
                           f" and {tuple(other.shape)}")
    return matmul(input, other)


vdot = dot


def _scaled_sum(op, input, product, beta, alpha):
    """beta * input + alpha * product; with beta == 0 input is ignored (nan and inf in it do
    not propagate), as in PyTorch."""
    if input.dtype != product.dtype and op != "addr":     # (PyTorch's addr promotes)
        raise RuntimeError(f"{op}: input tensors must have the same dtype, but got input "
                           f"{input.dtype} and a product of {product.dtype}")
    if product._data.dtype.kind in "biu":       # integer tensors: integer beta and alpha
        for name, v in (("beta", beta), ("alpha", alpha)):
            if op == "addr" and isinstance(v, float):
                raise RuntimeError(f"For integral input tensors, argument {name} must not be a "
                                   "floating point number.")
        beta, alpha = int(beta), int(alpha)    # (PyTorch truncates them for the others)
    try:
        wide = np.broadcast_shapes(tuple(input.shape), tuple(product.shape))
    except ValueError:
        wide = None
    if wide != tuple(product.shape):           # input must expand to the product's shape
        raise RuntimeError(f"{op}: the input of shape {tuple(input.shape)} cannot be expanded "
                           f"to the product's shape {tuple(product.shape)}")
    out = product if alpha == 1 else product * alpha
    if beta == 0:
        try:
            np.broadcast_shapes(tuple(input.shape), tuple(out.shape))
        except ValueError:
            raise RuntimeError(f"{op}: input of shape {tuple(input.shape)} does not broadcast to "
                               f"the product's shape {tuple(out.shape)}") from None
        return zero_gradient(out, input)       # in the graph, a zero gradient (PyTorch's)
    return (input if beta == 1 else input * beta) + out


def addmm(input, mat1, mat2, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2): mat1 (n, k), mat2 (k, m); input broadcasts to
    (n, m)."""
    return _scaled_sum("addmm", input, mm(mat1, mat2), beta, alpha)


def baddbmm(input, batch1, batch2, beta=1, alpha=1):
    """beta * input + alpha * (batch1 @ batch2) per batch: (b, n, k) @ (b, k, m)."""
    return _scaled_sum("baddbmm", input, bmm(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, beta=1, alpha=1):
    """beta * input + alpha * sum_b batch1[b] @ batch2[b]: the products summed over the batch."""
    product = bmm(batch1, batch2).sum(dim=0)
    if product.dtype != batch1.dtype:          # an integer sum is int64: keep the dtype
        product = product.to(batch1.dtype)
    return _scaled_sum("addbmm", input, product, beta, alpha)


def addmv(input, mat, vec, beta=1, alpha=1):
    """beta * input + alpha * (mat @ vec): mat (n, m), vec (m,), input broadcasts to (n,)."""
    return _scaled_sum("addmv", input, mv(mat, vec), beta, alpha)


def outer(input, vec2):
    """The outer product of two 1-D tensors: (n,) x (m,) -> (n, m)."""
    _check_dims("outer", input=(input, 1), vec2=(vec2, 1))
    return unsqueeze(input, 1) * unsqueeze(vec2, 0)


ger = outer


def addr(input, vec1, vec2, beta=1, alpha=1):
    """beta * input + alpha * outer(vec1, vec2)."""
    return _scaled_sum("addr", input, outer(vec1, vec2), beta, alpha)


def inner(input, other):
    """Sum over the last dims: (*a, k) and (*b, k) -> (*a, *b); a 0-d operand multiplies."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    k = input.shape[-1]
    if other.shape[-1] != k:
        raise RuntimeError(f"inner: the last dims must agree, got {tuple(input.shape)} and "
                           f"{tuple(other.shape)}")
    a = input.reshape(int(np.prod(input.shape[:-1])), k)             # (A, k)
    b = other.reshape(int(np.prod(other.shape[:-1])), k)             # (B, k)
    return matmul(a, b.t()).reshape(tuple(input.shape[:-1]) + tuple(other.shape[:-1]))


def tensordot(a, b, dims=2):
    """Contract the last `dims` dims of a with the first of b, or the listed dim pairs
    (dims=([a dims], [b dims])), through one matrix product."""
    if isinstance(dims, int):
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = [list(d) if isinstance(d, (list, tuple)) else [d] for d in dims]
    da = [d % a.ndim for d in da]
    db = [d % b.ndim for d in db]
    if [a.shape[i] for i in da] != [b.shape[j] for j in db]:
        raise RuntimeError(f"tensordot: contracted dims of {tuple(a.shape)} {da} and "
                           f"{tuple(b.shape)} {db} have different sizes")
    free_a = [d for d in range(a.ndim) if d not in da]
    free_b = [d for d in range(b.ndim) if d not in db]
    k = int(np.prod([a.shape[i] for i in da]))
    left = a.permute(free_a + da).reshape(-1, k)                     # (free a, k)
    right = b.permute(db + free_b).reshape(k, -1)                    # (k, free b)
    return matmul(left, right).reshape(tuple(a.shape[d] for d in free_a) +
                                       tuple(b.shape[d] for d in free_b))


def kron(input, other):
    """The Kronecker product: out[i * n + j] = input[i] * other[j] along every dim."""
    nd = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (nd - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (nd - other.ndim) + tuple(other.shape))
    wide_a = a.reshape(tuple(s for d in a.shape for s in (d, 1)))     # (a0, 1, a1, 1, ...)
    wide_b = b.reshape(tuple(s for d in b.shape for s in (1, d)))     # (1, b0, 1, b1, ...)
    return (wide_a * wide_b).reshape(tuple(x * y for x, y in zip(a.shape, b.shape)))


def cross(input, other, dim=None):
    """The cross product of 3-vectors along dim (None: the first dim of size 3, as torch.cross;
    linalg.cross uses -1). input and other broadcast."""
    a, b = input, other
    if dim is None:                   # as PyTorch: input's own first dim of size 3, then both
        dim = next((d for d, s in enumerate(a.shape) if s == 3), None)   # must have 3 there
        if dim is not None and (b.ndim != a.ndim or b.shape[dim] != 3):
            raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                               f"{a.shape[dim]} and {b.shape[dim] if b.ndim > dim else None}")
    if a.shape != b.shape:
        try:
            shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
        except ValueError:
            raise RuntimeError(f"cross: input of shape {tuple(a.shape)} and other of shape "
                               f"{tuple(b.shape)} do not broadcast") from None
        a, b = a.expand(shape), b.expand(shape)
    if dim is None:
        dim = next((d for d, s in enumerate(a.shape) if s == 3), None)
        if dim is None:
            raise RuntimeError(f"cross: no dimension of size 3 in input of shape "
                               f"{tuple(input.shape)}")
    d = dim % a.ndim if a.ndim else 0
    if a.ndim == 0 or a.shape[d] != 3:
        raise RuntimeError(f"cross: expected dim {dim} of size 3, got shapes {tuple(input.shape)}"
                           f" and {tuple(other.shape)}")
    a0, a1, a2 = a.unbind(d)
    b0, b1, b2 = b.unbind(d)
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


def chain_matmul(*matrices):
    """matrices[0] @ matrices[1] @ ... (left to right)."""
    out = matrices[0]
    for m in matrices[1:]:
        out = mm(out, m)
    return out


def matrix_power(input, n):
    """input @ input @ ... (n times) for square matrices (..., k, k); n = 0 gives the identity,
    negative n powers of the inverse."""
    if input.ndim < 2 or input.shape[-1] != input.shape[-2]:
        raise RuntimeError(f"matrix_power: expected square matrices (..., k, k), got shape "
                           f"{tuple(input.shape)}")
    if n < 0:                                  # (A^{-1})^|n|
        return matrix_power(input.inverse(), -n)
    result = None
    base = input
    while n:                                   # binary exponentiation: O(log n) products
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    if result is None:                         # n = 0: identities, outside the graph
        xp = input.device.xp
        eye = xp.eye(input.shape[-1], dtype=input._data.dtype)
        out = _fn.wrap(xp.broadcast_to(eye, input.shape).copy())
        return zero_gradient(out, input)       # in the graph, a zero gradient (PyTorch's)
    return result


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
    dt = operands[0]._data.dtype               # mixed dtypes: promoted, not cast to the first
    for op in operands[1:]:                    # (PyTorch promotes, or refuses, by equation)
        dt = _dtypes.promote_types(dt, op._data.dtype)
    operands = [op if op._data.dtype == dt else op.to(_dtypes.from_np_dtype(dt))
                for op in operands]
    out = Einsum.apply(*operands, spec=",".join(ins) + "->" + rhs)
    if len(operands) == 1 and dt.kind in "biu" and set(ins[0]) - set(rhs):
        out = out.long()              # a reduction of one integer operand: PyTorch's sum, int64
    return out


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


def bilinear(input1, input2, weight, bias=None):
    """y_k = x1^T A_k x2 + b_k: input1 (*, in1), input2 (*, in2), weight (out, in1, in2), bias
    (out,) -> (*, out)."""
    if weight.ndim != 3 or input1.shape[-1] != weight.shape[1] or \
            input2.shape[-1] != weight.shape[2] or input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear: expected input1 (*, in1), input2 (*, in2) with the same "
                           f"leading dims and weight (out, in1, in2), got input1 "
                           f"{tuple(input1.shape)}, input2 "
                           f"{tuple(input2.shape)}, weight {tuple(weight.shape)}")
    tensors = (input1, input2, weight) + (() if bias is None else (bias,))
    if len({t.dtype for t in tensors}) > 1:
        raise RuntimeError("bilinear: expected input1, input2, weight and bias of one dtype, got "
                           + ", ".join(str(t.dtype) for t in tensors))
    lead = tuple(input1.shape[:-1])
    rows = math.prod(lead)                                              # not -1: sizes may be 0
    x1 = input1.reshape(rows, weight.shape[1])                         # (N, in1)
    x2 = input2.reshape(rows, weight.shape[2])                         # (N, in2)
    y = einsum("ni,oij,nj->no", x1, weight, x2)                       # (N, out)
    if bias is not None:
        y = y + bias
    return y.reshape(lead + (weight.shape[0],))
