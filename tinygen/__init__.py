"""tinygen: a from-scratch deep-learning engine in PyTorch's dialect.

    import tinygen as tg
    x = tg.randn(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()          # x.grad == 2 * x

Everything `tg.*` names is re-exported here explicitly from the layer that defines it: dtypes and
devices from backend/, autograd's switches, the Tensor, the creation functions (creation.py) and
the math (ops/, the same functions Tensor methods delegate to). nn, optim, data, io and the
model zoo load on first use (`tg.nn`), so `import tinygen` stays light.
"""
from .backend import (
    device, Device, dtype, float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8,
    qint8, half, float_ as float, double, long, int_ as int, manual_seed, get_default_dtype,
    set_default_dtype, initial_seed, Size,
)
from .backend.dtypes import bool_ as bool
from .backend.settings import (
    finfo, iinfo, get_num_threads, set_num_threads, set_float32_matmul_precision,
    get_float32_matmul_precision, use_deterministic_algorithms,
    are_deterministic_algorithms_enabled, is_deterministic_algorithms_warn_only_enabled,
)
from .backend import dtypes as _dtypes
from .autograd import (no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode,
                       is_inference_mode_enabled)
from . import autograd, cuda, random
from .compiler import compile
from .random import Generator, get_rng_state, set_rng_state
from .tensor import Tensor, is_tensor, set_printoptions
from .creation import (
    tensor, from_numpy, as_tensor, zeros, ones, empty, full, zeros_like, ones_like, empty_like,
    full_like, arange, linspace, logspace, eye, rand, randn, randint, randperm, rand_like,
    randn_like, randint_like, normal, scalar_tensor, tril_indices, triu_indices,
)
from .legacy import (
    FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor, CharTensor,
    ByteTensor, BoolTensor, memory_format, contiguous_format, channels_last, channels_last_3d,
    preserve_format, set_default_tensor_type,
)
from .ops.elementwise import (
    neg, exp, expm1, log, log1p, log2, log10, sqrt, rsqrt, reciprocal, square, abs, sign, floor,
    ceil, round, sin, cos, tanh, sigmoid, erf, clamp, clip, clamp_min, clamp_max, isnan, isinf,
    isfinite, logical_not,
)
from .ops.elementwise import neg as negative
from .ops.activation import relu
from .ops.binary import (
    add, sub, mul, div, pow, remainder, maximum, minimum, lerp, where, eq, ne, lt, le, gt, ge,
    logical_and, logical_or, logical_xor, allclose, isclose, equal,
)
from .ops.reduce import (
    sum, mean, var, std, prod, amax, amin, max, min, argmax, argmin, logsumexp, norm, cumsum,
    softmax, log_softmax, any, all,
)
from .ops.shape import (
    reshape, flatten, unflatten, permute, transpose, t, squeeze, unsqueeze, split, chunk, unbind,
    flip, roll, narrow, tril, triu, cat, concat, stack, broadcast_tensors,
)
from .ops.index import gather, scatter_add, index_select, masked_fill, sort, argsort, topk
from .ops.linalg import (
    matmul, mm, bmm, mv, dot, vdot, einsum, addmm, addbmm, baddbmm, addmv, addr, outer, ger,
    inner, tensordot, kron, cross, chain_matmul, matrix_power,
)
from .ops.diagonal import block_diag, diag, diagonal, diag_embed, diagflat, trace
from .ops.decomp import (
    cholesky, cholesky_solve, cholesky_inverse, solve_triangular, inverse, det, slogdet, logdet,
)
from .ops.trig import (
    tan, asin, acos, atan, atan2, sinh, cosh, asinh, acosh, atanh, arcsin, arccos, arctan,
    arctan2, arcsinh, arccosh, arctanh, deg2rad, rad2deg, sinc,
)
from .ops.special import lgamma, digamma, polygamma, mvlgamma, erfc, erfinv
from .ops.bessel import i0
from .ops.special_more import igamma, igammac
from .numerics import i0_
from .ops.pointwise import (
    exp2, logaddexp, logaddexp2, hypot, fmod, frac, trunc, fix, sgn, heaviside, copysign,
    nan_to_num, signbit, xlogy, logit, float_power, fmax, fmin, addcmul, addcdiv, ldexp, gcd,
    lcm, bitwise_not, bitwise_left_shift, bitwise_right_shift, isposinf, isneginf, isreal,
    positive, multiply, subtract, divide, true_divide, absolute, greater, greater_equal, less,
    less_equal, not_equal, nextafter, renorm, conj, resolve_conj, resolve_neg, real, is_conj,
    is_neg,
)
from .ops.binary import bitwise_and, bitwise_or, bitwise_xor, floor_divide
from .ops.stats import (
    cumprod, cummax, cummin, logcumsumexp, median, nanmedian, mode, kthvalue, quantile,
    nanquantile, aminmax, std_mean, var_mean, nansum, nanmean, count_nonzero, msort, cov,
    corrcoef,
)
from .ops.arrange import (
    movedim, moveaxis, swapdims, fliplr, flipud, rot90, atleast_1d, atleast_2d, atleast_3d,
    hstack, vstack, row_stack, dstack, column_stack, tensor_split, hsplit, vsplit, dsplit,
    split_with_sizes, tile, ravel, broadcast_to, broadcast_shapes, meshgrid, cartesian_prod,
    combinations, repeat_interleave, diff, select, narrow_copy,
)
from .ops.shape import transpose as swapaxes
from .ops.scatter import (
    scatter, index_add, index_copy, index_fill, index_put, masked_scatter, masked_select, take,
    take_along_dim, put,
)
from .ops.scatter_reduce import scatter_reduce, index_reduce
from .ops.search import (
    nonzero, argwhere, unique, unique_consecutive, bincount, histc, histogram, searchsorted,
    bucketize, isin,
)
from .ops.inplace import (
    abs_, neg_, negative_, exp_, exp2_, expm1_, log_, log1p_, log2_, log10_, sqrt_, rsqrt_,
    reciprocal_, square_, sin_, cos_, tan_, asin_, acos_, atan_, sinh_, cosh_, asinh_, acosh_,
    atanh_, arcsin_, arccos_, arctan_, arcsinh_, arccosh_, arctanh_, tanh_, sigmoid_, relu_,
    floor_, ceil_, round_, trunc_, fix_, frac_, erf_, erfc_, logit_, nan_to_num_, deg2rad_,
    rad2deg_, sinc_, clamp_, clamp_min_, clamp_max_, clip_, xlogy_, ldexp_, addmv_, fill_,
    zero_,
)
from .ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from .ops.fold import conv3d, conv_transpose3d
from .ops.pool import max_pool1d, max_pool2d, avg_pool1d, adaptive_avg_pool1d
from .ops.pool_extra import max_pool3d, max_pool1d_with_indices
from .ops.norm import (
    layer_norm, group_norm, rms_norm, cosine_similarity, pairwise_distance, cdist, dist, pdist,
)
from .ops.activation import (
    selu, celu, threshold, hardshrink, prelu, rrelu, selu_, celu_, threshold_, rrelu_,
)
from .ops.dropout import dropout, alpha_dropout, feature_alpha_dropout
from .ops.linalg import bilinear
# torch.*'s array helpers, factories, windows and switches; and its ATen forms of functional ops
# (other positional orders, an int `reduction`, other return values than F.*: aten.py)
from .numerics import (
    concatenate, result_type, can_cast, fill, rsub, frexp, unravel_index, vander, gradient,
    trapezoid, trapz, cumulative_trapezoid, diagonal_scatter, select_scatter, slice_scatter,
)
from .factories import (
    asarray, frombuffer, empty_strided, empty_permuted, range, binomial, histogramdd,
)
from .windows import (
    bartlett_window, blackman_window, hamming_window, hann_window, kaiser_window,
)
from .switches import (
    get_default_device, set_default_device, seed, is_inference, is_anomaly_enabled,
    set_anomaly_enabled, is_anomaly_check_nan_enabled, is_warn_always_enabled, set_warn_always,
    get_num_interop_threads, set_num_interop_threads, set_flush_denormal, typename,
)
from .aten import (
    embedding, batch_norm, instance_norm, kl_div, binary_cross_entropy_with_logits,
    cosine_embedding_loss, hinge_embedding_loss, margin_ranking_loss, poisson_nll_loss,
    triplet_margin_loss, pixel_shuffle, pixel_unshuffle, channel_shuffle, constant_pad_nd,
    adaptive_max_pool1d, dropout_, alpha_dropout_, feature_dropout, feature_dropout_,
    feature_alpha_dropout_, detach_,
)
from .ops.convert import clone, is_nonzero, is_same_size, is_signed
# ATen's native_* ops with their saved statistics, the functional RNN cells, the *_copy and
# unsafe_* forms of view ops, more ATen signatures (convolution, ctc_loss, embedding_bag...), the
# function forms of Tensor methods
from .native import (
    native_layer_norm, native_batch_norm, native_group_norm, native_dropout, native_norm,
    native_channel_shuffle,
)
from .rnn_cells_functional import rnn_tanh_cell, rnn_relu_cell, lstm_cell, gru_cell
from .view_copies import (
    view_copy, permute_copy, transpose_copy, t_copy, squeeze_copy, unsqueeze_copy, expand_copy,
    select_copy, slice_copy, split_copy, split_with_sizes_copy, unbind_copy, unfold_copy,
    diagonal_copy, detach_copy, alias_copy, unsafe_chunk, unsafe_split, unsafe_split_with_sizes,
    adjoint,
)
from .aten_more import convolution, conv_tbc, ctc_loss, embedding_bag, norm_except_dim
from .method_forms import get_device, is_storage, index_put_, nonzero_static
# storage-level methods (as_strided, storage_offset, set_, resize_), the flags and layout PyTorch
# code tests, and older Tensor methods (new, apply_, angle...): set on Tensor by these imports
from .strided_views import as_strided, as_strided_scatter, as_strided_copy, UntypedStorage
from .tensor_flags import (
    layout, strided, sparse_coo, sparse_csr, sparse_csc, sparse_bsr, sparse_bsc, jagged,
)
from . import tensor_protocol  # noqa: F401  (in, reversed, pickle, copy: set on Tensor)
from .legacy_methods import angle, conj_physical, conj_physical_
from .ops.random import multinomial, bernoulli, poisson
# PyTorch's older linear-algebra names (and their Tensor methods, attached on import)
from .linalg_legacy import (
    pinverse, matrix_exp, svd, qr, lu, lu_unpack, lu_solve, matrix_rank, triangular_solve,
    nuclear_norm, frobenius_norm, svd_lowrank, pca_lowrank, geqrf, orgqr, ormqr, lstsq, eig,
    symeig, solve,
)

