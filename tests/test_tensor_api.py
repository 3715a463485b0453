"""The Tensor API of API.md: every name exists, attributes and conversions behave as in PyTorch."""
import numpy as np
import pytest
from helpers import check_op

import tinygen as tg

TOP_LEVEL = """tensor from_numpy zeros ones full empty arange linspace eye rand randn randint zeros_like
ones_like full_like rand_like randn_like manual_seed float16 bfloat16 float32 float64 int32 int64
bool half float double long cat stack where matmul einsum exp log sqrt tanh sigmoid abs maximum
minimum clamp logsumexp softmax log_softmax allclose tril triu topk sort argsort cumsum multinomial
argmax no_grad enable_grad is_grad_enabled set_grad_enabled device cuda autograd Tensor""".split()  # noqa: SIM905 (a list of names, as in API.md)

TENSOR_METHODS = """numpy item tolist to cpu cuda float double long detach clone requires_grad_ size
numel exp log log1p sqrt rsqrt abs sign sin cos tanh sigmoid relu pow clamp cumsum topk sort argsort
sum mean var std prod max min amax amin argmax argmin logsumexp norm reshape view flatten unflatten
permute transpose t squeeze unsqueeze expand expand_as repeat split chunk contiguous gather
scatter_add index_select masked_fill tril triu add_ sub_ mul_ div_ copy_ zero_ fill_ uniform_
normal_ clamp_ backward register_hook retain_grad __getitem__ __add__ __radd__ __sub__ __rsub__
__mul__ __rmul__ __truediv__ __rtruediv__ __floordiv__ __mod__ __pow__ __rpow__ __matmul__
__rmatmul__ __neg__ __eq__ __ne__ __lt__ __le__ __gt__ __ge__""".split()  # noqa: SIM905

TENSOR_ATTRIBUTES = ["shape", "ndim", "dtype", "device", "requires_grad", "grad", "is_leaf",
                     "grad_fn", "data", "mT"]


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level_name_exists(name):
    assert hasattr(tg, name), f"tg.{name} is missing"


@pytest.mark.parametrize("name", ["grad", "gradcheck", "gradgradcheck", "set_detect_anomaly"])
def test_autograd_name_exists(name):
    assert callable(getattr(tg.autograd, name))


@pytest.mark.parametrize("name", TENSOR_METHODS)
def test_tensor_method_exists(name):
    assert callable(getattr(tg.Tensor, name, None)), f"Tensor.{name} is missing"


@pytest.mark.parametrize("name", TENSOR_ATTRIBUTES)
def test_tensor_attribute_exists(name):
    getattr(tg.ones(2, 2, requires_grad=True), name)


def test_attributes():
    x = tg.ones(2, 3, requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.dtype == tg.float32
    assert x.device == tg.device("cpu") and x.requires_grad and x.is_leaf
    assert x.grad is None and x.grad_fn is None
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None and y.requires_grad
    d = y.data
    assert isinstance(d, tg.Tensor) and not d.requires_grad and d.grad_fn is None
    with tg.no_grad():
        z = x * 2
    assert not z.requires_grad and z.is_leaf and z.grad_fn is None


def test_conversions():
    x = tg.tensor([[1.5, 2.0], [3.0, 4.0]])
    assert isinstance(x.numpy(), np.ndarray) and x.numpy().dtype == np.float32
    assert x.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert x[0, 0].item() == 1.5 and isinstance(x[0, 0].item(), float)
    assert tg.tensor(3).item() == 3 and isinstance(tg.tensor(3).item(), int)
    assert float(x[1, 1]) == 4.0 and int(tg.tensor(7)) == 7
    assert x.long().tolist() == [[1, 2], [3, 4]]
    assert np.asarray(x).shape == (2, 2)
    assert x.size() == (2, 2) and x.size(0) == 2 and x.numel() == 4


def test_detach_and_clone():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    assert d.numpy() is x.numpy() or np.shares_memory(d.numpy(), x.numpy())
    c = x.clone()
    assert c.requires_grad and not c.is_leaf
    assert not np.shares_memory(c.numpy(), x.numpy())
    (c * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_grad_is_a_tensor_of_the_leaf_dtype():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert isinstance(x.grad, tg.Tensor) and x.grad.dtype == tg.float32
    assert x.grad.shape == x.shape and not x.grad.requires_grad


def test_repr_mentions_values_and_grad():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    assert "1." in repr(x) and "requires_grad=True" in repr(x)
    assert "grad_fn" in repr(x * 2)
    assert "float64" in repr(tg.zeros(1, dtype=tg.float64))


def test_iteration_and_len():
    x = tg.arange(6).reshape(3, 2)
    rows = list(x)
    assert len(rows) == 3 and rows[1].tolist() == [2, 3] and len(x) == 3


def test_unary_minus_and_abs_operator():
    check_op(lambda x: -x, None, [(2, 3)])
    check_op(lambda x: abs(x), None, [(2, 3)])
    check_op(lambda x: +x * 1.0, None, [(2, 3)])


def test_clone_and_to_are_differentiable():
    check_op(lambda x: x.clone() * 2, None, [(2, 2)])
    check_op(lambda x: x.to(tg.float64) * 2, lambda x: x.to(dtype=x.dtype) * 2, [(2, 2)])
