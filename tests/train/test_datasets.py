"""The workbench's dataset loading: the toys' training-set size (recipe default and --set)."""
from tinygen.train.datasets import load_data
from tinygen.train.recipes import Recipe
from tinygen.train.recipes.seq2seq import _decode, make_task


class _Recipe(Recipe):
    name, data_kinds = "toy-recipe", ("toy",)


def test_toy_train_size_default_option_and_recipe():
    assert len(load_data("moons", _Recipe).train) == 10_000          # the dataset's default
    assert len(load_data("moons", _Recipe, options={"train_size": "500"}).train) == 500
    _Recipe.toy_train_size = 700
    try:
        info = load_data("8gaussians", _Recipe)
        assert len(info.train) == 700 and len(info.test) == 2_000     # the test split is fixed
        assert info.shape == (2,)
    finally:
        del _Recipe.toy_train_size


def test_seq2seq_tasks_near_their_limit_draw_every_string_once():
    # asking for most of a task's strings draws them without replacement (rejecting repeats
    # took ~N log N draws there: hours for reverse at max_len 6); train and test stay disjoint
    for name, max_len, total in [("reverse", 4, 11110), ("add", 4, 10000), ("add", 3, 100)]:
        data = make_task(name, n_train=total - 10, n_test=10, max_len=max_len, seed=1)
        src = [_decode(s) for s in data.train.tensors[0].numpy()] + [
            _decode(s) for s in data.test.tensors[0].numpy()]
        assert len(set(src)) == len(src) == total
        for s, t in zip(data.train.tensors[0].numpy()[:50], data.train.tensors[1].numpy()[:50]):
            s, t = _decode(s), _decode(t)
            assert t == (s[::-1] if name == "reverse" else str(sum(map(int, s.split("+")))))
    # far from the limit the strings are the ones drawn before this change (its first three,
    # recorded from the earlier code): runs made with the default settings keep their data
    for name, seed, first in [("reverse", 0, ["6523000", "86", "56976559"]),
                              ("add", 3, ["856+2", "8+5821", "0+43"])]:
        data = make_task(name, n_train=50, n_test=5, max_len=8, seed=seed)
        assert [_decode(s) for s in data.train.tensors[0].numpy()[:3]] == first
