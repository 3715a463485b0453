"""Time the CPU kernels of the kernel table: the default implementation (numba) vs the NumPy
reference vs PyTorch CPU, float32, median ms over repeats, interleaved, 2 threads.
Checks each kernel against its reference before timing it. Numba compile time is measured apart,
in a child process with an empty NUMBA_CACHE_DIR (cold) and again with the filled cache (load).
glibc's malloc keeps freed memory, as the `tinygen` command sets it (TINYGEN_KEEP_FREED_MEMORY=0:
glibc's defaults). The table goes to stdout and to --out (benchmarks/results/kernels_cpu.md).

    python benchmarks/kernels.py [--threads 2] [--repeats 30] [--no-compile]
    tinygen bench kernels
"""
from __future__ import annotations

import argparse
import builtins
import copy
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from tinygen.backend.memory import keep_freed_memory_unless_disabled

NAMES = ["softmax_fwd", "softmax_bwd", "log_softmax_fwd", "log_softmax_bwd", "cross_entropy_fwd",
         "cross_entropy_bwd", "layernorm_fwd", "layernorm_bwd", "embedding_bwd", "gelu_fwd",
         "gelu_bwd", "silu_fwd", "silu_bwd", "adam_step", "sgd_step", "conv2d_fwd",
         "conv2d_bwd_input", "conv2d_bwd_weight", "maxpool2d_fwd", "maxpool2d_bwd",
         "avgpool2d_fwd", "avgpool2d_bwd", "batchnorm_fwd", "batchnorm_bwd", "groupnorm_fwd",
         "groupnorm_bwd", "upsample_nearest_fwd", "upsample_nearest_bwd", "leaky_relu_fwd",
         "leaky_relu_bwd", "zero_where", "relu_fwd", "channel_sum", "add", "sigmoid_bwd",
         "tanh_bwd"]
# flash attention's registered bench shape is issue 9's GPU target (T = 1024, 16 heads): its
# reference holds a 512 MB score matrix, so the CPU table times the baby GPT's shape only (below)


