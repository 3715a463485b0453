"""`tg.testing`, as `torch.testing`: assert_close with PyTorch's default tolerances.

    tg.testing.assert_close(actual, expected)       Tensors, NumPy arrays, numbers or (nested)
                                                    sequences / dicts of them
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor

# (rtol, atol) by dtype, as torch.testing: exact for integers and bool
_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
               "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5),
               "complex128": (1e-7, 1e-7)}


def _array(x):
    if isinstance(x, Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    """AssertionError unless |actual - expected| <= atol + rtol |expected| elementwise, with
    equal shapes (and dtypes, check_dtype); rtol and atol both given or both left to the dtype's
    defaults, as PyTorch's."""
    if (rtol is None) != (atol is None):
        raise ValueError("Both 'rtol' and 'atol' must be either specified or omitted, but got "
                         f"no {'rtol' if rtol is None else 'atol'}.")
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or actual.keys() != expected.keys():
            raise AssertionError(msg or f"The mappings' keys differ: {sorted(actual)} and "
                                        f"{sorted(expected)}")
        for k in expected:
            assert_close(actual[k], expected[k], rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, msg=msg)
        return
    if isinstance(expected, (list, tuple)) and not isinstance(actual, Tensor):
        if len(actual) != len(expected):
            raise AssertionError(msg or f"The sequences' lengths differ: {len(actual)} and "
                                        f"{len(expected)}")
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, msg=msg)
        return
    a, e = _array(actual), _array(expected)
    if a.shape != e.shape:
        raise AssertionError(msg or f"The values for attribute 'shape' do not match: {a.shape} "
                                    f"!= {e.shape}.")
    if check_dtype and isinstance(actual, Tensor) and isinstance(expected, Tensor) \
            and actual.dtype != expected.dtype:
        raise AssertionError(msg or f"The values for attribute 'dtype' do not match: "
                                    f"{actual.dtype} != {expected.dtype}.")
    if rtol is None:
        rtol, atol = _TOLERANCES.get(np.result_type(a, e).name, (0.0, 0.0))
    ok = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if not ok.all():
        bad = int((~ok).sum())
        diff = np.abs(a.astype(np.float64) - e.astype(np.float64))[~ok]
        diff = diff[~np.isnan(diff)].max(initial=np.nan) if (~np.isnan(diff)).any() else np.nan
        raise AssertionError(msg or f"Tensor-likes are not close!\n\nMismatched elements: {bad} "
                                    f"/ {ok.size} ({100 * bad / ok.size:.1f}%)\nGreatest "
                                    f"absolute difference: {diff} (up to {atol} "
                                    f"allowed)\nrtol {rtol}, atol {atol}")
