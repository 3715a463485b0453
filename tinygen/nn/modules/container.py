"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict, Identity.

    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    net[0]            # the first Linear;  net[1:] a Sequential of the rest (keys '1', '2' kept)
"""
from __future__ import annotations

import operator
import warnings
from collections import OrderedDict
from collections import abc

from ...tensor import Tensor
from .module import Module, _add_indent
from .parameter import Parameter


def _index(idx, n, what):
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range for a {what} of length {n}")
    return idx % n


_CONTAINER_DEPRECATED = ("`nn.Container` is deprecated. All of its functionality is now "
                         "implemented in `nn.Module`. Subclass that instead.")


class Container(Module):
    """Deprecated (as in PyTorch): a Module whose keyword arguments become its children.
    Building one, or subclassing it, warns FutureWarning, as PyTorch's."""

    def __init_subclass__(cls, **kwargs):
        warnings.warn(_CONTAINER_DEPRECATED, FutureWarning, stacklevel=2)
        super().__init_subclass__(**kwargs)

    def __init__(self, **kwargs):
        warnings.warn(_CONTAINER_DEPRECATED, FutureWarning, stacklevel=2)
        super().__init__()
        for key, value in kwargs.items():
            self.add_module(key, value)


class Identity(Module):
    """Returns its input unchanged; accepts and ignores any constructor arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Sequential(Module):
    """Modules applied in order: Sequential(m1, m2, ...) or Sequential(OrderedDict(name=m))."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(idx, len(self), "Sequential")]

    def __setitem__(self, idx, module):
        key = list(self._modules.keys())[_index(idx, len(self), "Sequential")]
        setattr(self, key, module)

    def __delitem__(self, idx):
        keys = list(self._modules.keys())
        if isinstance(idx, slice):
            for key in keys[idx]:
                delattr(self, key)
        else:
            delattr(self, keys[_index(idx, len(self), "Sequential")])
        # PyTorch renumbers the remaining modules 0..n-1
        items = list(self._modules.items())
        self._modules.clear()
        for i, (_, m) in enumerate(items):
            self._modules[str(i)] = m

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but "
                             f"{type(other).__name__} is given.")
        return Sequential(*self, *other)

    def __iadd__(self, other):
        """Append other's modules (keys continue from len(self)), as PyTorch. Differs from
        PyTorch: `s += s` doubles s (PyTorch raises RuntimeError, its loop reading the dict
        it grows)."""
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but "
                             f"{type(other).__name__} is given.")
        offset = len(self)
        for i, module in enumerate(list(other)):
            self.add_module(str(i + offset), module)
        return self

    def _check_factor(self, other):
        if not isinstance(other, int):              # (a bool is an int here, as in PyTorch)
            raise TypeError(f"unsupported operand type(s) for *: 'Sequential' and "
                            f"'{type(other).__name__}'")
        if other <= 0:
            raise ValueError(f"Non-positive multiplication factor {other} for Sequential")

    def __mul__(self, other):
        """A new Sequential of self's modules `other` times over: the same module objects
        (shared parameters), keys 0..n*other-1, as PyTorch."""
        self._check_factor(other)
        modules = list(self)
        return Sequential(*(modules * other))

    def __rmul__(self, other):
        return self.__mul__(other)

    def __imul__(self, other):
        """Repeat the modules in place, keys continuing from len(self). Differs from PyTorch:
        with keys other than '0'..'n-1' (built from an OrderedDict) PyTorch raises KeyError
        (it reads the keys '0'..'n-1'); tinygen keeps those keys and numbers the copies."""
        self._check_factor(other)
        modules = list(self)
        for i, module in enumerate(modules * (other - 1)):
            self.add_module(str(len(modules) + i), module)
        return self

    def pop(self, key):
        """Remove and return the module at index `key` (a Sequential for a slice)."""
        value = self[key]
        del self[key]
        return value

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        """Insert before position `index`, as list.insert (a negative index counts from the
        end: insert(-1, m) puts m before the last module); index in [-n, n]. The modules are
        renumbered '0'..'n'. Differs from PyTorch: with keys other than '0'..'n-1' (built from
        an OrderedDict) PyTorch raises KeyError, having moved some modules already."""
        if not isinstance(module, Module):
            raise AssertionError(f"Sequential.insert: module should be of type Module, got "
                                 f"{type(module).__name__}")
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index} (insert into a Sequential of "
                             f"length {n})")
        if index < 0:
            index += n
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(mods):
            self.add_module(str(i), m)
        return self

    def forward(self, input):
        for module in self:
            input = module(input)
        return input


