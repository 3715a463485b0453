"""The Tensor methods of tinygen/strided_views.py, tensor_flags.py, legacy_methods.py (and
ops/strided.py, ops/complex_parts.py), each against PyTorch on the same inputs: values, shapes,
strides and storage offsets, memory shared by the views and not by the copies, gradients in
float64 (against torch's, plus finite differences through helpers.check_op), version counters
bumped by the in-place ones, and the errors."""
import pickle
import warnings

import numpy as np
import pytest

import tinygen as tg
from helpers import check_op

torch = pytest.importorskip("torch")
# torch's first autograd.grad imports this (and sympy, ~0.3 s, once per process): at collection,
# not inside the first test's time budget
import torch.fx.experimental.symbolic_shapes  # noqa: E402,F401


def both(array, dtype=None, requires_grad=False):
    """The same data as a tinygen and a torch tensor."""
    array = np.asarray(array, dtype=dtype)
    return (tg.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


def same(ours, theirs):
    """Equal values (NaNs in the same places), shapes and dtypes."""
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], \
        (ours.dtype, theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape), (ours.shape, theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy().astype(np.float64),
                               theirs.detach().numpy().astype(np.float64), rtol=1e-6)


def version(t):
    return t._version if isinstance(t, torch.Tensor) else t._version[0]


def shares(a, b):
    return np.shares_memory(a._data, b._data)


# ---- as_strided ----------------------------------------------------------------------------------
GEOMETRIES = [((3, 2), (1, 3), None), ((3, 2), (1, 3), 1), ((2,), (1,), None), ((), (), 4),
              ((2, 3), (0, 1), 2), ((3, 3), (1, 1), 0), ((0, 4), (100, 100), 50)]


@pytest.mark.parametrize("size,stride,offset", GEOMETRIES)
def test_as_strided_views_the_storage_as_torch(size, stride, offset):
    ours, theirs = tg.arange(12.), torch.arange(12.)
    a, b = ours[2:].reshape(2, 5), theirs[2:].view(2, 5)
    assert a.storage_offset() == b.storage_offset() == 2
    y, z = a.as_strided(size, stride, offset), b.as_strided(size, stride, offset)
    same(y, z)
    assert y.stride() == z.stride() and y.storage_offset() == z.storage_offset()
    if y.numel():
        assert shares(y, ours) and y._version is ours._version


def test_as_strided_writes_reach_the_base_and_bump_its_version():
    x = tg.zeros(6)
    y = tg.as_strided(x, (2, 2), (1, 2), 1)
    y.add_(1)
    np.testing.assert_array_equal(x.numpy(), [0, 1, 1, 1, 1, 0])
    assert version(x) == 1


@pytest.mark.parametrize("make,size,stride,offset,finite_differences", [
    (lambda t: t, (2, 2), (1, 2), 1, True),
    (lambda t: t.reshape(2, 3).t(), (3,), (1,), None, True),    # non-contiguous input
    (lambda t: t, (3, 3), (1, 1), 0, True),                     # the output reads places twice
    (lambda t: t.flip(0), (2, 2), (1, 2), 1, True),             # a copy in PyTorch
    # the output reads storage outside the input t[2:]: that element's effect is outside the
    # graph, in PyTorch too (finite differences through the leaf see it, autograd does not)
    (lambda t: t[2:], (2,), (3,), 0, False),
])
def test_as_strided_gradients_as_torch(make, size, stride, offset, finite_differences):
    check_op(lambda t: make(t).as_strided(size, stride, offset), None, [(6,)],
             gradcheck=finite_differences)


@pytest.mark.parametrize("make,size,stride", [
    (lambda lib, t: t[:3].expand(2, 3), (2, 2), (1, 1)),            # an expanded input
    (lambda lib, t: t.as_strided((2, 3), (1, 1)), (3,), (2,)),      # an overlapping input
])
def test_as_strided_gradient_of_an_overlapping_input_as_torch(make, size, stride):
    """An input that reads a place twice shares that place's gradient equally between them."""
    weights = np.arange(1.0, 1.0 + np.prod(size)).reshape(size)
    inner_grads, leaf_grads = [], []
    for lib in (tg, torch):
        leaf = lib.arange(6.0, dtype=lib.float64, requires_grad=True)
        inner = make(lib, leaf)
        inner.retain_grad()
        (inner.as_strided(size, stride, 0) * lib.tensor(weights)).sum().backward()
        inner_grads.append(inner.grad)
        leaf_grads.append(leaf.grad)
    same(*inner_grads)
    same(*leaf_grads)


