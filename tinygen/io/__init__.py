"""tinygen.io: checkpoints (`save` / `load`, safetensors files, no pickle) and DLPack interchange.

`tg.save`, `tg.load` and `tg.from_dlpack` are these functions (tinygen/__init__.py forwards them).
"""
from .checkpoint import CheckpointError, load, save
from .dlpack import from_dlpack

__all__ = ["CheckpointError", "from_dlpack", "load", "save"]
