"""tinygen.optim.swa_utils against torch.optim.swa_utils: AveragedModel (SWA and EMA, one tensor or
lists at a time, buffers averaged or copied, integer buffers), SWALR's learning rates epoch by
epoch, update_bn's BatchNorm statistics, and the state dicts of each."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from tinygen.optim import swa_utils

torch = pytest.importorskip("torch")
from torch.optim import swa_utils as torch_swa_utils  # noqa: E402

STEPS = 20
TOL = {np.float32: 1e-6, np.float64: 1e-10}
LIBS = {"torch": (torch, torch_swa_utils), "tinygen": (tg, swa_utils)}


def _numpy(value):
    return value.detach().numpy() if hasattr(value, "detach") else np.asarray(value)


def _assert_state_dicts_match(ref, ours, dtype):
    """The same keys in the same order, shapes, dtypes and values (within round-off of the
    value's scale, at least 1)."""
    assert list(ours) == list(ref)
    for key, value in ref.items():
        expected, got = _numpy(value), _numpy(ours[key])
        assert got.shape == expected.shape and got.dtype == expected.dtype, key
        scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
        np.testing.assert_allclose(got, expected, rtol=TOL[dtype], atol=TOL[dtype] * scale,
                                   err_msg=key)


def _mlp(lib, dtype):
    nn = lib.nn
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    return model.double() if dtype == np.float64 else model


def _twin_models(dtype=np.float32, build=_mlp):
    """The same model in both frameworks: torch's initial state dict loaded into tinygen."""
    torch.manual_seed(0)
    ref = build(torch, dtype)
    ours = build(tg, dtype)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    return ref, ours


def _averaging_kwargs(name, lib_swa):
    return {"swa": {}, "swa_fn": {"avg_fn": lib_swa.get_swa_avg_fn()},
            "swa_multi": {"multi_avg_fn": lib_swa.get_swa_multi_avg_fn()},
            "ema_fn": {"avg_fn": lib_swa.get_ema_avg_fn(0.9)},
            "ema_multi": {"multi_avg_fn": lib_swa.get_ema_multi_avg_fn(0.8)}}[name]


def _train_and_average(averaging, use_buffers, dtype, steps=STEPS):
    """Train both models with SGD on the same batches; fold the weights into an AveragedModel
    after every step. Returns [(model, averaged model)] for torch, tinygen."""
    runs = []
    for (lib, lib_swa), model in zip(LIBS.values(), _twin_models(dtype)):
        averaged = lib_swa.AveragedModel(model, use_buffers=use_buffers,
                                         **_averaging_kwargs(averaging, lib_swa))
        runs.append((lib, model, lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.5),
                     averaged))
    rng = np.random.default_rng(0)
    for step in range(steps):
        x = rng.standard_normal((6, 4)).astype(dtype)
        y = rng.standard_normal((6, 3)).astype(dtype)
        for lib, model, opt, averaged in runs:
            opt.zero_grad()
            lib.nn.functional.mse_loss(model(lib.tensor(x)), lib.tensor(y)).backward()
            opt.step()
            averaged.update_parameters(model)
        _assert_state_dicts_match(runs[0][3].state_dict(), runs[1][3].state_dict(), dtype)
    return [(model, averaged) for _, model, _, averaged in runs]


