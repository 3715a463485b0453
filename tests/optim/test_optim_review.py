"""tinygen.optim against torch.optim, on the points a review (2.13) found different: each test
builds the same thing in both libraries and compares what a PyTorch user sees.

Optimisers are fed one fixed stream of random gradients (float64, some parameters skipped on
some steps), so the update rules are compared alone, to 1e-10: parameters, state names, dtypes
and values after every step.
"""
from __future__ import annotations

import copy
import importlib
import pickle
import warnings

import numpy as np
import pytest

import tinygen as tg

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), (2, 2, 2)]
ATOL = 1e-10


def _params(lib, seed=0):
    rng = np.random.default_rng(seed)
    return [lib.tensor(rng.uniform(-1, 1, s), requires_grad=True) for s in SHAPES]


def _grad_stream(steps, seed=1):
    """Per step, one gradient per parameter; None where (step + i) % 3 == 0 (skipped)."""
    rng = np.random.default_rng(seed)
    return [[None if (k + i) % 3 == 0 else rng.standard_normal(s) for i, s in enumerate(SHAPES)]
            for k in range(steps)]


def _set_grads(lib, params, grads):
    for p, g in zip(params, grads):
        p.grad = None if g is None else lib.tensor(g.copy())


def _numpy(x):
    return np.asarray(x.detach().numpy() if hasattr(x, "detach") else x)


def _assert_state_matches(ours, theirs, what):
    assert sorted(ours) == sorted(theirs), what
    for key, value in theirs.items():
        if isinstance(value, torch.Tensor):
            assert str(ours[key].dtype) == str(value.dtype).replace("torch.", "tinygen."), \
                f"{what}: {key}"
            np.testing.assert_allclose(_numpy(ours[key]), value.numpy(), rtol=1e-9, atol=ATOL,
                                       err_msg=f"{what}: {key}")
        else:
            assert ours[key] == value, f"{what}: {key}"


def _follow(name, kwargs, groups=None, steps=20, torch_kwargs=None):
    """The same optimiser in both libraries on the gradient stream; returns both."""
    runs = []
    for lib, kw in ((tg, kwargs), (torch, torch_kwargs or kwargs)):
        params = _params(lib)
        spec = params if groups is None else [
            dict(params=[params[i] for i in idx], **g) for idx, g in groups]
        runs.append((params, getattr(lib.optim, name)(spec, **kw)))
    (ours, opt), (theirs, ref) = runs
    for k, grads in enumerate(_grad_stream(steps)):
        _set_grads(tg, ours, grads)
        _set_grads(torch, theirs, grads)
        opt.step()
        ref.step()
        for i, (a, b) in enumerate(zip(ours, theirs)):
            np.testing.assert_allclose(_numpy(a), _numpy(b), rtol=0, atol=ATOL,
                                       err_msg=f"{name} step {k + 1} param {i}")
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert (a in opt.state) == (b in ref.state)
        if b in ref.state:
            _assert_state_matches(opt.state[a], ref.state[b], f"{name} param {i}")
    return opt, ref


# ---- update rules -----------------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs,groups", [
    # Adagrad's sum starts at the constructor's initial_accumulator_value in every group
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.1),
     [([0], dict(lr_decay=0.1)), ([1, 2], dict(initial_accumulator_value=0.5))]),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1, maximize=True), None),
    ("ASGD", dict(), None),
    ("NAdam", dict(lr=0.01, betas=(0.5, 0.8), momentum_decay=0.01, maximize=True), None),
    ("Adam", dict(lr=0.01, amsgrad=True, fused=True), None),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1), None),
])
def test_gradient_stream_matches_torch(name, kwargs, groups):
    _follow(name, kwargs, groups)


@pytest.fixture
def float64_default():
    before = tg.get_default_dtype(), torch.get_default_dtype()
    tg.set_default_dtype(tg.float64)
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        tg.set_default_dtype(before[0])
        torch.set_default_dtype(before[1])


@pytest.mark.parametrize("name,kwargs", [
    ("Adam", dict(lr=0.01)), ("Adam", dict(lr=0.01, fused=True)), ("RMSprop", dict()),
    ("Adagrad", dict(fused=True)), ("NAdam", dict(lr=0.01)), ("ASGD", dict(t0=3)),
    ("Rprop", dict()),
])
def test_scalar_state_follows_the_default_dtype(name, kwargs, float64_default):
    # PyTorch's _get_scalar_dtype(): `step`, mu_product, eta, mu are float64 while the default
    # dtype is (a fused optimiser's step stays float32); before, always float32
    _follow(name, kwargs)


