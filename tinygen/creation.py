"""Creation functions of `import tinygen as tg`: new leaf tensors from data, constants, ranges
and random draws, with PyTorch's signatures (`*size` or a tuple, dtype, device, requires_grad).

Python floats become float32 (the default dtype), Python ints int64; NumPy arrays keep their
dtype. Random draws come from tinygen's seeded generator for the device (tg.manual_seed), or
from a tg.Generator passed as generator=.

Where NumPy would wrap a value or build an array tinygen cannot use, these raise at creation,
as PyTorch does: tensor(2**63), tensor([300], dtype=uint8), full((2,), nan, dtype=int64),
tensor(['a']), ragged lists, rand(3, dtype=int64), randint(0, 300, (3,), dtype=uint8),
arange(0, 10, -1), zeros(-1).
"""
from __future__ import annotations

import builtins
import itertools
import math

import numpy as np

from .autograd import capture as _capture, function as _function
from .backend import dtypes as _dt
from .backend.device import Device, get_xp, to_device
from .ops.args import shape_arg
from .ops.convert import _infer_dtype, _unwrap, type_name
from .ops.random import random_array
from .ops.shape import _required
from .tensor import Tensor, _python_data

_make = Tensor._make


def _leaf(arr, requires_grad):
    if _function.CAPTURE[0] is not None:        # zeros, arange...: a constant of a captured step
        _capture.made(arr, constant=True)        # (random draws are recorded where they are made)
    t = _make(arr, None, 0, False)
    if requires_grad:
        t.requires_grad = True
    return t


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new leaf tensor copying `data` (lists, numbers, NumPy arrays, tensors).

    Python data NumPy would wrap or cannot type raises, as in PyTorch: an int outside int64
    (ValueError "Overflow when unpacking long long"), a value an integer dtype= cannot hold
    (RuntimeError: 300 for uint8, NaN for int64; -1 for uint8 wraps to 255, as PyTorch allows),
    ragged lists (ValueError), strings and None (TypeError). Arrays of a dtype tinygen lacks
    (uint16, complex) raise TypeError here rather than at the first .dtype. A NumPy array cast
    with dtype= wraps silently, as torch.tensor(array, dtype=) does."""
    if type(data) in _PYTHON_DATA or isinstance(data, np.generic):
        return _from_python(data, dtype, device, requires_grad)    # (a NumPy scalar: checked)
    if isinstance(data, np.ndarray):
        _check_strides(data)
    t = Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
    if t._data.dtype not in _dt._FROM_NP:
        raise TypeError(f"tensor(): tinygen has no dtype for NumPy dtype {t._data.dtype} (from "
                        f"{type(data).__name__} data of shape {t._data.shape})")
    return t


_PYTHON_DATA = (list, tuple, int, float, bool)
_INT64_MAX = (1 << 63) - 1


def _numbers_only(data):
    """The types of the numbers in nested lists that hold Python numbers only (bool, int, float),
    else None; looked at level by level in C loops (set, map, chain): tensor() of a long list
    pays no Python call per element."""
    level = data
    while True:
        types = set(map(type, level))
        if types <= _NUMBERS:
            return types or {float}       # ([]: an empty float tensor)
        if not types <= _SEQUENCES:
            return None
        level = list(itertools.chain.from_iterable(level))


_NUMBERS, _SEQUENCES = {bool, int, float}, {list, tuple}
# NumPy's dtype of nested Python numbers -> PyTorch's (None: the default float)
_PLAIN = {np.dtype(np.bool_): np.dtype(np.bool_), np.dtype(np.int64): np.dtype(np.int64),
          np.dtype(np.float64): None}


def _scalar_type(data):
    """(dtype, big) as PyTorch infers them for Python data: each number's own type (bool, int64,
    the default float; a NumPy scalar's or a tensor's dtype), promoted over the nested lists
    (None where there is no number); big: an int outside int64 is among them."""
    found, big, todo = None, False, [data]
    while todo:
        v = todo.pop()
        if isinstance(v, (list, tuple)):
            todo.extend(v)
            continue
        if isinstance(v, (Tensor, np.ndarray, np.generic)):
            t = v._data.dtype if isinstance(v, Tensor) else v.dtype
        elif isinstance(v, bool):
            t = np.dtype(np.bool_)
        elif isinstance(v, int):
            t, big = np.dtype(np.int64), big or not -_INT64_MAX - 1 <= v <= _INT64_MAX
        elif isinstance(v, float):
            t = _dt.get_default_dtype().np
        else:
            continue                                  # (None, strings: refused by the caller)
        found = t if found is None else _dt.promote_types(found, t)
    return found, big


def _floats(data):
    """Nested Python data as nested floats (ints beyond 64 bits become doubles, as PyTorch's)."""
    if isinstance(data, (list, tuple)):
        return [_floats(v) for v in data]
    return data.astype(np.float64) if isinstance(data, np.ndarray) else float(data)


def _from_python(data, dtype, device, requires_grad):
    """tensor() of Python numbers and (nested) lists of them or of tensors: as Tensor(data) does
    (ops/convert.as_array), with NumPy's silent wrap-arounds and unusable arrays refused."""
    seen = [data] if isinstance(data, np.generic) else []
    try:
        if type(data) not in (list, tuple):
            raw = np.asarray(data)
        else:                           # (Python numbers only: no walk in Python)
            leaves = _numbers_only(data)
            raw = np.array(data if leaves else _unwrap(data, seen))
            if leaves and float not in leaves and raw.dtype.kind == "f":
                seen.append(data)       # ints NumPy made floats (beyond int64): walked below
    except ValueError:                  # NumPy: "setting an array element with a sequence"
        raise ValueError(f"tensor(): {_ragged(data)}") from None
    npd = _dt.to_np_dtype(dtype)
    if not seen and raw.dtype in _PLAIN:     # Python bools, ints, floats only: NumPy's answer,
        found, big = _PLAIN[raw.dtype] or _dt.get_default_dtype().np, False    # floats default
    else:
        found, big = _scalar_type(data)     # PyTorch's inference, not NumPy's promotion
    target = npd if npd is not None else found if found is not None else \
        _dt.get_default_dtype().np
    if big and target.kind != "f":
        raise ValueError("tensor(): Overflow when unpacking long long: an int does not fit in "
                         "int64")
    if big and raw.dtype.kind in "Ou":  # ints beyond int64 among floats: PyTorch's doubles
        raw = np.array(_floats(_unwrap(data)), dtype=np.float64)
    kind = raw.dtype.kind
    if kind not in "fibu":
        _refuse(raw, data)              # 'O': None, strings...
    if npd is None:
        npd = target
    elif npd.kind in "iu" and (kind == "f" or npd.itemsize < raw.dtype.itemsize or
                               npd.kind != raw.dtype.kind):
        _check_fits(raw, npd, "tensor")
    arr = raw.astype(npd, copy=False)
    if device is not None and Device(device) != Device("cpu"):
        arr = to_device(arr, Device(device))
    if _function.CAPTURE[0] is not None:
        _capture.made(arr, constant=_python_data(data))
    t = _make(arr, None, 0, False)
    if requires_grad:
        t.requires_grad = True
    return t


def _refuse(raw, data):
    """Raise for a NumPy array of Python data tinygen cannot hold (see tensor)."""
    if raw.dtype == np.uint64 and raw.size and int(raw.max()) <= _INT64_MAX:
        return                                      # NumPy uint64 scalars that fit
    for item in raw.reshape(-1).tolist():
        if isinstance(item, int) and not isinstance(item, bool) and \
                not -_INT64_MAX - 1 <= item <= _INT64_MAX:
            raise ValueError(f"tensor(): Overflow when unpacking long long: {item} does not fit "
                             "in int64")
        if not isinstance(item, (bool, int, float)):
            raise TypeError(f"tensor(): could not infer a number dtype from "
                            f"{type(item).__name__} {item!r} (expected numbers, got "
                            f"{type(data).__name__} data)")
    raise TypeError(f"tensor(): tinygen has no dtype for NumPy dtype {raw.dtype} (from "
                    f"{type(data).__name__} data)")


def _ragged(data):
    """PyTorch's message for a nested list whose rows differ in length (or nest differently)."""
    level, dim = [data], 0
    while level:
        sequences = [v for v in level if isinstance(v, (list, tuple))]
        if not sequences:
            break
        if len(sequences) != len(level):
            return f"expected a sequence at every position of dim {dim}, got a mix of " \
                   "sequences and numbers (a ragged nested list)"
        length = len(sequences[0])
        for v in sequences:
            if len(v) != length:
                return f"expected sequence of length {length} at dim {dim} (got {len(v)})"
        level, dim = [item for v in sequences for item in v], dim + 1
    return "a ragged nested list (rows of different lengths)"


def _check_fits(values, npd, op):
    """Raise RuntimeError, as PyTorch, where a value cannot be cast to the integer dtype npd
    without overflow: NaN, inf, or outside its range (PyTorch lets an unsigned type take
    negatives down to -max: -1 becomes 255 in uint8)."""
    values = np.asarray(values)
    if values.size == 0:
        return
    info = np.iinfo(npd)
    low = -info.max if npd.kind == "u" else info.min
    if npd.kind == "u" and values.dtype.kind == "f":
        low = 0                             # a negative float never wraps (PyTorch's check)
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        bad = values[~np.isfinite(values)].reshape(-1)[0]
    else:
        small, large = values.min().item(), values.max().item()   # Python numbers: exact
        bad = small if small < low else large if large > info.max else None
        if bad is None:
            return
    raise RuntimeError(f"{op}(): value cannot be converted to type {npd} without overflow: "
                       f"{bad} (expected {low} to {info.max})")


def _check_strides(arr):
    if any(s < 0 for s in arr.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors "
                         "with negative strides are not currently supported. (You can probably "
                         "work around this by making a copy of your array with array.copy().)")


def from_numpy(arr):
    """A tensor sharing memory with the NumPy array `arr` (dtype kept)."""
    if type(arr) is not np.ndarray:
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(arr).__name__}")
    _check_strides(arr)
    if _function.CAPTURE[0] is not None:
        _capture.made(arr, constant=False)
    return _make(arr, None, 0, False)


