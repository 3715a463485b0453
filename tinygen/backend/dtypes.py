"""dtypes in PyTorch's spelling, each backed by a NumPy dtype, and PyTorch's promotion rules.

PyTorch promotes by category (bool < integer < floating): a float32 tensor plus an int64 tensor is
float32 (NumPy would say float64), and a Python scalar never widens a tensor of its own category
(float32 * 2.0 stays float32). `result_type_scalar` and `promote_types` implement exactly that.
"""
from __future__ import annotations

import numpy as np


class dtype:
    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize",
                 "category")

    def __init__(self, name, np_dtype, category):
        self.name = name
        self.np = np.dtype(np_dtype) if np_dtype is not None else None
        self.category = category            # 0 bool, 1 integer, 2 floating
        self.is_floating_point = category == 2
        self.is_complex = False
        self.is_signed = category == 2 or (category == 1 and not name.startswith("uint"))
        self.itemsize = self.np.itemsize if self.np is not None else 2

    def __repr__(self):
        return f"tinygen.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


def _bfloat16_np():
    try:  # ml_dtypes (from the JAX project) gives NumPy a bfloat16 where it is installed
        import ml_dtypes  # lazy: optional (gives NumPy a bfloat16 where installed)
        return ml_dtypes.bfloat16
    except ImportError:
        return None


float16 = dtype("float16", np.float16, 2)
bfloat16 = dtype("bfloat16", _bfloat16_np(), 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
bool_ = dtype("bool", np.bool_, 0)
half, float_, double, long, int_ = float16, float32, float64, int64, int32
# The name of int8 quantisation, as PyTorch spells it: `quantize_dynamic(model, {nn.Linear},
# dtype=tg.qint8)`. tinygen has no quantized tensor type: the integers are int8 tensors and their
# scales travel beside them (tinygen.quantization), so an array is never *of* this dtype.
qint8 = dtype("qint8", np.int8, 1)

_ALL = [float16, bfloat16, float32, float64, uint8, int8, int16, int32, int64, bool_]
_BY_NAME = {d.name: d for d in _ALL + [qint8]}
_FROM_NP = {d.np: d for d in _ALL if d.np is not None}

_default_float = float32


def _by_name(name):
    return _BY_NAME[name]


def from_np_dtype(np_dtype) -> dtype:
    d = _FROM_NP.get(np_dtype)
    if d is None:
        d = _FROM_NP.get(np.dtype(np_dtype))
        if d is None:
            raise TypeError(f"tinygen has no dtype for NumPy dtype {np_dtype}")
    return d


def to_np_dtype(d):
    """A tinygen dtype, NumPy dtype, Python type or name -> the NumPy dtype (None stays None)."""
    if d is None:
        return None
    if type(d) is dtype:
        if d.np is None:
            raise TypeError(f"{d} needs the ml_dtypes package on the CPU (pip install ml_dtypes)")
        return d.np
    if d is float:
        return _default_float.np
    if d is int:
        return np.dtype(np.int64)
    if d is bool:
        return np.dtype(np.bool_)
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d].np
    return np.dtype(d)


def get_default_dtype() -> dtype:
    return _default_float


def set_default_dtype(d):
    global _default_float
    d = from_np_dtype(to_np_dtype(d))
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {d}")
    _default_float = d


def _category(np_dtype):
    k = np_dtype.kind
    return 2 if k in "fcV" else (0 if k == "b" else 1)


def promote_types(a, b, a_scalar_like=False, b_scalar_like=False):
    """Result NumPy dtype of a binary op on arrays with dtypes a, b, PyTorch style.

    `*_scalar_like` marks a 0-dim tensor: it only decides the dtype when its category is higher.
    """
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if a_scalar_like != b_scalar_like:
        # a 0-dim operand only matters when it brings a higher category
        if a_scalar_like and ca <= cb:
            return b
        if b_scalar_like and cb <= ca:
            return a
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def result_type_scalar(arr_dtype, scalar):
    """dtype of `tensor op python_scalar`: the scalar only promotes across categories."""
    if isinstance(scalar, bool):
        return arr_dtype
    ca = _category(arr_dtype)
    if isinstance(scalar, int):
        return arr_dtype if ca >= 1 else np.dtype(np.int64)
    if isinstance(scalar, float):
        return arr_dtype if ca == 2 else _default_float.np
    return np.result_type(arr_dtype, scalar)
