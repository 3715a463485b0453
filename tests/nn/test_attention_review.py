"""Review of the attention and Transformer layers against PyTorch (float64 unless said): the same
module built in both libraries (torch's state dict loaded into tinygen's), outputs, attention
weights and the gradients of the inputs and of every parameter compared over many random
configurations; errors, warnings, attributes and the differences PyTorch users would hit."""
from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from tinygen import nn
from tinygen.ops import attention as ops_attention

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
TOL = dict(rtol=1e-8, atol=1e-9)


def _t(lib, a, grad=False):
    if a is None or not isinstance(a, np.ndarray):
        return a
    return (tg if lib is nn else torch).tensor(a, requires_grad=grad and a.dtype.kind == "f")


def _np(t):
    return None if t is None else t.detach().numpy()


def _pair(build, dtype="float64"):
    """build(nn) and build(torch.nn) with torch's parameters in both."""
    torch.manual_seed(0)
    theirs = build(torch.nn).to(getattr(torch, dtype))
    ours = build(nn)
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    result = ours.load_state_dict(state)
    assert not result.missing_keys and not result.unexpected_keys
    assert list(ours.state_dict()) == list(state)
    return (ours.double() if dtype == "float64" else ours), theirs


def _run(module, lib, inputs, kwargs, same=()):
    """Forward (inputs require grad; indices in `same` reuse input 0, for self-attention), then
    backward of sum(out * fixed random) (+ the weights' likewise): outputs and gradients."""
    ins = [_t(lib, a, True) for a in inputs]
    for i in same:
        ins[i] = ins[0]
    out = module(*ins, **{k: _t(lib, v) for k, v in kwargs.items()})
    outs = [o for o in (out if isinstance(out, tuple) else (out,)) if o is not None]
    loss = sum((o * _t(lib, np.random.default_rng(i).standard_normal(tuple(o.shape)))).sum()
               for i, o in enumerate(outs))
    loss.backward()
    grads = [_np(t.grad) for t in ins] + [_np(p.grad) for _, p in module.named_parameters()]
    return [_np(o) for o in outs], grads


def _compare(build, inputs, kwargs, train=True, same=(), tol=TOL):
    ours, theirs = _pair(build)
    ours.train(train)
    theirs.train(train)
    (oo, og), (to, tgr) = _run(ours, nn, inputs, kwargs, same), _run(theirs, torch.nn, inputs,
                                                                      kwargs, same)
    assert len(oo) == len(to)
    for a, b in zip(oo + og, to + tgr):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, **tol)


# ---------------------------------------------------------------- scaled_dot_product_attention

def _sdpa_both(q, k, v, mask=None, mask_grad=False, **kw):
    res = []
    for lib, f in ((nn, F.scaled_dot_product_attention),
                   (torch.nn, TF.scaled_dot_product_attention)):
        Q, K, V = (_t(lib, a, True) for a in (q, k, v))
        M = _t(lib, mask, mask_grad)
        out = f(Q, K, V, attn_mask=M, **kw)
        (out * _t(lib, np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))).sum().backward()
        res.append([_np(out), _np(Q.grad), _np(K.grad), _np(V.grad),
                    _np(M.grad) if mask_grad else None])
    for a, b in zip(*res):
        if a is not None or b is not None:
            np.testing.assert_allclose(a, b, **TOL)


