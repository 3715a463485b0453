"""tg.save / tg.load: round trips, the file as plain safetensors, atomic writes, corruption."""
from __future__ import annotations

import io
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tinygen as tg
from tinygen.io import CheckpointError
from tinygen.io import checkpoint as ckpt_mod

safetensors_numpy = pytest.importorskip("safetensors.numpy")


def _state_dict():
    rng = np.random.default_rng(0)
    return {
        "fc.weight": tg.tensor(rng.standard_normal((3, 4)).astype(np.float32)),
        "fc.bias": tg.tensor(rng.standard_normal(3).astype(np.float32)),
        "double": tg.tensor(rng.standard_normal((2, 2))),
        "half": tg.tensor(rng.standard_normal(5).astype(np.float16)),
        "bn.num_batches_tracked": tg.tensor(7),
        "int32": tg.tensor(np.arange(4, dtype=np.int32)),
        "uint8": tg.tensor(np.arange(6, dtype=np.uint8).reshape(2, 3)),
        "mask": tg.tensor([True, False, True]),
        "scalar": tg.tensor(2.5),
        "empty": tg.zeros(0, 3),
        "transposed": tg.tensor(rng.standard_normal((3, 5))).t(),
    }


def assert_same(a, b, where="obj"):
    """Structural equality: same types, tensors equal in dtype, shape and values (NaN == NaN)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, tg.Tensor):
        assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape), where
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=where)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_state_dict_round_trip(tmp_path):
    sd = _state_dict()
    path = tmp_path / "model.safetensors"
    tg.save(sd, path)
    loaded = tg.load(path)
    assert_same(loaded, sd)
    assert all(t.device == tg.device("cpu") for t in loaded.values())
    loaded["fc.weight"].add_(1.0)                  # loaded tensors are ordinary, writable ones
    tg.save(sd, str(path))                         # str paths too, overwriting
    assert_same(tg.load(str(path), map_location="cpu"), sd)


def test_file_reads_back_unchanged_through_plain_safetensors(tmp_path):
    sd = _state_dict()
    path = tmp_path / "model.safetensors"
    tg.save(sd, path)
    arrays = safetensors_numpy.load_file(str(path))
    assert sorted(arrays) == sorted(sd)
    for k, t in sd.items():
        assert arrays[k].dtype == t.numpy().dtype and arrays[k].shape == tuple(t.shape)
        np.testing.assert_array_equal(arrays[k], t.numpy())
    from safetensors import safe_open
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
    assert meta["format"] == "pt" and len(meta["tinygen.sha256"]) == 64


def test_nested_checkpoint_round_trip(tmp_path):
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = tg.optim.Adam([a], lr=0.1)
    a.grad = tg.tensor([0.5, -0.5])
    opt.step()
    rng_state = np.random.default_rng(123).bit_generator.state      # 128-bit ints inside
    obj = {
        "model": {"w": tg.tensor([[1.0, 2.0]]), "b": tg.tensor([0.0])},
        "optimizer": opt.state_dict(),
        "epoch": 3, "step": 1200, "lr": 0.1 / 3, "name": "run \"1\" ü", "done": False,
        "history": [0.5, 0.25, float("nan"), float("inf"), -float("inf")],
        "pair": (1, (2.0, None)), "rng": rng_state, "empty": {}, "nothing": None,
        "int_keys": {0: "a", 1: [1, 2]}, "$dollar": {"$tensor": "not a tensor"},
        "a.b": tg.tensor([1.0]), "a": {"b": tg.tensor([2.0])},      # clashing dotted names
        "numpy": np.arange(3.0), "dtype": tg.float64, "device": tg.device("cpu"),
    }
    path = tmp_path / "ckpt.safetensors"
    tg.save(obj, path)
    loaded = tg.load(path)
    assert_same(loaded, obj)
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    np.random.default_rng().bit_generator.state = loaded["rng"]       # a usable RNG state


def test_shared_tensors_are_stored_once_and_stay_shared(tmp_path):
    w = tg.randn(4, 4)
    path = tmp_path / "tied.safetensors"
    tg.save({"encoder.weight": w, "decoder.weight": w}, path)
    assert list(safetensors_numpy.load_file(str(path))) == ["encoder.weight"]
    loaded = tg.load(path)
    assert loaded["encoder.weight"] is loaded["decoder.weight"]
    np.testing.assert_array_equal(loaded["decoder.weight"].numpy(), w.numpy())


def test_file_objects_and_unsupported_values(tmp_path):
    buf = io.BytesIO()
    sd = _state_dict()
    tg.save(sd, buf)
    buf.seek(0)
    assert_same(tg.load(buf), sd)
    with pytest.raises(TypeError, match=r"can't save a set \(at extra.0\)"):
        tg.save({"extra": [{1, 2}]}, tmp_path / "bad.safetensors")
    assert not (tmp_path / "bad.safetensors").exists()


@pytest.mark.skipif(not tg.cuda.is_available(), reason="needs CUDA")
def test_map_location_cuda(tmp_path):
    path = tmp_path / "m.safetensors"
    tg.save(_state_dict(), path)
    loaded = tg.load(path, map_location="cuda")
    assert all(t.device.type == "cuda" for t in loaded.values())


# ---- PyTorch-written files ----------------------------------------------------------------------
@pytest.mark.parametrize("make", ["linear", "conv2d", "sequential"])
def test_torch_written_state_dict_loads(make, tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(0)
    module = {"linear": lambda: torch.nn.Linear(5, 3),
              "conv2d": lambda: torch.nn.Conv2d(3, 4, 3, groups=1),
              "sequential": lambda: torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3),
                                                        torch.nn.BatchNorm2d(2),
                                                        torch.nn.Linear(4, 2))}[make]()
    sd = module.state_dict()
    path = tmp_path / "torch.safetensors"
    safetensors_torch.save_file(sd, str(path))
    loaded = tg.load(path)
    assert sorted(loaded) == sorted(sd)
    for k, v in sd.items():
        assert tuple(loaded[k].shape) == tuple(v.shape), k
        assert loaded[k].dtype.name == str(v.dtype)[len("torch."):], k
        np.testing.assert_array_equal(loaded[k].numpy(), v.numpy())
    # and tinygen's files read back through safetensors.torch
    tg.save(loaded, tmp_path / "back.safetensors")
    back = safetensors_torch.load_file(str(tmp_path / "back.safetensors"))
    for k, v in sd.items():
        assert torch.equal(back[k], v), k


def test_torch_written_bfloat16_loads_and_other_dtypes_fail_clearly(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    w = torch.randn(4, 3).to(torch.bfloat16)
    path = tmp_path / "bf16.safetensors"
    safetensors_torch.save_file({"w": w}, str(path))
    loaded = tg.load(path)["w"]
    np.testing.assert_array_equal(np.asarray(loaded.numpy(), np.float32), w.float().numpy())
    if hasattr(torch, "float8_e4m3fn"):
        safetensors_torch.save_file({"f8": torch.zeros(2).to(torch.float8_e4m3fn)}, str(path))
        with pytest.raises(CheckpointError, match=r"'f8' has dtype F8_E4M3"):
            tg.load(path)


# ---- atomic writes ------------------------------------------------------------------------------
def _crashing_writer(exc):
    def write_half_then_fail(file, chunks):
        data = b"".join(bytes(c) for c in chunks)
        file.write(data[:len(data) // 2])
        file.flush()
        raise exc
    return write_half_then_fail


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    old = _state_dict()
    tg.save(old, path)
    old_bytes = path.read_bytes()
    monkeypatch.setattr(ckpt_mod, "_write_all", _crashing_writer(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        tg.save({"new": tg.ones(1000)}, path)
    assert path.read_bytes() == old_bytes
    assert_same(tg.load(path), old)
    assert os.listdir(tmp_path) == ["model.safetensors"]          # the temporary file is gone
    with pytest.raises(KeyboardInterrupt):
        monkeypatch.setattr(ckpt_mod, "_write_all", _crashing_writer(KeyboardInterrupt()))
        tg.save({"new": tg.ones(10)}, tmp_path / "fresh.safetensors")
    assert os.listdir(tmp_path) == ["model.safetensors"]


@pytest.mark.parametrize("existing", [True, False])
def test_process_killed_mid_write_leaves_no_partial_file(tmp_path, existing):
    path = tmp_path / "model.safetensors"
    if existing:
        tg.save({"w": tg.arange(10.0)}, path)
        old_bytes = path.read_bytes()
    script = textwrap.dedent(f"""
        import os
        import tinygen as tg
        from tinygen.io import checkpoint

        def die_halfway(file, chunks):
            data = b"".join(bytes(c) for c in chunks)
            file.write(data[:len(data) // 2])
            file.flush()
            os._exit(17)                   # no cleanup, no exception handlers: a hard crash

        checkpoint._write_all = die_halfway
        tg.save({{"w": tg.ones(100000)}}, {str(path)!r})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120,
                            check=False)
    assert result.returncode == 17, result.stderr.decode()
    if existing:
        assert path.read_bytes() == old_bytes
        assert tg.load(path)["w"].tolist() == list(range(10))
    else:
        assert not path.exists()
    # what the crash left is only a hidden temporary file, never the final name
    leftovers = [n for n in os.listdir(tmp_path) if n != "model.safetensors"]
    assert all(n.startswith(".model.safetensors.") and n.endswith(".tmp") for n in leftovers)


# ---- corruption ---------------------------------------------------------------------------------
def _saved_file(tmp_path):
    path = tmp_path / "model.safetensors"
    tg.save({"w": tg.arange(12.0).reshape(3, 4), "b": tg.tensor([1.0, 2.0]), "epoch": 3}, path)
    return path, path.read_bytes()


def _header_end(data):
    return 8 + int.from_bytes(data[:8], "little")


@pytest.mark.parametrize("keep", ["empty", "4 bytes", "half header", "header only", "half data",
                                  "one byte short"])
def test_truncated_file_raises_naming_the_file(tmp_path, keep):
    path, data = _saved_file(tmp_path)
    end = _header_end(data)
    n = {"empty": 0, "4 bytes": 4, "half header": end // 2, "header only": end,
         "half data": (end + len(data)) // 2, "one byte short": len(data) - 1}[keep]
    path.write_bytes(data[:n])
    with pytest.raises(CheckpointError, match=str(path)):
        tg.load(path)


def test_every_flipped_byte_is_detected(tmp_path):
    """Header or data, each single-byte change raises CheckpointError (the data ones only the
    checksum can see: safetensors would load them silently)."""
    path, data = _saved_file(tmp_path)
    end = _header_end(data)
    assert len(data) - end == 12 * 4 + 2 * 4
    for i in range(len(data)):
        corrupt = bytearray(data)
        corrupt[i] ^= 0x01 if i >= end else 0xFF
        path.write_bytes(bytes(corrupt))
        with pytest.raises(CheckpointError, match=str(path)):
            tg.load(path)
    corrupt = bytearray(data)
    corrupt[end + 5] ^= 0x01
    path.write_bytes(bytes(corrupt))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        tg.load(path)


def test_not_a_safetensors_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a checkpoint at all")
    with pytest.raises(CheckpointError, match="notes.txt"):
        tg.load(path)
    with pytest.raises(FileNotFoundError):
        tg.load(tmp_path / "missing.safetensors")


def test_file_without_checksum_loads_without_verifying(tmp_path):
    path = tmp_path / "plain.safetensors"
    arrays = {"a": np.arange(4, dtype=np.float32), "b": np.ones((2, 2), np.float64)}
    safetensors_numpy.save_file(arrays, str(path), metadata={"format": "np"})
    loaded = tg.load(path)
    assert list(loaded) == ["b", "a"] or list(loaded) == ["a", "b"]
    for k, v in arrays.items():
        np.testing.assert_array_equal(loaded[k].numpy(), v)
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[:-3]))
    with pytest.raises(CheckpointError, match="plain.safetensors"):
        tg.load(path)