# (swa_multi with use_buffers: torch refuses the integer buffer, test_swa_multi_avg_fn_refuses_ints)
AVERAGING = [(name, use_buffers) for name in ("swa", "swa_fn", "swa_multi", "ema_fn", "ema_multi")
             for use_buffers in (False, True) if (name, use_buffers) != ("swa_multi", True)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("averaging,use_buffers", AVERAGING,
                         ids=[f"{n}-{'use' if b else 'copy'}_buffers" for n, b in AVERAGING])
def test_averaged_model_matches_torch(averaging, use_buffers, dtype):
    (ref_model, ref_avg), (our_model, our_avg) = _train_and_average(averaging, use_buffers,
                                                                    dtype)
    assert int(our_avg.n_averaged) == STEPS and our_avg.n_averaged.dtype == tg.int64
    weight = our_avg.state_dict()["module.0.weight"].numpy()
    assert not np.allclose(weight, our_model[0].weight.detach().numpy())   # an average, not a copy
    running = our_avg.module[1].running_mean.numpy()
    if use_buffers:     # the buffers are averaged too, so they are not the model's any more
        assert not np.allclose(running, our_model[1].running_mean.numpy())
    else:
        np.testing.assert_array_equal(running, our_model[1].running_mean.numpy())


def test_swa_average_is_the_mean_of_the_weights_seen():
    model = tg.nn.Linear(3, 2)
    averaged = swa_utils.AveragedModel(model)
    seen = []
    for k in range(5):
        with tg.no_grad():
            model.weight.fill_(float(k * k))
        seen.append(model.weight.detach().numpy().copy())
        averaged.update_parameters(model)
    np.testing.assert_allclose(averaged.module.weight.detach().numpy(), np.mean(seen, axis=0),
                               rtol=1e-6)


def test_first_update_copies_then_ema_follows():
    model = tg.nn.Linear(2, 1)
    ema = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.75))
    with tg.no_grad():
        model.weight.fill_(4.0)
    ema.update_parameters(model)                          # n_averaged 0: a copy
    np.testing.assert_array_equal(ema.module.weight.detach().numpy(), [[4.0, 4.0]])
    with tg.no_grad():
        model.weight.fill_(8.0)
    ema.update_parameters(model)                          # 0.75 * 4 + 0.25 * 8
    np.testing.assert_allclose(ema.module.weight.detach().numpy(), [[5.0, 5.0]])


def test_integer_buffers_match_torch():
    """num_batches_tracked under use_buffers=True: averaged through float and truncated back."""
    counts = {}
    for name, (lib, lib_swa) in LIBS.items():
        bn = lib.nn.BatchNorm1d(2)
        for averaging in ("swa", "ema_multi", "ema_fn"):
            averaged = lib_swa.AveragedModel(bn, use_buffers=True,
                                             **_averaging_kwargs(averaging, lib_swa))
            for k in range(5):
                bn.num_batches_tracked.fill_(7 * k + 3)
                averaged.update_parameters(bn)
                counts.setdefault((name, averaging), []).append(
                    int(averaged.module.num_batches_tracked))
            assert averaged.module.num_batches_tracked.dtype == lib.int64
    for averaging in ("swa", "ema_multi", "ema_fn"):
        assert counts[("tinygen", averaging)] == counts[("torch", averaging)]
    assert counts[("tinygen", "swa")] == [3, 6, 9, 12, 15]          # 3 + (10 - 3) / 2 -> 6


def test_swa_multi_avg_fn_refuses_ints():
    for lib, lib_swa in LIBS.values():
        bn = lib.nn.BatchNorm1d(2)
        averaged = lib_swa.AveragedModel(bn, use_buffers=True,
                                         multi_avg_fn=lib_swa.get_swa_multi_avg_fn())
        averaged.update_parameters(bn)
        with pytest.raises(RuntimeError, match="(?i)integer division"):
            averaged.update_parameters(bn)
    with pytest.raises(RuntimeError, match="alpha must not be a floating point number"):
        swa_utils.get_swa_multi_avg_fn()([tg.tensor([1, 2])], [tg.tensor([3, 4])], 1)


def test_state_dict_keys_and_loading_match_torch():
    (_, ref_avg), (_, our_avg) = _train_and_average("ema_multi", False, np.float32, steps=3)
    keys = list(ref_avg.state_dict())
    assert keys[0] == "n_averaged" and keys[1] == "module.0.weight"
    assert list(our_avg.state_dict()) == keys
    fresh = swa_utils.AveragedModel(_mlp(tg, np.float32))
    fresh.load_state_dict({k: v.detach().numpy() for k, v in ref_avg.state_dict().items()})
    _assert_state_dicts_match(ref_avg.state_dict(), fresh.state_dict(), np.float32)
    assert int(fresh.n_averaged) == 3


