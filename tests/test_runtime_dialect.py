"""The lines at the top of PyTorch scripts (number formats, threads, precision and determinism
switches, mixed precision, activation checkpointing) run on tinygen, against torch where it has
an answer."""
import os
import warnings

import numpy as np
import pytest

import tinygen as tg
import tinygen.utils.checkpoint as tgc

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64"])
def test_finfo_as_torch(name):
    got, want = tg.finfo(getattr(tg, name)), torch.finfo(getattr(torch, name))
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(got, field) == getattr(want, field), field
    assert tg.finfo().dtype == torch.finfo().dtype == "float32"
    with pytest.raises(TypeError, match="iinfo"):
        tg.finfo(tg.int32)


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo_as_torch(name):
    got, want = tg.iinfo(getattr(tg, name)), torch.iinfo(getattr(torch, name))
    assert (got.bits, got.max, got.min, got.dtype) == (want.bits, want.max, want.min, want.dtype)
    with pytest.raises(TypeError, match="finfo"):
        tg.iinfo(tg.float32)


def test_threads_and_switches_are_set_and_read_back():
    n = tg.get_num_threads()
    try:
        tg.set_num_threads(1)
        assert tg.get_num_threads() == 1
        assert float((tg.ones(64, 64) @ tg.ones(64, 64)).sum()) == 64.0 ** 3
    finally:
        tg.set_num_threads(n)
    assert tg.get_num_threads() == n
    with pytest.raises(ValueError, match="positive int"):
        tg.set_num_threads(0)
    assert tg.get_float32_matmul_precision() == "highest"
    tg.set_float32_matmul_precision("high")
    assert tg.get_float32_matmul_precision() == "high"
    with pytest.warns(UserWarning, match="not one of"):
        tg.set_float32_matmul_precision("fast")
    tg.set_float32_matmul_precision("highest")
    tg.use_deterministic_algorithms(True, warn_only=True)
    assert tg.are_deterministic_algorithms_enabled()
    assert tg.is_deterministic_algorithms_warn_only_enabled()
    tg.use_deterministic_algorithms(False)
    tg.backends.cuda.matmul.allow_tf32 = True
    tg.backends.cudnn.allow_tf32 = True
    tg.backends.cuda.enable_flash_sdp(False)
    assert not tg.backends.cuda.flash_sdp_enabled()
    tg.backends.cuda.enable_flash_sdp(True)
    tg.cuda.empty_cache()


def test_autocast_regions_run_and_keep_the_dtype():
    lin = tg.nn.Linear(3, 2)
    x = tg.randn(4, 3)
    with tg.autocast(device_type="cpu", dtype=tg.bfloat16):
        y = lin(x)
    assert y.dtype == tg.float32                 # the documented difference: no casting policy
    np.testing.assert_array_equal(y.detach().numpy(), lin(x).detach().numpy())
    with tg.amp.autocast("cpu"):
        pass
    assert tg.amp.autocast("cpu")(lambda v: v * 2)(3) == 6
    with pytest.raises(RuntimeError, match="unknown device_type"):
        tg.autocast(device_type="tpu0")


def _scaler_run(lib, scaler, steps):
    """Scales and parameters of a loop whose gradients overflow at steps 2 and 3."""
    p = lib.nn.Parameter(lib.tensor([1.0, -2.0]))
    opt = lib.optim.SGD([p], lr=0.1)
    seen = []
    for k in range(steps):
        opt.zero_grad()
        loss = (p * p).sum() * (float("inf") if k in (2, 3) else 1.0)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        seen.append((scaler.get_scale(), p.detach().numpy().tolist()))
    return seen, scaler.state_dict()


def test_grad_scaler_follows_torchs_algorithm():
    make = dict(init_scale=8.0, growth_factor=2.0, backoff_factor=0.5, growth_interval=2)
    got, got_state = _scaler_run(tg, tg.amp.GradScaler("cpu", **make), 7)
    want, want_state = _scaler_run(torch, torch.amp.GradScaler("cpu", **make), 7)
    for (gs, gp), (ws, wp) in zip(got, want):
        assert gs == ws
        np.testing.assert_allclose(gp, wp, rtol=1e-6)
    assert got_state == want_state
    with pytest.warns(UserWarning, match="CUDA is not available"):
        assert not tg.cuda.amp.GradScaler().is_enabled()      # no GPU here: disabled, as torch
    off = tg.amp.GradScaler("cpu", enabled=False)
    t = tg.tensor(2.0)
    assert off.scale(t) is t and off.state_dict() == {}


