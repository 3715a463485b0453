"""Parameter: a Tensor that a Module registers as a parameter when assigned as an attribute.

    self.scale = nn.Parameter(tg.ones(1))     # in a Module's __init__: now in parameters()

A subclass of Tensor with no extra state, so `isinstance(p, Parameter)` tells parameters apart;
ops on a Parameter return plain Tensors (Tensor._make builds Tensors, never Parameters).

Buffer (torch.nn.Buffer) is a Tensor that a Module registers as a buffer when assigned as an
attribute (`self.running = nn.Buffer(t, persistent=False)`).

UninitializedParameter and UninitializedBuffer (torch.nn.parameter's) are the parameters and
buffers of lazy modules (nn.LazyLinear...) before their first forward: a dtype and a device but
no shape yet; materialize(shape) turns them into a Parameter / a Tensor.
"""
from __future__ import annotations

from ...creation import empty, tensor
from ...tensor import Tensor


def _share_storage(t, data):
    """t, a new leaf (a Parameter or a Buffer), takes data's storage and version counter, with no
    graph, gradient or hooks of its own (requires_grad is set by the caller)."""
    t._data = data._data
    t._grad_fn = None
    t._out_idx = 0
    t._requires_grad = False
    t.grad = None
    t._version = data._version
    t._hooks = t._view = None


class Parameter(Tensor):
    """A Tensor that a Module registers as a parameter when assigned as an attribute.

    Parameter(data) shares data's storage (as PyTorch does) and requires grad by default.
    Results of ops on a Parameter are plain Tensors.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            data = tensor(data)
        _share_storage(self, data)
        if requires_grad:
            self.requires_grad = True

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        """A new Parameter with a copy of the data and no .grad, as PyTorch's (a copied model
        starts without gradients)."""
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(self.detach().clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        return (Parameter, (self.detach(), self.requires_grad))


class _SelfRegistering:
    """Marker base of the values Module.__setattr__ registers by their type alone (Module and
    Buffer; Parameter is tested first): one isinstance test for both keeps the cost of
    assigning an ordinary attribute what it was before nn.Buffer existed."""

    __slots__ = ()


class Buffer(Tensor, _SelfRegistering):
    """A Tensor that a Module registers as a buffer (state that is not a parameter) when
    assigned as an attribute; `persistent` says whether it goes into state_dict.

        self.steps = nn.Buffer(tg.zeros((), dtype=tg.long))       # now in buffers()

    Buffer(data) shares data's storage and keeps its requires_grad, as PyTorch's.
    Differs from PyTorch: PyTorch's Buffer(t) returns a plain torch.Tensor carrying the flags
    `_is_buffer` and `persistent`; tinygen's is an instance of this subclass (tinygen Tensors
    have fixed slots), so `type(b)` is Buffer. Results of ops on it are plain Tensors.
    """

    __slots__ = ("persistent",)

    def __init__(self, data=None, *, persistent=True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"nn.Buffer: expected a Tensor as data, got {type(data).__name__}")
        _share_storage(self, data)
        self.persistent = persistent
        if data.requires_grad:
            self.requires_grad = True

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = Buffer(self.detach().clone(), persistent=self.persistent)
        result.requires_grad = self.requires_grad
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        return (_rebuild_buffer, (self.detach(), self.persistent, self.requires_grad))


def _rebuild_buffer(data, persistent, requires_grad):
    b = Buffer(data, persistent=persistent)
    b.requires_grad = requires_grad
    return b


# the slot Tensor keeps its array in: an uninitialized tensor keeps a placeholder there (an empty
# array of its dtype on its device) and hides it behind the `_data` property below, so any op
# that reads it raises
_DATA_SLOT = Tensor.__dict__["_data"]


def _placeholder(t):
    """The empty array an uninitialized tensor holds, as a plain Tensor."""
    return Tensor._make(_DATA_SLOT.__get__(t), None, 0, False)


def _on_placeholder(name):
    """A conversion method (to, double, cpu...) that runs on the placeholder: it returns a plain
    empty Tensor of the new dtype or device, as PyTorch's do on an UninitializedParameter."""
    def method(self, *args, **kwargs):
        return getattr(_placeholder(self), name)(*args, **kwargs)
    method.__name__ = name
    return method