def test_loading_keeps_the_saved_step_dtype(float64_default):
    params = _params(torch)
    ref = torch.optim.Adam(params, lr=0.01)
    _set_grads(torch, params, _grad_stream(1)[0])
    ref.step()
    state = ref.state_dict()
    opt = tg.optim.Adam(_params(tg), lr=0.01)
    opt.load_state_dict(state)
    assert opt.state[opt.param_groups[0]["params"][1]]["step"].dtype == tg.float64


def test_asgd_after_loading_a_state_dict():
    # loading casts eta and mu to the parameters' float64; PyTorch's next eta and mu still pass
    # through torch.as_tensor(a Python float), i.e. float32: tinygen stored them unrounded
    params = _params(torch)
    ref = torch.optim.ASGD(params, lr=0.05, t0=3)
    grads = _grad_stream(12)
    for k in range(4):
        _set_grads(torch, params, grads[k])
        ref.step()
    ours = [tg.tensor(_numpy(p).copy(), requires_grad=True) for p in params]
    opt = tg.optim.ASGD(ours, lr=0.05, t0=3)
    opt.load_state_dict(copy.deepcopy(ref.state_dict()))
    ref.load_state_dict(ref.state_dict())
    for k in range(4, 12):
        _set_grads(torch, params, grads[k])
        _set_grads(tg, ours, grads[k])
        ref.step()
        opt.step()
    for a, b in zip(ours, params):
        np.testing.assert_allclose(_numpy(a), _numpy(b), rtol=0, atol=ATOL)
        _assert_state_matches(opt.state[a], ref.state[b], "ASGD")


# ---- constructor checks -----------------------------------------------------------------------
BAD_ARGUMENTS = [
    ("SGD", dict(lr=-1)), ("SGD", dict(lr=0.1, foreach=True, fused=True)),
    ("SGD", dict(lr=0.1, fused=True, differentiable=True)),
    ("Adam", dict(lr=-1)), ("Adam", dict(eps=-1)), ("Adam", dict(betas=(1.0, 0.9))),
    ("Adam", dict(betas=(0.9, -0.1))), ("Adam", dict(weight_decay=-1)),
    ("Adam", dict(foreach=True, fused=True)), ("Adam", dict(betas=(0, 0.9))),
    ("AdamW", dict(lr=-1)), ("RMSprop", dict(alpha=-1)), ("RMSprop", dict(momentum=-1)),
    ("Adagrad", dict(lr_decay=-1)), ("Adagrad", dict(initial_accumulator_value=-1)),
    ("Adagrad", dict(fused=True, foreach=True)), ("Adadelta", dict(rho=1.5)),
    ("Adadelta", dict(eps=-1)), ("Adamax", dict(betas=(0.9, 1.0))),
    ("NAdam", dict(momentum_decay=-1)), ("RAdam", dict(eps=-1)), ("ASGD", dict(lr=-1)),
    ("Rprop", dict(etas=(1.5, 1.2))), ("LBFGS", dict(lr=-1)),
]


@pytest.mark.parametrize("name,kwargs", BAD_ARGUMENTS)
def test_invalid_arguments_raise_as_torch(name, kwargs):
    # the same exception and message ("Invalid learning rate: -1", not "Adam: Invalid ...")
    raised = []
    for lib in (torch, tg):
        with pytest.raises(Exception) as info:
            getattr(lib.optim, name)([lib.zeros(3, requires_grad=True)], **kwargs)
        raised.append((type(info.value), str(info.value)))
    assert raised[1] == raised[0]


@pytest.mark.parametrize("kwargs,message", [
    (dict(lr="tensor[2]"), "Tensor lr must be 1-element"),
    (dict(lr="tensor", foreach=True), "lr as a Tensor is not supported"),
    (dict(betas=("tensor", 0.9)), "betas must be either both floats or both Tensors"),
])
def test_tensor_hyperparameter_checks(kwargs, message):
    for lib in (torch, tg):
        values = {"tensor": lib.tensor(0.01), "tensor[2]": lib.tensor([0.1, 0.2])}
        kw = {k: (tuple(values.get(b, b) for b in v) if isinstance(v, tuple) else
                  values.get(v, v)) for k, v in kwargs.items()}
        with pytest.raises(ValueError, match=message):
            lib.optim.Adam([lib.zeros(3, requires_grad=True)], **kw)


