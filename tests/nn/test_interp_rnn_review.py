"""PyTorch parity found by a review: F.interpolate (a dim whose size is kept, PyTorch's 4-D nearest
shortcut, argument and size errors), F.pad (negative pads in every mode, fill values that
overflow the dtype, argument errors) and the recurrent cells and layers (hx checks, nonlinearity,
dropout, hidden_size 0, empty sequences). Values and gradients in float64 against PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from test_functional_helpers import check_grads, check_torch, randn, torch
from test_layers_helpers import check_layer

TF = torch.nn.functional


def _raises_like_torch(tg_call, torch_call):
    """Both calls raise the same exception type; returns (tinygen's, torch's) messages."""
    with pytest.raises(Exception) as ref:
        torch_call()
    with pytest.raises(Exception) as ours:
        tg_call()
    assert ours.type is ref.type, f"tinygen raised {ours.type.__name__}: {ours.value}; " \
        f"torch raised {ref.type.__name__}: {ref.value}"
    return str(ours.value), str(ref.value)


# ---- interpolate(antialias=True) ---------------------------------------------------------------
ANTIALIAS = [((2, 3, 13, 7), dict(size=(4, 4))), ((1, 2, 30, 17), dict(size=(3, 11))),
             ((1, 1, 8, 8), dict(scale_factor=0.37)), ((1, 2, 5, 9), dict(scale_factor=1.7)),
             ((1, 1, 6, 9), dict(size=(12, 2))), ((1, 1, 64, 48), dict(size=(1, 1))),
             ((1, 1, 8, 8), dict(scale_factor=(0.5, 1.0)))]


@pytest.mark.parametrize("mode, align_corners", [("bilinear", False), ("bilinear", True),
                                                 ("bicubic", False), ("bicubic", True),
                                                 ("lanczos", None)])
@pytest.mark.parametrize("shape, resize", ANTIALIAS)
def test_interpolate_antialias_matches_torch(shape, resize, mode, align_corners):
    """PIL's resampling (downsampling reads every input; upsampling renormalises the edges):
    values, first and second derivatives against PyTorch."""
    check_torch(lambda x: F.interpolate(x, mode=mode, align_corners=align_corners,
                                        antialias=True, **resize),
                lambda x: TF.interpolate(x, mode=mode, align_corners=align_corners,
                                         antialias=True, **resize), [randn(*shape)])


def test_interpolate_antialias_keeps_a_dim_of_unchanged_size_with_the_true_gradient():
    """scale_factor 1.1 on a side of 8 keeps it: the forward copies it, as PyTorch's (whose
    backward resamples it: its gradcheck fails there); the gradient here is the forward's."""
    x = randn(1, 1, 8, 8)
    y = F.interpolate(tg.tensor(x), scale_factor=(0.5, 1.1), mode="bilinear", antialias=True)
    ref = TF.interpolate(torch.tensor(x), scale_factor=(0.5, 1.1), mode="bilinear",
                         antialias=True)
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)
    check_grads(lambda x: F.interpolate(x, scale_factor=(0.5, 1.1), mode="bicubic",
                                        antialias=True), [x])


@pytest.mark.parametrize("mode, shape, options", [
    ("nearest", (1, 1, 8, 8), {"antialias": True}), ("linear", (1, 1, 8), {"antialias": True}),
    ("bilinear", (1, 1, 2, 8, 8), {"antialias": True}), ("lanczos", (1, 1, 8, 8), {}),
    ("lanczos", (1, 1, 8, 8), {"antialias": True, "align_corners": True})])
def test_interpolate_antialias_errors_as_torch(mode, shape, options):
    _raises_like_torch(lambda: F.interpolate(tg.zeros(*shape), scale_factor=0.5, mode=mode,
                                             **options),
                       lambda: TF.interpolate(torch.zeros(*shape), scale_factor=0.5, mode=mode,
                                              **options))


# ---- interpolate: linear modes copy a dim whose size does not change ---------------------------
LINEAR_KEPT = [
    ((1, 2, 4), 1.1, "linear"),
    ((2, 1, 6), 1.05, "linear"),
    ((1, 2, 4, 5), (1.1, 1.5), "bilinear"),
    ((1, 2, 4, 5), (1.5, 1.1), "bilinear"),
    ((1, 1, 4, 5), (1.1, 1.1), "bilinear"),
    ((1, 1, 4, 5), (1.2, 1.0), "bilinear"),
    ((1, 1, 3, 4, 5), (1.1, 1.5, 1.2), "trilinear"),
    ((1, 1, 3, 4, 5), (1.5, 1.1, 2.0), "trilinear"),
]


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape, scale, mode", LINEAR_KEPT)
def test_linear_modes_copy_a_dim_of_unchanged_size(shape, scale, mode, align_corners):
    kw = dict(scale_factor=scale, mode=mode, align_corners=align_corners)
    check_torch(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw),
                [randn(*shape)])


