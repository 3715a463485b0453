"""tg.compile(model) (nn/modules/compiled.py) and tg.compiler: PyTorch's OptimizedModule wrapper
(state_dict under '_orig_mod.', attributes read through), eager under grad mode, a captured and
replayed forward without it."""
import copy
import pickle
import warnings

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))

    def forward(self, x):
        return self.body(x)

    def width(self):
        return self.body[0].out_features


def _model(seed=0):
    tg.manual_seed(seed)
    return Net()


def _x(seed=1):
    return tg.tensor(np.random.default_rng(seed).standard_normal((5, 6)).astype(np.float32))


def test_the_wrapper_is_pytorchs():
    model = _model()
    cm = tg.compile(model)
    assert type(cm).__name__ == "OptimizedModule" and cm._orig_mod is model
    assert list(cm.state_dict()) == ["_orig_mod." + k for k in model.state_dict()]
    assert cm.width() == 16 and cm.body is model.body           # attributes read through
    assert [id(p) for p in cm.parameters()] == [id(p) for p in model.parameters()]
    cm.eval()
    assert not model.training and not model.body[2].training
    other = tg.compile(_model(seed=5))
    other.load_state_dict(cm.state_dict())
    np.testing.assert_array_equal(other.body[0].weight.detach().numpy(),
                                  model.body[0].weight.detach().numpy())


def test_state_dict_keys_match_torch_compile():
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)     # (torch.jit's, on the way)
        tm = torch.compile(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU()))
    ours = tg.compile(nn.Sequential(nn.Linear(2, 3), nn.ReLU()))
    assert list(ours.state_dict()) == list(tm.state_dict())


def test_training_runs_eagerly_without_warnings():
    model, twin = _model(), _model()
    cm = tg.compile(model)
    opts = [tg.optim.SGD(m.parameters(), lr=0.1) for m in (model, twin)]
    model.eval(), twin.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for step in range(3):
            losses = []
            for m, opt in ((cm, opts[0]), (twin, opts[1])):
                loss = m(_x(step)).pow(2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
            assert losses[0] == losses[1]
    assert cm._run.captured is None


def test_inference_is_captured_and_replays_the_eager_result():
    model = _model()
    cm = tg.compile(model)
    cm.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with tg.no_grad():
            outs = [cm(_x(k)) for k in range(4)]
            want = [model(_x(k)) for k in range(4)]
    plans = cm._run.captured.plans
    assert plans and all(p is not None and p.confirmed for p in plans.values())
    for got, ref in zip(outs, want):
        np.testing.assert_array_equal(got.numpy(), ref.numpy())
    cm.train()                                  # dropout on: a new trace, other values
    with tg.no_grad():
        a, b = cm(_x(0)), cm(_x(0))
    assert not np.array_equal(a.numpy(), b.numpy())


def test_a_deep_copy_is_its_own_model():
    cm = tg.compile(_model())
    cm.eval()
    with tg.no_grad():
        for _ in range(3):
            before = cm(_x()).numpy()
    twin = copy.deepcopy(cm)
    assert "_run" not in twin.__dict__
    with tg.no_grad():
        for p in twin.parameters():
            p.mul_(2)
        for _ in range(3):
            doubled = twin(_x()).numpy()
        np.testing.assert_array_equal(cm(_x()).numpy(), before)
    assert not np.array_equal(doubled, before)


def test_functions_options_and_disable():
    model = _model()
    assert tg.compile(model, disable=True) is model
    wrapped = tg.compile(mode="max-autotune", fullgraph=True, dynamic=False)(model)
    assert type(wrapped).__name__ == "OptimizedModule"

    @tg.compile(fuse=False)
    def step(x):
        return x * 2

    assert type(step).__name__ == "Compiled" and not step.fuse
    np.testing.assert_array_equal(step(tg.ones(2)).numpy(), [2.0, 2.0])


def test_torch_compiler_names():
    assert tg.compiler.is_compiling() is False and tg.compiler.is_dynamo_compiling() is False

    @tg.compiler.disable
    def f(x):
        return x + 1

    @tg.compiler.disable(recursive=False)
    def g(x):
        return x + 2

    assert f(1) == 2 and g(1) == 3
    assert tg.compiler.reset() is None and tg.compiler.cudagraph_mark_step_begin() is None


def test_module_compile_in_place():
    model, twin = _model(), _model()
    assert model.compile() is None
    model.eval(), twin.eval()
    with tg.no_grad():
        for k in range(3):
            np.testing.assert_array_equal(model(_x(k)).numpy(), twin(_x(k)).numpy())
    assert model.forward.run.captured.plans
    loss = model(_x()).pow(2).mean()                      # grad mode: eager, a graph
    loss.backward()
    assert model.body[0].weight.grad is not None
    clone = copy.deepcopy(model)
    assert clone.forward.module is clone and clone.forward.run.captured is None
    restored = pickle.loads(pickle.dumps(model))
    assert restored.forward.module is restored
    with tg.no_grad():
        np.testing.assert_array_equal(restored(_x()).numpy(), twin(_x()).numpy())
