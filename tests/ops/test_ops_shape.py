"""Shape ops against PyTorch in float64: reshape view flatten unflatten permute transpose t mT
squeeze unsqueeze expand expand_as repeat split chunk contiguous cat stack tril triu."""
import numpy as np
import pytest
from helpers import FAST, TORCH, assert_close, check_op, shape_and_dim, shapes
from hypothesis import given
from hypothesis import strategies as st

import tinygen as tg
import tinygen.nn.functional as F
from tinygen.ops import shape as shape_ops
from tinygen.ops.shape import _side_by_side

SHAPE_OPS = {
    "reshape": lambda x: x.reshape(3, 2),
    "reshape_tuple": lambda x: x.reshape((-1,)),
    "reshape_infer": lambda x: x.reshape(-1, 2),
    "view": lambda x: x.view(6),
    "view_tuple": lambda x: x.view((1, 2, 3)),
    "flatten": lambda x: x.flatten(),
    "unflatten": lambda x: x.unflatten(1, (3, 1)),
    "unflatten_infer": lambda x: x.unflatten(-1, (-1, 1)),
    "permute": lambda x: x.permute(1, 0),
    "permute_tuple": lambda x: x.permute((1, 0)),
    "transpose": lambda x: x.transpose(0, 1),
    "transpose_neg": lambda x: x.transpose(-1, -2),
    "t": lambda x: x.t(),
    "mT": lambda x: x.mT,
    "squeeze": lambda x: x.reshape(1, 2, 1, 3).squeeze(),
    "squeeze_dim": lambda x: x.reshape(1, 2, 1, 3).squeeze(2),
    "squeeze_neg": lambda x: x.reshape(2, 3, 1).squeeze(-1),
    "squeeze_noop": lambda x: x.squeeze(0),
    "unsqueeze": lambda x: x.unsqueeze(0),
    "unsqueeze_neg": lambda x: x.unsqueeze(-1),
    "expand": lambda x: x.reshape(2, 1, 3).expand(2, 4, 3),
    "expand_minus1": lambda x: x.reshape(2, 1, 3).expand(5, -1, 2, -1),
    "expand_as": lambda x: x[:1].expand_as(x),
    "repeat": lambda x: x.repeat(2, 3),
    "repeat_lead": lambda x: x.repeat(2, 1, 2),
    "contiguous": lambda x: x.t().contiguous(),
    "tril": lambda x: x.tril(),
    "tril_k": lambda x: x.tril(1),
    "triu": lambda x: x.triu(),
    "triu_k": lambda x: x.triu(-1),
    "flatten_range": lambda x: x.reshape(2, 3, 1).flatten(1),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_op(name):
    check_op(SHAPE_OPS[name], None, [(2, 3)])


def test_mT_batched_and_t_errors():
    check_op(lambda x: x.mT, None, [(2, 3, 4)])
    check_op(lambda x: x.t(), None, [(3,)])
    with pytest.raises(RuntimeError, match="t\\(\\)"):
        tg.zeros(2, 3, 4).t()


def test_tril_triu_top_level_and_batched():
    check_op(lambda x: tg.tril(x, -1), lambda x: TORCH.tril(x, -1), [(2, 3, 4)])
    check_op(lambda x: tg.triu(x, 2), lambda x: TORCH.triu(x, 2), [(2, 3, 4)])


@FAST
@given(shape=shapes(min_dims=1, max_dims=4, min_side=0, max_side=3), data=st.data())
def test_permute_hypothesis(shape, data):
    perm = data.draw(st.permutations(range(len(shape))))
    check_op(lambda x: x.permute(*perm), None, [shape], gradcheck_max_numel=8)


@FAST
@given(sd=shape_and_dim(min_dims=1, max_dims=3, min_side=0, max_side=3))
def test_squeeze_unsqueeze_hypothesis(sd):
    shape, dim = sd
    check_op(lambda x: x.unsqueeze(dim).squeeze(dim), None, [shape], gradcheck_max_numel=8)
    check_op(lambda x: x.unsqueeze(dim), None, [shape], gradcheck=False)
    check_op(lambda x: x.squeeze(dim), None, [shape], gradcheck=False)


@FAST
@given(shape=shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
def test_flatten_reshape_hypothesis(shape):
    check_op(lambda x: x.flatten(), None, [shape], gradcheck_max_numel=8)
    check_op(lambda x: x.reshape(-1, 1) if x.numel() else x.reshape(0, 1), None, [shape],
             gradcheck=False)


@FAST
@given(shape=shapes(min_dims=1, max_dims=3, min_side=1, max_side=3), data=st.data())
def test_expand_repeat_hypothesis(shape, data):
    reps = tuple(data.draw(st.integers(1, 2)) for _ in shape)
    lead = data.draw(st.integers(0, 1))
    target = (2,) * lead + tuple(s if s != 1 else data.draw(st.integers(0, 3)) for s in shape)
    check_op(lambda x: x.expand(*target), None, [shape], gradcheck_max_numel=8)
    check_op(lambda x: x.repeat(*((2,) * lead + reps)), None, [shape], gradcheck_max_numel=8)


@pytest.mark.parametrize("args", [(2, 0), (1, 1), ([1, 2], 1), ((2, 1), -1), (3, 0), (1, -2)])
def test_split(args):
    size, dim = args
    check_op(lambda x: x.split(size, dim), None, [(3, 3)])
    check_op(lambda x: x.split(size, dim=dim)[0] * 2, None, [(3, 3)])


def test_split_sizes_zero_and_negative_as_torch():
    # 0 only for an empty dim (one empty piece), never negative: torch's RuntimeError; and
    # unsafe_split takes an int only (split_with_sizes takes the list)
    torch = pytest.importorskip("torch")
    for lib in (tg, torch):
        assert [tuple(p.shape) for p in lib.split(lib.ones(0, 2), 0)] == [(0, 2)]
        for bad in (0, -1):
            with pytest.raises(RuntimeError):
                lib.split(lib.ones(3), bad)
        with pytest.raises(TypeError):
            lib.ones(3).unsafe_split([1, 2])
        assert [tuple(p.shape) for p in lib.ones(4).unsafe_split(3)] == [(3,), (1,)]


@pytest.mark.parametrize("chunks,dim", [(2, 0), (3, 1), (2, -1), (5, 1)])
def test_chunk(chunks, dim):
    check_op(lambda x: x.chunk(chunks, dim), None, [(3, 4)])


@pytest.mark.parametrize("shape, chunks, dim", [((2, 0), 3, -1), ((0,), 3, 0), ((5,), 3, 0),
                                               ((6,), 4, 0), ((4, 7), 1, 1)])
def test_chunk_counts_as_torch(shape, chunks, dim):
    """An empty dim gives `chunks` empty pieces; uneven sizes give fewer pieces (6 in 4: 3)."""
    torch = pytest.importorskip("torch")
    got = [tuple(p.shape) for p in tg.zeros(*shape).chunk(chunks, dim)]
    assert got == [tuple(p.shape) for p in torch.zeros(*shape).chunk(chunks, dim)]


def test_split_unused_pieces_have_zero_grad():
    x = tg.tensor(np.arange(6.0).reshape(2, 3), dtype=tg.float64, requires_grad=True)
    _, b, _ = x.split(1, dim=1)
    (b * 3).sum().backward()
    assert_close(x.grad, np.array([[0, 3, 0], [0, 3, 0.0]]))


def test_split_backward_takes_pieces_side_by_side():
    # Split's backward gives, without concatenating, the array its pieces' gradients make up in
    # order (kernels/attention.py lays dq, dk, dv out so); anything else is concatenated
    a = np.arange(24.0).reshape(2, 3, 4)
    pieces = [a[:, :, :1], a[:, :, 1:3], a[:, :, 3:]]
    for dim in (2, -1):
        whole = _side_by_side(pieces, (2, 3, 4), dim)
        assert whole.shape == (2, 3, 4) and np.shares_memory(whole, a)
    flat = np.arange(24.0)                          # a base of another shape, contiguous
    cut = flat.reshape(2, 3, 4)
    assert np.shares_memory(_side_by_side([cut[:, :2], cut[:, 2:]], (2, 3, 4), 1), flat)
    assert _side_by_side(pieces[::-1], (2, 3, 4), 2) is None              # out of order
    assert _side_by_side(pieces[:2], (2, 3, 4), 2) is None                # not all of it
    assert _side_by_side([a[:1, :, :2], a[:1, :, 2:]], (1, 3, 4), 2) is None   # part of one
    assert _side_by_side([a[:, :, :2], a[:, :, 2:].copy()], (2, 3, 4), 2) is None
    t = np.arange(24.0).reshape(4, 3, 2).transpose(2, 1, 0)                    # not C order
    assert _side_by_side([t[:, :, :2], t[:, :, 2:]], (2, 3, 4), 2) is None


@pytest.mark.parametrize("separate", [False, True])
def test_attention_of_one_projection_split(monkeypatch, separate):
    # a model's qkv.split(C, dim=2) into heads: the gradients of the projection and its input,
    # by the split's pieces side by side (no concatenation) or, with q, k, v copied apart, by
    # concatenating, agree with each other and with PyTorch
    cats = []
    monkeypatch.setattr(shape_ops.Joined, "apply", lambda *a, _f=shape_ops.Joined.apply, **k:
                        cats.append(1) or _f(*a, **k))
    B, T, H, D = 2, 6, 2, 4
    C = H * D
    rng = np.random.default_rng(0)
    x0, w0 = rng.standard_normal((B, T, C)), rng.standard_normal((3 * C, C)) / 3

    def grads(lib, F, copy):
        x, w = (lib.tensor(a, dtype=lib.float32, requires_grad=True) for a in (x0, w0))
        q, k, v = F.linear(x, w).split(C, dim=2)
        if copy:
            q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        q, k, v = (u.view(B, T, H, D).transpose(1, 2) for u in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        (y * lib.tensor(x0[::-1].copy(), dtype=lib.float32)).sum().backward()
        return x.grad, w.grad

    got = grads(tg, F, separate)
    assert bool(cats) == separate
    if TORCH is not None:
        want = grads(TORCH, TORCH.nn.functional, False)
        for g, e in zip(got, want):
            assert_close(g, e.detach().numpy(), rtol=1e-4, atol=1e-5)


@FAST
@given(shape=shapes(min_dims=1, max_dims=3, min_side=0, max_side=3), data=st.data(),
       n=st.integers(1, 3))
def test_cat_hypothesis(shape, data, n):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    sizes = [data.draw(st.integers(0, 2)) for _ in range(n)]
    shapes_ = [shape[:dim % len(shape)] + (s,) + shape[dim % len(shape) + 1:] for s in sizes]
    check_op(lambda *xs: tg.cat(list(xs), dim=dim),
             lambda *xs: TORCH.cat(list(xs), dim=dim) if TORCH else None, shapes_,
             gradcheck_max_numel=8)


@FAST
@given(shape=shapes(min_dims=0, max_dims=2, min_side=0, max_side=3), data=st.data(),
       n=st.integers(1, 3))
def test_stack_hypothesis(shape, data, n):
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check_op(lambda *xs: tg.stack(xs, dim=dim),
             lambda *xs: TORCH.stack(xs, dim=dim) if TORCH else None, [shape] * n,
             gradcheck_max_numel=8)


def test_cat_promotes_dtypes_and_checks_shapes():
    a = tg.ones(2, 3)
    b = tg.ones(1, 3, dtype=tg.float64)
    assert tg.cat([a, b]).dtype == tg.float64
    assert tg.cat((a, a), dim=1).shape == (2, 6)
    with pytest.raises(RuntimeError, match=r"cat.*\(2, 3\).*\(2, 4\)"):
        tg.cat([a, tg.ones(2, 4)], dim=0)
    with pytest.raises(RuntimeError, match="stack"):
        tg.stack([a, tg.ones(2, 4)])


def test_contiguous_and_views_share_data():
    x = tg.arange(6.0).reshape(2, 3)
    y = x.t()
    assert not y.is_contiguous()
    z = y.contiguous()
    assert z.is_contiguous() and z.shape == (3, 2)
    assert_close(z, np.arange(6.0).reshape(2, 3).T)
    c = x.contiguous()
    assert c.is_contiguous()


def test_size_numel_dim_len():
    x = tg.zeros(2, 3, 4)
    assert x.size() == (2, 3, 4) and x.size(-1) == 4 and x.size(1) == 3
    assert x.shape == (2, 3, 4) and tuple(x.shape) == (2, 3, 4)
    assert x.numel() == 24 and x.ndim == 3 and x.dim() == 3 and len(x) == 2
    assert tg.zeros(()).numel() == 1


def test_shape_errors_name_the_op():
    x = tg.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"reshape.*\(2, 3\)"):
        x.reshape(4, 2)
    with pytest.raises(RuntimeError, match="expand"):
        x.expand(4, 3)
    with pytest.raises(RuntimeError, match="permute"):
        x.permute(0)
    with pytest.raises(IndexError, match="dimension out of range"):
        x.sum(dim=2)
    with pytest.raises(IndexError, match="dimension out of range"):
        x.transpose(0, -3)


def test_captured_split_gradient_is_not_concatenated(monkeypatch):
    # in a captured step Split's backward is an op (Joined): where the attention kernel laid
    # dq, dk, dv out side by side, the replay hands their array on without concatenating, and
    # the gradients equal the eager step's bit for bit
    B, T, H, D = 2, 6, 2, 4
    C = H * D
    rng = np.random.default_rng(1)
    x = tg.tensor(rng.standard_normal((B, T, C)), dtype=tg.float32)
    w = tg.tensor(rng.standard_normal((3 * C, C)) / 3, dtype=tg.float32, requires_grad=True)

    def step():
        w.grad = None
        q, k, v = (u.view(B, T, H, D).transpose(1, 2) for u in F.linear(x, w).split(C, dim=2))
        F.scaled_dot_product_attention(q, k, v, is_causal=True).square().sum().backward()
        return w.grad.clone()

    want = step()
    shared = []                         # per Joined call: its result is its inputs' memory

    def forward(self, *xs, _f=shape_ops.Joined.forward, **kw):
        out = _f(self, *xs, **kw)
        shared.append(all(np.shares_memory(out, a) for a in xs))
        return out
    monkeypatch.setattr(shape_ops.Joined, "forward", forward)
    compiled = tg.compile(step)
    for _ in range(4):
        got = compiled()
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    plans = list(compiled.plans.values())
    assert plans and all(p is not None and p.confirmed for p in plans)
    assert len(shared) >= 4 and all(shared)
