"""Lazy modules (nn.LazyLinear, LazyConv*, LazyConvTranspose*, LazyBatchNorm*, LazyInstanceNorm*,
nn.modules.lazy.LazyModuleMixin, nn.parameter.UninitializedParameter / UninitializedBuffer)
against PyTorch: what the first forward makes of them, their initial values (the regular
class's, the same draws), state dicts both ways, errors, and a dry run then training."""
from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from tinygen import nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _tg(array):
    return tg.tensor(array)


def _th(array):
    return torch.from_numpy(np.array(array))


def _numpy(t):
    return t.detach().numpy()                 # a torch or a tinygen tensor


# name: (build the lazy module from a namespace, input shape, build the regular module with the
# inferred size from a namespace)
CASES = {
    "linear": (lambda m: m.LazyLinear(5), (4, 3), lambda m: m.Linear(3, 5)),
    "linear_3d_nobias": (lambda m: m.LazyLinear(5, bias=False), (2, 6, 3),
                         lambda m: m.Linear(3, 5, bias=False)),
    "conv1d": (lambda m: m.LazyConv1d(4, 3, stride=2), (2, 3, 9),
               lambda m: m.Conv1d(3, 4, 3, stride=2)),
    "conv1d_unbatched": (lambda m: m.LazyConv1d(4, 3), (3, 9), lambda m: m.Conv1d(3, 4, 3)),
    "conv2d_groups": (lambda m: m.LazyConv2d(4, 3, padding=1, groups=2), (2, 6, 5, 5),
                      lambda m: m.Conv2d(6, 4, 3, padding=1, groups=2)),
    "conv3d": (lambda m: m.LazyConv3d(2, 2, bias=False), (1, 3, 4, 4, 4),
               lambda m: m.Conv3d(3, 2, 2, bias=False)),
    "conv_transpose1d": (lambda m: m.LazyConvTranspose1d(4, 3, stride=2), (2, 3, 5),
                         lambda m: m.ConvTranspose1d(3, 4, 3, stride=2)),
    "conv_transpose2d": (lambda m: m.LazyConvTranspose2d(4, 3, groups=2), (2, 4, 5, 5),
                         lambda m: m.ConvTranspose2d(4, 4, 3, groups=2)),
    "conv_transpose3d": (lambda m: m.LazyConvTranspose3d(2, 2), (1, 3, 3, 3, 3),
                         lambda m: m.ConvTranspose3d(3, 2, 2)),
    "batchnorm1d": (lambda m: m.LazyBatchNorm1d(), (8, 5), lambda m: m.BatchNorm1d(5)),
    "batchnorm1d_3d": (lambda m: m.LazyBatchNorm1d(momentum=None), (4, 5, 3),
                       lambda m: m.BatchNorm1d(5, momentum=None)),
    "batchnorm2d_noaffine": (lambda m: m.LazyBatchNorm2d(affine=False), (4, 3, 5, 5),
                             lambda m: m.BatchNorm2d(3, affine=False)),
    "batchnorm3d_nostats": (lambda m: m.LazyBatchNorm3d(track_running_stats=False),
                            (2, 3, 3, 3, 3),
                            lambda m: m.BatchNorm3d(3, track_running_stats=False)),
    "instancenorm1d": (lambda m: m.LazyInstanceNorm1d(), (2, 3, 7),
                       lambda m: m.InstanceNorm1d(3, affine=True, track_running_stats=True)),
    "instancenorm2d_noaffine": (lambda m: m.LazyInstanceNorm2d(affine=False), (2, 3, 5, 5),
                                lambda m: m.InstanceNorm2d(3, track_running_stats=True)),
    "instancenorm3d": (lambda m: m.LazyInstanceNorm3d(bias=False), (2, 3, 3, 3, 3),
                       lambda m: m.InstanceNorm3d(3, affine=True, track_running_stats=True,
                                                  bias=False)),
}


def _state(module):
    return dict(module.state_dict())


