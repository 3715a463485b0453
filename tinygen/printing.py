"""How a tensor prints: `repr(x)` and `str(x)` lay out as PyTorch 2.13's, and `set_printoptions`.

Written from PyTorch's observed output (thousands of tensors printed by both, see
tests/test_fuzz_printing.py) and its documentation of torch.set_printoptions; not from its source.
The rules, as observed:

- Which elements are looked at: all of them, or, where the tensor has more than `threshold`
  elements, only the `edgeitems` first and last along each dimension longer than 2 * edgeitems
  (the rest is shown as "..."). The number format is chosen from the elements shown only.
- Floats: NaN / inf print as nan, inf, -inf; the finite nonzero magnitudes decide the format.
  If they are all whole numbers (or there are none), whole mode: "3." ("{:.0f}."), or scientific
  ("{:.4e}") where the largest exceeds 1e8 or is more than 1000 times the smallest. Otherwise
  fixed ("{:.4f}"), or scientific where the largest exceeds 1e8, the smallest is under 1e-4, or
  largest / smallest > 1000 (compared in float64). sci_mode=True / False forces scientific /
  fixed, except where no finite value is nonzero ("0."). The digits are `precision`.
- Every element is right-aligned to the widest finite nonzero element (1 where there is none:
  zeros, nan and inf do not count); ints and bools to their widest.
- A row wraps after as many elements of that width as fit in `linewidth` (the "..." counts as
  one, as wide as the others), continued under its first element; blocks of a 2-D or higher
  tensor are separated by one more newline per dimension above the rows. With edgeitems 0 a
  summarised tensor prints as [...].
- After the data: device='...' (not on the CPU), size=(...) (empty tensors other than shape
  (0,), and any non-empty one while edgeitems is 0, summarised or not), dtype=... (other than
  the default float dtype, int64 and bool; any but the default float dtype when empty), then
  grad_fn=<...> or
  requires_grad=True. Each goes on a new line, under "tensor(", where it would leave a line of
  the data with less than two characters to spare, or a line of suffixes longer than linewidth.

Names stay tinygen's: dtype=tinygen.float64 (PyTorch: torch.float64), grad_fn=<MulBackward>
(PyTorch numbers its nodes: MulBackward0). Deliberately unlike PyTorch: an unknown profile name is
refused (ValueError); PyTorch ignores it silently, so a typo changes nothing without a word.
"""
from __future__ import annotations

import math

import numpy as np

from .backend import dtypes as _dt

