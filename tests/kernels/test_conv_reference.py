"""The conv2d references (tinygen_kernels.conv) against PyTorch (float64, 1e-10), against naive
loops, and against each other (the backward kernels are the adjoints of the forward)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygen_kernels import conv

TOL64 = {"rtol": 1e-10, "atol": 1e-10}
TOL32 = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def naive_conv2d(x, w, stride, padding, dilation, groups):
    """The definition, one output element at a time, bounds checked (no padded copy)."""
    N, _, H, W = x.shape
    O, Cg, kh, kw = w.shape
    oh = (H + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (W + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((N, O, oh, ow), dtype=x.dtype)
    for n in range(N):
        for o in range(O):
            g = o // (O // groups)
            for r in range(oh):
                for c in range(ow):
                    total = 0.0
                    for ci in range(Cg):
                        for i in range(kh):
                            for j in range(kw):
                                row = r * stride[0] - padding[0] + i * dilation[0]
                                col = c * stride[1] - padding[1] + j * dilation[1]
                                if 0 <= row < H and 0 <= col < W:
                                    total += x[n, g * Cg + ci, row, col] * w[o, ci, i, j]
                    y[n, o, r, c] = total
    return y


# (x_shape, w_shape, stride, padding, dilation, groups)
CASES = {
    "plain_3x3": ((2, 3, 7, 7), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),
    "stride2_pad": ((2, 3, 8, 9), (5, 3, 3, 3), (2, 2), (1, 1), (1, 1), 1),
    "stride2_last_row_unused": ((2, 3, 8, 9), (2, 3, 3, 3), (2, 2), (0, 0), (1, 1), 1),
    "stride2_k4_dcgan": ((2, 4, 8, 8), (3, 4, 4, 4), (2, 2), (1, 1), (1, 1), 1),
    "dilation2": ((1, 2, 9, 10), (3, 2, 3, 3), (1, 1), (2, 2), (2, 2), 1),
    "groups2": ((2, 4, 6, 7), (6, 2, 3, 3), (1, 1), (1, 1), (1, 1), 2),
    "depthwise": ((2, 4, 6, 6), (4, 1, 3, 3), (1, 1), (1, 1), (1, 1), 4),
    "depthwise_multiplier": ((1, 3, 6, 5), (6, 1, 3, 2), (2, 1), (1, 0), (1, 1), 3),
    "1x1": ((3, 5, 4, 6), (2, 5, 1, 1), (1, 1), (0, 0), (1, 1), 1),
    "1x1_stride2_pad": ((2, 4, 5, 6), (4, 2, 1, 1), (2, 2), (1, 1), (1, 1), 2),
    "non_square_everything": ((1, 2, 11, 7), (3, 2, 3, 2), (3, 2), (2, 1), (2, 3), 1),
    "N1_no_pad_5x5": ((1, 2, 9, 9), (2, 2, 5, 5), (1, 1), (0, 0), (1, 1), 1),
    "kernel_bigger_than_input": ((2, 2, 3, 3), (2, 2, 5, 5), (1, 1), (2, 2), (1, 1), 1),
    # at least _PER_IMAGE_MIN_L outputs per image: the GEMMs go image by image
    "per_image_gemms": ((3, 2, 24, 23), (3, 2, 3, 2), (1, 1), (0, 1), (1, 1), 1),
    # short columns (K = 8) and 128 <= L < 512 outputs: the weight gradient image by image
    "per_image_weight_gemms": ((3, 2, 14, 12), (3, 2, 2, 2), (1, 1), (0, 0), (1, 1), 1),
}


def _draw(rng, x_shape, w_shape, stride, padding, dilation, groups, dtype=np.float64):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    y_shape = conv.conv2d_fwd(x, w, stride, padding, dilation, groups).shape
    gy = rng.standard_normal(y_shape).astype(dtype)
    return x, w, gy


def _torch_conv(torch, x, w, gy, stride, padding, dilation, groups):
    """PyTorch's y, dL/dx, dL/dw for L = sum(y * gy)."""
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    y = torch.nn.functional.conv2d(tx, tw, None, stride, padding, dilation, groups)
    y.backward(torch.tensor(gy))
    return y.detach().numpy(), tx.grad.numpy(), tw.grad.numpy()


