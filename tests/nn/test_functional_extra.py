"""The functional ops added for PyTorch's dialect (#14) against PyTorch in float64: forward,
first and second derivatives (check_torch), for activations, 3-D and adaptive-max pooling,
unpooling, lp pooling, conv3d and the transposed convolutions, unfold / fold, the interpolating
modes of interpolate, rms_norm, local_response_norm, distances, embedding_bag, bilinear,
channel_shuffle; the random ones (dropout variants, rrelu, gumbel_softmax) by their statistics."""
import warnings

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from test_functional_helpers import check_grads, check_torch, randn, torch

TF = torch.nn.functional


def same(name, *args, **kwargs):
    """(tinygen fn, torch fn) applying F.<name> with the same extra arguments."""
    return (lambda *t: getattr(F, name)(*t, *args, **kwargs),
            lambda *t: getattr(TF, name)(*t, *args, **kwargs))


ACTIVATIONS = [("threshold", (0.2, -1.0), {}), ("hardshrink", (), {}),
               ("hardshrink", (1.1,), {}), ("softshrink", (), {}), ("softshrink", (0.3,), {}),
               ("tanhshrink", (), {}), ("rrelu", (), {}), ("rrelu", (0.1, 0.4), {})]


@pytest.mark.parametrize("name, args, kwargs", ACTIVATIONS)
def test_activations(name, args, kwargs):
    check_torch(*same(name, *args, **kwargs), [randn(3, 4)])


@pytest.mark.parametrize("weight_shape", [(1,), (3,)])
def test_prelu(weight_shape):
    check_torch(F.prelu, TF.prelu, [randn(2, 3, 4), np.linspace(0.1, 0.5, weight_shape[0])])


def test_inplace_functional_spellings():
    for name, args in [("relu_", ()), ("elu_", (0.5,)), ("selu_", ()), ("celu_", (2.0,)),
                       ("leaky_relu_", (0.2,)), ("hardtanh_", (-0.5, 0.5)),
                       ("threshold_", (0.1, 9.0))]:
        data = randn(2, 3)
        ours, ref = tg.tensor(data), torch.tensor(data)
        assert getattr(F, name)(ours, *args) is ours
        getattr(TF, name)(ref, *args)
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), err_msg=name)


@pytest.mark.parametrize("name, shape, mask_shape", [
    ("dropout1d", (4, 6, 5), (4, 6, 1)), ("dropout1d", (6, 5), (6, 1)),
    ("dropout2d", (4, 6, 3, 5), (4, 6, 1, 1)), ("dropout3d", (2, 6, 2, 3, 4), (2, 6, 1, 1, 1))])
def test_channel_dropout(name, shape, mask_shape):
    tg.manual_seed(0)
    x = tg.ones(*shape, dtype=tg.float64, requires_grad=True)
    y = getattr(F, name)(x, p=0.25)
    values = y.detach().numpy()
    assert set(np.unique(values)) <= {0.0, 1 / 0.75}
    per_channel = values.reshape(mask_shape + (-1,))                   # one value per channel
    assert (per_channel == per_channel[..., :1]).all()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)
    assert getattr(F, name)(x, p=0.25, training=False) is x
    if name == "dropout3d":            # PyTorch warns and takes a 1-D input as unbatched
        with pytest.warns(UserWarning, match="Received a 1-D input to dropout3d"):
            assert tuple(getattr(F, name)(tg.ones(2), p=0.5).shape) == (2,)
        return
    with pytest.warns() if name == "dropout2d" else warnings.catch_warnings():
        with pytest.raises(RuntimeError, match=name):
            getattr(F, name)(tg.ones(2), p=0.5)


