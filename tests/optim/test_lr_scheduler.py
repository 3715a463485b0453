"""Learning-rate schedulers against PyTorch: the same lrs (and momenta) at every step, the same
state dict, and a state-dict round trip (through tg.save / tg.load) that resumes exactly."""
from __future__ import annotations

import warnings

import pytest

import tinygen as tg

torch = pytest.importorskip("torch")

STEPS = 30


def _optimizer(lib, kind="SGD"):
    """Two param groups with different lrs; no gradients, so opt.step() changes nothing."""
    a = lib.zeros(2, requires_grad=True)
    b = lib.zeros(3, requires_grad=True)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.01}]
    if kind == "Adam":
        return lib.optim.Adam(groups, lr=0.1)
    return lib.optim.SGD(groups, lr=0.1, momentum=0.9)


SCHEDULERS = {
    "StepLR": ("SGD", lambda S, o: S.StepLR(o, step_size=3, gamma=0.5)),
    "MultiStepLR": ("SGD", lambda S, o: S.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3)),
    "ExponentialLR": ("SGD", lambda S, o: S.ExponentialLR(o, gamma=0.9)),
    "CosineAnnealingLR": ("SGD", lambda S, o: S.CosineAnnealingLR(o, T_max=7, eta_min=0.01)),
    "CosineAnnealingLR-no-min": ("SGD", lambda S, o: S.CosineAnnealingLR(o, T_max=10)),
    "LambdaLR": ("SGD", lambda S, o: S.LambdaLR(o, lambda e: 0.95 ** e)),
    "LambdaLR-per-group": ("SGD", lambda S, o: S.LambdaLR(o, [lambda e: 1 / (e + 1),
                                                               lambda e: 0.5 ** (e // 4)])),
    "LinearLR": ("SGD", lambda S, o: S.LinearLR(o, start_factor=0.25, total_iters=6)),
    "LinearLR-decay": ("SGD", lambda S, o: S.LinearLR(o, start_factor=1.0, end_factor=0.1,
                                                       total_iters=4)),
    "SequentialLR": ("SGD", lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.1, total_iters=3), S.CosineAnnealingLR(o, T_max=10)],
        milestones=[3])),
    "SequentialLR-3": ("SGD", lambda S, o: S.SequentialLR(
        o, [S.ExponentialLR(o, gamma=0.8), S.StepLR(o, step_size=2),
            S.MultiStepLR(o, milestones=[3, 4])], milestones=[5, 12])),
    "MultiplicativeLR": ("SGD", lambda S, o: S.MultiplicativeLR(o, lambda e: 0.9 if e % 2 else 1)),
    "ConstantLR": ("SGD", lambda S, o: S.ConstantLR(o, factor=0.5, total_iters=4)),
    "PolynomialLR": ("SGD", lambda S, o: S.PolynomialLR(o, total_iters=12, power=2.0)),
    "CosineAnnealingWarmRestarts": ("SGD", lambda S, o: S.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=0.001)),
    "ChainedScheduler": ("SGD", lambda S, o: S.ChainedScheduler(
        [S.ConstantLR(o, factor=0.5, total_iters=4), S.ExponentialLR(o, gamma=0.9)])),
    "OneCycleLR-cos": ("SGD", lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=STEPS + 1)),
    "OneCycleLR-linear": ("SGD", lambda S, o: S.OneCycleLR(
        o, max_lr=[1.0, 0.3], total_steps=STEPS + 1, anneal_strategy="linear", pct_start=0.4)),
    "OneCycleLR-three-phase": ("SGD", lambda S, o: S.OneCycleLR(
        o, max_lr=0.5, epochs=4, steps_per_epoch=8, three_phase=True, base_momentum=0.8)),
    "OneCycleLR-adam-betas": ("Adam", lambda S, o: S.OneCycleLR(o, max_lr=0.01,
                                                                 total_steps=STEPS + 2)),
    "OneCycleLR-no-momentum": ("Adam", lambda S, o: S.OneCycleLR(
        o, max_lr=0.01, total_steps=STEPS + 1, cycle_momentum=False, div_factor=10.0)),
    "CyclicLR-triangular": ("SGD", lambda S, o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1,
                                                             step_size_up=4)),
    "CyclicLR-triangular2": ("SGD", lambda S, o: S.CyclicLR(
        o, base_lr=[0.01, 0.001], max_lr=[0.1, 0.05], step_size_up=3, step_size_down=5,
        mode="triangular2", base_momentum=0.7)),
    "CyclicLR-exp-range-adam": ("Adam", lambda S, o: S.CyclicLR(
        o, base_lr=0.001, max_lr=0.01, step_size_up=5, mode="exp_range", gamma=0.97)),
    "CyclicLR-scale-fn": ("SGD", lambda S, o: S.CyclicLR(
        o, base_lr=0.01, max_lr=0.2, step_size_up=2, scale_fn=lambda x: 1 / (1 + x),
        scale_mode="iterations", cycle_momentum=False)),
    "CyclicLR-scale-fn-object": ("SGD", lambda S, o: S.CyclicLR(
        o, base_lr=0.01, max_lr=0.2, step_size_up=3, scale_fn=_DecayScale(0.8),
        scale_mode="cycle")),
}