def _check_against_torch(torch, case, dtype=np.float64, tol=TOL64, seed=0):
    _, _, stride, padding, dilation, groups = case
    x, w, gy = _draw(np.random.default_rng(seed), *case, dtype=dtype)
    y_t, gx_t, gw_t = _torch_conv(torch, x.astype(np.float64), w.astype(np.float64),
                                  gy.astype(np.float64), stride, padding, dilation, groups)
    y = conv.conv2d_fwd(x, w, stride, padding, dilation, groups)
    gx = conv.conv2d_bwd_input(gy, w, x.shape, stride, padding, dilation, groups)
    gw = conv.conv2d_bwd_weight(x, gy, w.shape, stride, padding, dilation, groups)
    for ours, theirs in ((y, y_t), (gx, gx_t), (gw, gw_t)):
        assert ours.dtype == dtype
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, **tol)


@pytest.mark.parametrize("name", sorted(CASES))
def test_conv2d_matches_torch(torch, name):
    _check_against_torch(torch, CASES[name])


@pytest.mark.parametrize("name", ["plain_3x3", "stride2_pad", "groups2", "non_square_everything"])
def test_conv2d_float32_matches_torch(torch, name):
    _check_against_torch(torch, CASES[name], dtype=np.float32, tol=TOL32)


