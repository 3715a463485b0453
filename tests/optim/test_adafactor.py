"""Adafactor against PyTorch: the same start, the same losses, 25 steps, the same trajectory (within
round-off: 1e-6 of the parameter's scale in float32, 1e-10 in float64), the same state dict (keys,
torch's factored shapes, values), state dicts loaded from one framework into the other, and
torch's argument checks."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F

torch = pytest.importorskip("torch")

STEPS = 25
SHAPES = [(5,), (3, 4), (2, 3, 4), ()]          # 1-D, 2-D, 3-D (factored over the last two), 0-d
TOL = {np.float32: 1e-6, np.float64: 1e-10}


def _assert_close(torch_value, tg_value, dtype, what=""):
    """Equal within TOL[dtype] of the value's scale, at least 1 (round-off, not
    elementwise-relative: an entry near zero, or a parameter that started at O(1) and shrank,
    carries the absolute round-off of the arithmetic that brought it there)."""
    expected = torch_value.detach().numpy()
    got = tg_value.detach().numpy() if isinstance(tg_value, tg.Tensor) else np.asarray(tg_value)
    assert got.shape == expected.shape, what
    assert got.dtype == expected.dtype, what
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    np.testing.assert_allclose(got, expected, rtol=TOL[dtype], atol=TOL[dtype] * scale,
                               err_msg=what)


class Run:
    """One framework's parameters, loss constants and Adafactor (and optional scheduler)."""

    def __init__(self, lib, kwargs, dtype, shapes=SHAPES, sched=None, seed=0):
        rng = np.random.default_rng(seed)
        self.lib = lib
        self.params = [lib.tensor(rng.uniform(-1, 1, s).astype(dtype), requires_grad=True)
                       for s in shapes]
        self.targets = [lib.tensor(rng.uniform(-1, 1, s).astype(dtype)) for s in shapes]
        self.weights = [lib.tensor(rng.uniform(0.5, 2.0, s).astype(dtype)) for s in shapes]
        self.opt = lib.optim.Adafactor(self.params, **kwargs)
        self.sched = None
        if sched is not None:
            name, sched_kwargs = sched
            self.sched = getattr(lib.optim.lr_scheduler, name)(self.opt, **sched_kwargs)

    def loss(self, sign=1.0):
        """sign * (sum w (p - t)^2 + 0.05 p^4): a gradient that depends on where p is."""
        total = 0
        for p, t, w in zip(self.params, self.targets, self.weights):
            total = total + (w * (p - t) ** 2).sum() + 0.05 * (p ** 4).sum()
        return total * sign

    def step(self, sign=1.0):
        self.opt.zero_grad()
        self.loss(sign).backward()
        self.opt.step()
        if self.sched is not None:
            self.sched.step()


def _run_pair(kwargs, dtype, shapes=SHAPES, sched=None, steps=STEPS, sign=1.0):
    ref, ours = Run(torch, kwargs, dtype, shapes, sched), Run(tg, kwargs, dtype, shapes, sched)
    for k in range(steps):
        ref.step(sign)
        ours.step(sign)
        for i, (a, b) in enumerate(zip(ref.params, ours.params)):
            _assert_close(a, b, dtype, f"param {i} after step {k + 1}")
    return ref, ours


def _assert_state_dicts_match(ref_sd, our_sd, dtype):
    assert sorted(ref_sd["state"]) == sorted(our_sd["state"])
    for index, ref_state in ref_sd["state"].items():
        our_state = our_sd["state"][index]
        assert list(our_state) == list(ref_state), index
        for key, value in ref_state.items():
            if key == "step":
                expected = {torch.float32: tg.float32, torch.float64: tg.float64}[value.dtype]
                assert our_state[key].dtype == expected
                assert float(our_state[key]) == float(value)
            else:
                _assert_close(value, our_state[key], dtype, f"state {index} {key}")
    assert len(ref_sd["param_groups"]) == len(our_sd["param_groups"])
    for ref_group, our_group in zip(ref_sd["param_groups"], our_sd["param_groups"]):
        assert sorted(our_group) == sorted(ref_group)
        for key, value in ref_group.items():
            if not isinstance(value, torch.Tensor):
                assert our_group[key] == value, key


