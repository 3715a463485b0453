"""DataParallel and data_parallel (torch.nn.parallel's) on a machine without GPUs to split over.

    model = nn.DataParallel(net)          # forward runs net directly; state_dict keys "module.*"

tinygen runs one process per device (DistributedDataParallel); single-process multi-GPU
replication is not implemented. As PyTorch's with no CUDA device, DataParallel holds the module
and calls it, ignoring device_ids, output_device and dim.
"""
from __future__ import annotations

from ..modules.module import Module


class DataParallel(Module):
    """Wraps `module`: forward calls module(*inputs, **kwargs); `.module` is the wrapped one, so
    state_dict keys carry the prefix "module.", as PyTorch's.

    Behaves as PyTorch's on a machine without CUDA devices: device_ids, output_device and dim are
    accepted unchecked and unused, device_ids is [], and output_device and dim are not set.
    Differs from PyTorch: tinygen never replicates over GPUs, even where CuPy sees several."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = []

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0,
                  module_kwargs=None):
    """PyTorch's functional DataParallel. Without CUDA devices PyTorch's raises
    RuntimeError("device type could not be determined"), and so does this one, always."""
    raise RuntimeError("device type could not be determined")
