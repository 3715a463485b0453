"""The flash-attention contract (tinygen_kernels.attention): the reference against PyTorch's
scaled_dot_product_attention (float64, forward and backward, causal and not, T != S), and the
CPU tiled version (online softmax over key blocks) against the reference. Also the sgemm one."""
import numpy as np
import pytest

from tinygen_kernels import attention, gemm, registry

CASES = [(5, 5), (37, 37), (300, 300), (260, 130), (20, 290)]     # (T, S); BLOCK is 128


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _qkv(rng, T, S, D=16, Dv=8, dtype=np.float64, lead=(2, 3)):
    return (rng.standard_normal((*lead, T, D)).astype(dtype),
            rng.standard_normal((*lead, S, D)).astype(dtype),
            rng.standard_normal((*lead, S, Dv)).astype(dtype))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("T,S", CASES)
def test_reference_matches_torch_sdpa(torch, causal, T, S):
    rng = np.random.default_rng(T * 1000 + S)
    q, k, v = _qkv(rng, T, S)
    do = rng.standard_normal((2, 3, T, 8))
    scale = 0.3
    o, lse = attention.flash_attention_fwd(q, k, v, causal, scale)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    to = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=causal,
                                                          scale=scale)
    to.backward(torch.tensor(do))
    np.testing.assert_allclose(o, to.detach().numpy(), rtol=1e-10, atol=1e-10)
    s = torch.tensor(q) @ torch.tensor(k).transpose(-1, -2) * scale
    if causal:
        s = s.masked_fill(~torch.ones(T, S, dtype=torch.bool).tril(), float("-inf"))
    np.testing.assert_allclose(lse, torch.logsumexp(s, -1).numpy(), rtol=1e-10, atol=1e-10)
    grads = attention.flash_attention_bwd(q, k, v, o, lse, do, causal, scale)
    for got, t in zip(grads, (tq, tk, tv)):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("T,S", CASES)
def test_tiled_matches_reference(dtype, causal, T, S):
    rng = np.random.default_rng(T + S)
    q, k, v = _qkv(rng, T, S, dtype=dtype, lead=(3,))
    do = rng.standard_normal((3, T, 8)).astype(dtype)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    o, lse = attention.flash_attention_fwd(q, k, v, causal)
    o_t, lse_t = attention.flash_attention_fwd_tiled(q, k, v, causal)
    assert o_t.dtype == o.dtype and lse_t.shape == lse.shape
    np.testing.assert_allclose(o_t, o, **tol)
    np.testing.assert_allclose(lse_t, lse, **tol)
    ref = attention.flash_attention_bwd(q, k, v, o, lse, do, causal)
    tiled = attention.flash_attention_bwd_tiled(q, k, v, o, lse, do, causal)
    for a, b in zip(tiled, ref):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, **tol)


def test_cpu_dispatch_runs_a_fused_version():
    """blas_v1 where numba imports (it hands large heads to numpy_tiled_v1), else the tiles."""
    fn = registry.dispatch("flash_attention_fwd", "cpu")
    fused = (attention.flash_attention_fwd_blas, attention.flash_attention_fwd_tiled)
    assert fn.impl in fused


def test_float16_computes_in_float32_and_keeps_dtypes():
    q, k, v = _qkv(np.random.default_rng(0), 9, 9, dtype=np.float16)
    o, lse = attention.flash_attention_fwd(q, k, v, True)
    assert o.dtype == np.float16 and lse.dtype == np.float32
    o32, _ = attention.flash_attention_fwd(*(a.astype(np.float32) for a in (q, k, v)), True)
    np.testing.assert_allclose(o.astype(np.float32), o32, atol=2e-3)
    assert attention.flash_attention_fwd_tiled(q, k, v, True) is NotImplemented


def test_single_key_gives_v_and_bad_shapes_name_the_op():
    q, k, v = _qkv(np.random.default_rng(1), 1, 1)
    o, lse = attention.flash_attention_fwd(q, k, v)
    np.testing.assert_allclose(o, v)
    np.testing.assert_allclose(lse, (q * k).sum(-1) / 4)
    with pytest.raises(ValueError, match="flash_attention_fwd"):
        attention.flash_attention_fwd(q, k[..., :3], v)


def test_sgemm_reference():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(gemm.sgemm(a, b), a @ b)
    with pytest.raises(ValueError, match="sgemm"):
        gemm.sgemm(a, a)
    with pytest.raises(TypeError, match="sgemm"):
        gemm.sgemm(a.astype(np.float64), b)
