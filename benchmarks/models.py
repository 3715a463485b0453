"""Whole training steps, tinygen against the same model written in PyTorch, in one process.

Each case builds the model in both frameworks with the same shapes (weights loaded from the
PyTorch model, so both compute the same thing), then times forward + backward + optimiser step,
interleaved (a block of tinygen steps, then a block of PyTorch steps), medians over repeats.
Between blocks the process sleeps --settle seconds (0.2): a thread pool left spinning by one
framework's block otherwise competes with the next block of the other (OpenBLAS's workers spin
~0.1 s after a threaded product; before tinygen stopped calling BLAS threaded, that slowed
PyTorch's VAE step from 6.5 to 13.3 ms here, and PyTorch's pool slowed tinygen's the same way).
glibc's malloc keeps freed memory for reuse (tinygen/backend/memory.py), in this script as in
the `tinygen` command; TINYGEN_KEEP_FREED_MEMORY=0 leaves it at its defaults.
Peak memory: tracemalloc's peak of Python-visible allocations (NumPy arrays included) for tinygen,
and the same probe is not meaningful for PyTorch's C++ allocator, so its column is blank.

    python benchmarks/models.py                     # all cases; --cases vae,gpt to choose
    tinygen bench models                            # the same
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import write_markdown, write_ratio_chart  # noqa: E402
import tinygen  # noqa: E402
from tinygen.backend.memory import keep_freed_memory_unless_disabled  # noqa: E402
from tinygen_kernels import _threads  # noqa: E402


# ---- the four models, written once per framework -------------------------------------------------
def _wrapped(module, wrap):
    """module, or wrap(module) (benchmarks/distributed.py passes DistributedDataParallel)."""
    return module if wrap is None else wrap(module)


def vae_case(lib, nn, F, B=128, wrap=None):
    """pytorch/examples VAE: 784-400-20-400-784, BCE-with-logits summed + KL, Adam 1e-3."""
    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
            self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

        def forward(self, x, eps):
            h = F.relu(self.fc1(x))
            mu, logvar = self.fc21(h), self.fc22(h)
            z = mu + eps * (0.5 * logvar).exp()
            return self.fc4(F.relu(self.fc3(z))), mu, logvar

    model = _wrapped(VAE(), wrap)
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.random((B, 784), dtype=np.float32))
    eps = lib.tensor(rng.standard_normal((B, 20)).astype(np.float32))

    def loss_fn():
        recon, mu, logvar = model(x, eps)
        bce = F.binary_cross_entropy_with_logits(recon, x, reduction="sum")
        return bce - 0.5 * (1 + logvar - mu * mu - logvar.exp()).sum()
    return model, lib.optim.Adam(model.parameters(), lr=1e-3), loss_fn


def dcgan_case(lib, nn, F, B=64, nz=100, ngf=64, ndf=64, wrap=None):
    """DCGAN for 28x28 MNIST: one discriminator step and one generator step."""
    G = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 2, 7, 1, 0, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(),
        nn.ConvTranspose2d(ngf, 1, 4, 2, 1), nn.Sigmoid())
    D = nn.Sequential(
        nn.Conv2d(1, ndf, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * 2, 1, 7, 1, 0), nn.Flatten())
    G, D = _wrapped(G, wrap), _wrapped(D, wrap)
    model = nn.ModuleList([G, D])
    rng = np.random.default_rng(0)
    real = lib.tensor(rng.random((B, 1, 28, 28), dtype=np.float32))
    z = lib.tensor(rng.standard_normal((B, nz, 1, 1)).astype(np.float32))
    opt_d = lib.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = lib.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    ones, zeros = lib.ones(B, 1), lib.zeros(B, 1)

    def step():
        fake = G(z)
        loss_d = (F.binary_cross_entropy_with_logits(D(real), ones)
                  + F.binary_cross_entropy_with_logits(D(fake.detach()), zeros))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = F.binary_cross_entropy_with_logits(D(fake), ones)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    return model, None, step


def baby_gpt(lib, nn, F, T=64, C=128, H=4, L=4, V=65):
    """nanoGPT's CPU baby GPT (bias-free LayerNorm, tied head): model(idx, targets) -> loss for
    idx, targets (B, T). Also PyTorch's twin of the gpt recipe in gpt_torch.py."""
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(C, bias=False), nn.LayerNorm(C, bias=False)
            self.c_attn, self.attn_proj = nn.Linear(C, 3 * C, bias=False), nn.Linear(C, C, bias=False)
            self.c_fc, self.mlp_proj = nn.Linear(C, 4 * C, bias=False), nn.Linear(4 * C, C, bias=False)

        def forward(self, x):
            B = x.shape[0]
            q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
            q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.attn_proj(y.transpose(1, 2).contiguous().view(B, T, C))
            return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
            self.h = nn.ModuleList([Block() for _ in range(L)])
            self.ln_f = nn.LayerNorm(C, bias=False)

        def forward(self, idx, targets):
            x = self.wte(idx) + self.wpe(lib.arange(T))
            for b in self.h:
                x = b(x)
            logits = self.ln_f(x) @ self.wte.weight.t()
            return F.cross_entropy(logits.view(-1, V), targets.reshape(-1))

    return GPT()


