"""Module and Parameter: registration, traversal, state dicts, modes, devices/dtypes, hooks."""
from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.fc2 = nn.Linear(3, 2, bias=False)
        self.scale = nn.Parameter(tg.ones(2))
        self.register_buffer("steps", tg.zeros((), dtype=tg.int64))
        self.register_buffer("cache", tg.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.bn(self.fc1(x)).relu()) * self.scale


# ---- Parameter ---------------------------------------------------------------------------------
def test_parameter_is_a_tensor_and_ops_give_plain_tensors():
    p = nn.Parameter(tg.randn(3))
    assert isinstance(p, tg.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf
    for out in (p * 2, p + p, p.reshape(3, 1), p.detach(), p.data, p.exp()):
        assert not isinstance(out, nn.Parameter)
    assert not nn.Parameter(tg.randn(2), requires_grad=False).requires_grad
    assert "Parameter containing" in repr(p)


def test_parameter_shares_storage_with_its_tensor():
    t = tg.zeros(3)
    p = nn.Parameter(t)
    with tg.no_grad():
        p.add_(1.0)
    np.testing.assert_array_equal(t.numpy(), np.ones(3, np.float32))


def test_parameter_deepcopy_is_a_new_parameter():
    p = nn.Parameter(tg.randn(3))
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q is not p and q.requires_grad
    np.testing.assert_array_equal(q.numpy(), p.numpy())
    with tg.no_grad():
        q.add_(1.0)
    assert not np.allclose(q.numpy(), p.numpy())


# ---- registration and traversal ----------------------------------------------------------------
def test_named_parameters_buffers_children_modules():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "scale", "fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight"]
    assert [n for n, _ in net.named_buffers()] == [
        "steps", "cache", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["fc1", "bn", "fc2"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "bn", "fc2"]
    assert len(list(net.parameters(recurse=False))) == 1
    assert len(list(net.modules())) == 4 and len(list(net.children())) == 3
    assert net.get_submodule("bn") is net.bn
    assert net.get_parameter("fc1.bias") is net.fc1.bias


def test_state_dict_keys_persistence_and_detached_values():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == ["scale", "steps", "fc1.weight", "fc1.bias", "bn.weight", "bn.bias",
                        "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
                        "fc2.weight"]
    assert "cache" not in sd
    assert all(not v.requires_grad and not isinstance(v, nn.Parameter) for v in sd.values())
    assert sd["bn.num_batches_tracked"].dtype == tg.int64
    kept = net.state_dict(keep_vars=True)
    assert kept["fc1.weight"] is net.fc1.weight


def test_shared_parameters_are_listed_once():
    a = nn.Linear(3, 3)
    net = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(net.parameters())) == 2
    assert len(list(net.modules())) == 3          # Sequential, Linear (once), ReLU
    tied = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 5, bias=False))
    tied[1].weight = tied[0].weight
    assert len(list(tied.parameters())) == 1
    assert list(tied.state_dict()) == ["0.weight", "1.weight"]


def test_setattr_registration_and_reassignment():
    m = nn.Module()
    m.w = nn.Parameter(tg.ones(2))
    m.child = nn.Linear(2, 2)
    m.plain = 3
    assert "w" in m._parameters and "child" in m._modules and m.plain == 3
    m.w = None
    assert m.w is None and list(m.parameters()) == list(m.child.parameters())
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = tg.ones(2)
    m.register_buffer("b", tg.zeros(2))
    m.b = tg.ones(2)
    assert "b" in m._buffers and m.b.sum().item() == 2.0
    with pytest.raises(TypeError):
        m.register_buffer("c", [1, 2])
    with pytest.raises(KeyError):
        m.register_buffer("plain", tg.zeros(1))
    with pytest.raises(KeyError):
        m.register_parameter("a.b", None)
    del m.child
    assert "child" not in m._modules
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        getattr(m, "missing")
    m.add_module("extra", nn.ReLU())
    assert isinstance(m.extra, nn.ReLU)
    with pytest.raises(TypeError):
        m.add_module("bad", 3)


