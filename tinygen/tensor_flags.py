"""The Tensor attributes PyTorch code tests before choosing a path, with tinygen's answers:

    x.is_sparse, x.is_quantized, x.is_meta, x.is_mps, ...    False (properties, as PyTorch)
    x.is_distributed()                                       False (a method, as PyTorch)
    x.layout is tg.strided                                   True: every tinygen tensor is dense
    x.dim_order()                                            dims outermost to innermost in memory
    x.output_nr, x.name, x.grad_dtype                        0 / its output index, None, x.dtype

tinygen.layout is PyTorch's torch.layout: `strided`, and the sparse and jagged layouts as names
only (no tinygen tensor has them), for code that compares with them. Set on Tensor at import, at
the bottom of this file (tensor.py stays thin).
"""
from __future__ import annotations

from .legacy import channels_last, contiguous_format, memory_format, preserve_format
from .legacy import memory_format as memory_format_type    # (is_contiguous's argument shadows it)
from .tensor import Tensor


# ---- layouts -------------------------------------------------------------------------------------
class layout:
    """torch.layout: how a tensor's elements are laid out. tinygen's tensors are all `strided`
    (dense, with strides); the other layouts are names to compare with."""

    __slots__ = ("_name",)

    def __new__(cls, *args, **kwargs):
        raise TypeError("cannot create 'tinygen.layout' instances")

    def __repr__(self):
        return f"tinygen.{self._name}"

    def __reduce__(self):               # pickled as the module attribute it is
        return self._name


def _layout(name):
    obj = object.__new__(layout)
    obj._name = name
    return obj


strided = _layout("strided")
sparse_coo, sparse_csr, sparse_csc = _layout("sparse_coo"), _layout("sparse_csr"), \
    _layout("sparse_csc")
sparse_bsr, sparse_bsc, jagged = _layout("sparse_bsr"), _layout("sparse_bsc"), _layout("jagged")


# ---- flags ---------------------------------------------------------------------------------------
_FALSE_FLAGS = ("is_sparse", "is_sparse_csr", "is_quantized", "is_meta", "is_mkldnn",
                "is_nested", "is_mps", "is_xpu", "is_xla", "is_ipu", "is_vulkan", "is_maia",
                "is_mtia")


def _false_flag(name):
    return property(lambda self: False,
                    doc=f"False: tinygen has no tensor of this kind (torch.Tensor.{name}).")


def is_distributed(input):
    """False: tinygen's tensors live in one process (its collectives work on whole tensors)."""
    return False


def _layout_of(input):
    """tinygen.strided: every tinygen tensor is dense."""
    return strided


def _output_nr(input):
    """Which output of its grad_fn this tensor is (0 for a leaf or a tensor outside the graph)."""
    return input._out_idx if input._grad_fn is not None else 0


def _name(input):
    """None: tinygen has no named tensors."""
    return None


def _get_grad_dtype(input):
    """The dtype of the gradient this leaf accumulates: its own."""
    if input._grad_fn is not None:
        raise RuntimeError("grad_dtype can only be accessed on leaf tensors.")
    return input.dtype


def _set_grad_dtype(input, value):
    """Only the tensor's own dtype: tinygen's engine does not cast gradients (PyTorch's casts
    each incoming gradient to grad_dtype, or lets any dtype through for None)."""
    if input._grad_fn is not None:
        raise RuntimeError("grad_dtype can only be set on leaf tensors.")
    if value != input.dtype:
        raise RuntimeError(f"grad_dtype: tinygen keeps a leaf's gradient in the leaf's dtype "
                           f"({input.dtype}); setting {value} is not supported (its engine "
                           f"does not cast gradients)")


# ---- dim_order -----------------------------------------------------------------------------------
_DENSE_ORDERS = {"contiguous_format": None, "channels_last": (4, (1, 3, 2, 0)),
                 "channels_last_3d": (5, (1, 4, 3, 2, 0))}


def _dense_as(size, stride, fmt):
    """PyTorch's is_contiguous(memory_format=fmt): strides nested in fmt's order (innermost
    first), dims of size 1 skipped; a contiguous tensor may also count a size-0 dim as 1."""
    if fmt.name not in _DENSE_ORDERS:
        raise RuntimeError(f"dim_order: is_contiguous does not take memory format {fmt}")
    if fmt.name == "contiguous_format":
        if _numel(size) < 2:
            return True
        order = tuple(reversed(range(len(size))))
    else:
        ndim, order = _DENSE_ORDERS[fmt.name]
        if len(size) != ndim:
            return False
    expected = expected_max = 1
    for d in order:
        if size[d] == 1:
            continue
        if stride[d] != expected and (fmt.name != "contiguous_format"
                                      or stride[d] != expected_max):
            return False
        expected *= size[d]
        expected_max *= max(size[d], 1)
    return True


