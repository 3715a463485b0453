"""Checkpoints: `tg.save(obj, path)` / `tg.load(path)`, one safetensors file, no pickle.

    tg.save(model.state_dict(), "model.safetensors")
    tg.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(), "epoch": 3}, "checkpoint.safetensors")
    ckpt = tg.load("checkpoint.safetensors")        # the same structure, tensors on the CPU
    model.load_state_dict(tg.load("model.safetensors", map_location="cuda"))

The file format (version 1) is a plain safetensors file, so any safetensors reader (Python,
Rust, `safetensors.torch.load_file`) reads its tensors:

- Tensors. Every Tensor (or NumPy array) in `obj` is one safetensors entry. For a flat state dict
  `{str: Tensor}` the entry names are the dict's keys, unchanged (`"fc.weight"`). In a nested
  structure they are the path joined by dots: `"model.fc.weight"`, `"optimizer.state.0.exp_avg"`
  (list positions and int keys as numbers); a name already taken gets a `#1`, `#2`... suffix. A
  Tensor object that appears twice (tied weights) is stored once and comes back as one object.
- `__metadata__` (safetensors' str -> str map):
    "format": "pt"                  the tensors use PyTorch's names and layouts
    "tinygen.format": "1"
    "tinygen.structure": JSON of `obj` with each tensor replaced by {"$tensor": name}
        ({"$tensor": name, "$numpy": true} for a NumPy array). Other values are JSON, with tags
        where JSON has no type of its own: {"$tuple": [...]}, {"$dict": [[key, value], ...]}
        for a dict whose keys are not all strings (an optimiser's {0: {...}}) or that has a key
        starting with "$", {"$dtype": "float32"}, {"$device": "cuda:0"}. Python floats
        round-trip exactly (NaN and infinities included); ints keep any size (RNG states).
    "tinygen.sha256": SHA-256 (hex) of the whole file as written with these 64 characters set
        to "0". Checked on load, so a flipped byte anywhere, in the header or the tensor data
        (which safetensors' own checks cannot see), is an error.
- What comes back: Tensors as plain CPU Tensors (requires_grad False; a Parameter comes back as
  a Tensor, which `Module.load_state_dict` copies in), dict subclasses (OrderedDict, Counter) as
  dicts, everything else as it was.
- Loading a file without "tinygen.structure" (one written by `safetensors.torch.save_file`, say)
  gives `{name: Tensor}` in file order, with no checksum to check. BF16 entries load as
  bfloat16 where NumPy has it (ml_dtypes installed), else as float32 (exactly).

Writes are atomic: the bytes go to a temporary file in the target's directory, are flushed and
fsync'ed, then `os.replace`d onto the final name (and the directory fsync'ed), so a crash mid-write
leaves the old file intact and never a partial file under the final name. A truncated or
corrupt file raises `CheckpointError` naming the file.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct

import numpy as np

from ..backend import dtypes as _dt
from ..backend.device import Device
from ..tensor import Tensor
from .atomic import atomic_write

FORMAT_VERSION = "1"
_SHA_KEY = "tinygen.sha256"
_STRUCT_KEY = "tinygen.structure"
_PLACEHOLDER = "0" * 64
_SHA_FIELD = f'"{_SHA_KEY}":"'.encode()


class CheckpointError(RuntimeError):
    """A checkpoint file that is truncated, corrupt, or not a safetensors file."""


# ---- save ---------------------------------------------------------------------------------------
def save(obj, f):
    """Write `obj` (a state dict, or nested dicts/lists/tuples of Tensors, NumPy arrays, numbers,
    strings, bools and None) to `f`, a path (written atomically) or a binary file object."""
    tensors, structure = _flatten(obj)
    metadata = {"format": "pt", "tinygen.format": FORMAT_VERSION,
                _STRUCT_KEY: json.dumps(structure, separators=(",", ":")),
                _SHA_KEY: _PLACEHOLDER}
    import safetensors.numpy  # lazy: start-up time; only saving needs it
    data = safetensors.numpy.save(tensors, metadata=metadata)
    header_end = 8 + struct.unpack("<Q", data[:8])[0]
    header = bytearray(data[:header_end])
    at = _sha_position(header)
    if at is None:                                   # cannot happen with safetensors' writer
        raise RuntimeError("tg.save: could not find the checksum field in the header")
    digest = hashlib.sha256(header)
    digest.update(memoryview(data)[header_end:])
    header[at:at + 64] = digest.hexdigest().encode()
    chunks = (bytes(header), memoryview(data)[header_end:])
    if hasattr(f, "write"):
        _write_all(f, chunks)
        return
    with atomic_write(f, "wb") as file:
        _write_all(file, chunks)


def _write_all(file, chunks):
    """Write the chunks to an open binary file (a seam tests patch to simulate a crash)."""
    for chunk in chunks:
        file.write(chunk)


def _flatten(obj):
    """obj -> ({entry name: contiguous CPU array}, JSON-able structure with {"$tensor": name})."""
    flat = _Flattener()
    if isinstance(obj, dict) and all(isinstance(k, str) and isinstance(v, (Tensor, np.ndarray))
                                     for k, v in obj.items()):
        # a plain state dict: its keys are the entries' names
        structure = {k: flat.tensor(v, [k], name=k) for k, v in obj.items()}
        if any(k.startswith("$") for k in obj):
            structure = {"$dict": [[k, v] for k, v in structure.items()]}
        return flat.tensors, structure
    return flat.tensors, flat.encode(obj, [])


class _Flattener:
    """Collects the arrays of an object (a tensor saved twice is stored once) and encodes the
    rest as JSON with markers: $tensor, $numpy, $tuple, $dict (non-string keys), $dtype, $device."""

    def __init__(self):
        self.tensors = {}
        self.by_id = {}             # id(value) -> (entry name, value: kept alive, so ids stay unique)

    def tensor(self, value, path, name=None):
        if id(value) in self.by_id:
            name = self.by_id[id(value)][0]
        else:
            name = name or self._new_name(path)
            self.tensors[name] = _to_cpu_array(value, ".".join(path))
            self.by_id[id(value)] = (name, value)
        return {"$tensor": name, "$numpy": True} if isinstance(value, np.ndarray) else \
            {"$tensor": name}

    def _new_name(self, path):
        name = ".".join(path) if path else "tensor"
        if name in self.tensors:
            i = 1
            while f"{name}#{i}" in self.tensors:
                i += 1
            name = f"{name}#{i}"
        return name

    def encode(self, value, path):
        if isinstance(value, (Tensor, np.ndarray)):
            return self.tensor(value, path)
        if value is None or isinstance(value, (bool, str, int, float)):
            return value
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, tuple):
            return {"$tuple": [self.encode(v, path + [str(i)]) for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(v, path + [str(i)]) for i, v in enumerate(value)]
        if isinstance(value, dict):
            if all(isinstance(k, str) and not k.startswith("$") for k in value):
                return {k: self.encode(v, path + [k]) for k, v in value.items()}
            return {"$dict": [[_encode_key(k, path), self.encode(v, path + [str(k)])]
                              for k, v in value.items()]}
        if isinstance(value, _dt.dtype):
            return {"$dtype": value.name}
        if isinstance(value, Device):
            return {"$device": str(value)}
        raise TypeError(_unsafe_message(value, path))


def _unsafe_message(value, path):
    """Why `value` cannot be saved, and what to save instead."""
    where = ".".join(path) or "the object"
    kind = type(value).__name__
    if callable(getattr(value, "state_dict", None)):
        advice = (f"save its state_dict() instead (tg.save(obj.state_dict(), path)), then "
                  f"rebuild the {kind} in code and call load_state_dict(tg.load(path))")
    else:
        advice = ("convert it to those first (a Tensor, or a dict of its fields), or pickle it "
                  "yourself if you will only ever load the file from a source you trust")
    return (f"tg.save: can't save a {kind} (at {where}): tinygen checkpoints hold only Tensors, "
            "NumPy arrays, numbers, strings, bools, None, and dicts/lists/tuples of them, never "
            f"pickled objects (loading a pickle can run any code); {advice}")


def _encode_key(key, path):
    if key is None or isinstance(key, (bool, int, float, str)):
        return key
    if isinstance(key, tuple):
        return {"$tuple": [_encode_key(k, path) for k in key]}
    raise TypeError(f"tg.save: can't save a dict key of type {type(key).__name__} "
                    f"(at {'.'.join(path) or 'the top level'})")


def _to_cpu_array(value, where):
    arr = value.detach().cpu()._data if isinstance(value, Tensor) else value
    if not isinstance(arr, np.ndarray):
        arr = np.asarray(arr)
    if arr.dtype.kind not in "biuf" or arr.dtype.byteorder == ">":
        raise TypeError(f"tg.save: can't store an array of dtype {arr.dtype} (at {where}) in "
                        "safetensors")
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)   # (keeps 0-d as 0-d)


def _sha_position(header):
    """Offset of the 64 hex characters of the checksum inside the header bytes, or None."""
    at = header.find(_SHA_FIELD)
    if at < 0 or header.find(_SHA_FIELD, at + 1) >= 0:
        return None
    at += len(_SHA_FIELD)
    return at if header[at + 64:at + 65] == b'"' else None


# ---- load ---------------------------------------------------------------------------------------
def load(f, map_location=None, *, device=None, weights_only=True):
    """Read a checkpoint written by `save` (or any safetensors file) back into its structure.

    f: a path or a binary file object. map_location / device: where the tensors go ("cpu" by
    default; "cuda", a tg.device). weights_only is accepted for PyTorch compatibility: loading
    never runs code, whatever its value. Raises CheckpointError for a truncated or corrupt file.
    """
    if device is None:
        device = map_location
    if hasattr(f, "read"):
        name, data = getattr(f, "name", "<file object>"), f.read()
    else:
        name = os.fspath(f)
        with open(name, "rb") as file:
            data = file.read()
    _refuse_pickle(name, data)
    header, header_end = _parse_header(name, data)
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{name}: corrupt header: __metadata__ is not a map")
    if _SHA_KEY in metadata:
        _verify_checksum(name, data, header_end, metadata[_SHA_KEY])
    import safetensors  # lazy: start-up time; only loading needs it
    try:
        views = safetensors.deserialize(data)       # the library validates offsets and sizes
    except Exception as e:  # noqa: BLE001  (SafetensorError; its type varies across versions)
        raise CheckpointError(f"{name}: not a valid safetensors file ({e})") from None
    arrays = {entry: _array_from_view(name, entry, view) for entry, view in views}
    dev = Device(device) if device is not None else None

    def tensor(entry):
        arr = arrays[entry]
        t = Tensor._make(arr, None, 0, False)
        return t.to(dev) if dev is not None and dev.type != "cpu" else t

    if _STRUCT_KEY not in metadata:
        order = sorted((k for k in header if k != "__metadata__"),
                       key=lambda k: header[k]["data_offsets"][0])
        return {k: tensor(k) for k in order}
    try:
        structure = json.loads(metadata[_STRUCT_KEY])
    except ValueError as e:
        raise CheckpointError(f"{name}: corrupt structure metadata ({e})") from None
    return _decode(structure, name, arrays, tensor, {})


# safetensors dtype codes -> NumPy (little-endian, as the format stores them)
_NP_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
              "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}


def _array_from_view(name, entry, view):
    """One deserialized entry -> a writable NumPy array (BF16 -> float32 without ml_dtypes)."""
    code, shape, raw = view["dtype"], view["shape"], view["data"]
    if code == "BF16":
        bits = np.frombuffer(raw, dtype="<u2")
        if _dt.bfloat16.np is not None:
            return bits.view(_dt.bfloat16.np).reshape(shape).copy()
        # bfloat16 is the top half of a float32: widen exactly
        return (bits.astype(np.uint32) << 16).view(np.float32).reshape(shape)
    if code not in _NP_DTYPES:
        raise CheckpointError(f"{name}: tensor {entry!r} has dtype {code}, which tinygen does not "
                              f"support (supported: {', '.join(_NP_DTYPES)}, BF16)")
    arr = np.frombuffer(raw, dtype=_NP_DTYPES[code]).reshape(shape)
    if not arr.flags.writeable:
        arr = arr.copy()
    return arr.astype(arr.dtype.newbyteorder("="), copy=False)


def _refuse_pickle(name, data):
    """A PyTorch `torch.save` file (a zip holding a pickle, or a bare pickle) is refused, with
    the one-time conversion that makes it loadable: unpickling it could run any code."""
    if data[8:9] == b"{":                     # a safetensors header: its JSON starts at byte 8
        return
    if data[:4] == b"PK\x03\x04" or data[:1] == b"\x80":
        raise CheckpointError(
            f"{name}: this is a pickle checkpoint (PyTorch's torch.save format); tinygen never "
            "unpickles, because loading a pickle can run any code. Convert it once where PyTorch "
            "is installed and you trust the file: `from safetensors.torch import save_file; "
            "save_file(torch.load(path), 'model.safetensors')` (a flat state dict of tensors), "
            "then tg.load('model.safetensors')")


def _parse_header(name, data):
    if len(data) < 8:
        raise CheckpointError(f"{name}: truncated or not a safetensors file ({len(data)} bytes; "
                              "a safetensors file starts with an 8-byte header length)")
    n = struct.unpack("<Q", data[:8])[0]
    if 8 + n > len(data):
        raise CheckpointError(f"{name}: truncated or corrupt: the header claims {n} bytes but the "
                              f"file has only {len(data)}")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{name}: corrupt header, not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{name}: corrupt header: expected a JSON object")
    for key, info in header.items():
        if key != "__metadata__" and not (isinstance(info, dict) and "data_offsets" in info):
            raise CheckpointError(f"{name}: corrupt header entry {key!r}")
    return header, 8 + n


def _verify_checksum(name, data, header_end, recorded):
    header = bytearray(data[:header_end])
    at = _sha_position(header)
    if at is None or header[at:at + 64].decode("ascii", "replace") != recorded:
        raise CheckpointError(f"{name}: corrupt header: its checksum field is damaged")
    header[at:at + 64] = _PLACEHOLDER.encode()
    digest = hashlib.sha256(header)
    digest.update(memoryview(data)[header_end:])
    if digest.hexdigest() != recorded:
        raise CheckpointError(f"{name}: checksum mismatch, the file is corrupt (SHA-256 "
                              f"{digest.hexdigest()}, the header records {recorded})")


def _decode(value, name, arrays, tensor, seen):
    if isinstance(value, list):
        return [_decode(v, name, arrays, tensor, seen) for v in value]
    if not isinstance(value, dict):
        return value
    if "$tensor" in value:
        entry = value["$tensor"]
        if entry not in arrays:
            raise CheckpointError(f"{name}: corrupt: the structure refers to a tensor {entry!r} "
                                  "that the file does not hold")
        key = (entry, bool(value.get("$numpy")))
        if key not in seen:
            seen[key] = arrays[entry] if value.get("$numpy") else tensor(entry)
        return seen[key]
    if "$tuple" in value:
        return tuple(_decode(v, name, arrays, tensor, seen) for v in value["$tuple"])
    if "$dict" in value:
        return {_decode_key(k): _decode(v, name, arrays, tensor, seen) for k, v in value["$dict"]}
    if "$dtype" in value:
        return _dt._by_name(value["$dtype"])
    if "$device" in value:
        return Device(value["$device"])
    return {k: _decode(v, name, arrays, tensor, seen) for k, v in value.items()}


def _decode_key(key):
    if isinstance(key, dict) and "$tuple" in key:
        return tuple(_decode_key(k) for k in key["$tuple"])
    return key
