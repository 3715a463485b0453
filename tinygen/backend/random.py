"""One global, seedable random generator per device (NumPy's PCG64 on the CPU).

Streams differ from PyTorch's: `manual_seed(s)` makes tinygen reproducible, not equal to torch.

    with tg.random.fork_rng(seed=7):     # evaluation draws from its own stream...
        samples = model.sample(64)
    loss = step()                        # ...and the training stream goes on as if it had not run
"""
from __future__ import annotations

import contextlib

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
    """The generator for `device` ('cpu', 'cuda' or 'test'), created from the seed on first use.
    The test device draws from a NumPy generator of its own (its arrays are NumPy's)."""
    kind = "cpu" if device is None else getattr(device, "type", str(device).split(":")[0])
    gen = _generators.get(kind)
    if gen is None:
        if kind in ("cpu", "test"):
            gen = np.random.Generator(np.random.PCG64(_seed))
        else:
            import cupy  # lazy: CuPy is optional
            gen = cupy.random.Generator(cupy.random.XORWOW(_seed))
        _generators[kind] = gen
    return gen


def get_state(device="cpu"):
    """A generator's state, as plain Python values (for checkpoints and exact resume). The CPU
    and test devices' states can be saved; CuPy's generators cannot (a resumed GPU run draws
    from a fresh stream)."""
    gen = generator(device)
    if not isinstance(gen, np.random.Generator):
        raise NotImplementedError(f"get_state: the {device} generator's state cannot be saved")
    return gen.bit_generator.state


def set_state(state, device="cpu"):
    generator(device).bit_generator.state = state


@contextlib.contextmanager
def fork_rng(seed=None):
    """Run a block on its own generators, then put every device's stream back as it was.

    seed: seed the block's generators with it (None: continue from copies of the current ones).
    Like torch.random.fork_rng, except that it also takes the seed."""
    saved_seed, saved = _seed, dict(_generators)
    if seed is None:
        for kind, gen in saved.items():
            _generators[kind] = _copy(gen)
    else:
        manual_seed(seed)
    try:
        yield
    finally:
        _restore(saved_seed, saved)


def _copy(gen):
    if not isinstance(gen, np.random.Generator):     # CuPy's generators cannot be copied: shared
        return gen
    new = np.random.Generator(type(gen.bit_generator)())
    new.bit_generator.state = gen.bit_generator.state
    return new


def _restore(seed, generators):
    global _seed
    _seed = seed
    _generators.clear()
    _generators.update(generators)