class ModuleList(Module):
    """A list of modules, registered so their parameters are found; indexable like a list."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self), "ModuleList"))]

    def __setitem__(self, idx, module):
        setattr(self, str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx):
        if isinstance(idx, slice):
            for k in range(len(self._modules))[idx]:
                delattr(self, str(k))
        else:
            delattr(self, str(_index(idx, len(self), "ModuleList")))
        mods = list(self._modules.values())
        self._modules.clear()
        for i, m in enumerate(mods):
            self._modules[str(i)] = m

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList(list(self) + list(other))

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        """Insert before position `index` (past the end: append). A negative index raises
        KeyError, as PyTorch's insert (which fails on the key '-1' after having shifted some
        modules up; here nothing changes). PyTorch files a module inserted past the end under
        that index, leaving a gap in the keys; tinygen appends it. With keys other than
        '0'..'n-1' (a module set by set_submodule) PyTorch raises KeyError; tinygen renumbers."""
        index = operator.index(index)
        if index < 0:
            raise KeyError(f"ModuleList.insert: negative index {index} (as PyTorch, insert takes "
                           f"0 to len = {len(self)}; Sequential.insert counts from the end)")
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def pop(self, key):
        """Remove and return the module at index `key` (a ModuleList for a slice)."""
        value = self[key]
        del self[key]
        return value

    def __repr__(self):
        """Runs of equal reprs are folded into one line, as PyTorch: '(0-1): 2 x ReLU()'."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        runs = []                                     # [start, end, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = []
        for start, end, r in runs:
            line = f"({start}): {r}" if start == end else \
                f"({start}-{end}): {end - start + 1} x {r}"
            lines.append(_add_indent(line, 2))
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward: iterate over it in your forward")


