"""Train a LeNet-style CNN on MNIST with tinygen's Python API: 99% test accuracy in 3 epochs.

    python examples/mnist_cnn.py --data-dir ../shared/data
    python examples/mnist_cnn.py --dry-run                        # a few steps on the offline digits
"""
import argparse
import time

import tinygen as tg
import tinygen.nn as nn
import tinygen.nn.functional as F
from tinygen.data import DataLoader, load


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dry-run", action="store_true", help="a few steps on the offline digits")
    return p.parse_args(argv)


class CNN(nn.Module):
    def __init__(self, side=28, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),      # (B, 32, H/2, W/2)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))     # (B, 64, H/4, W/4)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * (side // 4) ** 2, 128), nn.ReLU(), nn.Dropout(0.25),
            nn.Linear(128, classes))

    def forward(self, x):                       # (B, 1, H, W) -> (B, classes) logits
        x = (x - 0.1307) / 0.3081               # MNIST's pixel mean and std
        return self.classifier(self.features(x))


def evaluate(model, dataset, batch_size=1000):
    model.eval()
    x, y = dataset.tensors
    correct = 0
    with tg.no_grad():
        for i in range(0, len(y), batch_size):
            correct += (model(x[i:i + batch_size]).argmax(dim=1) == y[i:i + batch_size]).sum().item()
    model.train()
    return correct / len(y)


def main(argv=None):
    args = parse_args(argv)
    tg.manual_seed(args.seed)
    name = "digits" if args.dry_run else "mnist"
    train, test = load(name, "train", root=args.data_dir), load(name, "test", root=args.data_dir)
    model = CNN(side=train.tensors[0].shape[-1])
    opt = tg.optim.Adam(model.parameters(), lr=args.lr)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    epochs = 1 if args.dry_run else args.epochs
    schedule = tg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(loader))
    for epoch in range(epochs):
        t0 = time.perf_counter()
        for step, (x, y) in enumerate(loader):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            if args.dry_run and step == 5:
                break
        seconds = time.perf_counter() - t0
        acc = evaluate(model, test)
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}  test accuracy {acc:.4f}  ({seconds:.1f}s)")
    return acc


if __name__ == "__main__":
    main()
