"""F.embedding and F.one_hot against PyTorch: forward, first and second derivatives; gradchecks;
errors."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from test_functional_helpers import check_torch, check_grads, randn, torch

TF = torch.nn.functional


@pytest.mark.parametrize("index_shape", [(5,), (2, 3), (1, 1), ()])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_matches_torch(index_shape, padding_idx):
    idx = np.random.default_rng(0).integers(0, 6, index_shape)
    if idx.size:
        idx.reshape(-1)[0] = 2                       # the padding row is used at least once
    # the weight is used squared so that the second derivative is not zero
    check_torch(lambda w, i: F.embedding(i, w * w, padding_idx=padding_idx),
                lambda w, i: TF.embedding(i, w * w, padding_idx=padding_idx), [randn(6, 3), idx])


def test_embedding_padding_row_gets_no_gradient():
    w = tg.randn(4, 2, requires_grad=True)
    F.embedding(tg.tensor([[0, 1], [1, 3]]), w, padding_idx=1).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[1, 1], [0, 0], [0, 0], [1, 1]])


@pytest.mark.parametrize("shape, num_classes", [((5,), 4), ((2, 3), -1), ((), 3), ((1, 1), 1)])
def test_one_hot_matches_torch(shape, num_classes):
    idx = np.random.default_rng(1).integers(0, 3 if num_classes == -1 else num_classes, shape)
    out = F.one_hot(tg.tensor(idx), num_classes)
    ref = TF.one_hot(torch.tensor(idx), num_classes)
    assert out.dtype == tg.int64
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


def test_gradcheck():
    # (no padding_idx: its row's zero gradient is a convention finite differences cannot see)
    idx = np.array([[0, 2], [2, 1]])
    check_grads(lambda w, i: F.embedding(i, w * w), [randn(3, 2), idx])


def test_errors():
    w = tg.randn(10, 4)
    with pytest.raises(IndexError, match=r"embedding: index 12 is out of range for weight of "
                       r"shape \(10, 4\)"):
        F.embedding(tg.tensor([1, 12]), w)
    with pytest.raises(RuntimeError, match=r"embedding: expected an integer \(int64\) index "
                       r"tensor, got tinygen.float32"):
        F.embedding(tg.tensor([1.0]), w)
    with pytest.raises(RuntimeError, match=r"embedding: expected a 2-D weight"):
        F.embedding(tg.tensor([1]), tg.randn(10))
    with pytest.raises(RuntimeError, match=r"one_hot: class values must be in \[0, 3\)"):
        F.one_hot(tg.tensor([0, 3]), 3)
    with pytest.raises(RuntimeError, match=r"one_hot: is only applicable to index tensors"):
        F.one_hot(tg.tensor([0.0]), 3)