def is_contiguous(self, memory_format=None):
    """Whether the tensor's elements lie densely in memory in that format's order: row-major
    (None, contiguous_format, preserve_format), or channels last for a 4-D (5-D) tensor, as
    PyTorch judges it (`_dense_as`: dims of size 1 never break it). tinygen's new arrays are
    row-major whatever memory_format a factory, clone, contiguous or to was given, so a
    channels-last test is True only where the two orders agree (one channel, 1x1 images) or the
    strides were made so (a permute, as_strided, empty_permuted)."""
    if memory_format is None or memory_format is preserve_format:
        return bool(self._data.flags.c_contiguous)
    if not isinstance(memory_format, memory_format_type):
        raise TypeError(f"is_contiguous(): argument 'memory_format' must be a memory_format "
                        f"(tg.channels_last ...), not {type(memory_format).__name__}")
    return _dense_as(self.shape, self.stride(), memory_format)


def _numel(size):
    n = 1
    for s in size:
        n *= s
    return n


def _should_swap(size, stride, a, b):
    """PyTorch's comparison of dims a and b for the physical order: 1 when b is inner to a, -1
    when a is, 0 when nothing tells (zero strides, or equal strides and sizes)."""
    sa, sb = stride[a], stride[b]
    if sa == 0 or sb == 0:
        return 0

    def ge(x, y):
        if y == 0:
            return True
        return x != 0 and (x >= y or x % y == 0)

    if sa == sb:
        return 0 if ge(size[b], size[a]) else 1
    if ge(sb, sa):
        return -1
    return 1 if ge(sa, sb) else 0


def _physical_order(size, stride, ambiguity_check):
    """(dims outermost first, whether that order is ambiguous): PyTorch's
    compute_elementwise_output_logical_to_physical_perm for one tensor."""
    ndim = len(size)
    if ndim < 2:
        return list(range(ndim)), False
    dense = _dense_as(size, stride, contiguous_format)
    last = _dense_as(size, stride, channels_last)
    if dense and not last:
        return list(range(ndim)), False
    if last and not dense:
        return [0, *range(2, ndim), 1], False
    perm = list(reversed(range(ndim)))                 # an insertion sort, innermost first
    for i in range(1, ndim):
        dim1 = i
        for dim0 in reversed(range(i)):
            comparison = _should_swap(size, stride, perm[dim0], perm[dim1])
            if comparison > 0:
                perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
                dim1 = dim0
            elif comparison < 0:
                break
    ambiguous = bool(ambiguity_check) and any(
        _should_swap(size, stride, perm[i], perm[i + 1]) != -1 for i in range(ndim - 1))
    return list(reversed(perm)), ambiguous


def dim_order(input, *, ambiguity_check=False):
    """input's dims from outermost to innermost in memory: (0, 1, ..., n - 1) for a contiguous
    tensor. ambiguity_check=True raises where several orders fit (a dim of size 1, equal
    strides); a list of memory formats raises unless exactly one of them fits."""
    if not isinstance(ambiguity_check, bool) and not (
            isinstance(ambiguity_check, list)
            and all(isinstance(f, memory_format) for f in ambiguity_check)):
        raise TypeError("The ambiguity_check argument must be a bool or a list of memory "
                        "formats.")
    size, stride = input.shape, input.stride()
    formats = ambiguity_check if isinstance(ambiguity_check, list) else []
    check = ambiguity_check if isinstance(ambiguity_check, bool) else True
    many = any(s == 1 for s in size) or any(a == b for a, b in zip(stride, stride[1:]))
    if check and many and sum(_dense_as(size, stride, f) for f in formats) != 1:
        raise RuntimeError("The tensor does not have unique dim order, or cannot map to exact "
                           "one of the given memory formats.")
    order, ambiguous = _physical_order(size, stride, ambiguity_check)
    if ambiguous:
        raise RuntimeError("The tensor does not have unique dim order.")
    return tuple(order)


for _flag in _FALSE_FLAGS:
    setattr(Tensor, _flag, _false_flag(_flag))
Tensor.is_distributed = is_distributed
Tensor.layout = property(_layout_of)
Tensor.output_nr = property(_output_nr)
Tensor.name = property(_name)
Tensor.grad_dtype = property(_get_grad_dtype, _set_grad_dtype)
Tensor.dim_order = dim_order
Tensor.is_contiguous = is_contiguous
