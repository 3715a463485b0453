"""Time the int8 kernels and layers at the shapes of the MNIST classifier and the VAE, against
float32 (BLAS / tinygen's float conv) and PyTorch's int8 (FBGEMM): median ms over interleaved
repeats, all ratios measured in one process. Each kernel is checked against its reference
(exactly) before it is timed. The table goes to stdout and to --out.

    python benchmarks/int8.py [--threads 1] [--repeats 20]

Three tables:
1. the int8 GEMM (int8_gemm: the default, numba_vnni_v2 where the CPU has AVX-512 VNNI, and the
   portable numba_v1) against its NumPy reference and float32 BLAS on the same (M, K) x (N, K)
   shapes; GOP/s count 2 M N K;
2. whole Linear layers, float in and float out: tinygen's QuantizedLinear (dynamic: quantise the
   input, int8 GEMM, dequantise), tinygen's float nn.Linear, PyTorch's float Linear and
   torch.ao.nn.quantized.dynamic.Linear; with each int8 layer's error against the float output;
3. the int8 convolution (int8_conv2d, default and numba_v1) against its reference, tinygen's
   float32 conv
   kernel (conv2d_fwd, numba_v1: im2col + BLAS), PyTorch's float conv2d and PyTorch's static int8
   conv (torch.ao.nn.quantized.Conv2d on a quint8 input, which requantises its output to quint8).
"""
from __future__ import annotations

import argparse
import builtins
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import machine_header  # noqa: E402
from kernels import time_ms  # noqa: E402

# (label, M, K, N): a Linear of K -> N inputs on a batch of M
GEMMS = [("classifier fc1, eval batch", 1000, 3136, 128),
         ("classifier fc1, train batch", 64, 3136, 128),
         ("classifier head, eval batch", 1000, 128, 10),
         ("classifier fc1, one image", 1, 3136, 128),
         ("VAE encoder 784-400, eval batch", 500, 784, 400),
         ("VAE encoder 784-400, train batch", 128, 784, 400),
         ("VAE mu 400-20, eval batch", 500, 400, 20),
         ("VAE decoder 400-784, eval batch", 500, 400, 784)]
# (label, x shape, w shape, padding)
CONVS = [("classifier conv1, eval batch", (1000, 1, 28, 28), (32, 1, 3, 3), 1),
         ("classifier conv2, eval batch", (1000, 32, 14, 14), (64, 32, 3, 3), 1),
         ("classifier conv2, train batch", (64, 32, 14, 14), (64, 32, 3, 3), 1)]


NOTES = """## Why these ratios

- **int8 GEMM vs float32 BLAS.** Where the CPU has AVX-512 VNNI, the default is numba_vnni_v2:
  vpdpbusd does 32 multiply-adds of bytes per 256-bit instruction where a float32 FMA does 8, so
  at large K it beats OpenBLAS's sgemm although it has none of BLAS's packing or cache blocking
  (each output is one dot product along K, finished by a horizontal sum). Below K = 64 or M = 4
  (one image) it hands over to numba_v1, and there the call itself is most of the time.
  numba_v1, the portable version, is what LLVM makes of a plain dot-product loop (vpmovsxbw +
  vpmaddwd: 16 products per instruction after two widening loads), about 0.5-0.9x of sgemm.
  The NumPy reference (NumPy's integer matmul, no BLAS) is there to be obviously right, not fast.
- **Whole Linear layers.** tinygen's int8 Linear adds to the GEMM the input's min and max (two
  NumPy passes), the int8_quantize kernel (one pass over the input), the int8_dequantize kernel
  (one pass over the output: zero-point correction, scales, bias), the weight's row sums at
  every call, and the Function call; for one image these fixed costs (about 0.15 ms) are the
  whole time. PyTorch's dynamic Linear (FBGEMM) packs the weight once at conversion, fuses
  quantisation and the output stage into hand-written VNNI kernels, and stays faster. Its
  error against the float output is larger than tinygen's: on x86 it quantises activations to
  7 bits (reduce_range) and the weight with one scale per tensor; tinygen uses 8 bits and one
  scale per output channel.
- **Convolutions.** The classifier's first conv has K = 1 * 3 * 3 = 9, too short for vpdpbusd
  (numba_v1 runs, one short dot product per output) and for BLAS (the float conv spends its time
  in im2col). At K = 288 (the second conv) the int8 GEMM is about 3x faster than float32, but
  the int8 convolution also unrolls its input (im2row, one gather per element, as large as the
  input times 9) and writes its output with strided stores, so it ends up 1.3-1.5x faster than
  the float32 conv. PyTorch's int8 conv (FBGEMM's direct convolution, no unrolled copy, quint8
  output) is 4-9x faster still.
"""


