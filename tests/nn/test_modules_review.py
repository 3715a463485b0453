"""Modules, containers, hooks, normalisation and dropout, found by a review against PyTorch 2.13:
each test runs the same program in tinygen and in PyTorch and compares what they give."""
from __future__ import annotations

import copy
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn
import tinygen.nn.functional as F

torch = pytest.importorskip("torch")
tnn, TF = torch.nn, torch.nn.functional

LIBS = [(tg, nn), (torch, tnn)]


def both(program):
    """program(lib, nn) in tinygen and in PyTorch: (tinygen's result, PyTorch's)."""
    return tuple(program(lib, n) for lib, n in LIBS)


def error_of(f):
    try:
        f()
    except Exception as e:            # noqa: BLE001 - the type is what is compared
        return type(e)
    return None


# ---- silently wrong values ---------------------------------------------------------------------
def test_instance_norm_momentum_none_keeps_running_stats():
    def program(lib, n):
        m = n.InstanceNorm1d(2, track_running_stats=True, momentum=None)
        m(lib.arange(12.).reshape(2, 2, 3))
        return m.running_mean.tolist(), m.running_var.tolist()
    ours, theirs = both(program)
    assert ours == theirs == ([0.0, 0.0], [1.0, 1.0])


@pytest.mark.filterwarnings("ignore:Mismatch dtype")       # PyTorch's, on its unfused path
@pytest.mark.parametrize("functional", [True, False])
def test_rms_norm_half_uses_float32_epsilon(functional):
    def program(lib, n):
        x = lib.full((2, 4), 1e-2, dtype=lib.float16)
        x[1] = lib.tensor([3e-3, -1e-2, 2e-2, 5e-4], dtype=lib.float16)
        y = n.functional.rms_norm(x, (4,)) if functional else n.RMSNorm(4)(x)
        return y.dtype, y.detach().float().numpy()
    (d1, ours), (d2, theirs) = both(program)
    assert str(d1).split(".")[-1] == str(d2).split(".")[-1] == "float16"
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-3)


def test_rms_norm_module_shape_mismatch_is_runtime_error():
    assert error_of(lambda: nn.RMSNorm(3)(tg.ones(2, 4))) is RuntimeError
    assert error_of(lambda: tnn.RMSNorm(3)(torch.ones(2, 4))) is RuntimeError


def test_load_state_dict_key_into_none_slot_is_unexpected():
    def program(lib, n):
        r = n.Linear(2, 2, bias=False).load_state_dict(
            {"weight": lib.ones(2, 2), "bias": lib.ones(2)}, strict=False)
        bn = n.BatchNorm1d(2, track_running_stats=False)
        sd = {"weight": lib.ones(2), "bias": lib.zeros(2), "running_mean": lib.zeros(2)}
        strict_error = error_of(lambda: bn.load_state_dict(sd))
        nonstrict = bn.load_state_dict(sd, strict=False)
        seq = n.Sequential(n.Linear(2, 2))
        seq[0] = None                              # a None child: its keys are not unexpected
        none_child = seq.load_state_dict({"0.weight": lib.ones(2, 2)})
        return (list(r.missing_keys), list(r.unexpected_keys), strict_error,
                list(nonstrict.unexpected_keys), list(none_child.unexpected_keys))
    ours, theirs = both(program)
    assert ours == theirs
    assert ours[1] == ["bias"] and ours[2] is RuntimeError


def test_sequential_insert_negative_index_as_list_insert():
    for index in (-1, -2, -3, 0, 3):
        def program(lib, n):
            s = n.Sequential(n.ReLU(), n.Tanh(), n.Sigmoid())
            s.insert(index, n.Identity())
            return [type(m).__name__ for m in s], list(s._modules)
        ours, theirs = both(program)
        assert ours == theirs


@pytest.mark.parametrize("name,shape", [("Dropout", (40, 50)), ("Dropout1d", (40, 50, 2)),
                                        ("Dropout2d", (40, 50, 2, 2)),
                                        ("Dropout3d", (4, 50, 2, 2, 2))])