def test_linear_scale_factor_that_keeps_the_size_is_the_identity():
    x = tg.arange(4.0).reshape(1, 1, 4)
    assert F.interpolate(x, scale_factor=1.1, mode="linear").numpy().ravel().tolist() == \
        [0.0, 1.0, 2.0, 3.0]


def test_bicubic_resamples_a_kept_size_with_its_scale_factor():
    """Bicubic has no copy shortcut in PyTorch's forward: values match. When every size is kept,
    PyTorch's backward copies the gradient (not the gradient of its forward): tinygen's is the
    true gradient, checked by finite differences."""
    x = randn(1, 2, 4, 4)
    kw = dict(scale_factor=1.1, mode="bicubic")
    y = F.interpolate(tg.tensor(x), **kw)
    np.testing.assert_allclose(y.numpy(), TF.interpolate(torch.tensor(x), **kw).numpy(),
                               rtol=1e-12, atol=1e-12)
    assert not np.allclose(y.numpy(), x)                      # resampled, not copied
    check_grads(lambda t: F.interpolate(t, **kw), [x])
    kw = dict(scale_factor=(1.1, 1.5), mode="bicubic")         # one size changes: grads agree
    check_torch(lambda t: F.interpolate(t, **kw), lambda t: TF.interpolate(t, **kw), [x])


# ---- interpolate: nearest's index shortcut (PyTorch's 4-D forward only) ------------------------
NEAREST_4D = [
    ((1, 1, 3, 1), (2.1, 1.0)),           # 3 -> 6: rows d >> 1
    ((1, 2, 6, 5), 1.1),                  # 6 -> 6, 5 -> 5: the same rows
    ((2, 1, 3, 4), (2.05, 1.1)),
    ((1, 1, 5, 3), (2.2, 0.9)),           # 5 -> 11 (no shortcut), 3 -> 2
    ((1, 2, 4, 4), (1.9, 2.0)),           # 4 -> 7, whole factor 2
]


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("shape, scale", NEAREST_4D)
def test_nearest_4d_matches_torch(shape, scale, mode):
    kw = dict(scale_factor=scale, mode=mode)
    check_torch(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw),
                [randn(*shape)])


def test_nearest_4d_doubling_takes_row_d_over_2():
    x = tg.arange(3.0).reshape(1, 1, 3, 1)
    y = F.interpolate(x, scale_factor=(2.1, 1))
    assert y.numpy().ravel().tolist() == [0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize("shape, scale", [
    ((1, 2, 3), 2.1), ((2, 1, 7), 1.1), ((1, 1, 3, 3, 4), (2.2, 1.5, 1.1)),
    ((1, 1, 2, 5, 3), (1.1, 1.25, 2.05)),
])
def test_nearest_3d_5d_forward_matches_torch_and_gradient_is_exact(shape, scale):
    """PyTorch's 3-D and 5-D nearest forwards take no shortcut, but their backwards do: tinygen
    matches the forward and its gradient is the true one (finite differences), not PyTorch's."""
    x = randn(*shape)
    y = F.interpolate(tg.tensor(x), scale_factor=scale)
    np.testing.assert_array_equal(y.numpy(),
                                  TF.interpolate(torch.tensor(x), scale_factor=scale).numpy())
    check_grads(lambda t: F.interpolate(t, scale_factor=scale), [x])


# ---- interpolate: argument and size errors -----------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    dict(size=4.5), dict(size=[4.0, 5.0]), dict(size=4, recompute_scale_factor=True),
])
def test_interpolate_argument_errors_match_torch(kwargs):
    x = randn(1, 1, 3, 3)
    ours, _ = _raises_like_torch(lambda: F.interpolate(tg.tensor(x), **kwargs),
                                 lambda: TF.interpolate(torch.tensor(x), **kwargs))
    assert ours.startswith("interpolate: ")