class UninitializedTensorMixin:
    """A tensor whose shape is not known yet (a lazy module's parameter before its first
    forward). It has a dtype, a device and requires_grad; it can change dtype and device
    (to, float, double, half, cpu, cuda: what Module.to does to it) and become a real tensor
    (materialize). Reading its shape raises RuntimeError; using it in any op raises ValueError,
    as in PyTorch.

    Differs from PyTorch: requires_grad_() works on it (PyTorch raises ValueError, so there
    nn.Module.requires_grad_ fails on a lazy module); it pickles with its dtype and device
    (PyTorch's comes back with the defaults); to() and the other conversions return a plain
    empty Tensor for a buffer too (PyTorch's return an UninitializedBuffer there)."""

    __slots__ = ()
    cls_to_become = None

    @property
    def _data(self):
        name = type(self).__name__
        raise ValueError(f"Attempted to use an uninitialized parameter ({name}) in an op. This "
                         "error happens when you are using a LazyModule or explicitly "
                         f"manipulating `tinygen.nn.parameter.{name}` objects. When using "
                         "LazyModules call `forward` with a dummy batch to initialize the "
                         "parameters before calling tinygen functions")

    @_data.setter
    def _data(self, value):
        _DATA_SLOT.__set__(self, value)

    def materialize(self, shape, device=None, dtype=None):
        """Become a Parameter (UninitializedBuffer: a Tensor) of `shape`, uninitialized values,
        on this tensor's device and dtype unless given."""
        device = self.device if device is None else device
        dtype = self.dtype if dtype is None else dtype
        _DATA_SLOT.__set__(self, empty(tuple(shape), device=device, dtype=dtype)._data)
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. This "
                           "error usually happens in `load_state_dict` when trying to load an "
                           "uninitialized parameter into an initialized one. Call `forward` to "
                           "initialize the parameters before accessing their attributes.")

    @property
    def dtype(self):
        return _placeholder(self).dtype

    @property
    def device(self):
        return _placeholder(self).device

    @property
    def ndim(self):                      # the placeholder's, as PyTorch (1)
        return _placeholder(self).ndim

    def size(self, dim=None):            # the placeholder's, as PyTorch ((0,))
        return _placeholder(self).size(dim)

    def is_floating_point(self):
        return _placeholder(self).is_floating_point()

    def get_device(self):
        return _placeholder(self).get_device()

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        value = bool(value)
        if value and not self.is_floating_point():
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients "
                               f"(this one is {self.dtype})")
        self._requires_grad = value
        if value:
            self._post_hooks = getattr(self, "_post_hooks", None)

    @property
    def data(self):
        """The placeholder: an empty plain Tensor of this dtype and device, as PyTorch's."""
        return _placeholder(self)

    @data.setter
    def data(self, value):             # a placeholder of another dtype or device (Module.to)
        if isinstance(value, UninitializedTensorMixin):
            value = _placeholder(value)
        _DATA_SLOT.__set__(self, value._data)

    to, cpu, cuda, half, float, double = (_on_placeholder(name) for name in (
        "to", "cpu", "cuda", "half", "float", "double"))
    char, short, int, long = (_on_placeholder(name) for name in ("char", "short", "int", "long"))

    def share_memory_(self):
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call "
                           "`forward` to initialize the parameters before calling "
                           "`module.share_memory()`.")

    def __repr__(self):
        return f"<{type(self).__name__}>"

    def __format__(self, spec):
        return format(repr(self), spec)

    def __reduce_ex__(self, protocol):
        return (type(self), (self.requires_grad, self.device, self.dtype))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.requires_grad, self.device, self.dtype)
        memo[id(self)] = result
        return result


def _init_uninitialized(t, requires_grad, device, dtype):
    _DATA_SLOT.__set__(t, empty(0, device=device, dtype=dtype)._data)
    t._grad_fn = None
    t._out_idx = 0
    t._requires_grad = False
    t.grad = None
    t._version = [0]
    t._hooks = t._view = None
    t.requires_grad = requires_grad


def is_lazy(param):
    """Whether param is an UninitializedParameter or UninitializedBuffer."""
    return isinstance(param, UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A Parameter whose shape is not known yet; materialize(shape) makes it a Parameter. The
    dtype and device it materializes with are set here (device=, dtype=) or by Module.to.

        p = nn.UninitializedParameter()
        p.materialize((3, 4))          # now a Parameter of shape (3, 4) (values uninitialized)
    """

    __slots__ = ()
    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        _init_uninitialized(self, requires_grad, device, dtype)


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer whose shape is not known yet; materialize(shape) makes it a plain Tensor.

    Differs from PyTorch: it is not an nn.Buffer and `persistent` is accepted and not kept
    (assigning one to a Module attribute does not register it; a lazy module registers its
    buffers with register_buffer), and it materializes as a plain Tensor."""

    __slots__ = ()
    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None, persistent=True):
        _init_uninitialized(self, requires_grad, device, dtype)