@pytest.mark.parametrize("name", ["alpha_dropout", "feature_alpha_dropout"])
def test_alpha_dropout_keeps_selu_statistics(name):
    tg.manual_seed(1)
    x = tg.randn(400, 50, 4, dtype=tg.float64)
    y = getattr(F, name)(x, p=0.2, training=True).numpy()
    assert abs(y.mean()) < 0.03 and abs(y.std() - 1.0) < 0.03
    assert getattr(F, name)(x, p=0.2, training=False) is x
    if name == "feature_alpha_dropout":          # whole channels share the dropped value
        dropped = np.isclose(y, y[..., :1]).all(axis=-1)
        assert dropped.mean() > 0.15


def test_rrelu_training_slopes():
    tg.manual_seed(2)
    x = tg.full((20000,), -1.0, dtype=tg.float64, requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    slopes = -y.detach().numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and abs(slopes.mean() - 0.2) < 0.005
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes)


@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax(hard):
    tg.manual_seed(3)
    logits = tg.tensor(np.log([[0.1, 0.6, 0.3]]), requires_grad=True)
    draws = F.gumbel_softmax(logits.expand(20000, 3), tau=0.5, hard=hard)
    values = draws.detach().numpy()
    np.testing.assert_allclose(values.sum(axis=1), 1.0)
    frequencies = np.bincount(values.argmax(axis=1), minlength=3) / len(values)
    np.testing.assert_allclose(frequencies, [0.1, 0.6, 0.3], atol=0.015)
    if hard:
        assert set(np.unique(values)) == {0.0, 1.0}
    (draws[:, 1]).sum().backward()
    assert np.isfinite(logits.grad.numpy()).all() and np.abs(logits.grad.numpy()).sum() > 0


