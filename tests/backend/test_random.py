"""fork_rng: a block with its own random stream, after which every stream goes on unchanged."""
import numpy as np

import tinygen as tg
from tinygen.backend.random import fork_rng


def test_fork_rng_with_a_seed_leaves_the_outer_stream_untouched():
    tg.manual_seed(3)
    expected = [tg.randn(4).numpy().copy() for _ in range(2)]
    tg.manual_seed(3)
    first = tg.randn(4).numpy().copy()
    with fork_rng(seed=11):
        inner = tg.randn(4).numpy().copy()
        tg.randn(100)
    second = tg.randn(4).numpy().copy()
    np.testing.assert_array_equal(first, expected[0])
    np.testing.assert_array_equal(second, expected[1])
    with fork_rng(seed=11):
        np.testing.assert_array_equal(tg.randn(4).numpy(), inner)     # the seed decides


def test_fork_rng_without_a_seed_continues_from_a_copy():
    tg.manual_seed(5)
    tg.randn(2)
    with fork_rng():
        inside = tg.randn(3).numpy().copy()
    after = tg.randn(3).numpy().copy()
    np.testing.assert_array_equal(inside, after)     # the same draws: the block used a copy
    assert tg.initial_seed() == 5