CONFIGS = [
    dict(),
    dict(lr=0.05),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.2, beta2_decay=-0.5, eps=(1e-3, 1e-2), d=2.0),
    dict(lr=0.05, eps=(1e-30, 0.0)),
    dict(lr=0.05, weight_decay=0.05, foreach=True),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in
                                                                    kw.items()) or "defaults")
def test_trajectory_and_state_dict_match_torch(kwargs, dtype):
    ref, ours = _run_pair(kwargs, dtype)
    _assert_state_dicts_match(ref.opt.state_dict(), ours.opt.state_dict(), dtype)


def test_state_shapes_are_torchs_factored_ones():
    _, ours = _run_pair(dict(lr=0.05), np.float32, steps=1)
    state = ours.opt.state_dict()["state"]
    assert sorted(state[0]) == ["step", "variance"] and tuple(state[0]["variance"].shape) == (5,)
    assert tuple(state[1]["row_var"].shape) == (3, 1)
    assert tuple(state[1]["col_var"].shape) == (1, 4)
    assert tuple(state[2]["row_var"].shape) == (2, 3, 1)
    assert tuple(state[2]["col_var"].shape) == (2, 1, 4)
    assert sorted(state[3]) == ["step", "variance"] and tuple(state[3]["variance"].shape) == ()
    assert float(state[0]["step"]) == 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maximize_matches_torch(dtype):
    # maximising the negated loss walks the same way as minimising the loss
    ref, ours = _run_pair(dict(lr=0.05, weight_decay=0.1, maximize=True), dtype, sign=-1.0)
    _, minimised = _run_pair(dict(lr=0.05, weight_decay=0.1), dtype)
    _assert_state_dicts_match(ref.opt.state_dict(), ours.opt.state_dict(), dtype)
    for a, b in zip(ours.params, minimised.params):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("sched", [("StepLR", dict(step_size=5, gamma=0.3)),
                                   ("CosineAnnealingLR", dict(T_max=10, eta_min=1e-3)),
                                   ("LinearLR", dict(start_factor=0.2, total_iters=40))],
                         ids=lambda s: s[0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lr_schedules_match_torch(sched, dtype):
    ref, ours = _run_pair(dict(lr=0.1, weight_decay=0.1), dtype, sched=sched)
    assert ours.opt.param_groups[0]["lr"] == pytest.approx(ref.opt.param_groups[0]["lr"],
                                                           rel=1e-12)
    assert ours.opt.param_groups[0]["lr"] != pytest.approx(0.1)     # the schedule did move it


def test_tensor_lr_matches_torch():
    kwargs = {"weight_decay": 0.1}
    ref = Run(torch, {**kwargs, "lr": torch.tensor(0.05)}, np.float32)
    ours = Run(tg, {**kwargs, "lr": tg.tensor(0.05)}, np.float32)
    for _ in range(STEPS):
        ref.step()
        ours.step()
    for a, b in zip(ref.params, ours.params):
        _assert_close(a, b, np.float32)


def _torch_state_dict(state_dict):
    """A tinygen state dict with its tensors as torch tensors."""
    return {"state": {i: {k: torch.tensor(v.numpy()) for k, v in s.items()}
                      for i, s in state_dict["state"].items()},
            "param_groups": [dict(g) for g in state_dict["param_groups"]]}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_state_dict_round_trip_with_torch(dtype):
    kwargs = dict(lr=0.05, weight_decay=0.1)
    ref, ours = _run_pair(kwargs, dtype, steps=10)
    # torch -> tinygen: a fresh tinygen optimiser takes over torch's state and keeps in step
    fresh = Run(tg, dict(lr=0.5), dtype)
    for p, q in zip(fresh.params, ref.params):
        p.data = tg.tensor(q.detach().numpy().copy())
    fresh.opt.load_state_dict(ref.opt.state_dict())
    assert fresh.opt.param_groups[0]["lr"] == 0.05
    # tinygen -> torch
    back = Run(torch, dict(lr=0.5), dtype)
    with torch.no_grad():
        for p, q in zip(back.params, ours.params):
            p.copy_(torch.tensor(q.detach().numpy()))
    back.opt.load_state_dict(_torch_state_dict(ours.opt.state_dict()))
    for k in range(10):
        for run in (ref, ours, fresh, back):
            run.step()
        for a, b, c, e in zip(ref.params, ours.params, fresh.params, back.params):
            _assert_close(a, b, dtype, f"continued, step {k}")
            _assert_close(a, c, dtype, f"loaded from torch, step {k}")
            _assert_close(e, b, dtype, f"loaded into torch, step {k}")
    _assert_state_dicts_match(ref.opt.state_dict(), fresh.opt.state_dict(), dtype)
    _assert_state_dicts_match(back.opt.state_dict(), ours.opt.state_dict(), dtype)


def test_load_state_dict_checks_factored_shapes():
    _, ours = _run_pair(dict(), np.float32, steps=1)
    state_dict = ours.opt.state_dict()
    state_dict["state"][1] = dict(state_dict["state"][1],
                                  row_var=tg.zeros(1, 4))         # col_var's shape, not (3, 1)
    other = Run(tg, dict(), np.float32)
    with pytest.raises(ValueError, match=r"'row_var' has shape \(1, 4\).*needs shape \(3, 1\)"):
        other.opt.load_state_dict(state_dict)


def test_model_trajectory_matches_torch():
    """A Linear + Conv2d model (2-D and 4-D weights, 1-D biases), torch's initial weights loaded
    into tinygen, 20 steps of the same losses."""
    def build(lib):
        nn = lib.nn
        return nn.Sequential(nn.Conv2d(2, 3, 3), nn.Tanh(), nn.Flatten(), nn.Linear(12, 4))

    torch.manual_seed(0)
    ref_model, our_model = build(torch), build(tg)
    our_model.load_state_dict({k: v.detach().numpy() for k, v in ref_model.state_dict().items()})
    ref_opt = torch.optim.Adafactor(ref_model.parameters(), lr=0.05, weight_decay=0.01)
    our_opt = tg.optim.Adafactor(our_model.parameters(), lr=0.05, weight_decay=0.01)
    rng = np.random.default_rng(1)
    for step in range(20):
        x = rng.standard_normal((5, 2, 4, 4)).astype(np.float32)
        y = rng.standard_normal((5, 4)).astype(np.float32)
        for lib, model, opt in ((torch, ref_model, ref_opt), (tg, our_model, our_opt)):
            opt.zero_grad()
            lib.nn.functional.mse_loss(model(lib.tensor(x)), lib.tensor(y)).backward()
            opt.step()
        for name, value in ref_model.state_dict().items():
            _assert_close(value, our_model.state_dict()[name], np.float32, f"{name}, {step}")
    assert tuple(our_opt.state[our_model[0].weight]["col_var"].shape) == (3, 2, 1, 3)
    _assert_state_dicts_match(ref_opt.state_dict(), our_opt.state_dict(), np.float32)


def test_eps1_none_comes_from_the_groups_first_parameter_as_in_torch():
    """PyTorch resolves eps1=None from the first parameter of the group with a gradient and keeps
    it: a float32 parameter after a float64 one is clamped at float64's eps^2, so its tiny
    gradients are not flattened by float32's eps (1.2e-7)."""
    rng = np.random.default_rng(0)
    first = rng.uniform(-1, 1, (3, 4))
    second = rng.uniform(-1, 1, (6,)).astype(np.float32)
    runs = []
    for lib in (torch, tg):
        params = [lib.tensor(first.copy(), requires_grad=True),
                  lib.tensor(second.copy(), requires_grad=True)]
        opt = lib.optim.Adafactor(params, lr=0.05)
        for _ in range(5):
            opt.zero_grad()
            ((params[0] ** 2).sum() + 1e-9 * (params[1] * lib.tensor(second)).sum()).backward()
            opt.step()
        runs.append(params)
    _assert_close(runs[0][0], runs[1][0], np.float64)
    _assert_close(runs[0][1], runs[1][1], np.float32)
    alone = tg.tensor(second.copy(), requires_grad=True)          # its own eps1 (float32's)
    opt = tg.optim.Adafactor([alone], lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        (1e-9 * (alone * tg.tensor(second)).sum()).backward()
        opt.step()
    assert not np.allclose(alone.detach().numpy(), runs[1][1].detach().numpy(), rtol=1e-3)


BAD_ARGS = [
    (dict(lr=-0.1), "Learning rate should be >= 0 but is: -0.1"),
    (dict(beta2_decay=0.5), "beta2_decay should be <= 0 but is: 0.5"),
    (dict(eps=(-1e-3, 1e-3)), "epsilon1 should be >= 0 but is: -0.001"),
    (dict(eps=(None, -1.0)), "epsilon2 should be >= 0 but is: -1.0"),
    (dict(d=0.5), "Clipping threshold d should be >= 1 but is: 0.5"),
    (dict(weight_decay=-0.1), "weight_decay should be >= 0 but is: -0.1"),
]


@pytest.mark.parametrize("kwargs,message", BAD_ARGS, ids=[m.split()[0] for _, m in BAD_ARGS])
def test_bad_arguments_raise_torchs_error(kwargs, message):
    with pytest.raises(ValueError) as ref:
        torch.optim.Adafactor([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError) as ours:
        tg.optim.Adafactor([tg.zeros(2, requires_grad=True)], **kwargs)
    assert str(ours.value) == str(ref.value) == message


def test_tensor_lr_must_have_one_element():
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        tg.optim.Adafactor([tg.zeros(2, requires_grad=True)], lr=tg.tensor([0.1, 0.2]))
    with pytest.raises(TypeError):                 # foreach and maximize are keyword-only
        tg.optim.Adafactor([tg.zeros(2, requires_grad=True)], 1e-2, -0.8, (None, 1e-3), 1.0,
                           0.0, None)


def test_step_hooks_run_around_the_step():
    param = tg.ones(3, requires_grad=True)
    opt = tg.optim.Adafactor([param])
    seen = []
    opt.register_step_pre_hook(lambda o, a, k: seen.append(("pre", float(param.sum()))))
    opt.register_step_post_hook(lambda o, a, k: seen.append(("post", float(param.sum()))))
    param.sum().backward()
    opt.step()
    assert [kind for kind, _ in seen] == ["pre", "post"]
    assert seen[0][1] == 3.0 and seen[1][1] < 3.0


def test_captured_step_is_bitwise_eager():
    """tg.compile replays Adafactor's step as a call: the compiled run equals the eager one."""
    rng = np.random.default_rng(0)
    batches = [(tg.tensor(rng.standard_normal((8, 6)).astype(np.float32)),
                tg.tensor(rng.integers(0, 3, 8))) for _ in range(8)]
    results = []
    for compiled in (False, True):
        tg.manual_seed(0)
        model = tg.nn.Sequential(tg.nn.Linear(6, 5), tg.nn.ReLU(), tg.nn.Linear(5, 3))
        opt = tg.optim.Adafactor(model.parameters(), lr=0.05, weight_decay=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        fn = tg.compile(step) if compiled else step
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)     # no silent fallback to eager
            losses = [fn(x, y).numpy().copy() for x, y in batches]
        state = [v.numpy().copy() for s in opt.state.values() for v in s.values()]
        results.append((losses, [p.detach().numpy().copy() for p in model.parameters()], state))
    for eager, replayed in zip(*results):
        assert len(eager) == len(replayed) > 0
        for a, b in zip(eager, replayed):
            np.testing.assert_array_equal(a, b)
    assert float(results[0][2][0]) == 8.0                       # step count of the first param