def test_tensor_betas_stay_tensors():
    betas = (tg.tensor([0.9]), tg.tensor(0.99))
    opt = tg.optim.Adam([tg.zeros(3, requires_grad=True)], betas=betas)
    b1, b2 = opt.param_groups[0]["betas"]
    assert isinstance(b1, tg.Tensor) and b1.ndim == 0 and float(b1) == pytest.approx(0.9)
    assert isinstance(b2, tg.Tensor)


def test_differentiable_is_refused_by_every_optimiser():
    # PyTorch records the update in autograd; tinygen cannot, and says so (Adamax & co. took
    # the flag silently before)
    for name in ("SGD", "Adam", "Adamax", "NAdam", "RAdam", "Adadelta", "ASGD", "Rprop"):
        with pytest.raises(NotImplementedError, match="differentiable"):
            getattr(tg.optim, name)([tg.zeros(3, requires_grad=True)], differentiable=True)


def test_non_leaf_that_retains_grad_is_accepted():
    for lib in (torch, tg):
        x = lib.ones(3, requires_grad=True) * 2
        x.retain_grad()
        lib.optim.SGD([x], lr=0.1)
        with pytest.raises(ValueError, match="non-leaf"):
            lib.optim.SGD([lib.ones(3, requires_grad=True) * 2], lr=0.1)


def test_param_group_dicts_are_completed_in_place():
    for lib in (torch, tg):
        group = {"params": [lib.zeros(3, requires_grad=True)]}
        opt = lib.optim.SGD([group], lr=0.1)
        assert opt.param_groups[0] is group and group["lr"] == 0.1


def test_zero_grad_without_set_to_none_stops_grad_requiring_grad():
    for lib in (torch, tg):
        p = lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1)
        p.grad = lib.ones(2, requires_grad=True)
        grad = p.grad
        opt.zero_grad(set_to_none=False)
        assert p.grad is grad and not p.grad.requires_grad and p.grad.tolist() == [0.0, 0.0]


# ---- hooks, copies, old state dicts -------------------------------------------------------
def _hook_log(lib):
    log = []
    p = lib.ones(2, requires_grad=True)
    opt = lib.optim.SGD([p], lr=0.1)
    module = importlib.import_module(lib.__name__ + ".optim.optimizer")
    handles = [opt.register_step_pre_hook(lambda o, a, k: log.append(("pre", len(a), k))),
               opt.register_step_post_hook(lambda o, a, k: log.append("post")),
               module.register_optimizer_step_pre_hook(lambda o, a, k: log.append("global pre")),
               module.register_optimizer_step_post_hook(lambda o, a, k: log.append("global post"))]
    lib.optim.lr_scheduler.StepLR(opt, 1)
    p.grad = lib.ones(2)
    opt.step()
    for handle in handles:
        handle.remove()
    opt.step()
    opt.register_step_pre_hook(lambda o, a, k: (a, {"closure": lambda: 5.0}))
    log.append(opt.step())
    opt.register_state_dict_pre_hook(lambda o: log.append("sd pre"))
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    opt.register_load_state_dict_pre_hook(lambda o, sd: log.append(sorted(sd)))
    opt.register_load_state_dict_post_hook(lambda o: log.append("load post 2"))
    opt.register_load_state_dict_post_hook(lambda o: log.append("load post 1"), prepend=True)
    opt.load_state_dict(opt.state_dict())
    return log, p.tolist()


def test_optimizer_hooks_as_torch():
    assert _hook_log(tg) == _hook_log(torch)


def test_hooks_run_once_when_a_subclass_step_calls_super():
    calls = []

    class Counting(tg.optim.SGD):
        def step(self, closure=None):
            return super().step(closure)
    p = tg.ones(2, requires_grad=True)
    opt = Counting([p], lr=0.1)
    opt.register_step_post_hook(lambda o, a, k: calls.append(1))
    p.grad = tg.ones(2)
    opt.step()
    assert calls == [1]


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda o: pickle.loads(pickle.dumps(o))])
def test_a_copied_optimizer_steps_its_own_parameters(clone):
    # a scheduler wraps opt.step on the instance; the copy used to keep that wrapper, which
    # stepped the original optimiser (and pickling failed)
    p = tg.ones(2, requires_grad=True)
    opt = tg.optim.SGD([p], lr=0.1)
    tg.optim.lr_scheduler.StepLR(opt, 1)
    twin = clone(opt)
    q = twin.param_groups[0]["params"][0]
    q.grad = tg.ones(2)
    twin.step()
    assert p.tolist() == [1.0, 1.0] and q.tolist() == pytest.approx([0.9, 0.9])
    assert "step" not in twin.__dict__ and sorted(twin.state_dict()) == ["param_groups", "state"]


