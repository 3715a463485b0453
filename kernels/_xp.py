"""`array_module(x)`: numpy or cupy, whichever owns x. Kernels use this, never tinygen itself."""
import numpy as np


def array_module(x):
    if type(x) is np.ndarray or not type(x).__module__.startswith("cupy"):
        return np
    import cupy
    return cupy