def test_as_strided_errors_as_torch():
    for lib in (tg, torch):
        x = lib.arange(4.0)
        for args in [((3,), (2,)), ((3,), (-1,), 2), ((3, 2), (1,)), ((3,), (1,), -1),
                     ((-3,), (1,))]:
            with pytest.raises(RuntimeError):
                x.as_strided(*args)
        with pytest.raises(TypeError):
            x.as_strided(2, 1)
        with pytest.raises(RuntimeError, match="out of bounds"):
            lib.zeros(1).expand(3).as_strided((3,), (1,))


def test_as_strided_in_place_as_torch():
    for lib in (tg, torch):
        x = lib.arange(6.0)
        assert x.as_strided_((2, 2), (1, 2)) is x and version(x) == 1
        np.testing.assert_array_equal(x.numpy(), [[0, 2], [1, 3]])
        with pytest.raises(RuntimeError, match="leaf"):
            lib.arange(6.0, requires_grad=True).as_strided_((2, 2), (1, 2))
    grads = []
    for lib in (tg, torch):
        a = lib.arange(6.0, dtype=lib.float64, requires_grad=True)
        b = a * 2
        b.as_strided_((2, 2), (1, 2))
        (b * lib.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=lib.float64)).sum().backward()
        grads.append(a.grad)
    same(*grads)


def test_as_strided_scatter_as_torch():
    cases = [(lambda t: t, (2, 2), (1, 2), 1), (lambda t: t[2:], (2,), (1,), None),
             (lambda t: t.reshape(2, 3).t(), (2,), (1,), None),
             (lambda t: t.flip(0), (2,), (2,), 1), (lambda t: t[:2].expand(3, 2), (2,), (1,), 0)]
    for make, size, stride, offset in cases:
        x, xt = both(np.arange(6.0))
        src, srct = both(-np.arange(1.0, 1.0 + np.prod(size)).reshape(size))
        y = tg.as_strided_scatter(make(x), src, size, stride, offset)
        z = torch.as_strided_scatter(make(xt), srct, size, stride, offset)
        same(y, z)
        assert y.stride() == z.stride() and y.storage_offset() == z.storage_offset()
        assert not shares(y, x)
        np.testing.assert_array_equal(x.numpy(), np.arange(6.0))     # out of place


def test_as_strided_scatter_gradients():
    """src's gradient as torch's; self's is the output's with the written region zeroed (finite
    differences agree). PyTorch 2.13 returns the region's gradient instead, and fails its own
    gradcheck there (its review of pytorch#77128 calls the formula wrong)."""
    x, xt = both(np.arange(6.0), requires_grad=True)
    s, st = both(np.ones((2, 2)), requires_grad=True)
    g = np.arange(6.0) * 10
    tg.as_strided_scatter(x, s, (2, 2), (1, 2), 1).backward(tg.tensor(g))
    torch.as_strided_scatter(xt, st, (2, 2), (1, 2), 1).backward(torch.tensor(g))
    same(s.grad, st.grad)
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0, 0, 0, 50])
    np.testing.assert_array_equal(xt.grad.numpy(), [0, 10, 20, 30, 40, 0])
    check_op(lambda a, b: tg.as_strided_scatter(a, b, (2, 2), (1, 2), 1), lambda a, b: a,
             [(6,), (2, 2)], forward=False, grad=False, gradgrad=False)


def test_as_strided_scatter_errors_as_torch():
    for lib in (tg, torch):
        with pytest.raises(RuntimeError, match="size equal to the slice"):
            lib.as_strided_scatter(lib.zeros(6), lib.zeros(3), (2,), (1,))
        with pytest.raises(RuntimeError, match="more than one element"):
            lib.as_strided_scatter(lib.zeros(6), lib.arange(4.0), (4,), (0,))
        with pytest.raises(RuntimeError, match="out of bounds"):
            lib.as_strided_scatter(lib.zeros(6), lib.zeros(4), (4,), (2,))


def test_as_strided_copy_is_fresh_and_differentiable():
    x, xt = both(np.arange(6.0))
    y, z = tg.as_strided_copy(x[1:], (2,), (2,)), torch.as_strided_copy(xt[1:], (2,), (2,))
    same(y, z)
    assert not shares(y, x) and y.is_contiguous()
    check_op(lambda t: tg.as_strided_copy(t, (2, 2), (1, 2), 1),
             lambda t: torch.as_strided_copy(t, (2, 2), (1, 2), 1), [(6,)])