@pytest.mark.parametrize("shape, size, mode", [
    ((1, 2, 0, 4), (3, 3), "nearest"), ((1, 2, 0, 4), (3, 3), "bilinear"),
    ((1, 2, 0, 4), (3, 3), "bicubic"), ((1, 2, 0, 4), (3, 3), "nearest-exact"),
    ((1, 2, 0), 3, "linear"), ((1, 2, 0, 2, 2), 3, "trilinear"), ((1, 2, 0, 2, 2), 3, "nearest"),
    ((1, 2, 2, 4), (0, 3), "bilinear"), ((1, 2, 2, 4), (0, 3), "nearest"),
    ((1, 2, 0, 4), (3, 3), "area"),
])
def test_interpolate_empty_sizes_raise_as_torch(shape, size, mode):
    x = np.zeros(shape)
    ours, ref = _raises_like_torch(lambda: F.interpolate(tg.tensor(x), size=size, mode=mode),
                                   lambda: TF.interpolate(torch.tensor(x), size=size, mode=mode))
    if "Input and output sizes should be greater than 0" in ref:
        assert "Input and output sizes should be greater than 0" in ours
        assert str(shape) in ours


def test_interpolate_area_to_an_empty_size_and_empty_batch_match_torch():
    y = F.interpolate(tg.zeros(1, 1, 1, 4), scale_factor=0.5, mode="area")
    assert tuple(y.shape) == tuple(TF.interpolate(torch.zeros(1, 1, 1, 4), scale_factor=0.5,
                                                  mode="area").shape) == (1, 1, 0, 2)
    for mode in ("nearest", "bilinear"):
        y = F.interpolate(tg.zeros(0, 2, 3, 4), size=(5, 6), mode=mode)
        assert tuple(y.shape) == (0, 2, 5, 6)


# ---- pad: negative pads in every mode ----------------------------------------------------------
NEGATIVE_PADS = [(-1, 1), (-1, 2), (-3, 2), (2, -3), (4, -1), (-1, 4), (-2, -2), (0, -2),
                 (-2, 0), (1, -1, -1, 2), (-1, 0, 2, -1)]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", NEGATIVE_PADS)
def test_negative_pads_match_torch(pad, mode):
    check_torch(lambda x: F.pad(x, pad, mode), lambda x: TF.pad(x, pad, mode),
                [randn(2, 3, 5)])


@pytest.mark.parametrize("mode, pad", [("reflect", (-5, 1)), ("reflect", (-6, 2)),
                                       ("reflect", (3, -5)), ("replicate", (-5, 1)),
                                       ("replicate", (3, -5)), ("replicate", (-6, 2))])
def test_crops_that_reach_into_the_padding_match_torch(mode, pad):
    """Reflect and replicate pad first, then crop: a crop longer than the input is fine."""
    check_torch(lambda x: F.pad(x, pad, mode), lambda x: TF.pad(x, pad, mode),
                [randn(1, 2, 5)])


def test_negative_reflect_example():
    x = tg.arange(10.0).reshape(1, 2, 5)
    assert F.pad(x, (-1, 1), mode="reflect").numpy().tolist() == \
        [[[1, 2, 3, 4, 3], [6, 7, 8, 9, 8]]]


@pytest.mark.parametrize("mode, pad", [
    ("constant", (-3, -4)), ("constant", (-6, 2)), ("constant", (3, -8)),
    ("reflect", (-3, -3)), ("reflect", (-4, -1)), ("replicate", (-1, -4)),
    ("circular", (-3, -3)),
])
def test_pads_that_leave_too_little_raise_as_torch(mode, pad):
    x = np.zeros((2, 3, 5))
    ours, _ = _raises_like_torch(lambda: F.pad(tg.tensor(x), pad, mode),
                                 lambda: TF.pad(torch.tensor(x), pad, mode))
    assert ours.startswith("pad: ") and str(pad) in ours and "dim 2 (size 5)" in ours


@pytest.mark.parametrize("pad", [(-5, 1), (3, -5), (4, -4)])
def test_circular_pad_longer_than_the_cropped_dim_raises(pad):
    """PyTorch crops first, then wraps around; past the cropped size it reads memory it never
    wrote (or raises): tinygen raises."""
    with pytest.raises(ValueError, match=r"pad: padding size should be at most .* after the crop"):
        F.pad(tg.zeros(1, 2, 5), pad, mode="circular")


