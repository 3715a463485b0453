"""The four workloads of `benchmarks/peers.py`, written once per engine, each the engine's way.

Every engine starts from the same NumPy data and parameters (`arrays(workload)`), so the first
loss of every engine should agree (within float32 rounding); the driver checks it against
tinygen's. A network is described once (`SPECS`) and each engine builds it from that description:
`nn.Sequential` for tinygen and PyTorch, layer lists for tinygrad, functions over parameter lists
for MyGrad and HIPS autograd, scalar `Value`s for micrograd (the toy only).

    chain  (a * b + b).relu().sum() on 16x16, forward + backward (the per-op overhead)
    mlp    784-256-256-10 MLP, batch 64: forward, cross-entropy, backward, SGD step
    lenet  LeNet-5-sized CNN on 1x28x28, batch 64 (conv 6 5x5, pool, conv 16 5x5, pool,
           fc 120, 84, 10): the same step
    toy    micrograd's demo: a 2-16-16-1 MLP on 100 moons points, hinge loss + L2, SGD

`ENGINES[name](workload)` returns a `Built`: `step()` runs one step and returns the loss,
`read(loss)` turns it into a float, `sync()` waits for queued work (tinygrad's CPU queue).
An engine that cannot run raises `Unavailable` with the reason.
"""
from __future__ import annotations

# Each engine is imported inside its builder (lazily, on purpose): a child process loads only the
# engine it times, and an engine that is not installed becomes a row of the table, not an error.

import atexit
import importlib.metadata
import importlib.util
import os
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass
from typing import Callable

import numpy as np

WORKLOADS = {
    "chain": "mul-add-relu-sum chain, 16x16, forward + backward",
    "mlp": "MLP 784-256-256-10 step, batch 64",
    "lenet": "LeNet-5 CNN step, 1x28x28, batch 64",
    "toy": "micrograd toy: 2-16-16-1 MLP, 100 points",
}
LR = {"mlp": 0.01, "lenet": 0.01, "toy": 0.1}
ALPHA = 1e-4            # the toy's L2 weight (micrograd's demo)

# ("linear", in, out) | ("conv", in, out, k) | "relu" | "pool" (max 2x2, stride 2) | "flatten"
SPECS = {
    "mlp": [("linear", 784, 256), "relu", ("linear", 256, 256), "relu", ("linear", 256, 10)],
    "lenet": [("conv", 1, 6, 5), "relu", "pool", ("conv", 6, 16, 5), "relu", "pool", "flatten",
              ("linear", 256, 120), "relu", ("linear", 120, 84), "relu", ("linear", 84, 10)],
    "toy": [("linear", 2, 16), "relu", ("linear", 16, 16), "relu", ("linear", 16, 1)],
}


class Unavailable(Exception):
    """The engine cannot run this workload here (not applicable, or a missing system tool).
    short: what the table's cell says; detail: the whole reason, for the notes."""

    def __init__(self, short, detail=""):
        super().__init__(f"{short}: {detail}" if detail else short)
        self.short, self.detail = short, detail


@dataclass
class Built:
    step: Callable
    read: Callable = float
    sync: Callable = lambda: None


# ---- the shared data and initial parameters ----------------------------------------------------
def moons(n, noise, rng):
    """Two interleaved half circles (scikit-learn's make_moons), labels -1 and +1 as micrograd's
    demo uses them. x: (n, 2), y: (n,)"""
    n_out = n // 2
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n - n_out)
    x = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)])
    x += noise * rng.standard_normal(x.shape)
    y = np.concatenate([-np.ones(n_out), np.ones(n - n_out)])
    return x.astype(np.float32), y.astype(np.float32)


def _init_params(spec, rng, toy):
    """PyTorch's layouts and default init (uniform in +-1/sqrt(fan_in)); micrograd's for the toy
    (weights uniform in +-1, biases 0)."""
    params = []
    for layer in spec:
        if isinstance(layer, str):
            continue
        shape = (layer[2], layer[1]) + ((layer[3],) * 2 if layer[0] == "conv" else ())
        bound = 1.0 if toy else 1 / np.sqrt(np.prod(shape[1:]))
        params.append(rng.uniform(-bound, bound, shape).astype(np.float32))
        params.append(np.zeros(shape[0], np.float32) if toy else
                      rng.uniform(-bound, bound, shape[0]).astype(np.float32))
    return params