@pytest.mark.parametrize("name", list(CASES))
def test_first_forward_makes_the_regular_class_as_pytorch(name):
    build, shape, _ = CASES[name]
    ours, theirs = build(nn), build(tnn)
    assert ours.has_uninitialized_params() is theirs.has_uninitialized_params() is True
    assert repr(ours) == repr(theirs)
    assert list(_state(ours)) == list(_state(theirs))
    x = _x(*shape)
    ours(_tg(x))
    theirs(_th(x))
    assert type(ours).__name__ == type(theirs).__name__
    assert type(ours) is getattr(nn, type(theirs).__name__)
    assert not any(nn.parameter.is_lazy(t) for t in list(ours.parameters()) + list(ours.buffers()))
    assert repr(ours) == repr(theirs)
    mine, ref = _state(ours), _state(theirs)
    assert list(mine) == list(ref)
    for key in ref:
        assert type(mine[key]) is tg.Tensor, key
        assert tuple(mine[key].shape) == tuple(ref[key].shape), key
        assert str(mine[key].dtype).split(".")[-1] == str(ref[key].dtype).split(".")[-1], key
    for (key, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert type(p) is nn.Parameter and p.requires_grad is q.requires_grad is True, key


@pytest.mark.parametrize("name", list(CASES))
def test_initial_values_are_the_regular_classs_with_the_same_draws(name):
    build, shape, regular = CASES[name]
    x = _tg(_x(*shape))
    tg.manual_seed(7)
    lazy = build(nn)
    lazy(x)
    after_lazy = tg.rand(3).numpy()             # the stream advanced by the same draws too
    tg.manual_seed(7)
    plain = regular(nn)
    after_plain = tg.rand(3).numpy()
    np.testing.assert_array_equal(after_lazy, after_plain)
    lazy_params = dict(lazy.named_parameters())
    for key, p in plain.named_parameters():
        np.testing.assert_array_equal(lazy_params[key].numpy(), p.numpy(), err_msg=key)
    assert list(lazy_params) == [k for k, _ in plain.named_parameters()]


def _outputs_after_load(src, dst, x_src, x_dst, to_dst):
    dst.load_state_dict({k: to_dst(v) for k, v in src.state_dict().items()})
    return _numpy(src(x_src)), _numpy(dst(x_dst))


LOADABLE = [name for name in CASES if name not in ("instancenorm1d", "instancenorm3d")]


@pytest.mark.filterwarnings("ignore:input's size at dim=1 does not match")   # as PyTorch's
@pytest.mark.parametrize("name", LOADABLE)
@pytest.mark.parametrize("direction", ["torch_to_tinygen", "tinygen_to_torch"])
def test_state_dict_of_a_materialized_module_loads_into_a_lazy_one(name, direction):
    build, shape, _ = CASES[name]
    x, x2 = _x(*shape), _x(*shape, seed=1)
    if direction == "torch_to_tinygen":
        src, dst = build(tnn), build(nn)
        src(_th(x))
        dst_lazy_repr = repr(dst)
        theirs, ours = _outputs_after_load(src, dst, _th(x2), _tg(x2), lambda v: v)
        reference = build(tnn)                    # the same load and call in PyTorch
        reference.load_state_dict(src.state_dict())
    else:
        src, dst = build(nn), build(tnn)
        src(_tg(x))
        dst_lazy_repr = repr(dst)
        ours, theirs = _outputs_after_load(src, dst, _tg(x2), _th(x2),
                                           lambda v: torch.from_numpy(v.numpy().copy()))
        reference = None
    assert dst_lazy_repr.startswith("Lazy")
    assert type(dst).__name__ == type(src).__name__
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    if reference is not None:                   # sizes inferred after a load: as PyTorch
        reference(_th(x2))
        assert repr(dst) == repr(reference)


@pytest.mark.parametrize("name", ["instancenorm1d", "instancenorm3d"])
def test_an_affine_instance_norm_loaded_lazily_keeps_num_features_0_as_pytorch(name):
    # PyTorch infers num_features only while a tensor is uninitialized: after a load it stays
    # 0, and the affine instance norm's check of the channels then raises in the forward
    build, shape, regular = CASES[name]
    ours, theirs = build(nn), build(tnn)
    ours.load_state_dict(regular(nn).state_dict())
    theirs.load_state_dict(regular(tnn).state_dict())
    x = _x(*shape)
    err = _raises_as_torch(lambda: ours(_tg(x)), lambda: theirs(_th(x)))
    assert isinstance(err, ValueError) and "num_features (0)" in str(err)


def test_state_dict_of_a_lazy_module_holds_the_uninitialized_tensors():
    ours, theirs = nn.LazyBatchNorm1d(), tnn.LazyBatchNorm1d()
    mine, ref = ours.state_dict(), theirs.state_dict()
    assert list(mine) == list(ref)
    for key in ref:
        assert type(mine[key]).__name__ == type(ref[key]).__name__, key
    assert isinstance(mine["weight"], nn.UninitializedParameter)
    assert isinstance(mine["running_mean"], nn.UninitializedBuffer)
    assert mine["weight"] is ours.weight                     # itself, not a detached view
    assert mine["num_batches_tracked"].item() == ref["num_batches_tracked"].item() == 0
    assert repr(mine["running_var"]) == repr(ref["running_var"]) == "<UninitializedBuffer>"


@pytest.mark.parametrize("source", ["tinygen", "torch"])
def test_a_lazy_state_dict_into_a_lazy_module_keeps_it_lazy(source):
    ours, theirs = nn.LazyLinear(4), tnn.LazyLinear(4)
    sd = (nn.LazyLinear(4) if source == "tinygen" else tnn.LazyLinear(4)).state_dict()
    result = ours.load_state_dict(sd)
    expected = theirs.load_state_dict(tnn.LazyLinear(4).state_dict())
    assert str(result) == str(expected) == "<All keys matched successfully>"
    assert ours.has_uninitialized_params() and theirs.has_uninitialized_params()
    assert type(ours.weight) is nn.UninitializedParameter


def test_a_partial_load_materializes_only_what_it_holds():
    sd = tnn.Linear(3, 4).state_dict()
    del sd["bias"]
    ours, theirs = nn.LazyLinear(4), tnn.LazyLinear(4)
    result, expected = ours.load_state_dict(sd, strict=False), theirs.load_state_dict(
        sd, strict=False)
    assert result.missing_keys == expected.missing_keys == ["bias"]
    assert result.unexpected_keys == expected.unexpected_keys == []
    assert type(ours.weight) is nn.Parameter and type(ours.bias) is nn.UninitializedParameter
    np.testing.assert_array_equal(ours.weight.numpy(), sd["weight"].numpy())
    with pytest.raises(RuntimeError, match="Missing key"):
        nn.LazyLinear(4).load_state_dict(sd)


def test_load_state_dict_assign_into_a_lazy_module():
    sd = tnn.Conv2d(2, 3, 3).state_dict()
    ours = nn.LazyConv2d(3, 3)
    ours.load_state_dict(sd, assign=True)
    assert type(ours.weight) is nn.Parameter and tuple(ours.weight.shape) == (3, 2, 3, 3)
    x = _x(1, 2, 5, 5)
    theirs = tnn.Conv2d(2, 3, 3)
    theirs.load_state_dict(sd)
    np.testing.assert_allclose(ours(_tg(x)).numpy(), _numpy(theirs(_th(x))), rtol=1e-5,
                               atol=1e-6)


def _raises_as_torch(ours, theirs):
    """Both calls raise; the same exception type; returns tinygen's exception."""
    with pytest.raises(Exception) as expected:
        theirs()
    with pytest.raises(expected.type) as got:
        ours()
    return got.value


def test_using_an_uninitialized_parameter_raises_as_pytorch():
    ours, theirs = nn.LazyLinear(3), tnn.LazyLinear(3)
    x = _x(2, 4)
    err = _raises_as_torch(lambda: ours.weight + 1, lambda: theirs.weight + 1)
    assert isinstance(err, ValueError) and "uninitialized parameter" in str(err)
    err = _raises_as_torch(lambda: F.linear(_tg(x), ours.weight),
                           lambda: tnn.functional.linear(_th(x), theirs.weight))
    assert "LazyModule" in str(err) and "forward" in str(err)
    err = _raises_as_torch(lambda: ours.weight.shape, lambda: theirs.weight.shape)
    assert isinstance(err, RuntimeError) and "shape of an uninitialized" in str(err)
    _raises_as_torch(lambda: sum(p.numel() for p in ours.parameters()),
                     lambda: sum(p.numel() for p in theirs.parameters()))
    _raises_as_torch(lambda: ours.weight.detach(), lambda: theirs.weight.detach())
    _raises_as_torch(lambda: ours.weight.clone(), lambda: theirs.weight.clone())
    # what is allowed: dtype, device, requires_grad, size() of the placeholder, repr
    assert ours.weight.size() == tuple(theirs.weight.size()) == (0,)
    assert ours.weight.ndim == theirs.weight.ndim == 1
    assert ours.weight.requires_grad is theirs.weight.requires_grad is True
    assert repr(ours.weight) == repr(theirs.weight) == "<UninitializedParameter>"
    assert ours.weight.dtype == tg.float32 and ours.weight.device.type == "cpu"


BAD_INPUTS = {
    "linear_0d": (lambda m: m.LazyLinear(3), ()),
    "conv2d_2d": (lambda m: m.LazyConv2d(3, 2), (2, 3)),
    "conv1d_4d": (lambda m: m.LazyConv1d(3, 2), (1, 2, 3, 4)),
    "conv_transpose3d_3d": (lambda m: m.LazyConvTranspose3d(3, 2), (2, 3, 4)),
    "conv2d_groups": (lambda m: m.LazyConv2d(4, 1, groups=2), (1, 3, 4, 4)),
    "batchnorm2d_3d": (lambda m: m.LazyBatchNorm2d(), (2, 3, 4)),
    "batchnorm2d_1d": (lambda m: m.LazyBatchNorm2d(), (3,)),
    "batchnorm1d_4d": (lambda m: m.LazyBatchNorm1d(), (2, 3, 4, 5)),
    "batchnorm3d_4d": (lambda m: m.LazyBatchNorm3d(), (2, 3, 4, 5)),
    "instancenorm2d_5d": (lambda m: m.LazyInstanceNorm2d(), (2, 3, 4, 5, 6)),
    "instancenorm1d_1d": (lambda m: m.LazyInstanceNorm1d(), (3,)),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_wrong_input_ranks_raise_pytorchs_exception_types(name):
    build, shape = BAD_INPUTS[name]
    ours, theirs = build(nn), build(tnn)
    x = _x(*shape)
    err = _raises_as_torch(lambda: ours(_tg(x)), lambda: theirs(_th(x)))
    assert type(ours).__name__ in str(err)          # names the module
    assert ours.has_uninitialized_params()          # and leaves it lazy


def test_an_input_that_disagrees_with_loaded_weights_raises_assertion_error():
    sd = tnn.Linear(3, 4).state_dict()
    ours, theirs = nn.LazyLinear(4), tnn.LazyLinear(4)
    ours.load_state_dict(sd)
    theirs.load_state_dict(sd)
    err = _raises_as_torch(lambda: ours(_tg(_x(2, 5))), lambda: theirs(_th(_x(2, 5))))
    assert isinstance(err, AssertionError) and "in_features inferred from input: 5" in str(err)


def test_a_lazy_state_dict_into_an_initialized_module_raises_runtime_error():
    err = _raises_as_torch(lambda: nn.Linear(3, 4).load_state_dict(nn.LazyLinear(4).state_dict()),
                           lambda: tnn.Linear(3, 4).load_state_dict(
                               tnn.LazyLinear(4).state_dict()))
    assert "uninitialized" in str(err)


def _custom_lazy(namespace, materialize):
    mixin = namespace.modules.lazy.LazyModuleMixin

    class LazyScale(mixin, namespace.Module):
        def __init__(self):
            super().__init__()
            self.scale = namespace.UninitializedParameter()

        def initialize_parameters(self, input):
            if materialize:
                self.scale.materialize(tuple(input.shape[1:]))
                with (tg.no_grad() if namespace is nn else torch.no_grad()):
                    self.scale.fill_(2.0)

        def forward(self, input):
            return input * self.scale

    return LazyScale()


def _bare_lazy(namespace):
    class Bare(namespace.modules.lazy.LazyModuleMixin, namespace.Module):
        def forward(self, input):
            return input

    return Bare()


def test_a_custom_lazy_module_as_pytorch_documents():
    ours, theirs = _custom_lazy(nn, True), _custom_lazy(tnn, True)
    x = _x(2, 3)
    np.testing.assert_array_equal(ours(_tg(x)).numpy(), _numpy(theirs(_th(x))))
    assert type(ours).__name__ == type(theirs).__name__ == "LazyScale"      # cls_to_become None
    assert tuple(ours.scale.shape) == (3,) and not ours.has_uninitialized_params()
    assert not theirs.has_uninitialized_params()
    assert not ours._forward_pre_hooks and not ours._has_hooks
    err = _raises_as_torch(lambda: _custom_lazy(nn, False)(_tg(x)),
                           lambda: _custom_lazy(tnn, False)(_th(x)))
    assert "has not been fully initialized" in str(err)
    err = _raises_as_torch(lambda: _bare_lazy(nn)(_tg(x)), lambda: _bare_lazy(tnn)(_th(x)))
    assert isinstance(err, NotImplementedError) and "Bare" in str(err)


def test_initialize_parameters_then_forward_as_pytorch():
    ours, theirs = nn.LazyConv2d(4, 3), tnn.LazyConv2d(4, 3)
    x = _x(1, 2, 6, 6)
    ours.initialize_parameters(_tg(x))
    theirs.initialize_parameters(_th(x))
    assert type(ours).__name__ == type(theirs).__name__ == "LazyConv2d"
    assert not ours.has_uninitialized_params() and not theirs.has_uninitialized_params()
    assert tuple(ours.weight.shape) == tuple(theirs.weight.shape) == (4, 2, 3, 3)
    ours(_tg(x))
    theirs(_th(x))
    assert type(ours) is nn.Conv2d and repr(ours) == repr(theirs)


def test_the_hook_goes_and_the_parameters_keep_their_identity():
    model = nn.Sequential(nn.LazyLinear(6), nn.ReLU(), nn.LazyLinear(2))
    before = list(model.parameters())
    assert all(model[i]._has_hooks for i in (0, 2))
    model(tg.ones(3, 4))
    after = list(model.parameters())
    assert len(before) == len(after) == 4 and all(a is b for a, b in zip(before, after))
    for i in (0, 2):
        assert not model[i]._has_hooks and not model[i]._forward_pre_hooks
        assert "_initialize_hook" not in model[i].__dict__
    assert [tuple(p.shape) for p in after] == [(6, 4), (6,), (2, 6), (2,)]


def test_repr_before_and_after_the_dry_run_as_pytorch():
    def build(m):
        return m.Sequential(m.LazyConv2d(4, 3, bias=False), m.LazyBatchNorm2d(), m.ReLU(),
                            m.Flatten(), m.LazyLinear(3))
    ours, theirs = build(nn), build(tnn)
    assert repr(ours) == repr(theirs)
    x = _x(2, 3, 6, 6)
    ours(_tg(x))
    theirs(_th(x))
    assert repr(ours) == repr(theirs)
    assert "Linear(in_features=64, out_features=3, bias=True)" in repr(ours)


def test_deepcopy_of_a_lazy_module_is_lazy_on_its_own():
    original = nn.LazyLinear(3)
    copied = copy.deepcopy(original)
    assert type(copied) is nn.LazyLinear and type(copied.weight) is nn.UninitializedParameter
    assert copied.weight is not original.weight
    copied(tg.ones(2, 5))
    assert type(copied) is nn.Linear and tuple(copied.weight.shape) == (3, 5)
    assert not copied._has_hooks
    assert type(original) is nn.LazyLinear and original.has_uninitialized_params()
    original(tg.ones(2, 7))
    assert type(original) is nn.Linear and tuple(original.weight.shape) == (3, 7)
    theirs = copy.deepcopy(tnn.LazyLinear(3))                # PyTorch: the same
    assert type(theirs.weight) is tnn.UninitializedParameter


def test_a_pickled_lazy_module_is_still_lazy_as_pytorch():
    # differs from PyTorch: an uninitialized tensor pickles with its dtype and device (PyTorch's
    # comes back float32 on the CPU, so its .double() would be lost here)
    ours = pickle.loads(pickle.dumps(nn.LazyConv1d(4, 3).double()))
    theirs = pickle.loads(pickle.dumps(tnn.LazyConv1d(4, 3)))
    assert type(ours).__name__ == type(theirs).__name__ == "LazyConv1d"
    assert type(ours.weight) is nn.UninitializedParameter and ours.weight.dtype == tg.float64
    x = _x(2, 3, 7)
    ours(_tg(x.astype(np.float64)))
    theirs(_th(x))
    assert type(ours) is nn.Conv1d and not ours._has_hooks
    assert tuple(ours.weight.shape) == tuple(theirs.weight.shape) == (4, 3, 3)
    assert ours.weight.dtype == tg.float64


@pytest.mark.parametrize("move", ["double", "to_float64"])
def test_dtype_moves_before_the_dry_run_as_pytorch(move):
    def build(m):
        return m.Sequential(m.LazyLinear(3), m.LazyBatchNorm1d())
    ours, theirs = build(nn), build(tnn)
    if move == "double":
        ours.double()
        theirs.double()
    else:
        ours.to(tg.float64)
        theirs.to(torch.float64)
    assert ours[0].weight.dtype == tg.float64 and ours[1].running_mean.dtype == tg.float64
    assert type(ours[0].weight) is nn.UninitializedParameter
    assert type(ours[1].running_mean) is nn.UninitializedBuffer
    x = _x(4, 5).astype(np.float64)
    ours(_tg(x))
    theirs(_th(x))
    for (key, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1], key
    assert ours[1].num_batches_tracked.dtype == tg.int64


def test_uninitialized_tensors_on_their_own():
    p = nn.parameter.UninitializedParameter(dtype=tg.float64)
    assert nn.parameter.is_lazy(p) and not nn.parameter.is_lazy(nn.Parameter(tg.ones(2)))
    p.materialize((2, 3))
    assert type(p) is nn.Parameter and tuple(p.shape) == (2, 3) and p.dtype == tg.float64
    assert p.requires_grad and (p * 2).shape == (2, 3)
    b = nn.UninitializedBuffer()
    assert not b.requires_grad
    b.materialize((4,), dtype=tg.float64)
    assert type(b) is tg.Tensor and b.dtype == tg.float64 and tuple(b.shape) == (4,)
    q = pickle.loads(pickle.dumps(nn.UninitializedParameter(False, dtype=tg.float64)))
    assert type(q) is nn.UninitializedParameter and q.dtype == tg.float64
    assert q.requires_grad is False
    assert nn.UninitializedParameter is nn.parameter.UninitializedParameter
    assert nn.UninitializedBuffer is nn.parameter.UninitializedBuffer
    assert issubclass(nn.UninitializedParameter, nn.parameter.UninitializedTensorMixin)
    assert issubclass(nn.LazyLinear, nn.modules.lazy.LazyModuleMixin)


def _model(m):
    return m.Sequential(m.LazyConv2d(4, 3), m.LazyBatchNorm2d(), m.ReLU(), m.Flatten(),
                        m.LazyLinear(3))


def test_dry_run_then_optimizer_then_training_equals_pytorch():
    dry, batches = _x(2, 2, 6, 6, seed=3), [_x(4, 2, 6, 6, seed=10 + i) for i in range(4)]
    targets = [np.random.default_rng(20 + i).integers(0, 3, 4) for i in range(4)]
    torch.manual_seed(0)
    theirs = _model(tnn)
    theirs(_th(dry))                                          # the dry run
    start = {k: v.clone() for k, v in theirs.state_dict().items()}
    ours = _model(nn)
    ours(_tg(dry))
    ours.load_state_dict(start)                               # start from PyTorch's weights
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    opt_g = tg.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for x, y in zip(batches, targets):
        loss_t = tnn.functional.cross_entropy(theirs(_th(x)), torch.from_numpy(y))
        opt_t.zero_grad()
        loss_t.backward()
        opt_t.step()
        loss_g = F.cross_entropy(ours(_tg(x)), tg.tensor(y))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        losses.append((loss_g.item(), loss_t.item()))
    mine, ref = np.array(losses).T
    np.testing.assert_allclose(mine, ref, rtol=1e-4, atol=1e-5)
    assert abs(ref[-1] - ref[0]) > 1e-3                       # it trained
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=key)


def test_instance_norm_unbatched_first_input_infers_the_channels():
    # differs from PyTorch, which reads dim 1 of an unbatched input (its length) and then
    # raises in the forward: here the channels (dim 0) are num_features
    ours = nn.LazyInstanceNorm1d()
    x = _x(3, 5)
    y = ours(_tg(x))
    assert type(ours) is nn.InstanceNorm1d and ours.num_features == 3
    theirs = tnn.InstanceNorm1d(3, affine=True, track_running_stats=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(y.numpy(), _numpy(theirs(_th(x))), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="num_features"):
        tnn.LazyInstanceNorm1d()(_th(x))


def test_a_non_affine_instance_norm_loaded_lazily_warns_as_pytorch():
    build, shape, regular = CASES["instancenorm2d_noaffine"]
    ours, theirs = build(nn), build(tnn)
    ours.load_state_dict(regular(nn).state_dict())
    theirs.load_state_dict(regular(tnn).state_dict())
    x = _x(*shape)
    with pytest.warns(UserWarning, match="does not match num_features"):
        theirs(_th(x))
    with pytest.warns(UserWarning, match="does not match num_features"):
        ours(_tg(x))
    assert ours.num_features == theirs.num_features == 0
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(),
                               rtol=1e-5, atol=1e-6)