def _int8(rng, shape):
    return rng.integers(-128, 128, size=shape).astype(np.int8)


def _versions(name):
    """(default implementation name, its function, numba_v1's function) of an int8 kernel."""
    from tinygen_kernels import registry
    entry = registry.references()[name]
    default = entry.defaults.get("cpu", "reference")
    return default, registry.dispatch(name, "cpu"), registry.dispatch(name, "cpu", "numba_v1")


def gemm_table(rng, repeats, print):
    from tinygen_kernels import int8
    default, fast, v1 = _versions("int8_gemm")
    print(f"| GEMM (M x K) x (N x K)^T | shape | int8 default ({default}) ms | GOP/s | int8 "
          "numba_v1 ms | int8 reference ms | float32 BLAS ms | GOP/s | float32 / int8 default |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, m, k, n in GEMMS:
        a, b = _int8(rng, (m, k)), _int8(rng, (n, k))
        want = int8.int8_gemm(a, b)
        for fn in (fast, v1):
            np.testing.assert_array_equal(fn(a, b), want, err_msg=label)
        af, bt = a.astype(np.float32), np.ascontiguousarray(b.astype(np.float32).T)
        ms = time_ms([lambda: fast(a, b), lambda: v1(a, b), lambda: int8.int8_gemm(a, b),
                      lambda: af @ bt], max(3, repeats // 4) if m * k * n > 1e8 else repeats)
        gops = [2 * m * n * k / (t * 1e6) for t in ms]
        print(f"| {label} | {m}x{k}x{n} | {ms[0]:.3f} | {gops[0]:.0f} | {ms[1]:.3f} | "
              f"{ms[2]:.2f} | {ms[3]:.3f} | {gops[3]:.0f} | {ms[3] / ms[0]:.2f} |")


def _torch_dynamic_linear(torch, weight, bias):
    layer = torch.nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight))
        layer.bias.copy_(torch.from_numpy(bias))
    quantized = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(layer),
                                                       {torch.nn.Linear}, dtype=torch.qint8)
    return layer, quantized


