"""GPU kernel benchmark, the body of `tinygen bench kernels --device cuda`: `main(argv)`.

    python benchmarks/gpu_kernels.py [--repeats 20] [--only NAME ...] [--out FILE]

1. Ceilings, measured in the same run: device-to-device copy bandwidth (read + write bytes over
   time), cuBLAS SGEMM through cupy.matmul (4096^3), TF32 (CuPy's compute type switched to TF32,
   where this CuPy allows it), FP16 through cupy.matmul and BF16 through PyTorch (if importable).
2. Every kernel with a CUDA implementation in the kernel table, on its registry "bench" example:
   each implementation checked against the reference first (a mismatch is reported, not timed),
   then timed beside the reference (CuPy) and PyTorch CUDA where there is an equivalent.
   Memory-bound kernels: GB/s (bytes of the arguments and results, each read or written once)
   and % of the copy bandwidth; compute-bound ones: TFLOP/s and % of the cuBLAS SGEMM rate (the
   16-bit flash attention against the FP16 GEMM rate).
3. Timing: CUDA events around the call only; before each repeat the L2 cache is flushed by
   writing a buffer twice its size; median of the repeats after warm-up (JIT and module
   compilation excluded).
Results: Markdown under benchmarks/results/ with the device, driver, date and command. Needs an
NVIDIA GPU with CuPy; without one it exits with a message saying so.
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _report import machine_header, markdown_table  # noqa: E402

MEMORY_BOUND = {"softmax_fwd", "softmax_bwd", "log_softmax_fwd", "log_softmax_bwd",
                "cross_entropy_fwd", "cross_entropy_bwd", "layernorm_fwd", "layernorm_bwd",
                "embedding_bwd", "gelu_fwd", "gelu_bwd", "silu_fwd", "silu_bwd", "adam_step"}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--only", nargs="*", default=None, help="kernel names to run (default: all)")
    p.add_argument("--out", default=os.path.join(HERE, "results", "gpu_kernels.md"))
    return p.parse_args(argv)


def require_gpu():
    """CuPy, once a GPU is known to be there; SystemExit with the reason otherwise."""
    import tinygen as tg
    if not tg.cuda.is_available():
        raise SystemExit("tinygen bench kernels --device cuda: no usable GPU "
                         "(tg.cuda.is_available() is False: CuPy is not installed, or it sees no "
                         "NVIDIA GPU/driver). "
                         "Install with pip install 'tinygen[cuda]' on a machine with a GPU.")
    import cupy
    return cupy


class Timer:
    """Median milliseconds of fn() over repeats, L2 flushed before each, CUDA events around it."""

    def __init__(self, cp, repeats, warmup):
        self.cp, self.repeats, self.warmup = cp, repeats, warmup
        l2 = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["l2CacheSize"]
        self.flush_buffer = cp.empty(max(2 * l2, 1 << 20) // 4, dtype=np.float32)

    def __call__(self, fn, setup=None):
        cp = self.cp
        for _ in range(self.warmup):
            if setup:
                setup()
            fn()
        cp.cuda.Device().synchronize()
        start, end = cp.cuda.Event(), cp.cuda.Event()
        times = []
        for _ in range(self.repeats):
            if setup:
                setup()
            self.flush_buffer.fill(0)                 # evict the L2: every repeat starts cold
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(cp.cuda.get_elapsed_time(start, end))
        return statistics.median(times)


def device_lines(cp):
    dev = cp.cuda.Device()
    props = cp.cuda.runtime.getDeviceProperties(dev.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    driver = cp.cuda.runtime.driverGetVersion()
    runtime = cp.cuda.runtime.runtimeGetVersion()
    return [
        f"- device: {name}, compute capability {props['major']}.{props['minor']}, "
        f"{props['multiProcessorCount']} SMs, L2 {props['l2CacheSize'] / 2**20:.0f} MiB, "
        f"{props['totalGlobalMem'] / 2**30:.0f} GiB",
        f"- CUDA driver {driver // 1000}.{driver % 1000 // 10}, runtime {runtime // 1000}."
        f"{runtime % 1000 // 10}, CuPy {cp.__version__}",
    ]


# ---- ceilings ---------------------------------------------------------------------------------
def ceilings(cp, timer):
    """{'copy_gbs', 'sgemm_tflops', 'tf32_tflops', 'fp16_tflops', 'bf16_tflops'} (None if n/a)."""
    out = {}
    src = cp.ones(1 << 28, dtype=np.float32)          # 1 GiB
    dst = cp.empty_like(src)
    ms = timer(lambda: dst.__setitem__(Ellipsis, src))
    out["copy_gbs"] = 2 * src.nbytes / ms / 1e6
    n = 4096
    a32 = cp.random.standard_normal((n, n), dtype=np.float32)
    b32 = cp.random.standard_normal((n, n), dtype=np.float32)
    flops = 2 * n ** 3
    out["sgemm_tflops"] = flops / timer(lambda: cp.matmul(a32, b32)) / 1e9
    out["tf32_tflops"] = None
    try:
        from cupy._core import _routines_linalg as linalg
        old = linalg.get_compute_type(np.float32)
        linalg.set_compute_type(linalg.COMPUTE_TYPE_TF32)
        try:
            out["tf32_tflops"] = flops / timer(lambda: cp.matmul(a32, b32)) / 1e9
        finally:
            linalg.set_compute_type(old)
    except Exception:
        pass
    a16, b16 = a32.astype(np.float16), b32.astype(np.float16)
    out["fp16_tflops"] = flops / timer(lambda: cp.matmul(a16, b16)) / 1e9
    out["bf16_tflops"] = None
    torch = _torch_cuda()
    if torch is not None:
        ta = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
        tb = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
        out["bf16_tflops"] = flops / timer(lambda: torch.matmul(ta, tb)) / 1e9
    return out


def _torch_cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


# ---- work per kernel --------------------------------------------------------------------------
def _nbytes(obj):
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(o) for o in obj)
    return int(getattr(obj, "nbytes", 0))


def traffic_bytes(name, args, out):
    """Bytes a perfect kernel moves: every argument read once, every result written once (the
    in-place Adam writes p, m, v (and vmax) back)."""
    if name == "adam_step":
        return _nbytes(args[:4]) + _nbytes(args[0]) + _nbytes(args[2]) + _nbytes(args[3])
    return _nbytes(args) + _nbytes(out)


def flop_count(name, args, kwargs):
    if name == "sgemm":
        (M, K), N = args[0].shape, args[1].shape[1]
        return 2 * M * N * K
    if name.startswith("flash_attention"):
        q, k = args[0], args[1]
        BH = int(np.prod(q.shape[:-2]))
        T, D, S = q.shape[-2], q.shape[-1], k.shape[-2]
        fwd = 4 * BH * T * S * D * (0.5 if kwargs.get("causal") else 1.0)
        return fwd if name.endswith("fwd") else 2.5 * fwd     # bwd: 5 GEMMs to the forward's 2
    if name.startswith("conv2d"):
        x_shape = args[0].shape if name != "conv2d_bwd_input" else args[2]
        w_shape = args[1].shape if name != "conv2d_bwd_weight" else args[2]
        from tinygen_kernels.cuda_conv import geometry
        geo = geometry(tuple(x_shape), tuple(w_shape), *args[-4:])
        N, C, _, _, O, KH, KW, *_, G, OH, OW = geo.args
        return 2 * N * O * OH * OW * (C // G) * KH * KW
    return None


def torch_equivalent(torch, name, args, kwargs):
    """A zero-argument callable doing the same work in PyTorch CUDA, or None."""
    F = torch.nn.functional
    T = [torch.as_tensor(a, device="cuda") if hasattr(a, "__cuda_array_interface__") else a
         for a in args]
    if name == "softmax_fwd":
        return lambda: torch.softmax(T[0], -1)
    if name == "log_softmax_fwd":
        return lambda: torch.log_softmax(T[0], -1)
    if name == "layernorm_fwd":
        return lambda: F.layer_norm(T[0], (T[0].shape[-1],), T[1], T[2], T[3])
    if name == "gelu_fwd":
        return lambda: F.gelu(T[0], approximate=kwargs.get("approximate", "none"))
    if name == "silu_fwd":
        return lambda: F.silu(T[0])
    if name == "cross_entropy_fwd":
        return lambda: F.cross_entropy(T[0], T[1], reduction="none",
                                       ignore_index=kwargs.get("ignore_index", -100),
                                       label_smoothing=kwargs.get("label_smoothing", 0.0))
    if name == "sgemm":
        return lambda: torch.matmul(T[0], T[1])
    if name == "flash_attention_fwd":
        return lambda: F.scaled_dot_product_attention(T[0], T[1], T[2],
                                                      is_causal=kwargs.get("causal", False))
    if name == "conv2d_fwd":
        return lambda: F.conv2d(T[0], T[1], T[6] if len(T) > 6 else None, T[2], T[3], T[4], T[5])
    if name == "embedding_bwd":
        gy, idx, V = T[0], T[1], args[2]
        return lambda: torch.zeros(V, gy.shape[-1], device="cuda").index_add_(
            0, idx.reshape(-1), gy.reshape(-1, gy.shape[-1]))
    return None


def _to_device(cp, obj):
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(cp, o) for o in obj)
    return cp.asarray(obj) if isinstance(obj, np.ndarray) else obj


def _matches(cp, got, want, entry):
    got = tuple(got) if isinstance(got, (tuple, list)) else (got,)
    want = tuple(want) if isinstance(want, (tuple, list)) else (want,)
    for g, w in zip(got, want):
        g, w = cp.asnumpy(g).astype(np.float64), cp.asnumpy(w).astype(np.float64)
        if not np.allclose(g, w, rtol=entry.rtol * 10, atol=entry.atol * 10, equal_nan=True):
            return False
    return True


def kernel_cases(only):
    """(label, name, args, kwargs) on host arrays: each registry bench example with a CUDA
    implementation, and the 16-bit flash attention forward at issue 9's shape."""
    from tinygen_kernels import registry
    rng = np.random.default_rng(0)
    cases = []
    for name in sorted(registry.references()):
        if only and name not in only:
            continue
        if not any(dev == "cuda" for dev, _ in registry.kernels_for(name)):
            continue
        args, kwargs = registry.references()[name].example(rng, "bench")
        cases.append((name, name, args, kwargs))
        if name.startswith("flash_attention"):       # the 16-bit (tensor core) versions
            half = tuple(a.astype(np.float16) if a.ndim == 4 else a for a in args)   # lse stays
            cases.append((f"{name} fp16", name, half, kwargs))
    return cases


