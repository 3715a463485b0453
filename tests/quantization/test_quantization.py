"""tinygen.quantization: quantize_dynamic, prepare / convert, the int8 layers and their state dicts.

Tolerances, and why:
- one int8 layer against its float layer, per output element: with |x - x_q| <= s_x / 2 and
  |w - w_q| <= s_w / 2 (the round trip, tests/ops/test_ops_quantized.py),
      |x.w - x_q.w_q| <= s_w / 2 * sum|x| + s_x / 2 * sum|w| + K * s_x * s_w / 4,
  a bound, not an estimate (plus float32 rounding);
- a whole model on random inputs: each layer adds a relative error of about
  (s / sqrt(12)) / (typical value) ~ 1% per operand with random signs, so four layers stay within
  5% of the output's largest magnitude, and the argmax (a classifier's decision) changes only
  for near ties;
- against PyTorch's own int8 Linear (torch.ao.nn.quantized.dynamic.Linear, per-tensor weights,
  7-bit activations on x86): tinygen's per-channel weights and 8-bit activations err no more.
"""
import copy
import json

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn, quantization as Q
from tinygen.nn.utils import prune


def _mlp(seed=0):
    tg.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 32), nn.ReLU(),
                         nn.Linear(32, 10))


def _cnn(seed=0):
    tg.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * 4 * 4, 32), nn.ReLU(), nn.Linear(32, 10))


def _images(n=32, seed=1):
    return tg.tensor(np.random.default_rng(seed).random((n, 1, 16, 16)).astype(np.float32))


def test_quantize_dynamic_swaps_exactly_the_matched_layers():
    model = _mlp()
    model.add_module("keep", nn.modules.linear.NonDynamicallyQuantizableLinear(10, 10))
    q = Q.quantize_dynamic(model, {nn.Linear}, dtype=tg.qint8)
    kinds = [type(m).__name__ for m in q.children()]
    assert kinds == ["Flatten", "QuantizedLinear", "ReLU", "QuantizedLinear", "ReLU",
                     "QuantizedLinear", "NonDynamicallyQuantizableLinear"]
    assert all(m.dynamic for m in q.modules() if isinstance(m, Q.QuantizedLinear))
    assert type(model[1]) is nn.Linear                      # a copy unless inplace
    by_name = Q.quantize_dynamic(model, {"3"})
    assert [type(m).__name__ for m in by_name.children()][1:4] == ["Linear", "ReLU",
                                                                  "QuantizedLinear"]
    assert type(Q.quantize_dynamic(nn.Linear(4, 2))) is Q.QuantizedLinear     # the root too
    inplace = Q.quantize_dynamic(model, inplace=True)
    assert inplace is model and type(model[1]) is Q.QuantizedLinear


def test_quantize_dynamic_rejects_what_it_cannot_do():
    with pytest.raises(ValueError, match="only dtype=tg.qint8 is supported, got tinygen.float16"):
        Q.quantize_dynamic(_mlp(), {nn.Linear}, dtype=tg.float16)
    with pytest.raises(ValueError, match="quantize_dynamic: no int8 version of LSTM; supported: "
                                         "Linear, Conv2d"):
        Q.quantize_dynamic(_mlp(), {nn.LSTM})


def _per_element_bound(x, w, w_scale, x_scale, window_sum):
    """The bound of the module docstring; window_sum(a, b) sums |a| |b|-style over each output's
    terms: for a Linear a matrix product, for a conv a convolution of absolute values."""
    k = w[0].size
    return (window_sum(np.abs(x), np.ones_like(w)) * w_scale / 2
            + window_sum(np.ones_like(x), np.abs(w)) * x_scale / 2 + k * x_scale * w_scale / 4)


def test_one_linear_layer_within_the_rounding_bound():
    tg.manual_seed(2)
    layer = nn.Linear(100, 20)
    x = tg.randn(50, 100) * 2
    q = Q.QuantizedLinear.from_float(layer)
    with tg.no_grad():
        err = np.abs(q(x).numpy() - layer(x).numpy()).astype(np.float64)
    x_np, w_np = x.numpy().astype(np.float64), layer.weight.detach().numpy().astype(np.float64)
    x_scale = Q.affine_qparams(x_np.min(), x_np.max())[0]
    bound = _per_element_bound(x_np, w_np, q.weight_scale.numpy()[None, :], x_scale,
                               lambda a, b: a @ b.T)
    assert np.all(err <= bound + 1e-5)
    assert err.max() > bound.max() / 100                    # the bound is not vacuous


