"""nn.init's dirac_ and the deprecated spellings, and nn.utils' weight_norm, spectral_norm (and
their removal), the batch-norm fusions, clip_grads_with_norm_, clip_grad_norm and skip_init,
against PyTorch: state-dict keys, outputs, gradients."""
import numpy as np
import pytest

import tinygen as tg
from tinygen import nn
from test_layers_helpers import check_layer, randn, torch

TNN = torch.nn


@pytest.mark.parametrize("shape, groups", [((4, 4, 3), 1), ((6, 3, 3, 3), 2), ((2, 5, 1, 3, 3), 1)])
def test_dirac_matches_torch(shape, groups):
    ours, theirs = tg.empty(*shape), torch.empty(*shape)
    assert nn.init.dirac_(ours, groups) is ours
    TNN.init.dirac_(theirs, groups)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_dirac_convolution_is_the_identity():
    conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
    nn.init.dirac_(conv.weight)
    x = tg.randn(2, 3, 5, 5)
    np.testing.assert_allclose(conv(x).detach().numpy(), x.numpy(), atol=1e-6)


@pytest.mark.parametrize("name, args", [("uniform", (-1.0, 2.0)), ("normal", (0.0, 0.5)),
                                        ("constant", (0.3,)), ("xavier_uniform", ()),
                                        ("xavier_normal", ()), ("kaiming_uniform", ()),
                                        ("kaiming_normal", ()), ("orthogonal", ()),
                                        ("sparse", (0.5,)), ("dirac", ())])
def test_deprecated_spellings_warn_and_fill(name, args):
    t = tg.zeros(4, 4, 3) if name == "dirac" else tg.zeros(20, 30)
    with pytest.warns(FutureWarning, match=f"nn.init.{name} is now deprecated"):
        assert getattr(nn.init, name)(t, *args) is t
    assert t.numpy().any()


@pytest.mark.filterwarnings("ignore:torch.nn.utils.weight_norm is deprecated")
@pytest.mark.parametrize("make, dim, shape", [
    (lambda m: m.Linear(3, 4), 0, (2, 3)), (lambda m: m.Linear(3, 4), None, (2, 3)),
    (lambda m: m.Conv1d(2, 3, 2), 1, (2, 2, 5)),
    (lambda m: m.ConvTranspose2d(2, 3, 2), 0, (1, 2, 3, 3))])
def test_weight_norm(make, dim, shape):
    torch.manual_seed(0)
    theirs = TNN.utils.weight_norm(make(TNN), dim=dim)
    ours = nn.utils.weight_norm(make(nn), dim=dim)
    check_layer(ours, theirs, [randn(*shape)])
    nn.utils.remove_weight_norm(ours)
    TNN.utils.remove_weight_norm(theirs)
    check_layer(ours, theirs, [randn(*shape)])


def test_weight_norm_initial_value_and_errors():
    layer = nn.Linear(3, 4)
    before = layer.weight.detach().numpy().copy()
    nn.utils.weight_norm(layer)
    np.testing.assert_allclose(layer.weight.detach().numpy(), before, rtol=1e-6)
    assert layer.weight_g.shape == (4, 1) and layer.weight_v.shape == (4, 3)
    with pytest.raises(RuntimeError, match="two reparametrizations"):
        nn.utils.weight_norm(layer)
    with pytest.raises(ValueError, match="weight_norm of 'bias' not found"):
        nn.utils.remove_weight_norm(layer, "bias")


@pytest.mark.parametrize("make, shape", [
    (lambda m: m.Linear(5, 4), (2, 5)), (lambda m: m.Conv2d(2, 3, 2), (2, 2, 4, 4)),
    (lambda m: m.ConvTranspose2d(3, 2, 2), (1, 3, 3, 3))])
def test_spectral_norm(make, shape):
    torch.manual_seed(0)
    theirs = TNN.utils.spectral_norm(make(TNN), n_power_iterations=2)
    ours = nn.utils.spectral_norm(make(nn), n_power_iterations=2)
    for train in (True, True, False):                    # the power iteration moves u and v
        check_layer(ours, theirs, [randn(*shape)], train=train)
    nn.utils.remove_spectral_norm(ours)
    TNN.utils.remove_spectral_norm(theirs)
    check_layer(ours, theirs, [randn(*shape)])