# ---- pad: fill values and argument types -------------------------------------------------------
@pytest.mark.parametrize("dtype, value", [
    ("uint8", 300), ("uint8", -1), ("uint8", 255), ("uint8", 2.7), ("uint8", 255.5),
    ("uint8", float("nan")), ("int8", 128), ("int8", -128), ("int8", -129),
    ("int32", 2 ** 31), ("int32", -2 ** 31), ("bool", 2), ("bool", 0.5),
    ("float16", 65504), ("float16", 70000), ("float16", float("inf")), ("float32", 1e40),
    ("float64", 1e300),
])
def test_pad_value_must_fit_the_dtype_as_torch(dtype, value):
    x = np.zeros((1, 2), dtype={"bool": np.bool_}.get(dtype, dtype))
    try:
        ref = TF.pad(torch.tensor(x), (1, 1), value=value)
    except RuntimeError:
        with pytest.raises(RuntimeError, match=rf"pad: value .* cannot be converted to the "
                           rf"input's dtype tinygen.{dtype} without overflow"):
            F.pad(tg.tensor(x), (1, 1), value=value)
        return
    out = F.pad(tg.tensor(x), (1, 1), value=value)
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    assert out.numpy().dtype == ref.numpy().dtype


def test_pad_amounts_must_be_ints():
    x = tg.zeros(1, 3)
    with pytest.raises(TypeError, match=r"pad: expected pad to be a tuple of ints, but found "
                       r"element of type float at pos 0"):
        F.pad(x, (1.5, 1))
    with pytest.raises(TypeError, match=r"element of type bool at pos 1"):
        F.pad(x, (1, True))
    assert tuple(F.pad(x, (np.int64(1), 2)).shape) == (1, 6)      # NumPy ints are ints


def test_reflect_on_a_1d_input_is_a_tinygen_extension():
    """PyTorch refuses non-constant modes on a 1-D input; tinygen pads it as a (1, L) one."""
    x = np.arange(5.0)
    out = F.pad(tg.tensor(x), (2, 1), mode="reflect").numpy()
    ref = TF.pad(torch.tensor(x[None]), (2, 1), mode="reflect").numpy()[0]
    np.testing.assert_array_equal(out, ref)


# ---- recurrent cells ---------------------------------------------------------------------------
CELL_NAMES = ["RNNCell", "GRUCell", "LSTMCell"]


def _cell_call(lib, name, x, h):
    """Call lib's cell name(3, 4) on x with hidden h (LSTMCell: (h, h) unless h is a pair)."""
    cell = getattr(lib.nn, name)(3, 4)
    if name == "LSTMCell" and h is not None and not isinstance(h, tuple):
        h = (h, h)
    return cell(x, h)


def _both(lib_arrays):
    """numpy arrays (or pairs) -> tinygen and torch versions."""
    def conv(lib, a):
        if a is None:
            return None
        if isinstance(a, tuple):
            return tuple(conv(lib, b) for b in a)
        return tg.tensor(a) if lib is tg else torch.tensor(a)
    return [conv(tg, a) for a in lib_arrays], [conv(torch, a) for a in lib_arrays]


@pytest.mark.parametrize("name", CELL_NAMES)
@pytest.mark.parametrize("x_shape, h_shape, expected", [
    ((5, 3), (1, 4), "Input batch size 5 doesn't match hidden0 batch size 1"),
    ((5, 3), (5, 3), "hidden0 has inconsistent hidden_size: got 3, expected 4"),
    ((5, 3), (4,), "hidden0 of shape (4,)"),
    ((3,), (5, 4), "hidden0 of shape (5, 4)"),
    ((3,), (3,), "hidden0 has inconsistent hidden_size: got 3, expected 4"),
    ((5, 3), (5, 4, 1), "Expected hidden0 to be 1D or 2D, got 3D"),
    ((5, 2), None, "input has inconsistent input_size: got 2 expected 3"),
])
def test_cell_checks_hidden_as_torch(name, x_shape, h_shape, expected):
    x = randn(*x_shape).astype(np.float32)
    h = None if h_shape is None else randn(*h_shape).astype(np.float32)
    (xg, hg), (xt, ht) = _both([x, h])
    ours, _ = _raises_like_torch(lambda: _cell_call(tg, name, xg, hg),
                                 lambda: _cell_call(torch, name, xt, ht))
    assert ours.startswith(f"{name}: ") and expected in ours


def test_lstm_cell_checks_c_as_hidden1():
    x, h, c = randn(5, 3), randn(5, 4), randn(1, 4)
    (xg, hg, cg), (xt, ht, ct) = _both([x.astype(np.float32), h.astype(np.float32),
                                         c.astype(np.float32)])
    ours, ref = _raises_like_torch(lambda: tg.nn.LSTMCell(3, 4)(xg, (hg, cg)),
                                   lambda: torch.nn.LSTMCell(3, 4)(xt, (ht, ct)))
    assert "Input batch size 5 doesn't match hidden1 batch size 1" in ours
    assert "hidden1" in ref