@pytest.mark.parametrize("seed", range(24))
def test_sdpa_random_configurations(seed):
    rng = np.random.default_rng(seed)
    lead = [(), (2,), (2, 3), (2, 1, 3)][seed % 4]
    L, S, E, Ev = (int(n) for n in rng.integers(1, 7, 4))
    q, k, v = (rng.standard_normal(lead + s) for s in ((L, E), (S, E), (S, Ev)))
    kind = ["causal", "bool", "float", "float_grad", None, "scale"][seed % 6]
    mshape = [(L, S), (1, L, S), lead + (L, S), (L, 1)][seed // 6 % 4][-len(lead) - 2:]
    if kind == "causal":
        _sdpa_both(q, k, v, is_causal=True)                       # L != S: top-left aligned
    elif kind == "bool":
        _sdpa_both(q, k, v, rng.uniform(size=mshape) > 0.3)       # rows masked everywhere: 0
    elif kind in ("float", "float_grad"):
        _sdpa_both(q, k, v, rng.standard_normal(mshape), mask_grad=kind == "float_grad")
    else:
        _sdpa_both(q, k, v, scale=None if kind is None else 0.37)


@pytest.mark.parametrize("hq, hk, hv, extra", [
    (4, 2, 2, {}), (6, 3, 2, {}), (6, 2, 3, {"is_causal": True}), (4, 4, 4, {}),
    (6, 3, 3, {"mask": "bool"}), (6, 2, 2, {"mask": "float"})])
def test_sdpa_enable_gqa(hq, hk, hv, extra):
    # grouped-query attention (PyTorch 2.5+): key and value heads repeated to the query's
    rng = np.random.default_rng(hq * hk * hv)
    q, k, v = (rng.standard_normal((2, h, n, 4)) for h, n in ((hq, 3), (hk, 5), (hv, 5)))
    mask = {"bool": rng.uniform(size=(3, 5)) > 0.2, "float": rng.standard_normal((2, hq, 3, 5)),
            None: None}[extra.pop("mask", None)]
    _sdpa_both(q, k, v, mask, mask_grad=mask is not None and mask.dtype.kind == "f",
               enable_gqa=True, **extra)


def _both_raise(fn_ours, fn_theirs, error, match=None):
    with pytest.raises(error, match=match):
        fn_theirs()
    with pytest.raises(error, match=match):
        fn_ours()


def test_sdpa_errors_as_torch():
    def calls(q, k, v, **kw):
        def call(f, m):
            return lambda: f(*(_t(m, a) for a in (q, k, v)), **{n: _t(m, b) for n, b in kw.items()})
        return (call(F.scaled_dot_product_attention, nn),
                call(TF.scaled_dot_product_attention, torch.nn))
    r = np.random.default_rng(0).standard_normal
    q, k, v = r((2, 4, 3, 8)), r((2, 3, 5, 8)), r((2, 3, 5, 8))
    _both_raise(*calls(q, k, v, enable_gqa=True), RuntimeError,
                "heads in key and value must divide")
    _both_raise(*calls(r((3, 8)), r((5, 8)), r((5, 8)), enable_gqa=True), IndexError)
    q3, k3 = r((2, 3, 8)), r((2, 5, 8))
    _both_raise(*calls(q3, k3, k3, attn_mask=np.zeros((3, 5), np.int64)), RuntimeError,
                "(?i)expected attn_mask dtype to be bool or float")
    # a mask with more dims (or a larger batch) than the scores would grow the output
    _both_raise(*calls(q3, k3, k3, attn_mask=r((2, 2, 3, 5))), RuntimeError)
    _both_raise(*calls(q3[:1], k3[:1], k3[:1], attn_mask=r((2, 3, 5))), RuntimeError)
    # scale and enable_gqa are keyword-only
    _both_raise(*[lambda f=f, m=m: f(*(_t(m, a) for a in (q3, k3, k3)), None, 0.0, False, 0.5)
                  for f, m in ((F.scaled_dot_product_attention, nn),
                               (TF.scaled_dot_product_attention, torch.nn))], TypeError)


def test_sdpa_math_path_adds_its_masks():
    # the math path (here: broadcast leading dims) adds the causal and bool masks as PyTorch's
    # math path adds its bias; a row with nothing to attend gives zeros and zero gradients
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 4), (1, 5, 4), (1, 5, 6)))
    _sdpa_both(q, k, v, is_causal=True)
    _sdpa_both(q, k, v, np.array([[1, 1, 0, 0, 0], [0, 0, 0, 0, 0], [1, 0, 1, 0, 1]], bool))


