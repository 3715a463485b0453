"""dtypes, type promotion (PyTorch's rules, not NumPy's), creation functions, devices, seeding."""
import numpy as np
import pytest
from helpers import assert_close

import tinygen as tg


# ---- dtypes ------------------------------------------------------------------------------------
def test_dtype_names_and_aliases():
    assert tg.float is tg.float32 and tg.double is tg.float64
    assert tg.half is tg.float16 and tg.long is tg.int64
    for d in (tg.float16, tg.float32, tg.float64, tg.int32, tg.int64, tg.bool, tg.bfloat16):
        assert isinstance(d, tg.dtype)
    assert tg.float32.is_floating_point and not tg.int64.is_floating_point
    assert repr(tg.float32) == "tinygen.float32"


@pytest.mark.parametrize("dtype,npd", [(tg.float16, np.float16), (tg.float32, np.float32),
                                       (tg.float64, np.float64), (tg.int32, np.int32),
                                       (tg.int64, np.int64), (tg.bool, np.bool_)])
def test_dtype_round_trip(dtype, npd):
    t = tg.zeros(2, dtype=dtype)
    assert t.dtype == dtype and t.numpy().dtype == npd
    assert tg.tensor([1, 0], dtype=dtype).dtype == dtype


def test_default_dtypes_of_tensor():
    assert tg.tensor([1.0, 2.0]).dtype == tg.float32          # Python floats: float32
    assert tg.tensor(1.5).dtype == tg.float32
    assert tg.tensor([1, 2]).dtype == tg.int64                 # Python ints: int64
    assert tg.tensor([True, False]).dtype == tg.bool
    assert tg.tensor(np.zeros(2, np.float64)).dtype == tg.float64   # NumPy keeps its dtype
    assert tg.tensor(np.zeros(2, np.int32)).dtype == tg.int32
    assert tg.tensor([1, 2], dtype=tg.float64).dtype == tg.float64


# ---- promotion ---------------------------------------------------------------------------------
PROMOTION = [
    # (a, b, expected) with a a tensor factory and b an operand
    (lambda: tg.ones(2), 2.0, tg.float32),                           # float32 * 2.0 stays float32
    (lambda: tg.ones(2), 2, tg.float32),
    (lambda: tg.ones(2, dtype=tg.float64), 2.0, tg.float64),
    (lambda: tg.ones(2, dtype=tg.int64), 2.5, tg.float32),         # int + float scalar -> float32
    (lambda: tg.ones(2, dtype=tg.int64), 2, tg.int64),
    (lambda: tg.ones(2, dtype=tg.int32), 2, tg.int32),
    (lambda: tg.ones(2), lambda: tg.ones(2, dtype=tg.float64), tg.float64),   # f32 + f64 -> f64
    (lambda: tg.ones(2), lambda: tg.ones(2, dtype=tg.int64), tg.float32),     # f32 + i64 -> f32
    (lambda: tg.ones(2, dtype=tg.int32), lambda: tg.ones(2, dtype=tg.int64), tg.int64),
    (lambda: tg.ones(2, dtype=tg.bool), lambda: tg.ones(2, dtype=tg.int64), tg.int64),
    (lambda: tg.ones(2), lambda: tg.tensor(3.0, dtype=tg.float64), tg.float32),  # 0-d: category
    (lambda: tg.ones(2, dtype=tg.float16), 2.0, tg.float16),
]


@pytest.mark.parametrize("make_a,b,expected", PROMOTION)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "radd", "rmul"])
def test_promotion(make_a, b, expected, op):
    a = make_a()
    b = b() if callable(b) else b
    if op == "sub" and a.dtype == tg.bool:              # PyTorch refuses bool subtraction
        with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool"):
            a - b
        return
    out = {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
           "radd": lambda: b + a, "rmul": lambda: b * a}[op]()
    assert out.dtype == expected


def test_promotion_matches_torch():
    torch = pytest.importorskip("torch")
    pairs = [(np.float32, np.float64), (np.float32, np.int64), (np.int32, np.int64),
             (np.bool_, np.float32), (np.int64, np.bool_), (np.float16, np.float32)]
    for da, db in pairs:
        a, b = np.ones(2, da), np.ones(2, db)
        out = tg.tensor(a) + tg.tensor(b)
        ref = torch.tensor(a) + torch.tensor(b)
        assert str(out.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1], (da, db)
    for scalar in (2, 2.5, True):
        for da in (np.float32, np.int64, np.int32, np.bool_):
            out = tg.tensor(np.ones(2, da)) * scalar
            ref = torch.tensor(np.ones(2, da)) * scalar
            assert str(out.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1], (da, scalar)


