"""tinygen.nn.utils.prune against torch.nn.utils.prune on the same modules and amounts: the same
masks for the same weights (magnitude, structured, global and repeated pruning), the same state
dict keys, state dicts that load both ways with the same outputs, `remove`, and masks that
survive training steps. The random methods draw from different generators, so only their
counts are compared. PyTorch tests skip when torch is absent."""
import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygen as tg
from tinygen import nn
from tinygen.nn.utils import prune

DRAWN = settings(max_examples=30, deadline=None, derandomize=True, database=None)


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tprune(torch):
    import torch.nn.utils.prune as torch_prune
    return torch_prune


def _pair(torch, kind, seed=0):
    """The same layer in torch and tinygen (tinygen loads torch's initial weights)."""
    torch.manual_seed(seed)
    if kind == "linear":
        th, tgm = torch.nn.Linear(12, 7), nn.Linear(12, 7)
    else:
        th, tgm = torch.nn.Conv2d(4, 6, 3), nn.Conv2d(4, 6, 3)
    tgm.load_state_dict({k: v.detach().numpy() for k, v in th.state_dict().items()})
    return th, tgm


def _input(kind, seed=1):
    shape = (3, 12) if kind == "linear" else (2, 4, 5, 5)
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _same_masks(th, tgm, name="weight"):
    np.testing.assert_array_equal(getattr(tgm, name + "_mask").numpy(),
                                  getattr(th, name + "_mask").detach().numpy())
    np.testing.assert_array_equal(getattr(tgm, name).numpy(), getattr(th, name).detach().numpy())


def _same_outputs(th, tgm, kind):
    import torch
    x = _input(kind)
    with tg.no_grad():
        got = tgm(tg.tensor(x)).numpy()
    np.testing.assert_allclose(got, th(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("amount", [0.0, 0.3, 0.5, 0.9, 1.0, 5])
def test_l1_unstructured_matches_torch(torch, tprune, kind, amount):
    th, tgm = _pair(torch, kind)
    tprune.l1_unstructured(th, "weight", amount)
    assert prune.l1_unstructured(tgm, "weight", amount) is tgm
    assert list(tgm.state_dict()) == list(th.state_dict()) == ["bias", "weight_orig",
                                                               "weight_mask"]
    _same_masks(th, tgm)
    _same_outputs(th, tgm, kind)
    assert prune.is_pruned(tgm) and isinstance(tgm.weight_orig, nn.Parameter)


@DRAWN
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), seed=st.integers(0, 2**16),
       fraction=st.floats(0, 1), count=st.integers(0, 30), use_count=st.booleans())
def test_l1_unstructured_drawn_shapes_and_amounts(shape, seed, fraction, count, use_count):
    torch = pytest.importorskip("torch")
    import torch.nn.utils.prune as tprune
    w = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    amount = min(count, w.size) if use_count else fraction
    th, tgm = torch.nn.Module(), nn.Module()
    th.weight = torch.nn.Parameter(torch.tensor(w))
    tgm.weight = nn.Parameter(tg.tensor(w))
    tprune.l1_unstructured(th, "weight", amount)
    prune.l1_unstructured(tgm, "weight", amount)
    _same_masks(th, tgm)
    assert int((tgm.weight_mask.numpy() == 0).sum()) == (amount if use_count
                                                          else round(fraction * w.size))


@pytest.mark.parametrize("kind, n", [("conv", 1), ("conv", 2), ("conv", float("inf")),
                                     ("conv", float("-inf")), ("conv", 3), ("linear", "fro")])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_ln_structured_matches_torch(torch, tprune, kind, n, dim):
    # (torch's 'fro' takes at most 2 dims, so over a conv weight's 3 other dims it raises)
    th, tgm = _pair(torch, kind)
    tprune.ln_structured(th, "weight", amount=0.5, n=n, dim=dim)
    prune.ln_structured(tgm, "weight", amount=0.5, n=n, dim=dim)
    _same_masks(th, tgm)
    _same_outputs(th, tgm, kind)