def arrays(workload):
    """(data, params): NumPy float32 arrays, the same on every call. data: {"a", "b"} for the chain,
    {"x", "y"} otherwise (y: int64 class labels, or the toy's -1/+1 as (100, 1))."""
    rng = np.random.default_rng(0)
    if workload == "chain":
        return {k: rng.standard_normal((16, 16)).astype(np.float32) for k in "ab"}, []
    if workload == "toy":
        x, y = moons(100, 0.1, rng)
        return {"x": x, "y": y[:, None]}, _init_params(SPECS["toy"], rng, toy=True)
    shape = (64, 784) if workload == "mlp" else (64, 1, 28, 28)
    data = {"x": rng.random(shape, dtype=np.float32), "y": rng.integers(0, 10, 64)}
    return data, _init_params(SPECS[workload], rng, toy=False)


# ---- tinygen and PyTorch: the same code, nn.Sequential + optim.SGD -------------------------------
def _sequential(nn, spec):
    make = {"relu": nn.ReLU, "pool": lambda: nn.MaxPool2d(2), "flatten": nn.Flatten}
    layers = []
    for layer in spec:
        if isinstance(layer, str):
            layers.append(make[layer]())
        elif layer[0] == "linear":
            layers.append(nn.Linear(layer[1], layer[2]))
        else:
            layers.append(nn.Conv2d(layer[1], layer[2], layer[3]))
    return nn.Sequential(*layers)


def _torchlike(lib, nn, F, workload):
    data, params = arrays(workload)
    if workload == "chain":
        a, b = (lib.tensor(data[k], requires_grad=True) for k in "ab")

        def chain():
            a.grad = b.grad = None
            out = (a * b + b).relu().sum()
            out.backward()
            return out
        return Built(chain, read=lambda t: t.item())
    model = _sequential(nn, SPECS[workload])
    model.load_state_dict({k: lib.tensor(v) for k, v in zip(model.state_dict(), params)})
    opt = lib.optim.SGD(model.parameters(), lr=LR[workload])
    x, y = lib.tensor(data["x"]), lib.tensor(data["y"])

    def loss_fn():
        if workload != "toy":
            return F.cross_entropy(model(x), y)
        reg = sum((p * p).sum() for p in model.parameters())
        return (1 - y * model(x)).relu().mean() + ALPHA * reg

    def step():
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return Built(step, read=lambda t: t.item())


def tinygen_engine(workload, compiled=False):
    import tinygen as tg
    import tinygen.nn as nn
    import tinygen.nn.functional as F
    built = _torchlike(tg, nn, F, workload)
    if compiled:
        built.step = tg.compile(built.step)
    return built


def torch_engine(workload):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    return _torchlike(torch, nn, F, workload)


# ---- tinygrad: layer lists, TinyJit, its CPU device ---------------------------------------------
ZIG_CC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zig_cc.py")


def tinygrad_compiler():
    """The C compiler tinygrad's CPU device will run (it compiles every kernel with it, its
    queue's own programs too), in words for the report: $CC where set, else clang on PATH, else
    the clang inside the ziglang wheel through zig_cc.py, made $CC here (for this process and
    its children). Raises Unavailable where there is none. Another DEV: that device's name."""
    device = os.environ.get("DEV", "CPU")
    if not device.upper().startswith("CPU"):
        return device
    cc = os.environ.get("CC")
    if cc:
        if shutil.which(cc) is None:
            raise Unavailable("clang missing", f"tinygrad's CPU device compiles its kernels with "
                              f"$CC={cc!r}, which is not an executable on PATH")
        return _zig_description() if cc == _zig_cc_executable.made else f"$CC={cc}"
    if shutil.which("clang") is not None:
        return "clang"
    if _ziglang_installed():
        os.environ["CC"] = _zig_cc_executable()
        return _zig_description()
    raise Unavailable("clang missing", "tinygrad's CPU device compiles its kernels with clang, "
                      "which is not on PATH: install clang from the system packages (e.g. "
                      "apt-get install clang), or the ziglang wheel (pip install ziglang, in "
                      "tinygen[peers]), whose clang this benchmark then uses")


def _ziglang_installed():
    return importlib.util.find_spec("ziglang") is not None


def _zig_description():
    return f"its kernels compiled by the clang of ziglang {importlib.metadata.version('ziglang')}"


def _zig_cc_executable():
    """An executable running zig_cc.py with this Python (tinygrad runs $CC with no interpreter,
    and the Python that has ziglang need not be the first on PATH): a two-line shell script in
    a temporary folder, made once per process, removed at exit."""
    if _zig_cc_executable.made is None:
        folder = tempfile.mkdtemp(prefix="tinygen-zig-cc-")
        atexit.register(shutil.rmtree, folder, True)
        path = os.path.join(folder, "clang")
        with open(path, "w") as f:
            f.write(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(ZIG_CC)} \"$@\"\n")
        os.chmod(path, 0o755)
        _zig_cc_executable.made = path
    return _zig_cc_executable.made


