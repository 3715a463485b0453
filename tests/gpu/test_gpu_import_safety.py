"""The GPU code costs nothing where there is no GPU: importing tinygen_kernels imports neither
CuPy nor numba.cuda, the CUDA kernels decline host arrays (the reference runs), and the GPU
benchmark fails with a message that says why."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygen as tg
from tinygen_kernels import registry

ROOT = Path(__file__).resolve().parents[2]


def test_import_touches_no_gpu_library():
    code = ("import sys, tinygen, tinygen_kernels; "
            "print('numba.cuda' in sys.modules, 'cupy' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_cuda_kernels_are_registered_and_decline_host_arrays():
    names = {name for name in registry.references()
             if any(dev == "cuda" for dev, _ in registry.kernels_for(name))}
    assert {"softmax_fwd", "layernorm_fwd", "embedding_bwd", "gelu_fwd", "adam_step",
            "flash_attention_fwd", "flash_attention_bwd", "conv2d_fwd", "sgemm"} <= names
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        pytest.skip("under the simulator the numba.cuda kernels take host arrays")
    x = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    for name in ("softmax_fwd", "gelu_fwd"):
        for (device, impl), fn in registry.kernels_for(name).items():
            if device == "cuda":
                assert fn(x) is NotImplemented
    # and the dispatcher falls back to the reference
    np.testing.assert_allclose(registry.dispatch("softmax_fwd", "cuda")(x),
                               registry.references()["softmax_fwd"].reference(x))


@pytest.mark.skipif(tg.cuda.is_available(), reason="a GPU is present")
def test_gpu_benchmark_says_why_it_cannot_run():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu_kernels
        with pytest.raises(SystemExit, match="no usable GPU"):
            gpu_kernels.main(["--out", os.devnull])
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_benchmark_work_counts():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu_kernels
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    a = np.zeros((64, 32), np.float32)
    b = np.zeros((32, 16), np.float32)
    assert gpu_kernels.flop_count("sgemm", (a, b), {}) == 2 * 64 * 32 * 16
    q = np.zeros((2, 3, 10, 8), np.float32)
    assert gpu_kernels.flop_count("flash_attention_fwd", (q, q, q), {"causal": True}) == \
        4 * 6 * 10 * 10 * 8 * 0.5
    x, w = np.zeros((2, 4, 9, 8), np.float32), np.zeros((6, 2, 3, 2), np.float32)
    flops = gpu_kernels.flop_count("conv2d_fwd", (x, w, (2, 1), (1, 1), (1, 2), 2), {})
    assert flops == 2 * 2 * 6 * 5 * 8 * 2 * 3 * 2          # 2 N O OH OW (C/G) kH kW
    assert gpu_kernels.traffic_bytes("softmax_fwd", (a,), a) == 2 * a.nbytes
    names = [label for label, *_ in gpu_kernels.kernel_cases(["flash_attention_fwd"])]
    assert names == ["flash_attention_fwd", "flash_attention_fwd fp16"]
