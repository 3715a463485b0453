"""tg.save / tg.load of plain containers (issue #14 B): dicts, lists, tuples, ints, floats,
strings, bools, None and Tensors, at any depth, round-trip exactly; arbitrary objects are refused
with an error naming the safe alternative; pickle files are never unpickled."""
import io
import math
import pickle

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn as nn
from tinygen.io import CheckpointError

CONTAINERS = {
    "int": 7, "float": 2.5, "negative zero": -0.0, "huge int": 2**90 + 1, "string": "héllo",
    "none": None, "bool": True, "empty dict": {}, "empty list": [], "empty tuple": (),
    "list": [1, 2.0, "x", None, False], "nested tuples": (1, (2, (3, "four")), []),
    "int keys": {0: {"step": 3}, 1: {"step": 4}}, "tuple keys": {(1, "a"): "v"},
    "dollar keys": {"$tensor": "not a tensor", "$tuple": [1]},
    "mixed": {"epoch": 3, "lr": [0.1, 0.01], "best": None, "name": "run-1", "ok": True},
}


def _roundtrip(obj):
    buffer = io.BytesIO()
    tg.save(obj, buffer)
    buffer.seek(0)
    return tg.load(buffer)


def _same(a, b):
    if isinstance(a, tg.Tensor):
        return isinstance(b, tg.Tensor) and a.dtype == b.dtype and \
            np.array_equal(a.numpy(), b.numpy())
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return math.copysign(1, a) == math.copysign(1, b) and a == b
    return a == b


@pytest.mark.parametrize("name", list(CONTAINERS))
def test_plain_containers_round_trip_exactly(name):
    obj = CONTAINERS[name]
    assert _same(obj, _roundtrip(obj))


def test_special_floats_and_tensors_of_every_dtype_in_containers():
    obj = {"floats": [math.nan, math.inf, -math.inf, 1e-310],
           "tensors": [tg.tensor([1.5, -2.0], dtype=tg.float64), tg.tensor([1, 2], dtype=tg.int32),
                       tg.tensor([True, False]), tg.zeros(0, 3), tg.tensor(3.0)],
           "pair": (tg.arange(4), 4)}
    back = _roundtrip(obj)
    assert _same(obj, back)
    assert isinstance(back["pair"], tuple) and back["tensors"][4].shape == ()


def test_model_optimizer_and_scheduler_state_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    optimizer = tg.optim.Adam(model.parameters(), lr=0.01)
    model(tg.randn(5, 3)).sum().backward()
    optimizer.step()
    scheduler = tg.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "scheduler": scheduler.state_dict(), "epoch": 1}
    tg.save(checkpoint, tmp_path / "ckpt.safetensors")
    back = tg.load(tmp_path / "ckpt.safetensors")
    assert back["epoch"] == 1 and list(back["optimizer"]["state"]) == [0, 1, 2, 3]
    fresh = tg.optim.Adam(model.parameters(), lr=0.01)
    fresh.load_state_dict(back["optimizer"])
    assert _same(fresh.state_dict()["state"][0]["exp_avg"], optimizer.state[
        model[0].weight]["exp_avg"])


@pytest.mark.parametrize("value,names", [
    (nn.Linear(2, 2), ["Linear", "state_dict()", "load_state_dict"]),
    ({"opt": tg.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)}, ["SGD", "at opt", "state_dict"]),
    ({"a": [{1, 2}]}, ["set", "at a.0", "pickle it yourself"]),
    (b"raw", ["bytes", "never pickled objects"]),
    (1 + 2j, ["complex"]),
    (len, ["builtin_function_or_method"]),
])
def test_arbitrary_objects_are_refused_naming_the_safe_alternative(value, names, tmp_path):
    with pytest.raises(TypeError) as error:
        tg.save(value, tmp_path / "bad.safetensors")
    for name in names:
        assert name in str(error.value)
    assert not (tmp_path / "bad.safetensors").exists()


class _Payload:
    """Unpickling this runs os.system: what tg.load must never do."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.path}",))


def test_a_pickle_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    with pytest.raises(CheckpointError, match="never unpickles.*safetensors.torch import"):
        tg.load(path)
    assert not marker.exists()


def test_a_pytorch_torch_save_file_is_refused_with_the_conversion():
    torch = pytest.importorskip("torch")
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buffer)
    buffer.seek(0)
    with pytest.raises(CheckpointError, match="pickle checkpoint"):
        tg.load(buffer)