def run_kernels(cp, timer, ceiling, only):
    from tinygen_kernels import registry
    torch = _torch_cuda()
    rows = []
    for label, name, host_args, kwargs in kernel_cases(only):
        entry = registry.references()[name]
        args = _to_device(cp, host_args)
        in_place = name == "adam_step"          # updates its first argument (a list) in place
        ref_args = copy.deepcopy(args) if in_place else args
        ref_out = entry.reference(*ref_args, **kwargs)
        expected = ref_args[0] if in_place else ref_out
        ref_ms = timer(lambda: entry.reference(*args, **kwargs))
        flops = flop_count(name, args, kwargs)
        half = args[0].dtype == np.float16
        rate = ceiling["fp16_tflops" if half else "sgemm_tflops"]
        torch_fn = torch_equivalent(torch, name, args, kwargs) if torch is not None else None
        torch_ms = timer(torch_fn) if torch_fn is not None else None
        for (device, impl), fn in sorted(registry.kernels_for(name).items()):
            if device != "cuda":
                continue
            trial_args = copy.deepcopy(args) if in_place else args
            out = fn(*trial_args, **kwargs)
            if out is NotImplemented:
                rows.append([label, impl, "declined (reference runs)", "", "", "", ""])
                continue
            if not _matches(cp, trial_args[0] if in_place else out, expected, entry):
                rows.append([label, impl, "MISMATCH vs reference: not timed", "", "", "", ""])
                continue
            ms = timer(lambda: fn(*args, **kwargs))
            if name in MEMORY_BOUND:
                gbs = traffic_bytes(name, args, out if out is not None else ()) / ms / 1e6
                speed = f"{gbs:.0f} GB/s"
                share = f"{100 * gbs / ceiling['copy_gbs']:.0f}% of copy"
            elif flops:
                tflops = flops / ms / 1e9
                speed = f"{tflops:.1f} TFLOP/s"
                share = f"{100 * tflops / rate:.0f}% of {'FP16' if half else 'SGEMM'} cuBLAS"
            else:
                speed, share = "", ""
            rows.append([label, impl, f"{ms:.3f}", speed, share, f"{ref_ms / ms:.2f}x",
                         f"{torch_ms / ms:.2f}x" if torch_ms else "n/a"])
    return rows


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cp = require_gpu()
    timer = Timer(cp, args.repeats, args.warmup)
    ceiling = ceilings(cp, timer)

    def fmt(v, unit):
        return "n/a" if v is None else f"{v:.1f} {unit}"

    ceiling_rows = [["device-to-device copy", fmt(ceiling["copy_gbs"], "GB/s")],
                    ["cuBLAS SGEMM 4096^3 (cupy.matmul)", fmt(ceiling["sgemm_tflops"], "TFLOP/s")],
                    ["cuBLAS TF32 4096^3", fmt(ceiling["tf32_tflops"], "TFLOP/s")],
                    ["cuBLAS FP16 4096^3 (cupy.matmul)", fmt(ceiling["fp16_tflops"], "TFLOP/s")],
                    ["cuBLAS BF16 4096^3 (torch.matmul)", fmt(ceiling["bf16_tflops"], "TFLOP/s")]]
    rows = run_kernels(cp, timer, ceiling, args.only)
    command = ["tinygen", "bench", "kernels", "--device", "cuda"] + list(argv or [])
    text = "\n".join([
        "# GPU kernels: tinygen's CUDA kernels vs the reference (CuPy) vs PyTorch CUDA", "",
        machine_header(command), *device_lines(cp), "",
        f"Median of {args.repeats} repeats after {args.warmup} warm-up calls, L2 flushed before "
        "each, CUDA events around the call.", "",
        "## Ceilings (measured in this run)", "",
        markdown_table(["what", "rate"], ceiling_rows), "",
        "## Kernels", "",
        markdown_table(["kernel", "impl", "ms", "speed", "of the ceiling", "vs reference",
                        "vs PyTorch"], rows), "",
        "GB/s counts each argument read once and each result written once; speed-ups are "
        "reference time / kernel time (above 1: the kernel is faster).", ""])
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