def test_register_before_init_is_an_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(tg.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


# ---- load_state_dict ---------------------------------------------------------------------------
def test_load_state_dict_round_trip_numpy_and_tensors():
    a, b = Net(), Net()
    with tg.no_grad():
        a.bn.running_mean.fill_(0.5)
        a.steps.fill_(7)
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(va.numpy(), vb.numpy(), err_msg=k)
    c = Net()
    c.load_state_dict({k: v.numpy().copy() for k, v in a.state_dict().items()})
    np.testing.assert_array_equal(c.fc1.weight.numpy(), a.fc1.weight.numpy())
    assert c.steps.item() == 7 and c.steps.dtype == tg.int64


def test_load_state_dict_assign_replaces_tensors():
    net = nn.Linear(3, 2)
    w = net.weight
    new = {"weight": tg.ones(2, 3, dtype=tg.float64), "bias": tg.zeros(2, dtype=tg.float64)}
    net.load_state_dict(new, assign=True)
    assert net.weight is not w and isinstance(net.weight, nn.Parameter)
    assert net.weight.requires_grad and net.weight.dtype == tg.float64


def test_train_calls_children_train_overrides():
    class FrozenBN(nn.BatchNorm1d):
        def train(self, mode=True):
            return super().train(False)

    net = nn.Sequential(nn.Linear(2, 2), FrozenBN(2))
    net.train()
    assert net.training and net[0].training and not net[1].training


def test_load_state_dict_keeps_parameter_identity():
    net = Net()
    w = net.fc1.weight
    net.load_state_dict(Net().state_dict())
    assert net.fc1.weight is w and isinstance(w, nn.Parameter) and w.requires_grad


def test_load_state_dict_strict_errors():
    net = Net()
    sd = net.state_dict()
    missing = OrderedDict((k, v) for k, v in sd.items() if k != "fc1.bias")
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "fc1.bias"'):
        net.load_state_dict(missing)
    extra = OrderedDict(sd)
    extra["fc3.weight"] = tg.zeros(1)
    extra["bn.foo"] = tg.zeros(1)
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "fc3.weight", '
                                           r'"bn.foo"'):
        net.load_state_dict(extra)
    wrong = OrderedDict(sd)
    wrong["fc1.weight"] = tg.zeros(4, 4)
    with pytest.raises(RuntimeError, match=r"size mismatch for fc1.weight: copying a param "
                                           r"with shape \(4, 4\) from checkpoint, the shape in "
                                           r"current model is \(3, 4\)"):
        net.load_state_dict(wrong)
    result = net.load_state_dict(missing, strict=False)
    assert result.missing_keys == ["fc1.bias"] and result.unexpected_keys == []
    result = net.load_state_dict(extra, strict=False)
    assert result.unexpected_keys == ["fc3.weight", "bn.foo"]
    with pytest.raises(RuntimeError, match="size mismatch"):
        net.load_state_dict(wrong, strict=False)       # shapes are checked even when not strict
    with pytest.raises(TypeError):
        net.load_state_dict([1, 2])


def test_non_persistent_buffer_in_checkpoint_is_unexpected():
    net = Net()
    sd = net.state_dict()
    sd["cache"] = tg.zeros(2)
    with pytest.raises(RuntimeError, match='"cache"'):
        net.load_state_dict(sd)


def test_load_torch_tensors_directly():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t = torch.nn.Linear(4, 3)
    m = nn.Linear(4, 3)
    m.load_state_dict(t.state_dict())
    np.testing.assert_array_equal(m.weight.numpy(), t.weight.detach().numpy())


# ---- modes, gradients, apply -------------------------------------------------------------------
def test_train_eval_flags_propagate():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5), nn.BatchNorm1d(2)))
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net[1].train(False)
    assert net.training and not net[1][0].training
    with pytest.raises(ValueError):
        net.train("yes")


