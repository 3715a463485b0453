"""examples/mnist_cnn.py for real: 3 epochs of MNIST with tinygen (test accuracy, seconds per
epoch), and the same network, loop and data order in PyTorch for the time per epoch, in one
process, one epoch each at a time, alternating.

    python benchmarks/mnist_cnn.py --data-dir ../shared/data
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "examples"))
from _report import write_markdown  # noqa: E402


def torch_cnn(torch):
    nn = torch.nn

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
            self.classifier = nn.Sequential(
                nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))

        def forward(self, x):
            return self.classifier(self.features((x - 0.1307) / 0.3081))
    return CNN()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.path.join(HERE, "..", "..", "shared", "data"))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=os.path.join(HERE, "results", "mnist_cnn.md"))
    args = p.parse_args(argv)

    import torch
    import tinygen as tg
    import tinygen.nn.functional as F
    from tinygen.data import DataLoader, load
    from mnist_cnn import CNN, evaluate
    torch.set_num_threads(args.threads)

    train, test = load("mnist", "train", root=args.data_dir), load("mnist", "test", root=args.data_dir)
    tg.manual_seed(0)
    torch.manual_seed(0)
    model, t_model = CNN(), torch_cnn(torch)
    opt = tg.optim.Adam(model.parameters(), lr=1e-3)
    t_opt = torch.optim.Adam(t_model.parameters(), lr=1e-3)
    loader = DataLoader(train, batch_size=64, shuffle=True, seed=0)
    steps = args.epochs * len(loader)
    sched = tg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    t_sched = torch.optim.lr_scheduler.CosineAnnealingLR(t_opt, T_max=steps)
    rows = []
    for epoch in range(1, args.epochs + 1):
        batches = [(x.numpy(), y.numpy()) for x, y in loader]     # one order for both frameworks
        t0 = time.perf_counter()
        for x, y in batches:
            loss = F.cross_entropy(model(tg.from_numpy(x)), tg.from_numpy(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        tg_s = time.perf_counter() - t0
        acc = evaluate(model, test)
        t0 = time.perf_counter()
        for x, y in batches:
            t_loss = torch.nn.functional.cross_entropy(t_model(torch.from_numpy(x)), torch.from_numpy(y))
            t_opt.zero_grad()
            t_loss.backward()
            t_opt.step()
            t_sched.step()
        th_s = time.perf_counter() - t0
        t_model.eval()
        with torch.no_grad():
            xt, yt = (torch.from_numpy(a.numpy()) for a in test.tensors)
            t_acc = (t_model(xt).argmax(1) == yt).float().mean().item()
        t_model.train()
        rows.append([epoch, f"{acc:.4f}", f"{tg_s:.1f}", f"{t_acc:.4f}", f"{th_s:.1f}",
                     f"{tg_s / th_s:.2f}"])
        print(rows[-1], flush=True)
    header = ["epoch", "tinygen test acc", "tinygen s/epoch", "PyTorch test acc", "PyTorch s/epoch",
              "time ratio"]
    notes = (f"The network, initialisation scheme, loop and batch order of examples/mnist_cnn.py "
             f"(Adam 1e-3, cosine decay over {args.epochs} epochs, batch 64), in tinygen and in "
             f"PyTorch {torch.__version__} ({args.threads} threads), epochs alternating in one "
             "process. The weights start from each framework's own default initialisation.")
    write_markdown(args.out, "MNIST CNN: tinygen vs PyTorch, time per epoch", header, rows, notes,
                   ["python", "benchmarks/mnist_cnn.py"] + (argv if argv is not None else sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