def test_forward_passes_through_and_matches_torch():
    (ref_model, ref_avg), (our_model, our_avg) = _train_and_average("swa", False, np.float32,
                                                                    steps=4)
    x = np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32)
    for averaged in (ref_avg, our_avg):
        averaged.eval()
    ref_out = ref_avg(torch.tensor(x)).detach().numpy()
    our_out = our_avg(tg.tensor(x))
    np.testing.assert_allclose(our_out.detach().numpy(), ref_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(our_out.numpy(), our_avg.module(tg.tensor(x)).numpy())
    assert not np.allclose(our_out.detach().numpy(),
                           our_model.eval()(tg.tensor(x)).detach().numpy())


def test_the_copy_is_deep_and_on_the_device():
    model = _mlp(tg, np.float32)
    averaged = swa_utils.AveragedModel(model, device="cpu")
    pairs = list(zip(averaged.module.parameters(), model.parameters()))
    assert pairs and all(a is not b and a.requires_grad for a, b in pairs)
    with tg.no_grad():
        model[0].weight.add_(1.0)
    assert not np.allclose(averaged.module[0].weight.detach().numpy(),
                           model[0].weight.detach().numpy())
    assert averaged.n_averaged.device == model[0].weight.device
    copied = copy.deepcopy(averaged)
    assert copied.module[0].weight is not averaged.module[0].weight
    np.testing.assert_array_equal(copied.module[0].weight.detach().numpy(),
                                  averaged.module[0].weight.detach().numpy())


def test_bad_arguments_raise_torchs_errors():
    model = tg.nn.Linear(2, 2)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(model, avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    for make in (swa_utils.get_ema_avg_fn, swa_utils.get_ema_multi_avg_fn):
        with pytest.raises(ValueError, match=r"Invalid decay value 1.5 provided"):
            make(1.5)
        with pytest.raises(ValueError, match=r"Invalid decay value -0.1 provided"):
            make(-0.1)


# ---- SWALR ----------------------------------------------------------------------------------
def _swalr_lrs(lib, lib_swa, swa_kwargs, epochs=20, before=None, lr=(0.5, 0.1)):
    """The lr of each param group after every epoch: an optional schedule first (name, kwargs,
    epochs), then SWALR."""
    params = [lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)]
    opt = lib.optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": lr[1]}], lr=lr[0])
    lrs = []
    if before is not None:
        name, kwargs, n = before
        sched = getattr(lib.optim.lr_scheduler, name)(opt, **kwargs)
        for _ in range(n):
            opt.step()
            sched.step()
            lrs.append(sched.get_last_lr())
    swa = lib_swa.SWALR(opt, **swa_kwargs)
    lrs.append([float(g["lr"]) for g in opt.param_groups])
    for _ in range(epochs):
        opt.step()
        swa.step()
        lrs.append(swa.get_last_lr())
    return np.array(lrs, dtype=np.float64), swa, opt


SWALR_CONFIGS = [
    dict(swa_lr=0.05),
    dict(swa_lr=0.05, anneal_strategy="linear"),
    dict(swa_lr=[0.05, 0.2], anneal_epochs=5),
    dict(swa_lr=[0.05, 0.2], anneal_epochs=5, anneal_strategy="linear"),
    dict(swa_lr=0.01, anneal_epochs=0),
    dict(swa_lr=0.01, anneal_epochs=1, anneal_strategy="linear"),
]


@pytest.mark.parametrize("before", [None, ("CosineAnnealingLR", dict(T_max=10), 6),
                                    ("StepLR", dict(step_size=2, gamma=0.5), 5)],
                         ids=["alone", "after_cosine", "after_step"])
@pytest.mark.parametrize("swa_kwargs", SWALR_CONFIGS,
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_swalr_lrs_match_torch(swa_kwargs, before):
    ref, _, _ = _swalr_lrs(torch, torch_swa_utils, swa_kwargs, before=before)
    ours, sched, opt = _swalr_lrs(tg, swa_utils, swa_kwargs, before=before)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)
    swa_lrs = swa_kwargs["swa_lr"] if isinstance(swa_kwargs["swa_lr"], list) \
        else [swa_kwargs["swa_lr"]] * 2
    np.testing.assert_allclose(ours[-1], swa_lrs, rtol=1e-12)        # annealed to swa_lr
    assert [g["swa_lr"] for g in opt.param_groups] == swa_lrs


def test_swalr_tensor_lr_is_filled_in_place():
    lrs = {}
    for name, (lib, lib_swa) in LIBS.items():
        lr = lib.tensor(0.5, dtype=lib.float64)
        opt = lib.optim.SGD([lib.zeros(2, requires_grad=True)], lr=lr)
        sched = lib_swa.SWALR(opt, swa_lr=0.1, anneal_epochs=4)
        lrs[name] = []
        for _ in range(6):
            opt.step()
            sched.step()
            lrs[name].append(float(opt.param_groups[0]["lr"]))
        assert opt.param_groups[0]["lr"] is lr
    np.testing.assert_allclose(lrs["tinygen"], lrs["torch"], rtol=1e-12)
    assert lrs["tinygen"][-1] == pytest.approx(0.1)


def test_swalr_state_dict_matches_torch_and_reloads():
    _, ref_sched, _ = _swalr_lrs(torch, torch_swa_utils, dict(swa_lr=0.05, anneal_epochs=8),
                                 epochs=3)
    _, our_sched, _ = _swalr_lrs(tg, swa_utils, dict(swa_lr=0.05, anneal_epochs=8), epochs=3)
    ref_state, our_state = ref_sched.state_dict(), our_sched.state_dict()
    assert sorted(our_state) == sorted(ref_state)
    assert "anneal_func" not in our_state and our_state["_anneal_strategy"] == "cos"
    for key in ("anneal_epochs", "last_epoch", "_step_count", "base_lrs"):
        assert our_state[key] == ref_state[key], key
    # a linear scheduler loading a cosine one's state anneals by the cosine from then on
    resumed_lrs = {}
    for name, (lib, lib_swa) in LIBS.items():
        _, sched, opt = _swalr_lrs(lib, lib_swa, dict(swa_lr=0.05, anneal_strategy="linear",
                                                      anneal_epochs=8), epochs=3)
        sched.load_state_dict(ref_state)
        resumed_lrs[name] = []
        for _ in range(6):
            opt.step()
            sched.step()
            resumed_lrs[name].append(sched.get_last_lr())
    assert our_sched.anneal_func is swa_utils.SWALR._cosine_anneal
    np.testing.assert_allclose(resumed_lrs["tinygen"], resumed_lrs["torch"], rtol=1e-12)


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(swa_lr=0.1, anneal_strategy="exp"), ValueError,
     "anneal_strategy must be one of 'cos' or 'linear', instead got exp"),
    (dict(swa_lr=0.1, anneal_epochs=-1), ValueError,
     "anneal_epochs must be equal or greater than 0, got -1"),
    (dict(swa_lr=0.1, anneal_epochs=2.5), ValueError,
     "anneal_epochs must be equal or greater than 0, got 2.5"),
    (dict(swa_lr=[0.1, 0.2, 0.3]), ValueError,
     "swa_lr must have the same length as optimizer.param_groups. swa_lr has 3 values, "
     "param_groups has 1."),
])
def test_swalr_bad_arguments_raise_torchs_errors(kwargs, error, message):
    for lib, lib_swa in LIBS.values():
        opt = lib.optim.SGD([lib.zeros(2, requires_grad=True)], lr=0.1)
        with pytest.raises(error) as raised:
            lib_swa.SWALR(opt, **kwargs)
        assert str(raised.value) == message


