"""Post-training int8 quantisation of a model, in the spirit of PyTorch's eager-mode API.

    qmodel = quantize_dynamic(model, {nn.Linear}, dtype=tg.qint8)   # inputs quantised per batch

    prepared = prepare(model, {nn.Conv2d}, observer=MinMaxObserver)    # static: calibrate...
    with tg.no_grad():
        for x, _ in calibration_batches:
            prepared(x)                                                # observers record inputs
    qmodel = convert(prepared)                                         # ...then quantise

What is matched: a module whose exact type is in the spec (so a subclass such as
NonDynamicallyQuantizableLinear is left alone, as in PyTorch), or whose dotted name is. The
model is deep-copied unless inplace=True. Deviations from PyTorch, one line each:
- there are no QuantStub / DeQuantStub: every int8 layer takes and returns float tensors;
- prepare takes the module types (or names) to calibrate and an observer class instead of
  model.qconfig; it observes each matched layer's input (PyTorch observes outputs);
- the root module is converted too when it matches (quantize_dynamic(nn.Linear(4, 2)) is a
  QuantizedLinear).

`quantization_plan(model)` describes which layers of a model are int8 (JSON-able) and
`apply_plan(model, plan)` rebuilds that structure on a fresh float model, so that an int8 state
dict saved with tg.save loads into it (tinygen/train/compress.py records the plan in a run's
config.json).
"""
from __future__ import annotations

import copy

from ..backend.dtypes import qint8
from ..nn.modules.conv import Conv2d
from ..nn.modules.linear import Linear
from .modules import QuantizedConv2d, QuantizedLinear
from .observers import MinMaxObserver

INT8_VERSIONS = {Linear: QuantizedLinear, Conv2d: QuantizedConv2d}
_BY_NAME = {cls.__name__: cls for cls in INT8_VERSIONS.values()}


def _spec(qconfig_spec, op):
    """The module types and names a spec matches (a set/list/dict of types or names)."""
    types = {k for k in qconfig_spec if isinstance(k, type)}
    names = {k for k in qconfig_spec if isinstance(k, str)}
    other = [k for k in qconfig_spec if not isinstance(k, (type, str))]
    unknown = sorted(t.__name__ for t in types if t not in INT8_VERSIONS)
    if other or unknown:
        raise ValueError(f"{op}: no int8 version of {', '.join(unknown) or other}; supported: "
                         f"{', '.join(t.__name__ for t in INT8_VERSIONS)} (as types, or module "
                         "names)")
    return types, names


def _matches(name, module, types, names):
    return type(module) in INT8_VERSIONS and (type(module) in types or name in names)


def _swap(module, replace, prefix=""):
    """Replace, depth first, each child for which replace(name, child) returns a module."""
    for name, child in list(module._modules.items()):
        if child is None:
            continue
        full = f"{prefix}.{name}" if prefix else name
        new = replace(full, child)
        if new is not None:
            setattr(module, name, new)
        else:
            _swap(child, replace, full)


def _apply(model, replace, inplace):
    model = model if inplace else copy.deepcopy(model)
    root = replace("", model)
    if root is not None:
        return root
    _swap(model, replace)
    return model


def quantize_dynamic(model, qconfig_spec=None, dtype=qint8, inplace=False):
    """The model with every matched Linear (and Conv2d, when asked for) replaced by its int8
    version whose input is quantised with each batch's own range. qconfig_spec: a set of types
    or module names (default {nn.Linear}); dtype: tg.qint8 (the only one)."""
    if dtype is not qint8:
        raise ValueError(f"quantize_dynamic: only dtype=tg.qint8 is supported, got {dtype}")
    types, names = _spec({Linear} if qconfig_spec is None else qconfig_spec, "quantize_dynamic")

    def replace(name, module):
        if _matches(name, module, types, names):
            return INT8_VERSIONS[type(module)].from_float(module)
        return None

    return _apply(model, replace, inplace)


class _ObserveInput:
    """The forward pre-hook prepare() adds: the input goes through the layer's observer."""

    def __call__(self, module, args):
        module.input_observer(args[0])


def prepare(model, qconfig_spec=None, observer=MinMaxObserver, inplace=False):
    """The model with an `input_observer` (a new observer()) and a forward pre-hook on every
    matched layer (default {nn.Conv2d}): run calibration batches through it, then convert()."""
    types, names = _spec({Conv2d} if qconfig_spec is None else qconfig_spec, "prepare")
    model = model if inplace else copy.deepcopy(model)
    for name, module in model.named_modules():
        if _matches(name, module, types, names) and "input_observer" not in module._modules:
            module.input_observer = observer()
            module.register_forward_pre_hook(_ObserveInput())
    return model


def convert(model, inplace=False):
    """The prepared model with every observed layer replaced by its static int8 version (input
    qparams from its observer); an observer that saw no batch is an error."""

    def replace(name, module):
        observer = module._modules.get("input_observer")
        if observer is None or type(module) not in INT8_VERSIONS:
            return None
        try:
            qparams = observer.calculate_qparams()
        except RuntimeError as e:
            raise RuntimeError(f"convert: layer {name or 'the model'!r}: {e}") from None
        return INT8_VERSIONS[type(module)].from_float(module, input_qparams=qparams)

    return _apply(model, replace, inplace)


def quantization_plan(model):
    """{layer name: {"type": "QuantizedLinear" | "QuantizedConv2d", "dynamic": bool}} for every
    int8 layer of model ('' for the root): what apply_plan needs to rebuild the structure."""
    return {name: {"type": type(m).__name__, "dynamic": bool(m.dynamic)}
            for name, m in model.named_modules() if type(m) in _BY_NAME.values()}


def apply_plan(model, plan, inplace=True):
    """The float model with the layers named in `plan` replaced by int8 layers of the same shapes
    (their values are placeholders: load the quantised state dict next)."""
    for name, entry in plan.items():
        if entry.get("type") not in _BY_NAME:
            raise ValueError(f"apply_plan: unknown int8 layer type {entry.get('type')!r} for "
                             f"{name!r}; expected one of {sorted(_BY_NAME)}")
    placeholder = (1.0, 0)

    def replace(name, module):
        entry = plan.get(name)
        if entry is None:
            return None
        cls = _BY_NAME[entry["type"]]
        if INT8_VERSIONS.get(type(module)) is not cls:
            raise ValueError(f"apply_plan: {name!r} is a {type(module).__name__}, the plan "
                             f"has a {entry['type']} there")
        return cls.from_float(module, None if entry["dynamic"] else placeholder)

    missing = set(plan) - {name for name, _ in model.named_modules()}
    if missing:
        raise ValueError(f"apply_plan: the model has no layer {sorted(missing)}")
    return _apply(model, replace, inplace)
