"""The Python launchers of the CUDA C kernels (cuda_attention, cuda_conv, cuda_sgemm, cuda_adam),
run unchanged on the CPU: `cuda_build.function` hands out emulated kernels (each .cu compiled by
g++ with host_emulation.h, launched with cuLaunchKernel's convention, as CuPy does) and NumPy
arrays stand in for CuPy ones. So the grids, the shared-memory sizes and limits, the argument
order and the scalar types of every launch are checked against the kernels' real signatures,
on small shapes, against the references."""
import copy
import ctypes
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinygen_kernels import (adam, attention, conv, cuda_adam, cuda_attention, cuda_build,
                             gemm, registry)

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")

SCALARS = {np.int32: ctypes.c_int32, np.int64: ctypes.c_int64, np.float32: ctypes.c_float,
           np.float64: ctypes.c_double}
STATIC_SHARED_LIMIT = 48 * 1024


def kernel_names(path):
    """The extern "C" kernels of a .cu file (flash_attention.cu's are macro-generated)."""
    if path.name == "flash_attention.cu":
        names = []
        for D in cuda_attention.F32_HEADS:
            names += [f"flash_fwd_f32_d{D}", f"flash_bwd_preprocess_f32_d{D}",
                      f"flash_bwd_dkdv_f32_d{D}", f"flash_bwd_dq_f32_d{D}"]
        for kind in ("f16", "bf16"):
            for D in cuda_attention.WMMA_HEADS:
                names += [f"flash_fwd_wmma_{kind}_d{D}", f"flash_bwd_wmma_{kind}_d{D}"]
        return names
    return re.findall(r'extern "C" __global__ void\s+(?:__launch_bounds__\([^)]*\)\s*)?(\w+)\s*\(',
                      path.read_text())


class EmulatedKernel:
    """Stands in for cupy.RawKernel: kernel(grid, block, args, shared_mem=0)."""

    def __init__(self, launch):
        self.launch = launch
        self.max_dynamic_shared_size_bytes = STATIC_SHARED_LIMIT

    def __call__(self, grid, block, args, shared_mem=0):
        if shared_mem > self.max_dynamic_shared_size_bytes:
            raise RuntimeError(f"launch asks {shared_mem} bytes of dynamic shared memory, the "
                               f"kernel allows {self.max_dynamic_shared_size_bytes}")
        holders = []
        for a in args:
            if isinstance(a, np.ndarray):
                holders.append(ctypes.c_void_p(a.ctypes.data))
            elif type(a) in SCALARS:
                holders.append(SCALARS[type(a)](a.item()))
            else:
                raise TypeError(f"kernel argument {a!r} of type {type(a).__name__}: pass NumPy "
                                "scalars so the C type is explicit")
        params = (ctypes.c_void_p * len(holders))(
            *[ctypes.cast(ctypes.pointer(h), ctypes.c_void_p) for h in holders])
        grid = tuple(grid) + (1,) * (3 - len(grid))
        block = tuple(block) + (1,) * (3 - len(block))
        self.launch(*grid, *block, ctypes.c_size_t(shared_mem), params)


@pytest.fixture(scope="module")
def libraries(tmp_path_factory):
    out = tmp_path_factory.mktemp("launchers")
    libs = {}

    def load(cu_name):
        if cu_name not in libs:
            path = Path(cuda_build.KERNEL_DIR) / cu_name
            driver = out / (cu_name + ".cpp")
            exports = "\n".join(f"EMULATE_EXPORT({n})" for n in kernel_names(path))
            driver.write_text(f'#include "{HERE / "host_emulation.h"}"\n#include "{path}"\n'
                              + exports + "\n")
            lib = out / (cu_name + ".so")
            proc = subprocess.run(["g++", "-std=c++20", "-O1", "-pthread", "-shared", "-fPIC",
                                   "-w", "-o", str(lib), str(driver)],
                                  capture_output=True, text=True)
            if proc.returncode != 0 and "barrier" in proc.stderr:
                pytest.skip("g++ without C++20 <barrier>")
            assert proc.returncode == 0, proc.stderr[-3000:]
            libs[cu_name] = ctypes.CDLL(str(lib))
        return libs[cu_name]

    return load


@pytest.fixture
def emulated(monkeypatch, libraries):
    """cuda_build as the launchers see it, with NumPy arrays and the emulated kernels."""
    def function(name, kernel, max_dynamic_shared_bytes=0):
        fn = EmulatedKernel(getattr(libraries(name), "launch_" + kernel))
        if max_dynamic_shared_bytes > STATIC_SHARED_LIMIT:
            fn.max_dynamic_shared_size_bytes = max_dynamic_shared_bytes
        return fn

    monkeypatch.setattr(cuda_build, "function", function)
    monkeypatch.setattr(cuda_build, "on_device", lambda *arrays: True)
    monkeypatch.setattr(cuda_build, "pointer", lambda a: a.ctypes.data)


