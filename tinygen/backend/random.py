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


RESEEDS = [0]          # manual_seed calls so far (a captured step that seeds runs eagerly)


def manual_seed(seed: int):
    """Seed every device's generator. Returns the seed, like torch.manual_seed returns a generator."""
    global _seed
    _seed = int(seed)
    _generators.clear()
    RESEEDS[0] += 1
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


# ---- tg.Generator: an explicit stream, drawn exactly as PyTorch's CPU generator draws -----------
_TORCH_DEFAULT_SEED = 67280421310721     # torch.Generator()'s seed before manual_seed


class Generator:
    """An explicit random stream, as `torch.Generator` (CPU): pass it as `generator=` to
    `tg.randperm`, `tg.randint`, `random_split`, the samplers and `DataLoader`.

        g = tg.Generator().manual_seed(42)
        tg.randperm(10, generator=g).tolist()      # [2, 6, 1, 8, 4, 5, 0, 9, 3, 7], as torch gives

    It is a Mersenne Twister (MT19937) seeded the way PyTorch seeds its CPU generator (the low
    32 bits of the seed), and `randperm`, `randint`, `random64` and `uniform` consume its 32-bit
    outputs as PyTorch's CPU kernels do, so the same seed gives PyTorch's index sequences (tests
    check this against torch). Deviations: CPU only (device="cpu"); `get_state()` returns the
    NumPy bit-generator state (a dict), not a ByteTensor.
    """

    def __init__(self, device="cpu"):
        kind = getattr(device, "type", str(device).split(":")[0])
        if kind != "cpu":
            raise ValueError(f"tg.Generator: only device='cpu' is supported, got {device!r}")
        self.device = device
        self.manual_seed(_TORCH_DEFAULT_SEED)

    def manual_seed(self, seed):
        """Restart the stream from `seed` (an int); returns the generator, as in PyTorch."""
        if isinstance(seed, bool) or int(seed) != seed:
            raise TypeError(f"Generator.manual_seed: expected an int seed, got {seed!r}")
        self._seed = int(seed)
        self._bits = np.random.MT19937(0)
        self._bits._legacy_seeding(self._seed & 0xFFFFFFFF)   # mt19937's own seeding, as torch
        return self

    def seed(self):
        """Seed with a non-deterministic number (from the OS) and return it."""
        seed = int(np.random.SeedSequence().entropy) & 0xFFFFFFFFFFFFFFFF
        self.manual_seed(seed)
        return seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        return self._bits.state

    def set_state(self, state):
        self._bits.state = state
        return self

    # -- draws, each as PyTorch's CPU kernel makes it from the 32-bit outputs ---------------------
    def random32(self, n):
        """n raw 32-bit outputs (uint64 array)."""
        return self._bits.random_raw(int(n))

    def random64(self, n):
        """n 64-bit numbers, each from two outputs, the first in the high half (torch's
        make64BitsFrom32Bits)."""
        raw = self.random32(2 * int(n))
        return (raw[0::2] << np.uint64(32)) | raw[1::2]

    def randperm(self, n):
        """A permutation of 0..n-1: Fisher-Yates with `random() % (n - i)`, as randperm_cpu."""
        n = int(n)
        order = np.arange(n, dtype=np.int64)
        if n < 2:
            return order
        if n >= 0xFFFFFFFF // 20:
            raise ValueError(f"Generator.randperm: n={n} is too large")
        draws = self.random32(n - 1)
        picks = (draws % np.arange(n, 1, -1, dtype=np.uint64)).astype(np.int64)
        for i, z in enumerate(picks.tolist()):          # sequential by nature: each swap moves
            j = i + z                                   # what the next ones see
            order[i], order[j] = order[j], order[i]
        return order

    def randint(self, low, high, n):
        """n integers in [low, high): `random() % range + low` (random64 for ranges >= 2^32)."""
        span = int(high) - int(low)
        if span <= 0:
            raise ValueError(f"Generator.randint: expected low < high, got [{low}, {high})")
        draws = self.random64(n) if span >= 2**32 else self.random32(n)
        return (draws % np.uint64(span)).astype(np.int64) + int(low)

    def uniform(self, n):
        """n float64 draws in [0, 1) from 53 bits of random64, as uniform_real_distribution."""
        bits = self.random64(n) & np.uint64((1 << 53) - 1)
        return bits.astype(np.float64) / float(1 << 53)

    def __repr__(self):
        return f"tg.Generator(device='cpu', initial_seed={self._seed})"
