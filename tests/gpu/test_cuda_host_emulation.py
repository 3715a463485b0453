"""The CUDA C kernels' logic, checked on the CPU: each .cu file compiled by g++ with
host_emulation.h (a CUDA thread = an OS thread, __syncthreads = a barrier, WMMA and the 16-bit
types emulated) and run through ctypes on small shapes against the NumPy references: SGEMM v1-v3,
conv2d implicit GEMM forward and both gradients, flash attention fwd v1 and bwd v1 (float32) and
fwd v2 (WMMA, float16 and bfloat16). What this cannot see (the hardware's fragment layout, real
concurrency within a warp, speed) is test_cupy_paths.py's job on a GPU. The launch shapes here
mirror the Python launchers (cuda_sgemm.py, cuda_conv.py, cuda_attention.py)."""
import ctypes
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinygen_kernels import (adam, attention, conv, cuda_adam, cuda_attention, cuda_build,
                             cuda_conv, gemm)

HERE = Path(__file__).resolve().parent
KERNELS = Path(cuda_build.KERNEL_DIR)

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")

DRIVERS = {
    "adam_multi_tensor.cu": r"""
extern "C" void run(int f64, const unsigned long long* ptrs, const long long* sizes,
                    const int* chunk_tensor, const long long* chunk_start, int n, unsigned blocks,
                    const double* s, int amsgrad, int decoupled, int maximize) {
    if (f64)
        emulate_launch(adam_multi_tensor_f64, dim3{blocks, 1, 1}, dim3{256, 1, 1}, ptrs, sizes,
                       chunk_tensor, chunk_start, n, s[0], s[1], s[2], s[3], s[4], s[5], s[6],
                       amsgrad, decoupled, maximize);
    else
        emulate_launch(adam_multi_tensor_f32, dim3{blocks, 1, 1}, dim3{256, 1, 1}, ptrs, sizes,
                       chunk_tensor, chunk_start, n, float(s[0]), float(s[1]), float(s[2]),
                       float(s[3]), float(s[4]), float(s[5]), float(s[6]), amsgrad, decoupled,
                       maximize);
}
""",
    "sgemm_tiled.cu": r"""
extern "C" void run(int version, const float* a, const float* b, float* c, int M, int N, int K) {
    if (version == 1)
        emulate_launch(sgemm_naive, dim3{(N + 31u) / 32, (M + 7u) / 8, 1}, dim3{32, 8, 1},
                       a, b, c, M, N, K);
    else if (version == 2)
        emulate_launch(sgemm_smem, dim3{(N + 31u) / 32, (M + 31u) / 32, 1}, dim3{32, 32, 1},
                       a, b, c, M, N, K);
    else
        emulate_launch(sgemm_regblock, dim3{(N + 127u) / 128, (M + 127u) / 128, 1},
                       dim3{256, 1, 1}, a, b, c, M, N, K);
}
""",
    "conv2d_implicit_gemm.cu": r"""
extern "C" void run(int which, const float* in0, const float* in1, float* out,
                    unsigned gx, unsigned gy, unsigned gz, const int* g) {
    auto kernel = which == 0 ? conv2d_fwd_igemm
                : which == 1 ? conv2d_bwd_weight_igemm : conv2d_bwd_input_igemm;
    emulate_launch(kernel, dim3{gx, gy, gz}, dim3{256, 1, 1}, in0, in1, out, g[0], g[1], g[2],
                   g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14],
                   g[15]);
}
""",
    "flash_attention.cu": r"""
extern "C" void run_fwd(const float* q, const float* k, const float* v, float* o, float* lse,
                        int BH, int T, int S, float scale, int causal) {
    emulate_launch(flash_fwd_f32_d32, dim3{(T + 63u) / 64, (unsigned)BH, 1}, dim3{64, 1, 1},
                   q, k, v, o, lse, T, S, scale, causal);
}
extern "C" void run_bwd(const float* q, const float* k, const float* v, const float* o,
                        const float* dout, const float* lse, float* delta, float* dq, float* dk,
                        float* dv, int BH, int T, int S, float scale, int causal) {
    const int rows = BH * T;
    emulate_launch(flash_bwd_preprocess_f32_d32, dim3{(rows + 255u) / 256, 1, 1},
                   dim3{256, 1, 1}, o, dout, delta, rows);
    emulate_launch(flash_bwd_dkdv_f32_d32, dim3{(S + 31u) / 32, (unsigned)BH, 1},
                   dim3{32, 1, 1}, q, k, v, dout, (const float*)lse, (const float*)delta, dk, dv,
                   T, S, scale, causal);
    emulate_launch(flash_bwd_dq_f32_d32, dim3{(T + 31u) / 32, (unsigned)BH, 1}, dim3{32, 1, 1},
                   q, k, v, dout, (const float*)lse, (const float*)delta, dq, T, S, scale,
                   causal);
}
extern "C" size_t wmma_smem_bytes(int D) {
    return D == 64 ? WmmaSmem<64>::TOTAL : WmmaSmem<128>::TOTAL;
}
extern "C" size_t wmma_bwd_smem_bytes(int D) {
    return D == 64 ? WmmaBwdSmem<64>::TOTAL : WmmaBwdSmem<128>::TOTAL;
}
extern "C" void run_bwd_wmma(int bf16, int D, const void* q, const void* k, const void* v,
                             const void* dout, const float* lse, const float* delta, float* dq,
                             void* dk, void* dv, int BH, int T, int S, float scale, int causal) {
    const dim3 grid{(S + 63u) / 64, (unsigned)BH, 1}, block{128, 1, 1};
    const size_t smem = wmma_bwd_smem_bytes(D);
    using H = const __half*;
    using B = const __nv_bfloat16*;
    if (!bf16 && D == 64)
        emulate_launch_smem(flash_bwd_wmma_f16_d64, grid, block, smem, H(q), H(k), H(v),
                            H(dout), lse, delta, dq, (__half*)dk, (__half*)dv, T, S, scale,
                            causal);
    else if (!bf16)
        emulate_launch_smem(flash_bwd_wmma_f16_d128, grid, block, smem, H(q), H(k), H(v),
                            H(dout), lse, delta, dq, (__half*)dk, (__half*)dv, T, S, scale,
                            causal);
    else if (D == 64)
        emulate_launch_smem(flash_bwd_wmma_bf16_d64, grid, block, smem, B(q), B(k), B(v),
                            B(dout), lse, delta, dq, (__nv_bfloat16*)dk, (__nv_bfloat16*)dv, T,
                            S, scale, causal);
    else
        emulate_launch_smem(flash_bwd_wmma_bf16_d128, grid, block, smem, B(q), B(k), B(v),
                            B(dout), lse, delta, dq, (__nv_bfloat16*)dk, (__nv_bfloat16*)dv, T,
                            S, scale, causal);
}
extern "C" void run_fwd_wmma(int bf16, int D, const void* q, const void* k, const void* v,
                             void* o, float* lse, int BH, int T, int S, float scale, int causal) {
    const dim3 grid{(T + 63u) / 64, (unsigned)BH, 1}, block{128, 1, 1};
    const size_t smem = wmma_smem_bytes(D);
    using H = const __half*;
    using B = const __nv_bfloat16*;
    if (!bf16 && D == 64)
        emulate_launch_smem(flash_fwd_wmma_f16_d64, grid, block, smem, H(q), H(k), H(v),
                            (__half*)o, lse, T, S, scale, causal);
    else if (!bf16)
        emulate_launch_smem(flash_fwd_wmma_f16_d128, grid, block, smem, H(q), H(k), H(v),
                            (__half*)o, lse, T, S, scale, causal);
    else if (D == 64)
        emulate_launch_smem(flash_fwd_wmma_bf16_d64, grid, block, smem, B(q), B(k), B(v),
                            (__nv_bfloat16*)o, lse, T, S, scale, causal);
    else
        emulate_launch_smem(flash_fwd_wmma_bf16_d128, grid, block, smem, B(q), B(k), B(v),
                            (__nv_bfloat16*)o, lse, T, S, scale, causal);
}
""",
}


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    out = tmp_path_factory.mktemp("host_emulation")
    built = {}

    def _build(cu_name):
        if cu_name in built:
            return built[cu_name]
        driver = out / (cu_name + ".cpp")
        driver.write_text(f'#include "{HERE / "host_emulation.h"}"\n'
                          f'#include "{KERNELS / cu_name}"\n' + DRIVERS[cu_name])
        lib = out / (cu_name + ".so")
        cmd = ["g++", "-std=c++20", "-O1", "-pthread", "-shared", "-fPIC", "-w", "-o", str(lib),
               str(driver)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 and "barrier" in proc.stderr:
            pytest.skip("g++ without C++20 <barrier>")
        assert proc.returncode == 0, proc.stderr[-3000:]
        built[cu_name] = ctypes.CDLL(str(lib))
        return built[cu_name]

    return _build


def _ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_sgemm_versions(build, version):
    lib = build("sgemm_tiled.cu")
    rng = np.random.default_rng(version)
    # partial tiles in every direction, and more than one block tile (32 for v1, v2; 128 for v3)
    shapes = [(37, 45, 33), (130, 129, 17)] if version == 3 else [(37, 45, 33), (40, 70, 9)]
    for M, N, K in shapes:
        a = rng.standard_normal((M, K)).astype(np.float32)
        b = rng.standard_normal((K, N)).astype(np.float32)
        c = np.full((M, N), np.nan, np.float32)
        lib.run(version, _ptr(a), _ptr(b), _ptr(c), M, N, K)
        np.testing.assert_allclose(c, gemm.sgemm(a, b), rtol=1e-4, atol=1e-4)


CONV_CASES = {
    "plain_3x3": ((2, 3, 7, 7), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),
    "stride2_dcgan_k4": ((2, 4, 8, 8), (3, 4, 4, 4), (2, 2), (1, 1), (1, 1), 1),
    "registry_example": ((2, 4, 9, 8), (6, 2, 3, 2), (2, 1), (1, 1), (1, 2), 2),
    "depthwise": ((1, 3, 6, 5), (6, 1, 3, 2), (2, 1), (1, 0), (1, 1), 3),
    "wide_out_channels": ((1, 2, 5, 5), (70, 2, 1, 1), (1, 1), (0, 0), (1, 1), 1),
}


@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv2d_implicit_gemm(build, case):
    lib = build("conv2d_implicit_gemm.cu")
    lib.run.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                        ctypes.c_uint, ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p]
    x_shape, w_shape, stride, padding, dilation, groups = CONV_CASES[case]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    y_ref = conv.conv2d_fwd(x, w, stride, padding, dilation, groups)
    gy = rng.standard_normal(y_ref.shape).astype(np.float32)
    geometry = cuda_conv.geometry(x_shape, w_shape, stride, padding, dilation, groups)
    g = np.array(geometry.args, np.int32)
    tol = dict(rtol=1e-4, atol=1e-4)

    y = np.full(y_ref.shape, np.nan, np.float32)
    lib.run(0, _ptr(x), _ptr(w), _ptr(y), *geometry.grid("fwd"), _ptr(g))
    np.testing.assert_allclose(y, y_ref, **tol)

    gw = np.full(w_shape, np.nan, np.float32)
    lib.run(1, _ptr(x), _ptr(gy), _ptr(gw), *geometry.grid("bwd_weight"), _ptr(g))
    np.testing.assert_allclose(
        gw, conv.conv2d_bwd_weight(x, gy, w_shape, stride, padding, dilation, groups), **tol)

    gx = np.full(x_shape, np.nan, np.float32)
    lib.run(2, _ptr(gy), _ptr(w), _ptr(gx), *geometry.grid("bwd_input"), _ptr(g))
    np.testing.assert_allclose(
        gx, conv.conv2d_bwd_input(gy, w, x_shape, stride, padding, dilation, groups), **tol)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("T,S", [(37, 37), (70, 45), (20, 50)])
