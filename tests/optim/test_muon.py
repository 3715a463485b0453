"""Muon against PyTorch: the same start, the same losses, 8 steps, the same trajectory, for a tall,
a wide and a square matrix, every adjust_lr_fn, nesterov on and off, weight decay, param groups;
the same state dict (keys, values), loaded from one framework into the other; torch's errors.

PyTorch runs Newton-Schulz in bfloat16, tinygen in the parameter's dtype (muon.py's docstring).
The tight comparisons run torch's own Muon with its bfloat16 cast made a copy in the working dtype
(`torch_ns_in_working_dtype`): then the two agree within 1e-12 of the parameter's scale in
float64, 1e-6 in float32. One test compares with torch as it ships, within bfloat16 round-off.
"""
from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from tinygen.optim.muon import adjusted_lr, zeropower_via_newtonschulz

torch = pytest.importorskip("torch")

STEPS = 8
SHAPES = [(6, 3), (3, 6), (4, 4)]                 # tall (NS on its transpose), wide, square
TOL = {np.float32: 1e-6, np.float64: 1e-12}


@pytest.fixture(scope="module", autouse=True)
def _process_start_up():
    """The process's one-time start-ups, paid here (in the first test's setup) so that each test's
    time is its own: torch imports torch._dynamo on its first optimiser step (about 1 s), numba
    loads its registries on tinygen's first numba kernel, here tanh's backward (about 0.5 s)."""
    torch._disable_dynamo(lambda: None)()
    tg.ones(2, requires_grad=True).tanh().sum().backward()


@pytest.fixture
def torch_ns_in_working_dtype(monkeypatch):
    """torch's Muon with `grad.bfloat16()` (the one bfloat16 cast, in its Newton-Schulz) a copy
    in the tensor's own dtype: torch's algorithm in the dtype tinygen runs it in."""
    monkeypatch.setattr(torch.Tensor, "bfloat16", lambda self, *args, **kwargs: self.clone())


def _assert_close(torch_value, tg_value, dtype, what="", tol=None):
    """Equal within tol (TOL[dtype]) of the value's scale, at least 1 (round-off, not
    elementwise-relative: an entry near zero carries the absolute round-off of its matrix)."""
    expected = torch_value.detach().numpy()
    got = tg_value.detach().numpy() if isinstance(tg_value, tg.Tensor) else np.asarray(tg_value)
    assert got.shape == expected.shape and got.dtype == expected.dtype, what
    tol = TOL[dtype] if tol is None else tol
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale, err_msg=what)


class Run:
    """One framework's parameters, loss constants and Muon. `groups`: a list of (indices of
    `shapes`, group options) for param groups, or None for one group of all."""

    def __init__(self, lib, kwargs, dtype, groups=None, seed=0, shapes=SHAPES):
        rng = np.random.default_rng(seed)
        self.params = [lib.tensor(rng.uniform(-1, 1, s).astype(dtype), requires_grad=True)
                       for s in shapes]
        self.targets = [lib.tensor(rng.uniform(-1, 1, s).astype(dtype)) for s in shapes]
        if groups is None:
            self.opt = lib.optim.Muon(self.params, **kwargs)
        else:
            self.opt = lib.optim.Muon([{"params": [self.params[i] for i in indices], **options}
                                       for indices, options in groups], **kwargs)

    def loss(self):
        """sum (p - t)^2 (p + 1)^2 + mean(p @ p.T)^2: a gradient that depends on where p is and
        couples its entries (its singular vectors move)."""
        total = 0
        for p, t in zip(self.params, self.targets):
            total = total + ((p - t) ** 2 * (p + 1) ** 2).sum() + (p @ p.T).mean() ** 2
        return total

    def step(self):
        self.opt.zero_grad()
        self.loss().backward()
        return self.opt.step()