def test_dropout_modules_honour_inplace(name, shape):
    for lib, n in LIBS:
        x = lib.ones(*shape)
        y = getattr(n, name)(0.5, inplace=True)(x)
        assert y is x and bool((x == 0).any())                           # written into x
        leaf = lib.ones(*shape, requires_grad=True)
        with pytest.raises(RuntimeError):
            getattr(n, name)(0.5, inplace=True)(leaf)
        # nothing written (eval mode): no error, the input itself back
        assert getattr(n, name)(0.5, inplace=True).eval()(leaf) is leaf


def test_alpha_dropout_modules_never_write_in_place_as_pytorch():
    for lib, n in LIBS:
        for layer in (n.AlphaDropout(0.5, inplace=True), n.FeatureAlphaDropout(0.5, inplace=True)):
            x = lib.ones(6, 8)
            y = layer(x)
            assert y is not x and float(x.sum()) == 48.0


def _mask_pattern(y):
    """1 where y is not zero: the kept elements."""
    return (y.detach().numpy() != 0).astype(int)


@pytest.mark.parametrize("fn,shape", [("dropout2d", (6, 40, 3)), ("dropout2d", (3, 8, 2, 2, 2)),
                                      ("dropout3d", (20, 4, 3)), ("dropout3d", (6, 3, 2, 2, 2, 2)),
                                      ("dropout3d", (2, 3)), ("dropout2d", (4, 5))])