_zig_cc_executable.made = None


def _tinygrad_layers(Tensor, nn, spec, params):
    layers, it = [], iter(params)
    for layer in spec:
        if layer == "relu":
            layers.append(Tensor.relu)
        elif layer == "pool":
            layers.append(lambda t: t.max_pool2d((2, 2)))
        elif layer == "flatten":
            layers.append(lambda t: t.flatten(1))
        else:
            module = nn.Linear(*layer[1:3]) if layer[0] == "linear" else nn.Conv2d(*layer[1:4])
            module.weight, module.bias = Tensor(next(it)), Tensor(next(it))
            layers.append(module)
    return layers


def tinygrad_engine(workload):
    from tinygrad import Context, Device, Tensor, TinyJit, nn   # "not installed" comes first
    tinygrad_compiler()
    data, params = arrays(workload)
    sync = Device[Device.DEFAULT].synchronize
    if workload == "chain":
        a, b = Tensor(data["a"]), Tensor(data["b"])

        @TinyJit
        def chain():
            out = (a * b + b).relu().sum()
            Tensor.realize(out, *out.gradient(a, b))
            return out
        return Built(chain, read=lambda t: t.item(), sync=sync)
    layers = _tinygrad_layers(Tensor, nn, SPECS[workload], params)
    weights = [t for m in layers if hasattr(m, "weight") for t in (m.weight, m.bias)]
    opt = nn.optim.SGD(weights, lr=LR[workload])
    x, y = Tensor(data["x"]).is_param_(False), Tensor(data["y"]).is_param_(False)

    def loss_fn():
        if workload != "toy":
            return x.sequential(layers).sparse_categorical_crossentropy(y)
        reg = sum((w * w).sum() for w in weights)
        return (1 - y * x.sequential(layers)).relu().mean() + ALPHA * reg

    @TinyJit
    def step():
        with Context(TRAINING=1):
            opt.zero_grad()
            loss = loss_fn().backward()
            return loss.realize(*opt.schedule_step())
    return Built(step, read=lambda t: t.item(), sync=sync)


# ---- MyGrad and HIPS autograd: functions over a list of parameter arrays -------------------------
def _functional(spec, ops):
    """forward(x, weights) for the spec; ops: {"linear": f(x, W, b), "conv": f(x, W, b),
    "relu"|"pool"|"flatten": f(x)}; weights in the order of SPECS (W, b per layer)."""
    def forward(x, weights):
        it = iter(weights)
        for layer in spec:
            x = ops[layer](x) if isinstance(layer, str) else ops[layer[0]](x, next(it), next(it))
        return x
    return forward


def _layouts(spec, params, conv_layout):
    """The shared parameters in an engine's own layouts: Linear weights as (in, out), so that
    x @ W + b; Conv2d weights through conv_layout."""
    weights, it = [], iter(params)
    for layer in spec:
        if not isinstance(layer, str):
            w = next(it)
            weights += [w.T.copy() if layer[0] == "linear" else conv_layout(w), next(it)]
    return weights


def mygrad_engine(workload):
    import mygrad as mg
    from mygrad.nnet import conv_nd, max_pool, relu, softmax_crossentropy
    data, params = arrays(workload)
    if workload == "chain":
        a, b = mg.tensor(data["a"]), mg.tensor(data["b"])

        def chain():
            out = relu(a * b + b).sum()
            out.backward()
            return out
        return Built(chain, read=lambda t: t.item())
    ops = {"linear": lambda x, W, b: mg.matmul(x, W) + b,
           "conv": lambda x, W, b: conv_nd(x, W, stride=1) + b[:, None, None],   # (N, C, H, W)
           "relu": relu, "pool": lambda x: max_pool(x, (2, 2), 2),
           "flatten": lambda x: x.reshape(x.shape[0], -1)}
    forward = _functional(SPECS[workload], ops)
    weights = [mg.tensor(w) for w in _layouts(SPECS[workload], params, lambda w: w)]
    x, y, lr = data["x"], data["y"], LR[workload]

    def step():
        if workload == "toy":
            reg = sum(mg.sum(w * w) for w in weights)
            loss = relu(1 - y * forward(x, weights)).mean() + ALPHA * reg
        else:
            loss = softmax_crossentropy(forward(x, weights), y)
        loss.backward()
        with mg.no_autodiff:
            for w in weights:
                w -= lr * w.grad
        return loss
    return Built(step, read=lambda t: t.item())