# ---------------------------------------------------------------- MultiheadAttention

N, L, S, E = 3, 5, 6, 8


def _mha_config(seed):
    """One random MultiheadAttention configuration: (build, inputs, kwargs, train, same)."""
    rng = np.random.default_rng(seed)
    bf, unb, kv, bias, bkv, zat = (bool(b) for b in rng.integers(0, 2, 6))
    H = int(rng.choice([1, 2, 4]))
    selfat = not kv and bool(rng.integers(2))
    kd, vd = (3, 5) if kv else (E, E)
    s = L if selfat else S
    lead = (lambda t: (t,)) if unb else ((lambda t: (N, t)) if bf else (lambda t: (t, N)))
    inputs = [rng.standard_normal(lead(L) + (E,)), rng.standard_normal(lead(s) + (kd,)),
              rng.standard_normal(lead(s) + (vd,))]
    kw = {"need_weights": bool(rng.integers(2)), "average_attn_weights": bool(rng.integers(2))}
    as_float = bool(rng.integers(2))             # both masks of one type (PyTorch warns else)
    choice = int(rng.integers(4))
    if choice & 1:
        kpm = np.zeros((s,) if unb else (N, s), bool)
        kpm[..., -1] = True                                  # no query loses every key
        kw["key_padding_mask"] = np.where(kpm, -np.inf, 0.0) if as_float else kpm
    if choice & 2:
        am = np.triu(np.ones((L, s), bool), 2) if rng.integers(2) else \
            rng.uniform(size=((1 if unb else N) * H, L, s)) > 0.7
        am[..., 0] = False
        kw["attn_mask"] = np.where(am, -1e3 * rng.uniform(size=am.shape), 0.0) if as_float else am
    if selfat and rng.integers(2):               # PyTorch's causal hint with the causal mask
        kw["attn_mask"] = np.triu(np.ones((L, L), bool), 1)
        if as_float or "key_padding_mask" in kw and kw["key_padding_mask"].dtype.kind == "f":
            kw["attn_mask"] = np.where(kw["attn_mask"], -np.inf, 0.0)
        kw["is_causal"] = True
    train = bool(rng.integers(2))

    def build(m):
        return m.MultiheadAttention(E, H, dropout=0.0 if train else 0.5, bias=bias,
                                    add_bias_kv=bkv, add_zero_attn=zat, kdim=kd if kv else None,
                                    vdim=vd if kv else None, batch_first=bf)
    return build, inputs, kw, train, (1, 2) if selfat else ()


@pytest.mark.parametrize("seed", range(64))
def test_multihead_attention_random_configurations(seed):
    build, inputs, kw, train, same = _mha_config(seed)
    _compare(build, inputs, kw, train=train, same=same)


@pytest.mark.parametrize("add_bias_kv, add_zero_attn", [(True, False), (False, True), (True, True)])
def test_causal_hint_with_extra_keys_as_torch(add_bias_kv, add_zero_attn):
    # is_causal with the causal mask, no padding mask, no weights: PyTorch drops the mask and
    # masks causally over every key, so bias_k's and the zero key are never attended
    # (tinygen used to pad the mask instead, attending them)
    build = lambda m: m.MultiheadAttention(E, 2, add_bias_kv=add_bias_kv,  # noqa: E731
                                           add_zero_attn=add_zero_attn)
    x = np.random.default_rng(2).standard_normal((L, N, E))
    _compare(build, [x, x, x], {"attn_mask": np.triu(np.ones((L, L), bool), 1), "is_causal": True,
                                "need_weights": False}, same=(1, 2))


