"""PyTorch's indexing rules as NumPy indices (x[idx] and x[idx] = v of index.py and inplace.py):
where PyTorch and NumPy read one index differently, numpy_index rewrites it so that NumPy gives
PyTorch's result."""
from __future__ import annotations

import warnings

import numpy as np

from ..autograd import function as _fn


def numpy_index(idx):
    """PyTorch's index -> (the NumPy index, pre): x[idx] in PyTorch is x[pre][index] in NumPy
    (pre None: x[index]). Where the two differ, PyTorch's rule (python_variable_indexing.cpp):

    - a list (not a tuple) shorter than 32 holding a sequence, a tensor, a slice, None or
      Ellipsis is a tuple of indices (treatSequenceAsTuple): x[[[0, 1], [2, 3]]] is
      x[[0, 1], [2, 3]]; other lists are one integer (or bool) array, `[]` an empty int64 one;
    - a 0-d integer tensor is an int; a uint8 tensor is a bool mask (PyTorch's byte masks);
    - ints are applied first, as basic indexing (x.select), and the advanced indices left then
      follow NumPy's rule on the result (adjacent ones keep their place, separated ones go
      first). NumPy counts ints among the advanced indices, so where they separate an int from
      an array (x[0, :, [0, 1]]) the two disagree; only then is pre not None: the ints, applied
      first as a view."""
    t = type(idx)
    if t is int:                                   # the hot path: x[0], x[1:3]
        return idx, None
    if t is slice:
        if idx.step is not None:
            check_step(idx)
        return idx, None
    if t is tuple:
        items = idx
    elif t is list:
        if not _list_is_tuple(idx):
            return _list_index(idx), None
        warnings.warn("indexing with a list that holds sequences, tensors, slices, None or "
                      "Ellipsis reads it as a tuple of indices, as PyTorch does (deprecated "
                      "there); write x[tuple(seq)]", UserWarning, stacklevel=3)
        items = idx
    elif isinstance(idx, _fn.Tensor):
        return tensor_index(idx), None
    else:
        return idx, None
    for i in items:                                # basic (ints, slices, None, ...): as is
        if type(i) is slice:
            if i.step is not None:
                check_step(i)
        elif not (type(i) is int or i is None or i is Ellipsis):
            break
    else:
        return tuple(items), None
    return _tuple_index(items)


def check_step(s):
    """PyTorch's refusal of a slice step below 1 (x[::-1]: NumPy reverses, PyTorch raises; flip
    reverses a tensor)."""
    step = s.step
    if isinstance(step, _fn.Tensor):
        step = step.item()
    if step < 1:
        text = ":".join("" if v is None else str(v) for v in (s.start, s.stop, step))
        raise ValueError(f"step must be greater than zero: tensor indexing (x[...], x[...] = v) "
                         f"got the slice [{text}]; as in PyTorch, steps are positive (x.flip(dim) "
                         "reverses a tensor)")


def _list_is_tuple(seq):
    """PyTorch's treatSequenceAsTuple for a list: under 32 entries, one of which is a sequence,
    a tensor, a slice, None or Ellipsis."""
    if len(seq) >= 32:
        return False
    for i in seq:
        if (i is None or i is Ellipsis or isinstance(i, (list, tuple, range, slice, np.ndarray))
                or isinstance(i, _fn.Tensor)):
            return True
    return False


def _list_index(seq):
    """A list used as one index: an integer or bool array; empty, it is int64 (as PyTorch's
    indexing tensors) where NumPy would make it float."""
    arr = np.asarray(seq)
    if arr.size == 0 and arr.dtype.kind == "f":
        arr = arr.astype(np.int64)
    return arr


def tensor_index(t):
    """A Tensor used as an index: a 0-d integer one is an int (PyTorch selects with it), a
    uint8 one a bool mask, any other its array (a float one fails in NumPy, as in PyTorch)."""
    d = t._data
    kind = d.dtype.kind
    if kind == "i" and d.ndim:                     # the common case: an int64 index
        return d
    if kind == "u" and d.dtype.itemsize == 1:
        return d.astype(bool)
    if d.ndim or kind not in "iu":
        return d
    return int(d)


def _is_int(i):
    return type(i) is int or isinstance(i, np.integer)


def _tuple_index(items):
    """An index tuple with advanced entries -> (NumPy index, pre): see numpy_index."""
    converted = []
    picked = []                        # positions of NumPy's advanced indices: ints and arrays
    has_int = has_array = False
    for i in items:
        if isinstance(i, _fn.Tensor):
            i = tensor_index(i)
        elif type(i) is list or type(i) is tuple:
            i = _list_index(i)
        elif type(i) is slice and i.step is not None:
            check_step(i)
        if _is_int(i):
            has_int = True
            picked.append(len(converted))
        elif not (type(i) is slice or i is None or i is Ellipsis):
            has_array = True
            picked.append(len(converted))
        converted.append(i)
    idx = tuple(converted)
    if has_int and has_array and picked[-1] - picked[0] >= len(picked):
        return _ints_first(idx)        # NumPy would see separated advanced indices
    return idx, None


def _ints_first(idx):
    """(rest, pre) for an index tuple: pre selects with idx's ints alone (a basic index, so a
    view) and keeps every other dim; rest is idx without its ints, for what pre leaves."""
    pre, rest = [], []
    for i in idx:
        if _is_int(i):
            pre.append(i)
        elif i is None:
            rest.append(i)
        elif i is Ellipsis or type(i) is slice:
            pre.append(i if i is Ellipsis else slice(None))
            rest.append(i)
        else:                          # an array: a bool one spans its ndim dims (0-d: none)
            dtype = getattr(i, "dtype", None)  # (not an array: NumPy raises on it later)
            spans = 1
            if isinstance(i, (bool, np.bool_)):
                spans = 0
            elif dtype is not None and dtype.kind == "b":
                spans = i.ndim
            pre.extend([slice(None)] * spans)
            rest.append(i)
    return tuple(rest), tuple(pre)