def _autograd_loss(workload, forward, anp):
    from autograd.scipy.special import logsumexp
    data, _ = arrays(workload)
    x, y = data["x"], data["y"]

    def loss(weights):
        out = forward(x, weights)
        if workload == "toy":
            reg = sum(anp.sum(w * w) for w in weights)
            return anp.mean(anp.maximum(1 - y * out, 0)) + ALPHA * reg
        log_probs = out - logsumexp(out, axis=1, keepdims=True)             # (N, 10)
        return -anp.mean(log_probs[anp.arange(len(y)), y])
    return loss


def autograd_engine(workload):
    import autograd.numpy as anp
    from autograd import value_and_grad
    from autograd.scipy.signal import convolve
    data, params = arrays(workload)
    if workload == "chain":
        chain_grad = value_and_grad(lambda ab: anp.sum(anp.maximum(ab[0] * ab[1] + ab[1], 0)))
        pair = [data["a"], data["b"]]
        return Built(lambda: chain_grad(pair)[0])
    ops = {"linear": lambda x, W, b: anp.dot(x, W) + b,
           # autograd's convnet example: a true convolution over (H, W), contracting C_in;
           # the weights are stored (C_in, C_out, kh, kw) and flipped, so it equals Conv2d
           "conv": lambda x, W, b: convolve(x, W, axes=([2, 3], [2, 3]), dot_axes=([1], [0]),
                                            mode="valid") + b[:, None, None],
           "relu": lambda x: anp.maximum(x, 0),
           "pool": lambda x: anp.max(x.reshape(x.shape[0], x.shape[1], x.shape[2] // 2, 2,
                                               x.shape[3] // 2, 2), axis=(3, 5)),
           "flatten": lambda x: anp.reshape(x, (x.shape[0], -1))}
    spec, lr = SPECS[workload], LR[workload]
    weights = _layouts(spec, params, lambda w: w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1].copy())
    loss_and_grads = value_and_grad(_autograd_loss(workload, _functional(spec, ops), anp))

    def step():
        loss, grads = loss_and_grads(weights)
        weights[:] = [w - lr * g for w, g in zip(weights, grads)]
        return loss
    return Built(step)


# ---- micrograd: scalar Values, its demo's loop ---------------------------------------------------
def micrograd_engine(workload):
    if workload != "toy":
        raise Unavailable("n/a (scalar engine)", "micrograd works on scalar Values: the toy only")
    from micrograd.engine import Value
    from micrograd.nn import MLP
    data, params = arrays("toy")
    model = MLP(2, [16, 16, 1])
    for layer, W, b in zip(model.layers, params[0::2], params[1::2]):
        for neuron, w_row, b_j in zip(layer.neurons, W, b):
            for v, w in zip(neuron.w, w_row):
                v.data = float(w)
            neuron.b.data = float(b_j)
    xs, ys = data["x"].tolist(), data["y"][:, 0].tolist()

    def step():                                 # micrograd's demo.ipynb: loss(), then the update
        inputs = [list(map(Value, row)) for row in xs]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * si).relu() for yi, si in zip(ys, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        total = data_loss + ALPHA * sum(p * p for p in model.parameters())
        model.zero_grad()
        total.backward()
        for p in model.parameters():
            p.data -= LR["toy"] * p.grad
        return total
    return Built(step, read=lambda v: v.data)


ENGINES = {
    "tinygen": tinygen_engine,
    "tinygen-compiled": lambda workload: tinygen_engine(workload, compiled=True),
    "torch": torch_engine,
    "tinygrad": tinygrad_engine,
    "mygrad": mygrad_engine,
    "autograd": autograd_engine,
    "micrograd": micrograd_engine,
}
# the module each engine imports (a ModuleNotFoundError for it means "not installed")
MODULES = {"tinygen": "tinygen", "tinygen-compiled": "tinygen", "torch": "torch",
           "tinygrad": "tinygrad", "mygrad": "mygrad", "autograd": "autograd",
           "micrograd": "micrograd"}
LABELS = {"tinygen": "tinygen eager", "tinygen-compiled": "tinygen compiled",
          "torch": "PyTorch", "tinygrad": "tinygrad (TinyJit)", "mygrad": "MyGrad",
          "autograd": "HIPS autograd", "micrograd": "micrograd"}
