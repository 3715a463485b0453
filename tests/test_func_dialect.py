"""tinygen.func.functional_call, tinygen.autograd.functional and nn.utils.parametrizations
against PyTorch: values, gradients, state-dict keys."""
from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg
import tinygen.func  # noqa: F401  (until tinygen/__init__ imports it)
from tinygen import nn

torch = pytest.importorskip("torch")


def _t(a):
    return torch.tensor(np.asarray(a))


def _g(a):
    return tg.tensor(np.asarray(a))


def _close(a, b, tol=1e-6):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


def _mlp_pair():
    torch.manual_seed(0)
    th = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    tm = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    tm.load_state_dict({k: v.detach().numpy() for k, v in th.state_dict().items()})
    return th, tm


# ---- functional_call ---------------------------------------------------------------------------
def test_functional_call_values_grads_and_restore():
    th, tm = _mlp_pair()
    rng = np.random.default_rng(1)
    new = {k: rng.standard_normal(tuple(v.shape)).astype(np.float32)
           for k, v in th.state_dict().items()}
    x = rng.standard_normal((6, 4)).astype(np.float32)
    pth = {k: _t(v).requires_grad_() for k, v in new.items()}
    ptg = {k: _g(v).requires_grad_() for k, v in new.items()}
    oth = torch.func.functional_call(th, pth, (_t(x),))
    otg = tg.func.functional_call(tm, ptg, (_g(x),))
    _close(otg, oth, 1e-5)
    (oth ** 2).sum().backward()
    (otg ** 2).sum().backward()
    for k in new:
        _close(ptg[k].grad, pth[k].grad, 1e-4)
    for p in tm.parameters():
        assert p.grad is None                        # no gradient reaches the module's own
    _close(tm(_g(x)), th(_t(x)), 1e-5)               # originals back in place


def test_functional_call_partial_dicts_kwargs_and_error_restore():
    th, tm = _mlp_pair()
    w = np.ones((3, 5), np.float32)
    x = np.ones((2, 4), np.float32)
    got = tg.func.functional_call(tm, ({"2.weight": _g(w)}, {"2.bias": _g(np.zeros(3, np.float32))}),
                                  _g(x))
    want = torch.func.functional_call(th, ({"2.weight": _t(w)}, {"2.bias": _t(np.zeros(3, np.float32))}),
                                      _t(x))
    _close(got, want, 1e-5)
    with pytest.raises(ValueError):
        tg.func.functional_call(tm, ({"2.bias": _g(w)}, {"2.bias": _g(w)}), _g(x))
    before = tm[2].weight
    with pytest.raises(Exception):
        tg.func.functional_call(tm, {"2.weight": _g(np.ones((7, 7), np.float32))}, _g(x))
    assert tm[2].weight is before
    with pytest.raises(RuntimeError, match="Missing key"):
        tg.func.functional_call(tm, {"2.weight": _g(w)}, _g(x), strict=True)


def test_functional_call_buffers_tied_and_stateless():
    bn = nn.BatchNorm1d(3).eval()
    tbn = torch.nn.BatchNorm1d(3).eval()
    x = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    mean = np.array([1.0, -1.0, 0.5], np.float32)
    _close(tg.func.functional_call(bn, {"running_mean": _g(mean)}, _g(x)),
           torch.func.functional_call(tbn, {"running_mean": _t(mean)}, _t(x)), 1e-5)
    assert float(bn.running_mean.abs().sum().item()) == 0.0
    lin = nn.Linear(3, 3, bias=False)
    tied = nn.Sequential(lin, lin)
    w = _g(np.eye(3, dtype=np.float32) * 2)
    out = tg.func.functional_call(tied, {"0.weight": w}, _g(x))
    _close(out, x * 4, 1e-5)                          # both uses see the new weight
    with pytest.raises(ValueError, match="tied"):
        tg.func.functional_call(tied, {"0.weight": w, "1.weight": w * 1}, _g(x))
    with pytest.warns(FutureWarning):
        out = nn.utils.stateless.functional_call(tied, {"0.weight": w}, (_g(x),))
    _close(out, x * 4, 1e-5)


# ---- autograd.functional -----------------------------------------------------------------------
def _f_pair(lib):
    def f(x, y):
        return (x.sin() * y[:3]).exp(), (x * x).sum() * y
    return f


def _scalar(lib):
    def f(x, y):
        return (x.sin() * y[:3]).sum() + (x * x).sum() * y.prod()
    return f


X = np.array([0.3, -1.2, 0.7])
Y = np.array([0.5, 1.5, -0.4, 2.0])


