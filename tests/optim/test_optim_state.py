"""Optimiser state dicts: PyTorch's format, a save/load round trip that resumes bit for bit, and
state dicts passed between tinygen and PyTorch in both directions."""
from __future__ import annotations

import numpy as np
import pytest
from test_optimizers import TOL, Run, _assert_same

import tinygen as tg

torch = pytest.importorskip("torch")

CONFIGS = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
]
IDS = [c[0] for c in CONFIGS]


def _fresh_run_at(lib, opt_name, kwargs, values, dtype="float64"):
    """A new Run whose parameters hold `values` (as after a restart from a checkpoint)."""
    run = Run(lib, opt_name, kwargs, dtype)
    with lib.no_grad():
        for p, v in zip(run.params, values):
            p.copy_(lib.tensor(v.astype(dtype)))
    return run


@pytest.mark.parametrize("opt_name,kwargs", CONFIGS, ids=IDS)
def test_round_trip_through_a_checkpoint_resumes_exactly(opt_name, kwargs, tmp_path):
    uninterrupted = Run(tg, opt_name, kwargs, "float64")
    first = Run(tg, opt_name, kwargs, "float64")
    for _ in range(10):
        uninterrupted.step()
        first.step()
    path = tmp_path / "opt.safetensors"
    tg.save({"params": [p.detach() for p in first.params], "optimizer": first.opt.state_dict()},
            path)
    ckpt = tg.load(path)
    resumed = _fresh_run_at(tg, opt_name, kwargs, [p.numpy() for p in ckpt["params"]])
    resumed.opt.load_state_dict(ckpt["optimizer"])
    for _ in range(15):
        uninterrupted.step()
        resumed.step()
    for a, b in zip(resumed.values(), uninterrupted.values()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("opt_name,kwargs", CONFIGS, ids=IDS)
def test_state_dict_layout_matches_torch(opt_name, kwargs):
    ours, ref = Run(tg, opt_name, kwargs, "float32"), Run(torch, opt_name, kwargs, "float32")
    for _ in range(3):
        ours.step()
        ref.step()
    sd, ref_sd = ours.opt.state_dict(), ref.opt.state_dict()
    assert sd["param_groups"] == ref_sd["param_groups"]
    assert list(sd["state"]) == list(ref_sd["state"])
    for index, state in ref_sd["state"].items():
        assert list(sd["state"][index]) == list(state)
        for key, value in state.items():
            assert tuple(sd["state"][index][key].shape) == tuple(value.shape), key
            assert sd["state"][index][key].dtype.name == str(value.dtype)[len("torch."):], key


def _to_torch(value):
    if isinstance(value, tg.Tensor):
        return torch.from_dlpack(value).clone()
    if isinstance(value, dict):
        return {k: _to_torch(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_torch(v) for v in value]
    return value


@pytest.mark.parametrize("opt_name,kwargs", CONFIGS, ids=IDS)
def test_state_dicts_pass_between_tinygen_and_torch(opt_name, kwargs):
    dtype = "float32"
    ours, ref = Run(tg, opt_name, kwargs, dtype), Run(torch, opt_name, kwargs, dtype)
    for _ in range(8):
        ours.step()
        ref.step()
    # PyTorch's state into a fresh tinygen optimiser (torch tensors accepted as they are) ...
    from_torch = _fresh_run_at(tg, opt_name, kwargs, ref.values(), dtype)
    from_torch.opt.load_state_dict(ref.opt.state_dict())
    # ... and tinygen's state into a fresh PyTorch optimiser
    from_tg = _fresh_run_at(torch, opt_name, kwargs, ours.values(), dtype)
    from_tg.opt.load_state_dict(_to_torch(ours.opt.state_dict()))
    for _ in range(10):
        for run in (ours, ref, from_torch, from_tg):
            run.step()
    _assert_same(from_torch, ref, TOL[dtype], "tinygen resumed from torch's state")
    _assert_same(ours, from_tg, TOL[dtype], "torch resumed from tinygen's state")


def test_load_state_dict_copies_and_casts():
    a = tg.tensor(np.zeros(3, np.float32), requires_grad=True)
    opt = tg.optim.Adam([a], lr=0.1)
    saved_avg = tg.tensor(np.ones(3, np.float64))
    opt.load_state_dict({"state": {0: {"step": tg.tensor(4.0), "exp_avg": saved_avg,
                                       "exp_avg_sq": np.full(3, 2.0)}},
                         "param_groups": [{**opt.param_groups[0], "params": [0]}]})
    state = opt.state[a]
    assert state["exp_avg"].dtype == tg.float32 and state["exp_avg_sq"].dtype == tg.float32
    assert state["step"].dtype == tg.float32 and float(state["step"]) == 4.0
    a.grad = tg.ones(3)
    opt.step()
    assert saved_avg.tolist() == [1.0, 1.0, 1.0]          # the source was not touched
    assert float(state["step"]) == 5.0


def test_load_state_dict_errors():
    a = tg.tensor([1.0], requires_grad=True)
    b = tg.tensor([1.0], requires_grad=True)
    opt = tg.optim.SGD([a], lr=0.1)
    two = tg.optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(two.state_dict())
    both = tg.optim.SGD([a, b], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict(both.state_dict())
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"weight": a})
    big = tg.tensor([1.0, 2.0], requires_grad=True)
    other = tg.optim.SGD([big], lr=0.1, momentum=0.9)
    big.grad = tg.ones(2)
    other.step()
    with pytest.raises(ValueError, match=r"'momentum_buffer' has shape \(2,\).*shape \(1,\)"):
        tg.optim.SGD([a], lr=0.1, momentum=0.9).load_state_dict(other.state_dict())


def test_loaded_lr_wins_and_groups_keep_their_params():
    a = tg.tensor([1.0], requires_grad=True)
    opt = tg.optim.SGD([a], lr=0.1)
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = 0.5
    b = tg.tensor([2.0], requires_grad=True)
    opt2 = tg.optim.SGD([b], lr=0.1)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.5 and opt2.param_groups[0]["params"][0] is b