def _block(lin1, lin2, F):
    return lambda h: lin2(F.dropout(lin1(h).tanh(), 0.3, training=True))


@pytest.mark.parametrize("input_grad", [True, False])
def test_checkpoint_gives_the_gradients_of_the_plain_block(input_grad):
    # the recomputation draws the same dropout mask; parameters get gradients even when the
    # input does not require grad
    lin1, lin2 = tg.nn.Linear(6, 8), tg.nn.Linear(8, 3)
    params = list(lin1.parameters()) + list(lin2.parameters())
    x = tg.randn(5, 6, requires_grad=input_grad)
    grads = []
    for run in (lambda f, v: f(v), lambda f, v: tgc.checkpoint(f, v, use_reentrant=False)):
        for p in params:
            p.grad = None
        x.grad = None
        tg.manual_seed(3)
        y = run(_block(lin1, lin2, tg.nn.functional), x)
        (y * y).sum().backward()
        grads.append([p.grad.numpy().copy() for p in params]
                     + ([x.grad.numpy().copy()] if input_grad else []))
        assert x.grad is None or input_grad
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_checkpoint_refuses_autograd_grad_and_warns_without_use_reentrant():
    lin = tg.nn.Linear(3, 3)
    x = tg.randn(2, 3, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = tgc.checkpoint(lin, x)
    assert any("use_reentrant" in str(w.message) for w in caught)
    with pytest.raises(RuntimeError, match="call .backward"):
        tg.autograd.grad(y.sum(), x)
    seq = tg.nn.Sequential(*[tg.nn.Linear(4, 4) for _ in range(5)])
    xs = tg.randn(2, 4, requires_grad=True)
    plain = seq(xs).sum()
    plain.backward()
    want = xs.grad.numpy().copy()
    xs.grad = None
    got = tgc.checkpoint_sequential(seq, 2, xs, use_reentrant=False).sum()
    got.backward()
    assert got.item() == pytest.approx(plain.item())
    np.testing.assert_allclose(xs.grad.numpy(), want, rtol=1e-6)


@pytest.mark.parametrize("name", ["expit", "logit", "erf", "erfc", "erfinv", "ndtr", "ndtri",
                                  "gammaln", "digamma", "psi", "log1p", "expm1", "exp2", "entr",
                                  "sinc", "round"])
def test_special_as_torch(name):
    x = np.array([-1.5, -0.0, 0.0, 0.2, 0.5, 0.9, 2.0, 7.5])
    if name in ("digamma", "psi"):                   # away from the poles at 0, -1, ...
        x = x[np.abs(x) > 0]
    if name in ("logit", "ndtri", "erfinv"):
        x = np.array([0.01, 0.2, 0.5, 0.9, 0.99]) * (1 if name != "erfinv" else 1.8) - (
            0 if name != "erfinv" else 0.9)
    t = tg.tensor(x, requires_grad=name not in ("round",))
    got = getattr(tg.special, name)(t)
    want = getattr(torch.special, name)(torch.tensor(x))
    np.testing.assert_allclose(got.detach().numpy(), want.numpy(), rtol=1e-10, atol=1e-12)
    if name != "round":
        got.sum().backward()
        xt = torch.tensor(x, requires_grad=True)
        getattr(torch.special, name)(xt).sum().backward()
        keep = x != 0 if name == "entr" else slice(None)    # entr'(0): 0 here, inf in torch
        np.testing.assert_allclose(t.grad.numpy()[keep], xt.grad.numpy()[keep], rtol=1e-8,
                                   atol=1e-10)


def test_special_two_argument_and_reductions_as_torch():
    x, y = np.array([0.0, 0.5, 2.0]), np.array([3.0, -0.5, 1.0])
    for name in ("xlogy", "xlog1py"):
        np.testing.assert_allclose(getattr(tg.special, name)(tg.tensor(x), tg.tensor(y)).numpy(),
                                   getattr(torch.special, name)(torch.tensor(x),
                                                                torch.tensor(y)).numpy())
    m = np.random.default_rng(0).standard_normal((3, 4))
    for name in ("softmax", "log_softmax", "logsumexp"):
        np.testing.assert_allclose(getattr(tg.special, name)(tg.tensor(m), 1).numpy(),
                                   getattr(torch.special, name)(torch.tensor(m), 1).numpy())


def test_assert_close_decides_as_torch():
    cases = [(np.ones(3, np.float32), np.ones(3, np.float32) + 1e-6),
             (np.ones(3, np.float32), np.ones(3, np.float32) + 1e-4),
             (np.ones(3), np.ones(3) + 1e-8), (np.ones(3), np.ones(3) + 1e-6),
             (np.arange(3), np.arange(3)), (np.arange(3), np.arange(3) + 1),
             (np.array([np.nan]), np.array([np.nan]))]
    for a, b in cases:
        def decided(lib, close):
            try:
                close(lib.tensor(a), lib.tensor(b))
                return True
            except AssertionError:
                return False
        assert decided(tg, tg.testing.assert_close) == decided(torch, torch.testing.assert_close)
    tg.testing.assert_close(tg.tensor([np.nan]), tg.tensor([np.nan]), equal_nan=True)
    with pytest.raises(AssertionError, match="dtype"):
        tg.testing.assert_close(tg.ones(2), tg.ones(2, dtype=tg.float64))
    with pytest.raises(ValueError, match="rtol"):
        tg.testing.assert_close(tg.ones(2), tg.ones(2), atol=1.0)


def test_legacy_constructors_memory_formats_and_flip_dims():
    x = tg.FloatTensor([1, 2])
    assert x.dtype == tg.float32 and isinstance(x, tg.FloatTensor)
    assert not isinstance(x, tg.LongTensor) and isinstance(tg.LongTensor([1]), tg.LongTensor)
    assert tg.LongTensor(2, 3).shape == (2, 3) and tg.ByteTensor([1]).dtype == tg.uint8
    assert tuple(tg.FloatTensor().shape) == tuple(torch.FloatTensor().shape) == (0,)
    c = tg.nn.Conv2d(1, 1, 1).to(memory_format=tg.channels_last)
    y = tg.ones(1, 2, 2, 2).contiguous(memory_format=tg.channels_last).to(
        memory_format=tg.contiguous_format)
    assert c.weight.shape == (1, 1, 1, 1) and y.shape == (1, 2, 2, 2)
    assert x.share_memory_() is x and x.pin_memory() is x and not x.is_pinned()
    a = np.arange(6.0).reshape(2, 3)
    for call in (lambda m, v: m.flip(v, dims=[0, 1]), lambda m, v: m.flip(v, [1]),
                 lambda m, v: v.flip(0), lambda m, v: v.flip(dims=(1,))):
        np.testing.assert_array_equal(call(tg, tg.tensor(a)).numpy(),
                                      call(torch, torch.tensor(a)).numpy())


def test_summary_writer_takes_tensors(tmp_path):
    pytest.importorskip("tensorboardX")
    from tinygen.utils.tensorboard import SummaryWriter  # lazy: tensorboardX is an optional extra
    writer = SummaryWriter(str(tmp_path))
    writer.add_scalar("loss", tg.tensor(0.5), 1)
    writer.add_scalars("parts", {"a": tg.tensor(1.0), "b": 2.0}, 1)
    writer.add_histogram("weights", tg.randn(100), 1)
    writer.add_image("sample", tg.rand(3, 8, 8), 1)
    writer.close()
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(tmp_path))


