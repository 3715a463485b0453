"""PyTorch parity of the torch.nn names added late: nn.Buffer, DataParallel (no GPUs),
SyncBatchNorm (no process group) and convert_sync_batchnorm, RNNCellBase, Container,
CrossMapLRN2d."""
from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def _np(t):
    return np.asarray(t.detach().numpy())


def _same_state(tg_module, torch_module):
    a, b = tg_module.state_dict(), torch_module.state_dict()
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_allclose(_np(a[k]), _np(b[k]), rtol=1e-6, atol=1e-7, err_msg=k)


# ---- nn.Buffer ------
class _WithBuffers:
    @staticmethod
    def build(m, lib):
        mod = m.Module()
        mod.kept = m.Buffer(lib.ones(3))
        mod.hidden = m.Buffer(lib.zeros(2), persistent=False)
        mod.plain = lib.ones(1)                     # a plain tensor: not registered
        return mod


def test_buffer_registers_on_assignment_as_torch():
    a, b = _WithBuffers.build(nn, tg), _WithBuffers.build(tnn, torch)
    names = [n for n, _ in a.named_buffers()]
    assert names == [n for n, _ in b.named_buffers()] == ["kept", "hidden"]
    _same_state(a, b)
    assert list(a.state_dict()) == ["kept"]
    assert isinstance(a.kept, nn.Buffer) and isinstance(a.kept, tg.Tensor)
    assert not isinstance(a.plain, nn.Buffer)
    # reassigning a plain tensor keeps the buffer's persistence, as torch
    a.hidden, b.hidden = tg.ones(4), torch.ones(4)
    assert "hidden" in a._non_persistent_buffers_set
    assert "hidden" in b._non_persistent_buffers_set
    a.hidden, b.hidden = nn.Buffer(tg.ones(1)), tnn.Buffer(torch.ones(1))
    assert list(a.state_dict()) == list(b.state_dict()) == ["kept", "hidden"]


def test_buffer_shares_storage_and_requires_grad():
    t = tg.ones(3, requires_grad=True)
    b = nn.Buffer(t)
    tb = tnn.Buffer(torch.ones(3, requires_grad=True))
    assert b.requires_grad == tb.requires_grad is True and b.is_leaf == tb.is_leaf is True
    with tg.no_grad():
        t.mul_(2)
    np.testing.assert_array_equal(_np(b), [2.0, 2.0, 2.0])
    assert nn.parameter.Buffer is nn.Buffer
    assert type(b * 2) is tg.Tensor
    c = copy.deepcopy(nn.Buffer(tg.ones(2), persistent=False))
    assert isinstance(c, nn.Buffer) and c.persistent is False
    p = pickle.loads(pickle.dumps(nn.Buffer(tg.arange(3.0), persistent=False)))
    assert p.persistent is False and _np(p).tolist() == [0.0, 1.0, 2.0]


def test_buffer_load_state_dict_from_torch():
    a, b = _WithBuffers.build(nn, tg), _WithBuffers.build(tnn, torch)
    b.kept.fill_(7.0)
    a.load_state_dict({k: tg.tensor(v.numpy()) for k, v in b.state_dict().items()})
    np.testing.assert_array_equal(_np(a.kept), [7.0, 7.0, 7.0])


@pytest.mark.parametrize("name, setup, exc", [
    ("x", lambda m, lib, mods: setattr(m, "x", 3), KeyError),
    ("lin", lambda m, lib, mods: setattr(m, "lin", mods.Linear(1, 1)), TypeError),
    ("p", lambda m, lib, mods: m.register_parameter("p", mods.Parameter(lib.ones(1))),
     TypeError),
])
def test_buffer_assignment_errors_as_torch(name, setup, exc):
    for mods, lib in ((nn, tg), (tnn, torch)):
        m = mods.Module()
        setup(m, lib, mods)
        with pytest.raises(exc):
            setattr(m, name, mods.Buffer(lib.ones(1)))
    m = nn.Module()
    m.b = nn.Buffer(tg.ones(1))
    with pytest.raises(TypeError, match="buffer 'b'"):
        m.b = 3
    with pytest.raises(TypeError, match="nn.Buffer"):
        nn.Buffer([1.0])


