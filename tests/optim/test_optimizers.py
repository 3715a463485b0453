"""Optimisers against PyTorch: the same start, the same loss, 25 steps, the same trajectory.

Each framework computes the gradient of one fixed loss (a weighted quadratic plus a small quartic,
so the gradient depends on where the parameters are) with its own autograd; the parameters must
agree after every step within 1e-6 (float64) / 1e-5 (float32).
"""
from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg

torch = pytest.importorskip("torch")

STEPS = 25
SHAPES = [(3, 4), (5,)]
TOL = {"float64": 1e-6, "float32": 1e-5}

CONFIGS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.5, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3)),
    ("Adadelta", dict(lr=1.0)),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(lr=0.05)),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)),
    ("NAdam", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, momentum_decay=0.01)),
    # (lr 0.05 with weight_decay 0.1 decoupled puts this loss's trajectory where float32
    # round-off doubles every step from step 17 on: float64 agrees to 1e-6 there, float32 not)
    ("NAdam", dict(lr=0.05, weight_decay=0.5, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, betas=(0.5, 0.8), weight_decay=0.1, decoupled_weight_decay=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1)),
    ("Rprop", dict(lr=0.05)),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
]


def _init_arrays(dtype, seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.uniform(-1, 1, s).astype(dtype) for s in SHAPES]
    targets = [rng.uniform(-1, 1, s).astype(dtype) for s in SHAPES]
    weights = [rng.uniform(0.5, 2.0, s).astype(dtype) for s in SHAPES]
    return params, targets, weights


def _loss(params, targets, weights):
    """sum_i w * (p - t)^2 + 0.05 * p^4: the same expression in both frameworks."""
    total = 0
    for p, t, w in zip(params, targets, weights):
        total = total + (w * (p - t) ** 2).sum() + 0.05 * (p ** 4).sum()
    return total


class Run:
    """One framework's parameters, loss constants and optimiser (and optional scheduler)."""

    def __init__(self, lib, opt_name, kwargs, dtype, groups=None, sched=None, seed=0):
        self.lib = lib
        params, targets, weights = _init_arrays(dtype, seed)
        self.params = [lib.tensor(p.copy(), requires_grad=True) for p in params]
        self.targets = [lib.tensor(t) for t in targets]
        self.weights = [lib.tensor(w) for w in weights]
        cls = getattr(lib.optim, opt_name)
        if groups is None:
            self.opt = cls(self.params, **kwargs)
        else:
            self.opt = cls([dict(params=[self.params[i]], **g) for i, g in enumerate(groups)],
                           **kwargs)
        self.sign = -1 if kwargs.get("maximize") else 1     # maximize: climb the negated loss
        self.sched = None
        if sched is not None:
            name, skw = sched
            self.sched = getattr(lib.optim.lr_scheduler, name)(self.opt, **skw)

    def step(self):
        self.opt.zero_grad()
        loss = _loss(self.params, self.targets, self.weights) * self.sign
        loss.backward()
        self.opt.step()
        if self.sched is not None:
            self.sched.step()

    def values(self):
        return [np.array(p.detach().numpy(), dtype=np.float64) for p in self.params]


def _assert_same(tg_run, torch_run, tol, what):
    for i, (a, b) in enumerate(zip(tg_run.values(), torch_run.values())):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"{what}, param {i}")


def _follow(opt_name, kwargs, dtype, groups=None, sched=None, steps=STEPS):
    ours = Run(tg, opt_name, kwargs, dtype, groups, sched)
    ref = Run(torch, opt_name, kwargs, dtype, groups, sched)
    _assert_same(ours, ref, 0, "initial values")
    for step in range(steps):
        ours.step()
        ref.step()
        _assert_same(ours, ref, TOL[dtype], f"{opt_name}({kwargs}) {dtype} step {step + 1}")
        assert ours.opt.param_groups[0]["lr"] == pytest.approx(ref.opt.param_groups[0]["lr"],
                                                               rel=1e-12)
    return ours, ref


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("opt_name,kwargs", CONFIGS,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}"
                              for n, kw in CONFIGS])