@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    # the smallest input with one output, plus a few rows/cols
    hw = [max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 5))
          for k, d, p in zip(kernel, dilation, padding)]
    x_shape = (draw(st.integers(1, 3)), groups * draw(st.integers(1, 3)), *hw)
    w_shape = (groups * draw(st.integers(1, 3)), x_shape[1] // groups, *kernel)
    return x_shape, w_shape, stride, padding, dilation, groups


@settings(max_examples=60, deadline=None)
@given(case=conv_cases(), seed=st.integers(0, 2**16))
def test_conv2d_matches_torch_drawn(torch, case, seed):
    _check_against_torch(torch, case, seed=seed)


@pytest.mark.parametrize("case", [
    # (gy_shape, w_shape, stride, padding, dilation, groups)
    ((2, 6, 5, 6), (6, 2, 3, 3), (2, 2), (1, 1), (1, 1), 2),
    ((1, 3, 6, 5), (3, 2, 3, 2), (3, 2), (1, 0), (1, 2), 1),
    ((1, 2, 7, 7), (2, 2, 4, 4), (2, 2), (1, 1), (2, 1), 1),
    ((1, 2, 4, 4), (2, 1, 3, 3), (1, 1), (0, 0), (3, 2), 1),    # stride 1, output_padding < dilation
])
def test_bwd_input_is_conv_transpose_with_output_padding(torch, case):
    """conv2d_bwd_input is conv_transpose2d; every output_padding gives an x_shape whose conv
    output is gy's size. Its extra rows/cols get gradient only where a window reaches them."""
    gy_shape, w_shape, stride, padding, dilation, groups = case
    rng = np.random.default_rng(1)
    gy = rng.standard_normal(gy_shape)
    w = rng.standard_normal(w_shape)
    C = w_shape[1] * groups
    pads = [range(max(s, d)) for s, d in zip(stride, dilation)]    # PyTorch's allowed range
    for out_pad in [(a, b) for a in pads[0] for b in pads[1]]:
        expected = torch.nn.functional.conv_transpose2d(
            torch.tensor(gy), torch.tensor(w), None, stride, padding, out_pad, groups,
            dilation).numpy()
        x_shape = (gy_shape[0], C, *expected.shape[-2:])
        gx = conv.conv2d_bwd_input(gy, w, x_shape, stride, padding, dilation, groups)
        np.testing.assert_allclose(gx, expected, **TOL64)


@pytest.mark.parametrize("name", ["stride2_pad", "dilation2", "groups2", "non_square_everything"])
def test_conv2d_fwd_matches_naive_loops(name):
    _, _, stride, padding, dilation, groups = CASES[name]
    x, w, _ = _draw(np.random.default_rng(2), *CASES[name])
    want = naive_conv2d(x, w, stride, padding, dilation, groups)
    np.testing.assert_allclose(conv.conv2d_fwd(x, w, stride, padding, dilation, groups), want,
                               **TOL64)
    bias = np.random.default_rng(3).standard_normal(w.shape[0])
    np.testing.assert_allclose(conv.conv2d_fwd(x, w, stride, padding, dilation, groups, bias),
                               want + bias[:, None, None], **TOL64)


@pytest.mark.parametrize("name", ["stride2_pad", "stride2_last_row_unused", "dilation2", "groups2",
                                  "non_square_everything", "depthwise_multiplier"])
def test_backward_kernels_are_adjoints_of_forward(name):
    """<conv(x, w), gy> = <x, bwd_input(gy, w)> = <w, bwd_weight(x, gy)>: the three are one
    bilinear form, so with the naive forward this checks the backward kernels without torch.
    ("stride2_last_row_unused": the last input row is in no window, its gradient is 0.)"""
    _, _, stride, padding, dilation, groups = CASES[name]
    rng = np.random.default_rng(3)
    x, w, gy = _draw(rng, *CASES[name])
    form = np.sum(naive_conv2d(x, w, stride, padding, dilation, groups) * gy)
    gx = conv.conv2d_bwd_input(gy, w, x.shape, stride, padding, dilation, groups)
    gw = conv.conv2d_bwd_weight(x, gy, w.shape, stride, padding, dilation, groups)
    np.testing.assert_allclose(np.sum(x * gx), form, **TOL64)
    np.testing.assert_allclose(np.sum(w * gw), form, **TOL64)


def test_bwd_input_leaves_rows_no_window_reaches_at_zero():
    # 1 row, kernel 1, stride 3: input rows 1, 2, 4, 5 are in no window
    gy = np.ones((1, 1, 2, 1))
    w = np.full((1, 1, 1, 1), 2.0)
    gx = conv.conv2d_bwd_input(gy, w, (1, 1, 6, 1), (3, 1), (0, 0), (1, 1), 1)
    np.testing.assert_array_equal(gx[0, 0, :, 0], [2, 0, 0, 2, 0, 0])


def test_chunked_batch_matches_one_chunk(monkeypatch):
    """The batch is processed in cache-sized chunks on the CPU: force chunks of 1 and of the
    whole batch (and a batch that does not divide evenly) and compare."""
    x_shape, w_shape, stride, padding, dilation, groups = CASES["stride2_pad"]
    x, w, gy = _draw(np.random.default_rng(4), (5, *x_shape[1:]), w_shape, stride, padding,
                     dilation, groups)
    results = []
    for chunk in (1, 2, 5):                     # 5 images in chunks of 1, of 2 (2 + 2 + 1), all
        monkeypatch.setattr(conv, "_batch_chunk", lambda xp, n, item_bytes, chunk=chunk: chunk)
        results.append((conv.conv2d_fwd(x, w, stride, padding, dilation, groups),
                        conv.conv2d_bwd_input(gy, w, x.shape, stride, padding, dilation, groups),
                        conv.conv2d_bwd_weight(x, gy, w.shape, stride, padding, dilation, groups)))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(a, b, **TOL64)


def test_non_contiguous_inputs():
    x, w, gy = _draw(np.random.default_rng(5), *CASES["groups2"])
    args = CASES["groups2"][2:]
    x_t = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)   # F-ish strides
    gy_t = np.ascontiguousarray(gy[:, ::-1])[:, ::-1]
    w_t = np.asfortranarray(w)
    np.testing.assert_allclose(conv.conv2d_fwd(x_t, w_t, *args), conv.conv2d_fwd(x, w, *args),
                               **TOL64)
    np.testing.assert_allclose(conv.conv2d_bwd_input(gy_t, w_t, x.shape, *args),
                               conv.conv2d_bwd_input(gy, w, x.shape, *args), **TOL64)
    np.testing.assert_allclose(conv.conv2d_bwd_weight(x_t, gy_t, w.shape, *args),
                               conv.conv2d_bwd_weight(x, gy, w.shape, *args), **TOL64)


def test_registry_examples_run():
    from tinygen_kernels import registry
    rng = np.random.default_rng(6)
    for name in ("conv2d_fwd", "conv2d_bwd_input", "conv2d_bwd_weight"):
        entry = registry.references()[name]
        args, kwargs = entry.example(rng, "test")
        out = entry.reference(*args, **kwargs)
        assert out.dtype == np.float32 and np.all(np.isfinite(out))


def test_empty_batch():
    x = np.zeros((0, 4, 6, 7))
    w = np.ones((6, 2, 3, 3))
    args = ((1, 1), (1, 1), (1, 1), 2)
    y = conv.conv2d_fwd(x, w, *args)
    assert y.shape == (0, 6, 6, 7)
    assert conv.conv2d_bwd_input(y, w, x.shape, *args).shape == x.shape
    np.testing.assert_array_equal(conv.conv2d_bwd_weight(x, y, w.shape, *args), np.zeros(w.shape))