def test_accelerator_picks_the_device_as_torch():
    # pytorch/examples' device choice; no GPU here: not available, no accelerator (as torch)
    assert tg.accelerator.is_available() == tg.cuda.is_available()
    if not tg.accelerator.is_available():
        assert tg.accelerator.current_accelerator() is None
        assert tg.accelerator.device_count() == 0
        assert torch.accelerator.current_accelerator() is None or torch.cuda.is_available()
    else:
        assert tg.accelerator.current_accelerator().type == "cuda"
    tg.accelerator.synchronize()
    tg.accelerator.empty_cache()


def test_block_diag_as_torch():
    a, b, c = np.arange(4.0).reshape(2, 2), np.array([5.0, 6.0, 7.0]), np.array(9.0)
    w = np.random.default_rng(0).standard_normal((4, 6))
    out = []
    for lib in (tg, torch):
        xs = [lib.tensor(v, requires_grad=True) for v in (a, b, c)]
        y = lib.block_diag(*xs)
        (y * lib.tensor(w)).sum().backward()
        out.append([y.detach().numpy()] + [x.grad.numpy() for x in xs])
    for got, want in zip(*out):
        np.testing.assert_array_equal(got, want)
    assert tg.block_diag(tg.ones(2, dtype=tg.int64), tg.ones(1, 1)).dtype == tg.float32
    assert tuple(tg.block_diag().shape) == (1, 0)
    with pytest.raises(RuntimeError, match="block_diag: expected 0-, 1- or 2-D"):
        tg.block_diag(tg.ones(1, 1, 1))