def test_true_division_of_ints_is_float32():
    a, b = tg.tensor([3, 4]), tg.tensor([2, 8])
    out = a / b
    assert out.dtype == tg.float32
    assert_close(out, np.array([1.5, 0.5]))
    assert (a / 2).dtype == tg.float32
    assert (3 / a).dtype == tg.float32
    assert (a // 2).dtype == tg.int64


def test_unary_math_on_ints_gives_float32():
    a = tg.tensor([1, 4])
    for name in ("exp", "log", "sqrt", "sigmoid", "tanh"):
        assert getattr(a, name)().dtype == tg.float32
    with pytest.raises(RuntimeError, match="mean"):   # PyTorch: mean of ints raises
        a.mean()
    assert a.mean(dtype=tg.float32).dtype == tg.float32
    assert a.abs().dtype == tg.int64
    assert (a ** 2).dtype == tg.int64
    assert (a ** 0.5).dtype == tg.float32


def test_to_and_casts():
    x = tg.ones(2, 3)
    assert x.double().dtype == tg.float64 and x.float().dtype == tg.float32
    assert x.long().dtype == tg.int64
    assert x.to(tg.float64).dtype == tg.float64
    assert x.to("cpu").device == tg.device("cpu")
    assert x.to("cpu", tg.float64).dtype == tg.float64
    assert x.to(dtype=tg.int32).dtype == tg.int32
    assert x.cpu() is x or x.cpu().device == "cpu"
    # a float cast stays in the graph
    y = tg.ones(2, requires_grad=True)
    y.double().sum().backward()
    assert y.grad.dtype == tg.float32 and y.grad.tolist() == [1.0, 1.0]


# ---- creation ----------------------------------------------------------------------------------
def test_creation_shapes_and_default_dtypes():
    assert tg.zeros(2, 3).shape == (2, 3) and tg.zeros(2, 3).dtype == tg.float32
    assert tg.zeros((2, 3)).shape == (2, 3)
    assert tg.ones([4]).shape == (4,) and tg.ones(4).dtype == tg.float32
    assert tg.empty(0, 2).shape == (0, 2)
    assert tg.zeros(()).shape == ()
    assert tg.full((2, 2), 7.0).dtype == tg.float32
    assert tg.full((2,), 7).dtype == tg.int64
    assert tg.full((2,), True).dtype == tg.bool
    assert tg.arange(5).dtype == tg.int64 and tg.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert tg.arange(1.0, 2.0, 0.5).dtype == tg.float32
    assert tg.arange(2, 8, 3).tolist() == [2, 5]
    assert tg.linspace(0, 1, 5).dtype == tg.float32
    assert_close(tg.linspace(0, 1, 5), np.linspace(0, 1, 5), rtol=1e-7)
    assert_close(tg.eye(3), np.eye(3))
    assert tg.eye(2, 3).shape == (2, 3)
    assert tg.rand(2, 3).dtype == tg.float32 and tg.randn(4).shape == (4,)
    r = tg.randint(0, 5, (100,))
    assert r.dtype == tg.int64 and 0 <= r.numpy().min() and r.numpy().max() < 5
    assert tg.randint(3, size=(2,)).shape == (2,)
    assert tg.zeros(2, dtype=tg.float64, requires_grad=True).requires_grad


def test_like_functions():
    x = tg.ones(2, 3, dtype=tg.float64)
    for fn in (tg.zeros_like, tg.ones_like, tg.rand_like, tg.randn_like):
        y = fn(x)
        assert y.shape == (2, 3) and y.dtype == tg.float64 and y.device == x.device
    assert tg.full_like(x, 3.0).tolist() == [[3.0] * 3] * 2
    assert tg.zeros_like(x, dtype=tg.int64).dtype == tg.int64
    assert tg.ones_like(x).tolist() == [[1.0] * 3] * 2


def test_creation_matches_torch():
    torch = pytest.importorskip("torch")
    assert_close(tg.arange(0, 1, 0.25), torch.arange(0, 1, 0.25))
    assert_close(tg.linspace(-1, 1, 7), torch.linspace(-1, 1, 7), rtol=1e-6, atol=1e-6)
    assert_close(tg.eye(2, 4), torch.eye(2, 4))
    assert_close(tg.full((2, 3), -2.5), torch.full((2, 3), -2.5))


def test_from_numpy_shares_memory():
    a = np.zeros(3)
    t = tg.from_numpy(a)
    assert t.dtype == tg.float64
    a[0] = 5
    assert t[0].item() == 5
    with pytest.raises(TypeError, match="from_numpy"):
        tg.from_numpy([1, 2])
    # tg.tensor copies
    b = np.zeros(2)
    u = tg.tensor(b)
    b[0] = 1
    assert u[0].item() == 0


def test_random_distributions_are_plausible():
    tg.manual_seed(0)
    x = tg.randn(20000).numpy()
    assert abs(x.mean()) < 0.05 and abs(x.std() - 1) < 0.05
    u = tg.rand(20000).numpy()
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.02


def test_manual_seed_reproducible():
    tg.manual_seed(123)
    a = [tg.rand(3).tolist(), tg.randn(2, 2).tolist(), tg.randint(0, 10, (5,)).tolist()]
    tg.manual_seed(123)
    b = [tg.rand(3).tolist(), tg.randn(2, 2).tolist(), tg.randint(0, 10, (5,)).tolist()]
    assert a == b
    tg.manual_seed(124)
    assert tg.rand(3).tolist() != a[0]


def test_multinomial():
    tg.manual_seed(0)
    probs = tg.tensor([0.0, 0.2, 0.8])
    s = tg.multinomial(probs, 1000, replacement=True)
    assert s.dtype == tg.int64 and s.shape == (1000,)
    counts = np.bincount(s.numpy(), minlength=3)
    assert counts[0] == 0 and 700 < counts[2] < 900
    rows = tg.multinomial(tg.ones(2, 4), 4)          # without replacement: a permutation per row
    assert sorted(rows[0].tolist()) == [0, 1, 2, 3]


# ---- devices -----------------------------------------------------------------------------------
def test_device_objects():
    assert tg.device("cpu") == "cpu" and str(tg.device("cpu")) == "cpu"
    assert tg.device("cuda:1").type == "cuda" and tg.device("cuda:1").index == 1
    assert tg.device("cuda") == tg.device("cuda:0")
    assert tg.ones(2).device == tg.device("cpu")
    assert tg.ones(2, device="cpu").device.type == "cpu"
    with pytest.raises(ValueError, match="device"):
        tg.device("tpu")


def test_cuda_is_available_never_raises():
    assert isinstance(tg.cuda.is_available(), bool)


def test_cuda_use_without_gpu_is_a_clear_error():
    if tg.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match=r"cuda.*(CuPy|cupy)"):
        tg.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match=r"cuda.*(CuPy|cupy)"):
        tg.ones(2).to("cuda")
    with pytest.raises(RuntimeError, match=r"cuda.*(CuPy|cupy)"):
        tg.ones(2).cuda()