_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, math.inf, 3, 80)}
_OPTIONS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
_PREFIX = "tensor("


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """How tensors print (torch.set_printoptions): `precision` digits after the point, more
    than `threshold` elements summarised to `edgeitems` at each edge of each dimension, rows
    wrapped at `linewidth` characters; `profile` 'default' | 'short' | 'full' sets those four
    first. `sci_mode` True / False forces or forbids scientific notation; as PyTorch's, every call
    sets it, so a call without it (profile='default' among them) goes back to choosing."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: unknown profile {profile!r}; expected one of "
                             f"{sorted(_PROFILES)}")
        _OPTIONS.update(zip(("precision", "threshold", "edgeitems", "linewidth"),
                            _PROFILES[profile]))
    for key, value in (("precision", precision), ("threshold", threshold),
                       ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            _OPTIONS[key] = value
    _OPTIONS["sci_mode"] = sci_mode


def tensor_repr(tensor):
    """`tensor(...)` of a Tensor, as PyTorch lays it out (the module docstring has the rules)."""
    data = np.asarray(tensor._data if type(tensor._data) is np.ndarray else tensor.cpu()._data)
    dtype, shape = tensor.dtype, data.shape
    summarise = data.size > _OPTIONS["threshold"]
    suffixes = []
    if tensor.device.type != "cpu":
        suffixes.append(f"device='{tensor.device}'")
    if (data.size == 0 and shape != (0,)) or (data.size and _OPTIONS["edgeitems"] == 0):
        suffixes.append(f"size={tuple(shape)}")
    plain = (_dt.get_default_dtype(),) if data.size == 0 else \
        (_dt.get_default_dtype(), _dt.int64, _dt.bool_)
    if dtype not in plain:
        suffixes.append(f"dtype={dtype!r}")
    if tensor._grad_fn is not None:
        suffixes.append(f"grad_fn={tensor._grad_fn!r}")
    elif tensor._requires_grad:
        suffixes.append("requires_grad=True")
    body = "[]" if data.size == 0 else _body(data, dtype, summarise)
    return _with_suffixes(_PREFIX + body, suffixes) + ")"


def _with_suffixes(text, suffixes):
    """Append ', suffix' for each. One that would leave a line of the data (its first line
    included) without two characters to spare, or make a line of suffixes longer than the line
    width, goes on a new line under the opening parenthesis (as observed, margins included)."""
    lines = text.split("\n")
    width, data_line = _OPTIONS["linewidth"], True
    for suffix in suffixes:
        if len(lines[-1]) + 2 + len(suffix) <= width - (2 if data_line else 0):
            lines[-1] += ", " + suffix
        else:
            lines[-1] += ","
            lines.append(" " * len(_PREFIX) + suffix)
            data_line = False
    return "\n".join(lines)


def _body(data, dtype, summarise):
    """The data part: the elements shown, formatted alike, laid out in nested brackets."""
    edge = _OPTIONS["edgeitems"]
    cut = tuple(summarise and n > 2 * edge for n in data.shape)
    if any(cut):                        # keep only the edges of the long dimensions
        keep = [np.r_[0:edge, n - edge:n] if c else np.arange(n)
                for n, c in zip(data.shape, cut)]
        data = data[np.ix_(*keep)]
    cells, width = _format(data, dtype)
    if data.ndim == 0:
        return cells
    return _nest(cells, cut, 0, width)


def _format(data, dtype):
    """(the elements as nested lists of strings, right-aligned; the width they share)."""
    if dtype.is_floating_point:
        values = data.astype(np.float64)
        fmt = _float_format(values)
        flat = values.ravel().tolist()
        strings = [_float_text(v, fmt) for v in flat]
        nonzero = (np.isfinite(values) & (values != 0)).ravel().tolist()
        width = max((len(s) for s, counts in zip(strings, nonzero) if counts), default=1)
    else:
        strings = [str(v) for v in data.ravel().tolist()]
        width = max(map(len, strings), default=0)
    strings = [s.rjust(width) for s in strings]
    if data.ndim == 0:
        return strings[0], width
    return np.array(strings, dtype=object).reshape(data.shape).tolist(), width


def _float_format(values):
    """The format of the elements shown: whole ('{:.0f}.'), fixed or scientific, chosen from
    their finite nonzero magnitudes."""
    digits, sci_mode = _OPTIONS["precision"], _OPTIONS["sci_mode"]
    magnitudes = np.abs(values[np.isfinite(values) & (values != 0)])
    if magnitudes.size == 0:
        return "whole"
    largest, smallest = float(magnitudes.max()), float(magnitudes.min())
    whole = bool(np.all(np.ceil(magnitudes) == magnitudes))
    sci = largest / smallest > 1000 or largest > 1e8 or (not whole and smallest < 1e-4)
    if sci_mode is not None:
        sci = bool(sci_mode)
    if sci:
        return f".{digits}e"
    return "whole" if whole else f".{digits}f"


def _float_text(value, fmt):
    if value != value:
        return "nan"
    if value in (math.inf, -math.inf):
        return "inf" if value > 0 else "-inf"
    if fmt == "whole":
        return format(value, ".0f") + "."
    return format(value, fmt)


def _nest(cells, cut, depth, width):
    """Brackets around cells (nested lists of strings) at `depth`; cut[d]: dimension d was
    summarised, a '...' goes in its middle."""
    column = len(_PREFIX) + depth + 1         # where this block's elements start
    if len(cut) - depth == 1:
        return _row(cells, cut[depth], column, width)
    blocks = [_nest(c, cut, depth + 1, width) for c in cells]
    if cut[depth]:
        blocks.insert(len(blocks) // 2, "...")
    separator = "," + "\n" * (len(cut) - depth - 1) + " " * column
    return "[" + separator.join(blocks) + "]"


def _row(items, cut, column, width):
    """One row, wrapped after as many items as fit in the line width (at least one)."""
    if cut:
        if not items:
            return "[...]"
        items = items[:len(items) // 2] + [" ..."] + items[len(items) // 2:]
    per_line = max(1, (_OPTIONS["linewidth"] - column + 1) // (width + 2))
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * column).join(lines) + "]"
