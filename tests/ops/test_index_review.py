"""Indexing where PyTorch and NumPy differ, against PyTorch in float64 (values, gradients and
second gradients through check_op): ints applied before the advanced indices, a list as a tuple
of indices, `[]`, byte masks; the range and size checks of gather / scatter_add / index_select;
masked_fill with a tensor value; item assignment's errors; index_select of a 0-d tensor."""
import warnings

import numpy as np
import pytest
from helpers import assert_close, check_op

import tinygen as tg

torch = pytest.importorskip("torch")

# PyTorch (and tinygen with it) warns that a list read as a tuple of indices is deprecated
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*(non-tuple sequence|tuple of indices).*:UserWarning")


def _index(m, spec):
    """An index spec (lists, ("t", data) for a tensor, tuples of those) in library m's terms."""
    if type(spec) is tuple and len(spec) == 2 and spec[0] == "t":
        return m.tensor(spec[1])
    if type(spec) is tuple:
        return tuple(_index(m, s) for s in spec)
    if type(spec) is list:
        return [_index(m, s) for s in spec]
    return spec


ALL = slice(None)
MASK4 = np.array([True, False, True, True])

# ints applied first (PyTorch), then NumPy's rule for the advanced indices left (no repeated
# positions: item assignment's gradient is then well defined)
INT_FIRST = {
    "int_slice_list": ((2, 3, 4), (0, ALL, [0, 1])),
    "slice_int_slice_list": ((3, 2, 4, 3), (ALL, 1, ALL, [2, 0])),
    "list_slice_int": ((2, 3, 4), ([1, 0], ALL, 3)),
    "slice_list_slice_int": ((3, 2, 4, 3), (ALL, [1, 0], ALL, 2)),
    "int_none_list": ((2, 3, 4), (1, None, [2, 0])),
    "ellipsis_int_slice_list": ((2, 3, 4, 2), (Ellipsis, 0, ALL, [1, 0])),
    "int_slice_2d_index": ((2, 3, 4), (0, ALL, ("t", np.array([[0, 1], [3, 2]])))),
    "int_slice_mask": ((2, 3, 4), (1, ALL, ("t", MASK4))),
    "tensor0d_slice_list": ((2, 3, 4), (("t", np.array(1)), ALL, [0, 2])),
    "list_int_list": ((2, 3, 4), ([0, 1], 2, [1, 3])),
    "list_int_slice_list": ((2, 3, 4, 2), ([0, 1], 2, ALL, [1, 0])),
    "negative_int": ((2, 3, 4), (-1, ALL, [-1, 0])),
}


REPEATS = {"int_slice_repeats": ((2, 3, 4), (1, ALL, [3, 0, 3, 3])),
           "slice_repeats_slice_int": ((3, 2, 4, 3), (ALL, [1, 1], ALL, 2))}


@pytest.mark.parametrize("name", sorted(INT_FIRST) + sorted(REPEATS))
def test_getitem_ints_first(name):
    """x[0, :, [0, 1]] of a (2, 3, 4) tensor is (3, 2) in PyTorch, (2, 3) in NumPy."""
    shape, spec = {**INT_FIRST, **REPEATS}[name]
    check_op(lambda x: x[_index(tg, spec)], lambda x: x[_index(torch, spec)], [shape],
             gradcheck_max_numel=48)


@pytest.mark.parametrize("name", sorted(INT_FIRST))
def test_setitem_ints_first(name):
    """Item assignment at the same indices: the value has PyTorch's selection shape; gradients
    reach both the tensor (zero where written) and the value."""
    shape, spec = INT_FIRST[name]
    selected = tuple(torch.zeros(shape)[_index(torch, spec)].shape)

    def assign(m):
        def fn(x, v):
            y = x * 1.0
            y[_index(m, spec)] = v
            return y
        return fn
    check_op(assign(tg), assign(torch), [shape, selected], gradcheck_max_numel=48)
    # without a graph: the same values
    x, v = np.random.default_rng(0).standard_normal(shape), np.arange(float(np.prod(selected)))
    a, b = tg.tensor(x), torch.tensor(x)
    a[_index(tg, spec)] = tg.tensor(v.reshape(selected))
    b[_index(torch, spec)] = torch.tensor(v.reshape(selected))
    assert_close(a, b)


