"""PyTorch's twin of tinygen's `ddpm` recipe (the same U-Net, initial weights, noise schedule,
loss, label dropout, optimiser, EMA with warm-up, data order and DDIM sampler), for the quality
comparison: trains for --epochs on MNIST or Fashion-MNIST, then draws --n class-conditional
samples (labels 0, 1, ..., 9, 0, ... as `tinygen eval` asks for them) with 50 DDIM steps,
eta 0, guidance 2 and x0 clipping, and saves them as .npy for benchmarks/judge_samples.py.

    python benchmarks/ddpm_torch.py --data mnist --data-dir ../shared/data --epochs 4 \
        --out /tmp/torch_ddpm_mnist.npy
    python benchmarks/judge_samples.py runs/classifier /tmp/torch_ddpm_mnist.npy --labels 10

The initial weights are tinygen's: a tinygen UNet built with the seed, its state dict loaded into
the PyTorch module. The loss's draws (t, noise, dropped labels) come from NumPy, so they are
not the recipe's stream: same distribution, not the same numbers.
"""
import argparse
import math
import os
import sys
import time

import numpy as np

# torch and tinygen are imported inside the functions (lazily, on purpose): `--help` answers
# without loading either, and torch is a test/benchmark reference, never a dependency.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet_twin import denoising_step_inputs, linear_alpha_bars, unet  # noqa: E402


def initial_weights(seed, num_classes):
    """tinygen's initial U-Net weights (the recipe's model config for 28 x 28 images)."""
    import tinygen as tg
    from tinygen.models.unet import UNet, UNetConfig
    tg.manual_seed(seed)
    model = UNet(UNetConfig(in_channels=1, image_size=28, channels=(32, 64, 64),
                            num_classes=num_classes))
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


def ddim_sample(torch, model, alpha_bars, labels, steps=50, guidance=2.0, null=10, seed=0):
    """tinygen.models.diffusion.ddim_sample with eta 0 and x0 clipping, in PyTorch."""
    gen = torch.Generator().manual_seed(seed)
    times = np.linspace(0, len(alpha_bars) - 1, steps).round().astype(int)[::-1]
    x = torch.randn(len(labels), 1, 28, 28, generator=gen)
    for i, t in enumerate(times):
        ab = float(alpha_bars[t])
        ab_prev = float(alpha_bars[times[i + 1]]) if i + 1 < len(times) else 1.0
        ts = torch.full((2 * len(labels),), int(t), dtype=torch.int64)
        both = model(torch.cat([x, x]), ts, torch.cat([labels, torch.full_like(labels, null)]))
        eps_y, eps_null = both.chunk(2)
        eps = eps_null + (eps_y - eps_null) * guidance
        x0 = ((x - eps * math.sqrt(1 - ab)) / math.sqrt(ab)).clamp(-1, 1)
        eps = (x - x0 * math.sqrt(ab)) / math.sqrt(1 - ab)          # the noise x0 implies
        x = x0 * math.sqrt(ab_prev) + eps * math.sqrt(1 - ab_prev)
    return ((x + 1) / 2).clamp(0, 1)


def train(torch, model, ema, loader, epochs, rng, alpha_bars):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    step, t0 = 0, time.perf_counter()
    for epoch in range(epochs):
        for x, y in loader:
            x_t, t, noise, labels = denoising_step_inputs(torch, x.numpy() * 2 - 1, rng,
                                                          alpha_bars, 0.1, y.numpy(), 10)
            loss = torch.nn.functional.mse_loss(model(x_t, t, labels), noise)
            opt.zero_grad()
            loss.backward()
            opt.step()
            d = min(0.999, (1 + step) / (10 + step))                 # the recipe's EMA warm-up
            with torch.no_grad():
                for p, s in zip(model.parameters(), ema.parameters()):
                    s.mul_(d).add_(p.detach() * (1 - d))
            step += 1
            if step % 100 == 0:
                print(f"step {step} loss {loss.item():.4f} ({time.perf_counter() - t0:.0f}s)",
                      flush=True)
    return step, time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="mnist", choices=("mnist", "fashion-mnist"))
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--out", default="torch_ddpm_samples.npy")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from tinygen.data import DataLoader, load
    torch.manual_seed(args.seed)
    model, ema = unet(torch, nn, F), unet(torch, nn, F)
    weights = {k: torch.from_numpy(v) for k, v in initial_weights(args.seed, 10).items()}
    model.load_state_dict(weights)
    ema.load_state_dict(weights)
    loader = DataLoader(load(args.data, "train", root=args.data_dir), batch_size=64, shuffle=True,
                        seed=args.seed)
    steps, seconds = train(torch, model, ema, loader, args.epochs, np.random.default_rng(args.seed),
                           linear_alpha_bars())
    print(f"trained {steps} steps in {seconds:.0f}s", flush=True)
    ema.eval()
    t0 = time.perf_counter()
    labels = torch.arange(args.n) % 10
    with torch.no_grad():
        images = torch.cat([ddim_sample(torch, ema, linear_alpha_bars(), labels[i:i + 250],
                                        seed=args.seed + i) for i in range(0, args.n, 250)])
    np.save(args.out, images.numpy().astype(np.float32))
    print(f"{args.n} samples in {time.perf_counter() - t0:.0f}s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