def _run_pair(kwargs, dtype, groups=None, steps=STEPS):
    ref, ours = Run(torch, kwargs, dtype, groups), Run(tg, kwargs, dtype, groups)
    for k in range(steps):
        ref.step()
        ours.step()
        for i, (a, b) in enumerate(zip(ref.params, ours.params)):
            _assert_close(a, b, dtype, f"param {i} {SHAPES[i]} after step {k + 1}")
    return ref, ours


def _assert_state_dicts_match(ref_sd, our_sd, dtype):
    assert sorted(ref_sd["state"]) == sorted(our_sd["state"])
    for index, ref_state in ref_sd["state"].items():
        assert list(our_sd["state"][index]) == list(ref_state) == ["momentum_buffer"], index
        _assert_close(ref_state["momentum_buffer"], our_sd["state"][index]["momentum_buffer"],
                      dtype, f"momentum_buffer {index}")
    assert len(ref_sd["param_groups"]) == len(our_sd["param_groups"])
    for ref_group, our_group in zip(ref_sd["param_groups"], our_sd["param_groups"]):
        assert list(our_group) == list(ref_group)
        for key, value in ref_group.items():
            if not isinstance(value, torch.Tensor):
                assert our_group[key] == value, key


CONFIGS = [
    dict(),
    dict(lr=0.05),
    dict(lr=0.05, adjust_lr_fn="original"),
    dict(lr=0.02, adjust_lr_fn="match_rms_adamw", weight_decay=0.3),
    dict(lr=0.05, nesterov=False, weight_decay=0.0),
    dict(lr=0.05, momentum=0.3, nesterov=True),          # the other branch of each lerp
    dict(lr=0.05, momentum=0.0),
    dict(lr=0.05, ns_steps=3, ns_coefficients=(2.0, -1.5, 0.5), eps=1e-3),
]


@pytest.mark.usefixtures("torch_ns_in_working_dtype")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in
                                                                    kw.items()) or "defaults")
def test_trajectory_and_state_dict_match_torch(kwargs, dtype):
    ref, ours = _run_pair(kwargs, dtype)
    _assert_state_dicts_match(ref.opt.state_dict(), ours.opt.state_dict(), dtype)


@pytest.mark.usefixtures("torch_ns_in_working_dtype")
def test_param_groups_with_their_own_options_match_torch():
    groups = [([0], dict(lr=0.05)),
              ([1], dict(lr=0.01, adjust_lr_fn="match_rms_adamw", nesterov=False)),
              ([2], dict(lr=0.1, weight_decay=0.0, momentum=0.5))]
    ref, ours = _run_pair(dict(weight_decay=0.2), np.float64, groups=groups)
    _assert_state_dicts_match(ref.opt.state_dict(), ours.opt.state_dict(), np.float64)
    assert [g["lr"] for g in ours.opt.param_groups] == [0.05, 0.01, 0.1]


def test_matches_torchs_bfloat16_newton_schulz_within_its_round_off():
    """torch as it ships: bfloat16 rounds the orthogonalised update (8 bits of mantissa), so after
    2 steps of lr 0.05 the parameters differ by up to about 1e-2 * lr * 2 (1e-3); they must
    differ too, or the fixture above leaked and torch ran in float64. (torch's bfloat16 matmuls
    take about 3 ms each on the CPU: two matrices, two steps.)"""
    steps, shapes = 2, SHAPES[:2]
    ref = Run(torch, dict(lr=0.05), np.float64, shapes=shapes)
    ours = Run(tg, dict(lr=0.05), np.float64, shapes=shapes)
    for _ in range(steps):
        ref.step()
        ours.step()
    gaps = [np.abs(a.detach().numpy() - b.detach().numpy()).max()
            for a, b in zip(ref.params, ours.params)]
    assert max(gaps) < 2e-2 * 0.05 * steps, gaps
    assert min(gaps) > 1e-6


