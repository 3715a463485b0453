"""`tg.backends.cuda`, as `torch.backends.cuda`: the switches scripts set for CUDA's products and
attention kernels. tinygen's GPU products are cuBLAS in the arrays' own precision and its
attention kernels are its own, so the flags are plain attributes that scripts may set and read;
they change nothing:

    tg.backends.cuda.matmul.allow_tf32 = True       # accepted; float32 stays float32
"""
import types

from ..backend.device import cuda_is_available

matmul = types.SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                               allow_bf16_reduced_precision_reduction=True)
_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def is_built() -> bool:
    """Whether tinygen can run on CUDA at all (CuPy importable), as torch's 'built with CUDA'."""
    return cuda_is_available()


def _switch(name):
    def enable(enabled: bool):
        _sdp[name] = bool(enabled)

    def query() -> bool:
        return _sdp[name]
    return enable, query


enable_flash_sdp, flash_sdp_enabled = _switch("flash")
enable_mem_efficient_sdp, mem_efficient_sdp_enabled = _switch("mem_efficient")
enable_math_sdp, math_sdp_enabled = _switch("math")
enable_cudnn_sdp, cudnn_sdp_enabled = _switch("cudnn")