@pytest.mark.parametrize("name,kwargs,dropped", [
    ("SGD", dict(lr=0.1, momentum=0.9), ("maximize", "foreach", "differentiable", "fused")),
    ("Adam", dict(lr=0.01), ("amsgrad", "maximize", "decoupled_weight_decay", "capturable")),
    ("NAdam", dict(), ("decoupled_weight_decay", "maximize")),
    ("RMSprop", dict(momentum=0.5), ("centered", "maximize")),
])
def test_state_dict_of_an_older_torch_loads(name, kwargs, dropped):
    # options added in later PyTorch versions are set to their defaults on loading (__setstate__)
    params = _params(torch)
    ref = getattr(torch.optim, name)(params, **kwargs)
    _set_grads(torch, params, _grad_stream(1)[0])
    ref.step()
    state = ref.state_dict()
    for key in dropped:
        del state["param_groups"][0][key]
    opt = getattr(tg.optim, name)(_params(tg), **kwargs)
    opt.load_state_dict(copy.deepcopy(state))
    ref.load_state_dict(state)
    assert opt.param_groups[0].keys() == ref.param_groups[0].keys()
    _set_grads(tg, opt.param_groups[0]["params"], _grad_stream(2)[1])
    opt.step()


def test_adamw_stays_decoupled_after_loading():
    opt = tg.optim.AdamW([tg.zeros(2, requires_grad=True)])
    state = opt.state_dict()
    state["param_groups"][0]["decoupled_weight_decay"] = False
    opt.load_state_dict(state)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


# ---- LBFGS state ------------------------------------------------------------------------------
def _lbfgs_closure(lib, opt, x, matrix):
    a = lib.tensor(matrix)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x * (a @ x)).sum() + 0.1 * (x ** 4).sum()
        loss.backward()
        return loss
    return closure


def _to_lib(lib, value):
    if isinstance(value, (tg.Tensor, torch.Tensor)):
        return lib.tensor(_numpy(value).copy())
    if isinstance(value, dict):
        return {k: _to_lib(lib, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_lib(lib, v) for v in value]
    return value


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_state_dict_passes_both_ways(line_search_fn):
    # PyTorch keeps ro and al as lists of 0-d tensors and H_diag as one: loading its state
    # failed before; ours now has the same keys and types
    rng = np.random.default_rng(0)
    m = rng.standard_normal((6, 6))
    matrix, x0 = m @ m.T + np.eye(6), rng.standard_normal(6)
    kw = dict(max_iter=2, history_size=3, line_search_fn=line_search_fn)
    x_ref = torch.tensor(x0, requires_grad=True)
    ref = torch.optim.LBFGS([x_ref], **kw)
    for _ in range(2):
        ref.step(_lbfgs_closure(torch, ref, x_ref, matrix))
    x = tg.tensor(_numpy(x_ref).copy(), requires_grad=True)
    opt = tg.optim.LBFGS([x], **kw)
    opt.load_state_dict(_to_lib(tg, ref.state_dict()))
    for _ in range(3):
        ref.step(_lbfgs_closure(torch, ref, x_ref, matrix))
        opt.step(_lbfgs_closure(tg, opt, x, matrix))
    np.testing.assert_allclose(_numpy(x), _numpy(x_ref), rtol=0, atol=1e-12)
    ours, theirs = opt.state_dict()["state"][0], ref.state_dict()["state"][0]
    assert {k: type(v).__name__ for k, v in ours.items()} == \
        {k: type(v).__name__ for k, v in theirs.items()}
    back = torch.optim.LBFGS([torch.tensor(_numpy(x).copy(), requires_grad=True)], **kw)
    back.load_state_dict(_to_lib(torch, opt.state_dict()))
    back.step(_lbfgs_closure(torch, back, back.param_groups[0]["params"][0], matrix))


# ---- schedulers -------------------------------------------------------------------------------
def _sgd(lib, lr=0.1):
    return lib.optim.SGD([lib.zeros(3, requires_grad=True)], lr=lr, momentum=0.9)


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", dict(step_size=2)), ("CosineAnnealingLR", dict(T_max=5)), ("LinearLR", dict()),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=10)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=2)),
])
def test_a_tensor_lr_is_filled_in_place(name, kwargs):
    # PyTorch fills a Tensor lr in place (it stays the optimiser's Tensor) and get_last_lr()
    # returns copies; tinygen replaced it (OneCycleLR, CyclicLR: by a float) and aliased it
    seen = []
    for lib in (torch, tg):
        lr = lib.tensor(0.1)
        opt = lib.optim.SGD([lib.zeros(3, requires_grad=True)], lr=lr, momentum=0.9)
        sched = getattr(lib.optim.lr_scheduler, name)(opt, **kwargs)
        values = []
        for _ in range(4):
            opt.step()
            sched.step()
            last = sched.get_last_lr()[0]
            assert opt.param_groups[0]["lr"] is lr and last is not lr
            values.append(float(last))
        seen.append(values)
    np.testing.assert_allclose(seen[1], seen[0], rtol=1e-6)