def test_trajectory_matches_torch(opt_name, kwargs, dtype):
    ours, ref = _follow(opt_name, kwargs, dtype)
    # the state has PyTorch's names, dtypes and (in float64, where round-off stays small even
    # in centered RMSprop's sqrt(v - a^2)) values
    for p_ours, p_ref in zip(ours.params, ref.params):
        s_ours, s_ref = ours.opt.state[p_ours], ref.opt.state[p_ref]
        assert sorted(s_ours) == sorted(s_ref)
        for key in s_ref:
            assert s_ours[key].dtype.name == str(s_ref[key].dtype).replace("torch.", "")
            assert tuple(s_ours[key].shape) == tuple(s_ref[key].shape)
            if dtype == "float64":
                np.testing.assert_allclose(s_ours[key].numpy(), s_ref[key].numpy(),
                                           rtol=1e-6, atol=1e-9, err_msg=key)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("opt_name,kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("Adam", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
])
def test_trajectory_with_cosine_annealing(opt_name, kwargs, dtype):
    _follow(opt_name, kwargs, dtype, sched=("CosineAnnealingLR", dict(T_max=10, eta_min=1e-3)))


@pytest.mark.parametrize("opt_name,kwargs,groups", [
    ("SGD", dict(lr=0.05, momentum=0.9), [dict(lr=0.1), dict(momentum=0.5, nesterov=True)]),
    ("Adam", dict(lr=0.05), [dict(lr=0.01, amsgrad=True), dict(betas=(0.5, 0.9))]),
    ("RMSprop", dict(lr=0.01), [dict(lr=0.003, centered=True), dict(momentum=0.9)]),
])
def test_param_groups_with_different_hyperparameters(opt_name, kwargs, groups):
    ours, _ = _follow(opt_name, kwargs, "float64", groups=groups)
    assert ours.opt.param_groups[0]["lr"] == groups[0].get("lr", kwargs["lr"])


def test_parameters_without_grad_are_skipped():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0], requires_grad=True)
    opt = tg.optim.Adam([a, b], lr=0.1)
    (a * a).sum().backward()
    opt.step()
    assert b.tolist() == [3.0] and b not in opt.state
    assert a.tolist() != [1.0, 2.0] and float(opt.state[a]["step"]) == 1.0


def test_zero_grad():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = tg.optim.SGD([a], lr=0.1)
    (a * a).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert a.grad is not None and a.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert a.grad is None


def test_step_with_closure_returns_the_loss():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = tg.optim.SGD([a], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss

    with tg.no_grad():               # the closure still records its graph, as in PyTorch
        loss = opt.step(closure)
    assert loss.item() == 5.0 and a.tolist() == [0.0, 0.0]


def test_step_bumps_the_version_counter():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = tg.optim.SGD([a], lr=0.1)
    (a * a).sum().backward()
    before = a._version[0]
    opt.step()
    assert a._version[0] > before


def test_bad_arguments_raise_clear_errors():
    a = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="learning rate"):
        tg.optim.SGD([a], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        tg.optim.SGD([a], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta"):
        tg.optim.Adam([a], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="empty"):
        tg.optim.Adam([])
    with pytest.raises(TypeError, match="Tensors"):
        tg.optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        tg.optim.SGD([{"params": [a]}, {"params": [a]}], lr=0.1)
    b = a * 2
    with pytest.raises(ValueError, match="non-leaf"):
        tg.optim.SGD([b], lr=0.1)
    opt = tg.optim.SGD([a], lr=0.1)
    a.grad = tg.zeros(2)
    with pytest.raises(RuntimeError, match=r"shape \(1,\).*grad has shape \(2,\)"):
        opt.step()


def test_add_param_group_and_repr():
    a = tg.tensor([1.0], requires_grad=True)
    b = tg.tensor([2.0], requires_grad=True)
    opt = tg.optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.9
    assert "Parameter Group 1" in repr(opt)
    named = tg.optim.Adam([("w", a), ("b", b)], lr=0.1)
    assert named.param_groups[0]["param_names"] == ["w", "b"]
    assert named.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]


@pytest.mark.parametrize("opt_name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_default_hyperparameters_match_torch(opt_name):
    a = tg.tensor([1.0], requires_grad=True)
    ta = torch.tensor([1.0], requires_grad=True)
    ours = getattr(tg.optim, opt_name)([a]).state_dict()["param_groups"]
    ref = getattr(torch.optim, opt_name)([ta]).state_dict()["param_groups"]
    assert ours == ref


@pytest.mark.parametrize("sched", [None, ("CosineAnnealingLR", {"T_max": 25})])
@pytest.mark.parametrize("opt_name,kwargs", [
    ("SGD", {"lr": 0.05, "momentum": 0.9}), ("Adam", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01}), ("RMSprop", {"lr": 0.005}),
], ids=["SGD", "Adam", "AdamW", "RMSprop"])
def test_mlp_training_matches_torch(opt_name, kwargs, sched):
    """End to end with tinygen.nn: an MLP loaded from PyTorch's state dict, MSE loss, 25 steps."""
    nn = pytest.importorskip("tinygen.nn")
    if not hasattr(nn, "Linear"):
        pytest.skip("tinygen.nn.Linear is not there yet")
    torch.manual_seed(0)
    ref_model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 2))
    model.load_state_dict({k: tg.tensor(v.numpy()) for k, v in ref_model.state_dict().items()})
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 6)).astype(np.float32), rng.standard_normal((16, 2))
    y = y.astype(np.float32)
    runs = []
    for lib, m in ((tg, model), (torch, ref_model)):
        opt = getattr(lib.optim, opt_name)(m.parameters(), **kwargs)
        scheduler = getattr(lib.optim.lr_scheduler, sched[0])(opt, **sched[1]) if sched else None
        runs.append((lib, m, opt, scheduler, lib.tensor(x), lib.tensor(y)))
    for _ in range(25):
        for lib, m, opt, scheduler, xt, yt in runs:
            opt.zero_grad()
            ((m(xt) - yt) ** 2).mean().backward()
            opt.step()
            if scheduler is not None:
                scheduler.step()
    ours = model.state_dict()
    for k, v in ref_model.state_dict().items():
        np.testing.assert_allclose(ours[k].numpy(), v.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)