def test_channel_dropout_other_ranks_as_pytorch(fn, shape):
    """Which dims share one draw, and the warnings, for the ranks PyTorch warns about."""
    messages = []
    for lib, n in LIBS:
        lib.manual_seed(0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = getattr(n.functional, fn)(lib.ones(*shape), 0.5)
        assert tuple(y.shape) == shape
        kept = _mask_pattern(y)
        if fn == "dropout2d":
            group = kept.reshape(shape[0] * shape[1], -1)              # (N, C) share a draw
        else:
            group = kept.reshape(shape[0], -1)                         # unbatched: dim 0 does
        assert (group == group[:, :1]).all()
        messages.append([str(w.message) for w in caught])
    assert messages[0] == messages[1]


def test_channel_dropout_errors_as_pytorch():
    with pytest.warns(UserWarning, match="Received a 1-D input to dropout2d"):
        assert error_of(lambda: F.dropout2d(tg.ones(5))) is RuntimeError
    with pytest.warns(UserWarning, match="Received a 1-D input to dropout2d"):
        assert error_of(lambda: TF.dropout2d(torch.ones(5))) is RuntimeError
    assert error_of(lambda: F.dropout1d(tg.ones(2, 2, 2, 2))) is error_of(
        lambda: TF.dropout1d(torch.ones(2, 2, 2, 2))) is RuntimeError


def test_batchnorm_load_without_num_batches_tracked_keeps_count():
    def program(lib, n):
        lib.manual_seed(0)
        m = n.BatchNorm1d(3, momentum=None)
        for _ in range(5):
            m(lib.randn(4, 3))
        sd = {k: v for k, v in m.state_dict().items() if k != "num_batches_tracked"}
        r = m.load_state_dict(sd)
        return int(m.num_batches_tracked), list(r.missing_keys)
    ours, theirs = both(program)
    assert ours == theirs == (5, [])


def test_parameter_dict_order_as_pytorch():
    def program(lib, n):
        d = n.ParameterDict({"b": lib.ones(1), "a": lib.ones(1)})        # plain dict: sorted
        order = [list(d)]
        d.update({"z": lib.ones(1), "c": lib.ones(1)})
        order.append(list(d))
        d.update(OrderedDict([("y", lib.ones(1)), ("x", lib.ones(1))]))
        order.append(list(d))
        d.update([("w", lib.ones(1)), ("v", lib.ones(1))])
        order.append(list(d))
        order.append(list(n.ParameterDict(OrderedDict([("q", lib.ones(1)), ("p", lib.ones(1))]))))
        return order
    ours, theirs = both(program)
    assert ours == theirs


def test_local_response_norm_size_zero_raises():
    for lib, n in LIBS:
        for shape in ((1, 2, 2), (1, 2, 2, 2)):
            with pytest.raises(RuntimeError, match="kernel size should be greater than zero"):
                n.LocalResponseNorm(0)(lib.ones(*shape))
        assert tuple(n.LocalResponseNorm(0)(lib.ones(0, 2, 2)).shape) == (0, 2, 2)


def test_zero_grad_keeps_the_grad_tensor_and_deepcopy_drops_grads():
    def program(lib, n):
        m = n.Linear(2, 2)
        opt = lib.optim.SGD(m.parameters(), lr=0.1)
        m(lib.ones(1, 2)).sum().backward()
        g = m.weight.grad
        m.zero_grad(set_to_none=False)
        same_module = m.weight.grad is g and not g.detach().numpy().any()
        m(lib.ones(1, 2)).sum().backward()
        g = m.bias.grad
        opt.zero_grad(set_to_none=False)
        same_optim = m.bias.grad is g and not g.detach().numpy().any()
        c = copy.deepcopy(m)
        return same_module, same_optim, c.weight.grad is None, m.weight.grad is not None
    ours, theirs = both(program)
    assert ours == theirs == (True, True, True, True)


# ---- missing API -------------------------------------------------------------------------------
def _names(container):
    return [type(m).__name__ for m in container]


def test_sequential_pop_iadd_mul():
    def program(lib, n):
        out = []
        s = n.Sequential(n.ReLU(), n.Tanh(), n.ELU())
        out.append((type(s.pop(1)).__name__, list(s._modules), _names(s)))
        popped = s.pop(slice(0, 1))
        out.append((type(popped).__name__, _names(popped), list(s._modules)))
        s += n.Sequential(n.Sigmoid(), n.GELU())
        out.append((list(s._modules), _names(s)))
        doubled = n.Sequential(n.ReLU(), n.Tanh()) * 2
        out.append((list(doubled._modules), doubled[0] is doubled[2]))
        r = 3 * n.Sequential(n.ReLU())
        out.append(list(r._modules))
        s2 = n.Sequential(n.ReLU(), n.Tanh())
        s2 *= 2
        out.append((list(s2._modules), s2[1] is s2[3]))
        out.append(error_of(lambda: n.Sequential(n.ReLU()) * 0))
        out.append(error_of(lambda: n.Sequential(n.ReLU()) * 2.0))
        out.append(error_of(lambda: n.Sequential(n.ReLU()).__iadd__([n.ReLU()])))
        out.append(error_of(lambda: n.Sequential(n.ReLU()).insert(0, 3)))
        return out
    ours, theirs = both(program)
    assert ours == theirs


def test_module_list_pop_and_repeat_repr():
    def program(lib, n):
        ml = n.ModuleList([n.ReLU(), n.Tanh(), n.ELU()])
        first = type(ml.pop(0)).__name__
        part = ml.pop(slice(0, 1))
        reprs = [repr(n.ModuleList([n.ReLU(), n.ReLU(), n.Tanh()])),
                 repr(n.ModuleList([n.Linear(1, 2), n.Linear(1, 2), n.Sequential(n.ReLU()),
                                    n.ReLU(), n.ReLU(), n.ReLU()])),
                 repr(n.ModuleList())]
        return first, _names(part), list(ml._modules), reprs
    ours, theirs = both(program)
    assert ours == theirs


def test_parameter_list_iadd_and_repr():
    def program(lib, n):
        p = n.ParameterList()
        p += [lib.ones(1), n.Parameter(lib.ones(2, 3))]
        one = n.ParameterList([n.Parameter(lib.ones(2, 3))])
        prefix = lib.__name__ + "."
        return (len(p), type(p[0]).__name__, repr(one).replace(prefix, ""),
                repr(p).replace(prefix, ""),
                error_of(lambda: n.ParameterList().extend(lib.ones(2))),
                error_of(lambda: p()))
    ours, theirs = both(program)
    assert ours == theirs


def test_parameter_dict_methods():
    def program(lib, n):
        d = n.ParameterDict([("b", lib.ones(1)), ("a", lib.ones(2))])
        out = [d.get("z"), d.get("z", 5), tuple(d.get("a").shape)]
        out.append((type(d.pop("b")).__name__, list(d)))
        out.append(error_of(lambda: d.pop("nope")))
        out.append((d.setdefault("q", lib.ones(3)).shape[0], list(d)))
        out.append(d.setdefault("a", lib.ones(5)).shape[0])
        out.append((d.setdefault("none"), list(d), len(list(d.parameters()))))
        key, value = d.popitem()
        out.append((key, value, list(d)))
        c = d.copy()
        out.append((list(c), c["a"] is d["a"], type(c).__name__))
        f = d.fromkeys(["y", "x"], lib.ones(1))
        out.append((list(f), f["x"] is f["y"]))
        out.append((list(d.fromkeys(["k"])), d.fromkeys(["k"])["k"]))
        merged = n.ParameterDict([("b", lib.ones(1))]) | n.ParameterDict([("a", lib.ones(1))])
        out.append(list(merged))
        d.clear()
        out.append((len(d), list(d.parameters())))
        out.append(error_of(lambda: d["missing"]))
        out.append(error_of(lambda: d.update(3)))
        out.append(error_of(lambda: d.update([3])))
        out.append(error_of(lambda: d.update([("a",)])))
        return out
    ours, theirs = both(program)
    assert ours == theirs


def test_parameter_dict_repr():
    def program(lib, n):
        d = n.ParameterDict({"b": n.Parameter(lib.ones(2, 3)),
                             "a": n.Parameter(lib.ones(2, dtype=lib.float64))})
        return repr(d).replace(lib.__name__ + ".", ""), repr(
            n.ParameterDict({"b": n.Parameter(lib.ones(2))})).replace(lib.__name__ + ".", "")
    ours, theirs = both(program)
    assert ours == theirs


def test_get_buffer_get_parameter_and_extra_state():
    def program(lib, n):
        bn = n.Sequential(n.BatchNorm1d(3))
        out = [tuple(bn.get_buffer("0.running_mean").shape),
               error_of(lambda: bn.get_buffer("0.weight")),
               error_of(lambda: bn.get_buffer("0.zz")),
               error_of(lambda: bn.get_parameter("0.running_mean")),
               error_of(lambda: n.Linear(1, 1).get_extra_state())]

        class Counter(n.Module):
            def __init__(self):
                super().__init__()
                self.count = 0
                self.lin = n.Linear(1, 1)

            def get_extra_state(self):
                return {"count": self.count}

            def set_extra_state(self, state):
                self.count = state["count"]

        m = n.Sequential(Counter())
        m[0].count = 7
        sd = m.state_dict()
        out.append(sorted(sd))
        fresh = n.Sequential(Counter())
        fresh.load_state_dict(sd)
        out.append(fresh[0].count)
        del sd["0._extra_state"]
        out.append(error_of(lambda: fresh.load_state_dict(sd)))
        out.append(list(fresh.load_state_dict(sd, strict=False).missing_keys))
        plain = n.Linear(1, 1)
        extra = dict(plain.state_dict())
        extra["_extra_state"] = 1
        out.append(list(plain.load_state_dict(extra, strict=False).unexpected_keys))
        return out
    ours, theirs = both(program)
    assert ours == theirs


# ---- hooks -------------------------------------------------------------------------------------
class _Scale:
    """forward(x, scale=1.0) -> x * scale, built for each library."""

    @staticmethod
    def make(n):
        class Scale(n.Module):
            def forward(self, x, scale=1.0):
                return x * scale
        return Scale()


def test_forward_hooks_with_kwargs_prepend_always_call():
    def program(lib, n):
        out = []
        m = _Scale.make(n)
        m.register_forward_pre_hook(
            lambda mod, args, kwargs: (args, {"scale": kwargs["scale"] * 3}), with_kwargs=True)
        m.register_forward_hook(lambda mod, args, kwargs, o: o + kwargs["scale"], with_kwargs=True)
        out.append(m(lib.ones(2), scale=2.0).tolist())
        order = []
        m2 = _Scale.make(n)
        m2.register_forward_hook(lambda *a: order.append("a"))
        m2.register_forward_hook(lambda *a: order.append("b"), prepend=True)
        m2.register_forward_pre_hook(lambda *a: order.append("pa"))
        h = m2.register_forward_pre_hook(lambda *a: order.append("pb"), prepend=True)
        m2(lib.ones(1))
        h.remove()
        m2(lib.ones(1))
        out.append(order)

        class Bad(n.Module):
            def forward(self, x):
                raise ValueError("boom")

        bad, seen = Bad(), []
        handle = bad.register_forward_hook(lambda mod, args, o: seen.append(o), always_call=True)
        bad.register_forward_hook(lambda mod, args, o: seen.append("never"))
        out.append(error_of(lambda: bad(lib.ones(1))))
        handle.remove()
        out.append(error_of(lambda: bad(lib.ones(1))))
        out.append(seen)
        wrong = _Scale.make(n)
        wrong.register_forward_pre_hook(lambda mod, a, k: 5, with_kwargs=True)
        out.append(error_of(lambda: wrong(lib.ones(1))))
        with m2.register_forward_hook(lambda mod, a, o: o * 0):
            out.append(m2(lib.ones(1)).tolist())
        out.append(m2(lib.ones(1)).tolist())
        return out
    ours, theirs = both(program)
    assert ours == theirs


def _grads(gs):
    return [None if g is None else np.round(g.detach().numpy().astype(float), 5).tolist()
            for g in gs]


def test_full_backward_hooks_see_and_replace_gradients():
    def program(lib, n):
        class Two(n.Module):
            def forward(self, a, s, b):
                return a * b * s, a + b

        out, rec = [], []
        m = Two()
        m.register_full_backward_pre_hook(lambda mod, go: rec.append(("pre", _grads(go))))
        m.register_full_backward_hook(
            lambda mod, gi, go: rec.append(("full", _grads(gi), _grads(go))))
        a = lib.tensor([1., 2.], requires_grad=True)
        b = lib.tensor([3., 4.])                                      # needs no grad
        o1, _ = m(a, 2.0, b)
        o1.sum().backward()                                           # the second output unused
        out.append((rec, a.grad.tolist()))

        m2 = Two()
        m2.register_full_backward_pre_hook(lambda mod, go: (go[0] * 10, go[1]))
        m2.register_full_backward_hook(lambda mod, gi, go: (gi[0] + 1, None, None))
        a = lib.tensor([1., 2.], requires_grad=True)
        b = lib.tensor([3., 4.], requires_grad=True)
        o1, o2 = m2(a, 2.0, b)
        (o1.sum() + o2.sum()).backward()
        out.append((a.grad.tolist(), b.grad))

        rec = []
        lin = n.Linear(2, 1)                        # no input requires grad: hook at the output
        lin.register_full_backward_hook(lambda mod, gi, go: rec.append(
            (_grads(gi), [tuple(g.shape) for g in go])))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lin(lib.ones(3, 2)).sum().backward()
        out.append((rec, lin.weight.grad is not None))

        order = []
        seq = n.Sequential(n.Linear(2, 2), n.ReLU(), n.Linear(2, 1))
        for i, sub in enumerate(seq):
            sub.register_full_backward_hook(lambda mod, gi, go, i=i: order.append(("full", i)))
            sub.register_full_backward_pre_hook(lambda mod, go, i=i: order.append(("pre", i)))
        seq.register_full_backward_hook(lambda mod, gi, go: order.append(("full", "seq")))
        seq.register_full_backward_pre_hook(lambda mod, go: order.append(("pre", "seq")))
        seq(lib.ones(1, 2, requires_grad=True)).sum().backward()
        out.append(order)

        bad = n.Linear(2, 2)
        bad.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
        out.append(error_of(lambda: bad(lib.ones(1, 2, requires_grad=True)).sum().backward()))
        bad_pre = n.Linear(2, 2)
        bad_pre.register_full_backward_pre_hook(lambda mod, go: (go[0], go[0]))
        out.append(error_of(lambda: bad_pre(lib.ones(1, 2, requires_grad=True)).sum().backward()))

        lin = n.Linear(2, 2)
        handle = lin.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0,))
        x = lib.ones(1, 2, requires_grad=True)
        lin(x).sum().backward()
        handle.remove()
        x2 = lib.ones(1, 2, requires_grad=True)
        lin(x2).sum().backward()
        out.append((x.grad.abs().sum().item(), x2.grad.abs().sum().item() > 0))
        return out
    ours, theirs = both(program)
    assert ours == theirs