class _DecayScale:
    """A callable object as CyclicLR's scale_fn: its attributes are state (PyTorch saves them)."""

    def __init__(self, decay):
        self.decay = decay

    def __call__(self, x):
        return self.decay ** (x - 1)


def _make(lib, name):
    kind, factory = SCHEDULERS[name]
    opt = _optimizer(lib, kind)
    return opt, factory(lib.optim.lr_scheduler, opt)


def _snapshot(opt, sched):
    """Everything a scheduler sets: lrs, momenta or betas, and get_last_lr()."""
    return ([g["lr"] for g in opt.param_groups],
            [g.get("momentum") for g in opt.param_groups],
            [tuple(g["betas"]) if "betas" in g else None for g in opt.param_groups],
            list(sched.get_last_lr()))


def _assert_snapshots_equal(ours, ref, what):
    for field, a, b in zip(("lr", "momentum", "betas", "last_lr"), ours, ref):
        for x, y in zip(a, b):                # approx() takes no None (pytest >= 9.2): compare those exactly
            if x is None or y is None:
                assert x is y, f"{what}: {field} {a} != {b}"
            else:
                assert x == pytest.approx(y, rel=1e-12, abs=1e-15), f"{what}: {field} {a} != {b}"
        assert len(a) == len(b)


def _run(lib, name, steps):
    opt, sched = _make(lib, name)
    snaps = [_snapshot(opt, sched)]
    for _ in range(steps):
        opt.step()
        sched.step()
        snaps.append(_snapshot(opt, sched))
    return opt, sched, snaps