def gpt_case(lib, nn, F, B=12, T=64, C=128, H=4, L=4, V=65, wrap=None):
    """nanoGPT's CPU baby GPT, AdamW + clipping."""
    model = _wrapped(baby_gpt(lib, nn, F, T, C, H, L, V), wrap)
    rng = np.random.default_rng(0)
    idx = lib.tensor(rng.integers(0, V, (B, T)))
    tgt = lib.tensor(rng.integers(0, V, (B, T)))
    opt = lib.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99))

    def step():
        loss = model(idx, tgt)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model, None, step


def realnvp_case(lib, nn, F, B=128, D=784, K=6, hidden=512):
    """6 affine couplings with alternating checkerboard masks, 2 hidden layers of 512, tanh scales."""
    masks = [lib.tensor(((np.add.outer(np.arange(28), np.arange(28)) + k) % 2 == 0)
                        .reshape(-1).astype(np.float32)) for k in range(K)]

    class Coupling(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(D, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                     nn.ReLU(), nn.Linear(hidden, 2 * D))
            self.scale = nn.Parameter(lib.ones(D))

    class RealNVP(nn.Module):
        def __init__(self):
            super().__init__()
            self.couplings = nn.ModuleList([Coupling() for _ in range(K)])

        def forward(self, x):
            logdet = 0
            for m, c in zip(masks, self.couplings):
                raw, t = c.net(x * m).chunk(2, dim=1)
                s = c.scale * raw.tanh() * (1 - m)
                x = x * m + (1 - m) * x * s.exp() + t * (1 - m)
                logdet = logdet + s.sum(1)
            return (0.5 * (x * x)).sum(1) - logdet

    model = RealNVP()
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((B, D)).astype(np.float32))
    return model, lib.optim.Adam(model.parameters(), lr=1e-3), lambda: model(x).mean()


def ddpm_case(lib, nn, F, B=64):
    """The ddpm recipe's class-conditional U-Net on 28x28 (channels 32, 64, 64, attention at
    7x7): the epsilon-prediction loss at given steps and noise, Adam 1e-3."""
    from unet_twin import denoising_step_inputs, linear_alpha_bars, unet
    model = unet(lib, nn, F)
    rng = np.random.default_rng(0)
    x0 = rng.random((B, 1, 28, 28), dtype=np.float32) * 2 - 1
    x_t, t, noise, labels = denoising_step_inputs(lib, x0, rng, linear_alpha_bars(),
                                                  labels=rng.integers(0, 10, B))
    return (model, lib.optim.Adam(model.parameters(), lr=1e-3),
            lambda: F.mse_loss(model(x_t, t, labels), noise))


def clip_case(lib, nn, F, B=256):
    """The clip recipe's step on 28x28 images: CNN 32-64-128, a 2-layer character Transformer
    (width 64) over 160 distinct captions, symmetric InfoNCE with label-aware targets, AdamW."""
    from clip_twin import clip_model, clip_step, clip_step_inputs
    model = clip_model(lib, nn, F)
    params = list(model.parameters())
    opt = lib.optim.AdamW([{"params": [p for p in params if p.ndim >= 2], "weight_decay": 0.05},
                           {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}],
                          lr=2e-3)
    return model, None, clip_step(lib, nn, F, model, opt, clip_step_inputs(lib, B))


CASES = {"vae": (vae_case, "pytorch/examples VAE, batch 128"),
         "dcgan": (dcgan_case, "DCGAN 28x28, batch 64 (D step + G step)"),
         "gpt": (gpt_case, "nanoGPT baby GPT, batch 12 x block 64"),
         "realnvp": (realnvp_case, "RealNVP 6 MLP couplings on 784-d, batch 128"),
         "ddpm": (ddpm_case, "diffusion U-Net 28x28 (32-64-64, attention), batch 64"),
         "clip": (clip_case, "CLIP: CNN + character Transformer, InfoNCE, batch 256")}


def _build(name, lib_name):
    if lib_name == "torch":
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        torch.manual_seed(0)
        return CASES[name][0](torch, nn, F)
    import tinygen as tg
    import tinygen.nn as nn
    import tinygen.nn.functional as F
    tg.manual_seed(0)
    return CASES[name][0](tg, nn, F)


