"""PyTorch's DCGAN with tinygen's `dcgan` recipe (same shapes, init, losses, optimiser, data order),
for the quality comparison: trains for --epochs on MNIST and saves samples as .npy, which
`benchmarks/judge_samples.py` scores with tinygen's own trained classifier.

    python benchmarks/dcgan_torch.py --data-dir ../shared/data --out /tmp/torch_dcgan.npy
"""
import argparse
import os
import sys
import time

import numpy as np

from tinygen.data import DataLoader, load


def dcgan_models(nn, nz, w=64):
    """The dcgan recipe's generator and discriminator for 28x28 images (latent nz, base width w),
    with Radford et al.'s initialisation. Also the twin of benchmarks/runs_torch.py."""
    G = nn.Sequential(nn.Unflatten(1, (nz, 1, 1)),
                      nn.ConvTranspose2d(nz, 2 * w, 7, 1, 0, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(),
                      nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                      nn.ConvTranspose2d(w, 1, 4, 2, 1), nn.Sigmoid())
    D = nn.Sequential(nn.Conv2d(1, w, 4, 2, 1), nn.LeakyReLU(0.2),
                      nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
                      nn.Conv2d(2 * w, 1, 7, 1, 0), nn.Flatten())
    for m in list(G.modules()) + list(D.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return G, D


def dcgan_step(torch, F, G, D, opt_d, opt_g, real, nz):
    """The recipe's step: the discriminator on real and on generated images (fresh noise), then
    the generator on new noise (non-saturating loss). Returns (loss_d, loss_g, the number of
    the 2B images the discriminator got right)."""
    b = real.shape[0]
    fake = G(torch.randn(b, nz)).detach()
    d_real, d_fake = D(real).squeeze(1), D(fake).squeeze(1)
    loss_d = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
              + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    right = (d_real > 0).float().sum() + (d_fake < 0).float().sum()
    d_gen = D(G(torch.randn(b, nz))).squeeze(1)
    loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return loss_d, loss_g, right


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--out", default="torch_dcgan_samples.npy")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    import torch                     # lazy: PyTorch is a benchmark-only dependency
    import torch.nn as nn            # lazy: as torch
    import torch.nn.functional as F  # lazy: as torch
    torch.manual_seed(args.seed)
    nz = 100
    G, D = dcgan_models(nn, nz)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loader = DataLoader(load("mnist", "train", root=args.data_dir), batch_size=64, shuffle=True,
                        drop_last=True, seed=args.seed)
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        for real, _ in loader:
            loss_d, loss_g, _ = dcgan_step(torch, F, G, D, opt_d, opt_g,
                                           torch.from_numpy(real.numpy()), nz)
        print(f"epoch {epoch + 1}: loss_d {loss_d.item():.3f} loss_g {loss_g.item():.3f} "
              f"({time.perf_counter() - t0:.0f}s)", flush=True)
    G.eval()
    with torch.no_grad():
        np.save(args.out, G(torch.randn(args.n, nz)).numpy().astype(np.float32))
    return 0


if __name__ == "__main__":
    sys.exit(main())