POOLS = [
    ("max_pool3d", (2,), {}), ("max_pool3d", (3,), {"stride": 2, "padding": 1}),
    ("max_pool3d", ((2, 3, 2),), {"stride": (1, 2, 3), "ceil_mode": True}),
    ("max_pool3d", (2,), {"dilation": 2}),
    ("avg_pool3d", (2,), {}), ("avg_pool3d", (3,), {"stride": 2, "padding": 1}),
    ("avg_pool3d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}),
    ("avg_pool3d", ((2, 3, 2),), {"stride": 2, "ceil_mode": True}),
    ("avg_pool3d", (2,), {"divisor_override": 3}),
    ("adaptive_avg_pool3d", ((2, 3, 4),), {}), ("adaptive_max_pool3d", ((2, 3, 4),), {}),
    ("lp_pool3d", (2.0, 2), {}),
]


@pytest.mark.parametrize("name, args, kwargs", POOLS)
def test_pools_3d(name, args, kwargs):
    data = randn(2, 2, 4, 5, 6)
    if name.startswith("lp"):
        data = np.abs(data) + 0.1
    check_torch(*same(name, *args, **kwargs), [data])


@pytest.mark.parametrize("name, args, shape", [
    ("adaptive_max_pool2d", ((3, 2),), (2, 3, 7, 5)), ("adaptive_max_pool2d", (2,), (3, 4, 6)),
    ("adaptive_max_pool2d", ((None, 2),), (2, 3, 7, 5)), ("adaptive_max_pool1d", (3,), (2, 3, 7)),
    ("lp_pool2d", (2.0, 2), (2, 3, 6, 5)), ("lp_pool2d", (3.0, (2, 3), 1), (2, 3, 6, 5)),
    ("lp_pool1d", (2.0, 3, 2), (2, 3, 7)),
])
def test_pools_2d(name, args, shape):
    data = randn(*shape)
    if name.startswith("lp"):
        data = np.abs(data) + 0.1
    check_torch(*same(name, *args), [data])


@pytest.mark.parametrize("name, shape", [("adaptive_max_pool2d", (2, 3, 7, 5)),
                                         ("max_pool2d", (2, 3, 6, 5)),
                                         ("max_pool3d", (2, 2, 4, 5, 6))])
def test_pooling_indices_and_unpool(name, shape):
    data = randn(*shape)
    args = ((3, 2),) if name.startswith("adaptive") else (2,)
    ours = getattr(F, name)(tg.tensor(data), *args, return_indices=True)
    ref = getattr(TF, name)(torch.tensor(data), *args, return_indices=True)
    np.testing.assert_array_equal(ours[1].numpy(), ref[1].numpy())
    if not name.startswith("adaptive"):
        unpool = name.replace("max_pool", "max_unpool")
        size = shape[2:]
        check_torch(lambda v: getattr(F, unpool)(v, ours[1], 2, output_size=size),
                    lambda v: getattr(TF, unpool)(v, ref[1], 2, output_size=size),
                    [ref[0].numpy()])
    with_indices = getattr(F, name + "_with_indices")(tg.tensor(data), *args)
    np.testing.assert_array_equal(with_indices[1].numpy(), ref[1].numpy())


def test_max_unpool1d():
    v, i = TF.max_pool1d(torch.tensor(randn(2, 3, 8)), 2, return_indices=True)
    check_torch(lambda x: F.max_unpool1d(x, tg.tensor(i.numpy()), 2),
                lambda x: TF.max_unpool1d(x, i, 2), [v.numpy()])


CONVS = [
    ("conv3d", (2, 3, 4, 5, 4), (4, 3, 2, 3, 2), {"stride": (1, 2, 1), "padding": 1}),
    ("conv3d", (2, 4, 4, 4, 4), (4, 2, 2, 2, 2), {"groups": 2, "dilation": (2, 1, 1)}),
    ("conv3d", (3, 4, 5, 4), (2, 3, 2, 2, 2), {}),
    ("conv_transpose3d", (2, 3, 3, 2, 3), (3, 2, 2, 3, 2), {"stride": 2, "padding": 1,
                                                            "output_padding": 1}),
    ("conv_transpose3d", (2, 4, 2, 2, 2), (4, 1, 2, 2, 2), {"groups": 2, "dilation": 2}),
    # output_padding >= stride, legal below the dilation: the backward crops the extra windows
    ("conv_transpose3d", (1, 2, 3, 3, 3), (2, 3, 2, 2, 2), {"output_padding": 1, "dilation": 2}),
    ("conv_transpose1d", (2, 3, 5), (3, 2, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
    ("conv_transpose1d", (4, 5), (4, 1, 2), {"groups": 2, "dilation": 2}),
]


@pytest.mark.parametrize("name, x_shape, w_shape, kwargs", CONVS)
def test_convolutions(name, x_shape, w_shape, kwargs):
    out_channels = w_shape[0] if name == "conv3d" else w_shape[1] * kwargs.get("groups", 1)
    check_torch(lambda x, w, b: getattr(F, name)(x, w, b, **kwargs),
                lambda x, w, b: getattr(TF, name)(x, w, b, **kwargs),
                [randn(*x_shape), randn(*w_shape, seed=1), randn(out_channels, seed=2)])


@pytest.mark.parametrize("kwargs", [{"kernel_size": 2}, {"kernel_size": (2, 3), "stride": 2,
                                                         "padding": 1, "dilation": (1, 2)}])
def test_unfold_and_fold(kwargs):
    check_torch(*same("unfold", **kwargs), [randn(2, 3, 7, 6)])
    check_torch(*same("unfold", **kwargs), [randn(3, 7, 6)])
    cols = TF.unfold(torch.tensor(randn(2, 3, 7, 6)), **kwargs).numpy()
    check_torch(*same("fold", (7, 6), **kwargs), [cols])


@pytest.mark.parametrize("mode, shape", [("linear", (2, 3, 5)), ("bilinear", (2, 3, 5, 4)),
                                         ("bicubic", (2, 2, 5, 4)),
                                         ("trilinear", (1, 2, 3, 4, 5))])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("resize", [{"scale_factor": 2}, {"scale_factor": 1.7},
                                    {"scale_factor": 0.6}, {"size": 7}])
def test_interpolating_modes(mode, shape, align_corners, resize):
    check_torch(*same("interpolate", mode=mode, align_corners=align_corners, **resize),
                [randn(*shape)])


def test_area_and_bilinear_aliases():
    check_torch(*same("interpolate", size=(3, 2), mode="area"), [randn(2, 3, 7, 5)])
    check_torch(*same("upsample_bilinear", scale_factor=2), [randn(1, 2, 3, 4)])
    check_torch(*same("upsample_nearest", size=(5, 7)), [randn(1, 2, 3, 4)])
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(tg.ones(1, 1, 2, 2), scale_factor=2, align_corners=True)


def test_norms_and_distances():
    check_torch(lambda x, w: F.rms_norm(x, (4,), w), lambda x, w: TF.rms_norm(x, (4,), w),
                [randn(3, 4), randn(4, seed=1)])
    check_torch(*same("rms_norm", (2, 4), eps=1e-3), [randn(3, 2, 4)])
    for shape, size in [((2, 6, 5), 3), ((2, 5, 3, 4), 2), ((1, 4, 2, 2, 3), 5)]:
        check_torch(*same("local_response_norm", size, alpha=0.1, beta=0.7, k=1.5),
                    [randn(*shape)])
    for p in (2.0, 1.0, 3.0):
        check_torch(lambda a, b: tg.cdist(a, b, p), lambda a, b: torch.cdist(a, b, p),
                    [randn(2, 3, 4), randn(2, 5, 4, seed=1)], second=False)   # none in torch
        check_grads(lambda a, b: tg.cdist(a, b, p), [randn(2, 3), randn(2, 3, seed=1)])
        check_torch(*same("pdist", p), [randn(4, 3)], second=False)               # none in torch
        check_grads(lambda x: F.pdist(x, p), [randn(3, 2)])
        check_torch(lambda a, b: tg.dist(a, b, p), lambda a, b: torch.dist(a, b, p),
                    [randn(3, 4), randn(4, seed=2)])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 4])
def test_embedding_bag(mode, padding_idx):
    idx, offsets = np.array([1, 2, 4, 5, 4, 3, 2, 0]), np.array([0, 2, 2, 5])
    check_torch(lambda w: F.embedding_bag(tg.tensor(idx), w, tg.tensor(offsets), mode=mode,
                                          padding_idx=padding_idx),
                lambda w: TF.embedding_bag(torch.tensor(idx), w, torch.tensor(offsets), mode=mode,
                                           padding_idx=padding_idx), [randn(6, 3)])
    check_torch(lambda w: F.embedding_bag(tg.tensor(idx.reshape(2, 4)), w, mode=mode),
                lambda w: TF.embedding_bag(torch.tensor(idx.reshape(2, 4)), w, mode=mode),
                [randn(6, 3)])


def test_embedding_bag_per_sample_weights_and_last_offset():
    idx, offsets = np.array([1, 2, 4, 5, 3]), np.array([0, 2, 5])
    check_torch(lambda w, s: F.embedding_bag(tg.tensor(idx), w, tg.tensor(offsets), mode="sum",
                                             per_sample_weights=s, include_last_offset=True),
                lambda w, s: TF.embedding_bag(torch.tensor(idx), w, torch.tensor(offsets),
                                              mode="sum", per_sample_weights=s,
                                              include_last_offset=True),
                [randn(6, 3), randn(5, seed=1)], second=False)    # torch has no second here
    with pytest.raises(NotImplementedError, match="per_sample_weights"):
        F.embedding_bag(tg.tensor(idx), tg.ones(6, 3), tg.tensor(offsets),
                        per_sample_weights=tg.ones(5))


def test_bilinear_and_channel_shuffle():
    check_torch(F.bilinear, TF.bilinear, [randn(2, 3, 4), randn(2, 3, 5, seed=1),
                                          randn(6, 4, 5, seed=2), randn(6, seed=3)])
    check_torch(*same("channel_shuffle", 3), [randn(2, 6, 2, 2)])
    check_torch(*same("channel_shuffle", 2), [randn(2, 4, 3)])
    data = randn(2, 4, 3)
    np.testing.assert_array_equal(F.native_channel_shuffle(tg.tensor(data), 2).numpy(),
                                  TF.native_channel_shuffle(torch.tensor(data), 2).numpy())
    with pytest.raises(RuntimeError, match="channel_shuffle"):
        F.channel_shuffle(tg.ones(1, 5, 2), 2)


def test_adaptive_max_pool3d_with_indices():
    data = randn(1, 2, 4, 5, 6)
    ours = F.adaptive_max_pool3d_with_indices(tg.tensor(data), (2, 3, 4))
    ref = TF.adaptive_max_pool3d_with_indices(torch.tensor(data), (2, 3, 4))
    np.testing.assert_array_equal(ours[1].numpy(), ref[1].numpy())
    np.testing.assert_array_equal(ours[0].numpy(), ref[0].numpy())


def test_conv_transpose3d_checks_as_conv_transpose2d():
    x, w = tg.randn(1, 2, 2, 2, 2), tg.randn(2, 3, 1, 1, 1)
    with pytest.raises(ValueError, match="conv_transpose3d: output_padding .* must be smaller"):
        F.conv_transpose3d(x, w, output_padding=1)
    with pytest.raises(RuntimeError, match=r"conv_transpose3d: the output size \(0, 0, 0\) is "
                       "too small"):
        F.conv_transpose3d(x, w, padding=1)
    with pytest.raises(RuntimeError, match=r"conv_transpose3d: expected bias of shape \(3,\)"):
        F.conv_transpose3d(x, w, tg.ones(1))


@pytest.mark.parametrize("name, fn", [
    ("conv3d", lambda x: F.conv3d(x, tg.randn(4, 2, 2, 2, 2, dtype=tg.float64))),
    ("conv_transpose3d", lambda x: F.conv_transpose3d(x, tg.randn(2, 4, 2, 2, 2,
                                                                  dtype=tg.float64))),
    ("max_pool3d", lambda x: F.max_pool3d(x, 2)), ("avg_pool3d", lambda x: F.avg_pool3d(x, 2)),
    ("adaptive_max_pool3d", lambda x: F.adaptive_max_pool3d(x, 3)),
    ("group_norm", lambda x: F.group_norm(x, 2)),
    ("unfold", lambda x: F.unfold(x[:, :, 0], 2)),
])
def test_an_empty_batch_gives_an_empty_result(name, fn):
    # as in PyTorch (was a reshape error: -1 cannot be inferred from 0 elements)
    x = tg.randn(0, 2, 4, 4, 4, dtype=tg.float64)
    out = fn(x)
    want = getattr(TF, name)
    ref = {"conv3d": lambda t: want(t, torch.zeros(4, 2, 2, 2, 2, dtype=torch.float64)),
           "conv_transpose3d": lambda t: want(t, torch.zeros(2, 4, 2, 2, 2, dtype=torch.float64)),
           "max_pool3d": lambda t: want(t, 2), "avg_pool3d": lambda t: want(t, 2),
           "adaptive_max_pool3d": lambda t: want(t, 3), "group_norm": lambda t: want(t, 2),
           "unfold": lambda t: want(t[:, :, 0], 2)}[name](torch.zeros(0, 2, 4, 4, 4,
                                                                       dtype=torch.float64))
    assert tuple(out.shape) == tuple(ref.shape)


def test_shuffles_and_convolutions_name_a_bad_argument():
    with pytest.raises(RuntimeError, match="pixel_shuffle: expected upscale_factor to be a "
                       "positive int, got 0"):
        F.pixel_shuffle(tg.ones(1, 4, 2, 2), 0)
    with pytest.raises(RuntimeError, match=r"pixel_unshuffle: expected an input of at least 3 "
                       r"dims \(\*, C, H, W\), got shape \(4, 2\)"):
        F.pixel_unshuffle(tg.ones(4, 2), 2)
    with pytest.raises(TypeError, match="conv2d: expected weight to be a Tensor, got ndarray"):
        F.conv2d(tg.ones(1, 2, 5, 5), np.ones((4, 2, 3, 3), np.float32))