@pytest.mark.parametrize("name", CELL_NAMES)
def test_cell_with_matching_hidden_still_matches_torch(name):
    """The checks pass good inputs through: batched and unbatched, values and gradients."""
    def build(lib):
        class Wrapper(lib.Module):
            def __init__(self):
                super().__init__()
                self.cell = getattr(lib, name)(3, 4)

            def forward(self, x, h):
                if name == "LSTMCell":
                    return self.cell(x, (h, h * 0.5))            # (h', c')
                return self.cell(x, h)

        return Wrapper()

    for x, h in ((randn(5, 3), randn(5, 4, seed=1)), (randn(3), randn(4, seed=1))):
        torch.manual_seed(0)
        check_layer(build(tg.nn), build(torch.nn), [x, h])


def test_rnn_cell_unknown_nonlinearity_raises_when_run_as_torch():
    tg_cell = tg.nn.RNNCell(3, 4, nonlinearity="sigmoid")       # both build it
    torch_cell = torch.nn.RNNCell(3, 4, nonlinearity="sigmoid")
    ours, _ = _raises_like_torch(lambda: tg_cell(tg.randn(2, 3)),
                                 lambda: torch_cell(torch.randn(2, 3)))
    assert "Unknown nonlinearity: sigmoid" in ours


@pytest.mark.parametrize("kwargs", [dict(nonlinearity="relu"), dict(bias=False),
                                    dict(nonlinearity="relu", bias=False), {}])
def test_rnn_cell_repr_matches_torch(kwargs):
    assert repr(tg.nn.RNNCell(3, 4, **kwargs)) == repr(torch.nn.RNNCell(3, 4, **kwargs))


@pytest.mark.parametrize("name", CELL_NAMES)
def test_cell_with_hidden_size_0_builds_and_runs_as_torch(name):
    ours, ref = getattr(tg.nn, name)(3, 0), getattr(torch.nn, name)(3, 0)
    assert repr(ours) == repr(ref)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in ref.named_parameters()]
    out, ref_out = ours(tg.randn(2, 3)), ref(torch.randn(2, 3))
    out, ref_out = (out[0], ref_out[0]) if name == "LSTMCell" else (out, ref_out)
    assert tuple(out.shape) == tuple(ref_out.shape) == (2, 0)


# ---- recurrent layers --------------------------------------------------------------------------
@pytest.mark.parametrize("dropout", [True, False, 1.5, -0.1, "0.5"])
def test_rnn_dropout_must_be_a_number_in_0_1_as_torch(dropout):
    ours, _ = _raises_like_torch(lambda: tg.nn.RNN(3, 2, num_layers=2, dropout=dropout),
                                 lambda: torch.nn.RNN(3, 2, num_layers=2, dropout=dropout))
    assert "dropout should be a number in range [0, 1]" in ours


def test_rnn_dropout_accepts_ints_and_floats():
    for dropout in (0, 1, 0.5):
        assert tg.nn.GRU(3, 2, num_layers=2, dropout=dropout).dropout == dropout


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("shape, batch_first", [((0, 2, 3), False), ((2, 0, 3), True),
                                                ((0, 3), False)])
def test_empty_sequence_raises_as_torch(name, shape, batch_first):
    x = np.zeros(shape, dtype=np.float32)
    ours, _ = _raises_like_torch(
        lambda: getattr(tg.nn, name)(3, 4, batch_first=batch_first)(tg.tensor(x)),
        lambda: getattr(torch.nn, name)(3, 4, batch_first=batch_first)(torch.tensor(x)))
    assert ours.startswith(f"{name}: expected sequence length to be larger than 0")
    assert str(shape) in ours


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("x_shape, h_shape", [((5, 3), (1, 1, 4)), ((5, 2, 3), (1, 4))])
def test_hidden_dims_must_match_the_inputs_as_torch(name, x_shape, h_shape):
    """An unbatched input takes a 2-D hx, a batched one a 3-D hx; the error names hx's shape as
    the caller gave it."""
    x, h = randn(*x_shape).astype(np.float32), randn(*h_shape).astype(np.float32)
    (xg, hg), (xt, ht) = _both([x, h])
    if name == "LSTM":
        hg, ht = (hg, hg), (ht, ht)
    ours, _ = _raises_like_torch(lambda: getattr(tg.nn, name)(3, 4)(xg, hg),
                                 lambda: getattr(torch.nn, name)(3, 4)(xt, ht))
    assert ours.startswith(f"{name}: ") and f"hx of shape {h_shape}" in ours
