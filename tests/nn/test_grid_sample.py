"""affine_grid and grid_sample (tinygen/ops/grid_sample.py) against PyTorch: values and
gradients (input, grid, theta) over every mode x padding mode x align_corners, 4-D and 5-D,
float64 and float32, grids partly outside [-1, 1]; exact-border grids (identity transforms);
warnings and error messages."""
import warnings

import numpy as np
import pytest

import tinygen as tg
from tinygen.ops.grid_sample import affine_grid, grid_sample

torch = pytest.importorskip("torch")
TF = torch.nn.functional

MODES = ("bilinear", "nearest", "bicubic")
PADDINGS = ("zeros", "border", "reflection")
TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-4, atol=1e-4)}


def _pair(a, requires_grad=True):
    return tg.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad)


def _close(actual, expected, what, dtype):
    a = actual.detach().numpy() if hasattr(actual, "detach") else np.asarray(actual)
    e = expected.detach().numpy()
    assert a.shape == e.shape, f"{what}: shape {a.shape} != torch's {e.shape}"
    np.testing.assert_allclose(a, e, err_msg=what, **TOL[dtype])


def _compare_sample(x, g, dtype, seed=0, **kw):
    """grid_sample(x, g, **kw): value and gradients wrt input and grid match torch's."""
    (a, A), (b, B) = _pair(x.astype(dtype)), _pair(g.astype(dtype))
    y, Y = grid_sample(a, b, **kw), TF.grid_sample(A, B, **kw)
    _close(y, Y, f"forward {kw}", dtype)
    gy = np.random.default_rng(seed).standard_normal(Y.shape).astype(dtype)
    y.backward(tg.tensor(gy))
    Y.backward(torch.tensor(gy))
    _close(a.grad, A.grad, f"input gradient {kw}", dtype)
    _close(b.grad, B.grad, f"grid gradient {kw}", dtype)


CASES_2D = [((2, 3, 5, 6), (2, 4, 7, 2)), ((1, 2, 1, 4), (1, 3, 3, 2)),   # height 1
            ((3, 1, 8, 8), (3, 8, 8, 2)), ((2, 2, 4, 3), (2, 1, 9, 2))]
CASES_3D = [((2, 2, 3, 4, 5), (2, 2, 3, 4, 3)), ((1, 1, 1, 3, 2), (1, 2, 2, 2, 3))]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_grid_sample_2d_matches_torch(mode, padding_mode, align_corners, dtype):
    rng = np.random.default_rng(hash((mode, padding_mode, align_corners)) % 2 ** 32)
    for k, (xs, gs) in enumerate(CASES_2D):
        x = rng.standard_normal(xs)
        g = rng.uniform(-1.6, 1.6, gs)                    # partly outside [-1, 1]
        if k == 3:
            g = rng.uniform(-4.5, 4.5, gs)                # far outside: several reflections
        _compare_sample(x, g, dtype, seed=k, mode=mode, padding_mode=padding_mode,
                        align_corners=align_corners)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_3d_matches_torch(mode, padding_mode, align_corners):
    rng = np.random.default_rng(7)
    for xs, gs in CASES_3D:
        _compare_sample(rng.standard_normal(xs), rng.uniform(-1.5, 1.5, gs), np.float64,
                        mode=mode, padding_mode=padding_mode, align_corners=align_corners)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_identity_grid_on_the_borders(mode, padding_mode, align_corners):
    """affine_grid's identity grid puts points exactly on pixel centres and (align_corners)
    on the borders, where the clipping slopes decide the grid gradient."""
    theta = np.tile(np.array([[1.0, 0, 0], [0, 1, 0]]), (2, 1, 1))
    t, T = _pair(theta, requires_grad=False)
    size = (2, 3, 4, 5)
    g = affine_grid(t, size, align_corners=align_corners).numpy()
    x = np.random.default_rng(1).standard_normal(size)
    _compare_sample(x, g, np.float64, mode=mode, padding_mode=padding_mode,
                    align_corners=align_corners)
    if mode != "bicubic":
        y = grid_sample(tg.tensor(x), tg.tensor(g), mode=mode, padding_mode=padding_mode,
                        align_corners=align_corners)
        np.testing.assert_allclose(y.numpy(), x, atol=1e-12)


