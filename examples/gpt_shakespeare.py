"""A character-level GPT on tinyshakespeare with tinygen: nanoGPT's CPU "baby" config.

    python examples/gpt_shakespeare.py --data-dir ../shared/data     # val loss ~1.9 after 2000 iters
    python examples/gpt_shakespeare.py --dry-run                     # a few steps on this file's text
"""
import argparse
import time

import tinygen as tg
import tinygen.nn as nn
from tinygen.data import load
from tinygen.models.gpt import GPT, GPTConfig
from tinygen.train.recipes.text import lr_at


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--iters", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=12)
    p.add_argument("--block-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--eval-interval", type=int, default=250)
    p.add_argument("--eval-iters", type=int, default=200)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--dry-run", action="store_true")
    return p.parse_args(argv)


@tg.no_grad()
def estimate_loss(model, data, args, gen):
    model.eval()
    losses = [model(*data.get_batch(args.batch_size, args.block_size, gen))[1].item()
              for _ in range(args.eval_iters)]
    model.train()
    return sum(losses) / len(losses)


def main(argv=None):
    args = parse_args(argv)
    if args.dry_run:
        args.iters, args.eval_interval, args.eval_iters, args.block_size = 4, 2, 2, 16
    tg.manual_seed(args.seed)
    source = __file__ if args.dry_run else "tinyshakespeare"
    train, val = load(source, "train", root=args.data_dir), load(source, "val", root=args.data_dir)
    model = GPT(GPTConfig(vocab_size=train.vocab_size, block_size=args.block_size))
    decay = [p for p in model.parameters() if p.ndim >= 2]        # weight decay on 2-D weights only
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    opt = tg.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                          {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.99))
    gen = tg.backend.random.generator("cpu")
    t0 = time.perf_counter()
    for it in range(args.iters + 1):
        if it % args.eval_interval == 0:
            print(f"iter {it}: val loss {estimate_loss(model, val, args, gen):.4f}  "
                  f"({time.perf_counter() - t0:.0f}s)")
        if it == args.iters:
            break
        for group in opt.param_groups:
            group["lr"] = lr_at(it, args.lr, args.min_lr, 100, args.iters)
        _, loss = model(*train.get_batch(args.batch_size, args.block_size, gen))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    idx = model.generate(tg.tensor([train.encode("\n")]), 200, temperature=1.0)
    print(train.decode(idx[0].tolist()))
    return loss.item()


if __name__ == "__main__":
    main()