def test_swalr_get_lr_outside_step_warns():
    opt = tg.optim.SGD([tg.zeros(2, requires_grad=True)], lr=0.1)
    sched = swa_utils.SWALR(opt, swa_lr=0.05)
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()


# ---- update_bn --------------------------------------------------------------------------------
def _conv_bn(lib, dtype):
    nn = lib.nn
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3, momentum=0.3),
                          nn.ReLU(), nn.Flatten(), nn.Linear(48, 5), nn.BatchNorm1d(5))
    return model.double() if dtype == np.float64 else model


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pairs", [False, True], ids=["tensors", "pairs"])
def test_update_bn_matches_torch(pairs, dtype):
    ref, ours = _twin_models(dtype, build=_conv_bn)
    rng = np.random.default_rng(3)
    batches = [rng.standard_normal((4, 2, 4, 4)).astype(dtype) * 2 + 1 for _ in range(5)]
    for lib, model, lib_swa in ((torch, ref, torch_swa_utils), (tg, ours, swa_utils)):
        model.train()
        model(lib.tensor(batches[0]))                # running stats away from their start
        model.eval()
        before = _numpy(model[1].running_var).copy()
        loader = [(lib.tensor(x), lib.tensor(0)) if pairs else lib.tensor(x) for x in batches]
        lib_swa.update_bn(loader, model, device="cpu" if pairs else None)
        assert not model.training                    # the mode is restored
        assert model[1].momentum == 0.3 and model[5].momentum == 0.1
        assert not np.allclose(_numpy(model[1].running_var), before)
    _assert_state_dicts_match(ref.state_dict(), ours.state_dict(), dtype)
    assert int(ours[1].num_batches_tracked) == 5


