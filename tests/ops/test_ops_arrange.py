"""Rearrangements (movedim, flips, rot90, stacking and splitting variants, atleast_nd, tile,
meshgrid, cartesian_prod, combinations, Tensor.unfold, repeat_interleave, diff, select,
sum_to_size) against PyTorch in float64: values, first and second gradients."""
import pytest
from helpers import FAST, TORCH, assert_close, check_fn, check_op, shape_and_dim
from hypothesis import given
from hypothesis import strategies as st

import tinygen as tg

ONE = {
    "movedim": (lambda m, x: m.movedim(x, 0, -1), (2, 3, 4)),
    "movedim_many": (lambda m, x: x.movedim((0, 1), (2, 0)), (2, 3, 4)),
    "moveaxis": (lambda m, x: m.moveaxis(x, -1, 0), (2, 3, 4)),
    "swapdims": (lambda m, x: m.swapdims(x, 0, 2), (2, 3, 4)),
    "swapaxes": (lambda m, x: m.swapaxes(x, 1, 0), (2, 3)),
    "fliplr": (lambda m, x: m.fliplr(x), (2, 3)),
    "flipud": (lambda m, x: x.flipud(), (2, 3)),
    "rot90": (lambda m, x: m.rot90(x), (2, 3)),
    "rot90_k2": (lambda m, x: m.rot90(x, 2, (1, 2)), (2, 3, 4)),
    "rot90_k3": (lambda m, x: x.rot90(3, [0, 1]), (2, 3)),
    "rot90_neg": (lambda m, x: m.rot90(x, -1), (2, 3)),
    "atleast_1d": (lambda m, x: m.atleast_1d(x), ()),
    "atleast_2d": (lambda m, x: m.atleast_2d(x), (3,)),
    "atleast_3d_1d": (lambda m, x: m.atleast_3d(x), (3,)),
    "atleast_3d_2d": (lambda m, x: m.atleast_3d(x), (2, 3)),
    "tile": (lambda m, x: m.tile(x, (2,)), (2, 3)),
    "tile_more": (lambda m, x: x.tile(2, 1, 2), (2, 3)),
    "ravel": (lambda m, x: m.ravel(x.t()), (2, 3)),
    "unfold": (lambda m, x: x.unfold(1, 2, 1), (2, 5)),
    "unfold_step": (lambda m, x: x.unfold(0, 3, 2), (7, 2)),
    "unfold_all": (lambda m, x: x.unfold(-1, 4, 3), (2, 4)),
    "repeat_interleave": (lambda m, x: m.repeat_interleave(x, 2), (2, 3)),
    "repeat_interleave_dim": (lambda m, x: x.repeat_interleave(3, dim=1), (2, 3)),
    "repeat_interleave_tensor": (lambda m, x: m.repeat_interleave(
        x, m.tensor([1, 0, 2]), dim=1), (2, 3)),
    "diff": (lambda m, x: m.diff(x), (2, 5)),
    "diff_n": (lambda m, x: x.diff(n=2, dim=0), (5, 2)),
    "diff_pend": (lambda m, x: m.diff(x, dim=1, prepend=x[:, :1] * 2, append=x), (2, 3)),
    "select": (lambda m, x: m.select(x, 1, -1), (2, 3)),
    "narrow_copy": (lambda m, x: m.narrow_copy(x, 1, 1, 2), (2, 3)),
    "sum_to_size": (lambda m, x: x.sum_to_size(1, 3), (2, 3)),
    "broadcast_to": (lambda m, x: m.broadcast_to(x, (2, 2, 3)), (2, 1)),
}


@pytest.mark.parametrize("name", sorted(ONE))
def test_rearrangements(name):
    fn, shape = ONE[name]
    check_fn(fn, [shape])