@pytest.mark.usefixtures("torch_ns_in_working_dtype")
@pytest.mark.parametrize("shape", [(8, 5), (5, 8), (6, 6), (7, 1), (3, 4)])
def test_newton_schulz_matches_torch(shape):
    rng = np.random.default_rng(1)
    matrix = rng.standard_normal(shape)
    if shape == (3, 4):
        matrix *= 1e-9                                   # norm below eps: divided by eps
    ours = zeropower_via_newtonschulz(matrix.copy(), ns_steps=5, eps=1e-7)
    ref = torch.optim._muon._zeropower_via_newtonschulz(
        torch.tensor(matrix), (3.4445, -4.775, 2.0315), 5, 1e-7)
    _assert_close(ref, ours, np.float64, str(shape))
    if shape != (3, 4):
        # about orthogonal: every singular value pushed into about [0.7, 1.2]
        singular = np.linalg.svd(ours, compute_uv=False)
        assert singular.min() > 0.6 and singular.max() < 1.25, singular
    matrix32 = matrix.astype(np.float32)
    assert zeropower_via_newtonschulz(matrix32).dtype == np.float32
    np.testing.assert_array_equal(matrix32, matrix.astype(np.float32))   # input untouched


def test_adjusted_lr_matches_torch():
    for shape in [(6, 3), (3, 6), (4, 4), (100, 1)]:
        for fn in (None, "original", "match_rms_adamw"):
            expected = torch.optim._muon._adjust_lr(0.1, fn, torch.Size(shape))
            assert adjusted_lr(0.1, fn, shape) == expected, (shape, fn)
    assert adjusted_lr(0.1, None, (8, 2)) == adjusted_lr(0.1, "original", (8, 2)) == 0.2
    assert adjusted_lr(0.1, "match_rms_adamw", (4, 9)) == pytest.approx(0.06, rel=1e-15)


def _torch_state_dict(state_dict):
    """A tinygen state dict with its tensors as torch tensors."""
    return {"state": {i: {k: torch.tensor(v.numpy()) for k, v in s.items()}
                      for i, s in state_dict["state"].items()},
            "param_groups": [dict(g) for g in state_dict["param_groups"]]}


@pytest.mark.usefixtures("torch_ns_in_working_dtype")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_state_dict_round_trip_with_torch(dtype):
    kwargs = dict(lr=0.05, adjust_lr_fn="match_rms_adamw")
    ref, ours = _run_pair(kwargs, dtype, steps=4)
    # torch -> tinygen: a fresh tinygen optimiser takes over torch's state and keeps in step
    fresh = Run(tg, dict(lr=0.5, nesterov=False), dtype)
    for p, q in zip(fresh.params, ref.params):
        p.data = tg.tensor(q.detach().numpy().copy())
    fresh.opt.load_state_dict(ref.opt.state_dict())
    assert fresh.opt.param_groups[0]["lr"] == 0.05 and fresh.opt.param_groups[0]["nesterov"]
    # tinygen -> torch
    back = Run(torch, dict(lr=0.5), dtype)
    with torch.no_grad():
        for p, q in zip(back.params, ours.params):
            p.copy_(torch.tensor(q.detach().numpy()))
    back.opt.load_state_dict(_torch_state_dict(ours.opt.state_dict()))
    for k in range(4):
        for run in (ref, ours, fresh, back):
            run.step()
        for a, b, c, e in zip(ref.params, ours.params, fresh.params, back.params):
            _assert_close(a, b, dtype, f"continued, step {k}")
            _assert_close(a, c, dtype, f"loaded from torch, step {k}")
            _assert_close(e, b, dtype, f"loaded into torch, step {k}")
    _assert_state_dicts_match(ref.opt.state_dict(), fresh.opt.state_dict(), dtype)
    _assert_state_dicts_match(back.opt.state_dict(), ours.opt.state_dict(), dtype)