def test_causal_hint_does_not_read_the_mask():
    # PyTorch neither reads nor checks the mask under the hint: a cached larger mask runs
    ours, theirs = _pair(lambda m: m.MultiheadAttention(E, 2, batch_first=True))
    x = np.random.default_rng(3).standard_normal((N, L, E))
    big = np.triu(np.ones((L + 3, L + 3), bool), 1)
    a = ours(*[_t(nn, x)] * 3, attn_mask=_t(nn, big), is_causal=True, need_weights=False)[0]
    b = theirs(*[_t(torch.nn, x)] * 3, attn_mask=_t(torch.nn, big), is_causal=True,
               need_weights=False)[0]
    np.testing.assert_allclose(_np(a), _np(b), **TOL)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multihead_attention_inference_fast_path(dtype):
    # PyTorch's _native_multi_head_attention (eval, no grad, batch first, self-attention)
    ours, theirs = _pair(lambda m: m.MultiheadAttention(E, 4, dropout=0.2, batch_first=True),
                         dtype)
    ours.eval(), theirs.eval()
    x = np.random.default_rng(4).standard_normal((N, L, E)).astype(dtype)
    pad = np.zeros((N, L), bool)
    pad[0, 3:] = True
    for kw in ({}, {"key_padding_mask": pad}, {"attn_mask": np.triu(np.ones((L, L), bool), 1)},
               {"key_padding_mask": pad, "need_weights": False, "average_attn_weights": False}):
        with tg.no_grad():
            a = ours(*[_t(nn, x)] * 3, **{k: _t(nn, v) for k, v in kw.items()})
        with torch.no_grad():
            b = theirs(*[_t(torch.nn, x)] * 3, **{k: _t(torch.nn, v) for k, v in kw.items()})
        for u, w in zip(a, b):
            if w is not None:
                np.testing.assert_allclose(_np(u), _np(w), rtol=1e-5, atol=1e-6)


def _mha_error_cases():
    r = np.random.default_rng(0).standard_normal
    x, y = r((L, N, E)), r((S, N, E))
    return {
        "query embed dim": ([r((L, N, 7))] * 3, {}),
        "4-D query": ([r((1, L, N, E))] * 3, {}),
        "2-D key, 3-D query": ([x, y[:, 0], y[:, 0]], {}),
        "key and value lengths": ([x, y, y[:5]], {}),
        "key and value dims": ([x, y, r((S, N, 7))], {}),
        "3-D key_padding_mask": ([x, y, y], {"key_padding_mask": np.zeros((N, S, 1), bool)}),
        "key_padding_mask length": ([x, y, y], {"key_padding_mask": np.zeros((N, 5), bool)}),
        "key_padding_mask batch": ([x, y, y], {"key_padding_mask": np.zeros((2, S), bool)}),
        "int key_padding_mask": ([x, y, y], {"key_padding_mask": np.zeros((N, S), np.int64)}),
        "int attn_mask": ([x, y, y], {"attn_mask": np.zeros((L, S), np.int64)}),
        "2-D attn_mask shape": ([x, y, y], {"attn_mask": np.zeros((L, 7), bool)}),
        "3-D attn_mask shape": ([x, y, y], {"attn_mask": np.zeros((1, L, S), bool)}),
        "4-D attn_mask": ([x, y, y], {"attn_mask": np.zeros((1, 1, L, S), bool)}),
        "unbatched 2-D key_padding_mask": ([x[:, 0], y[:, 0], y[:, 0]],
                                           {"key_padding_mask": np.zeros((1, S), bool)}),
        "unbatched 3-D attn_mask heads": ([x[:, 0], y[:, 0], y[:, 0]],
                                          {"attn_mask": np.zeros((3, L, S), bool)}),
    }


@pytest.mark.parametrize("name", list(_mha_error_cases()))
def test_multihead_attention_errors_as_torch(name):
    inputs, kw = _mha_error_cases()[name]
    errors = []
    for m in (torch.nn, nn):
        torch.manual_seed(0)
        mha = m.MultiheadAttention(E, 2).double()
        with pytest.raises(Exception) as info:
            mha(*(_t(m, a) for a in inputs), **{k: _t(m, v) for k, v in kw.items()})
        errors.append(info.value)
    theirs, ours = errors
    assert type(ours) is type(theirs), (ours, theirs)
    # the same words, tinygen writing shapes as tuples where PyTorch writes torch.Size([...])
    words = str(theirs).replace("torch.Size([", "(").replace("])", ")")
    assert str(ours).startswith(words), (str(ours), words)


