"""Random geometries drawn by hypothesis: conv2d, conv_transpose2d, max_pool2d, avg_pool2d,
adaptive_avg_pool2d and interpolate against PyTorch (float64): forward and first derivatives
(the fixed grids in the other files check second derivatives)."""
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

import tinygen.nn.functional as F  # noqa: E402
from test_functional_helpers import check_torch, check_grads, randn, torch  # noqa: E402

TF = torch.nn.functional
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


@st.composite
def conv_geometry(draw, transposed=False):
    groups = draw(st.integers(1, 2))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 1)))
    extent = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    hw = tuple(draw(st.integers(max(1, e - 2 * p), e + 4)) for e, p in zip(extent, padding))
    n = draw(st.integers(1, 2))
    bias = draw(st.booleans())
    if transposed:
        output_padding = tuple(draw(st.integers(0, max(s, d) - 1))
                               for s, d in zip(stride, dilation))
        return dict(x=(n, c_in, *hw), w=(c_in, c_out // groups, *kernel), bias=bias,
                    kwargs=dict(stride=stride, padding=padding, output_padding=output_padding,
                                groups=groups, dilation=dilation))
    return dict(x=(n, c_in, *hw), w=(c_out, c_in // groups, *kernel), bias=bias,
                kwargs=dict(stride=stride, padding=padding, dilation=dilation, groups=groups))


def _arrays(g, out_channels):
    return [randn(*g["x"]), randn(*g["w"]), randn(out_channels) if g["bias"] else None]


@SETTINGS
@given(conv_geometry())
def test_conv2d_random_geometry(g):
    check_torch(lambda x, w, b: F.conv2d(x, w, b, **g["kwargs"]),
                lambda x, w, b: TF.conv2d(x, w, b, **g["kwargs"]), _arrays(g, g["w"][0]),
                second=False)


@SETTINGS
@given(conv_geometry(transposed=True))
def test_conv_transpose2d_random_geometry(g):
    out_channels = g["w"][1] * g["kwargs"]["groups"]
    try:
        out = TF.conv_transpose2d(torch.zeros(g["x"]), torch.zeros(g["w"]), **g["kwargs"])
    except RuntimeError:
        out = None
    hypothesis.assume(out is not None and out.numel() > 0)    # tinygen raises for empty outputs
    check_torch(lambda x, w, b: F.conv_transpose2d(x, w, b, **g["kwargs"]),
                lambda x, w, b: TF.conv_transpose2d(x, w, b, **g["kwargs"]),
                _arrays(g, out_channels), second=False)


@st.composite
def pool_geometry(draw):
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    hw = tuple(draw(st.integers(k, k + 5)) for k in kernel)
    return dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 2)), *hw), kernel=kernel,
                stride=stride, padding=padding, ceil_mode=draw(st.booleans()))


@SETTINGS
@given(pool_geometry(), st.integers(1, 2), st.booleans())
def test_pools_random_geometry(g, dilation, count_include_pad):
    common = dict(kernel_size=g["kernel"], stride=g["stride"], padding=g["padding"],
                  ceil_mode=g["ceil_mode"])
    x = [randn(*g["shape"])]
    check_torch(lambda x: F.avg_pool2d(x, count_include_pad=count_include_pad, **common),
                lambda x: TF.avg_pool2d(x, count_include_pad=count_include_pad, **common), x,
                second=False)
    extent_ok = all(p <= (dilation * (k - 1) + 1) // 2 and n + 2 * p >= dilation * (k - 1) + 1
                    for p, k, n in zip(g["padding"], g["kernel"], g["shape"][2:]))
    if extent_ok:
        check_torch(lambda x: F.max_pool2d(x, dilation=dilation, **common),
                    lambda x: TF.max_pool2d(x, dilation=dilation, **common), x, second=False)


@SETTINGS
@given(st.tuples(st.integers(1, 7), st.integers(1, 7)), st.tuples(st.integers(1, 7),
                                                                  st.integers(1, 7)))
def test_adaptive_avg_pool2d_and_interpolate_random_sizes(in_hw, out_hw):
    x = [randn(1, 2, *in_hw)]
    check_torch(lambda x: F.adaptive_avg_pool2d(x, out_hw),
                lambda x: TF.adaptive_avg_pool2d(x, out_hw), x, second=False)
    check_torch(lambda x: F.interpolate(x, size=out_hw), lambda x: TF.interpolate(x, size=out_hw),
                x, second=False)


@SETTINGS
@given(st.integers(1, 6), st.floats(0.3, 3.5))
def test_interpolate_random_scale_factor(size, scale):
    """Forward against torch; the gradient by finite differences: torch's CPU backward takes a
    shortcut when the sizes match (identity) that its forward does not (e.g. size 2, scale 1.25:
    forward indices [0, 0]), so its gradient is not the forward's."""
    if int(size * scale) < 1:
        return
    check_torch(lambda x: F.interpolate(x, scale_factor=scale),
                lambda x: TF.interpolate(x, scale_factor=scale), [randn(1, 1, size)], diff=[])
    check_grads(lambda x: F.interpolate(x, scale_factor=scale), [randn(1, 1, size)],
                second=False)