def _plain(value):
    """A state-dict value with torch-free, comparable types."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_schedule_matches_torch(name):
    opt, sched, ours = _run(tg, name, STEPS)
    ref_opt, ref_sched, ref = _run(torch, name, STEPS)
    for step, (a, b) in enumerate(zip(ours, ref)):
        _assert_snapshots_equal(a, b, f"{name} after {step} steps")
    assert getattr(sched, "last_epoch", None) == getattr(ref_sched, "last_epoch", None)
    # same state dict, key for key (lambdas and sub-schedulers included)
    assert _plain(sched.state_dict()).keys() == _plain(ref_sched.state_dict()).keys()
    assert _plain(sched.state_dict()) == _plain(ref_sched.state_dict())
    assert [k for k in opt.param_groups[0]] == [k for k in ref_opt.param_groups[0]]


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_state_dict_round_trip_resumes_exactly(name, tmp_path):
    _, _, uninterrupted = _run(tg, name, STEPS)
    opt, sched, _ = _run(tg, name, 11)
    path = tmp_path / "sched.safetensors"
    tg.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, path)
    loaded = tg.load(path)
    opt2, sched2 = _make(tg, name)             # fresh ones, as after a restart
    opt2.load_state_dict(loaded["optimizer"])
    sched2.load_state_dict(loaded["scheduler"])
    assert _snapshot(opt2, sched2) == uninterrupted[11]
    for step in range(12, STEPS + 1):
        opt2.step()
        sched2.step()
        _assert_snapshots_equal(_snapshot(opt2, sched2), uninterrupted[step],
                                f"{name} resumed, step {step}")


@pytest.mark.parametrize("lib_name", ["tinygen", "torch"])
def test_cyclic_lr_saves_a_callable_objects_attributes(lib_name):
    """state_dict() keeps a callable scale_fn's __dict__ (a copy) and None for a lambda;
    load_state_dict() updates the loading scheduler's own scale_fn with it (PyTorch's rule)."""
    lib = tg if lib_name == "tinygen" else torch
    S = lib.optim.lr_scheduler
    fn = _DecayScale(0.5)
    sched = S.CyclicLR(_optimizer(lib), 0.01, 0.1, step_size_up=2, scale_fn=fn)
    state = sched.state_dict()
    assert state["_scale_fn_custom"] == {"decay": 0.5}
    fn.decay = 0.25
    assert state["_scale_fn_custom"] == {"decay": 0.5}            # a copy, not the live dict
    fresh_fn = _DecayScale(0.9)
    fresh = S.CyclicLR(_optimizer(lib), 0.01, 0.1, step_size_up=2, scale_fn=fresh_fn)
    fresh.load_state_dict(state)
    assert fresh._scale_fn_custom is fresh_fn and fresh_fn.decay == 0.5
    lam = S.CyclicLR(_optimizer(lib), 0.01, 0.1, step_size_up=2, scale_fn=lambda x: 1.0)
    assert lam.state_dict()["_scale_fn_custom"] is None


@pytest.mark.parametrize("name,epochs", [
    ("StepLR", [4, 9, 2]), ("CosineAnnealingLR", [3, 12, 5]), ("ExponentialLR", [6]),
    ("MultiStepLR", [5, 10]), ("LinearLR", [2, 8]), ("ConstantLR", [1, 6]),
    ("PolynomialLR", [3, 20]), ("CosineAnnealingWarmRestarts", [0.5, 1.25, 7, 20.5, 2]),
])
def test_step_with_epoch_uses_the_closed_form(name, epochs):
    opt, sched = _make(tg, name)
    ref_opt, ref_sched = _make(torch, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in epochs:
            opt.step()
            ref_opt.step()
            sched.step(epoch)
            ref_sched.step(epoch)
            assert sched.get_last_lr() == pytest.approx(ref_sched.get_last_lr(), rel=1e-12)


def test_resuming_with_last_epoch():
    """last_epoch >= 0 needs initial_lr in the groups, and CosineAnnealingLR jumps in closed form."""
    opt = _optimizer(tg)
    with pytest.raises(KeyError, match="initial_lr"):
        tg.optim.lr_scheduler.StepLR(opt, step_size=2, last_epoch=3)
    ref_opt = _optimizer(torch)
    for o in (opt, ref_opt):
        for g in o.param_groups:
            g["initial_lr"] = g["lr"]
    ours = tg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, last_epoch=3)
    ref = torch.optim.lr_scheduler.CosineAnnealingLR(ref_opt, T_max=10, last_epoch=3)
    for _ in range(5):
        opt.step(), ref_opt.step(), ours.step(), ref.step()
        assert ours.get_last_lr() == pytest.approx(ref.get_last_lr(), rel=1e-12)


def test_warns_when_scheduler_steps_before_optimizer():
    opt, sched = _make(tg, "StepLR")
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt, sched = _make(tg, "StepLR")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()


def test_one_cycle_errors():
    opt = _optimizer(tg)
    S = tg.optim.lr_scheduler
    with pytest.raises(ValueError, match="total_steps"):
        S.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="anneal_strategy"):
        S.OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        S.OneCycleLR(opt, max_lr=[1.0, 2.0, 3.0], total_steps=10)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):                  # last_epoch 1, 2, 3 = total_steps: still allowed
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times|tried to step 4 times"):
        opt.step()
        sched.step()
    with pytest.raises(TypeError, match="not an Optimizer"):
        S.StepLR(object(), step_size=1)


@pytest.mark.parametrize("kwargs", [
    {}, {"mode": "max", "factor": 0.5, "patience": 1, "threshold_mode": "abs", "cooldown": 2},
    {"patience": 2, "min_lr": [0.02, 0.005], "threshold": 0.1},
])
def test_reduce_lr_on_plateau_matches_torch(kwargs, tmp_path):
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85, 0.86] * 3
    runs = []
    for lib in (tg, torch):
        opt = _optimizer(lib)
        runs.append((opt, lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)))
    for i, metric in enumerate(metrics):
        for opt, sched in runs:
            opt.step()
            sched.step(metric if "mode" not in kwargs else -metric)
        (opt, sched), (ref_opt, ref_sched) = runs
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in ref_opt.param_groups]
        assert sched.get_last_lr() == ref_sched.get_last_lr()
        if i == 10:                                  # round trip mid-way, through a checkpoint
            tg.save({"s": sched.state_dict()}, tmp_path / "plateau.safetensors")
            fresh = tg.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
            fresh.load_state_dict(tg.load(tmp_path / "plateau.safetensors")["s"])
            runs[0] = (opt, fresh)
    assert _plain(runs[0][1].state_dict()) == _plain(runs[1][1].state_dict())
