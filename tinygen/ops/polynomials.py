"""The orthogonal polynomials of torch.special, P_n(x) for an integer degree n (a tensor or a
number, broadcast with x): chebyshev_polynomial_t / u / v / w, their shifted versions on [0, 1]
(P*_n(x) = P_n(2x - 1)), hermite_polynomial_h (physicists') and _he (probabilists'),
laguerre_polynomial_l, legendre_polynomial_p. No gradient, as in PyTorch (the result does not
require grad).

Each follows PyTorch's kernel (ATen/native/Math.h) case by case, so the edges agree: a negative
degree gives 0; a floating n is truncated toward zero (NaN, inf and n beyond int64 give 0); the
values at the ends of the interval are exact (T_n(1) = 1, U_n(-1) = (-1)^n (n + 1)...); the
Chebyshev families use the trigonometric forms inside (-1, 1) past a small degree
(T_n(cos t) = cos(n t), U_n(cos t) = sin((n + 1) t) / sin t, V_n = cos((n + 1/2) t) / cos(t/2),
W_n = sin((n + 1/2) t) / sin(t/2)); the Hermite polynomials are NaN past degree 128 (float32) or
512 (float64); everything else is the three-term recurrence (A&S 22.7), stopped at the first NaN.

Where tinygen differs: for NaN x and a degree >= 2, PyTorch's U, V, W, He, Laguerre and Legendre
kernels return an uninitialised value (inf or NaN seen); tinygen returns NaN.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from .special_more import float_pair


class Polynomial(Function):
    """P_n(x) of the family `kind` (a key of _FAMILIES) on the broadcast arrays x and n (n in
    x's floating dtype, truncated to an integer here). No backward: applied to detached inputs."""

    def forward(self, x, n, kind):
        xp = self.xp
        shape = np.broadcast_shapes(x.shape, n.shape)
        xs = xp.broadcast_to(x, shape).ravel()
        degrees = _degrees(xp, xp.broadcast_to(n, shape).ravel())
        with np.errstate(all="ignore"):
            out = _FAMILIES[kind](xp, xs, degrees)
        return out.astype(x.dtype, copy=False).reshape(shape)


def _degrees(xp, n):
    """n (floating) as int64 degrees, as C's static_cast: truncated toward zero; NaN, inf and
    values outside int64 become -1 (x86 gives INT64_MIN: a negative degree either way)."""
    ok = xp.isfinite(n) & (xp.abs(n) < 2.0 ** 63)
    return xp.where(ok, xp.trunc(xp.where(ok, n, 0)), -1).astype(np.int64)


def _evaluate(xp, y, n, cases, q1, step):
    """The polynomial: the first of `cases` ((mask, value) pairs, in PyTorch's order of tests)
    that holds, else the recurrence from q_0 = 1, q_1 = q1 (every n left is >= 2)."""
    out = xp.zeros_like(y)
    handled = n < 0                                   # a negative degree: 0
    for mask, value in cases:
        take = mask & ~handled
        out = xp.where(take, value, out)
        handled = handled | take
    rest = ~handled
    if bool(rest.any()):
        out[rest] = _recurrence(xp, y[rest], n[rest], q1[rest], step)
    return out


def _recurrence(xp, y, n, q1, step):
    """q_n per element: q_{j+1} = step(j, y, q_{j-1}, q_j), j = 1, 2, ...; an element leaves at
    its own n or at its first NaN (PyTorch's loops stop there too, with a NaN result)."""
    out = xp.empty_like(y)
    index = xp.arange(y.size)
    p, q = xp.ones_like(y), q1
    steps = n - 1
    j = 1
    while index.size:
        p, q = q, step(j, y, p, q)
        done = (steps == j) | xp.isnan(q)
        if bool(done.any()):
            out[index[done]] = q[done]
            keep = ~done
            index, y, p, q, steps = index[keep], y[keep], p[keep], q[keep], steps[keep]
        j += 1
    return out


def _chebyshev_step(j, y, p, q):
    return (y + y) * q - p


# ---- the Chebyshev families (ATen's chebyshev_polynomial_* and shifted_chebyshev_polynomial_*) --
# kind: degree past which (-1, 1) uses the trig form (plain, shifted), and q_1 from y
_CHEBYSHEV = {
    "t": ((6, 6), lambda y: y),
    "u": ((8, 6), lambda y: y + y),
    "v": ((8, 6), lambda y: y + y - 1),
    "w": ((8, 4), lambda y: y + y + 1),
}


def _chebyshev(kind, shifted):
    def evaluate(xp, x, n):
        y = x + x - 1 if shifted else x
        nt = n.astype(x.dtype)
        sign = xp.where(n % 2 == 0, 1, -1).astype(x.dtype)           # (-1)^n
        top, bottom = _chebyshev_ends(kind, nt, sign)
        at_top, at_bottom = (x == 1, x == 0) if shifted else (x == 1, x == -1)
        threshold, q1 = _CHEBYSHEV[kind][0][shifted], _CHEBYSHEV[kind][1](y)
        trig = (n > threshold) & (xp.abs(y) < 1)
        cases = [(at_top, top), (at_bottom, bottom),
                 (trig, _chebyshev_trig(xp, kind, shifted, x, y, n, nt, sign)),
                 (n == 0, 1), (n == 1, q1)]
        return _evaluate(xp, y, n, cases, q1, _chebyshev_step)
    return evaluate


def _chebyshev_ends(kind, nt, sign):
    """The values at y = 1 and y = -1: T 1, (-1)^n; U n + 1, (-1)^n (n + 1);
    V 1, (-1)^n (2n + 1); W 2n + 1, (-1)^n."""
    if kind == "t":
        return 1, sign
    if kind == "u":
        return nt + 1, sign * (nt + 1)
    if kind == "v":
        return 1, sign * (nt + nt + 1)
    return nt + nt + 1, sign


def _chebyshev_trig(xp, kind, shifted, x, y, n, nt, sign):
    """The trigonometric form at y = cos(theta), with PyTorch's fallbacks where its divisor is
    degenerate."""
    theta = xp.arccos(y)
    if kind == "t":
        return xp.cos(nt * theta)
    if kind == "u":
        m = (n + 1).astype(x.dtype)
        s = xp.sin(theta)
        return xp.where(s != 0, xp.sin(m * theta) / s, m * xp.cos(m * theta) / y)
    half = theta / 2
    if kind == "v":
        return xp.where(xp.sin(half) != 1, xp.cos((nt + 0.5) * theta) / xp.cos(half),
                        sign * (nt + nt + 1))
    fallback = sign if shifted else xp.where(x > 0, nt + nt + 1, sign)
    return xp.where(xp.cos(half) != 1, xp.sin((nt + 0.5) * theta) / xp.sin(half), fallback)


# ---- Hermite, Laguerre, Legendre ----------------------------------------------------------------
def _hermite(physicists):
    def evaluate(xp, x, n):
        limit = 128 if x.dtype == np.float32 else 512        # PyTorch's getHermitianLimit
        q1 = x + x if physicists else x
        cases = [(n == 0, 1), (n == 1, q1), (n > limit, np.nan)]
        if physicists:
            def step(j, y, p, q):
                return (y + y) * q - (j + j) * p
        else:
            def step(j, y, p, q):
                return y * q - j * p
        return _evaluate(xp, x, n, cases, q1, step)
    return evaluate


def _laguerre(xp, x, n):
    def step(j, y, p, q):
        return (((j + j) + (1 - y)) * q - j * p) / (j + 1)
    q1 = 1 - x
    return _evaluate(xp, x, n, [(x == 0, 1), (n == 0, 1), (n == 1, q1)], q1, step)


def _legendre(xp, x, n):
    def step(j, y, p, q):
        return ((j + j + 1) * y * q - j * p) / (j + 1)
    at_ends = xp.where((x > 0) | (n % 2 == 0), 1, -1).astype(x.dtype)
    cases = [(xp.abs(x) == 1, at_ends), (n == 0, 1), (n == 1, x)]
    return _evaluate(xp, x, n, cases, x, step)


_FAMILIES = {
    **{f"chebyshev_polynomial_{k}": _chebyshev(k, False) for k in "tuvw"},
    **{f"shifted_chebyshev_polynomial_{k}": _chebyshev(k, True) for k in "tuvw"},
    "hermite_polynomial_h": _hermite(True),
    "hermite_polynomial_he": _hermite(False),
    "laguerre_polynomial_l": _laguerre,
    "legendre_polynomial_p": _legendre,
}


# ---- the functions (tg.special.*) ---------------------------------------------------------------
def _polynomial(op, doc):
    def fn(input, n):
        x, degree = float_pair(op, input, n, half=False)
        return Polynomial.apply(x.detach(), degree.detach(), op)
    fn.__name__ = fn.__qualname__ = op
    fn.__doc__ = (f"{doc} at input, of degree n (a tensor or a number, broadcast with input; "
                  "one of the two may be a number). Integer inputs give the default float "
                  "dtype; no gradient, as in PyTorch.")
    return fn


chebyshev_polynomial_t = _polynomial("chebyshev_polynomial_t",
                                     "The Chebyshev polynomial of the first kind T_n")
chebyshev_polynomial_u = _polynomial("chebyshev_polynomial_u",
                                     "The Chebyshev polynomial of the second kind U_n")
chebyshev_polynomial_v = _polynomial("chebyshev_polynomial_v",
                                     "The Chebyshev polynomial of the third kind V_n")
chebyshev_polynomial_w = _polynomial("chebyshev_polynomial_w",
                                     "The Chebyshev polynomial of the fourth kind W_n")
shifted_chebyshev_polynomial_t = _polynomial(
    "shifted_chebyshev_polynomial_t", "The shifted Chebyshev polynomial T*_n(x) = T_n(2x - 1)")
shifted_chebyshev_polynomial_u = _polynomial(
    "shifted_chebyshev_polynomial_u", "The shifted Chebyshev polynomial U*_n(x) = U_n(2x - 1)")
shifted_chebyshev_polynomial_v = _polynomial(
    "shifted_chebyshev_polynomial_v", "The shifted Chebyshev polynomial V*_n(x) = V_n(2x - 1)")
shifted_chebyshev_polynomial_w = _polynomial(
    "shifted_chebyshev_polynomial_w", "The shifted Chebyshev polynomial W*_n(x) = W_n(2x - 1)")
hermite_polynomial_h = _polynomial("hermite_polynomial_h",
                                   "The physicists' Hermite polynomial H_n")
hermite_polynomial_he = _polynomial("hermite_polynomial_he",
                                    "The probabilists' Hermite polynomial He_n")
laguerre_polynomial_l = _polynomial("laguerre_polynomial_l", "The Laguerre polynomial L_n")
legendre_polynomial_p = _polynomial("legendre_polynomial_p", "The Legendre polynomial P_n")
