"""The CuPy paths, for real: tensors on 'cuda', ops forward and backward against the CPU, and every
CUDA kernel (numba.cuda and CUDA C) against its reference on real sizes. Every test here is marked
`gpu` and skips where `tg.cuda.is_available()` is False (tests/gpu/conftest.py)."""
import copy
import math

import numpy as np
import pytest

import tinygen as tg
from tinygen_kernels import attention, cuda_attention, registry

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cp():
    return pytest.importorskip("cupy")


def _to_host(out):
    import cupy
    if isinstance(out, tuple):
        return tuple(_to_host(o) for o in out)
    if isinstance(out, list):
        return [_to_host(o) for o in out]
    return cupy.asnumpy(out) if isinstance(out, cupy.ndarray) else out


def _to_device(args):
    import cupy
    if isinstance(args, (list, tuple)):
        return type(args)(_to_device(a) for a in args)
    if isinstance(args, dict):
        return {k: _to_device(v) for k, v in args.items()}
    return cupy.asarray(args) if isinstance(args, np.ndarray) else args


# ---- tensors on the device ------------------------------------------------------------------
def test_tensor_round_trip_and_device_errors(cp):
    x = tg.randn(3, 4)
    y = x.cuda()
    assert y.device == tg.device("cuda:0") and isinstance(y._data, cp.ndarray)
    np.testing.assert_array_equal(y.cpu().numpy(), x.numpy())
    with pytest.raises(Exception, match="(?i)device"):
        x + y


OPS = {
    "softmax": lambda x: x.softmax(-1),
    "log_softmax": lambda x: tg.nn.functional.log_softmax(x, -1),
    "gelu": lambda x: tg.nn.functional.gelu(x),
    "silu": lambda x: tg.nn.functional.silu(x),
    "layer_norm": lambda x: tg.nn.functional.layer_norm(x, (x.shape[-1],)),
    "sum_of_squares": lambda x: (x * x).sum(-1),
}


