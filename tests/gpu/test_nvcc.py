"""Every CUDA C source of tinygen_kernels compiles for Hopper with `nvcc -ptx -arch=sm_90`, with no
warnings, and declares the kernels its Python launcher asks for. Skipped where nvcc is missing."""
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tinygen_kernels import cuda_adam, cuda_attention, cuda_build, cuda_conv, cuda_sgemm

NVCC = cuda_build.find_nvcc()
pytestmark = pytest.mark.skipif(NVCC is None, reason="nvcc not found")

EXPECTED_FILES = {"flash_attention.cu", "conv2d_implicit_gemm.cu", "sgemm_tiled.cu",
                  "adam_multi_tensor.cu"}


@pytest.fixture(scope="module")
def ptx(tmp_path_factory):
    """{file name: (returncode, compiler output, ptx text)}, compiled two at a time."""
    out = tmp_path_factory.mktemp("ptx")

    def compile_one(path):
        target = out / (path.stem + ".ptx")
        rc, log = cuda_build.nvcc_ptx(path, arch="sm_90", nvcc=NVCC, out=target)
        return path.name, (rc, log, target.read_text() if rc == 0 else "")

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(compile_one, cuda_build.cu_files()))


def test_every_cu_file_is_listed():
    assert EXPECTED_FILES <= {p.name for p in cuda_build.cu_files()}


@pytest.mark.parametrize("name", sorted(EXPECTED_FILES))
def test_compiles_for_sm90_without_warnings(ptx, name):
    rc, log, text = ptx[name]
    assert rc == 0, f"nvcc failed on {name}:\n{log}"
    assert "warning" not in log.lower(), f"nvcc warned on {name}:\n{log}"
    assert ".target sm_90" in text


def _entries(text):
    return set(re.findall(r"\.entry\s+(\w+)\s*\(", text))


def test_launchers_find_their_kernels(ptx):
    attention = _entries(ptx["flash_attention.cu"][2])
    for D in cuda_attention.F32_HEADS:
        for stem in ("flash_fwd_f32", "flash_bwd_preprocess_f32", "flash_bwd_dkdv_f32",
                     "flash_bwd_dq_f32"):
            assert f"{stem}_d{D}" in attention
    for D in cuda_attention.WMMA_HEADS:
        assert {f"flash_{way}_wmma_{kind}_d{D}" for way in ("fwd", "bwd")
                for kind in ("f16", "bf16")} <= attention
    assert {"conv2d_fwd_igemm", "conv2d_bwd_input_igemm", "conv2d_bwd_weight_igemm"} <= \
        _entries(ptx[cuda_conv.CU_FILE][2])
    assert {"sgemm_naive", "sgemm_smem", "sgemm_regblock"} <= _entries(ptx[cuda_sgemm.CU_FILE][2])
    assert {"adam_multi_tensor_f32", "adam_multi_tensor_f64"} <= \
        _entries(ptx[cuda_adam.CU_FILE][2])


def test_wmma_kernels_use_tensor_cores(ptx):
    text = ptx["flash_attention.cu"][2]
    assert "wmma.mma.sync" in text or "mma.sync" in text