def _conv_cases(rng, label, x_shape, w_shape, geo):
    """The three convolution kernels on one layer's shapes, labelled."""
    (sh, _), (ph, _) = geo[:2]
    oh = [(n + 2 * ph - k) // sh + 1 for n, k in zip(x_shape[2:], w_shape[2:])]
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    gy = rng.standard_normal((x_shape[0], w_shape[0], *oh)).astype(np.float32)
    bias = rng.standard_normal(w_shape[0]).astype(np.float32)
    return [(f"conv2d_fwd {label}", "conv2d_fwd", (x, w, *geo, bias), {}),
            (f"conv2d_bwd_input {label}", "conv2d_bwd_input", (gy, w, x_shape, *geo), {}),
            (f"conv2d_bwd_weight {label}", "conv2d_bwd_weight", (x, gy, w_shape, *geo), {})]


def cases(rng):
    """(label, kernel name, args, kwargs): the registry's bench examples plus extra shapes."""
    from tinygen_kernels import registry
    out = []
    for name in NAMES:
        args, kw = registry.references()[name].example(rng, "bench")
        out.append((name, name, args, kw))
    # nanoGPT's baby GPT (batch 12, block 64, 4 heads, 128 wide): attention rows, LN rows
    att = rng.standard_normal((12 * 4 * 64, 64)).astype(np.float32)
    att_y = registry.references()["softmax_fwd"].reference(att)
    out.append(("softmax_fwd 3072x64", "softmax_fwd", (att,), {}))
    out.append(("softmax_bwd 3072x64", "softmax_bwd", (att_y, att), {}))
    x = rng.standard_normal((768, 128)).astype(np.float32)
    w, b = np.ones(128, np.float32), np.zeros(128, np.float32)
    _, mean, rstd = registry.references()["layernorm_fwd"].reference(x, w, b, 1e-5)
    out.append(("layernorm_fwd 768x128", "layernorm_fwd", (x, w, b, 1e-5), {}))
    out.append(("layernorm_bwd 768x128", "layernorm_bwd", (x, x, w, mean, rstd), {}))
    # the DCGAN discriminator's middle layer (64x14x14 -> 128x7x7, 4x4 stride 2: Winograd
    # F(4x4, 2x2) on its phases; its input gradient is the generator's middle layer);
    # its last (a 7x7 window on 7x7: one GEMM); LeNet's first layer, the U-Net's last (direct)
    # and two of its 3x3 layers (Winograd F(4x4, 3x3)) at the top and the bottom of the U
    for label, x_shape, w_shape, stride, pad in [
            ("dcgan 64x14x14 s2", (64, 64, 14, 14), (128, 64, 4, 4), 2, 1),
            ("dcgan 7x7 window", (64, 128, 7, 7), (1, 128, 7, 7), 1, 0),
            ("lenet 1->6 5x5", (64, 1, 28, 28), (6, 1, 5, 5), 1, 0),
            ("unet 32->1 3x3", (64, 32, 28, 28), (1, 32, 3, 3), 1, 1),
            ("unet 32->32 3x3", (64, 32, 28, 28), (32, 32, 3, 3), 1, 1),
            ("unet 64->64 3x3 7x7", (64, 64, 7, 7), (64, 64, 3, 3), 1, 1)]:
        out += _conv_cases(rng, label, x_shape, w_shape, ((stride,) * 2, (pad,) * 2, (1, 1), 1))
    # the baby GPT's attention: (12, 4, 64, 32) causal
    q, k, v = (rng.standard_normal((12, 4, 64, 32)).astype(np.float32) for _ in range(3))
    o, lse = registry.references()["flash_attention_fwd"].reference(q, k, v, causal=True)
    out.append(("flash_attention_fwd 12x4x64x32", "flash_attention_fwd", (q, k, v),
                {"causal": True}))
    out.append(("flash_attention_bwd 12x4x64x32", "flash_attention_bwd", (q, k, v, o, lse, o),
                {"causal": True}))
    # CLIP's text attention: (128, 4, 32, 16), captions of 8 to 32 characters, a padding mask
    q, k, v = (rng.standard_normal((128, 4, 32, 16)).astype(np.float32) for _ in range(3))
    bias = np.where(np.arange(32) < rng.integers(8, 33, (128, 1, 1, 1)), 0, -np.inf)
    bias = bias.astype(np.float32)
    o, lse = registry.references()["flash_attention_fwd"].reference(q, k, v, bias=bias)
    out.append(("flash_attention_fwd 128x4x32x16 padded", "flash_attention_fwd", (q, k, v),
                {"bias": bias}))
    out.append(("flash_attention_bwd 128x4x32x16 padded", "flash_attention_bwd",
                (q, k, v, o, lse, o), {"bias": bias}))
    for n, c in [(768, 10), (768, 65)]:
        logits = rng.standard_normal((n, c)).astype(np.float32)
        target = rng.integers(0, c, n)
        _, lse = registry.references()["cross_entropy_fwd"].reference(logits, target)
        gloss = np.full(n, 1.0 / n, np.float32)
        out.append((f"cross_entropy_fwd {n}x{c}", "cross_entropy_fwd", (logits, target), {}))
        out.append((f"cross_entropy_bwd {n}x{c}", "cross_entropy_bwd",
                    (logits, target, lse, gloss), {}))
    return out


def torch_fn(name, args, kw):
    """A zero-argument callable running the same work in PyTorch eager (None if not mapped)."""
    import torch
    F = torch.nn.functional
    T = [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args]

    def backward_of(forward, inputs, gy):
        inputs = [t.detach().requires_grad_() for t in inputs]
        y = forward(*inputs)
        return lambda: torch.autograd.grad(y, inputs, gy, retain_graph=True)

    if name == "softmax_fwd":
        return lambda: torch.softmax(T[0], -1)
    if name == "log_softmax_fwd":
        return lambda: torch.log_softmax(T[0], -1)
    if name == "softmax_bwd":
        return lambda: torch._softmax_backward_data(T[1], T[0], -1, T[0].dtype)
    if name == "log_softmax_bwd":
        return lambda: torch._log_softmax_backward_data(T[1], T[0], -1, T[0].dtype)
    if name == "cross_entropy_fwd":
        return lambda: F.cross_entropy(T[0], T[1], reduction="none", **kw)
    if name == "cross_entropy_bwd":
        return backward_of(lambda x: F.cross_entropy(x, T[1], reduction="none", **kw), [T[0]],
                           T[3])
    if name == "layernorm_fwd":
        return lambda: torch.native_layer_norm(T[0], [T[0].shape[-1]], T[1], T[2], T[3])
    if name == "layernorm_bwd":
        gy, x, w = T[0], T[1], T[2]
        b = torch.zeros_like(w)
        return backward_of(lambda x, w, b: F.layer_norm(x, [x.shape[-1]], w, b), [x, w, b], gy)
    if name == "embedding_bwd":
        pad = kw.get("padding_idx")
        return lambda: torch.ops.aten.embedding_dense_backward(
            T[0], T[1], args[2], -1 if pad is None else pad, False)
    if name == "gelu_fwd":
        return lambda: F.gelu(T[0], approximate=kw.get("approximate", "none"))
    if name == "gelu_bwd":
        return lambda: torch.ops.aten.gelu_backward(T[1], T[0], approximate="none")
    if name == "silu_fwd":
        return lambda: F.silu(T[0])
    if name == "silu_bwd":
        return lambda: torch.ops.aten.silu_backward(T[1], T[0])
    if name == "conv2d_fwd":
        return lambda: F.conv2d(T[0], T[1], T[6] if len(args) > 6 else None, *args[2:6])
    if name == "add":
        return lambda: T[0] + T[1]
    if name == "conv2d_bwd_input":
        return lambda: torch.nn.grad.conv2d_input(args[2], T[1], T[0], *args[3:6], groups=args[6])
    if name == "conv2d_bwd_weight":
        return lambda: torch.nn.grad.conv2d_weight(T[0], args[2], T[1], *args[3:6], groups=args[6])
    if name == "maxpool2d_fwd":
        return lambda: F.max_pool2d(T[0], *args[1:5], ceil_mode=args[5], return_indices=True)
    if name == "avgpool2d_fwd":
        x, kernel, stride, padding, ceil, include_pad, divisor = args
        return lambda: F.avg_pool2d(T[0], kernel, stride, padding, ceil, include_pad, divisor)
    if name == "avgpool2d_bwd":
        gy, shape, kernel, stride, padding, ceil, include_pad, divisor = args
        x = torch.zeros(shape)
        return backward_of(lambda x: F.avg_pool2d(x, kernel, stride, padding, ceil, include_pad,
                                                  divisor), [x], T[0])
    if name == "batchnorm_fwd":
        return lambda: F.batch_norm(T[0], None, None, T[1], T[2], training=True, eps=T[3])
    if name == "batchnorm_bwd":
        gy, x, w = T[0], T[1], T[2]
        b = torch.zeros_like(w)
        return backward_of(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                           [x, w, b], gy)
    if name in ("groupnorm_fwd", "groupnorm_bwd"):        # x (N, G, C/G, S) -> torch's (N, C, S)
        x = T[0] if name == "groupnorm_fwd" else T[1]
        N, G, Cg, S = x.shape
        xc = x.reshape(N, G * Cg, S)
        if name == "groupnorm_fwd":
            return lambda: F.group_norm(xc, G, T[1], T[2], eps=T[3])
        w = T[2].clone()
        return backward_of(lambda x, w, b: F.group_norm(x, G, w, b), [xc, w, torch.zeros_like(w)],
                           T[0].reshape(N, G * Cg, S))
    if name == "upsample_nearest_fwd":
        return lambda: F.interpolate(T[0], scale_factor=(args[1], args[2]), mode="nearest")
    if name == "upsample_nearest_bwd":
        N, C, Hs, Ws = T[0].shape
        return lambda: torch.ops.aten.upsample_nearest2d_backward(
            T[0], [Hs, Ws], [N, C, Hs // args[1], Ws // args[2]])
    if name == "leaky_relu_fwd":
        return lambda: F.leaky_relu(T[0], kw["negative_slope"])
    if name == "leaky_relu_bwd":
        return lambda: torch.ops.aten.leaky_relu_backward(T[1], T[0], kw["negative_slope"], False)
    if name == "zero_where":
        return lambda: torch.where(T[1], 0.0, T[0])
    if name == "sigmoid_bwd":
        return lambda: torch.ops.aten.sigmoid_backward(T[1], T[0])
    if name == "tanh_bwd":
        return lambda: torch.ops.aten.tanh_backward(T[1], T[0])
    if name == "relu_fwd":              # tinygen's kernel also writes the mask x <= 0
        return lambda: torch.relu(T[0])
    if name == "channel_sum":
        return lambda: T[0].sum(dim=(0, *range(2, T[0].ndim)))
    if name in ("flash_attention_fwd", "flash_attention_bwd"):
        q, k, v = T[:3]
        mask = None if kw.get("bias") is None else torch.from_numpy(kw["bias"])
        sdpa = lambda q, k, v: F.scaled_dot_product_attention(  # noqa: E731
            q, k, v, attn_mask=mask, is_causal=kw.get("causal", False), scale=kw.get("scale"))
        if name == "flash_attention_fwd":
            return lambda: sdpa(q, k, v)
        return backward_of(sdpa, [q, k, v], T[5])
    if name == "adam_step":
        params = [torch.from_numpy(p.copy()).requires_grad_() for p in args[0]]
        for p, g in zip(params, args[1]):
            p.grad = torch.from_numpy(g)
        opt = (torch.optim.AdamW if kw["decoupled"] else torch.optim.Adam)(
            params, lr=kw["lr"], betas=(kw["beta1"], kw["beta2"]), eps=kw["eps"],
            weight_decay=kw["weight_decay"], amsgrad=kw["amsgrad"])
        opt.step()                                            # creates the state
        return opt.step
    if name == "sgd_step":
        params = [torch.from_numpy(p.copy()).requires_grad_() for p in args[0]]
        for p, g in zip(params, args[1]):
            p.grad = torch.from_numpy(g)
        return torch.optim.SGD(params, lr=kw["lr"], momentum=kw["momentum"]).step
    return None


def _arrays(obj):
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [a for o in obj for a in _arrays(o)]
    return []


def time_ms(fns, repeats, stat="median", block=5):
    """Interleaved repeats of each callable; median (or min) ms each. A repeat runs each callable
    `block` times in a row after one untimed call and keeps the median of the block: the first
    calls after another library ran pay for its threads (PyTorch's OpenMP pool spins for a while
    after each op and takes the cores from the next BLAS or numba call: a 7 ms conv measured
    12-30 ms right after a PyTorch conv), a cost that would otherwise land on whichever function
    is timed next."""
    times = [[] for _ in fns]
    for fn in fns:
        fn()
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            fn()
            inner = []
            for _ in range(block):
                t0 = time.perf_counter()
                fn()
                inner.append(time.perf_counter() - t0)
            times[i].append(float(np.median(inner)))
    reduce = np.median if stat == "median" else np.min
    return [1e3 * float(reduce(t)) for t in times]


def compile_times():
    """{kernel: (cold compile s, cached load s)} from two child processes sharing a cache dir.
    The parallel threshold is set to 0 so that the first call compiles the parallel driver and
    the serial loop it calls (small inputs run only the serial loop)."""
    code = ("import time, json, numpy as np\n"
            "from tinygen_kernels import registry, _numba\n"
            "_numba.PARALLEL_MIN_ELEMENTS = 0\n"
            "out = {}\n"
            f"for name in {NAMES!r}:\n"
            "    args, kw = registry.references()[name].example(np.random.default_rng(0), 'test')\n"
            "    fn = registry.dispatch(name, 'cpu')\n"
            "    t = time.perf_counter(); fn(*args, **kw); out[name] = time.perf_counter() - t\n"
            "print(json.dumps(out))\n")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        runs = [json.loads(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                          capture_output=True, text=True).stdout)
                for _ in range(2)]
    return {k: (runs[0][k], runs[1][k]) for k in NAMES}


def main(argv=None):
    lines = []

    def print(*a, **k):                       # the table goes to stdout and to --out
        text = " ".join(str(x) for x in a)
        lines.append(text)
        builtins.print(text, flush=True)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "results", "kernels_cpu.md"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--stat", choices=["median", "min"], default="median",
                        help="min is steadier on a machine shared with other work")
    parser.add_argument("--only", default="", help="run the cases whose label contains this")
    args = parser.parse_args(argv)

    import numba   # lazy: heavy, and `tinygen bench` imports this module before it parses
    import torch
    from tinygen_kernels import registry
    # malloc as the `tinygen` command sets it (tinygen/backend/memory.py), for both libraries:
    # with glibc's defaults every output above 128 KiB was fresh mmap'd memory, faulted in page
    # by page on each call (LeNet's 1 -> 6 convolution: 0.40 ms timed so, 0.30 in its step)
    kept = keep_freed_memory_unless_disabled()
    numba.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)

    print(f"# CPU kernel families, float32, {args.threads} threads, {args.stat} of {args.repeats}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"numba {numba.__version__}, torch {torch.__version__}, numpy {np.__version__}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("command: `python benchmarks/kernels.py " + " ".join(argv or sys.argv[1:]) + "`")
    print("glibc's malloc " + ("kept freed memory for reuse (tinygen.backend.memory)" if kept
                               else "as the environment set it"))
    print()
    print("| kernel | shape | default ms (numba where registered, else the reference) | reference ms | torch ms | ref / default | torch / default |")
    print("|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    chart = []                                 # (label, default ms / torch ms)
    for label, name, call_args, kw in cases(rng):
        if args.only not in label:
            continue
        entry = registry.references()[name]
        fast = registry.dispatch(name, "cpu")
        want_args, got_args = copy.deepcopy(call_args), copy.deepcopy(call_args)
        want, got = entry.reference(*want_args, **kw), fast(*got_args, **kw)
        for w, g in zip(_arrays((want, want_args)), _arrays((got, got_args))):
            np.testing.assert_allclose(g, w, rtol=entry.rtol, atol=entry.atol, err_msg=label)
        fns = [lambda f=fast, a=call_args, k=kw: f(*a, **k),
               lambda f=entry.reference, a=call_args, k=kw: f(*a, **k)]
        tfn = torch_fn(name, call_args, kw)
        if tfn is not None:
            fns.append(tfn)
        ms = time_ms(fns, args.repeats, args.stat) + [float("nan")]
        shape = "x".join(map(str, call_args[0].shape)) if hasattr(call_args[0], "shape") else (
            f"{len(call_args[0])} tensors, {sum(p.size for p in call_args[0]) / 1e6:.2f}M")
        print(f"| {label} | {shape} | {ms[0]:.3f} | {ms[1]:.3f} | {ms[2]:.3f} | "
              f"{ms[1] / ms[0]:.1f} | {ms[2] / ms[0]:.2f} |", flush=True)
        chart.append((label, ms[0] / ms[2]))
    if not args.no_compile:
        print()
        print("| kernel | numba compile, cold cache (s, float32) | load from cache (s) |")
        print("|---|---|---|")
        for name, (cold, warm) in compile_times().items():
            print(f"| {name} | {cold:.2f} | {warm:.3f} |")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _report import write_ratio_chart
    if chart:
        write_ratio_chart(os.path.splitext(args.out)[0] + ".png", *zip(*chart),
                          "CPU kernels: tinygen default / PyTorch",
                          "time ratio (below 1: tinygen faster)")
    return 0


if __name__ == "__main__":
    main()