def cuda_impl(name, impl):
    return registry.kernels_for(name)[("cuda", impl)]


@pytest.mark.parametrize("dtype,D", [(np.float32, 32), (np.float16, 64), (np.float16, 128)])
@pytest.mark.parametrize("causal", [False, True])
def test_flash_attention(emulated, dtype, D, causal):
    rng = np.random.default_rng(D)
    T, S = (70, 45) if D < 128 else (20, 33)
    q = rng.standard_normal((1, 2, T, D)).astype(dtype)
    k, v = (rng.standard_normal((1, 2, S, D)).astype(dtype) for _ in range(2))
    do = rng.standard_normal((1, 2, T, D)).astype(dtype)
    exact = [a.astype(np.float32) for a in (q, k, v, do)]
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=2e-2, atol=1e-2)

    o, lse = cuda_impl("flash_attention_fwd", "cuda_c_v1")(q, k, v, causal=causal)
    o_ref, lse_ref = attention.flash_attention_fwd(*exact[:3], causal)
    assert o.dtype == dtype and o.shape == o_ref.shape and lse.dtype == np.float32
    np.testing.assert_allclose(o.astype(np.float32), o_ref, **tol)
    np.testing.assert_allclose(lse, lse_ref, rtol=1e-4, atol=1e-3)

    grads = cuda_impl("flash_attention_bwd", "cuda_c_v1")(q, k, v, o, lse, do, causal=causal)
    want = attention.flash_attention_bwd(*exact[:3], o.astype(np.float32), lse, exact[3], causal)
    for name, got, ref in zip(("dq", "dk", "dv"), grads, want):
        assert got.dtype == dtype and got.shape == ref.shape, name
        np.testing.assert_allclose(got.astype(np.float32), ref, err_msg=name, **tol)


@pytest.mark.parametrize("causal", [False, True])
def test_flash_attention_bf16_helpers(emulated, causal):
    rng = np.random.default_rng(7)
    raw = [rng.standard_normal((2, 50, 64)).astype(np.float32) for _ in range(4)]
    bits = [cuda_attention.bf16_bits(a) for a in raw]
    q, k, v, do = (cuda_attention.bf16_to_float32(b) for b in bits)
    o_bits, lse = cuda_attention.flash_attention_fwd_bf16(*bits[:3], causal=causal)
    o_ref, lse_ref = attention.flash_attention_fwd(q, k, v, causal)
    np.testing.assert_allclose(cuda_attention.bf16_to_float32(o_bits), o_ref, rtol=3e-2,
                               atol=2e-2)
    grads = cuda_attention.flash_attention_bwd_bf16(*bits[:3], o_bits, lse, bits[3],
                                                    causal=causal)
    want = attention.flash_attention_bwd(q, k, v, cuda_attention.bf16_to_float32(o_bits), lse,
                                         do, causal)
    for got, ref in zip(grads, want):
        np.testing.assert_allclose(cuda_attention.bf16_to_float32(got), ref, rtol=5e-2,
                                   atol=5e-2)


def test_conv2d_all_three(emulated):
    x_shape, w_shape, stride, padding, dilation, groups = (2, 4, 9, 8), (6, 2, 3, 2), (2, 1), \
        (1, 1), (1, 2), 2
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    params = (stride, padding, dilation, groups)
    y = cuda_impl("conv2d_fwd", "cuda_c_v1")(x, w, *params)
    np.testing.assert_allclose(y, conv.conv2d_fwd(x, w, *params), rtol=1e-4, atol=1e-4)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_allclose(cuda_impl("conv2d_bwd_input", "cuda_c_v1")(gy, w, x_shape, *params),
                               conv.conv2d_bwd_input(gy, w, x_shape, *params), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(
        cuda_impl("conv2d_bwd_weight", "cuda_c_v1")(x, gy, w_shape, *params),
        conv.conv2d_bwd_weight(x, gy, w_shape, *params), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("impl", ["cuda_c_v1", "cuda_c_v2", "cuda_c_v3"])
def test_sgemm(emulated, impl):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((40, 19)).astype(np.float32)
    b = rng.standard_normal((19, 33)).astype(np.float32)
    np.testing.assert_allclose(cuda_impl("sgemm", impl)(a, b), gemm.sgemm(a, b), rtol=1e-4,
                               atol=1e-4)


def test_adam_multi_tensor(emulated):
    args, kwargs = registry.references()["adam_step"].example(np.random.default_rng(2), "test")
    mine, ref = copy.deepcopy(args), copy.deepcopy(args)
    assert cuda_impl("adam_step", "cuda_c_v2")(*mine, **kwargs) is None
    adam.adam_step(*ref, **kwargs)
    for got_role, want_role in zip(mine, ref):
        for got, want in zip(got_role or [], want_role or []):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert cuda_adam._TABLES                      # the tables were built once and cached
