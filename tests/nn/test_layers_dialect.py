"""The layers and loss modules added for PyTorch's dialect (#14) against PyTorch: state-dict keys
and loading, outputs, input / parameter gradients and buffers (check_layer), default
initialisations, the loss modules' arguments (reduction, legacy size_average / reduce, weight
buffers)."""
import numpy as np
import pytest

import tinygen as tg
from tinygen import nn
from test_layers_helpers import check_layer, randn, torch

TNN = torch.nn

LAYERS = [
    ("Conv3d", (3, 4, (2, 3, 2)), {"stride": (1, 2, 1), "padding": 1}, [(2, 3, 4, 5, 4)]),
    ("Conv3d", (4, 4, 2), {"groups": 2, "bias": False, "padding": "same"}, [(2, 4, 3, 4, 3)]),
    ("Conv3d", (2, 3, 3), {"padding": 1, "padding_mode": "reflect"}, [(1, 2, 4, 4, 4)]),
    ("ConvTranspose3d", (3, 2, 2), {"stride": 2, "padding": 1, "output_padding": 1},
     [(2, 3, 2, 3, 2)]),
    ("MaxPool3d", (2,), {"stride": 1}, [(2, 2, 3, 4, 3)]),
    ("AvgPool3d", (2,), {"padding": 1, "count_include_pad": False}, [(2, 2, 3, 4, 3)]),
    ("AdaptiveAvgPool3d", ((2, 1, 3),), {}, [(2, 2, 3, 4, 5)]),
    ("AdaptiveMaxPool1d", (3,), {}, [(2, 3, 7)]),
    ("AdaptiveMaxPool2d", ((3, 2),), {}, [(2, 3, 7, 5)]),
    ("AdaptiveMaxPool3d", (2,), {}, [(1, 2, 3, 4, 5)]),
    ("LPPool1d", (2, 3), {"stride": 2}, [(2, 3, 8)]),
    ("LPPool2d", (1.5, 2), {}, [(2, 3, 4, 6)]),
    ("Unfold", ((2, 3),), {"padding": 1, "stride": 2}, [(2, 3, 5, 6)]),
    ("Fold", ((4, 5), 2), {}, [(2, 12, 12)]),
    ("UpsamplingBilinear2d", (), {"scale_factor": 2}, [(2, 3, 3, 4)]),
    ("Upsample", (), {"size": (5, 7), "mode": "bicubic"}, [(2, 3, 3, 4)]),
    ("Upsample", (), {"scale_factor": 1.5, "mode": "trilinear"}, [(1, 2, 3, 4, 2)]),
    ("InstanceNorm3d", (3,), {"affine": True, "track_running_stats": True}, [(2, 3, 2, 3, 4)]),
    ("LocalResponseNorm", (3,), {"alpha": 0.1}, [(2, 5, 3, 3)]),
    ("ChannelShuffle", (2,), {}, [(2, 4, 3)]),
    ("CosineSimilarity", (), {"dim": 1}, [(4, 3), (4, 3)]),
    ("PairwiseDistance", (), {"p": 1.0}, [(4, 3), (4, 3)]),
    ("Softmax2d", (), {}, [(2, 3, 2, 2)]),
    ("Threshold", (0.1, 20.0), {}, [(3, 4)]),
    ("Hardshrink", (0.3,), {}, [(3, 4)]),
    ("Softshrink", (), {}, [(3, 4)]),
    ("Tanhshrink", (), {}, [(3, 4)]),
    ("PReLU", (3,), {}, [(2, 3, 4)]),
    ("ConstantPad3d", ((1, 0, 2, 1, 0, 1), 0.5), {}, [(1, 2, 2, 3, 2)]),
    ("ReflectionPad3d", (1,), {}, [(1, 2, 3, 3, 3)]),
    ("ReplicationPad3d", ((1, 0, 0, 2, 1, 1),), {}, [(1, 2, 3, 3, 3)]),
    ("CircularPad3d", (1,), {}, [(1, 2, 3, 3, 3)]),
    ("ZeroPad3d", (1,), {}, [(1, 1, 2, 2, 2)]),
]


@pytest.mark.parametrize("name, args, kwargs, shapes", LAYERS, ids=[f"{n}-{i}" for i, (n, *_) in
                                                                   enumerate(LAYERS)])
def test_layer_parity(name, args, kwargs, shapes):
    inputs = [randn(*s, seed=i) for i, s in enumerate(shapes)]
    if name.startswith("LPPool"):
        inputs = [np.abs(a) + 0.1 for a in inputs]
    for dtype in ("float32", "float64"):                      # fresh layers: no stale .grad
        torch.manual_seed(0)
        check_layer(getattr(nn, name)(*args, **kwargs), getattr(TNN, name)(*args, **kwargs),
                    inputs, dtype=dtype)


