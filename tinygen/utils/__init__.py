"""`tg.utils`, as `torch.utils`: `tg.utils.data` is `tinygen.data` under PyTorch's path, so
`torch.utils.data.DataLoader` ports as `tg.utils.data.DataLoader`, and
`from tinygen.utils.data import DataLoader` works too."""
import sys

from .. import data
from . import checkpoint

sys.modules[__name__ + ".data"] = data      # `import tinygen.utils.data` finds the same module

__all__ = ["data", "checkpoint"]
