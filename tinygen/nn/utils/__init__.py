"""tinygen.nn.utils, as torch.nn.utils: gradient clipping, flat parameter vectors, pruning.

    nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    vec = nn.utils.parameters_to_vector(model.parameters())
    nn.utils.prune.l1_unstructured(model.fc, "weight", amount=0.5)
"""
from . import prune  # noqa: F401
from .clip_grad import clip_grad_norm_, clip_grad_value_, get_total_norm
from .convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "parameters_to_vector",
           "vector_to_parameters", "prune"]