def _step_fn(model, opt, loss_or_step):
    if opt is None:
        return loss_or_step

    def step():
        loss = loss_or_step()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def _captured(step):
    """tg.compile(step), warmed up until its plan is confirmed (two traces alike), or None
    with the reason when the step cannot be captured."""
    compiled = tinygen.compile(step)
    for _ in range(3):
        compiled()
    plans = list(compiled.plans.values())
    if not plans or not all(p is not None and p.confirmed for p in plans):
        return None, compiled.reason or "not confirmed"
    return compiled, ""


def _time_blocks(fns, repeats, number, settle):
    """Median seconds per call of each fn: blocks of `number` calls, the fns in turn."""
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            time.sleep(settle)
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            ts.append((time.perf_counter() - t0) / number)
    return [statistics.median(ts) for ts in times]


def run(names, repeats=7, number=3, settle=0.2):
    import torch
    rows = []
    for name in names:
        # each model starts in the thread mode of a fresh process (products on BLAS's threads
        # until a convolution splits: tinygen_kernels._threads.blas_alone), as in a run of its own
        _threads.reset_blas_alone()
        t_model, t_opt, t_fn = _build(name, "torch")
        g_model, g_opt, g_fn = _build(name, "tinygen")
        g_model.load_state_dict({k: v.detach().numpy() for k, v in t_model.state_dict().items()})
        step_t, step_g = _step_fn(t_model, t_opt, t_fn), _step_fn(g_model, g_opt, g_fn)
        t0 = time.perf_counter()
        step_g()                                  # first call: numba compiles (cached after)
        first = time.perf_counter() - t0
        step_g(), step_t(), step_t()
        step_c, why = _captured(step_g)
        fns = [step_g, step_t] + ([step_c] if step_c is not None else [])
        medians = [m * 1e3 for m in _time_blocks(fns, repeats, number, settle)]
        m_g, m_t = medians[:2]
        tracemalloc.start()
        step_g()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        if step_c is not None:
            captured = [f"{medians[2]:.1f}", f"{medians[2] / m_t:.2f}"]
        else:
            captured = ["eager: " + why, ""]
        rows.append([name, CASES[name][1], f"{m_g:.1f}", f"{m_t:.1f}", f"{m_g / m_t:.2f}",
                     *captured, f"{peak / 2**20:.0f}", f"{first * 1e3:.0f}"])
    return rows, torch.get_num_threads()


def main(argv=None):
    p = argparse.ArgumentParser(description="Training steps: tinygen vs PyTorch (CPU)")
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--number", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="PyTorch and BLAS threads")
    p.add_argument("--settle", type=float, default=0.2,
                   help="seconds of sleep before each block (see the module docstring)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "models_cpu.md"))
    args = p.parse_args(argv)
    # as the `tinygen` command does for every process it runs (tinygen/backend/memory.py), so
    # `python benchmarks/models.py` and `tinygen bench models` measure the same; both frameworks
    # share the setting (it is the process's)
    kept = keep_freed_memory_unless_disabled()
    import torch
    torch.set_num_threads(args.threads)
    try:
        import threadpoolctl
        threadpoolctl.threadpool_limits(args.threads)
    except ImportError:
        pass
    rows, threads = run(args.cases.split(","), args.repeats, args.number, args.settle)
    header = ["model", "step", "tinygen ms", "PyTorch ms", "ratio", "tg.compile ms",
              "tg.compile ratio", "tinygen peak MiB", "tinygen first step ms (compile)"]
    notes = (f"Medians over {args.repeats} repeats of {args.number} steps, interleaved in one "
             f"process, {args.settle} s of sleep before each block; PyTorch "
             f"{torch.__version__} eager with {threads} threads, BLAS limited to "
             f"{args.threads} threads. Both models start from the same weights (PyTorch's state dict "
             "loaded into tinygen). tg.compile: the same tinygen step captured (tg.compile) and "
             "replayed, timed in the same rotation of blocks (eager tinygen, PyTorch, captured). "
             "The first tinygen step, reported apart, includes numba "
             "compilation when the cache is cold. Each model starts in tinygen's thread mode of a "
             "fresh process (kernels/_threads.py, blas_alone). glibc's malloc "
             + ("kept freed memory for reuse (tinygen.backend.memory, as the `tinygen` command "
                "sets it; the same for both frameworks)." if kept else "at its defaults."))
    text = write_markdown(args.out, "Training step: tinygen vs PyTorch (CPU)", header, rows, notes,
                          ["python", "benchmarks/models.py"] + (argv if argv is not None else sys.argv[1:]))
    write_ratio_chart(os.path.splitext(args.out)[0] + ".png", [r[0] for r in rows],
                      [float(r[4]) for r in rows], "Training step, tinygen / PyTorch (CPU)",
                      "time ratio (below 1: tinygen faster)")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