def test_flash_attention_f32(build, causal, T, S):
    lib = build("flash_attention.cu")
    f, i = ctypes.c_float, ctypes.c_int
    lib.run_fwd.argtypes = [ctypes.c_void_p] * 5 + [i, i, i, f, i]
    lib.run_bwd.argtypes = [ctypes.c_void_p] * 10 + [i, i, i, f, i]
    BH, D = 2, 32
    assert D in cuda_attention.F32_HEADS
    rng = np.random.default_rng(T + S)
    q, k, v = (rng.standard_normal((BH, n, D)).astype(np.float32) for n in (T, S, S))
    scale = 1 / math.sqrt(D)
    o_ref, lse_ref = attention.flash_attention_fwd(q, k, v, causal, scale)
    o = np.full_like(o_ref, np.nan)
    lse = np.full(lse_ref.shape, np.nan, np.float32)
    lib.run_fwd(_ptr(q), _ptr(k), _ptr(v), _ptr(o), _ptr(lse), BH, T, S, scale, int(causal))
    np.testing.assert_allclose(o, o_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(lse, lse_ref, rtol=1e-5, atol=1e-5)

    do = rng.standard_normal(o_ref.shape).astype(np.float32)
    refs = attention.flash_attention_bwd(q, k, v, o_ref, lse_ref, do, causal, scale)
    delta = np.empty((BH, T), np.float32)
    grads = [np.full_like(a, np.nan) for a in (q, k, v)]
    lib.run_bwd(_ptr(q), _ptr(k), _ptr(v), _ptr(o_ref), _ptr(do), _ptr(lse_ref), _ptr(delta),
                *(_ptr(g) for g in grads), BH, T, S, scale, int(causal))
    for name, got, ref in zip(("dq", "dk", "dv"), grads, refs):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4, err_msg=name)


