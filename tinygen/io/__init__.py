"""tinygen.io: checkpoints (`save` / `load`, safetensors files, no pickle), DLPack interchange, and
`atomic_write`, the one way tinygen writes a file in place.

`tg.save`, `tg.load` and `tg.from_dlpack` are these functions (tinygen/__init__.py forwards them).
"""
from .atomic import atomic_write, commit_file
from .checkpoint import CheckpointError, load, save
from .dlpack import from_dlpack

__all__ = ["CheckpointError", "atomic_write", "commit_file", "from_dlpack", "load", "save"]