MANY = {
    "hstack": (lambda m, a, b: m.hstack([a, b]), [(2, 3), (2, 1)]),
    "hstack_1d": (lambda m, a, b: m.hstack((a, b)), [(3,), (2,)]),
    "vstack": (lambda m, a, b: m.vstack([a, b]), [(3,), (2, 3)]),
    "row_stack": (lambda m, a, b: m.row_stack([a, b]), [(3,), (3,)]),
    "dstack": (lambda m, a, b: m.dstack([a, b]), [(2, 3), (2, 3)]),
    "column_stack": (lambda m, a, b: m.column_stack([a, b]), [(3,), (3, 2)]),
    "meshgrid_ij": (lambda m, a, b: m.meshgrid(a, b, indexing="ij"), [(3,), (2,)]),
    "meshgrid_xy": (lambda m, a, b: m.meshgrid([a, b, a], indexing="xy"), [(3,), (2,)]),
    "cartesian_prod": (lambda m, a, b: m.cartesian_prod(a, b), [(3,), (2,)]),
}


@pytest.mark.parametrize("name", sorted(MANY))
def test_combine(name):
    fn, shapes = MANY[name]
    check_fn(fn, shapes)


SPLITS = {
    "tensor_split_int": lambda m, x: m.tensor_split(x, 3, dim=1),
    "tensor_split_uneven": lambda m, x: x.tensor_split(4, dim=1),
    "tensor_split_indices": lambda m, x: m.tensor_split(x, [1, 4, 9], dim=1),
    "tensor_split_negative": lambda m, x: m.tensor_split(x, [-2], dim=-1),
    "hsplit": lambda m, x: m.hsplit(x, 3),
    "hsplit_indices": lambda m, x: x.hsplit([2]),
    "vsplit": lambda m, x: m.vsplit(x, 2),
    "dsplit": lambda m, x: m.dsplit(x.reshape(2, 1, 6), [1, 3]),
    "split_with_sizes": lambda m, x: x.split_with_sizes([2, 4], dim=1),
}


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_splits(name):
    check_fn(SPLITS[name], [(2, 6)])


def test_combinations():
    check_fn(lambda m, x: m.combinations(x), [(4,)])
    check_fn(lambda m, x: m.combinations(x, r=3, with_replacement=True), [(3,)])


def test_repeat_interleave_counts_only():
    torch = pytest.importorskip("torch")
    assert_close(tg.repeat_interleave(tg.tensor([2, 0, 3])),
                 torch.repeat_interleave(torch.tensor([2, 0, 3])))


@FAST
@given(sd=shape_and_dim(min_dims=1, max_dims=3, max_side=4), size=st.integers(0, 4),
       step=st.integers(1, 3))
def test_unfold_hypothesis(sd, size, step):
    shape, dim = sd
    if size > shape[dim]:
        return
    check_op(lambda x: x.unfold(dim, size, step), None, [shape], gradcheck_max_numel=8)


@FAST
@given(sd=shape_and_dim(min_dims=1, max_dims=3, max_side=4), k=st.integers(-3, 5))
def test_rot90_and_movedim_hypothesis(sd, k):
    shape, dim = sd
    if len(shape) >= 2:
        check_op(lambda x: x.rot90(k, (dim, (dim + 1) % len(shape))), None, [shape],
                 gradcheck_max_numel=8)
    check_op(lambda x: x.movedim(dim, 0), None, [shape], gradcheck_max_numel=8)


def test_broadcast_shapes():
    assert tg.broadcast_shapes((2, 1), (3,), 1) == (2, 3)
    if TORCH is not None:
        assert tg.broadcast_shapes((5, 1, 4), (3, 1)) == tuple(TORCH.broadcast_shapes((5, 1, 4),
                                                                                     (3, 1)))
    with pytest.raises(RuntimeError, match="broadcast_shapes"):
        tg.broadcast_shapes((2,), (3,))


@pytest.mark.parametrize("call, match", [
    (lambda: tg.hsplit(tg.ones(2, 5), 2), "hsplit: the size 5 of dim 1 is not divisible"),
    (lambda: tg.vsplit(tg.ones(4), 2), "vsplit: expected a tensor of at least 2 dims"),
    (lambda: tg.ones(3).unfold(0, 4, 1), "unfold: size 4 must be in"),
    (lambda: tg.movedim(tg.ones(2, 3), (0, 1), 0), "movedim"),
    (lambda: tg.rot90(tg.ones(2, 3), 1, (0, 0)), "rot90"),
    (lambda: tg.repeat_interleave(tg.ones(3), tg.tensor([1, 2]), dim=0), "repeat_interleave"),
])
def test_errors_name_the_op(call, match):
    with pytest.raises(RuntimeError, match=match):
        call()