def test_wmma_shared_memory_layout_matches_the_launcher(build):
    lib = build("flash_attention.cu")
    lib.wmma_smem_bytes.restype = ctypes.c_size_t
    lib.wmma_bwd_smem_bytes.restype = ctypes.c_size_t
    for D in cuda_attention.WMMA_HEADS:
        assert lib.wmma_smem_bytes(D) == cuda_attention.wmma_smem_bytes(D)
        assert lib.wmma_bwd_smem_bytes(D) == cuda_attention.wmma_bwd_smem_bytes(D)


# (kind, causal, D, T, S): partial tiles, several key tiles, T < S and T > S, both head sizes
WMMA_CASES = [("f16", False, 64, 70, 45), ("f16", True, 64, 40, 150), ("bf16", True, 64, 70, 45),
              ("bf16", False, 64, 40, 150), ("f16", True, 128, 20, 20),
              ("bf16", False, 128, 20, 33)]


@pytest.mark.parametrize("kind,causal,D,T,S", WMMA_CASES)
def test_flash_attention_wmma(build, kind, causal, D, T, S):
    lib = build("flash_attention.cu")
    f, i = ctypes.c_float, ctypes.c_int
    lib.run_fwd_wmma.argtypes = [i, i] + [ctypes.c_void_p] * 5 + [i, i, i, f, i]
    BH = 2
    rng = np.random.default_rng(D + T + S)
    raw = [rng.standard_normal((BH, n, D)).astype(np.float32) for n in (T, S, S)]
    if kind == "f16":
        inputs = [a.astype(np.float16) for a in raw]
        exact = [a.astype(np.float32) for a in inputs]
        tol = dict(rtol=1e-2, atol=3e-3)
    else:
        inputs = [cuda_attention.bf16_bits(a) for a in raw]
        exact = [cuda_attention.bf16_to_float32(a) for a in inputs]
        tol = dict(rtol=3e-2, atol=2e-2)
    scale = 1 / math.sqrt(D)
    o_ref, lse_ref = attention.flash_attention_fwd(*exact, causal, scale)
    o = np.zeros((BH, T, D), inputs[0].dtype)
    lse = np.full((BH, T), np.nan, np.float32)
    lib.run_fwd_wmma(int(kind == "bf16"), D, *(_ptr(a) for a in inputs), _ptr(o), _ptr(lse), BH,
                     T, S, scale, int(causal))
    got = o.astype(np.float32) if kind == "f16" else cuda_attention.bf16_to_float32(o)
    np.testing.assert_allclose(got, o_ref, **tol)
    np.testing.assert_allclose(lse, lse_ref, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("decoupled,amsgrad,maximize", [(False, False, False),
                                                        (True, True, True)])
def test_adam_multi_tensor(build, dtype, decoupled, amsgrad, maximize):
    lib = build("adam_multi_tensor.cu")
    lib.run.argtypes = [ctypes.c_int] + [ctypes.c_void_p] * 4 + [ctypes.c_int, ctypes.c_uint,
                                                                 ctypes.c_void_p] + \
        [ctypes.c_int] * 3
    rng = np.random.default_rng(3)
    shapes = [(3, 5), (0,), (cuda_adam.CHUNK + 77,), (1,)]     # one spans two chunks
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
    m = [rng.standard_normal(s).astype(dtype) * 0.1 for s in shapes]
    v = [np.abs(rng.standard_normal(s)).astype(dtype) * 0.01 for s in shapes]
    vmax = [a * 1.5 for a in v]
    hyper = dict(step=4, lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.1,
                 decoupled=decoupled, amsgrad=amsgrad, maximize=maximize)
    want = [[a.copy() for a in role] for role in (params, m, v, vmax)]
    adam.adam_step(want[0], grads, want[1], want[2], want[3], **hyper)

    roles = [params, grads, m, v, vmax]
    pointers = [[a.ctypes.data for a in role] for role in roles]
    ptrs, sizes, chunk_tensor, chunk_start = cuda_adam.multi_tensor_tables(
        pointers, [p.size for p in params])
    b1, b2, lr, wd = 0.9, 0.99, 1e-2, 0.1
    scalars = np.array([1 - b1, b2, 1 - b2, 1 - lr * wd if decoupled else wd,
                        lr / (1 - b1 ** 4), math.sqrt(1 - b2 ** 4), 1e-8])
    lib.run(int(dtype == np.float64), _ptr(ptrs), _ptr(sizes), _ptr(chunk_tensor),
            _ptr(chunk_start), len(params), chunk_tensor.size, _ptr(scalars), int(amsgrad),
            int(decoupled), int(maximize))
    tol = dict(rtol=1e-5, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    for got_role, want_role in zip((params, m, v, vmax), want):
        for got, expected in zip(got_role, want_role):
            np.testing.assert_allclose(got, expected, **tol)


@pytest.mark.parametrize("kind,causal,D,T,S", WMMA_CASES)
def test_flash_attention_backward_wmma(build, kind, causal, D, T, S):
    lib = build("flash_attention.cu")
    f, i = ctypes.c_float, ctypes.c_int
    lib.run_bwd_wmma.argtypes = [i, i] + [ctypes.c_void_p] * 9 + [i, i, i, f, i]
    BH = 2
    rng = np.random.default_rng(D * T + S)
    raw = [rng.standard_normal((BH, n, D)).astype(np.float32) for n in (T, S, S, T)]
    if kind == "f16":
        inputs = [a.astype(np.float16) for a in raw]
        exact = [a.astype(np.float32) for a in inputs]
        tol = dict(rtol=2e-2, atol=1e-2)
    else:
        inputs = [cuda_attention.bf16_bits(a) for a in raw]
        exact = [cuda_attention.bf16_to_float32(a) for a in inputs]
        tol = dict(rtol=5e-2, atol=5e-2)
    q, k, v, do = exact
    scale = 1 / math.sqrt(D)
    o, lse = attention.flash_attention_fwd(q, k, v, causal, scale)
    want = attention.flash_attention_bwd(q, k, v, o, lse, do, causal, scale)
    delta = (do * o).sum(-1).astype(np.float32)
    dq = np.zeros((BH, T, D), np.float32)
    dk = np.zeros((BH, S, D), inputs[0].dtype)
    dv = np.zeros((BH, S, D), inputs[0].dtype)
    lse = lse.astype(np.float32)
    lib.run_bwd_wmma(int(kind == "bf16"), D, *(_ptr(a) for a in inputs), _ptr(lse), _ptr(delta),
                     _ptr(dq), _ptr(dk), _ptr(dv), BH, T, S, scale, int(causal))
    widen = (lambda a: a.astype(np.float32)) if kind == "f16" else cuda_attention.bf16_to_float32
    for name, got, ref in zip(("dq", "dk", "dv"), (dq, widen(dk), widen(dv)), want):
        np.testing.assert_allclose(got, ref, err_msg=name, **tol)