# ---- storage -------------------------------------------------------------------------------------
def test_storage_offset_and_untyped_storage_as_torch():
    for lib in (tg, torch):
        x = lib.arange(6.0)
        view = x.view(2, 3).t()[1:]
        assert view.storage_offset() == 1 and x.flip(0).storage_offset() == 0
        storage = x[2:].untyped_storage()
        assert storage.nbytes() == storage.size() == len(storage) == 24
        assert storage.data_ptr() == x.data_ptr() == x.untyped_storage().data_ptr()
        assert storage.element_size() == 1
        assert x.clone().untyped_storage().data_ptr() != x.data_ptr()
        assert storage.tolist() == torch.arange(6.0).untyped_storage().tolist()
        assert x.const_data_ptr() == x.data_ptr()


def test_is_set_to_as_torch():
    for lib in (tg, torch):
        x = lib.arange(6.0)
        assert x.is_set_to(x) and x.is_set_to(x.detach()) and x.is_set_to(x[:])
        assert x.view(6).is_set_to(x)
        assert not x.is_set_to(x.view(2, 3)) and not x.is_set_to(x.clone())
        assert not x.view(1, 6).is_set_to(x) and not x[1:].is_set_to(x[:-1])


def test_set_shares_the_source_as_torch():
    for lib in (tg, torch):
        source, target = lib.arange(4.0), lib.zeros(2)
        assert target.set_(source) is target and version(target) == 1
        assert target.is_set_to(source)
        target[0] = 100.0
        assert source[0].item() == 100.0
        viewed = lib.zeros(2).set_(lib.arange(6.0).view(2, 3)[:, 1:])
        assert viewed.storage_offset() == 1 and viewed.stride() == (3, 1)
        assert lib.arange(3.0).set_().shape == (0,)
        storage = lib.arange(6.0).untyped_storage()
        assert lib.zeros(2).set_(storage).tolist() == list(range(6))
        assert lib.zeros(2).set_(storage, 1, (2, 2), (1, 2)).tolist() == [[1, 3], [2, 4]]
        assert lib.zeros(2).set_(storage, storage_offset=1, size=(2, 2)).tolist() == \
            [[1, 2], [3, 4]]
        with pytest.raises(RuntimeError, match="Could not set tensor of type"):
            lib.zeros(2).set_(lib.arange(3))
        with pytest.raises(RuntimeError, match="leaf Variable"):
            lib.zeros(2, requires_grad=True).set_(lib.ones(3))
        with pytest.raises(TypeError):
            lib.zeros(2).set_(3)
    p = tg.zeros(2, requires_grad=True)
    with tg.no_grad():
        p.set_(tg.ones(3))                       # swapping a parameter's memory, as torch code
    assert p.requires_grad and p.is_leaf and p.tolist() == [1, 1, 1]
    with pytest.raises(RuntimeError, match="no gradient through set_"):
        tg.zeros(2).set_(tg.ones(3, requires_grad=True))


# ---- flags, layout, dim_order --------------------------------------------------------------------
FLAGS = ["is_sparse", "is_sparse_csr", "is_quantized", "is_meta", "is_mkldnn", "is_nested",
         "is_mps", "is_xpu", "is_xla", "is_ipu", "is_vulkan", "is_maia", "is_mtia"]


def test_flags_are_false_properties_as_torch():
    x, xt = both([1.0, 2.0])
    for name in FLAGS:
        assert getattr(x, name) is False and getattr(xt, name) is False, name
        assert isinstance(getattr(tg.Tensor, name), property)
    assert x.is_distributed() is False and xt.is_distributed() is False


def test_layout_as_torch():
    x = tg.ones(2)
    assert x.layout is tg.strided and isinstance(tg.strided, tg.layout)
    assert repr(tg.strided) == repr(torch.strided).replace("torch", "tinygen")
    for name in ("sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc", "jagged"):
        assert repr(getattr(tg, name)) == f"tinygen.{name}" and getattr(tg, name) != tg.strided
    assert pickle.loads(pickle.dumps(tg.strided)) is tg.strided
    for lib in (tg, torch):
        with pytest.raises(TypeError, match="cannot create"):
            lib.layout()