def test_conv_transpose1d_and_max_unpool_layers():
    torch.manual_seed(0)
    check_layer(nn.ConvTranspose1d(3, 2, 3, stride=2, output_padding=1),
                TNN.ConvTranspose1d(3, 2, 3, stride=2, output_padding=1), [randn(2, 3, 5)])
    pool, unpool = TNN.MaxPool2d(2, return_indices=True), TNN.MaxUnpool2d(2)
    values, indices = pool(torch.tensor(randn(2, 3, 4, 6)))
    check_layer(nn.MaxUnpool2d(2), unpool, [values.detach().numpy(), indices.numpy()],
                kwargs={"output_size": (4, 6)})
    values, indices = TNN.MaxPool1d(2, return_indices=True)(torch.tensor(randn(2, 3, 8)))
    check_layer(nn.MaxUnpool1d(2), TNN.MaxUnpool1d(2), [values.detach().numpy(), indices.numpy()])
    ours = nn.MaxPool3d(2, return_indices=True)(tg.tensor(randn(1, 2, 4, 4, 4)))
    theirs = TNN.MaxPool3d(2, return_indices=True)(torch.tensor(randn(1, 2, 4, 4, 4)))
    np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_layer(mode):
    torch.manual_seed(0)
    idx, offsets = np.array([1, 2, 4, 5, 4, 3, 2, 0]), np.array([0, 2, 2, 5])
    check_layer(nn.EmbeddingBag(6, 3, mode=mode, padding_idx=2),
                TNN.EmbeddingBag(6, 3, mode=mode, padding_idx=2), [idx, offsets])
    ours = nn.EmbeddingBag(10, 4, padding_idx=3)
    assert ours.weight.shape == (10, 4) and not ours.weight[3].numpy().any()
    frozen = nn.EmbeddingBag.from_pretrained(tg.ones(5, 2), mode="sum")
    assert not frozen.weight.requires_grad
    assert frozen(tg.tensor([[0, 1, 2]])).tolist() == [[3.0, 3.0]]


@pytest.mark.parametrize("layer, args", [("Conv3d", (4, 6, 3)), ("ConvTranspose3d", (4, 6, 3))])
def test_default_initialisation(layer, args):
    tg.manual_seed(0)
    ours = getattr(nn, layer)(*args)
    fan_in = ours.weight[0].numel() if layer == "Conv3d" else ours.weight.shape[1] * 27
    bound = 1 / np.sqrt(fan_in)
    w = ours.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound       # U(-b, b)
    assert np.abs(ours.bias.numpy()).max() <= bound