def test_mismatched_mask_types_warn_as_torch():
    mha = nn.MultiheadAttention(E, 2)
    x = tg.randn(L, N, E)
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        mha(x, x, x, key_padding_mask=tg.zeros(N, L, dtype=tg.bool), attn_mask=tg.zeros(L, L))


def test_out_proj_is_read_as_weights():
    # as PyTorch (F.linear on out_proj.weight): hooks on out_proj do not run
    calls = []
    for m in (nn, torch.nn):
        mha = m.MultiheadAttention(E, 2)
        mha.out_proj.register_forward_hook(lambda *a: calls.append(1))
        x = (tg if m is nn else torch).randn(L, N, E)
        mha(x, x, x)
    assert calls == []


@pytest.mark.parametrize("kw", [{}, {"kdim": 3, "vdim": 5}, {"bias": False},
                                {"add_bias_kv": True}])
def test_multihead_attention_parameters_and_init(kw):
    ours, theirs = nn.MultiheadAttention(96, 4, **kw), torch.nn.MultiheadAttention(96, 4, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        a, b = _np(a), b.numpy()
        assert a.shape == b.shape, name
        if name.endswith("bias") and name.startswith(("in_proj", "out_proj")):
            assert not a.any() and not b.any()                              # zeros
        elif name.startswith("bias_"):                                      # xavier_normal_
            assert abs(a.std() - 96 ** -0.5) < 0.35 * 96 ** -0.5
        else:                                                               # uniform bounds
            assert np.abs(a).max() <= np.abs(b).max() * 1.02 + 1e-7
            assert np.abs(a).max() >= np.abs(b).max() * 0.9


# ---------------------------------------------------------------- multi_head_attention_forward

@pytest.mark.parametrize("sep, bias_kv, zero_attn, static, unbatched, need_weights", [
    c for c in itertools.product([False, True], [False, True], [False, True], [False, True],
                                 [False, True], [True, False])
    if not (c[3] and (c[1] or c[4]))])
def test_multi_head_attention_forward(sep, bias_kv, zero_attn, static, unbatched, need_weights):
    H, hd = 2, E // 2
    rng = np.random.default_rng(5)
    kd, vd = (3, 5) if sep else (E, E)
    nb = () if unbatched else (N,)
    arrays = dict(
        query=rng.standard_normal((L, *nb, E)), key=rng.standard_normal((S, *nb, kd)),
        value=rng.standard_normal((S, *nb, vd)), in_proj_weight=rng.standard_normal((3 * E, E)),
        in_proj_bias=rng.standard_normal(3 * E), bias_k=rng.standard_normal((1, 1, E)),
        bias_v=rng.standard_normal((1, 1, E)), out_proj_weight=rng.standard_normal((E, E)),
        out_proj_bias=rng.standard_normal(E), q_proj_weight=rng.standard_normal((E, E)),
        k_proj_weight=rng.standard_normal((E, kd)), v_proj_weight=rng.standard_normal((E, vd)),
        static_k=rng.standard_normal((N * H, S + 1, hd)),
        static_v=rng.standard_normal((N * H, S + 1, hd)))
    pad = np.zeros(nb + (S + 1 if static else S,), bool)
    pad[..., 1] = True
    results = []
    for m, fn in ((nn, F.multi_head_attention_forward),
                  (torch.nn, TF.multi_head_attention_forward)):
        t = {k: _t(m, v, True) for k, v in arrays.items()}
        out, w = fn(t["query"], t["key"], t["value"], E, H,
                    None if sep else t["in_proj_weight"], t["in_proj_bias"],
                    t["bias_k"] if bias_kv else None, t["bias_v"] if bias_kv else None, zero_attn,
                    0.0, t["out_proj_weight"], t["out_proj_bias"], key_padding_mask=_t(m, pad),
                    need_weights=need_weights, use_separate_proj_weight=sep,
                    q_proj_weight=t["q_proj_weight"], k_proj_weight=t["k_proj_weight"],
                    v_proj_weight=t["v_proj_weight"], static_k=t["static_k"] if static else None,
                    static_v=t["static_v"] if static else None)
        (out.sum() + (w.sum() if w is not None else 0)).backward()
        results.append([_np(out), _np(w)] + [_np(v.grad) for v in t.values()])
    for a, b in zip(*results):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, **TOL)