def test_spectral_norm_bounds_the_largest_singular_value():
    tg.manual_seed(0)
    layer = nn.utils.spectral_norm(nn.Linear(8, 6))
    for _ in range(30):
        layer(tg.randn(1, 8))
    sigma = np.linalg.svd(layer.weight.detach().numpy(), compute_uv=False)[0]
    assert abs(sigma - 1.0) < 1e-3


@pytest.mark.parametrize("conv, bn, shape, transpose", [
    (lambda m: m.Conv2d(3, 4, 3, padding=1), lambda m: m.BatchNorm2d(4), (2, 3, 5, 5), False),
    (lambda m: m.Conv1d(3, 4, 2, bias=False), lambda m: m.BatchNorm1d(4), (2, 3, 6), False),
    (lambda m: m.ConvTranspose2d(3, 4, 2), lambda m: m.BatchNorm2d(4), (2, 3, 3, 3), True)])
def test_fuse_conv_bn_eval(conv, bn, shape, transpose):
    torch.manual_seed(0)
    t_conv, t_bn = conv(TNN).eval(), bn(TNN).eval()
    with torch.no_grad():
        t_bn.running_mean.uniform_(-1, 1)
        t_bn.running_var.uniform_(0.5, 2)
        t_bn.weight.uniform_(0.5, 2)
        t_bn.bias.uniform_(-1, 1)
    o_conv, o_bn = conv(nn).eval(), bn(nn).eval()
    o_conv.load_state_dict({k: v.numpy() for k, v in t_conv.state_dict().items()})
    o_bn.load_state_dict({k: v.numpy() for k, v in t_bn.state_dict().items()})
    ours = nn.utils.fuse_conv_bn_eval(o_conv, o_bn, transpose)
    theirs = TNN.utils.fuse_conv_bn_eval(t_conv, t_bn, transpose)
    check_layer(ours, theirs, [randn(*shape)], train=False)
    x = tg.tensor(randn(*shape))
    np.testing.assert_allclose(ours(x).detach().numpy(), o_bn(o_conv(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


def test_fuse_linear_bn_eval():
    torch.manual_seed(0)
    t_lin, t_bn = TNN.Linear(3, 4).eval(), TNN.BatchNorm1d(4).eval()
    with torch.no_grad():
        t_bn.running_mean.uniform_(-1, 1)
        t_bn.running_var.uniform_(0.5, 2)
    o_lin, o_bn = nn.Linear(3, 4).eval(), nn.BatchNorm1d(4).eval()
    o_lin.load_state_dict({k: v.numpy() for k, v in t_lin.state_dict().items()})
    o_bn.load_state_dict({k: v.numpy() for k, v in t_bn.state_dict().items()})
    check_layer(nn.utils.fuse_linear_bn_eval(o_lin, o_bn),
                TNN.utils.fuse_linear_bn_eval(t_lin, t_bn), [randn(5, 3)], train=False)
    with pytest.raises(AssertionError, match="eval mode"):
        nn.utils.fuse_linear_bn_eval(o_lin.train(), o_bn)


def test_clip_helpers_and_skip_init():
    params = [tg.tensor([3.0, 4.0], requires_grad=True), tg.tensor([12.0], requires_grad=True)]
    for p in params:
        p.grad = p.detach().clone()
    total = nn.utils.get_total_norm([p.grad for p in params])
    nn.utils.clip_grads_with_norm_(params, 6.5, total)
    np.testing.assert_allclose(np.concatenate([p.grad.numpy() for p in params]),
                               np.array([3.0, 4.0, 12.0]) * 6.5 / (13 + 1e-6), rtol=1e-6)
    with pytest.warns(FutureWarning, match="clip_grad_norm is now deprecated"):
        norm = nn.utils.clip_grad_norm(params, 1.0)
    assert abs(norm.item() - 6.5) < 1e-4
    layer = nn.utils.skip_init(nn.Linear, 3, 4, bias=False)
    assert isinstance(layer, nn.Linear) and layer.weight.shape == (4, 3) and layer.bias is None