def _random_index(rng, shape):
    """A random mix of ints, slices, None, one Ellipsis, int arrays and bool masks (as specs)."""
    items, dim, ellipsis = [], 0, False
    for _ in range(rng.integers(1, 5)):
        if dim >= len(shape):
            break
        kind = rng.integers(0, 6)
        if kind == 2:
            items.append(None)
            continue
        if kind == 0:
            items.append(int(rng.integers(-shape[dim], shape[dim])))
        elif kind == 1:
            items.append(slice(int(rng.integers(0, 2)), None))
        elif kind == 3 and not ellipsis:
            items.append(Ellipsis)
            ellipsis = True
        elif kind == 4:
            items.append(("t", rng.permutation(shape[dim])[:2]))     # no repeats
        else:
            items.append(("t", rng.random(shape[dim]) > 0.3))
        dim += 1
    return tuple(items)


def test_random_mixed_indices():
    """300 random indices of a 4-D tensor: getitem's value and gradient, and item assignment,
    as PyTorch (the int-first rule shows up wherever an int and an array are separated)."""
    rng = np.random.default_rng(0)
    shape = (3, 4, 2, 5)
    x = rng.standard_normal(shape)
    for _ in range(300):
        spec = _random_index(rng, shape)
        a, b = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
        try:
            expected = a[_index(torch, spec)]
        except IndexError:                 # arrays and masks that do not broadcast together
            with pytest.raises(IndexError):
                b[_index(tg, spec)]
            continue
        got = b[_index(tg, spec)]
        assert_close(got, expected, what=f"x[{spec}]")
        gy = rng.standard_normal(tuple(expected.shape))
        expected.backward(torch.tensor(gy))
        got.backward(tg.tensor(gy))
        assert_close(b.grad, a.grad, what=f"gradient of x[{spec}]")
        a, b = torch.tensor(x), tg.tensor(x)
        a[_index(torch, spec)] = torch.tensor(gy)
        b[_index(tg, spec)] = tg.tensor(gy)
        assert_close(b, a, what=f"x[{spec}] = v")


# a list is a tuple of indices when it is shorter than 32 and holds a sequence, a tensor, a
# slice, None or Ellipsis (PyTorch's treatSequenceAsTuple); else it is one index
LISTS = {
    "list_of_lists": [[0, 1], [2, 3]],
    "list_of_tensors": [("t", np.array([0, 1])), ("t", np.array([2, 3]))],
    "list_of_0d_tensors": [("t", np.array(0)), ("t", np.array(3))],
    "list_with_slice": [ALL, 1],
    "list_with_none": [None, 1],
    "list_with_ellipsis": [Ellipsis, 2],
    "list_holding_one_list": [[2, 0, 2]],
    "list_of_ints": [2, 0, 2],
    "bool_list": [True, False, True, False],
    "long_list_of_lists": [[k % 4] for k in range(33)],      # >= 32 entries: one (33, 1) index
    "empty_list": [],
    "empty_list_in_tuple": ([], 0),
}


@pytest.mark.parametrize("name", sorted(LISTS))
def test_getitem_lists(name):
    spec = LISTS[name]
    check_op(lambda x: x[_index(tg, spec)], lambda x: x[_index(torch, spec)], [(4, 4)],
             gradcheck_max_numel=16)


def test_getitem_list_shapes():
    x = tg.arange(16.0).reshape(4, 4)
    with pytest.warns(UserWarning, match="tuple of indices"):
        assert x[[[0, 1], [2, 3]]].shape == (2,)
    assert x[[tg.tensor([0, 1]), tg.tensor([2, 3])]].shape == (2,)
    assert x[[]].shape == (0, 4)
    assert x[[]].dtype == x.dtype


@pytest.mark.parametrize("name", ["list_of_lists", "list_of_tensors", "list_with_slice",
                                  "empty_list", "list_of_ints"])
def test_setitem_lists(name):
    spec = LISTS[name]
    selected = tuple(torch.zeros(4, 4)[_index(torch, spec)].shape)

    def assign(m):
        def fn(x, v):
            y = x * 1.0
            y[_index(m, spec)] = v
            return y
        return fn
    check_op(assign(tg), assign(torch), [(4, 4), selected], gradcheck_max_numel=16)