def test_jit_script_and_trace_hand_back_what_they_get():
    model = tg.nn.Linear(2, 2)
    assert tg.jit.script(model) is model and tg.jit.trace(model, tg.ones(1, 2)) is model

    @tg.jit.ignore
    def f(x):
        return x * 2
    assert f(3) == 6 and not tg.jit.is_scripting()
    assert tg.jit.unused(drop=False)(f) is f
    with pytest.raises(NotImplementedError, match="state_dict"):
        tg.jit.save(model, "m.pt")


def test_autocast_state_is_recorded_as_pytorchs():
    """tg.is_autocast_enabled / get_autocast_dtype and the rest read what regions set, with
    PyTorch's defaults; compared with torch's own answers where it is installed."""
    def trace(lib):
        out = [lib.is_autocast_enabled(), lib.is_autocast_enabled("cpu"),
               str(lib.get_autocast_dtype("cpu")).split(".")[-1],
               str(lib.get_autocast_dtype("cuda")).split(".")[-1], lib.is_autocast_cache_enabled()]
        with lib.autocast("cpu"):
            out += [lib.is_autocast_enabled("cpu"), lib.is_autocast_enabled()]
            with lib.autocast("cpu", enabled=False):
                out.append(lib.is_autocast_enabled("cpu"))
            with lib.autocast("cpu", dtype=lib.float16):
                out.append(str(lib.get_autocast_dtype("cpu")).split(".")[-1])
            out.append(str(lib.get_autocast_dtype("cpu")).split(".")[-1])
        out += [lib.is_autocast_enabled("cpu"), lib.autocast_increment_nesting(),
                lib.autocast_decrement_nesting()]
        lib.set_autocast_enabled("cpu", True)
        out.append(lib.is_autocast_enabled("cpu"))
        lib.set_autocast_enabled("cpu", False)
        return out

    ours = trace(tg)
    assert ours == [False, False, "bfloat16", "float16", True, True, False, False, "float16",
                    "bfloat16", False, 1, 0, True]
    with pytest.raises(RuntimeError, match="unknown device_type 'foo'"):
        tg.get_autocast_dtype("foo")
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert trace(torch) == ours


def test_set_default_tensor_type_to_dense_and_conv_memory_format():
    try:
        tg.set_default_tensor_type("torch.DoubleTensor")
        assert tg.get_default_dtype() == tg.float64 and tg.tensor([1.0]).dtype == tg.float64
        tg.set_default_tensor_type(tg.HalfTensor)
        assert tg.get_default_dtype() == tg.float16
    finally:
        tg.set_default_tensor_type(tg.FloatTensor)
    assert tg.get_default_dtype() == tg.float32
    with pytest.raises(TypeError, match="only floating-point types"):
        tg.set_default_tensor_type("torch.IntTensor")
    with pytest.raises(TypeError, match="not available as the default tensor type"):
        tg.set_default_tensor_type("torch.cuda.FloatTensor")
    x = tg.ones(3)
    assert x.to_dense() is x and x.to_dense(tg.float64).dtype == tg.float64
    model = tg.nn.Sequential(tg.nn.Conv2d(1, 2, 3), tg.nn.ReLU())
    before = model[0].weight.detach().numpy().copy()
    assert tg.nn.utils.convert_conv2d_weight_memory_format(model, tg.channels_last) is model
    assert tg.nn.utils.convert_conv3d_weight_memory_format(model, tg.channels_last_3d) is model
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), before)
    with pytest.raises(TypeError, match="expected a memory format"):
        tg.nn.utils.convert_conv2d_weight_memory_format(model, "channels_last")