def test_multi_head_attention_forward_errors_as_torch():
    r = np.random.default_rng(0).standard_normal
    base = dict(embed_dim_to_check=E, num_heads=2, in_proj_weight=r((3 * E, E)),
                in_proj_bias=None, bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
                out_proj_weight=r((E, E)), out_proj_bias=None)
    x = r((L, N, E))
    for over, match in [({"in_proj_weight": None}, "in_proj_weight is None"),
                        ({"use_separate_proj_weight": True}, "q_proj_weight is None"),
                        ({"bias_k": r((1, 1, E))}, "bias_k is set but bias_v is None"),
                        ({"static_k": r((N, L, 4))}, r"static_k.size\(0\) of 6"),
                        ({"embed_dim_to_check": 6}, "expecting embedding dimension of 6")]:
        kw = {**base, **over}
        _both_raise(lambda: F.multi_head_attention_forward(
                        *[_t(nn, x)] * 3, **{k: _t(nn, v) for k, v in kw.items()}),
                    lambda: TF.multi_head_attention_forward(
                        *[_t(torch.nn, x)] * 3, **{k: _t(torch.nn, v) for k, v in kw.items()}),
                    AssertionError, match)


# ---------------------------------------------------------------- Transformer layers and stacks

def _activation(kind):
    return {"relu": lambda m: "relu", "gelu": lambda m: "gelu",
            "fn": lambda m: (F if m is nn else TF).gelu, "module": lambda m: m.GELU(),
            "lambda": lambda m: (lambda x: (F if m is nn else TF).silu(x))}[kind]


def _layer_config(seed):
    rng = np.random.default_rng(100 + seed)
    enc, bf, nf, bias, unb, stack = (bool(b) for b in rng.integers(0, 2, 6))
    H, dff = int(rng.choice([1, 2, 4])), int(rng.choice([4, 16]))
    eps, act = float(rng.choice([1e-5, 1e-3])), _activation(rng.choice(
        ["relu", "gelu", "fn", "module", "lambda"]))
    train, use_norm = bool(rng.integers(2)), bool(rng.integers(2))
    drop = 0.0 if train else 0.3
    shape = (lambda t: (t, E)) if unb else ((lambda t: (N, t, E)) if bf else (lambda t: (t, N, E)))
    pad = lambda t: np.arange(t) >= t - 1 - (0 if unb else np.arange(N)[:, None] % 2)  # noqa
    kw, c = {}, int(rng.integers(5))
    if enc:
        mname = "mask" if stack else "src_mask"
        if c in (1, 3):
            kw[mname] = np.triu(np.ones((L, L), bool), 1)
        if c == 2:
            kw[mname] = rng.standard_normal((L, L))
        if c in (3, 4):
            kw["src_key_padding_mask"] = pad(L)
        if c == 1 and rng.integers(2):
            kw["is_causal"] = True
        inputs = [rng.standard_normal(shape(L))]
    else:
        if c in (1, 3):
            kw["tgt_mask"] = np.triu(np.full((L, L), -np.inf), 1)
        if c in (2, 3):
            kw["memory_mask"] = rng.uniform(size=(L, S)) > 0.8
        if c == 4:
            kw.update(tgt_key_padding_mask=pad(L), memory_key_padding_mask=pad(S))
        if c == 1 and rng.integers(2):
            kw["tgt_is_causal"] = True
        inputs = [rng.standard_normal(shape(L)), rng.standard_normal(shape(S))]

    def build(m):
        args = (E, H, dff, drop, act(m), eps, bf, nf, bias)
        layer = (m.TransformerEncoderLayer if enc else m.TransformerDecoderLayer)(*args)
        if not stack:
            return layer
        norm = m.LayerNorm(E) if use_norm else None
        kind = m.TransformerEncoder if enc else m.TransformerDecoder
        built = kind(layer, 2, norm)
        for each in built.layers:          # (PyTorch's deep-copy bug, below: undone in its copy)
            if "activation" in each._modules:
                each.__dict__.pop("activation", None)
        return built
    return build, inputs, kw, train