def _cmp_nested(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for u, v in zip(a, b):
            _cmp_nested(u, v)
    else:
        assert tuple(a.shape) == tuple(b.shape)
        _close(a, b, 1e-10)


@pytest.mark.parametrize("tupled", [True, False])
def test_jacobian_and_hessian_match_torch(tupled):
    F, TF = tg.autograd.functional, torch.autograd.functional
    if tupled:
        args_g, args_t = (_g(X), _g(Y)), (_t(X), _t(Y))
        f, tf, s, ts = _f_pair(tg), _f_pair(torch), _scalar(tg), _scalar(torch)
    else:
        args_g, args_t = _g(X), _t(X)
        f, tf = (lambda x: (x.sin() * 2).exp()), (lambda x: (x.sin() * 2).exp())
        s, ts = (lambda x: (x.sin() * x).sum()), (lambda x: (x.sin() * x).sum())
    _cmp_nested(F.jacobian(f, args_g), TF.jacobian(tf, args_t))
    _cmp_nested(F.jacobian(f, args_g, vectorize=True), TF.jacobian(tf, args_t, vectorize=True))
    _cmp_nested(F.hessian(s, args_g), TF.hessian(ts, args_t))


def test_vjp_jvp_vhp_hvp_match_torch():
    F, TF = tg.autograd.functional, torch.autograd.functional
    args_g, args_t = (_g(X), _g(Y)), (_t(X), _t(Y))
    vo = (np.array([1.0, -2.0, 0.5]), np.array([0.1, 0.2, 0.3, 0.4]))
    vi = (np.array([0.3, 0.1, -1.0]), np.array([1.0, 0.0, 2.0, -1.0]))
    f, tf, s, ts = _f_pair(tg), _f_pair(torch), _scalar(tg), _scalar(torch)
    _cmp_nested(F.vjp(f, args_g, tuple(map(_g, vo))), TF.vjp(tf, args_t, tuple(map(_t, vo))))
    _cmp_nested(F.jvp(f, args_g, tuple(map(_g, vi))), TF.jvp(tf, args_t, tuple(map(_t, vi))))
    _cmp_nested(F.vhp(s, args_g, tuple(map(_g, vi))), TF.vhp(ts, args_t, tuple(map(_t, vi))))
    _cmp_nested(F.hvp(s, args_g, tuple(map(_g, vi))), TF.hvp(ts, args_t, tuple(map(_t, vi))))
    _cmp_nested(F.vjp(lambda x: (x * x).sum(), _g(X)), TF.vjp(lambda x: (x * x).sum(), _t(X)))
    with pytest.raises(RuntimeError):
        F.vjp(lambda x: x * 2, _g(X))                 # v=None needs a 1-element output
    with pytest.raises(RuntimeError):
        F.jacobian(lambda x, y: x * 2, args_g, strict=True)   # y unused


def test_functional_create_graph_differentiates_again():
    xg, xt = _g(X).requires_grad_(), _t(X).requires_grad_()
    jg = tg.autograd.functional.jacobian(lambda x: x.sin() * x, xg, create_graph=True)
    jt = torch.autograd.functional.jacobian(lambda x: x.sin() * x, xt, create_graph=True)
    assert jg.requires_grad
    (jg ** 2).sum().backward()
    (jt ** 2).sum().backward()
    _close(xg.grad, xt.grad, 1e-10)
    jn = tg.autograd.functional.jacobian(lambda x: x.sin() * x, xg)
    assert not jn.requires_grad


# ---- parametrizations --------------------------------------------------------------------------
def _copy_state(tm, th):
    tm.load_state_dict({k: v.detach().numpy().copy() for k, v in th.state_dict().items()})


@pytest.mark.parametrize("dim", [0, 1, None])
def test_parametrized_weight_norm_matches_torch(dim):
    torch.manual_seed(0)
    th = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(4, 3), dim=dim)
    tm = nn.utils.parametrizations.weight_norm(nn.Linear(4, 3), dim=dim)
    assert list(tm.state_dict()) == list(th.state_dict())
    assert type(tm).__name__ == type(th).__name__ == "ParametrizedLinear"
    _copy_state(tm, th)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    _close(tm.weight, th.weight, 1e-6)
    (tm(_g(x)) ** 2).sum().backward()
    (th(_t(x)) ** 2).sum().backward()
    for (k, a), (_, b) in zip(tm.named_parameters(), th.named_parameters()):
        _close(a.grad, b.grad, 1e-4)
    torch.nn.utils.parametrize.remove_parametrizations(th, "weight")
    nn.utils.parametrize.remove_parametrizations(tm, "weight")
    assert type(tm) is nn.Linear and list(tm.state_dict()) == list(th.state_dict())
    _close(tm.weight, th.weight, 1e-6)


def test_parametrized_spectral_norm_matches_torch():
    torch.manual_seed(0)
    th = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Conv2d(2, 3, 3))
    tm = nn.utils.parametrizations.spectral_norm(nn.Conv2d(2, 3, 3))
    assert list(tm.state_dict()) == list(th.state_dict())
    _copy_state(tm, th)
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5)).astype(np.float32)
    for _ in range(2):                                  # power iteration on each training read
        (th(_t(x)) ** 2).sum().backward()
        (tm(_g(x)) ** 2).sum().backward()
        for k, v in th.state_dict().items():
            _close(tm.state_dict()[k], v, 1e-5)
    for (k, a), (_, b) in zip(tm.named_parameters(), th.named_parameters()):
        _close(a.grad, b.grad, 1e-4)
    tm.eval()
    u = tm.parametrizations.weight[0]._u.numpy().copy()
    tm(_g(x))
    np.testing.assert_array_equal(tm.parametrizations.weight[0]._u.numpy(), u)
    th.eval()
    _close(tm.weight, th.weight, 1e-5)


def test_old_spectral_norm_matches_torch():
    torch.manual_seed(0)
    th = torch.nn.utils.spectral_norm(torch.nn.Linear(4, 3))
    tm = nn.utils.spectral_norm(nn.Linear(4, 3))
    assert sorted(tm.state_dict()) == sorted(th.state_dict())
    _copy_state(tm, th)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    (th(_t(x)) ** 2).sum().backward()
    (tm(_g(x)) ** 2).sum().backward()
    _close(tm.weight_orig.grad, th.weight_orig.grad, 1e-4)
    _close(tm.weight_u, th.weight_u, 1e-5)
    nn.utils.remove_spectral_norm(tm)
    torch.nn.utils.remove_spectral_norm(th)
    assert sorted(tm.state_dict()) == sorted(th.state_dict())
