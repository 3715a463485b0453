"""PyTorch's twin of tinygen's `gpt` recipe (nanoGPT's CPU baby config), for the training time
and validation loss beside tinygen's: the same model (pre-LayerNorm without bias, GELU MLP, tied
head, causal SDPA, nanoGPT's init), AdamW (0.9, 0.99) with weight decay 0.1 on 2-D weights only,
linear warm-up (100 steps) then cosine decay 1e-3 -> 1e-4 over 2000 steps, clipping at 1.0,
batch 12 x 64 characters drawn by tinygen's own loader (`WindowLoader`, seed 0 as the workbench
uses), and the validation loss as the recipe computes it (200 batches from generator 1234).

    python benchmarks/gpt_torch.py --data-dir ../shared/data
"""
import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import baby_gpt  # noqa: E402


def nanogpt(torch, nn, F, V, T=64, C=128, H=4, L=4):
    """(model, AdamW) of the gpt recipe: the baby GPT with nanoGPT's initialisation, weight decay
    0.1 on the 2-D weights only. Also the twin of benchmarks/runs_torch.py."""
    model = baby_gpt(torch, nn, F, T, C, H, L, V)
    for m in model.modules():                                   # nanoGPT's initialisation
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
    for name, prm in model.named_parameters():
        if name.endswith("proj.weight"):
            nn.init.normal_(prm, 0.0, 0.02 / math.sqrt(2 * L))
    decay = [q for q in model.parameters() if q.ndim >= 2]
    no_decay = [q for q in model.parameters() if q.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.99))
    return model, opt


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from tinygen.data import load
    from tinygen.train.recipes.text import WindowLoader, lr_at
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    train, val = (load("tinyshakespeare", s, root=args.data_dir) for s in ("train", "val"))
    V, B, T = len(train.vocab), 12, 64
    model, opt = nanogpt(torch, nn, F, V, T)
    loader = WindowLoader(train, B, T, args.steps, args.seed)
    t0 = time.perf_counter()
    for step, (x, y) in enumerate(loader):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, 1e-3, 1e-4, 100, args.steps)
        loss = model(torch.from_numpy(x.numpy()), torch.from_numpy(y.numpy()))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 250 == 0:
            print(f"step {step} loss {loss.item():.3f}", flush=True)
    train_s = time.perf_counter() - t0
    gen = np.random.Generator(np.random.PCG64(1234))
    with torch.no_grad():
        losses = [model(*(torch.from_numpy(a.numpy()) for a in val.get_batch(B, T, gen))).item()
                  for _ in range(200)]
    print(f"PyTorch {torch.__version__}, {args.threads} threads: {args.steps} steps in "
          f"{train_s:.1f} s; val loss {np.mean(losses):.4f} (200 batches)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