# ---- DataParallel ------
def test_data_parallel_on_cpu_matches_torch():
    torch.manual_seed(0)
    tl = tnn.Linear(4, 3)
    lin = nn.Linear(4, 3)
    lin.load_state_dict({k: tg.tensor(v.numpy()) for k, v in tl.state_dict().items()})
    dp, tdp = nn.DataParallel(lin, device_ids=[5], output_device=7), \
        tnn.DataParallel(tl, device_ids=[5], output_device=7)
    assert dp.module is lin and dp.device_ids == tdp.device_ids == []
    assert hasattr(dp, "dim") == hasattr(tdp, "dim") is False
    assert hasattr(dp, "output_device") == hasattr(tdp, "output_device") is False
    assert list(dp.state_dict()) == list(tdp.state_dict()) == ["module.weight", "module.bias"]
    x = np.random.default_rng(0).standard_normal((5, 4))
    xa, xb = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yb = dp(xa.float()), tdp(xb.float())
    np.testing.assert_allclose(_np(ya), _np(yb), rtol=1e-5, atol=1e-6)
    ya.sum().backward()
    yb.sum().backward()
    np.testing.assert_allclose(_np(lin.weight.grad), _np(tl.weight.grad), rtol=1e-5)
    assert nn.parallel.DataParallel is nn.DataParallel
    assert repr(dp).splitlines()[1].strip().startswith("(module): Linear(")


def test_data_parallel_functional_raises_as_torch_on_cpu():
    for mods, lib in ((nn, tg), (tnn, torch)):
        with pytest.raises(RuntimeError, match="device type could not be determined"):
            mods.parallel.data_parallel(mods.Linear(2, 3), lib.ones(1, 2))


# ---- SyncBatchNorm ------
def _copy_params(dst, src):
    dst.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in src.state_dict().items()})


@pytest.mark.parametrize("kw", [{}, {"momentum": None}, {"affine": False},
                                {"track_running_stats": False}])
def test_sync_batchnorm_train_and_eval_as_torch(kw):
    torch.manual_seed(0)
    tb = tnn.SyncBatchNorm(3, **kw)
    if tb.affine:
        with torch.no_grad():
            tb.weight.uniform_(0.5, 1.5)
            tb.bias.uniform_(-0.5, 0.5)
    b = nn.SyncBatchNorm(3, **kw)
    _copy_params(b, tb)
    rng = np.random.default_rng(1)
    for mode in ("train", "train", "eval"):
        getattr(b, mode)(), getattr(tb, mode)()
        x = rng.standard_normal((4, 3, 5))
        xa, xb = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ya, yb = b(xa.float()), tb(xb.float())
        np.testing.assert_allclose(_np(ya), _np(yb), rtol=1e-4, atol=1e-5)
        w = rng.standard_normal(ya.shape)
        (ya * tg.tensor(w).float()).sum().backward()
        (yb * torch.tensor(w).float()).sum().backward()
        np.testing.assert_allclose(_np(xa.grad), _np(xb.grad), rtol=1e-4, atol=1e-5)
        _same_state(b, tb)
    assert repr(b) == repr(tb)


def test_sync_batchnorm_errors_as_torch():
    for mods, lib in ((nn, tg), (tnn, torch)):
        with pytest.raises(ValueError, match=r"expected at least 2D input \(got 1D input\)"):
            mods.SyncBatchNorm(3)(lib.ones(3))
        with pytest.raises(ValueError, match="number of input channels should be non-zero"):
            mods.SyncBatchNorm(0)(lib.ones(2, 0))


def _convnet(m):
    return m.Sequential(m.Conv2d(2, 3, 1), m.BatchNorm2d(3),
                        m.Sequential(m.Linear(4, 4), m.BatchNorm1d(3, affine=False)))


def test_convert_sync_batchnorm_as_torch():
    torch.manual_seed(0)
    tmodel = _convnet(tnn)
    tmodel[1](torch.randn(2, 3, 3, 4))                     # running stats move off their init
    model = _convnet(nn)
    _copy_params(model, tmodel)
    model[1].eval()
    tmodel[1].eval()
    weight, running = model[1].weight, model[1].running_mean
    out, tout = nn.SyncBatchNorm.convert_sync_batchnorm(model), \
        tnn.SyncBatchNorm.convert_sync_batchnorm(tmodel)
    assert out is model
    assert [type(m).__name__ for m in out.modules()] == \
        [type(m).__name__ for m in tout.modules()]
    assert type(out[1]) is nn.SyncBatchNorm and type(out[2][1]) is nn.SyncBatchNorm
    assert out[1].weight is weight and out[1].running_mean is running
    assert out[1].training is False and out[2][1].training is True
    _same_state(out, tout)
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(5))
    assert type(single) is nn.SyncBatchNorm and single.num_features == 5
    assert nn.SyncBatchNorm.convert_sync_batchnorm(nn.ReLU()).__class__ is nn.ReLU