def test_full_backward_hook_gradients_match_on_a_network():
    """grad_input and grad_output of each layer of a small MLP, and the input's gradient."""
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((4, 3))

    def program(lib, n):
        lib.manual_seed(0)
        net = n.Sequential(n.Linear(3, 5), n.Tanh(), n.Linear(5, 2)).double()
        with lib.no_grad():
            for p in net.parameters():
                p.copy_(lib.tensor(np.linspace(-1, 1, p.numel()).reshape(tuple(p.shape))))
        rec = []
        for sub in net:
            sub.register_full_backward_hook(lambda mod, gi, go: rec.append(_grads(gi + go)))
        x = lib.tensor(x_np, requires_grad=True)
        (net(x) ** 2).sum().backward()
        return rec, x.grad.numpy()
    (ours, gx), (theirs, tx) = both(program)
    assert len(ours) == len(theirs) == 3
    for layer_ours, layer_theirs in zip(ours, theirs):                # (grad_input, grad_output)
        assert len(layer_ours) == len(layer_theirs) == 2
        for a, b in zip(layer_ours, layer_theirs):
            np.testing.assert_allclose(np.array(a, dtype=float), np.array(b, dtype=float),
                                       atol=1e-10)
    np.testing.assert_allclose(gx, tx, atol=1e-12)