@pytest.mark.gpu
def test_device_mismatch_is_a_clear_error():
    if not tg.cuda.is_available():
        pytest.skip("needs a GPU")
    a, b = tg.ones(2), tg.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match=r"add.*same device.*cpu.*cuda"):
        a + b
    with pytest.raises(RuntimeError, match="same device"):
        a @ b


FLOAT32_OPS = [
    lambda m, a, b: (a * b + 2.0).relu().sum(dim=1),
    lambda m, a, b: m.softmax(a @ b.t(), dim=-1),
    lambda m, a, b: (a - b).pow(2).mean(),
    lambda m, a, b: m.log_softmax(a, dim=0) * b,
    lambda m, a, b: m.where(a > b, a.exp(), b.sigmoid()),
    lambda m, a, b: a.tanh().std(dim=0) + b.norm(),
]


@pytest.mark.parametrize("k", range(len(FLOAT32_OPS)))
def test_float32_stays_float32_and_matches_torch(k):
    torch = pytest.importorskip("torch")
    fn = FLOAT32_OPS[k]
    rng = np.random.default_rng(k)
    arrays = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(2)]
    a, b = (tg.tensor(x, requires_grad=True) for x in arrays)
    ta, tb = (torch.tensor(x, requires_grad=True) for x in arrays)
    out, ref = fn(tg, a, b), fn(torch, ta, tb)
    assert out.dtype == tg.float32
    assert_close(out, ref, rtol=1e-5, atol=1e-6)
    out.sum().backward()
    ref.sum().backward()
    assert a.grad.dtype == tg.float32 and b.grad.dtype == tg.float32
    assert_close(a.grad, ta.grad, rtol=1e-4, atol=1e-5)
    assert_close(b.grad, tb.grad, rtol=1e-4, atol=1e-5)