@pytest.mark.parametrize("name", ["Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                                  "FeatureAlphaDropout", "RReLU"])
def test_random_layers_train_and_eval(name):
    layer = getattr(nn, name)() if name == "RReLU" else getattr(nn, name)(0.5)
    x = tg.randn(4, 6, 2, 3, 5) if name == "Dropout3d" else tg.randn(4, 6, 5, 3)
    if name == "Dropout1d":
        x = x[..., 0]
    layer.eval()
    y = layer(x)
    if name == "RReLU":
        np.testing.assert_allclose(y.numpy(), TNN.RReLU().eval()(torch.tensor(x.numpy())).numpy(),
                                   rtol=1e-6)
    else:
        assert y is x
    layer.train()
    assert not np.allclose(layer(x).numpy(), x.numpy())
    assert repr(layer).startswith(name)


LOSSES = [
    ("L1Loss", {}, "regression"), ("MSELoss", {"reduction": "sum"}, "regression"),
    ("SmoothL1Loss", {"beta": 0.5}, "regression"), ("HuberLoss", {"delta": 0.4}, "regression"),
    ("MSELoss", {"size_average": False}, "regression"),
    ("L1Loss", {"reduce": False}, "regression"),
    ("NLLLoss", {"ignore_index": 1}, "classes_log"),
    ("CrossEntropyLoss", {"label_smoothing": 0.1}, "classes"),
    ("CrossEntropyLoss", {"weight": [0.2, 1.0, 3.0], "ignore_index": 0}, "classes"),
    ("BCELoss", {"weight": [0.5, 2.0, 1.0, 1.0]}, "probabilities"),
    ("BCEWithLogitsLoss", {"pos_weight": [1.0, 3.0, 0.5, 2.0]}, "binary"),
    ("KLDivLoss", {"reduction": "batchmean"}, "kl"),
    ("KLDivLoss", {"log_target": True, "reduction": "sum"}, "kl_log"),
    ("PoissonNLLLoss", {"full": True}, "counts"),
    ("SoftMarginLoss", {}, "signs"), ("HingeEmbeddingLoss", {"margin": 0.5}, "signs"),
    ("MultiLabelSoftMarginLoss", {"weight": [1.0, 2.0, 0.5, 1.0]}, "binary"),
    ("MultiMarginLoss", {"p": 2, "margin": 0.5}, "classes"),
]


def _loss_inputs(kind):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    if kind == "regression":
        return [x, rng.standard_normal((3, 4)).astype(np.float32)]
    if kind in ("classes", "classes_log"):
        x = x[:, :3] if kind == "classes" else np.log(np.full((3, 3), 1 / 3, np.float32)) + x[:, :3]
        return [x, np.array([0, 2, 1])]
    if kind == "probabilities":
        return [rng.uniform(0.1, 0.9, (3, 4)).astype(np.float32),
                rng.integers(0, 2, (3, 4)).astype(np.float32)]
    if kind == "binary":
        return [x, rng.integers(0, 2, (3, 4)).astype(np.float32)]
    if kind in ("kl", "kl_log"):
        target = rng.dirichlet(np.ones(4), 3).astype(np.float32)
        return [np.log(rng.dirichlet(np.ones(4), 3)).astype(np.float32),
                np.log(target) if kind == "kl_log" else target]
    if kind == "counts":
        return [x, rng.integers(0, 5, (3, 4)).astype(np.float32)]
    return [x, rng.choice([-1.0, 1.0], (3, 4)).astype(np.float32)]


@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")
@pytest.mark.parametrize("name, kwargs, kind", LOSSES, ids=[f"{n}-{i}" for i, (n, _, _) in
                                                            enumerate(LOSSES)])
def test_loss_modules(name, kwargs, kind):
    tensors = {k: v for k, v in kwargs.items() if isinstance(v, list)}
    inputs = _loss_inputs(kind)
    for dtype in ("float32", "float64"):
        ours = getattr(nn, name)(**{**kwargs, **{k: tg.tensor(v) for k, v in tensors.items()}})
        theirs = getattr(TNN, name)(**{**kwargs, **{k: torch.tensor(v)
                                                    for k, v in tensors.items()}})
        assert ours.reduction == theirs.reduction
        check_layer(ours, theirs, inputs, dtype=dtype, grad_inputs=[0])


def test_loss_modules_with_three_inputs():
    rng = np.random.default_rng(1)
    a, b, c = (rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3))
    y = np.array([1.0, -1.0, -1.0, 1.0], dtype=np.float32)
    check_layer(nn.CosineEmbeddingLoss(0.1), TNN.CosineEmbeddingLoss(0.1), [a, b, y],
                grad_inputs=[0, 1])
    check_layer(nn.MarginRankingLoss(0.2), TNN.MarginRankingLoss(0.2), [a[:, 0], b[:, 0], y],
                grad_inputs=[0, 1])
    check_layer(nn.TripletMarginLoss(swap=True), TNN.TripletMarginLoss(swap=True), [a, b, c])
    check_layer(nn.TripletMarginWithDistanceLoss(margin=0.5),
                TNN.TripletMarginWithDistanceLoss(margin=0.5), [a, b, c])
    var = rng.uniform(0.5, 2.0, (4, 3)).astype(np.float32)
    check_layer(nn.GaussianNLLLoss(full=True), TNN.GaussianNLLLoss(full=True), [a, b, var])
    # CTC through log_softmax (PyTorch's gradient in log_probs itself is off by a multiple of
    # exp(log_probs) per step, which log_softmax's backward removes)
    logits = rng.standard_normal((6, 2, 4))
    targets, lengths = np.array([[1, 2], [3, 3]]), (np.array([6, 5]), np.array([2, 2]))
    ours, theirs = tg.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    loss = nn.CTCLoss(reduction="sum")(ours.log_softmax(2), tg.tensor(targets),
                                       *map(tg.tensor, lengths))
    ref = TNN.CTCLoss(reduction="sum")(theirs.log_softmax(2), torch.tensor(targets),
                                       *map(torch.tensor, lengths))
    loss.backward()
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-9)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-7, atol=1e-10)


def test_loss_weights_are_buffers_in_the_state_dict():
    w = tg.tensor([1.0, 2.0, 3.0])
    ours = nn.CrossEntropyLoss(weight=w)
    assert list(ours.state_dict()) == ["weight"]
    assert list(nn.BCEWithLogitsLoss(pos_weight=w).state_dict()) == ["pos_weight"]
    assert list(nn.MSELoss().state_dict()) == []
    with pytest.raises(ValueError, match="TripletMarginLoss: expected margin"):
        nn.TripletMarginLoss(margin=0)