@pytest.mark.parametrize("seed", range(48))
def test_transformer_layers_random_configurations(seed):
    build, inputs, kw, train = _layer_config(seed)
    _compare(build, inputs, kw, train=train)


def test_stacks_detect_the_causal_mask(monkeypatch):
    # is_causal=None (the stacks' default): a mask equal to the causal one runs the fused
    # kernel's causal flag, as PyTorch's _detect_is_causal_mask (the same answer, faster)
    flags = []
    fused = ops_attention.FlashAttention.apply
    monkeypatch.setattr(ops_attention.FlashAttention, "apply",
                        lambda *a: flags.append(a[4]) or fused(*a))
    causal = nn.Transformer.generate_square_subsequent_mask(L).numpy()
    rng = np.random.default_rng(6)
    for mask, want in ((causal, True), (causal > -1, False), (np.isinf(causal), True)):
        flags.clear()
        _compare(lambda m: m.TransformerEncoder(m.TransformerEncoderLayer(E, 2, 16, 0.0), 2),
                 [rng.standard_normal((L, N, E))], {"mask": mask})
        assert flags and all(f == want for f in flags[:2]), (mask.dtype, flags)
    flags.clear()
    _compare(lambda m: m.TransformerDecoder(m.TransformerDecoderLayer(E, 2, 16, 0.0), 1),
             [rng.standard_normal((L, N, E)), rng.standard_normal((S, N, E))],
             {"tgt_mask": causal})
    assert flags[0] is True


def _nested_encoder(m, norm_first=False, nhead=2, enable=True):
    layer = m.TransformerEncoderLayer(E, nhead, 16, 0.1, batch_first=True, norm_first=norm_first)
    return m.TransformerEncoder(layer, 2, m.LayerNorm(E), enable_nested_tensor=enable)


@pytest.mark.parametrize("norm_first, nhead, enable, grad, float_mask, left", [
    (False, 2, True, False, False, True), (False, 2, True, False, True, True),
    (False, 2, True, True, False, True), (False, 2, False, False, False, True),
    (True, 2, True, False, False, True), (False, 1, True, False, False, True),
    (False, 2, True, False, False, False)])
def test_encoder_nested_tensor_path_as_torch(norm_first, nhead, enable, grad, float_mask, left):
    # PyTorch infers on nested tensors (eval, no grad, post-norm, batch first, even heads, a
    # padding mask that pads at the end, no mask): 0 at the padded positions, before the norm
    ours, theirs = _pair(lambda m: _nested_encoder(m, norm_first, nhead, enable))
    assert ours.use_nested_tensor == theirs.use_nested_tensor
    assert (ours.enable_nested_tensor, ours.mask_check) == (enable, True)
    ours.eval(), theirs.eval()
    with torch.no_grad():
        theirs.norm.bias.normal_()                  # the padded positions then read norm(0)
    ours.norm.bias.data = tg.tensor(theirs.norm.bias.detach().numpy())
    pad = np.zeros((N, L), bool)
    pad[0, 3:], pad[2, 4:] = True, True
    if not left:
        pad[1, 0] = True
    mask = np.where(pad, -np.inf, 0.0) if float_mask else pad
    x = np.random.default_rng(7).standard_normal((N, L, E))
    with tg.set_grad_enabled(grad):
        a = ours(_t(nn, x), src_key_padding_mask=_t(nn, mask))
    with torch.set_grad_enabled(grad):
        b = theirs(_t(torch.nn, x), src_key_padding_mask=_t(torch.nn, mask))
    np.testing.assert_allclose(_np(a), _np(b), **TOL)


