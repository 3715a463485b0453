"""torch.nn.utils.stateless.functional_call: deprecated since PyTorch 2.0 (it warns) for
torch.func.functional_call, which tinygen.func holds (tinygen.func sits below nn in the import
layers, so the code lives there).

    out = nn.utils.stateless.functional_call(model, params, (x,))   # FutureWarning, as PyTorch
"""
from __future__ import annotations

import warnings

from ...func import _functional_call


def functional_call(module, parameters_and_buffers, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """torch.nn.utils.stateless.functional_call: the same call on one dict, with PyTorch's
    FutureWarning (deprecated since 2.0 for torch.func.functional_call)."""
    warnings.warn("This API is deprecated as of PyTorch 2.0 and will be removed in a future "
                  "version of PyTorch. Please use torch.func.functional_call instead which is a "
                  "drop-in replacement for this API.", FutureWarning, stacklevel=2)
    return _functional_call(module, parameters_and_buffers, args, kwargs,
                            tie_weights=tie_weights, strict=strict)