def _rosenbrock_run(lib, line_search_fn, dtype):
    x = lib.tensor(np.array([-1.5, 2.0], dtype=dtype), requires_grad=True)
    opt = lib.optim.LBFGS([x], lr=1, max_iter=10, history_size=5, line_search_fn=line_search_fn)

    def closure():
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss

    path = []
    for _ in range(6):
        loss = opt.step(closure)
        path.append((float(loss.detach()), x.detach().numpy().copy()))
    return path, opt


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_follows_torch_on_rosenbrock(line_search_fn):
    ours, opt = _rosenbrock_run(tg, line_search_fn, "float64")
    theirs, ref_opt = _rosenbrock_run(torch, line_search_fn, "float64")
    # the same path, up to float64 round-off (which Rosenbrock's curved valley amplifies)
    for (loss, x), (ref_loss, ref_x) in zip(ours, theirs):
        np.testing.assert_allclose(loss, ref_loss, rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(x, ref_x, rtol=1e-6, atol=1e-10)
    state, ref_state = opt.state[opt._params[0]], ref_opt.state[ref_opt._params[0]]
    assert state["func_evals"] == ref_state["func_evals"]
    assert state["n_iter"] == ref_state["n_iter"]
    if line_search_fn == "strong_wolfe":          # it converges: the minimum is (1, 1)
        np.testing.assert_allclose(ours[-1][1], [1.0, 1.0], atol=1e-4)


def test_lbfgs_needs_a_closure_and_one_group():
    a = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="closure"):
        tg.optim.LBFGS([a]).step()
    with pytest.raises(ValueError, match="strong_wolfe"):
        tg.optim.LBFGS([a], line_search_fn="backtracking")


@pytest.mark.parametrize("opt_name", sorted({name for name, _ in CONFIGS} - {"LBFGS"}))
def test_a_tensor_learning_rate_is_read_as_its_value(opt_name):
    # a 0-d Tensor lr, as PyTorch allows: Adagrad and Adadelta updated no parameter with one
    runs = []
    for lib in (tg, torch):
        run = Run(lib, opt_name, {"lr": lib.tensor(0.01, dtype=lib.float64)}, "float64")
        for _ in range(3):
            run.step()
        runs.append(run)
    _assert_same(*runs, TOL["float64"], f"{opt_name} with a Tensor lr")
    assert any(np.abs(v - p).max() > 1e-6 for v, p in zip(
        runs[0].values(), _init_arrays("float64", 0)[0]))           # it did move