DIM_ORDER_CASES = [
    lambda lib: lib.empty(2, 3, 5, 7), lambda lib: lib.empty(2, 3, 5, 7).transpose(1, 2),
    lambda lib: lib.empty(2, 3, 5, 7).permute(0, 2, 3, 1),
    lambda lib: lib.empty(2, 3, 5, 7).permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2),
    lambda lib: lib.empty(1, 2, 3, 4), lambda lib: lib.empty(2, 3).expand(4, 2, 3),
    lambda lib: lib.empty(2, 3, 4)[:, ::2], lambda lib: lib.empty(6), lambda lib: lib.empty(()),
    lambda lib: lib.empty(4, 4).t(), lambda lib: lib.empty(3, 1, 2).transpose(0, 2),
]


@pytest.mark.parametrize("make", DIM_ORDER_CASES)
def test_dim_order_as_torch(make):
    assert make(tg).dim_order() == make(torch).dim_order()
    for check in (True, [tg.contiguous_format, tg.channels_last]):
        torch_check = check if check is True else [torch.contiguous_format, torch.channels_last]
        try:
            expected = make(torch).dim_order(ambiguity_check=torch_check)
        except RuntimeError:
            with pytest.raises(RuntimeError, match="unique dim order"):
                make(tg).dim_order(ambiguity_check=check)
            continue
        assert make(tg).dim_order(ambiguity_check=check) == expected


def test_dim_order_refuses_other_checks_as_torch():
    for lib in (tg, torch):
        with pytest.raises(TypeError, match="must be a bool or a list of memory formats"):
            lib.empty(2, 3).dim_order(ambiguity_check="x")


def test_output_nr_name_grad_dtype_as_torch():
    for lib in (tg, torch):
        a = lib.ones(3, requires_grad=True)
        assert a.output_nr == 0 and (a * 2).output_nr == 0 and a.name is None
        assert [t.output_nr for t in (a * 1).split(1)] == [0, 1, 2]
        assert [t.output_nr for t in lib.arange(4.0).split(2)] == [0, 0]
        assert a.grad_dtype == a.dtype and lib.arange(3).grad_dtype == lib.int64
        with pytest.raises(RuntimeError, match="grad_dtype can only be accessed on leaf"):
            (a * 2).grad_dtype
        a.grad_dtype = a.dtype
    with pytest.raises(RuntimeError, match="does not cast gradients"):
        tg.ones(3, requires_grad=True).grad_dtype = tg.float64