def test_repeated_pruning_combines_masks_as_torch(torch, tprune):
    """Each new amount is a share of what is left: 50%, then 50% of the rest (75% in all), then
    2 whole output channels, then a custom mask."""
    th, tgm = _pair(torch, "conv", seed=3)
    custom = (np.random.default_rng(0).random((6, 4, 3, 3)) > 0.2).astype(np.float32)
    steps = [(tprune.l1_unstructured, prune.l1_unstructured, {"amount": 0.5}),
             (tprune.l1_unstructured, prune.l1_unstructured, {"amount": 0.5}),
             (tprune.ln_structured, prune.ln_structured, {"amount": 2, "n": 2, "dim": 0}),
             (tprune.custom_from_mask, prune.custom_from_mask, {"mask": custom})]
    for th_fn, tg_fn, kwargs in steps:
        mask = kwargs.get("mask")
        th_fn(th, "weight", **dict(kwargs, **({"mask": torch.tensor(mask)} if mask is not None
                                              else {})))
        tg_fn(tgm, "weight", **dict(kwargs, **({"mask": tg.tensor(mask)} if mask is not None
                                               else {})))
        _same_masks(th, tgm)
    hooks = [h for h in tgm._forward_pre_hooks.values()]
    assert len(hooks) == 1 and isinstance(hooks[0], prune.PruningContainer) and len(hooks[0]) == 4
    assert tgm.weight_mask.numpy().mean() < 0.25
    _same_outputs(th, tgm, "conv")


def test_global_unstructured_matches_torch(torch, tprune):
    pairs = [_pair(torch, "conv", 0), _pair(torch, "linear", 1), _pair(torch, "linear", 2)]
    # one of them already pruned: the global amount is then a share of what is left
    tprune.l1_unstructured(pairs[2][0], "weight", 0.5)
    prune.l1_unstructured(pairs[2][1], "weight", 0.5)
    tprune.global_unstructured([(th, "weight") for th, _ in pairs],
                               pruning_method=tprune.L1Unstructured, amount=0.6)
    prune.global_unstructured([(tgm, "weight") for _, tgm in pairs],
                              pruning_method=prune.L1Unstructured, amount=0.6)
    shares = []
    for th, tgm in pairs:
        _same_masks(th, tgm)
        shares.append(float(tgm.weight_mask.numpy().mean()))
    assert len(set(shares)) == 3            # global: the layers keep different shares
    total = sum(tgm.weight.numel() for _, tgm in pairs)
    kept = sum(int(tgm.weight_mask.numpy().sum()) for _, tgm in pairs)
    left = total - pairs[2][1].weight.numel() // 2
    assert total - kept == pairs[2][1].weight.numel() // 2 + round(0.6 * left)


def test_importance_scores_decide_the_mask(torch, tprune):
    th, tgm = _pair(torch, "linear")
    scores = np.random.default_rng(5).random((7, 12)).astype(np.float32)
    tprune.l1_unstructured(th, "weight", 0.4, importance_scores=torch.tensor(scores))
    prune.l1_unstructured(tgm, "weight", 0.4, importance_scores=tg.tensor(scores))
    _same_masks(th, tgm)
    with pytest.raises(ValueError, match="importance_scores should have the same shape"):
        prune.l1_unstructured(nn.Linear(3, 2), "weight", 0.4, importance_scores=tg.ones(2, 2))


def test_random_methods_prune_the_right_counts():
    layer = nn.Conv2d(4, 10, 3)
    prune.random_unstructured(layer, "weight", amount=0.3)
    mask = layer.weight_mask.numpy()
    assert set(np.unique(mask)) <= {0.0, 1.0} and int((mask == 0).sum()) == round(0.3 * mask.size)
    other = nn.Conv2d(4, 10, 3)
    prune.random_structured(other, "weight", amount=3, dim=0)
    per_channel = other.weight_mask.numpy().reshape(10, -1)
    assert sorted(per_channel.max(1)) == [0.0] * 3 + [1.0] * 7
    assert np.all(per_channel.min(1) == per_channel.max(1))        # whole channels


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_state_dicts_load_both_ways(torch, tprune, kind, tmp_path):
    th, tgm = _pair(torch, kind)
    prune.l1_unstructured(tgm, "weight", 0.6)
    prune.ln_structured(tgm, "weight", 0.4, n=2, dim=0)
    # tinygen -> torch (a module pruned with an all-ones mask takes any mask)
    tprune.identity(th, "weight")
    th.load_state_dict({k: torch.tensor(v.numpy()) for k, v in tgm.state_dict().items()})
    _same_outputs(th, tgm, kind)
    # torch -> tinygen, through a safetensors file written by tg.save
    th2, fresh = _pair(torch, kind, seed=9)
    tprune.l1_unstructured(th2, "weight", 0.7)
    prune.identity(fresh, "weight")
    tg.save({k: v.detach().numpy() for k, v in th2.state_dict().items()}, tmp_path / "p.st")
    fresh.load_state_dict(tg.load(tmp_path / "p.st"))
    fresh(tg.tensor(_input(kind)))               # the pre-hook recomputes weight from the mask
    _same_masks(th2, fresh)
    _same_outputs(th2, fresh, kind)