@pytest.mark.usefixtures("torch_ns_in_working_dtype")
@pytest.mark.parametrize("lr_dtype,tol", [("float64", 1e-12), ("float32", 1e-7)])
def test_closure_and_tensor_lr_match_torch(lr_dtype, tol):
    """A Tensor lr is read as a Python float (optimizer.py); torch does its scalar arithmetic
    (lr * ratio, 1 - lr * weight_decay) in the lr's dtype: with a float32 lr the two agree to
    float32 round-off of the step size."""
    ref = Run(torch, dict(lr=torch.tensor(0.05, dtype=getattr(torch, lr_dtype))), np.float64)
    ours = Run(tg, dict(lr=tg.tensor(0.05, dtype=getattr(tg, lr_dtype))), np.float64)
    for _ in range(3):
        losses = []
        for run in (ref, ours):
            def closure(run=run):
                run.opt.zero_grad()
                loss = run.loss()
                loss.backward()
                return loss
            losses.append(float(run.opt.step(closure).detach()))
        assert losses[1] == pytest.approx(losses[0], rel=tol)
    for a, b in zip(ref.params, ours.params):
        _assert_close(a, b, np.float64, tol=tol)


def test_parameters_without_gradients_get_no_state():
    used, unused = tg.ones(3, 2, requires_grad=True), tg.ones(2, 2, requires_grad=True)
    opt = tg.optim.Muon([used, unused], lr=0.1)
    (used * used).sum().backward()
    opt.step()
    assert list(opt.state_dict()["state"]) == [0]
    np.testing.assert_array_equal(unused.detach().numpy(), np.ones((2, 2), np.float32))


BAD_ARGS = [
    (dict(lr=-0.1), "Learning rate should be >= 0 but is: -0.1"),
    (dict(momentum=-0.5), "momentum should be >= 0 but is: -0.5"),
    (dict(weight_decay=-0.1), "weight decay should be >= 0 but is: -0.1"),
    (dict(adjust_lr_fn="spectral"), "Adjust learning rate function spectral is not supported"),
]


@pytest.mark.parametrize("kwargs,message", BAD_ARGS, ids=[m.split()[0] for _, m in BAD_ARGS])
def test_bad_arguments_raise_torchs_error(kwargs, message):
    with pytest.raises(ValueError) as ref:
        torch.optim.Muon([torch.zeros(2, 2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError) as ours:
        tg.optim.Muon([tg.zeros(2, 2, requires_grad=True)], **kwargs)
    assert str(ref.value) == message
    assert str(ours.value).startswith(message)


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4), ()])
def test_only_2d_parameters(shape):
    prefix = "Muon only supports 2D parameters whereas we found a parameter with size: "
    with pytest.raises(ValueError, match=prefix):
        torch.optim.Muon([torch.zeros(2, 2, requires_grad=True),
                          torch.zeros(shape, requires_grad=True)])
    with pytest.raises(ValueError, match=prefix + r"\(.*\) \(param 1 of group 0; .*AdamW"):
        tg.optim.Muon([tg.zeros(2, 2, requires_grad=True), tg.zeros(shape, requires_grad=True)])


def test_non_2d_parameter_added_later_fails_at_the_step_as_in_torch():
    bias = tg.zeros(3, requires_grad=True)
    opt = tg.optim.Muon([tg.zeros(2, 3, requires_grad=True)])
    opt.add_param_group({"params": [bias]})               # PyTorch does not check here either
    bias.sum().backward()
    with pytest.raises(ValueError, match=r"Param gradient must be a 2D matrix, but param 0 of "
                                         r"group 1 has shape \(3,\)"):
        opt.step()
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        tg.optim.Muon([tg.zeros(2, 2, requires_grad=True)], lr=tg.tensor([0.1, 0.2]))
    with pytest.raises(TypeError):                        # no maximize, as in PyTorch
        tg.optim.Muon([tg.zeros(2, 2, requires_grad=True)], maximize=True)


