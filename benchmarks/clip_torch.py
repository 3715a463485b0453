"""PyTorch's twin of tinygen's `clip` recipe, for the zero-shot accuracy and training time beside
tinygen's: the same model (benchmarks/clip_twin.py), the same batches (tinygen's DataLoader,
seed 0, as the workbench uses), the same captions (tinygen/data/captions.py, drawn from the
stream seeded by (seed, step)), AdamW 2e-3 with weight decay 0.05 on matrices and kernels,
cosine decay to 0 per step, label-aware InfoNCE, the log-scale clamped at ln 100; then zero-shot
accuracy on the test set with the prompt ensemble, as `tinygen eval` computes it.

    python benchmarks/clip_torch.py --data mnist --data-dir ../shared/data
"""
import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_twin import clip_model, info_nce  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="mnist")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from tinygen.data import DataLoader, load
    from tinygen.data.captions import CaptionSet
    from tinygen.models.clip import CharTokenizer
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    train, test = (load(args.data, s, root=args.data_dir) for s in ("train", "test"))
    pixels = train.tensors[0]
    mean, std = round(pixels.mean().item(), 4), round(pixels.std().item(), 4)
    captions, tokenizer = CaptionSet(args.data), CharTokenizer()
    tokens = tokenizer.encode(captions.flat, captions.max_chars)
    model = clip_model(torch, nn, F, vocab_size=tokenizer.vocab_size,
                       max_len=captions.max_chars)
    params = list(model.parameters())
    opt = torch.optim.AdamW([{"params": [q for q in params if q.ndim >= 2], "weight_decay": 0.05},
                             {"params": [q for q in params if q.ndim < 2], "weight_decay": 0.0}],
                            lr=2e-3)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    total = args.epochs * len(loader)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    step, t0 = 0, time.perf_counter()
    for epoch in range(args.epochs):
        for x, y in loader:
            labels = y.numpy()
            ids = captions.sample(labels, np.random.default_rng([args.seed, step]))
            unique, where = np.unique(ids, return_inverse=True)
            text = model.text_projection(model.text_encoder(torch.from_numpy(tokens[unique])))
            text = text.index_select(0, torch.from_numpy(where.reshape(-1)))
            image = model.image_projection(model.image_encoder(
                (torch.from_numpy(x.numpy()) - mean) / std))
            targets = torch.from_numpy((labels[:, None] == labels[None, :]).astype(np.float32))
            loss = info_nce(torch, F, image, text, model.logit_scale, targets)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            with torch.no_grad():
                model.logit_scale.clamp_(max=math.log(100))
            step += 1
            if step % 100 == 0:
                print(f"step {step}/{total} loss {loss.item():.3f}", flush=True)
    train_s = time.perf_counter() - t0
    print(f"PyTorch {torch.__version__}, {args.threads} threads: {step} steps in {train_s:.1f} s; "
          f"zero_shot_acc {zero_shot(torch, F, model, test, captions, tokenizer, mean, std):.4f}")
    return 0


def zero_shot(torch, F, model, test, captions, tokenizer, mean, std):
    """Accuracy of the prompt-ensemble classifier (every training template of each class)."""
    model.eval()
    prompts = captions.ensemble()
    K, P = len(prompts), len(prompts[0])
    with torch.no_grad():
        tokens = torch.from_numpy(tokenizer.encode([q for ps in prompts for q in ps],
                                                   captions.max_chars))
        text = F.normalize(model.text_projection(model.text_encoder(tokens)), dim=1)
        weights = F.normalize(text.reshape(K, P, -1).mean(dim=1), dim=1)
        x, y = test.tensors
        x = (torch.from_numpy(x.numpy()) - mean) / std
        correct = 0
        for i in range(0, len(x), 1000):
            image = F.normalize(model.image_projection(model.image_encoder(x[i:i + 1000])), dim=1)
            correct += int(((image @ weights.T).argmax(dim=1).numpy()
                            == y.numpy()[i:i + 1000]).sum())
    return correct / len(x)


if __name__ == "__main__":
    sys.exit(main())