# ---- embedding max_norm ------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0])
def test_embedding_max_norm_renormalises_rows_in_place(norm_type):
    weight = (np.random.default_rng(1).standard_normal((6, 3)) * 2).astype(np.float32)
    idx = [[0, 2], [2, 5]]

    def program(lib, n):
        emb = n.Embedding(6, 3, max_norm=1.5, norm_type=norm_type)
        with lib.no_grad():
            emb.weight.copy_(lib.tensor(weight))
        y = emb(lib.tensor(idx))
        (y * lib.arange(6.).reshape(2, 1, 3)).sum().backward()
        return y.detach().numpy(), emb.weight.detach().numpy(), emb.weight.grad.numpy()
    ours, theirs = both(program)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert not np.allclose(ours[1], weight)          # looked-up rows renormalised
    np.testing.assert_array_equal(ours[1][[1, 3, 4]], weight[[1, 3, 4]])   # others untouched


# ---- messages and reprs ------------------------------------------------------------------------
def test_group_norm_one_value_per_group_raises():
    for shape, groups in (((1, 2), 2), ((1, 2, 1), 2)):
        assert error_of(lambda: nn.GroupNorm(groups, 2)(tg.ones(*shape))) is ValueError
        assert error_of(lambda: tnn.GroupNorm(groups, 2)(torch.ones(*shape))) is ValueError
    ours = nn.GroupNorm(1, 2)(tg.ones(1, 2)).tolist()
    assert ours == tnn.GroupNorm(1, 2)(torch.ones(1, 2)).tolist()


