"""Error messages for bad input: they name the op, the shapes or dtypes, and what was expected
(never a raw NumPy traceback)."""
import numpy as np
import pytest

import tinygen as tg


@pytest.mark.parametrize("op,name", [
    (lambda a, b: a + b, "add"), (lambda a, b: a - b, "sub"), (lambda a, b: a * b, "mul"),
    (lambda a, b: a / b, "div"), (lambda a, b: tg.maximum(a, b), "maximum"),
])
def test_broadcast_mismatch_names_op_and_shapes(op, name):
    a, b = tg.ones(2, 3), tg.ones(4, 5)
    with pytest.raises((ValueError, RuntimeError)) as info:
        op(a, b)
    msg = str(info.value)
    assert name in msg.lower()
    assert "(2, 3)" in msg and "(4, 5)" in msg


def test_matmul_shape_mismatch():
    with pytest.raises(RuntimeError) as info:
        tg.ones(2, 3) @ tg.ones(4, 5)
    msg = str(info.value)
    assert "matmul" in msg and "(2, 3)" in msg and "(4, 5)" in msg


def test_matmul_dtype_mismatch_names_both_dtypes():
    with pytest.raises(RuntimeError) as info:
        tg.ones(2, 3) @ tg.ones(3, 2, dtype=tg.float64)
    msg = str(info.value)
    assert "matmul" in msg and "float32" in msg and "float64" in msg


def test_comparison_shape_mismatch():
    with pytest.raises((ValueError, RuntimeError)) as info:
        _ = tg.ones(2, 3) < tg.ones(4)
    assert "(2, 3)" in str(info.value) and "(4,)" in str(info.value)


def test_where_shape_mismatch():
    with pytest.raises(RuntimeError, match=r"where.*\(2,\).*\(3,\)"):
        tg.where(tg.ones(2) > 0, tg.ones(3), tg.ones(3))
    with pytest.raises(RuntimeError, match="bool"):
        tg.where(tg.ones(2), tg.ones(2), tg.ones(2))


def test_errors_are_not_raw_numpy_errors():
    with pytest.raises(Exception) as info:
        tg.ones(2, 3) + tg.ones(4, 5)
    assert "operands could not be broadcast" not in str(info.value) or "add" in str(info.value)
    assert info.traceback[-1].path.name != "numeric.py"


def test_item_and_bool_of_many_elements():
    with pytest.raises(RuntimeError, match="2 elements"):
        tg.ones(2).item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(tg.ones(2))


def test_backward_errors():
    x = tg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(3,\)"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.ones(1).backward()
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*\(3,\)"):
        (x * 2).backward(tg.ones(2))


def test_cuda_tensor_to_numpy_is_clear():
    if not tg.cuda.is_available():
        pytest.skip("needs a GPU")
    with pytest.raises(TypeError, match="cpu"):
        tg.ones(2, device="cuda").numpy()


def test_index_dtype_errors():
    x = tg.zeros(3, 4)
    with pytest.raises(IndexError, match="gather"):
        x.gather(0, tg.zeros(3, 4))
    with pytest.raises(RuntimeError, match="masked_fill.*bool"):
        x.masked_fill(tg.tensor(np.zeros((3, 4), np.int64)), 1.0)


class _OtherDeviceArray(np.ndarray):
    """Stands in for another device's array type (CuPy) on a machine without a GPU."""


def test_device_mismatch_error_path_names_op_and_inputs():
    a = tg.ones(2, 3)
    b = tg.ones(2, 3)
    b._data = b._data.view(_OtherDeviceArray)        # a fake second device: another array type
    with pytest.raises(RuntimeError) as info:
        a * b
    msg = str(info.value)
    assert "mul" in msg and "same device" in msg and "(2, 3)" in msg and ".to(" in msg


def test_op_errors_are_runtime_errors_as_pytorch_raises():
    """A PyTorch program's `except RuntimeError` around a shape mismatch catches tinygen's
    error too; it stays a ValueError (and an out-of-range index an IndexError)."""
    with pytest.raises(RuntimeError, match="add"):
        tg.ones(2) + tg.ones(3)
    with pytest.raises(ValueError):
        tg.ones(2) + tg.ones(3)
    with pytest.raises(RuntimeError):
        tg.ones(2, 3) @ tg.ones(2, 3)
    with pytest.raises(IndexError):
        tg.ones(2)[5]