def test_one_conv_layer_within_the_rounding_bound():
    tg.manual_seed(3)
    layer = nn.Conv2d(3, 5, 3, padding=1, stride=2)
    x = tg.rand(4, 3, 9, 9)
    prepared = Q.prepare(layer)
    with tg.no_grad():
        prepared(x)
    q = Q.convert(prepared)
    assert type(q) is Q.QuantizedConv2d and not q.dynamic
    with tg.no_grad():
        err = np.abs(q(x).numpy() - layer(x).numpy()).astype(np.float64)
        conv = lambda a, b: tg.nn.functional.conv2d(                       # noqa: E731
            tg.tensor(a), tg.tensor(b), stride=2, padding=1).numpy()
        bound = _per_element_bound(x.numpy().astype(np.float64),
                                   layer.weight.detach().numpy().astype(np.float64),
                                   q.weight_scale.numpy()[None, :, None, None],
                                   q.input_scale.item(), conv)
    assert np.all(err <= bound + 1e-5)


@pytest.mark.parametrize("build, data", [(_mlp, lambda: _images().reshape(32, 4, 64)[:, 0]),
                                         (_cnn, _images)])
def test_a_quantised_model_is_close_to_the_float_model(build, data):
    model = build()
    x = data()
    prepared = Q.prepare(model, {nn.Conv2d})
    with tg.no_grad():
        prepared(x)                                          # calibrate on the same batch
        q = Q.quantize_dynamic(Q.convert(prepared), {nn.Linear})
        y, want = q(x).numpy(), model(x).numpy()
    assert np.abs(y - want).max() <= 0.05 * np.abs(want).max()
    assert (y.argmax(1) == want.argmax(1)).mean() >= 0.9
    assert not np.array_equal(y, want)                       # int8 really ran


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_error_no_worse_than_pytorch_dynamic_linear():
    """Measured: mean absolute error 0.0022 (tinygen) and 0.0037 (PyTorch) on this layer."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    th = torch.nn.Linear(400, 20)
    tgl = nn.Linear(400, 20)
    tgl.load_state_dict({k: v.detach().numpy() for k, v in th.state_dict().items()})
    x = np.maximum(np.random.default_rng(0).standard_normal((128, 400)), 0).astype(np.float32)
    want = th(torch.tensor(x)).detach().numpy()
    th_q = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(th), {torch.nn.Linear},
                                                  dtype=torch.qint8)
    err_torch = np.abs(th_q(torch.tensor(x)).detach().numpy() - want).mean()
    with tg.no_grad():
        err_tg = np.abs(Q.QuantizedLinear.from_float(tgl)(tg.tensor(x)).numpy() - want).mean()
    assert 0 < err_tg <= err_torch


def test_observers():
    values = tg.arange(10000).float().reshape(100, 100)
    minmax, pct = Q.MinMaxObserver(), Q.PercentileObserver(percentile=99.0, samples_per_batch=10000)
    for batch in (values, values - 5000.0):
        minmax(batch)
        assert pct(batch) is batch
    assert (minmax.min_val.item(), minmax.max_val.item()) == (-5000.0, 9999.0)
    low, high = pct.range()
    assert low == pytest.approx(-4800, abs=2) and high == pytest.approx(9800, abs=2)
    assert pct.calculate_qparams() == Q.affine_qparams(low, high)
    strided = Q.PercentileObserver(samples_per_batch=100)
    strided(values)
    assert len(strided.samples[0]) == 100                  # an even subsample of the batch
    with pytest.raises(RuntimeError, match="MinMaxObserver saw no data: run calibration"):
        Q.MinMaxObserver().calculate_qparams()
    with pytest.raises(ValueError, match="percentile must be in"):
        Q.PercentileObserver(percentile=40)


def test_prepare_convert_static_qparams_and_errors():
    model = _cnn()
    prepared = Q.prepare(model, {nn.Conv2d}, observer=Q.PercentileObserver)
    assert type(model[0]) is nn.Conv2d and "input_observer" not in model[0]._modules
    with pytest.raises(RuntimeError, match="convert: layer '0': PercentileObserver saw no data"):
        Q.convert(prepared)
    with tg.no_grad():
        for seed in range(3):
            prepared(_images(seed=seed))
    observer = prepared[3].input_observer
    q = Q.convert(prepared)
    assert [type(m).__name__ for m in q.children()][:4] == ["QuantizedConv2d", "ReLU",
                                                            "MaxPool2d", "QuantizedConv2d"]
    assert (q[3].input_scale.item(), int(q[3].input_zero_point.item())) == pytest.approx(
        observer.calculate_qparams())
    assert type(q[7]) is nn.Linear                          # not asked for: still float


def test_static_layer_clips_outside_its_calibrated_range():
    tg.manual_seed(4)
    layer = nn.Linear(8, 3)
    static = Q.QuantizedLinear.from_float(layer, input_qparams=Q.affine_qparams(0.0, 1.0))
    dynamic = Q.QuantizedLinear.from_float(layer)
    x = tg.rand(5, 8) * 4                                  # up to 4, calibrated up to 1
    with tg.no_grad():
        clipped = static(x).numpy()
        np.testing.assert_allclose(clipped, static(x.clamp(max=1.0)).numpy(), atol=1e-6)
        assert np.abs(dynamic(x).numpy() - layer(x).numpy()).max() < 0.05
        assert np.abs(clipped - layer(x).numpy()).max() > 0.1


def test_state_dict_saves_int8_and_rebuilds_from_the_plan(tmp_path):
    model = _cnn()
    prepared = Q.prepare(model)
    with tg.no_grad():
        prepared(_images())
    q = Q.quantize_dynamic(Q.convert(prepared), {nn.Linear})
    state = q.state_dict()
    assert state["0.weight"].dtype == tg.int8 and state["0.weight_scale"].dtype == tg.float32
    assert state["0.input_zero_point"].dtype == tg.int64 and "7.input_scale" not in state
    tg.save(state, tmp_path / "int8.safetensors")
    tg.save(model.state_dict(), tmp_path / "float.safetensors")
    plan = json.loads(json.dumps(Q.quantization_plan(q)))    # JSON-able, as config.json holds it
    assert plan == {"0": {"type": "QuantizedConv2d", "dynamic": False},
                    "3": {"type": "QuantizedConv2d", "dynamic": False},
                    "7": {"type": "QuantizedLinear", "dynamic": True},
                    "9": {"type": "QuantizedLinear", "dynamic": True}}
    fresh = Q.apply_plan(_cnn(seed=7), plan)
    fresh.load_state_dict(tg.load(tmp_path / "int8.safetensors"))
    x = _images(seed=5)
    with tg.no_grad():
        np.testing.assert_array_equal(fresh(x).numpy(), q(x).numpy())
    with pytest.raises(ValueError, match=r"apply_plan: the model has no layer \['12'\]"):
        Q.apply_plan(_cnn(), {"12": {"type": "QuantizedLinear", "dynamic": True}})
    with pytest.raises(ValueError, match="'1' is a ReLU, the plan has a QuantizedLinear"):
        Q.apply_plan(_cnn(), {"1": {"type": "QuantizedLinear", "dynamic": True}})


def test_state_dict_is_about_four_times_smaller_on_disk(tmp_path):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 400), nn.ReLU(), nn.Linear(400, 20))
    tg.save(model.state_dict(), tmp_path / "float.safetensors")
    tg.save(Q.quantize_dynamic(model).state_dict(), tmp_path / "int8.safetensors")
    ratio = (tmp_path / "float.safetensors").stat().st_size / \
        (tmp_path / "int8.safetensors").stat().st_size
    # int8 weights (1 byte for 4) plus float32 biases and scales (2 per output channel)
    assert 3.9 < ratio < 4.0


def test_pruned_weights_stay_zero_and_backward_is_refused():
    tg.manual_seed(5)
    layer = nn.Linear(30, 6)
    prune.l1_unstructured(layer, "weight", 0.7)
    with tg.no_grad():
        layer.weight_orig.add_(1.0)               # after a training step: `weight` is stale
    q = Q.QuantizedLinear.from_float(layer)
    mask = layer.weight_mask.numpy()
    assert np.all(q.weight.numpy()[mask == 0] == 0) and np.all(q.weight.numpy()[mask == 1] != 0)
    x = tg.randn(4, 30, requires_grad=True)
    with pytest.raises(RuntimeError, match="quantized_linear has no backward"):
        q(x).sum().backward()
    assert list(q.parameters()) == []                       # nothing to train


def test_deepcopy_and_repr():
    q = Q.quantize_dynamic(_mlp())
    twin = copy.deepcopy(q)
    assert twin[1].weight is not q[1].weight
    assert "QuantizedLinear(in_features=64, out_features=48, bias=True, dynamic)" in repr(q)
    assert repr(tg.qint8) == "tinygen.qint8"


def test_int8_model_on_the_test_device_matches_the_cpu():
    """On the `test` device (arrays of their own type, NumPy references through the kernel
    table, as a GPU without int8 kernels would run) every buffer and output stays on the
    device, and the integers make the outputs equal to the CPU's numba and VNNI kernels'."""
    model = _cnn()
    x = _images(8)
    prepared = Q.prepare(model)
    with tg.no_grad():
        prepared(x)
        q = Q.quantize_dynamic(Q.convert(prepared))
        on_cpu = q(x).numpy()
        q.to("test")
        assert {t.device.type for t in q.state_dict().values()} == {"test"}
        y = q(x.to("test"))
    assert y.device == "test"
    np.testing.assert_array_equal(y.cpu().numpy(), on_cpu)
