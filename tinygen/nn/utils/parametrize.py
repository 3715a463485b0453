"""`tg.nn.utils.parametrize`, as `torch.nn.utils.parametrize`: the machinery under
parametrizations.weight_norm / spectral_norm (parametrizations.py), under PyTorch's module name."""
from .parametrizations import (  # noqa: F401
    ParametrizationList, is_parametrized, register_parametrization, remove_parametrizations,
    type_before_parametrizations,
)

__all__ = ["ParametrizationList", "is_parametrized", "register_parametrization",
           "remove_parametrizations", "type_before_parametrizations"]
