"""Spatial transformers' sampling, as torch.nn.functional: affine_grid and grid_sample, for 4-D
(N, C, H, W) and 5-D (N, C, D, H, W) inputs; modes 'bilinear' (trilinear on 5-D), 'nearest' and
'bicubic' (4-D only); padding modes 'zeros', 'border', 'reflection'.

affine_grid: grid[n, h, w] = theta[n] @ (x_w, y_h, 1), the base coordinates spaced evenly over
[-1, 1] (align_corners=True: the corner pixels' centres; False: their outer edges, so the
centres are at -1 + 1/W .. 1 - 1/W). Linear in theta: its backward is a product with the base.

grid_sample: output[n, :, p] reads input[n] at grid[n, p] = (x, y[, z]) in [-1, 1] (x along W).
Each coordinate is made a pixel coordinate (PyTorch's grid_sampler_unnormalize):
    align_corners=True:  c = (g + 1) (size - 1) / 2          (-1 and 1: the corner centres)
    align_corners=False: c = ((g + 1) size - 1) / 2           (-1 and 1: the outer edges)
then, for 'bilinear' and 'nearest', mapped by the padding mode: 'border' clips c to
[0, size - 1]; 'reflection' reflects it about the borders (the corner centres, or the edges
without align_corners) and clips; 'zeros' leaves it. Each output is then a weighted sum of taps,
one spatial dim's rule times the others' (a tensor product):
    bilinear: floor(c), floor(c) + 1 with weights 1 - t, t (t = c - floor(c));
    nearest:  round-half-even(c), weight 1 (no gradient to the grid, as PyTorch);
    bicubic:  floor(c) - 1 .. floor(c) + 2, Keys' kernel with a = -0.75, each tap's integer
              index mapped by the padding mode (the coordinate itself is not).
A tap outside the input reads 0. The output is linear in the input: its input gradient scatters
the output gradient back with the same weights (one bincount). The grid gradient is the sum of
each tap's value times the derivative of its weight, times dc/dg (the unnormalising scale, times
the padding map's slope: +-1 inside, 0 where 'border'/'reflection' clip, counting the exact
borders as clipped, as PyTorch).

The backward of grid_sample (GridSampleBackward) is array code: grid_sample is differentiable
once, with respect to input and grid; differentiating its gradient again raises a clear error.
affine_grid is differentiable to any order.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np

from ..autograd.function import Function, wrap

CUBIC_A = -0.75                  # the Keys kernel's parameter PyTorch uses
MODES = ("bilinear", "nearest", "bicubic")
PADDING_MODES = ("zeros", "border", "reflection")
ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False "
                 "since 1.3.0. Please specify align_corners=True if the old behavior is desired. "
                 "See the documentation of grid_sample for details.")
UNIT_GRID_WARNING = ("Since version 1.3.0, affine_grid behavior has changed for unit-size grids "
                     "when align_corners=True. This is not an intended use case of affine_grid. "
                     "See the documentation of affine_grid for details.")


# ---- affine_grid -------------------------------------------------------------------------------
def _linspace(xp, n, align_corners, dtype):
    """n evenly spaced coordinates in [-1, 1] (PyTorch's linspace_from_neg_one)."""
    if n <= 1:
        return xp.zeros(n, dtype=dtype)
    r = xp.asarray(np.linspace(-1.0, 1.0, n).astype(dtype))
    return r if align_corners else r * (n - 1) / n


def _base_grid(xp, spatial, align_corners, dtype):
    """(prod(spatial), nd + 1): each output point's (x, y[, z], 1), x varying fastest."""
    nd = len(spatial)
    axes = [_linspace(xp, n, align_corners, dtype) for n in spatial]       # in input order
    mesh = xp.meshgrid(*axes, indexing="ij")                              # each (*spatial)
    cols = [m.reshape(-1) for m in reversed(mesh)] + [xp.ones(int(np.prod(spatial)), dtype)]
    return xp.stack(cols, axis=1).reshape(-1, nd + 1)


class AffineGrid(Function):
    """theta (N, nd, nd + 1) -> grid (N, *spatial, nd) = base @ theta^T; linear in theta."""

    def forward(self, theta, spatial, align_corners):
        self.base = _base_grid(self.xp, spatial, align_corners, theta.dtype)     # (S, nd + 1)
        nd = len(spatial)
        grid = self.base @ theta.transpose(0, 2, 1)                               # (N, S, nd)
        return grid.reshape((theta.shape[0],) + tuple(spatial) + (nd,))

    def backward(self, gy):
        N, nd = gy.shape[0], gy.shape[-1]
        g = gy.reshape(N, -1, nd).transpose(1, 2)                                # (N, nd, S)
        return g @ wrap(self.base), None, None                                   # (N, nd, nd + 1)


def affine_grid(theta, size, align_corners=None):
    """The sampling grid (N, H, W, 2) (or (N, D, H, W, 3)) of the affine maps theta (N, 2, 3)
    (or (N, 3, 4)) for an output of `size` (N, C, H, W) (or (N, C, D, H, W)), as
    torch.nn.functional.affine_grid. align_corners=None is False, with PyTorch's warning."""
    if align_corners is None:
        warnings.warn(ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if not theta.dtype.is_floating_point:
        raise ValueError(f"affine_grid: expected theta to have floating point type, but got "
                         f"{theta.dtype}")
    size = [int(s) for s in size]
    if len(size) not in (4, 5):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    nd = len(size) - 2
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (nd, nd + 1):
        raise ValueError(f"affine_grid: expected a batch of {nd}D affine matrices of shape "
                         f"Nx{nd}x{nd + 1} for size {size}. Got {tuple(theta.shape)}.")
    if theta.shape[0] != size[0]:
        raise ValueError(f"affine_grid: theta has batch size {theta.shape[0]} but size "
                         f"{size} asks for {size[0]}")
    spatial = tuple(size[2:])
    if align_corners and min(spatial) == 1:
        warnings.warn(UNIT_GRID_WARNING, stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"affine_grid: expected non-zero, positive output size. Got {size}")
    return AffineGrid.apply(theta, spatial, bool(align_corners))


# ---- grid_sample: coordinates and taps ---------------------------------------------------------
def _unnormalize(coord, size, align_corners):
    """Grid coordinates in [-1, 1] -> pixel coordinates, and d pixel / d grid (a number)."""
    if align_corners:
        scale = (size - 1) / 2
        return (coord + 1) * scale, scale
    scale = size / 2                                 # ((g + 1) size - 1) / 2, rounded as PyTorch
    return (coord + 1) * scale - 0.5, scale


def _reflect(xp, c, twice_low, twice_high):
    """c reflected into [twice_low / 2, twice_high / 2], and its slope (+1 or -1)."""
    if twice_low == twice_high:
        return xp.zeros_like(c), xp.zeros_like(c)
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    c = c - low
    sign = xp.where(c < 0, -1, 1).astype(c.dtype)
    c = xp.abs(c)
    extra = xp.fmod(c, span)
    odd = xp.floor(c / span) % 2 == 1                     # an odd number of flips
    return xp.where(odd, span - extra, extra) + low, xp.where(odd, -sign, sign)


def _pad(xp, c, size, padding_mode, align_corners):
    """c mapped by the padding mode, and the map's slope (None: 1 everywhere)."""
    if padding_mode == "zeros":
        return c, None
    slope = 1
    if padding_mode == "reflection":
        if align_corners:
            c, slope = _reflect(xp, c, 0, 2 * (size - 1))
        else:
            c, slope = _reflect(xp, c, -1, 2 * size - 1)
    inside = ((c > 0) & (c < size - 1)).astype(c.dtype)    # the borders count as clipped
    return xp.clip(c, 0, size - 1), inside * slope


def _cubic(t):
    """Keys' weights of the taps at offsets -1, 0, 1, 2 for fraction t, and their d/dt."""
    a = CUBIC_A

    def near(x):                                   # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):                                    # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    def dnear(x):
        return (3 * (a + 2) * x - 2 * (a + 3)) * x

    def dfar(x):
        return (3 * a * x - 10 * a) * x + 8 * a

    weights = [far(t + 1), near(t), near(1 - t), far(2 - t)]
    slopes = [dfar(t + 1), dnear(t), -dnear(1 - t), -dfar(2 - t)]
    return weights, slopes


def _in_range(xp, i, size):
    """(i clipped into [0, size), whether it was inside) for an integer index array."""
    return xp.clip(i, 0, size - 1), (i >= 0) & (i < size)


def _dim_taps(xp, g, size, mode, padding_mode, align_corners):
    """One spatial dim's taps for grid coordinates g (N, P): ([(index, inside, weight, d weight
    / d c or None)], dc/dg (a number or an (N, P) array))."""
    c, scale = _unnormalize(g, size, align_corners)
    if mode == "bicubic":
        base = xp.floor(c)
        weights, slopes = _cubic(c - base)
        taps = []
        for k, (w, s) in enumerate(zip(weights, slopes)):
            at, _ = _pad(xp, base + (k - 1), size, padding_mode, align_corners)
            i, ok = _in_range(xp, at.astype(np.int64), size)
            taps.append((i, ok, w, s))
        return taps, scale
    c, slope = _pad(xp, c, size, padding_mode, align_corners)
    mult = scale if slope is None else slope * scale
    if mode == "nearest":
        i, ok = _in_range(xp, xp.rint(c).astype(np.int64), size)
        return [(i, ok, None, None)], mult
    base = xp.floor(c)
    t = c - base
    i0 = base.astype(np.int64)
    lo, hi = _in_range(xp, i0, size), _in_range(xp, i0 + 1, size)
    one = xp.ones_like(t)
    return [(lo[0], lo[1], 1 - t, -one), (hi[0], hi[1], t, one)], mult


def _prod(arrays):
    out = arrays[0]
    for a in arrays[1:]:
        out = out * a
    return out


def _taps(xp, grid, spatial, config, slopes):
    """Every output point's taps, tensor products of the dims' taps: flat indices into the
    spatial plane (T, N, P), weights (T, N, P) (0 for a tap outside the input) and, with
    slopes (and not 'nearest'), d weight / d grid[..., nd - 1 - k] for each input dim k
    ((T, N, P) each; grid lists x, the last input dim, first)."""
    mode, padding_mode, align_corners = config
    nd, N = len(spatial), grid.shape[0]
    g = grid.reshape(N, -1, nd)                                             # (N, P, nd)
    dims = [_dim_taps(xp, g[..., nd - 1 - k], n, mode, padding_mode, align_corners)
            for k, n in enumerate(spatial)]                                 # input order
    slopes = slopes and mode != "nearest"
    index, weight, dweight, insides = [], [], [[] for _ in range(nd)], []
    for combo in itertools.product(*[taps for taps, _ in dims]):
        flat, ok = 0, True
        for (i, inside, _, _), n in zip(combo, spatial):
            flat, ok = flat * n + i, ok & inside
        index.append(flat)
        insides.append(ok)
        ok = ok.astype(grid.dtype)
        if mode == "nearest":
            weight.append(ok)
            continue
        ws = [w for _, _, w, _ in combo]
        weight.append(_prod(ws) * ok)
        for k in range(nd if slopes else 0):
            dweight[k].append(_prod(ws[:k] + [combo[k][3] * ok] + ws[k + 1:]))
    stack = xp.stack
    slope_arrays = [stack(d) * mult for d, (_, mult) in zip(dweight, dims)] if slopes else None
    return stack(index), stack(weight), slope_arrays, stack(insides)


def _linear_index(xp, index, N, C, S):
    """Tap indices (T, N, P) -> indices into x.ravel() (T, N, C, P) for x (N, C, S)."""
    planes = (xp.arange(N * C, dtype=np.int64) * S).reshape(1, N, C, 1)
    return planes + index[:, :, None, :]


class GridSample(Function):
    """input (N, C, *spatial), grid (N, *out, nd) -> (N, C, *out): the taps' weighted sum
    (module doc). Its backward is GridSampleBackward (array code, not differentiable again)."""

    def forward(self, x, grid, mode, padding_mode, align_corners):
        self.config = (mode, padding_mode, align_corners)
        self.save_for_backward(x, grid)
        N, C = x.shape[:2]
        spatial = x.shape[2:]
        index, weight, _, inside = _taps(self.xp, grid, spatial, self.config, False)
        lin = _linear_index(self.xp, index, N, C, int(np.prod(spatial)))       # (T, N, C, P)
        vals = self.xp.ascontiguousarray(x).reshape(-1).take(lin)              # (T, N, C, P)
        # a tap outside the input reads a clipped index: left out, not times 0 (0 * inf)
        out = self.xp.where(inside[:, :, None, :], vals * weight[:, :, None, :], 0).sum(0)
        return out.reshape((N, C) + grid.shape[1:-1])

    def backward(self, gy):
        x, grid = self.saved_tensors
        needs = (self.inputs[0] is not None, self.inputs[1] is not None)
        gx, ggrid = GridSampleBackward.apply(gy, x, grid, self.config, needs)
        return (gx if needs[0] else None), (ggrid if needs[1] else None), None, None, None


class GridSampleBackward(Function):
    """(gy, x, grid) -> (d/dx, d/dgrid) of GridSample, on arrays (what is not needed is zeros):
    the input gradient scatters gy with the taps' weights (one bincount), the grid gradient sums
    each tap's value times its weight's slope. Not differentiable again (backward raises)."""

    def forward(self, gy, x, grid, config, needs):
        xp = self.xp
        N, C = x.shape[:2]
        spatial, nd = x.shape[2:], grid.shape[-1]
        S = int(np.prod(spatial))
        index, weight, slopes, inside = _taps(xp, grid, spatial, config, needs[1])
        lin = _linear_index(xp, index, N, C, S)                                # (T, N, C, P)
        g = gy.reshape(1, N, C, -1)                                            # (1, N, C, P)
        gx = xp.zeros_like(x)
        if needs[0]:
            contrib = xp.broadcast_to(g * weight[:, :, None, :], lin.shape)
            gx = xp.bincount(lin.reshape(-1), weights=contrib.reshape(-1), minlength=N * C * S)
            gx = gx.astype(x.dtype).reshape(x.shape)
        # C-ordered, so that `flat` below is a view of it: zeros_like keeps a permuted grid's
        # strides, and the reshape of that is a copy (the written gradient was lost: zeros)
        ggrid = xp.zeros(grid.shape, dtype=grid.dtype)
        if slopes is not None:
            vals = xp.ascontiguousarray(x).reshape(-1).take(lin)
            gv = xp.where(inside[:, :, None, :], vals * g, 0).sum(2)          # (T, N, P)
            flat = ggrid.reshape(N, -1, nd)                                    # (N, P, nd)
            for k, dw in enumerate(slopes):
                flat[..., nd - 1 - k] = (gv * dw).sum(0)
        return gx, ggrid

    def backward(self, ggx, gggrid):
        raise NotImplementedError(
            "grid_sample: double backward (differentiating grid_sample's gradient, e.g. with "
            "create_graph=True followed by another backward) is not implemented in tinygen")


def _check_grid_sample(input, grid, mode, padding_mode):
    op = "grid_sample()"
    if mode not in MODES:
        raise ValueError(f"{op}: expected mode to be 'bilinear', 'nearest' or 'bicubic', but "
                         f"got: {mode!r}")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{op}: expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: {padding_mode!r}")
    shapes = f"input with sizes {tuple(input.shape)} and grid with sizes {tuple(grid.shape)}"
    if input.ndim not in (4, 5) or grid.ndim != input.ndim:
        raise RuntimeError(f"{op}: expected 4D or 5D input and grid with the same number of "
                           f"dimensions, but got {shapes}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"{op}: expected grid and input to have same batch size, but got "
                           f"{shapes}")
    if grid.shape[-1] != input.ndim - 2:
        raise RuntimeError(f"{op}: expected grid to have size {input.ndim - 2} in last "
                           f"dimension, but got {shapes}")
    if min(input.shape[2:]) <= 0:
        raise RuntimeError(f"{op}: expected input to have non-empty spatial dimensions, but got "
                           f"{shapes}")
    if mode == "bicubic" and input.ndim != 4:
        raise RuntimeError(f"{op}: bicubic interpolation only supports 4D input, got {shapes}")
    if not input.dtype.is_floating_point or input.dtype != grid.dtype:
        raise RuntimeError(f"{op}: expected floating-point input and grid of the same dtype, "
                           f"but input has {input.dtype} and grid has {grid.dtype}")


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """input (N, C, H, W) sampled at grid (N, H_out, W_out, 2) -> (N, C, H_out, W_out) (5-D:
    input (N, C, D, H, W), grid (N, D_out, H_out, W_out, 3)), as
    torch.nn.functional.grid_sample; the grid's last dim holds (x, y[, z]) in [-1, 1]. See the
    module doc for the modes and padding modes. align_corners=None is False, with PyTorch's
    warning. Differentiable once with respect to input and grid."""
    _check_grid_sample(input, grid, mode, padding_mode)
    if align_corners is None:
        warnings.warn(ALIGN_WARNING, stacklevel=2)
        align_corners = False
    return GridSample.apply(input, grid, mode, padding_mode, bool(align_corners))
