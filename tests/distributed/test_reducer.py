"""DDP's bucket assignment against PyTorch's own (dist._compute_bucket_assignment_by_size)."""
import numpy as np
import pytest

from tinygen.distributed.reducer import FIRST_BUCKET_BYTES, assign_buckets

torch = pytest.importorskip("torch")
torch_dist = pytest.importorskip("torch.distributed")

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def torch_buckets(numels, dtypes, caps):
    tensors = [torch.empty(n, dtype=DTYPES[d]) for n, d in zip(numels, dtypes)]
    return [list(b) for b in torch_dist._compute_bucket_assignment_by_size(tensors, caps)[0]]


@pytest.mark.parametrize("seed", range(12))
def test_bucket_assignment_equals_pytorchs(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 30))
    numels = [int(v) for v in rng.choice([1, 7, 300, 65536, 262144, 700000], n)]
    dtypes = [str(v) for v in rng.choice(["float32", "float64"] if seed % 2 else ["float32"], n)]
    caps = [FIRST_BUCKET_BYTES, int(rng.choice([1, 2, 25])) * 1024 * 1024]
    sizes = [k * np.dtype(d).itemsize for k, d in zip(numels, dtypes)]
    mine = assign_buckets(sizes, [("cpu", d) for d in dtypes], caps)
    assert mine == torch_buckets(numels, dtypes, caps)
    assert sorted(i for b in mine for i in b) == list(range(n))


def test_each_bucket_holds_one_dtype_and_closes_at_its_cap():
    buckets = assign_buckets([600, 600, 8, 600], [("cpu", "f4"), ("cpu", "f4"), ("cpu", "f8"),
                                                 ("cpu", "f4")], [1000, 1000])
    assert buckets == [[0, 1], [2], [3]]
