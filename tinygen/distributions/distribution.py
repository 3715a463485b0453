"""Distribution: the base class of tinygen.distributions, as torch.distributions.Distribution.

A distribution has a batch_shape (independent, not identically distributed copies) and an
event_shape (the shape of one draw); sample(sample_shape) has shape
sample_shape + batch_shape + event_shape, and log_prob(value) has the value's batch shape.
rsample draws with the reparameterisation trick (differentiable in the parameters: VAEs, SAC);
sample draws without a graph.

With validate_args (the default, as PyTorch's under __debug__), parameters are checked against
`arg_constraints` at construction and values against `support` in log_prob, and bad ones raise
ValueError naming the parameter, the constraint and the distribution.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import wrap
from ..autograd.grad_mode import no_grad
from ..backend import dtypes as _dt
from ..ops.convert import as_array
from ..ops.shape import broadcast_tensors
from ..tensor import Tensor
from . import constraints


def broadcast_all(*values):
    """Tensors and numbers as tensors of one broadcast shape (numbers take the dtype and device
    of the first tensor, or the default float dtype)."""
    like = next((v for v in values if isinstance(v, Tensor)), None)
    dtype = like.dtype if like is not None and like.dtype.is_floating_point else \
        _dt.get_default_dtype()
    device = like.device if like is not None else None
    tensors = [v if isinstance(v, Tensor) else wrap(as_array(v, dtype, device)) for v in values]
    tensors = [t if t.dtype.is_floating_point else t.to(dtype) for t in tensors]
    return broadcast_tensors(*tensors)


def finfo(t):
    return np.finfo(t._data.dtype)


class lazy_property:
    """Computed on first access, then stored in the instance (PyTorch's lazy_property)."""

    def __init__(self, fn):
        self.fn = fn
        self.__doc__ = fn.__doc__

    def __get__(self, instance, owner):
        if instance is None:
            return self
        value = self.fn(instance)
        instance.__dict__[self.fn.__name__] = value
        return value


class Distribution:
    """Base class: subclasses set arg_constraints and support and define the methods they have."""

    has_rsample = False
    has_enumerate_support = False
    _validate_args = True
    arg_constraints: dict = {}
    support = None

    @staticmethod
    def set_default_validate_args(value):
        """Turn argument validation on or off for every distribution made afterwards."""
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args: expected a bool, got {value!r}")
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._check_parameters()

    def _check_parameters(self):
        for name, constraint in self.arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue
            if name not in self.__dict__ and isinstance(getattr(type(self), name, None),
                                                        lazy_property):
                continue                                   # not computed yet: not checked
            value = getattr(self, name, None)              # an attribute or a property
            if value is None:
                continue
            if not bool(constraint.check(value).all()):
                raise ValueError(
                    f"Expected parameter {name} ({type(value).__name__} of shape "
                    f"{tuple(value.shape)}) of distribution {self!r} to satisfy the constraint "
                    f"{constraint!r}, but found invalid values:\n{value}")

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__} has no mean")

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self).__name__} has no mode")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__} has no variance")

    @property
    def stddev(self):
        return self.variance.sqrt()

    def sample(self, sample_shape=()):
        """Draws of shape sample_shape + batch_shape + event_shape, outside the graph."""
        with no_grad():
            return self.rsample(sample_shape).detach()

    def rsample(self, sample_shape=()):
        raise NotImplementedError(f"{type(self).__name__} has no rsample (reparameterised "
                                  "sampling); use sample()")

    def sample_n(self, n):
        return self.sample((n,))

    def log_prob(self, value):
        raise NotImplementedError(f"{type(self).__name__} has no log_prob")

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} has no cdf")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} has no icdf")

    def entropy(self):
        raise NotImplementedError(f"{type(self).__name__} has no entropy")

    def perplexity(self):
        return self.entropy().exp()

    def enumerate_support(self, expand=True):
        raise NotImplementedError(f"{type(self).__name__} has no enumerable support")

    def expand(self, batch_shape, _instance=None):
        """A view of this distribution with batch_shape expanded (Tensor.expand rules), no
        parameter re-validation. PyTorch writes one expand per class; here one generic version
        expands every tensor attribute (each leads with batch_shape) and every inner
        distribution, so user subclasses get it too."""
        batch_shape = tuple(batch_shape)
        old = len(self._batch_shape)
        new = _instance if _instance is not None else object.__new__(type(self))
        for name, value in self.__dict__.items():
            if isinstance(value, Tensor) and value.ndim >= old:
                value = value.expand(batch_shape + tuple(value.shape[old:]))
            elif isinstance(value, Distribution):
                value = value.expand(batch_shape + tuple(value.batch_shape[old:]))
            new.__dict__[name] = value
        new._batch_shape = batch_shape
        return new

    def _extended_shape(self, sample_shape=()):
        shape = (sample_shape,) if isinstance(sample_shape, int) else tuple(sample_shape)
        return shape + self._batch_shape + self._event_shape

    def _validate_sample(self, value):
        """The value's shape must broadcast with batch_shape + event_shape and its values lie in
        the support."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        n_event = len(self._event_shape)
        if n_event and tuple(value.shape[value.ndim - n_event:]) != self._event_shape:
            raise ValueError(f"The right-most size of value must match event_shape: "
                             f"{tuple(value.shape)} vs {self._event_shape}.")
        expected = self._batch_shape + self._event_shape
        for i, j in zip(reversed(tuple(value.shape)), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: "
                                 f"{tuple(value.shape)} vs {expected}.")
        if not bool(self.support.check(value).all()):
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape "
                             f"{tuple(value.shape)}) to be within the support "
                             f"({self.support!r}) of the distribution {self!r}, but found "
                             f"invalid values:\n{value}")

    def __repr__(self):
        parts = []
        for name in self.arg_constraints:
            if name in self.__dict__:
                value = self.__dict__[name]
                shown = (value.item() if value.ndim == 0 else value) if value.numel() == 1 \
                    else tuple(value.shape)
                parts.append(f"{name}: {shown}")
        return f"{type(self).__name__}({', '.join(parts)})"


LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
