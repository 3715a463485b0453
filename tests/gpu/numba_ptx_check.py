"""Compiles every numba.cuda kernel of tinygen_kernels to PTX for sm_90, as on a real GPU (warp
shuffles and all, which the simulator does not have), on a machine with no GPU. Run by
test_numba_ptx.py in a subprocess; prints one line per compiled kernel.

How, without a GPU: each family's launcher is called on its registry example with two things
swapped out: `usable` says yes to NumPy arrays, and launching a kernel (`kernel[grid, block]`)
compiles it with `cuda.compile_ptx` for the argument types of that launch instead of running it.
numba asks the driver for the device's compute capability when it compiles device functions;
that question is answered with (9, 0).
"""
import sys
from types import SimpleNamespace

import numba
import numba.cuda.dispatcher as numba_dispatcher
import numpy as np

numba_dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=(9, 0))

from numba import cuda  # noqa: E402

from tinygen_kernels import registry  # noqa: E402

FAMILIES = ["cuda_softmax", "cuda_layernorm", "cuda_embedding", "cuda_activation", "cuda_adam"]
compiled = {}


def compile_instead_of_launch(self, config):
    def launch(*args):
        sig = tuple(numba.typeof(a) for a in args)
        key = (self.py_func.__name__, sig)
        if key not in compiled:
            ptx, _ = cuda.compile_ptx(self.py_func, sig, cc=(9, 0))
            assert ".target sm_90" in ptx
            compiled[key] = ptx
            print(f"compiled {self.py_func.__name__}{sig}", flush=True)
    return launch


numba_dispatcher.CUDADispatcher.__getitem__ = compile_instead_of_launch

modules = [__import__(f"tinygen_kernels.{name}", fromlist=["_"]) for name in FAMILIES]
for module in modules:
    module.usable = lambda *arrays: True

rng = np.random.default_rng(0)
for name, entry in sorted(registry.references().items()):
    fast = registry.kernels_for(name).get(("cuda", "numba_cuda_v1"))
    if fast is None:
        continue
    args, kwargs = entry.example(rng, "test")
    variants = [kwargs]
    if name == "adam_step":
        variants.append(dict(kwargs, amsgrad=False, decoupled=True))
    if name in ("gelu_fwd", "gelu_bwd"):
        variants = [dict(kwargs, approximate="none"), dict(kwargs, approximate="tanh")]
    for kw in variants:
        for dtype in (np.float32, np.float64):
            cast = [[a.astype(dtype) for a in x] if isinstance(x, list)
                    else x.astype(dtype) if isinstance(x, np.ndarray) and x.dtype.kind == "f"
                    else x for x in args]
            out = fast(*cast, **kw)
            assert out is not NotImplemented, name

print(f"{len(compiled)} kernel signatures compiled to PTX for sm_90")
sys.exit(0)