# ---- new, new_empty_strided ----------------------------------------------------------------------
def test_new_as_torch():
    x, xt = both(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    same(x.new(), xt.new())
    assert x.new(2, 3).shape == xt.new(2, 3).shape == (2, 3) and x.new(2, 3).dtype == tg.float32
    assert x.new(tg.Size([2, 3])).shape == (2, 3) and x.new(0).shape == (0,)
    same(x.new([1, 2]), xt.new([1, 2]))
    same(x.new(np.ones(2)), xt.new(np.ones(2)))
    same(tg.arange(3).new([[-1.7, 2.5]]), torch.arange(3).new([[-1.7, 2.5]]))
    same(x.new([]), xt.new([]))
    assert x.new(2, device="cpu").shape == (2,)
    for lib, t in ((tg, x), (torch, xt)):
        with pytest.raises(TypeError):
            t.new(2.5)
        with pytest.raises(TypeError):
            t.new(2, 3.0)
        with pytest.raises(TypeError):
            t.new(lib.arange(3))                 # another dtype
        with pytest.raises(RuntimeError, match="negative dimension"):
            t.new(-1)


def test_new_of_a_tuple_is_a_size_unlike_torch():
    """tinygen's shapes are plain tuples, so a tuple of ints is a size (torch.Size's meaning)."""
    assert tg.ones(1).new((2, 3)).shape == (2, 3)
    assert torch.ones(1).new((2, 3)).tolist() == [2.0, 3.0]


def test_new_of_a_tensor_is_a_differentiable_alias_as_torch():
    for lib in (tg, torch):
        x = lib.arange(6.0)
        alias = x.new(x)
        x.add_(1)
        assert alias.data_ptr() == x.data_ptr() and version(alias) == 1
        a = lib.ones(2, dtype=lib.float64, requires_grad=True)
        (a.new(a) * 3).sum().backward()
        assert a.grad.tolist() == [3.0, 3.0]


def test_new_empty_strided_as_torch():
    x, xt = both(np.ones(2, dtype=np.float32))
    for size, stride in (((2, 3), (1, 2)), ((2, 3), (3, 1)), ((0, 2), (5, 1)), ((), ())):
        y, z = x.new_empty_strided(size, stride), xt.new_empty_strided(size, stride)
        assert y.shape == z.shape and y.stride() == z.stride() and y.dtype == tg.float32
    y = x.new_empty_strided((2, 3), (3, 1), dtype=tg.int32)
    assert y.dtype == tg.int32 and not y.requires_grad
    y = x.new_empty_strided((2, 3), (3, 1), requires_grad=True)
    assert y.requires_grad and y.is_leaf
    for t in (x, xt):
        with pytest.raises(RuntimeError, match="dimensionality of sizes"):
            t.new_empty_strided((2, 3), (3,))


# ---- apply_, map_, map2_ -------------------------------------------------------------------------
APPLY_CASES = [  # (data, dtype, f(lib, element)): the result is cast back as torch casts it
    ([0.0, 1.5, -2.0], np.float32, lambda lib, v: v * 2),
    ([-3, 3], np.int64, lambda lib, v: v / 2), ([-3, 3], np.int64, lambda lib, v: v * 1.7),
    ([True, False], np.bool_, lambda lib, v: not v), ([True, False], np.bool_, lambda lib, v: 5),
    ([3], np.uint8, lambda lib, v: -1), ([1.0], np.float32, lambda lib, v: True),
    ([1.0], np.float32, lambda lib, v: 1e300), ([1.0], np.float32, lambda lib, v: 2 ** 70),
    ([1.0], np.float32, lambda lib, v: np.float64(2)),
    ([1.0, 2.0], np.float32, lambda lib, v: lib.tensor(3)),
    ([1.0, 2.0], np.float16, lambda lib, v: v + 0.1), (2.0, np.float32, lambda lib, v: v + 1),
    ([], np.float32, lambda lib, v: 1 / 0),
]


@pytest.mark.parametrize("data,dtype,f", APPLY_CASES)
def test_apply_as_torch(data, dtype, f):
    x, xt = both(data, dtype)
    assert x.apply_(lambda v: f(tg, v)) is x
    same(x, xt.apply_(lambda v: f(torch, v)))


def test_apply_passes_python_numbers_in_row_major_order():
    seen = {lib: [] for lib in (tg, torch)}
    for lib in (tg, torch):
        for dtype in (lib.float64, lib.int32, lib.bool):
            lib.ones(2, dtype=dtype).t().apply_(lambda v, lib=lib: seen[lib].append(type(v)) or v)
        grid = lib.zeros(2, 2).t()
        grid.map_(lib.tensor([[1.0, 2.0], [3.0, 4.0]]), lambda a, b, lib=lib:
                  seen[lib].append(b) or b)
    assert seen[tg] == seen[torch]


def test_apply_errors_as_torch():
    for lib in (tg, torch):
        for data, dtype, result, error in (([1.0], None, "a", TypeError),
                                           ([1.0], None, None, TypeError),
                                           ([1.0], None, 1j, TypeError),
                                           ([1], lib.int64, float("nan"), RuntimeError),
                                           ([1], lib.int32, 2 ** 40, RuntimeError),
                                           ([1], lib.uint8, 300, RuntimeError),
                                           ([1], lib.uint8, -1.5, RuntimeError),
                                           ([1], lib.int8, -129, RuntimeError)):
            with pytest.raises(error):
                lib.tensor(data, dtype=dtype).apply_(lambda v, result=result: result)
        with pytest.raises(RuntimeError, match="Can't call apply_\\(\\) on Variable that "
                                               "requires grad"):
            lib.ones(2, requires_grad=True).apply_(lambda v: v)
        with pytest.raises(ZeroDivisionError):
            lib.ones(1).apply_(lambda v: 1 / 0)


def test_apply_bumps_the_version_unlike_torch():
    """PyTorch 2.13 leaves the version of a tensor apply_ rewrote; tinygen bumps it, so a
    backward that saved the tensor refuses to run with its new values."""
    x = tg.arange(3.0)
    w = tg.ones(3, requires_grad=True)
    y = (w * x).sum()                      # saves x
    x.apply_(lambda v: v + 1)
    assert version(x) == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    xt = torch.arange(3.0)
    xt.apply_(lambda v: v + 1)
    assert xt._version == 0


def test_map_and_map2_as_torch():
    for lib in (tg, torch):
        a = lib.arange(4.0)
        assert a.map_(lib.tensor([10.0, 20, 30, 40]), lambda p, q: p + q) is a
        assert a.tolist() == [10, 21, 32, 43]
        assert lib.zeros(2, 3).map_(lib.tensor([1.0, 2, 3]), lambda p, q: q).tolist() == \
            [[1, 2, 3]] * 2
        b = lib.zeros(2, 3)
        b.map2_(lib.ones(3), lib.full((2, 1), 2.0), lambda p, q, r: p + q + r)
        assert b.tolist() == [[3, 3, 3]] * 2
        assert lib.tensor([True, False]).map_(lib.tensor([True, True]),
                                              lambda p, q: p and q).tolist() == [True, False]
        with pytest.raises(TypeError):
            lib.zeros(3).map_(lib.arange(3), lambda p, q: q)
        with pytest.raises(TypeError):
            lib.zeros(3).map2_(lib.ones(3), lib.arange(3), lambda p, q, r: q)
        with pytest.raises(TypeError):
            lib.zeros(3).map_(3, lambda p, q: q)
        with pytest.raises(RuntimeError):
            lib.zeros(3).map_(lib.ones(2, 3), lambda p, q: q)
        with pytest.raises(RuntimeError, match="Can't call map_\\(\\)"):
            lib.ones(2).map_(lib.ones(2, requires_grad=True), lambda p, q: p)
    assert version(tg.zeros(2).map_(tg.ones(2), lambda p, q: q)) == 1
    assert torch.zeros(1).expand(3).map_(torch.arange(3.0), lambda p, q: q).tolist() == [2] * 3
    with pytest.raises(RuntimeError, match="read-only"):     # tinygen's expand: read-only
        tg.zeros(1).expand(3).map_(tg.arange(3.0), lambda p, q: q)


# ---- resize_, resize_as_, resize, resize_as ------------------------------------------------------
def test_resize_keeps_the_prefix_and_grows_as_torch():
    for lib in (tg, torch):
        x = lib.arange(6.0)
        start = x.data_ptr()
        assert x.resize_(6) is x and version(x) == 0               # the same size: nothing
        assert x.resize_(2, 2).tolist() == [[0, 1], [2, 3]] and version(x) == 1
        assert x.data_ptr() == start and x.untyped_storage().nbytes() == 24
        x.resize_(2, 4)                                            # past the storage: new memory
        assert x[0].tolist() == [0, 1, 2, 3] and x[1, :2].tolist() == [4, 5]
        assert x.stride() == (4, 1) and version(x) == 2 and x.untyped_storage().nbytes() == 32
        assert lib.arange(6.0).resize_([3, 2]).shape == (3, 2)
        assert lib.arange(6.0).resize_(()).shape == ()
        view = lib.arange(6.0)[2:]
        assert view.resize_(2).tolist() == [2, 3] and view.storage_offset() == 2
        t = lib.arange(6.0).view(2, 3).t()
        assert t.resize_(3, 2).stride() == (1, 3)                  # the same size keeps strides
        assert t.resize_(2, 3).tolist() == [[0, 1, 2], [3, 4, 5]]  # storage order
        assert lib.arange(6.0).flip(0).resize_(2, 3).tolist() == [[5, 4, 3], [2, 1, 0]]
        assert lib.empty(24).resize_(1, 2, 3, 4, memory_format=lib.channels_last).stride() == \
            (24, 1, 8, 2)


def test_resize_errors_as_torch():
    for lib in (tg, torch):
        for x in (lib.ones(6, requires_grad=True), lib.ones(6, requires_grad=True) * 2):
            with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
                x.resize_(3, 2)
        with pytest.raises(RuntimeError):
            lib.arange(6.0).resize_(2, -2)
        with pytest.raises(TypeError):
            lib.arange(6.0).resize_(2.0)
        with pytest.raises(TypeError):
            lib.arange(6.0).resize_()
        with pytest.raises(TypeError):
            lib.arange(6.0).resize_as_([2, 3])


def test_resize_as_in_place_takes_the_size_only():
    x, xt = both(np.arange(6.0, dtype=np.float32))
    same(x.resize_as_(tg.zeros(2, 3, dtype=tg.int64)),
         xt.resize_as_(torch.zeros(2, 3, dtype=torch.int64)))


def test_resize_out_of_place_as_torch():
    x, xt = both(np.arange(6.0), requires_grad=True)
    for lib, t in ((tg, x), (torch, xt)):
        with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
            y = t.resize(2, 3)
        assert y.data_ptr() == t.data_ptr()                        # contiguous: a view
        (y * lib.arange(6.0, dtype=lib.float64).view(2, 3)).sum().backward()
        with pytest.warns(UserWarning, match="non-inplace resize_as is deprecated"):
            assert t.detach().resize_as(lib.zeros(3, 2)).shape == (3, 2)
        transposed = lib.arange(6.0).view(2, 3).t()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert transposed.resize(6).data_ptr() != transposed.data_ptr()   # a copy
            with pytest.raises(RuntimeError, match="requested resize to 4"):
                t.resize(4)
    same(x.grad, xt.grad)


# ---- angle, conj_physical ------------------------------------------------------------------------
SPECIAL = [-1.5, 0.0, 2.0, np.nan, -0.0, -np.inf, np.inf]


@pytest.mark.parametrize("data,dtype", [(SPECIAL, np.float32), (SPECIAL, np.float64),
                                        ([-2.0, 1.0], np.float16), ([-2, 0, 3], np.int64),
                                        ([True, False], np.bool_)])
def test_angle_as_torch(data, dtype):
    x, xt = both(data, dtype)
    same(x.angle(), xt.angle())
    same(tg.angle(x), torch.angle(xt))


def test_angle_gradient_is_zero_as_torch():
    check_op(lambda t: t.angle(), None, [(3,)], gradgrad=False)


def test_conj_physical_as_torch():
    for lib in (tg, torch):
        x = lib.tensor([-1.5, 2.0])
        assert x.conj_physical() is x and lib.conj_physical(x) is x
        assert x.conj_physical_() is x and version(x) == 1
        assert lib.conj_physical_(x) is x and version(x) == 2
        with pytest.raises(RuntimeError, match="leaf Variable"):
            lib.ones(2, requires_grad=True).conj_physical_()
    check_op(lambda t: t.conj_physical() * 3, None, [(3,)])


# ---- what PyTorch raises on dense real tensors ---------------------------------------------------
def _message(fn):
    with pytest.raises(Exception) as info:
        fn()
    return info.type, str(info.value)


def test_raising_methods_as_torch():
    x, xt = both([1.0, 2.0])
    for fn in (lambda t: t.imag, lambda t: t.values(), lambda t: t.solve(t)):
        assert _message(lambda: fn(x)) == _message(lambda: fn(xt))
    ours, theirs = _message(x.int_repr), _message(xt.int_repr)
    assert ours[0] is theirs[0] is NotImplementedError
    assert ours[1].split(". ")[0] == theirs[1].split(". ")[0]
    for name in ("cfloat", "cdouble", "chalf"):
        with pytest.raises(RuntimeError, match=f"{name}\\(\\): tinygen has no complex dtypes"):
            getattr(x, name)()


def test_top_level_names():
    for name in ("as_strided", "as_strided_scatter", "as_strided_copy", "angle",
                 "conj_physical", "conj_physical_", "layout", "strided", "sparse_coo"):
        assert hasattr(tg, name) and hasattr(torch, name), name
    x = tg.arange(6.0)
    assert tg.as_strided(x, (2,), (2,), 1).tolist() == [1, 3]


def test_storage_methods_keep_the_test_device():
    """On the `test` device (tinygen's stand-in for a GPU) the views, gradients and new storage
    stay that device's arrays; apply_ is CPU only, as PyTorch's."""
    x = tg.arange(6.0, dtype=tg.float64, device="test", requires_grad=True)
    y = x.reshape(2, 3).t().as_strided((2, 2), (1, 2), 1)
    (y * y).sum().backward()
    assert y.device == x.grad.device == tg.device("test")
    assert x.grad.tolist() == [0, 2, 4, 6, 8, 0]
    grown = tg.arange(6.0, device="test").resize_(2, 4)
    scattered = tg.as_strided_scatter(x.detach(), tg.zeros(2, device="test", dtype=tg.float64),
                                      (2,), (1,))
    assert grown.device == scattered.device == tg.device("test")
    with pytest.raises(RuntimeError, match="only implemented on CPU"):
        tg.ones(2, device="test").apply_(lambda v: v)
