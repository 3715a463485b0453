"""tinygen.func, as torch.func: functional_call (a module run with other parameters and buffers).

    params = {k: v.detach().requires_grad_() for k, v in model.named_parameters()}
    out = tg.func.functional_call(model, params, (x,))
    grads = tg.autograd.grad(loss_fn(out), list(params.values()))

The given tensors are swapped in by dotted name for the call and the originals put back
afterwards, even when the call raises; gradients flow to the given tensors, none to the module's.

torch.func's transforms (grad, vjp, jacrev, vmap...) are not here: tinygen has no functorch
levels, so a nested transform could not tell its own inputs from an outer one's; use
tinygen.autograd.grad and tinygen.autograd.functional.
"""
from __future__ import annotations

import contextlib
from collections.abc import Sequence

from .tensor import Tensor

_MISSING = object()


def _named_tensors(module):
    named = dict(module.named_parameters(remove_duplicate=False))
    named.update(module.named_buffers(remove_duplicate=False))
    return named


def _untie(module, tensors):
    """With tie_weights: a tensor given for one of several tied names (one Parameter reached
    under two names) goes to all of them; different tensors for tied names are a ValueError."""
    groups = {}
    for name, t in _named_tensors(module).items():
        groups.setdefault(id(t), set()).add(name)
    tied = {name: names for names in groups.values() if len(names) > 1 for name in names}
    out = dict(tensors)
    for name in [n for n in tensors if n in tied]:
        given = {id(tensors[n]) for n in tied[name] if n in tensors}
        if len(given) != 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(tied[name])}, "
                             "which are tied. Consider using tie_weights=False")
        out.update(dict.fromkeys(tied[name], tensors[name]))
    return out


def _check_keys(module, tensors):
    names = set(_named_tensors(module))
    missing, unexpected = sorted(names - set(tensors)), sorted(set(tensors) - names)
    msgs = []
    if unexpected:
        msgs.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
    if missing:
        msgs.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
    if msgs:
        raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n\t"
                           + "\n\t".join(msgs))


def _swap(module, name, tensor):
    """Put `tensor` (or _MISSING: remove) at dotted `name`; return what was there (_MISSING for
    a name the module did not have, which is then set as a plain attribute)."""
    prefix, _, attr = name.rpartition(".")
    owner = module.get_submodule(prefix) if prefix else module
    if tensor is not _MISSING and tensor is not None and not isinstance(tensor, Tensor):
        raise TypeError(f"functional_call: expected a Tensor for {name!r}, got "
                        f"{type(tensor).__name__}")
    for registry in (owner._parameters, owner._buffers):
        if attr in registry:
            old = registry[attr]
            if tensor is _MISSING:
                del registry[attr]
            else:
                registry[attr] = tensor            # no Parameter check: any Tensor goes in
            return old
    old = getattr(owner, attr, _MISSING)
    if old is not _MISSING and not isinstance(old, Tensor):
        raise TypeError(f"functional_call: attribute {name!r} is a {type(old).__name__}, not a "
                        "Tensor")
    if tensor is not _MISSING:
        setattr(owner, attr, tensor)
    elif hasattr(owner, attr):
        delattr(owner, attr)
    return old


@contextlib.contextmanager
def _reparametrize_module(module, tensors, tie_weights=False, strict=False):
    swapped = _untie(module, tensors) if tie_weights else dict(tensors)
    if strict:                           # a tensor given for one tied name counts for all
        _check_keys(module, swapped)
    originals = {}
    try:
        for name, t in swapped.items():
            originals[name] = _swap(module, name, t)
        yield
    finally:
        for name, old in reversed(list(originals.items())):
            _swap(module, name, old)


def _functional_call(module, tensors, args=None, kwargs=None, *, tie_weights=True,
                     strict=False):
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    with _reparametrize_module(module, tensors, tie_weights=tie_weights, strict=strict):
        return module(*args, **(kwargs or {}))


def _merge(dicts):
    """One dict, or a sequence of dicts with distinct keys merged into one."""
    if isinstance(dicts, dict):
        return dicts
    if not isinstance(dicts, Sequence) or not all(isinstance(d, dict) for d in dicts):
        raise ValueError("Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of "
                         f"dicts, but got {type(dicts)}")
    keys = [k for d in dicts for k in d]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional "
                         "call is ambiguous")
    return {k: v for d in dicts for k, v in d.items()}


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """module(*args, **kwargs) with the tensors of parameter_and_buffer_dicts (a dict, or a
    sequence of dicts with distinct keys) in place of the parameters / buffers of the same dotted
    names, the originals put back afterwards; a lone non-tuple `args` is one argument.
    tie_weights: a tensor given for one of tied names goes to all. strict=True: the names must
    be exactly the module's. As PyTorch, a name the module lacks is set as a plain attribute
    for the call."""
    return _functional_call(module, _merge(parameter_and_buffer_dicts), args, kwargs,
                            tie_weights=tie_weights, strict=strict)


__all__ = ["functional_call"]