def test_remove_matches_torch(torch, tprune):
    th, tgm = _pair(torch, "conv")
    tprune.l1_unstructured(th, "weight", 0.5)
    prune.l1_unstructured(tgm, "weight", 0.5)
    orig = tgm.weight_orig
    tprune.remove(th, "weight")
    assert prune.remove(tgm, "weight") is tgm
    assert list(tgm.state_dict()) == list(th.state_dict()) == ["bias", "weight"]
    assert tgm.weight is orig and isinstance(tgm.weight, nn.Parameter)    # the same Parameter
    np.testing.assert_array_equal(tgm.weight.numpy(), th.weight.detach().numpy())
    assert not prune.is_pruned(tgm) and len(tgm._forward_pre_hooks) == 0
    with pytest.raises(ValueError, match="Parameter 'weight' of module .* has to be pruned"):
        prune.remove(tgm, "weight")


def test_masks_survive_training_steps(torch, tprune):
    """SGD on the pruned layer in both libraries: the same weights after 5 steps, and the
    pruned entries of the effective weight stay exactly 0 (the gradient of weight_orig is 0
    there)."""
    th, tgm = _pair(torch, "linear")
    tprune.l1_unstructured(th, "weight", 0.5)
    prune.l1_unstructured(tgm, "weight", 0.5)
    opt_th = torch.optim.SGD(th.parameters(), lr=0.1, momentum=0.9)
    opt_tg = tg.optim.SGD(tgm.parameters(), lr=0.1, momentum=0.9)
    pruned = tgm.weight_mask.numpy() == 0
    for step in range(5):
        x = _input("linear", seed=step)
        loss_th = (th(torch.tensor(x)) ** 2).mean()
        opt_th.zero_grad()
        loss_th.backward()
        opt_th.step()
        loss_tg = (tgm(tg.tensor(x)) ** 2).mean()
        opt_tg.zero_grad()
        loss_tg.backward()
        assert np.all(tgm.weight_orig.grad.numpy()[pruned] == 0)
        opt_tg.step()
    with tg.no_grad():
        tgm(tg.tensor(_input("linear")))
    th(torch.tensor(_input("linear")))
    assert np.all(tgm.weight.numpy()[pruned] == 0)
    np.testing.assert_allclose(tgm.weight.numpy(), th.weight.detach().numpy(), rtol=1e-5,
                               atol=1e-6)


def test_a_deep_copy_prunes_itself():
    model = nn.Sequential(nn.Linear(6, 4))
    prune.l1_unstructured(model[0], "weight", 0.5)
    twin = copy.deepcopy(model)
    with tg.no_grad():
        twin[0].weight_orig.fill_(1.0)
        twin(tg.ones(1, 6))
    assert float(twin[0].weight.sum()) == 12.0                     # its own mask, its own orig
    assert float(model[0].weight_orig.sum()) != 24.0


def test_errors_as_torch():
    layer = nn.Linear(4, 3)
    with pytest.raises(TypeError, match="Invalid type for amount"):
        prune.l1_unstructured(layer, "weight", "half")
    with pytest.raises(ValueError, match="should either be a float in the range"):
        prune.l1_unstructured(layer, "weight", 1.5)
    with pytest.raises(ValueError, match="amount=13 should be smaller than the number of "
                                         "parameters to prune=12"):
        prune.l1_unstructured(layer, "weight", 13)
    assert "weight" in layer._parameters and not prune.is_pruned(layer)   # left as it was
    with pytest.raises(ValueError, match="Structured pruning can only be applied to "
                                         "multidimensional tensors"):
        prune.ln_structured(layer, "bias", 1, n=2, dim=0)
    with pytest.raises(IndexError, match="Invalid index 2"):
        prune.ln_structured(layer, "weight", 1, n=2, dim=2)
    with pytest.raises(AttributeError, match="has no attribute 'weights'"):
        prune.l1_unstructured(layer, "weights", 0.5)
    with pytest.raises(TypeError, match='Only "unstructured" PRUNING_TYPE'):
        prune.global_unstructured([(layer, "weight")], prune.LnStructured, amount=1, n=2, dim=0)