AFFINE_SIZES = [(2, 3, 5, 6), (1, 1, 1, 4), (2, 1, 1, 1), (3, 2, 4, 3, 5), (1, 1, 2, 1, 3)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", AFFINE_SIZES)
def test_affine_grid_matches_torch(size, align_corners, dtype):
    nd = len(size) - 2
    rng = np.random.default_rng(len(size))
    t, T = _pair(rng.standard_normal((size[0], nd, nd + 1)).astype(dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                   # unit-size grids with align_corners
        g, G = affine_grid(t, size, align_corners), TF.affine_grid(T, size, align_corners)
    _close(g, G, "affine_grid", dtype)
    gy = rng.standard_normal(G.shape).astype(dtype)
    g.backward(tg.tensor(gy))
    G.backward(torch.tensor(gy))
    _close(t.grad, T.grad, "theta gradient", dtype)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_spatial_transformer_theta_gradient(mode, padding_mode, align_corners):
    """affine_grid -> grid_sample, as in a spatial transformer: gradients wrt theta and input."""
    rng = np.random.default_rng(3)
    theta = np.array([[1.2, 0.3, 0.1], [-0.2, 0.9, -0.3]]) + 0.3 * rng.standard_normal((4, 2, 3))
    (t, T), (a, A) = _pair(theta), _pair(rng.standard_normal((4, 2, 6, 7)))
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    y = grid_sample(a, affine_grid(t, (4, 2, 5, 4), align_corners), **kw)
    Y = TF.grid_sample(A, TF.affine_grid(T, (4, 2, 5, 4), align_corners), **kw)
    _close(y, Y, "forward", np.float64)
    (y * y).sum().backward()
    (Y * Y).sum().backward()
    _close(t.grad, T.grad, "theta gradient", np.float64)
    _close(a.grad, A.grad, "input gradient", np.float64)


def test_affine_grid_double_backward_matches_torch():
    (t, T), (w, W) = _pair(np.random.default_rng(0).standard_normal((2, 2, 3))), _pair(
        np.random.default_rng(1).standard_normal((2, 3, 4, 2)), requires_grad=False)
    (gt,) = tg.autograd.grad((affine_grid(t, (2, 1, 3, 4), True) ** 2 * w).sum(), [t],
                             create_graph=True)
    (GT,) = torch.autograd.grad((TF.affine_grid(T, (2, 1, 3, 4), True) ** 2 * W).sum(), [T],
                                create_graph=True)
    _close(gt, GT, "first gradient", np.float64)
    gt.sum().backward()
    GT.sum().backward()
    _close(t.grad, T.grad, "second gradient", np.float64)


def test_nearest_gives_the_grid_a_zero_gradient():
    a, b = tg.tensor(np.ones((1, 1, 3, 3))), tg.tensor(np.zeros((1, 2, 2, 2)), requires_grad=True)
    grid_sample(a, b, mode="nearest", align_corners=False).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), np.zeros((1, 2, 2, 2)))


def test_only_the_needed_gradient():
    a, b = tg.tensor(np.ones((1, 1, 3, 3))), tg.tensor(np.zeros((1, 2, 2, 2)), requires_grad=True)
    grid_sample(a, b, align_corners=True).sum().backward()
    assert a.grad is None and b.grad is not None


def test_double_backward_of_grid_sample_raises_clearly():
    a = tg.tensor(np.ones((1, 1, 3, 3)), requires_grad=True)
    b = tg.tensor(np.zeros((1, 2, 2, 2)), requires_grad=True)
    (ga,) = tg.autograd.grad(grid_sample(a, b, align_corners=True).sum(), [a], create_graph=True)
    with pytest.raises(NotImplementedError, match="grid_sample: double backward"):
        (ga * ga).sum().backward()


@pytest.mark.parametrize("call", ["grid_sample", "affine_grid"])
def test_align_corners_none_warns_as_torch(call):
    x, g, theta = np.ones((1, 1, 3, 3)), np.zeros((1, 2, 2, 2)), np.zeros((1, 2, 3))
    with pytest.warns(UserWarning) as ours:
        y = grid_sample(tg.tensor(x), tg.tensor(g)) if call == "grid_sample" else \
            affine_grid(tg.tensor(theta), (1, 1, 3, 3))
    with pytest.warns(UserWarning) as theirs:
        Y = TF.grid_sample(torch.tensor(x), torch.tensor(g)) if call == "grid_sample" else \
            TF.affine_grid(torch.tensor(theta), (1, 1, 3, 3))
    assert str(ours[0].message) == str(theirs[0].message)
    _close(y, Y, "align_corners=None is False", np.float64)


def _t(*shape, dtype=np.float64):
    return tg.tensor(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((_t(1, 1, 3, 3), _t(1, 2, 2, 2)), dict(mode="linear"), ValueError,
     "grid_sample.*mode.*'bilinear', 'nearest' or 'bicubic'.*'linear'"),
    ((_t(1, 1, 3, 3), _t(1, 2, 2, 2)), dict(padding_mode="wrap"), ValueError,
     "grid_sample.*padding_mode.*'wrap'"),
    ((_t(1, 3, 3), _t(1, 2, 2)), {}, RuntimeError, r"grid_sample.*4D or 5D.*\(1, 3, 3\)"),
    ((_t(1, 1, 3, 3), _t(1, 2, 2, 2, 3)), {}, RuntimeError, "same number of dimensions"),
    ((_t(2, 1, 3, 3), _t(1, 2, 2, 2)), {}, RuntimeError, "same batch size.*\\(2, 1, 3, 3\\)"),
    ((_t(1, 1, 3, 3), _t(1, 2, 2, 3)), {}, RuntimeError, "size 2 in last dimension"),
    ((_t(1, 1, 0, 3), _t(1, 2, 2, 2)), {}, RuntimeError, "non-empty spatial"),
    ((_t(1, 1, 2, 3, 3), _t(1, 2, 2, 2, 3)), dict(mode="bicubic"), RuntimeError,
     "bicubic interpolation only supports 4D"),
    ((_t(1, 1, 3, 3), _t(1, 2, 2, 2, dtype=np.float32)), {}, RuntimeError, "same dtype"),
    ((_t(1, 1, 3, 3, dtype=np.int64), _t(1, 2, 2, 2, dtype=np.int64)), {}, RuntimeError,
     "floating-point"),
])
def test_grid_sample_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        grid_sample(*args, align_corners=False, **kwargs)


@pytest.mark.parametrize("theta, size, error, match", [
    (_t(1, 2, 3), (1, 1, 3), NotImplementedError, "only supports 4D and 5D sizes"),
    (_t(1, 3, 4), (1, 1, 3, 3), ValueError, "affine_grid.*Nx2x3 for size.*Got \\(1, 3, 4\\)"),
    (_t(1, 2, 3), (1, 1, 3, 3, 3), ValueError, "Nx3x4"),
    (_t(2, 2, 3), (1, 1, 3, 3), ValueError, "batch size 2"),
    (_t(1, 2, 3), (1, 1, 0, 3), ValueError, "positive output size"),
    (_t(1, 2, 3, dtype=np.int64), (1, 1, 3, 3), ValueError, "floating point"),
])
def test_affine_grid_errors(theta, size, error, match):
    with pytest.raises(error, match=match):
        affine_grid(theta, size, align_corners=False)
