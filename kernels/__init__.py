"""tinygen's kernels: one module per kernel family, each a NumPy reference plus faster versions.

Installed as `tinygen_kernels` (see pyproject.toml). Importing this package registers every
family whose dependencies import; numba kernels compile on first call (cache=True).
"""
from . import registry  # noqa: F401

_FAMILIES = ["conv", "pool", "upsample", "softmax", "layernorm", "batchnorm", "groupnorm",
             "embedding", "activation", "adam", "sgd", "reduce", "binary"]

_FAMILIES += ["attention", "gemm", "int8", "int8_vnni"]

for _name in _FAMILIES:
    __import__(f"{__name__}.{_name}")

# GPU versions (device="cuda") of the families above. Registering them imports neither CuPy nor
# numba.cuda and touches no GPU (each compiles on its first call), and a GPU family that fails to
# import never takes the CPU package down with it.
_GPU_FAMILIES = ["cuda_softmax", "cuda_layernorm", "cuda_embedding", "cuda_activation",
                 "cuda_adam", "cuda_attention", "cuda_conv", "cuda_sgemm"]

for _name in _GPU_FAMILIES:
    try:
        __import__(f"{__name__}.{_name}")
    except ImportError as _error:  # pragma: no cover - a broken optional dependency
        import warnings as _warnings
        _warnings.warn(f"tinygen_kernels: GPU kernels {_name!r} not registered: {_error}",
                       RuntimeWarning, stacklevel=2)