@pytest.mark.parametrize("activation", ["relu", "gelu", "fn_relu", "fn_gelu", "ReLU", "GELU",
                                        "silu"])
def test_activation_relu_or_gelu(activation):
    def make(m):
        f = F if m is nn else TF
        act = {"fn_relu": f.relu, "fn_gelu": f.gelu, "ReLU": m.ReLU() if activation == "ReLU"
               else None, "GELU": m.GELU() if activation == "GELU" else None,
               "silu": f.silu}.get(activation, activation)
        return m.TransformerEncoderLayer(E, 2, 16, activation=act, batch_first=True)
    assert make(nn).activation_relu_or_gelu == make(torch.nn).activation_relu_or_gelu
    assert _nested_encoder(nn).use_nested_tensor


def test_decoder_keeps_a_module_activation_in_its_copies():
    # PyTorch's TransformerDecoderLayer.__setstate__ replaces a module activation by F.relu in
    # every deep copy (its encoder layer was fixed, pytorch#81832): not copied here
    layer = nn.TransformerDecoderLayer(E, 2, 16, activation=nn.GELU())
    assert all(isinstance(each.activation, nn.GELU)
               for each in nn.TransformerDecoder(layer, 2).layers)
    assert isinstance(copy.deepcopy(layer).activation, nn.GELU)


@pytest.mark.parametrize("batch_first, norm_first", [(False, False), (True, True)])
def test_transformer_training_step(batch_first, norm_first):
    def model(m):
        return m.Transformer(E, 2, 2, 2, 16, 0.0, "gelu", batch_first=batch_first,
                             norm_first=norm_first)
    rng = np.random.default_rng(8)
    seq = (lambda t: (N, t, E)) if batch_first else (lambda t: (t, N, E))
    pad = np.zeros((N, S), bool)
    pad[0, -2:] = True
    _compare(model, [rng.standard_normal(seq(S)), rng.standard_normal(seq(L))],
             {"tgt_mask": nn.Transformer.generate_square_subsequent_mask(L).numpy(),
              "src_key_padding_mask": pad, "memory_key_padding_mask": pad})


def test_transformer_custom_parts_and_reset():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, 2, 16, 0.0), 1)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, 2, 16, 0.0), 1)
    model = nn.Transformer(E, 2, custom_encoder=enc, custom_decoder=dec)
    assert model.encoder is enc and model.decoder is dec
    before = model.encoder.layers[0].linear1.weight.numpy().copy()
    model._reset_parameters()
    after = model.encoder.layers[0].linear1.weight.numpy()
    assert not np.array_equal(before, after) and np.abs(after).max() <= np.sqrt(6 / (E + 16))


@pytest.mark.parametrize("dtype, device", [(None, None), ("float64", "cpu"), ("bool", None),
                                           ("float16", None)])
def test_generate_square_subsequent_mask(dtype, device):
    ours = nn.Transformer.generate_square_subsequent_mask(
        4, device=device, dtype=getattr(tg, dtype) if dtype else None)
    theirs = torch.nn.Transformer.generate_square_subsequent_mask(
        4, device=device, dtype=getattr(torch, dtype) if dtype else None)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_dropout_train_and_eval():
    layer = nn.TransformerEncoderLayer(E, 2, 16, dropout=0.5)
    x = tg.randn(L, N, E)
    assert not np.allclose(layer(x).numpy(), layer(x).numpy())              # train: dropped
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), layer(x).numpy())
