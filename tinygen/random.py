"""`tg.random`, as torch.random: seeding and forking tinygen's random streams.

    tg.random.manual_seed(0)
    with tg.random.fork_rng(seed=7):     # a block on its own stream; the outer one is untouched
        ...
"""
from .backend.random import Generator, fork_rng, initial_seed, manual_seed
from .backend.random import get_state as get_rng_state
from .backend.random import set_state as set_rng_state

__all__ = ["Generator", "fork_rng", "get_rng_state", "set_rng_state", "initial_seed", "manual_seed"]