class ModuleDict(Module):
    """An ordered dict of modules (insertion order), registered so their parameters are found."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        self._modules.clear()

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules):
        """Add (or replace) modules from a mapping or an iterable of (key, module) pairs."""
        items = _pairs("ModuleDict", modules)
        for key, module in items:
            self[key] = module

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward: index it in your forward")


class ParameterList(Module):
    """A list of Parameters registered under '0', '1', ... (plain tensors are wrapped).

    Differs from PyTorch: the entries are this module's registered parameters, so one added
    by register_parameter (or a Parameter attribute) is an entry; PyTorch counts only what its
    own methods added (it keeps a size of its own)."""

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ParameterList(list(self)[idx])
        return self._parameters[str(_index(idx, len(self), "ParameterList"))]

    def __setitem__(self, idx, param):
        if not isinstance(param, Parameter):
            param = Parameter(param)
        self.register_parameter(str(_index(idx, len(self), "ParameterList")), param)

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def __iadd__(self, values):
        return self.extend(values)

    def append(self, param):
        if not isinstance(param, Parameter):
            param = Parameter(param)
        self.register_parameter(str(len(self)), param)
        return self

    def extend(self, values):
        if not isinstance(values, abc.Iterable) or isinstance(values, Tensor):
            raise TypeError(f"ParameterList.extend should be called with an iterable, but got "
                            f"{type(values).__name__}")
        for v in values:
            self.append(v)
        return self

    def extra_repr(self):
        return "\n".join(f"  ({i}): {_describe_parameter(p)}"
                         for i, p in enumerate(self))

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterList should not be called.")


class ParameterDict(Module):
    """An ordered dict of Parameters (plain tensors are wrapped; None is kept as a hole).

    Order as PyTorch's: insertion order, except that a plain dict given to the constructor or to
    update() is added in sorted key order (an OrderedDict, a ParameterDict or an iterable of
    pairs keeps its own order).

    Differs from PyTorch, which keeps a key list of its own beside the registered parameters
    and reads entries with getattr: here the entries are the registered parameters (one added
    by register_parameter is an entry); a key that is not a valid parameter name ('', 'a.b')
    or names an attribute ('training') raises KeyError whatever the value (PyTorch stores a
    None under any name as a plain attribute, accepts 'training', losing the module's flag,
    and keeps a refused key in its list); a missing key raises AttributeError in get and pop
    alike (PyTorch's pop of a key that names another attribute raises KeyError). A None value
    holds its key's place among the registered parameters (PyTorch keeps it as a plain
    attribute, so a parameter set later under that key goes last in its state_dict)."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        if key not in self._parameters:
            raise AttributeError(f"'ParameterDict' object has no attribute '{key}'")
        return self._parameters[key]

    def __setitem__(self, key, param):
        if param is not None and not isinstance(param, Parameter):
            param = Parameter(param)
        self.register_parameter(key, param)

    def __delitem__(self, key):
        del self._parameters[key]

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def __reversed__(self):
        return reversed(self._parameters)

    def __contains__(self, key):
        return key in self._parameters

    def keys(self):
        return self._parameters.keys()

    def items(self):
        return self._parameters.items()

    def values(self):
        return self._parameters.values()

    def get(self, key, default=None):
        return self[key] if key in self else default

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def popitem(self):
        """Remove and return the last inserted (key, parameter) pair (KeyError when empty)."""
        if not self._parameters:
            raise KeyError("popitem(): dictionary is empty")
        key = next(reversed(self._parameters))
        return key, self.pop(key)

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def clear(self):
        self._parameters.clear()

    def copy(self):
        """A new ParameterDict holding the same Parameter objects, in the same order."""
        return ParameterDict(OrderedDict(self.items()))

    def fromkeys(self, keys, default=None):
        """A new ParameterDict with `keys`, each holding `default` (one shared object)."""
        return ParameterDict((k, default) for k in keys)

    def update(self, parameters):
        """Add (or replace) entries from a mapping or an iterable of (key, value) pairs; a plain
        dict (any mapping other than OrderedDict and ParameterDict) in sorted key order."""
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            items = list(parameters.items())
        elif isinstance(parameters, abc.Mapping):
            items = sorted(parameters.items())
        else:
            items = _pairs("ParameterDict", parameters)
        for key, p in items:
            self[key] = p

    def __or__(self, other):
        result = self.copy()
        result.update(other)
        return result

    def __ror__(self, other):
        result = other.copy()
        result.update(self)
        return result

    def __ior__(self, other):
        self.update(other)
        return self

    def extra_repr(self):
        return "\n".join(f"  ({k}): {_describe_parameter(p, legacy_type=True)}"
                         for k, p in self.items())

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterDict should not be called.")


def _pairs(container, values):
    """The (key, value) pairs of a mapping, or of an iterable of pairs checked as PyTorch does."""
    if isinstance(values, abc.Mapping) or hasattr(values, "items"):
        return list(values.items())
    if not isinstance(values, abc.Iterable):
        raise TypeError(f"{container}.update should be called with an iterable of key/value "
                        f"pairs, but got {type(values).__name__}")
    pairs = []
    for j, pair in enumerate(values):
        if not isinstance(pair, abc.Iterable):
            raise TypeError(f"{container} update sequence element #{j} should be Iterable; is "
                            f"{type(pair).__name__}")
        pair = tuple(pair)
        if len(pair) != 2:
            raise ValueError(f"{container} update sequence element #{j} has length {len(pair)}; "
                             "2 is required")
        pairs.append(pair)
    return pairs


def _describe_parameter(p, legacy_type=False):
    """'Parameter containing: [tinygen.float32 of size 2x3]', as PyTorch's container reprs
    (ParameterDict's names the legacy tensor type instead, 'tinygen.FloatTensor', as torch's)."""
    if p is None:
        return "Object of type: NoneType"
    type_name = p.type() if legacy_type else str(p.dtype)
    size = "x".join(str(n) for n in p.shape)
    device = f" ({p.device})" if p.device.type != "cpu" else ""
    kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
    return f"{kind} containing: [{type_name} of size {size}{device}]"