def test_dropout_and_batchnorm_follow_train_eval():
    tg.manual_seed(0)
    drop = nn.Dropout(0.5)
    x = tg.ones(1000)
    y = drop(x)
    zeros = int((y == 0).sum().item())
    assert 350 < zeros < 650
    np.testing.assert_allclose(y.numpy()[y.numpy() != 0], 2.0)
    drop.eval()
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())
    bn = nn.BatchNorm1d(3)
    x = tg.randn(16, 3) * 3 + 1
    bn(x)
    mean_after_train = bn.running_mean.numpy().copy()
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    y = bn(x)
    np.testing.assert_array_equal(bn.running_mean.numpy(), mean_after_train)
    assert bn.num_batches_tracked.item() == 1
    expected = (x.numpy() - mean_after_train) / np.sqrt(bn.running_var.numpy() + 1e-5)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_zero_grad_and_requires_grad_():
    net = Net()
    net(tg.randn(5, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_apply_visits_children_first():
    seen = []
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    net.apply(init_weights)
    assert not net[0].weight.numpy().any()


# ---- dtypes and devices ------------------------------------------------------------------------
def test_to_dtype_keeps_parameter_identity_and_int_buffers():
    net = Net()
    params = list(net.parameters())
    net(tg.randn(5, 4)).sum().backward()
    assert net.double() is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == tg.float64 and isinstance(p, nn.Parameter) for p in net.parameters())
    assert all(p.grad.dtype == tg.float64 for p in net.parameters())
    assert net.bn.running_mean.dtype == tg.float64
    assert net.bn.num_batches_tracked.dtype == tg.int64
    assert net.steps.dtype == tg.int64
    y = net(tg.randn(5, 4, dtype=tg.float64))
    assert y.dtype == tg.float64
    net.to(tg.float32)
    assert net.fc1.weight.dtype == tg.float32 and net.fc1.weight.requires_grad
    net.to("cpu")
    net.to(device="cpu", dtype=tg.float32)
    net.float()
    with pytest.raises(TypeError, match="floating point"):
        net.to(tg.int64)


def test_optimiser_style_update_after_to():
    net = nn.Linear(3, 1)
    w = net.weight
    net.double()
    net(tg.randn(4, 3, dtype=tg.float64)).sum().backward()
    with tg.no_grad():
        w.sub_(w.grad * 0.1)              # the optimiser's reference still points at the param
    assert net.weight is w and w.dtype == tg.float64


# ---- calling, hooks, repr, deepcopy ------------------------------------------------------------
def test_call_runs_forward_and_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: calls.append("pre"))
    h2 = lin.register_forward_hook(lambda m, args, out: out * 0)
    y = lin(tg.ones(1, 2))
    assert calls == ["pre"] and not y.numpy().any()
    h1.remove()
    h2.remove()
    assert lin(tg.ones(1, 2)).numpy().any() and calls == ["pre"]
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(tg.ones(1))


def test_repr_like_pytorch():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Sequential(nn.Dropout(0.1)))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Dropout(p=0.1, inplace=False)\n"
        "  )\n"
        ")")
    assert repr(nn.Conv2d(1, 2, 3, stride=2, bias=False)) == \
        "Conv2d(1, 2, kernel_size=(3, 3), stride=(2, 2), bias=False)"
    assert repr(nn.BatchNorm2d(4)) == \
        "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"


def test_repr_matches_torch_for_common_layers():
    torch = pytest.importorskip("torch")
    for build in (lambda m: m.Linear(4, 3), lambda m: m.Conv2d(3, 8, 3, padding=1, groups=1),
                  lambda m: m.LayerNorm(5), lambda m: m.Embedding(10, 4, padding_idx=0),
                  lambda m: m.LSTM(3, 4, num_layers=2, batch_first=True),
                  lambda m: m.GELU(approximate="tanh"), lambda m: m.Flatten(),
                  lambda m: m.MaxPool2d(2), lambda m: m.GroupNorm(2, 4), lambda m: m.BatchNorm1d(3),
                  lambda m: m.MultiheadAttention(4, 2), lambda m: m.ConvTranspose2d(2, 3, 3),
                  lambda m: m.Dropout(0.2), lambda m: m.Embedding(5, 2)):
        assert repr(build(nn)) == repr(build(torch.nn))


def test_deepcopy_gives_independent_parameters():
    net = Net()
    clone = copy.deepcopy(net)
    assert clone.fc1.weight is not net.fc1.weight
    np.testing.assert_array_equal(clone.fc1.weight.numpy(), net.fc1.weight.numpy())
    with tg.no_grad():
        clone.fc1.weight.fill_(0.0)
    assert net.fc1.weight.numpy().any()
    assert list(clone.state_dict()) == list(net.state_dict())