@pytest.mark.parametrize("name", list(OPS))
def test_op_forward_backward_matches_cpu(cp, name):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((64, 300)).astype(np.float32)
    grads = {}
    outs = {}
    for device in ("cpu", "cuda"):
        x = tg.tensor(data, device=device, requires_grad=True)
        y = OPS[name](x)
        y.backward(tg.ones_like(y))
        outs[device], grads[device] = y.cpu().numpy(), x.grad.cpu().numpy()
    np.testing.assert_allclose(outs["cuda"], outs["cpu"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grads["cuda"], grads["cpu"], rtol=1e-4, atol=1e-4)


def test_linear_conv_training_step_matches_cpu(cp):
    nn = tg.nn
    results = {}
    for device in ("cpu", "cuda"):
        tg.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                              nn.Linear(8 * 8 * 8, 10)).to(device)
        opt = tg.optim.Adam(model.parameters(), lr=1e-3)
        x = tg.tensor(np.random.default_rng(1).standard_normal((4, 3, 8, 8)).astype(np.float32),
                      device=device)
        target = tg.tensor(np.array([1, 2, 3, 4]), device=device)
        loss = tg.nn.functional.cross_entropy(model(x), target)
        loss.backward()
        opt.step()
        results[device] = (loss.item(), [p.cpu().numpy() for p in model.parameters()])
    assert results["cuda"][0] == pytest.approx(results["cpu"][0], rel=1e-4)
    for a, b in zip(results["cuda"][1], results["cpu"][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


# ---- every CUDA kernel against its reference, on the registry's bench shapes ----------------
CUDA_KERNELS = sorted((name, impl) for name in registry.references()
                      for (device, impl) in registry.kernels_for(name) if device == "cuda")
SMALLER = {"sgemm": "test"}      # naive SGEMM at 4096^3 takes seconds: keep to the test shape


@pytest.mark.parametrize("name,impl", CUDA_KERNELS)
def test_cuda_kernel_matches_reference(cp, name, impl):
    entry = registry.references()[name]
    which = "test" if (name in SMALLER and impl == "cuda_c_v1") else "bench"
    args, kwargs = entry.example(np.random.default_rng(0), which)
    ref_args, fast_args = _to_device(args), _to_device(copy.deepcopy(args))
    got = registry.kernels_for(name)[("cuda", impl)](*fast_args, **_to_device(kwargs))
    assert got is not NotImplemented, f"{name}[{impl}] declined its bench example"
    want = entry.reference(*ref_args, **_to_device(kwargs))
    if got is None:                                   # in place (adam_step): compare the params
        got, want = fast_args[0], ref_args[0]
    got, want = _to_host(got), _to_host(want)
    got = got if isinstance(got, (tuple, list)) else (got,)
    want = want if isinstance(want, (tuple, list)) else (want,)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=entry.rtol * 10, atol=entry.atol * 10,
                                   err_msg=f"{name}[{impl}]")


def _attention_inputs(cp, B, H, T, D, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [cp.asarray(rng.standard_normal((B, H, T, D)).astype(dtype)) for _ in range(3)]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("D", [64, 128])
@pytest.mark.parametrize("T", [1, 100, 1024])
def test_flash_attention_fp16_wmma(cp, causal, D, T):
    q, k, v = _attention_inputs(cp, 2, 4, T, D, np.float16)
    o, lse = cuda_attention.flash_attention_fwd_cuda(q, k, v, causal=causal)
    o_ref, lse_ref = attention.flash_attention_fwd(q, k, v, causal=causal)   # float32 inside
    np.testing.assert_allclose(cp.asnumpy(o).astype(np.float32),
                               cp.asnumpy(o_ref).astype(np.float32), atol=2e-3, rtol=2e-2)
    np.testing.assert_allclose(cp.asnumpy(lse), cp.asnumpy(lse_ref), atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("causal", [False, True])
def test_flash_attention_bf16_wmma(cp, causal):
    qf, kf, vf = _attention_inputs(cp, 2, 4, 300, 64, np.float32)
    bits = [cuda_attention.bf16_bits(a) for a in (qf, kf, vf)]
    o_bits, lse = cuda_attention.flash_attention_fwd_bf16(*bits, causal=causal)
    exact = [cuda_attention.bf16_to_float32(b) for b in bits]      # the inputs the kernel saw
    o_ref, lse_ref = attention.flash_attention_fwd(*exact, causal=causal)
    o = cuda_attention.bf16_to_float32(o_bits)
    np.testing.assert_allclose(cp.asnumpy(o), cp.asnumpy(o_ref), atol=2e-2, rtol=2e-2)
    np.testing.assert_allclose(cp.asnumpy(lse), cp.asnumpy(lse_ref), atol=1e-2, rtol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("causal", [False, True])
def test_flash_attention_backward(cp, dtype, causal):
    q, k, v = _attention_inputs(cp, 2, 3, 200, 64, dtype, seed=1)
    o, lse = attention.flash_attention_fwd(q, k, v, causal=causal)
    do = cp.asarray(np.random.default_rng(2).standard_normal(o.shape).astype(dtype))
    got = cuda_attention.flash_attention_bwd_cuda(q, k, v, o, lse, do, causal=causal)
    want = attention.flash_attention_bwd(q, k, v, o, lse, do, causal=causal)
    tol = dict(rtol=1e-3, atol=1e-3) if dtype == np.float32 else dict(rtol=3e-2, atol=3e-2)
    for g, w in zip(got, want):
        np.testing.assert_allclose(cp.asnumpy(g).astype(np.float32),
                                   cp.asnumpy(w).astype(np.float32), **tol)


@pytest.mark.parametrize("causal", [False, True])
def test_flash_attention_bf16_backward(cp, causal):
    qf, kf, vf, dof = _attention_inputs(cp, 1, 2, 150, 64, np.float32) + \
        _attention_inputs(cp, 1, 2, 150, 64, np.float32, seed=5)[:1]
    bits = [cuda_attention.bf16_bits(a) for a in (qf, kf, vf, dof)]
    q, k, v, do = (cuda_attention.bf16_to_float32(b) for b in bits)
    o, lse = attention.flash_attention_fwd(q, k, v, causal=causal)
    got = cuda_attention.flash_attention_bwd_bf16(bits[0], bits[1], bits[2],
                                                  cuda_attention.bf16_bits(o), lse, bits[3],
                                                  causal=causal)
    want = attention.flash_attention_bwd(q, k, v, o, lse, do, causal=causal)
    for g, w in zip(got, want):
        np.testing.assert_allclose(cp.asnumpy(cuda_attention.bf16_to_float32(g)),
                                   cp.asnumpy(w), rtol=5e-2, atol=5e-2)


def test_flash_attention_memory_is_linear_in_length(cp):
    """Peak extra memory of the forward at T = 8192 stays far below the (T, T) score matrix."""
    B, H, T, D = 1, 4, 8192, 64
    q, k, v = _attention_inputs(cp, B, H, T, D, np.float16)
    pool = cp.get_default_memory_pool()
    cp.cuda.Device().synchronize()
    before = pool.used_bytes()
    o, lse = cuda_attention.flash_attention_fwd_cuda(q, k, v, causal=True)
    cp.cuda.Device().synchronize()
    extra = pool.used_bytes() - before
    scores_bytes = B * H * T * T * 2
    assert extra < scores_bytes / 20, (extra, scores_bytes)
    assert math.isfinite(float(lse.max()))