def layer_table(rng, repeats, print):
    import torch
    import tinygen as tg
    from tinygen import nn, quantization
    print("| Linear layer, float in and out | shape | tinygen int8 ms | tinygen float32 ms | "
          "torch float32 ms | torch int8 (dynamic) ms | tinygen float / int8 | torch int8 / "
          "tinygen int8 | error tinygen int8 | error torch int8 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, m, k, n in GEMMS:
        x = np.maximum(rng.standard_normal((m, k)), 0).astype(np.float32)   # after a ReLU
        layer = nn.Linear(k, n)
        weight, bias = layer.weight.detach().numpy(), layer.bias.detach().numpy()
        qlayer = quantization.QuantizedLinear.from_float(layer)
        th_layer, th_q = _torch_dynamic_linear(torch, weight, bias)
        xt, xth = tg.tensor(x), torch.from_numpy(x)
        with tg.no_grad(), torch.no_grad():
            want = th_layer(xth).numpy()
            errors = [np.abs(out - want).mean() / np.abs(want).mean()
                      for out in (qlayer(xt).numpy(), th_q(xth).numpy())]
            ms = time_ms([lambda: qlayer(xt), lambda: layer(xt), lambda: th_layer(xth),
                          lambda: th_q(xth)], repeats)
        print(f"| {label} | {m}x{k}x{n} | {ms[0]:.3f} | {ms[1]:.3f} | {ms[2]:.3f} | {ms[3]:.3f} "
              f"| {ms[1] / ms[0]:.2f} | {ms[3] / ms[0]:.2f} | {errors[0]:.2%} | {errors[1]:.2%} |")


def _torch_int8_conv(torch, w, padding):
    conv = torch.ao.nn.quantized.Conv2d(w.shape[1], w.shape[0], w.shape[2], padding=padding)
    wt = torch.from_numpy(w.astype(np.float32))
    scale = wt.abs().amax((1, 2, 3)) / 127
    qw = torch.quantize_per_channel(wt, scale, torch.zeros(w.shape[0], dtype=torch.long), 0,
                                    torch.qint8)
    conv.set_weight_bias(qw, torch.zeros(w.shape[0]))
    conv.scale, conv.zero_point = 0.05, 0
    return conv


def conv_table(rng, repeats, print):
    import torch
    from tinygen_kernels import int8, registry
    default, fast, v1 = _versions("int8_conv2d")
    fconv = registry.dispatch("conv2d_fwd", "cpu")
    print(f"| conv 3x3, padding 1 | x, w | int8 default ({default}) ms | int8 numba_v1 ms | int8 "
          "reference ms | float32 (tinygen numba_v1) ms | torch float32 ms | torch int8 ms | "
          "float32 / int8 default | torch int8 / int8 default |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, x_shape, w_shape, p in CONVS:
        x, w = _int8(rng, x_shape), _int8(rng, w_shape)
        geo = ((1, 1), (p, p), (1, 1), 1)
        want = int8.int8_conv2d(x, w, *geo, pad_value=3)
        for fn in (fast, v1):
            np.testing.assert_array_equal(fn(x, w, *geo, pad_value=3), want, err_msg=label)
        xf, wf = x.astype(np.float32), w.astype(np.float32)
        xth, wth = torch.from_numpy(xf), torch.from_numpy(wf)
        qconv = _torch_int8_conv(torch, w, p)
        xq = torch.quantize_per_tensor(xth.abs() / 128, 1 / 255, 0, torch.quint8)
        fns = [lambda: fast(x, w, *geo, pad_value=3), lambda: v1(x, w, *geo, pad_value=3),
               lambda: int8.int8_conv2d(x, w, *geo, pad_value=3), lambda: fconv(xf, wf, *geo),
               lambda: torch.nn.functional.conv2d(xth, wth, padding=p), lambda: qconv(xq)]
        with torch.no_grad():
            ms = time_ms(fns, max(3, repeats // 4))
        print(f"| {label} | {'x'.join(map(str, x_shape))}, {'x'.join(map(str, w_shape))} | "
              f"{ms[0]:.2f} | {ms[1]:.2f} | {ms[2]:.1f} | {ms[3]:.2f} | {ms[4]:.2f} | "
              f"{ms[5]:.2f} | {ms[3] / ms[0]:.2f} | {ms[5] / ms[0]:.2f} |")


def main(argv=None):
    lines = []

    def print(*a):
        text = " ".join(str(x) for x in a)
        lines.append(text)
        builtins.print(text, flush=True)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "results", "int8_cpu.md"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    import numba
    import torch
    from threadpoolctl import threadpool_limits
    numba.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    print(f"# int8 kernels and layers vs float32 and PyTorch, CPU, {args.threads} thread(s), "
          f"median of {args.repeats}\n")
    print(machine_header(["python", "benchmarks/int8.py"] + list(argv or sys.argv[1:])))
    print(f"- numba {numba.__version__}, torch {torch.__version__} "
          f"(quantized engine {torch.backends.quantized.engine})\n")
    rng = np.random.default_rng(0)
    with threadpool_limits(args.threads):
        gemm_table(rng, args.repeats, print)
        print()
        layer_table(rng, args.repeats, print)
        print()
        conv_table(rng, args.repeats, print)
    print()
    print(NOTES)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    main()