def test_update_bn_running_mean_is_the_mean_over_batches():
    bn = tg.nn.BatchNorm1d(3, momentum=0.5)
    rng = np.random.default_rng(0)
    batches = [tg.tensor(rng.standard_normal((4, 3)).astype(np.float32) + k) for k in range(4)]
    swa_utils.update_bn(batches, bn)
    expected = np.mean([b.numpy().mean(axis=0) for b in batches], axis=0)
    np.testing.assert_allclose(bn.running_mean.numpy(), expected, rtol=1e-5)
    assert bn.momentum == 0.5 and bn.training


def test_update_bn_without_batchnorm_does_nothing():
    model = tg.nn.Sequential(tg.nn.Linear(2, 2))
    model.eval()
    calls = []
    model.register_forward_hook(lambda m, i, o: calls.append(1))
    swa_utils.update_bn([tg.zeros(1, 2)], model)
    assert calls == [] and not model.training


def test_update_bn_on_an_averaged_model_matches_torch():
    (_, ref_avg), (_, our_avg) = _train_and_average("swa", False, np.float32, steps=5)
    rng = np.random.default_rng(9)
    batches = [rng.standard_normal((6, 4)).astype(np.float32) for _ in range(3)]
    torch_swa_utils.update_bn([torch.tensor(x) for x in batches], ref_avg)
    swa_utils.update_bn([tg.tensor(x) for x in batches], our_avg)
    _assert_state_dicts_match(ref_avg.state_dict(), our_avg.state_dict(), np.float32)
    assert int(our_avg.module[1].num_batches_tracked) == 3


# ---- captured steps ---------------------------------------------------------------------------
def test_captured_step_with_averaging_and_swalr_is_bitwise_eager():
    """update_parameters and SWALR.step replay as calls in a tg.compile step: the compiled run
    leaves the same average, optimiser state and lr as the eager one."""
    rng = np.random.default_rng(0)
    batches = [(tg.tensor(rng.standard_normal((8, 4)).astype(np.float32)),
                tg.tensor(rng.integers(0, 3, 8))) for _ in range(10)]
    results = []
    for compiled in (False, True):
        tg.manual_seed(0)
        model = _mlp(tg, np.float32)
        opt = tg.optim.SGD(model.parameters(), lr=0.1)
        averaged = swa_utils.AveragedModel(model, use_buffers=True,
                                           multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.9))
        sched = swa_utils.SWALR(opt, swa_lr=0.01, anneal_epochs=4)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            averaged.update_parameters(model)
            sched.step()
            return loss

        fn = tg.compile(step) if compiled else step
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)     # no silent fallback to eager
            losses = [fn(x, y).numpy().copy() for x, y in batches]
        results.append((losses, [v.numpy().copy() for v in averaged.state_dict().values()],
                        [opt.param_groups[0]["lr"]]))
    for eager, replayed in zip(*results):
        assert len(eager) == len(replayed) > 0
        for a, b in zip(eager, replayed):
            np.testing.assert_array_equal(a, b)
    assert int(results[1][1][0]) == 10                           # n_averaged
    assert results[1][2][0] == pytest.approx(0.01)