def test_batch_norm_running_stats_checks():
    cases = [
        lambda lib: (lib.ones(2, 3), lib.zeros(3, dtype=lib.float64),
                     lib.ones(3, dtype=lib.float64), True),                   # other dtype
        lambda lib: (lib.ones(2, 3), lib.zeros(3, dtype=lib.float64),
                     lib.ones(3, dtype=lib.float64), False),
        lambda lib: (lib.ones(2, 3, dtype=lib.float64), lib.zeros(3), lib.ones(3), False),
        lambda lib: (lib.ones(2, 3), lib.zeros(3), None, True),               # mean only
        lambda lib: (lib.ones(2, 3), None, lib.ones(3), True),                # var only
        lambda lib: (lib.ones(2, 3), None, None, False),                      # eval, none
        lambda lib: (lib.ones(2, 3, dtype=lib.float16), lib.zeros(3), lib.ones(3), True),
    ]
    for case in cases:
        results = []
        for lib, n in LIBS:
            x, mean, var, training = case(lib)
            results.append(error_of(lambda: n.functional.batch_norm(x, mean, var,
                                                                    training=training)))
        assert results[0] is results[1]


def test_embedding_bag_per_sample_weights_checks():
    for lib, n in ((tg, nn), (torch, tnn)):
        f = n.functional.embedding_bag
        w = lib.ones(3, 2)
        with pytest.raises(ValueError, match="same shape as the input"):
            f(lib.tensor([[0, 1]]), w, per_sample_weights=lib.ones(3), mode="sum")
        with pytest.raises(ValueError, match="same shape as the input"):
            f(lib.tensor([0, 1, 2]), w, lib.tensor([0, 1]), per_sample_weights=lib.ones(2),
              mode="sum")
        with pytest.raises(RuntimeError):
            f(lib.tensor([[0, 1]]), w, per_sample_weights=lib.ones(1, 2, dtype=lib.float64),
              mode="sum")