@pytest.mark.parametrize("metric_mode", ["min", "max"])
def test_reduce_lr_on_plateau_fills_a_tensor_lr(metric_mode):
    lr = tg.tensor(0.1)
    opt = tg.optim.SGD([tg.zeros(3, requires_grad=True)], lr=lr)
    sched = tg.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=metric_mode, patience=0)
    for _ in range(3):
        sched.step(1.0)
    assert opt.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(1e-3)


SCHEDULER_ERRORS = [
    ("ReduceLROnPlateau", dict(factor=1.5)), ("ReduceLROnPlateau", dict(mode="foo")),
    ("ReduceLROnPlateau", dict(threshold_mode="foo")), ("ConstantLR", dict(factor=2)),
    ("LinearLR", dict(start_factor=0)), ("LinearLR", dict(end_factor=2)),
    ("CyclicLR", dict(base_lr=0.1, max_lr=0.2, mode="foo")),
    ("CosineAnnealingWarmRestarts", dict(T_0=2, eta_min="a")),
    ("StepLR", dict(step_size=3, last_epoch=3)),
    ("SequentialLR", dict(schedulers=[], milestones=[])),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=2)),     # stepped past its total steps
]


@pytest.mark.parametrize("name,kwargs", SCHEDULER_ERRORS)
def test_scheduler_errors_as_torch(name, kwargs):
    raised = []
    for lib in (torch, tg):
        opt = _sgd(lib)
        with pytest.raises(Exception) as info:
            sched = getattr(lib.optim.lr_scheduler, name)(opt, **kwargs)
            for _ in range(3):
                opt.step()
                sched.step()
        raised.append((type(info.value), str(info.value)))
    assert raised[1] == raised[0]


def test_chained_scheduler_needs_schedulers_as_torch():
    raised = []
    for lib in (torch, tg):
        with pytest.raises(ValueError) as info:
            lib.optim.lr_scheduler.ChainedScheduler([])
        raised.append(str(info.value))
    assert raised[1] == raised[0]


def _warnings_of(lib, run):
    opt = _sgd(lib)
    sched = lib.optim.lr_scheduler.StepLR(opt, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(opt, sched)
    return [(w.category, str(w.message)) for w in caught]


@pytest.mark.parametrize("run", [
    lambda opt, sched: sched.step(),                          # before optimizer.step()
    lambda opt, sched: (opt.step(), sched.step(5)),           # step(epoch), deprecated
    lambda opt, sched: (opt.step(), sched.step(), opt.step(), sched.step()),   # no warning
    lambda opt, sched: sched.get_lr(),                        # outside step
])
def test_scheduler_warnings_as_torch(run):
    assert _warnings_of(tg, run) == _warnings_of(torch, run)


def test_lr_scheduler_module_names():
    # _LRScheduler: PyTorch's old name, still subclassed by older programs
    assert issubclass(tg.optim.lr_scheduler._LRScheduler, tg.optim.lr_scheduler.LRScheduler)
    assert tg.optim.lr_scheduler.EPOCH_DEPRECATION_WARNING == \
        torch.optim.lr_scheduler.EPOCH_DEPRECATION_WARNING

    class Halving(tg.optim.lr_scheduler._LRScheduler):
        def get_lr(self):
            return [base / 2 ** self.last_epoch for base in self.base_lrs]
    opt = _sgd(tg, lr=1.0)
    sched = Halving(opt)
    opt.step()
    sched.step()
    assert sched.get_last_lr() == [0.5]
