"""CUDA C kernels: find the `.cu` files shipped in this package, compile them on first use with
CuPy (`cupy.RawModule`, NVRTC; nvcc as a fallback), cache the modules, hand out kernels.

    fn = cuda_build.function("flash_attention.cu", "flash_fwd_f32_d64")
    fn((blocks_x, blocks_y), (threads,), (q, k, v, o, lse, np.int32(T), ...), shared_mem=0)

Nothing here imports CuPy or touches a GPU at import time. CuPy keeps its own on-disk cache of
compiled modules (~/.cupy/kernel_cache), so the compile cost is paid once per machine and source.

`cu_files()` lists every `.cu` file for the compile test (tests/gpu/test_nvcc.py), which runs
`nvcc -ptx -arch=sm_90` on each, on machines with nvcc and no GPU too (`nvcc_ptx`).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent
OPTIONS = ("-std=c++17",)


def cu_files() -> list[Path]:
    """Every CUDA C source shipped with tinygen_kernels, sorted by name."""
    return sorted(KERNEL_DIR.glob("*.cu"))


def source(name: str) -> str:
    path = KERNEL_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"no CUDA source {name!r} in {KERNEL_DIR} (have: "
                                f"{', '.join(p.name for p in cu_files())})")
    return path.read_text()


def find_nvcc() -> str | None:
    """nvcc on PATH, or under $CUDA_HOME / $CUDA_PATH / /usr/local/cuda."""
    found = shutil.which("nvcc")
    if found:
        return found
    for root in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if root and os.path.isfile(os.path.join(root, "bin", "nvcc")):
            return os.path.join(root, "bin", "nvcc")
    return None


def nvcc_ptx(path, arch="sm_90", nvcc=None, out=None, extra=()):
    """Compile one .cu file to PTX with nvcc: returns (returncode, compiler output)."""
    nvcc = nvcc or find_nvcc()
    if nvcc is None:
        raise FileNotFoundError("nvcc not found (PATH, $CUDA_HOME, /usr/local/cuda)")
    out = out or os.devnull
    cmd = [nvcc, "-ptx", f"-arch={arch}", *OPTIONS, *extra, "-o", str(out), str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def on_device(*arrays) -> bool:
    """True when every given array (None skipped) is a GPU array: what the CUDA C launchers take.
    (The one place that decides it, so tests/gpu/test_cuda_launchers.py can swap it out.)"""
    from ._xp import array_module
    import numpy as np
    return all(array_module(a) is not np for a in arrays if a is not None)


def pointer(a) -> int:
    """The device address of a GPU array's first element."""
    return a.data.ptr


def _cupy():
    try:
        import cupy
    except ImportError as e:
        raise ImportError("tinygen's CUDA C kernels need CuPy: pip install 'tinygen[cuda]'") from e
    return cupy


@functools.cache
def module(name: str):
    """The compiled `cupy.RawModule` of kernels/<name>, compiled once per process (and cached on
    disk by CuPy). NVRTC first; if NVRTC cannot compile it (a missing header such as mma.h in a
    pip-installed toolkit) and nvcc exists, nvcc."""
    cupy = _cupy()
    code = source(name)
    try:
        mod = cupy.RawModule(code=code, options=OPTIONS)
        mod.compile()
        return mod
    except cupy.cuda.compiler.CompileException as nvrtc_error:
        if find_nvcc() is None:
            raise RuntimeError(f"compiling kernels/{name} with NVRTC failed and nvcc is not "
                               f"installed:\n{nvrtc_error}") from nvrtc_error
        mod = cupy.RawModule(code=code, options=OPTIONS, backend="nvcc")
        mod.compile()
        return mod


@functools.cache
def function(name: str, kernel: str, max_dynamic_shared_bytes: int = 0):
    """Kernel `kernel` (an extern "C" name) of kernels/<name> as a `cupy.RawKernel`; with
    max_dynamic_shared_bytes > 48 KB the kernel's dynamic shared-memory limit is raised to it
    (cudaFuncSetAttribute), which kernels using more than 48 KB need before their launch."""
    fn = module(name).get_function(kernel)
    if max_dynamic_shared_bytes > 48 * 1024:
        fn.max_dynamic_shared_size_bytes = max_dynamic_shared_bytes
    return fn


def clear_cache():
    """Forget the compiled modules of this process (tests; after editing a .cu file)."""
    module.cache_clear()
    function.cache_clear()