def test_reprs_as_pytorch():
    def program(lib, n):
        return [repr(n.MaxUnpool2d((2, 2))), repr(n.MaxUnpool2d(2)), repr(n.MaxUnpool1d(2)),
                repr(n.MaxUnpool3d((2, 2, 2), stride=1, padding=(1, 0, 0))),
                repr(n.RNN(2, 3, nonlinearity="relu")), repr(n.RNN(2, 3)),
                repr(n.RNNCell(2, 3, nonlinearity="relu")), repr(n.RNNCell(2, 3)),
                repr(n.RNN(2, 3, num_layers=2, bias=False, batch_first=True, dropout=0.5,
                           bidirectional=True, nonlinearity="relu")),
                repr(n.RMSNorm(3))]
    ours, theirs = both(program)
    assert ours == theirs


def test_module_call_without_hooks_after_removing_them():
    """The hot path's flag: cleared when the last hook is removed, set again by a new one."""
    lin = nn.Linear(2, 2)
    assert not lin._has_hooks
    h1 = lin.register_forward_hook(lambda m, a, o: o * 0)
    h2 = lin.register_full_backward_hook(lambda m, gi, go: None)
    assert lin._has_hooks
    h1.remove()
    assert lin._has_hooks
    np.testing.assert_allclose(lin(tg.ones(1, 2)).detach().numpy(),
                               (lin.weight.sum(dim=1) + lin.bias).detach().numpy()[None],
                               rtol=1e-6)
    h2.remove()
    assert not lin._has_hooks
    lin.register_forward_pre_hook(lambda m, a: (a[0] * 0,))
    with tg.no_grad():
        lin.bias.zero_()
    assert lin(tg.ones(1, 2)).tolist() == [[0.0, 0.0]]