# ---- RNNCellBase, Container, CrossMapLRN2d ------
def test_rnn_cell_base():
    for cls in (nn.RNNCell, nn.GRUCell, nn.LSTMCell):
        assert issubclass(cls, nn.RNNCellBase)
    base, tbase = nn.RNNCellBase(3, 4, True, 2), tnn.RNNCellBase(3, 4, True, 2)
    assert [(k, tuple(v.shape)) for k, v in base.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in tbase.state_dict().items()]
    assert repr(base) == repr(tbase)
    with pytest.raises(NotImplementedError):
        base(tg.ones(2, 3))
    with pytest.raises(RuntimeError, match="input_size"):
        nn.GRUCell(3, 4)(tg.ones(2, 5))
    with pytest.raises(ValueError, match="1D or 2D"):
        nn.LSTMCell(3, 4)(tg.ones(1, 2, 3))


def test_container_deprecated_as_torch():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c = nn.Container(a=nn.Linear(1, 2))
        tc = tnn.Container(a=tnn.Linear(1, 2))
    messages = [str(w.message) for w in caught if w.category is FutureWarning]
    assert len(messages) == 2 and messages[0] == messages[1]
    assert list(c.state_dict()) == list(tc.state_dict()) == ["a.weight", "a.bias"]
    with pytest.warns(FutureWarning, match="nn.Container"):
        class Sub(nn.Container):
            pass


@pytest.mark.parametrize("channels, size", [(7, 3), (5, 5), (3, 2), (9, 4), (1, 3)])
def test_cross_map_lrn2d_as_torch(channels, size):
    x = np.random.default_rng(channels).standard_normal((2, channels, 3, 4))
    layer, tlayer = nn.CrossMapLRN2d(size, 0.5, 0.75, 2), tnn.CrossMapLRN2d(size, 0.5, 0.75, 2)
    assert repr(layer) == repr(tlayer)
    xa = tg.tensor(x, requires_grad=True)
    ya, yb = layer(xa), tlayer(torch.tensor(x))
    np.testing.assert_allclose(_np(ya), _np(yb), rtol=1e-12, atol=1e-12)
    # gradient: autograd of the same forward in torch (torch's own backward is not its gradient)
    xb = torch.tensor(x, requires_grad=True)
    ref = _torch_loop(xb, size, 0.5, 0.75, 2)
    np.testing.assert_allclose(_np(ref), _np(yb), rtol=1e-12)
    w = np.random.default_rng(0).standard_normal(x.shape)
    (ya * tg.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(_np(xa.grad), _np(xb.grad), rtol=1e-10, atol=1e-12)


def _torch_loop(x, size, alpha, beta, k):
    """torch's CrossMapLRN2d forward loop, replayed out of place so torch's autograd runs."""
    sq, channels = x * x, x.shape[1]
    pre_pad = int((size - 1) / 2 + 1)
    scales = [sq[:, :min(pre_pad, channels)].sum(1)]
    for c in range(1, channels):
        cur = scales[-1]
        if c < channels - pre_pad + 1:
            cur = cur + sq[:, c + pre_pad - 1]
        if c > pre_pad:
            cur = cur - sq[:, c - pre_pad]
        scales.append(cur)
    return x * (torch.stack(scales, 1) * (alpha / size) + k) ** -beta


def test_cross_map_lrn2d_rejects_non_4d_as_torch():
    for mods, lib in ((nn, tg), (tnn, torch)):
        with pytest.raises(ValueError, match="CrossMapLRN2d: Expected input to be 4D, got 2D"):
            mods.CrossMapLRN2d(3)(lib.ones(2, 3))


# ---- nn.factory_kwargs, lr_scheduler's re-exported names ------
@pytest.mark.parametrize("kwargs", [None, {}, {"dtype": "float64"}, {"device": "cpu"},
                                    {"dtype": "float64", "factory_kwargs": {"device": "cpu"}},
                                    {"factory_kwargs": {"dtype": "float64"}}])
def test_factory_kwargs_as_torch(kwargs):
    def given(lib):
        if kwargs is None:
            return None
        out = {k: getattr(lib, v) if k == "dtype" else v for k, v in kwargs.items()}
        if "factory_kwargs" in kwargs:
            out["factory_kwargs"] = {k: getattr(lib, v) if k == "dtype" else v
                                     for k, v in kwargs["factory_kwargs"].items()}
        return out
    ours, theirs = nn.factory_kwargs(given(tg)), tnn.factory_kwargs(given(torch))
    assert sorted(ours) == sorted(theirs)
    assert tg.empty(2, **ours).dtype.name == str(torch.empty(2, **theirs).dtype)[6:]


def test_factory_kwargs_errors_as_torch():
    for lib in (nn, tnn):
        with pytest.raises(TypeError, match="unexpected kwargs"):
            lib.factory_kwargs({"dtyp": 1})
        with pytest.raises(TypeError, match="dtype specified twice"):
            lib.factory_kwargs({"dtype": 1, "factory_kwargs": {"dtype": 2}})
    assert tg.optim.lr_scheduler.Optimizer is tg.optim.Optimizer
    assert tg.optim.lr_scheduler.Tensor is tg.Tensor