__version__ = "0.1.0"

# PyTorch's out= keyword on its functions that take one (ops/inplace.py: with_out, OUT_CASTS);
# the Tensor methods, which take none, stay the unwrapped functions
from .ops.inplace import OUT_CASTS as _OUT_CASTS, with_out as _with_out  # noqa: E402
for _cast, _names in _OUT_CASTS:
    for _name in _names:
        globals()[_name] = _with_out(globals()[_name], _cast)
del _cast, _names, _name


def detach(input):
    return input.detach()


def numel(input):
    return input.numel()


def is_floating_point(input):
    return input.is_floating_point()


def is_complex(input):
    return False


def promote_types(type1, type2):
    """The dtype PyTorch's promotion gives two tensors of these dtypes."""
    return _dtypes.from_np_dtype(_dtypes.promote_types(_dtypes.to_np_dtype(type1),
                                                       _dtypes.to_np_dtype(type2)))


_AUTOCAST_STATE = (   # torch's autocast-state functions, in tinygen/amp.py (loaded on first use)
    "is_autocast_enabled", "set_autocast_enabled", "get_autocast_dtype", "set_autocast_dtype",
    "autocast_increment_nesting", "autocast_decrement_nesting", "is_autocast_cache_enabled",
    "set_autocast_cache_enabled", "clear_autocast_cache", "is_autocast_cpu_enabled",
    "set_autocast_cpu_enabled", "get_autocast_cpu_dtype", "set_autocast_cpu_dtype",
    "get_autocast_gpu_dtype", "set_autocast_gpu_dtype",
)


def __getattr__(name):
    # heavier subpackages load on first use: tg.nn, tg.optim, tg.data, tg.linalg, tg.save/load,
    # tg.utils.data
    import importlib  # lazy: start-up time (these subpackages import what `tg` alone does not)
    if name in ("nn", "optim", "data", "io", "models", "train", "metrics", "quantization",
                "distributions", "distributed", "utils", "backends", "linalg", "amp"):
        return importlib.import_module(f"{__name__}.{name}")
    if name in ("special", "testing", "func", "accelerator", "jit", "xpu"):
        return importlib.import_module(f"{__name__}.{name}")
    if name == "autocast" or name in _AUTOCAST_STATE:
        return getattr(importlib.import_module(f"{__name__}.amp"), name)
    if name in ("save", "load", "from_dlpack"):
        return getattr(importlib.import_module(f"{__name__}.io"), name)
    raise AttributeError(f"module 'tinygen' has no attribute {name!r}")
