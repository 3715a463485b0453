"""PyTorch parity of the normalisation layers: BatchNorm (running statistics over several steps,
momentum None, eval mode, no running stats, no affine), LayerNorm, GroupNorm, RMSNorm."""
from __future__ import annotations

import pytest

import tinygen as tg
from tinygen import nn
from test_layers_helpers import assert_close, check_layer, randn, torch

tnn = torch.nn
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _check(build, inputs, **kw):
    torch.manual_seed(0)
    return check_layer(build(nn), build(tnn), inputs, **kw)


BATCHNORMS = {
    "bn1d_3d_input": (lambda m: m.BatchNorm1d(4), (5, 4, 6)),
    "bn1d_momentum_none": (lambda m: m.BatchNorm1d(4, momentum=None), (6, 4)),
    "bn2d_no_affine": (lambda m: m.BatchNorm2d(3, affine=False), (2, 3, 4, 4)),
    "bn2d_no_bias": (lambda m: m.BatchNorm2d(3, bias=False, eps=1e-3), (2, 3, 4, 4)),
    "bn2d_no_running_stats": (lambda m: m.BatchNorm2d(3, track_running_stats=False),
                              (2, 3, 4, 4)),
    "bn3d": (lambda m: m.BatchNorm3d(2), (2, 2, 3, 3, 3)),
}


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("name", list(BATCHNORMS))
def test_batchnorm_variants(name, train):
    build, shape = BATCHNORMS[name]
    _check(build, [randn(*shape, scale=2.0) + 0.5], train=train)


@pytest.mark.parametrize("momentum", [0.1, None, 0.9])
def test_batchnorm_running_stats_over_steps_then_eval(momentum):
    torch.manual_seed(0)
    ours, theirs = nn.BatchNorm2d(3, momentum=momentum), tnn.BatchNorm2d(3, momentum=momentum)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-1, 1)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for step in range(4):
        x = randn(4, 3, 3, 3, seed=step, scale=1 + step) + step
        y, ty = ours(tg.tensor(x)), theirs(torch.tensor(x))
        assert_close(y.numpy(), ty.detach().numpy(), 1e-4, f"step {step}")
        for name, buf in theirs.named_buffers():
            assert_close(getattr(ours, name).numpy(), buf.numpy(), 1e-5, f"{name} step {step}")
    assert ours.num_batches_tracked.item() == 4
    ours.eval()
    theirs.eval()
    x = randn(2, 3, 3, 3, seed=9)
    assert_close(ours(tg.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), 1e-5, "eval")


def test_batchnorm_eval_uses_running_statistics_and_gradients():
    torch.manual_seed(0)
    theirs = tnn.BatchNorm1d(3)
    with torch.no_grad():
        theirs.running_mean.uniform_(-1, 1)
        theirs.running_var.uniform_(0.5, 2)
        theirs.weight.uniform_(0.5, 1.5)
    check_layer(nn.BatchNorm1d(3), theirs, [randn(4, 3)], train=False)


def test_batchnorm_input_dim_errors():
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.BatchNorm1d(3)(tg.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(tg.randn(2, 3))
    with pytest.raises(Exception, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(tg.randn(1, 3))


def test_batchnorm_loads_checkpoint_without_num_batches_tracked():
    bn = nn.BatchNorm1d(2)
    sd = {k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
    assert bn.load_state_dict(sd).missing_keys == []
    assert bn.num_batches_tracked.item() == 0


def test_batchnorm_state_dict_keys_match_torch():
    for kw in ({}, {"affine": False}, {"track_running_stats": False}, {"bias": False}):
        assert list(nn.BatchNorm2d(3, **kw).state_dict()) == \
            list(tnn.BatchNorm2d(3, **kw).state_dict())


NORMS = {
    "layernorm_1d": (lambda m: m.LayerNorm(6), (3, 4, 6)),
    "layernorm_no_affine": (lambda m: m.LayerNorm([4, 6], elementwise_affine=False), (3, 4, 6)),
    "layernorm_no_bias": (lambda m: m.LayerNorm(6, bias=False, eps=1e-3), (3, 6)),
    "groupnorm_no_affine": (lambda m: m.GroupNorm(3, 6, affine=False), (2, 6, 5)),
    "groupnorm_one_group": (lambda m: m.GroupNorm(1, 4, eps=1e-3), (2, 4, 3, 3)),
    "groupnorm_instance": (lambda m: m.GroupNorm(4, 4), (2, 4, 3, 3)),
    "rmsnorm": (lambda m: m.RMSNorm(6), (3, 4, 6)),
    "rmsnorm_eps_2d": (lambda m: m.RMSNorm([4, 6], eps=1e-4), (3, 4, 6)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(NORMS))
def test_layer_group_rms_norm(name, dtype):
    build, shape = NORMS[name]
    torch.manual_seed(0)
    theirs = build(tnn)
    with torch.no_grad():                     # non-trivial affine parameters
        for p in theirs.parameters():
            p.uniform_(0.5, 1.5)
    check_layer(build(nn), theirs, [randn(*shape, scale=2.0) + 1], dtype=dtype)