def as_tensor(data, dtype=None, device=None):
    """data itself when it is already a tensor of that dtype and device (a NumPy array of that
    dtype is shared, as from_numpy); else a copy, as tensor()."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if type(data) is np.ndarray and device is None and (
            dtype is None or _dt.to_np_dtype(dtype) == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype, device)


def _filled(fill, size, dtype, device, requires_grad, op="zeros"):
    _required(op, "size", size)
    npd = _dt.to_np_dtype(dtype) or _dt.get_default_dtype().np
    return _filled_np(fill, shape_arg(size), npd, device, requires_grad, op)


def _filled_np(fill, shape, npd, device, requires_grad, op):
    """fill(xp, shape, npd) as a leaf; a negative dimension raises as in PyTorch."""
    xp = get_xp(device) if device is not None else np
    try:
        arr = fill(xp, shape, npd)
    except ValueError:
        if builtins.any(d < 0 for d in shape):
            raise RuntimeError(f"{op}(): Trying to create tensor with negative dimension "
                               f"{builtins.min(shape)}: {list(shape)}") from None
        raise
    return _leaf(arr, requires_grad)


def _sizes(op, sizes, size):
    """*sizes or size= (PyTorch's keyword), not both."""
    if size is None:
        return sizes
    if sizes:
        raise TypeError(f"{op}() got multiple values for argument 'size'")
    return (size,)


def zeros(*sizes, size=None, dtype=None, device=None, requires_grad=False):
    return _filled(lambda xp, s, d: xp.zeros(s, d), _sizes("zeros", sizes, size), dtype, device,
                   requires_grad)


def ones(*sizes, size=None, dtype=None, device=None, requires_grad=False):
    return _filled(lambda xp, s, d: xp.ones(s, d), _sizes("ones", sizes, size), dtype, device,
                   requires_grad, "ones")


def empty(*sizes, size=None, dtype=None, device=None, requires_grad=False):
    return _filled(lambda xp, s, d: xp.empty(s, d), _sizes("empty", sizes, size), dtype, device,
                   requires_grad, "empty")


# the largest finite value of each float dtype: full() refuses a fill beyond it, as PyTorch


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of `size` filled with fill_value: a number or a one-element tensor (its value).
    The dtype follows the value (bool, int64, or the default float; a NumPy or 0-d tensor
    value counts as its Python number, as PyTorch) unless given. A value the dtype cannot hold
    raises (NaN for int64, 300 for uint8, 1e40 for float32), as PyTorch."""
    if isinstance(fill_value, Tensor):
        if fill_value.ndim != 0:
            raise TypeError(f"full(): argument 'fill_value' must be Number or a 0-d tensor, not a "
                            f"tensor of shape {tuple(fill_value.shape)}")
        fill_value = fill_value.item()
    elif isinstance(fill_value, np.generic):
        fill_value = fill_value.item()
    if not isinstance(fill_value, (bool, int, float)):
        raise TypeError(f"full(): argument 'fill_value' must be Number (bool, int or float), not "
                        f"{type(fill_value).__name__}")
    if dtype is None:
        dtype = (_dt.bool_ if isinstance(fill_value, bool) else
                 _dt.int64 if isinstance(fill_value, int) else _dt.get_default_dtype())
    npd = _dt.to_np_dtype(dtype)
    if npd.kind in "iu":
        _check_fits(fill_value, npd, "full")
        if npd.kind == "u" and fill_value < 0:        # -1 -> 255 in uint8, as PyTorch
            fill_value = int(fill_value) % (int(np.iinfo(npd).max) + 1)
    elif npd.kind == "f" and math.isfinite(fill_value) and abs(fill_value) > float(np.finfo(npd).max):
        raise RuntimeError(f"full(): value cannot be converted to type {npd} without overflow: "
                           f"{fill_value}")
    return _filled_np(lambda xp, s, d: xp.full(s, fill_value, d), tuple(size), npd, device,
                      requires_grad, "full")


# The *_like factories take PyTorch's layout and memory_format keywords and ignore them: tinygen's
# arrays are strided and their new ones row-major (tinygen/legacy.py)
def zeros_like(input, dtype=None, device=None, requires_grad=False, *, layout=None,
               memory_format=None):
    return zeros(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False, *, layout=None,
              memory_format=None):
    return ones(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False, *, layout=None,
               memory_format=None):
    return empty(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False, *, layout=None,
              memory_format=None):
    return full(input.shape, fill_value, dtype=dtype or input.dtype,
                device=device or input.device, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """start, start + step, ... < end; int64 when all three are ints (0-d tensors count as
    their numbers), else the default float. A zero step, or a step pointing away from end,
    raises, as PyTorch (NumPy would return an empty array)."""
    _not_bool(dtype, "arange_cpu")
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError(f"arange(): step must be nonzero (start {start}, end {end})")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError(f"arange(): upper bound and lower bound inconsistent with step sign "
                           f"(start {start}, end {end}, step {step})")
    if dtype is None:
        is_int = builtins.all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = _dt.int64 if is_int else _dt.get_default_dtype()
    xp = get_xp(device) if device is not None else np
    npd = _dt.to_np_dtype(dtype)
    if npd.kind in "iu" and not builtins.all(isinstance(v, (int, np.integer))
                                             for v in (start, end, step)):
        return _leaf(xp.asarray(_integral_range(start, end, step, npd)), requires_grad)
    return _leaf(xp.arange(start, end, step).astype(npd), requires_grad)


def _integral_range(start, end, step, npd):
    """arange's values for an integer dtype and float bounds, as PyTorch computes them: the
    length from the doubles (for int64, from the bounds truncated to ints, with C's division),
    the values trunc(start) + i * trunc(step) in int64, wrapped to the dtype."""
    s, e, st = (int(v) for v in (start, end, step))        # int(): truncation
    if npd == np.int64:
        if st == 0:
            raise ValueError(f"arange(): step must be nonzero (step {step} is 0 in int64)")
        q = e - s + st - ((st > 0) - (st < 0))
        size = abs(q) // abs(st) * (1 if (q >= 0) == (st > 0) else -1)
    else:
        size = math.ceil((float(end) - float(start)) / float(step))
    return (s + np.arange(max(size, 0), dtype=np.int64) * st).astype(npd)


def _not_bool(dtype, kernel):
    if dtype is not None and _dt.to_np_dtype(dtype).kind == "b":
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')


def _check_steps(steps, op):
    if steps < 0:
        raise RuntimeError(f"{op}(): number of steps must be non-negative, got {steps}")


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    _check_steps(steps, "linspace")
    start, end = (v.item() if isinstance(v, Tensor) else v for v in (start, end))
    if steps >= 2:                             # (0 or 1 step: no kernel runs in PyTorch)
        _not_bool(dtype, "linspace_cpu")
    xp = get_xp(device) if device is not None else np
    npd = _dt.to_np_dtype(dtype) or _dt.get_default_dtype().np
    if int(steps) == 1 or (npd.kind in "iu" and steps):
        return _leaf(xp.asarray(_space(start, end, int(steps), npd, None)), requires_grad)
    return _leaf(xp.linspace(start, end, int(steps)).astype(npd), requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    """base ** linspace(start, end, steps)."""
    _check_steps(steps, "logspace")
    start, end = (v.item() if isinstance(v, Tensor) else v for v in (start, end))
    if steps >= 2:
        _not_bool(dtype, "logspace_cpu")
    xp = get_xp(device) if device is not None else np
    npd = _dt.to_np_dtype(dtype) or _dt.get_default_dtype().np
    if int(steps) == 1 or (npd.kind in "iu" and steps):
        return _leaf(xp.asarray(_space(start, end, int(steps), npd, base)), requires_grad)
    return _leaf(xp.logspace(start, end, int(steps), base=base).astype(npd), requires_grad)


def _space(start, end, steps, npd, base):
    """linspace's (base None) or logspace's values as PyTorch computes them. One step: start
    (base ** start), range-checked as full() checks it. An integer dtype: start and end converted
    to it first (checked, truncated), a double step, the first half counted from start and the
    rest from end, each value truncated."""
    if steps == 1:
        value = start if base is None else float(base) ** start
        return full((1,), value, dtype=_dt.from_np_dtype(npd))._data
    s, e = (int(full((), v, dtype=_dt.from_np_dtype(npd)).item()) for v in (start, end))
    step = (float(e) - float(s)) / (steps - 1)
    i = np.arange(steps)
    values = np.where(i < steps // 2, s + step * i, e - step * (steps - i - 1))
    if base is not None:
        values = np.power(float(base), values)
    return np.trunc(values).astype(npd)


def scalar_tensor(s, dtype=None, device=None, requires_grad=False):
    """A 0-d tensor holding the number s (the default float dtype unless given)."""
    return full((), s, dtype=dtype or _dt.get_default_dtype(), device=device,
                requires_grad=requires_grad)


def _triangle_indices(row, col, offset, upper, dtype, device):
    rows, cols = (np.triu_indices if upper else np.tril_indices)(row, offset, col)
    xp = get_xp(device) if device is not None else np
    npd = _dt.to_np_dtype(dtype) or np.dtype(np.int64)
    if npd not in (np.int32, np.int64):          # PyTorch's kernels: index dtypes only
        kernel = "triu_indices" if upper else "tril_indices"
        raise NotImplementedError(f'"{kernel}" not implemented for \'{type_name(npd)}\'')
    return _leaf(xp.asarray(np.stack([rows, cols]).astype(npd)), False)


def tril_indices(row, col, offset=0, dtype=None, device=None):
    """(2, N) int64: the row and column indices of the lower triangle of a row x col matrix
    (diagonal `offset` included), row by row."""
    return _triangle_indices(row, col, offset, False, dtype, device)


def triu_indices(row, col, offset=0, dtype=None, device=None):
    return _triangle_indices(row, col, offset, True, dtype, device)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    for name, v in (("n", n), ("m", m)):
        if v is not None and v < 0:
            raise RuntimeError(f"eye(): {name} must be greater or equal to 0, got {v}")
    xp = get_xp(device) if device is not None else np
    npd = _dt.to_np_dtype(dtype) or _dt.get_default_dtype().np
    return _leaf(xp.eye(n, m, dtype=npd), requires_grad)


# PyTorch's C type names in its randint bounds errors
_C_NAMES = {"bool": "bool", "uint8": "unsigned char", "int8": "signed char", "int16": "short",
            "int32": "int", "int64": "long"}


def _float_draws(kernel, dtype, op):
    """The NumPy dtype of rand / randn draws; integer and bool dtypes raise, as PyTorch."""
    npd = _dt.to_np_dtype(dtype)
    if npd is not None and npd.kind in "biu":
        raise NotImplementedError(f'"{kernel}" not implemented for \'{type_name(npd)}\' '
                                  f"({op}: dtype {npd.name}; draws are floating)")
    return npd


def rand(*sizes, size=None, dtype=None, device=None, requires_grad=False, generator=None):
    """U[0, 1) draws. generator: a tg.Generator (float32 and float64 draws are then PyTorch's for
    the same seed: 24 bits of one 32-bit output, or 53 of two)."""
    size = _sizes("rand", sizes, size)
    _required("rand", "size", size)
    _float_draws("check_uniform_bounds", dtype, "rand")
    shape = shape_arg(size)
    if generator is not None:
        npd = _dt.to_np_dtype(dtype) or _dt.get_default_dtype().np
        count = math.prod(shape)
        if npd == np.float64:
            values = generator.uniform(count)
        else:
            bits = generator.random32(count) & np.uint64((1 << 24) - 1)
            values = bits.astype(np.float64) / float(1 << 24)
        return _generated(values.reshape(shape), npd, device, requires_grad)
    return _leaf(random_array("uniform", shape, dtype, device), requires_grad)


def randn(*sizes, size=None, dtype=None, device=None, requires_grad=False, generator=None):
    """N(0, 1) draws. generator: a tg.Generator (Box-Muller on its uniform draws: reproducible
    for a seed, but not PyTorch's numbers)."""
    size = _sizes("randn", sizes, size)
    _required("randn", "size", size)
    _float_draws("normal_kernel_cpu", dtype, "randn")
    shape = shape_arg(size)
    if generator is not None:
        npd = _dt.to_np_dtype(dtype) or _dt.get_default_dtype().np
        count = math.prod(shape)
        u = generator.uniform(2 * count)
        values = np.sqrt(-2 * np.log1p(-u[:count])) * np.cos(2 * np.pi * u[count:])
        return _generated(values.reshape(shape), npd, device, requires_grad)
    return _leaf(random_array("normal", shape, dtype, device), requires_grad)


def _generated(values, npd, device, requires_grad):
    t = _from_generator(values, npd, device)
    if requires_grad:
        t.requires_grad = True
    return t


def randint(low, high=None, size=None, dtype=None, device=None, generator=None):
    """Integers in [low, high) (int64 unless dtype); randint(high, size) and
    randint(high, size=...) start at 0. A range the dtype cannot hold raises, as PyTorch.
    generator: a tg.Generator (then the draws are PyTorch's for the same seed)."""
    if size is None and isinstance(high, (tuple, list)):      # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint(): missing the size argument (randint(high, size) or "
                        "randint(low, high, size))")
    low, high, size = int(low), int(high), tuple(size)
    if low >= high:
        raise RuntimeError(f"randint(): random_ expects 'from' to be less than 'to', but got "
                           f"from={low} >= to={high}")
    npd = _dt.to_np_dtype(dtype)
    if npd is not None and npd.kind in "biu":
        info = (0, 1) if npd.kind == "b" else (np.iinfo(npd).min, np.iinfo(npd).max)
        if low < info[0]:
            raise RuntimeError(f"randint(): from is out of bounds for {_C_NAMES[npd.name]} "
                               f"(from={low}, dtype {npd.name})")
        if high - 1 > info[1]:
            raise RuntimeError(f"randint(): to - 1 is out of bounds for {_C_NAMES[npd.name]} "
                               f"(to={high}, dtype {npd.name})")
    if generator is not None:
        count = math.prod(size)
        values = generator.randint(low, high, count).reshape(size)
        return _from_generator(values, dtype, device)
    return _leaf(random_array("integers", size, dtype, device, low, high), False)


def randperm(n, dtype=None, device=None, generator=None):
    """A random permutation of 0..n-1 (int64 unless dtype). generator: a tg.Generator (then the
    permutation is PyTorch's for the same seed)."""
    if generator is not None:
        return _from_generator(generator.randperm(n), dtype, device)
    return _leaf(random_array("permutation", (n,), dtype, device, high=n), False)


def _from_generator(values, dtype, device):
    """NumPy draws of a tg.Generator (CPU) as a Tensor of dtype (default int64) on device."""
    npd = _dt.to_np_dtype(dtype) or np.int64
    if _function.CAPTURE[0] is not None:
        _capture.note("the step draws from a tg.Generator (generator=...)")
    tensor = Tensor._make(values.astype(npd, copy=False), None, 0, False)
    return tensor if device is None else tensor.to(device)


def rand_like(input, dtype=None, device=None, requires_grad=False, *, layout=None,
              memory_format=None):
    """U[0, 1) draws with input's shape (and dtype: an integer input needs a float dtype=)."""
    return rand(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False, *, layout=None,
               memory_format=None):
    """N(0, 1) draws with input's shape (and dtype: an integer input needs a float dtype=)."""
    return randn(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def randint_like(input, low=0, high=None, dtype=None, device=None, *, layout=None,
                 memory_format=None):
    """Integers in [low, high) with input's shape (and dtype unless given);
    randint_like(x, high) starts at 0."""
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype,
                   device=device or input.device)


def normal(mean, std=1.0, size=None, dtype=None, device=None, generator=None):
    """N(mean, std^2) draws: mean and std numbers (then size is required) or tensors (broadcast
    together: the result has their shape). Tensor means and stds are treated as constants."""
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal: size is required when mean and std are numbers")
        return randn(size, dtype=dtype, device=device) * std + mean
    shape = np.broadcast_shapes(*[tuple(v.shape) for v in tensors])
    like = tensors[0]
    noise = randn(shape, dtype=dtype or like.dtype, device=device or like.device)
    return (noise * std + mean).detach()


__all__ = ["tensor", "from_numpy", "as_tensor", "zeros", "ones", "empty", "full", "zeros_like",
           "ones_like", "empty_like", "full_like", "arange", "linspace", "eye", "rand", "randn",
           "randint", "randperm", "rand_like", "randn_like", "normal", "logspace", "scalar_tensor",
           "tril_indices", "triu_indices", "randint_like"]