def test_uint8_index_is_a_mask():
    """A uint8 tensor indexes as a bool mask (PyTorch's deprecated byte masks), not as ints."""
    spec = ("t", np.array([1, 0, 1, 1], np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_op(lambda x: x[_index(tg, spec)], lambda x: x[_index(torch, spec)], [(4, 3)])


# ---- gather / scatter_add / index_select: the index's range and sizes -------------------------
@pytest.mark.parametrize("bad", [-1, 3])
def test_gather_scatter_add_index_out_of_range(bad):
    """PyTorch raises where NumPy would wrap -1 (or fail with its own message)."""
    index = np.array([[0, bad]])
    x, src = np.zeros((1, 3)), np.ones((1, 2))
    with pytest.raises(RuntimeError, match="out of bounds"):
        torch.tensor(x).gather(1, torch.tensor(index))
    with pytest.raises(RuntimeError, match=f"gather: index {bad} is out of bounds for "
                                           f"dimension 1 with size 3"):
        tg.tensor(x).gather(1, tg.tensor(index))
    with pytest.raises(RuntimeError, match="out of bounds"):
        torch.tensor(x).scatter_add(1, torch.tensor(index), torch.tensor(src))
    with pytest.raises(RuntimeError, match=f"scatter_add: index {bad} is out of bounds for "
                                           f"dimension 1 with size 3"):
        tg.tensor(x).scatter_add(1, tg.tensor(index), tg.tensor(src))


@pytest.mark.parametrize("bad", [-1, 3])
def test_index_select_index_out_of_range(bad):
    with pytest.raises(IndexError, match="index out of range"):
        torch.zeros(3, 2).index_select(0, torch.tensor([0, bad]))
    with pytest.raises(IndexError, match=f"index_select: index {bad} is out of bounds for "
                                         f"dimension 0 with size 3"):
        tg.zeros(3, 2).index_select(0, tg.tensor([0, bad]))


def test_gather_index_larger_than_input_apart_from_dim():
    x, index = np.zeros((3, 4)), np.array([[0], [0], [1], [1]])
    with pytest.raises(RuntimeError, match="no larger than self"):
        torch.tensor(x).gather(1, torch.tensor(index))
    with pytest.raises(RuntimeError, match=r"gather: index \(4, 1\) is larger than the input"):
        tg.tensor(x).gather(1, tg.tensor(index))


@pytest.mark.parametrize("index, src_shape", [
    (np.array([[0, 1]]), (1, 1)),              # src smaller than index: NumPy would broadcast
    (np.array([[0], [1]]), (2, 1)),            # index larger than the input apart from dim
])
def test_scatter_add_sizes_checked(index, src_shape):
    x, src = np.zeros((1, 3)), np.ones(src_shape)
    with pytest.raises(RuntimeError, match="Expected index"):
        torch.tensor(x).scatter_add(1, torch.tensor(index), torch.tensor(src))
    with pytest.raises(RuntimeError, match="scatter_add: index .* must be no larger than src"):
        tg.tensor(x).scatter_add(1, tg.tensor(index), tg.tensor(src))


def test_scatter_add_allowed_sizes():
    """index larger than the input along dim, src larger than index: both fine, as PyTorch."""
    index = np.array([[0, 2, 2, 1, 0]])
    check_op(lambda x, s: x.scatter_add(1, tg.tensor(index), s),
             lambda x, s: x.scatter_add(1, torch.tensor(index), s), [(2, 3), (1, 5)])
    check_op(lambda x, s: x.scatter_add(1, tg.tensor(index), s),
             lambda x, s: x.scatter_add(1, torch.tensor(index), s), [(2, 3), (2, 6)],
             grad=False)
    # an empty index checks nothing
    empty = np.zeros((0, 5), np.int64)
    assert_close(tg.zeros(3, 2).scatter_add(1, tg.tensor(empty), tg.zeros(0, 5)),
                 torch.zeros(3, 2).scatter_add(1, torch.tensor(empty), torch.zeros(0, 5)))


# ---- masked_fill with a tensor value ---------------------------------------------------------
MASK23 = np.array([[True, False, True], [True, True, False]])


def test_masked_fill_tensor_value_gradient():
    """A 0-d tensor value gets the sum of the upstream gradient over the filled places."""
    check_op(lambda x, v: x.masked_fill(tg.tensor(MASK23), v),
             lambda x, v: x.masked_fill(torch.tensor(MASK23), v), [(2, 3), ()])
    row = np.array([True, False, True])                       # a broadcast mask
    check_op(lambda x, v: tg.masked_fill(x, tg.tensor(row), v),
             lambda x, v: torch.masked_fill(x, torch.tensor(row), v), [(2, 3), ()])


def test_masked_fill_tensor_value_input_without_grad():
    """Only the value requires grad: backward still works (it used to raise)."""
    x = np.arange(6.0).reshape(2, 3)
    gy = np.arange(6.0).reshape(2, 3) + 1
    grads = []
    for m in (tg, torch):
        v = m.tensor(2.0, dtype=m.float64, requires_grad=True)
        out = m.tensor(x).masked_fill(m.tensor(MASK23), v)
        assert out.requires_grad
        out.backward(m.tensor(gy))
        grads.append(v.grad)
    assert_close(grads[0], grads[1])
    assert_close(grads[0], np.array((gy * MASK23).sum()))


def test_masked_fill_tensor_value_dtypes():
    """The value is cast to the input's dtype; its gradient keeps the value's dtype."""
    outs, grads = [], []
    for m in (tg, torch):
        v = m.tensor(2.5, dtype=m.float64, requires_grad=True)
        out = m.ones(2, 3, dtype=m.float32).masked_fill(m.tensor(MASK23), v)
        out.sum().backward()
        outs.append(out)
        grads.append(v.grad)
    assert outs[0].dtype == tg.float32 and grads[0].dtype == tg.float64
    assert_close(outs[0], outs[1])
    assert_close(grads[0], grads[1])
    ints = [m.zeros(2, 3, dtype=m.int64).masked_fill(m.tensor(MASK23), m.tensor(1.7))
            for m in (tg, torch)]
    assert ints[0].dtype == tg.int64
    assert_close(ints[0], ints[1])


def test_masked_fill_value_with_dims_refused():
    with pytest.raises(RuntimeError, match="0-dimensional"):
        torch.zeros(2, 3).masked_fill(torch.tensor(MASK23), torch.tensor([1.0]))
    with pytest.raises(RuntimeError, match=r"masked_fill: only a 0-d value tensor .* \(1,\)"):
        tg.zeros(2, 3).masked_fill(tg.tensor(MASK23), tg.tensor([1.0]))


# ---- item assignment: errors name setitem, the shapes and the index --------------------------
@pytest.mark.parametrize("requires_grad", [False, True])
def test_setitem_errors(requires_grad):
    """The same clear error with and without a graph (it was NumPy's bare message without)."""
    x = tg.zeros(3, requires_grad=requires_grad) * 1.0
    with pytest.raises(IndexError):
        torch.zeros(3)[torch.tensor([3])] = 1.0
    with pytest.raises(IndexError, match=r"setitem: index 3 is out of bounds .*tensor of shape "
                                         r"\(3,\), index \[\[3\]\]"):
        x[tg.tensor([3])] = 1.0
    with pytest.raises(RuntimeError, match="shape mismatch"):
        torch.zeros(3)[torch.tensor([0, 1])] = torch.ones(3)
    with pytest.raises(RuntimeError, match=r"setitem: shape mismatch: value of shape \(3,\) "
                                           r"cannot be broadcast to the indexing result of "
                                           r"shape \(2,\)"):
        x[tg.tensor([0, 1])] = tg.ones(3)
    with pytest.raises(RuntimeError, match=r"setitem: shape mismatch: .* result of shape "
                                           r"\(5, 2\) .* index \[1, :, :\]\[:, \[0, 1\]\]"):
        y = tg.zeros(4, 5, 3)
        y[1, :, tg.tensor([0, 1])] = tg.ones(2, 5)


# ---- index_select of a 0-d tensor ------------------------------------------------------------
@pytest.mark.parametrize("index", [np.array([0]), np.array(0)])
def test_index_select_0d_input(index):
    check_op(lambda x: x.index_select(0, tg.tensor(index)),
             lambda x: x.index_select(0, torch.tensor(index)), [()])
    assert tg.tensor(3.0).index_select(-1, tg.tensor(index)).shape == ()


def test_index_select_0d_input_errors():
    with pytest.raises(IndexError, match="index out of range"):
        torch.tensor(3.0).index_select(0, torch.tensor([1]))
    with pytest.raises(IndexError, match="index_select: index 1 is out of bounds"):
        tg.tensor(3.0).index_select(0, tg.tensor([1]))
    with pytest.raises(RuntimeError, match="can have only 1 value"):
        torch.tensor(3.0).index_select(0, torch.tensor([0, 0]))
    with pytest.raises(RuntimeError, match="index_select: a 0-d input takes exactly one index"):
        tg.tensor(3.0).index_select(0, tg.tensor([0, 0]))
