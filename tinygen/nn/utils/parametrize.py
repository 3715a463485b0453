"""`tg.nn.utils.parametrize`, as `torch.nn.utils.parametrize`: the machinery under
parametrizations.weight_norm / spectral_norm (parametrizations.py), under PyTorch's module name,
and parametrize.cached()."""
from .parametrizations import (  # noqa: F401
    ParametrizationList, cached, is_parametrized, register_parametrization,
    remove_parametrizations, type_before_parametrizations,
)

__all__ = ["ParametrizationList", "cached", "is_parametrized", "register_parametrization",
           "remove_parametrizations", "type_before_parametrizations"]
