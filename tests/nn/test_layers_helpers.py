"""Shared PyTorch-parity check for the tinygen.nn layer tests (no tests of its own).

`check_layer(tg_layer, torch_layer, inputs)`:
  1. loads the PyTorch layer's state dict into the tinygen layer ({k: v.detach().numpy()}) and
     checks the key names are the same, in the same order;
  2. runs both on the same inputs (NumPy arrays; float ones require grad) in the same mode;
  3. compares every output, then backpropagates sum(output * fixed random) through both and
     compares the input gradients, every parameter gradient (by name) and every buffer
     (running statistics after a training-mode forward).
Float32 within 1e-4 (the issue's bar) unless told otherwise; float64 runs use 1e-9.
"""
from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg

torch = pytest.importorskip("torch")

TOL = {"float32": 1e-4, "float64": 1e-9}


def _flatten(out):
    """Outputs as a flat list of tensors (tuples of tensors, nested, None dropped)."""
    if out is None:
        return []
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res.extend(_flatten(o))
        return res
    return [out]


def _np(t):
    if isinstance(t, tg.Tensor):
        return t.detach().numpy()
    return t.detach().cpu().numpy()


def assert_close(actual, expected, tol, what):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if actual.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol, err_msg=what)


def to_torch_dtype(dtype):
    return {"float32": torch.float32, "float64": torch.float64}[dtype]


def check_layer(tg_layer, torch_layer, inputs, *, dtype="float32", train=True, tol=None,
                seed=0, grad_inputs=None, kwargs=None, torch_kwargs=None, tg_kwargs=None):
    """Run the parity check described in the module docstring. inputs: list of NumPy arrays
    (float arrays are cast to `dtype`; int/bool arrays pass as they are) or None.
    grad_inputs: indices of inputs to differentiate (default: every float input).
    kwargs go to both forwards; torch_kwargs / tg_kwargs to one only (masks).
    Returns (tg outputs, torch outputs) as flat lists."""
    tol = TOL[dtype] if tol is None else tol
    tdt = to_torch_dtype(dtype)
    torch_layer = torch_layer.to(tdt)
    torch_layer.train(train)
    state = {k: v.detach().numpy() for k, v in torch_layer.state_dict().items()}
    result = tg_layer.load_state_dict(state)
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    assert list(tg_layer.state_dict().keys()) == list(state.keys())
    if dtype == "float64":
        tg_layer.double()
    tg_layer.train(train)

    tg_in, th_in = [], []
    grad_inputs = [i for i, a in enumerate(inputs) if a is not None and a.dtype.kind == "f"] \
        if grad_inputs is None else grad_inputs
    for i, a in enumerate(inputs):
        if a is None:
            tg_in.append(None)
            th_in.append(None)
            continue
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        tg_in.append(tg.tensor(a, requires_grad=i in grad_inputs))
        th_in.append(torch.tensor(a, requires_grad=i in grad_inputs))
    kwargs = kwargs or {}
    tg_out = _flatten(tg_layer(*tg_in, **kwargs, **(tg_kwargs or {})))
    th_out = _flatten(torch_layer(*th_in, **kwargs, **(torch_kwargs or {})))
    assert len(tg_out) == len(th_out), f"{len(tg_out)} outputs, torch has {len(th_out)}"
    for k, (a, b) in enumerate(zip(tg_out, th_out)):
        assert_close(_np(a), _np(b), tol, f"output {k}")

    # backward through sum(output * fixed random weights)
    rng = np.random.default_rng(seed)
    tg_loss, th_loss = None, None
    for a, b in zip(tg_out, th_out):
        if not b.requires_grad:
            continue
        w = rng.standard_normal(tuple(b.shape)).astype(dtype)
        tl = (a * tg.tensor(w)).sum()
        hl = (b * torch.tensor(w)).sum()
        tg_loss = tl if tg_loss is None else tg_loss + tl
        th_loss = hl if th_loss is None else th_loss + hl
    if th_loss is None:
        return tg_out, th_out
    tg_loss.backward()
    th_loss.backward()
    for i in grad_inputs:
        assert_close(_np(tg_in[i].grad), _np(th_in[i].grad), tol, f"grad of input {i}")
    th_params = dict(torch_layer.named_parameters())
    tg_params = dict(tg_layer.named_parameters())
    assert list(tg_params) == list(th_params)
    for name, p in th_params.items():
        if p.grad is None:
            assert tg_params[name].grad is None or not np.any(_np(tg_params[name].grad)), name
            continue
        assert tg_params[name].grad is not None, f"no gradient for parameter {name}"
        assert_close(_np(tg_params[name].grad), _np(p.grad), tol, f"grad of {name}")
    tg_buffers = dict(tg_layer.named_buffers())
    for name, b in torch_layer.named_buffers():
        assert_close(_np(tg_buffers[name]), _np(b), tol, f"buffer {name}")
    return tg_out, th_out


def randn(*shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)
