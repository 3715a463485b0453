"""One global, seedable random generator per device (NumPy's PCG64 on the CPU).

Streams differ from PyTorch's: `manual_seed(s)` makes tinygen reproducible, not equal to torch.
"""
from __future__ import annotations

import numpy as np

_seed = 0
_generators: dict = {}


def manual_seed(seed: int):
    """Seed every device's generator. Returns the seed, like torch.manual_seed returns a generator."""
    global _seed
    _seed = int(seed)
    _generators.clear()
    return _seed


def initial_seed() -> int:
    return _seed


def generator(device=None):
    """The generator for `device` ('cpu' or 'cuda'), created from the current seed on first use."""
    kind = "cpu" if device is None else getattr(device, "type", str(device).split(":")[0])
    gen = _generators.get(kind)
    if gen is None:
        if kind == "cpu":
            gen = np.random.Generator(np.random.PCG64(_seed))
        else:
            import cupy
            gen = cupy.random.Generator(cupy.random.XORWOW(_seed))
        _generators[kind] = gen
    return gen


def get_state():
    """The CPU generator's state (for checkpoints and exact resume)."""
    return generator("cpu").bit_generator.state


def set_state(state):
    generator("cpu").bit_generator.state = state
