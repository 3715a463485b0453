"""tinygen.nn.utils, as torch.nn.utils: gradient clipping, flat parameter vectors, pruning,
weight / spectral normalisation, conv-batchnorm fusion and variable-length sequences (rnn:
pad_sequence, PackedSequence).

    nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    vec = nn.utils.parameters_to_vector(model.parameters())
    nn.utils.prune.l1_unstructured(model.fc, "weight", amount=0.5)
    conv = nn.utils.weight_norm(nn.Conv2d(3, 8, 3))
    conv = nn.utils.parametrizations.weight_norm(nn.Conv2d(3, 8, 3))   # the parametrize form
    out = nn.utils.stateless.functional_call(model, params, (x,))    # tinygen.func's, warns
"""
from . import parametrizations, parametrize, prune, rnn, stateless  # noqa: F401
from .clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,
                        get_total_norm)
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .fusion import (fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval,
                     fuse_linear_bn_weights)
from .init import skip_init
from .memory_format import convert_conv2d_weight_memory_format, convert_conv3d_weight_memory_format
from .reparametrize import remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm", "parameters_to_vector", "vector_to_parameters",
           "fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval",
           "fuse_linear_bn_weights", "skip_init", "remove_spectral_norm", "remove_weight_norm",
           "spectral_norm", "weight_norm", "prune", "rnn", "parametrizations", "parametrize",
           "stateless", "convert_conv2d_weight_memory_format",
           "convert_conv3d_weight_memory_format"]