@pytest.mark.parametrize("kwargs,message", [
    (dict(ns_steps=100), "Number of steps must be less than 100 for computational efficiency"),
    (dict(ns_coefficients=(3.4, -4.7)), "Coefficients must be a tuple of exactly 3 values"),
], ids=["ns_steps", "ns_coefficients"])
def test_newton_schulz_arguments_fail_at_the_step_as_in_torch(kwargs, message):
    ref = torch.optim.Muon([torch.ones(2, 3, requires_grad=True)], **kwargs)
    param = tg.ones(2, 3, requires_grad=True)
    ours = tg.optim.Muon([param], **kwargs)                       # accepted, as in PyTorch
    ref.param_groups[0]["params"][0].grad = torch.ones(2, 3)
    param.grad = tg.ones(2, 3)
    with pytest.raises(ValueError, match=message):
        ref.step()
    with pytest.raises(ValueError, match=message):
        ours.step()
    np.testing.assert_array_equal(ours.state[param]["momentum_buffer"].numpy(), 0)
    np.testing.assert_array_equal(param.detach().numpy(), 1)


def _train_mlp(hidden_with_muon, steps=30):
    """A 4-32-32-32-1 tanh MLP fitting sin(x . w): its two hidden layers' weights with Muon (or
    left as initialised), the input and output layers and every bias with AdamW. Returns the
    losses and the hidden weights before and after."""
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((64, 4)).astype(np.float32))               # (64, 4)
    y = tg.tensor(np.sin(x.numpy() @ np.array([[1.0], [-2.0], [0.5], [1.5]], np.float32)))
    model = tg.nn.Sequential(tg.nn.Linear(4, 32), tg.nn.Tanh(), tg.nn.Linear(32, 32),
                             tg.nn.Tanh(), tg.nn.Linear(32, 32), tg.nn.Tanh(),
                             tg.nn.Linear(32, 1))
    hidden = [model[2].weight, model[4].weight]
    rest = [p for p in model.parameters() if all(p is not h for h in hidden)]
    opts = [tg.optim.AdamW(rest, lr=1e-2, weight_decay=0.01)]
    if hidden_with_muon:
        opts.append(tg.optim.Muon(hidden, lr=0.05, weight_decay=0.01))
    before = [h.detach().numpy().copy() for h in hidden]
    losses = []
    for _ in range(steps):
        for opt in opts:
            opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        for opt in opts:
            opt.step()
        losses.append(float(loss))
    return losses, before, [h.detach().numpy() for h in hidden]


def test_mlp_hidden_layers_with_muon_rest_with_adamw_lowers_the_loss():
    """The usual recipe: Muon for the hidden layers' weights, AdamW for the rest. The loss falls
    well below where AdamW alone takes it with the hidden layers left as initialised."""
    losses, before, after = _train_mlp(hidden_with_muon=True)
    adamw_alone, _, _ = _train_mlp(hidden_with_muon=False)
    assert losses[-1] < 0.2 * losses[0], (losses[0], losses[-1])
    assert losses[-1] < 0.5 * adamw_alone[-1], (losses[-1], adamw_alone[-1])
    for b, a in zip(before, after):
        assert not np.allclose(a, b)


def test_captured_step_is_bitwise_eager():
    """tg.compile replays Muon's step as a call: the compiled run equals the eager one."""
    rng = np.random.default_rng(0)
    batches = [(tg.tensor(rng.standard_normal((8, 6)).astype(np.float32)),
                tg.tensor(rng.integers(0, 3, 8))) for _ in range(6)]
    results = []
    for compiled in (False, True):
        tg.manual_seed(0)
        model = tg.nn.Sequential(tg.nn.Linear(6, 5, bias=False), tg.nn.ReLU(),
                                 tg.nn.Linear(5, 3, bias=False))
        opt = tg.optim.Muon(model.parameters(), lr=0.05)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        fn = tg.compile(step) if compiled else step
        losses = [fn(x, y).numpy().copy() for x, y in batches]
        results.append(losses + [p.detach().numpy().copy() for p in model.parameters()])
    for eager, replayed in zip(*results):
        np.testing.assert_array_equal(eager, replayed)
