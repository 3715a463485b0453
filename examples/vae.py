"""A VAE on MNIST (Kingma & Welling 2014) with tinygen, in the shape of pytorch/examples' vae.

    python examples/vae.py --data-dir ../shared/data             # test NELBO ~106 nats after 10 epochs
    python examples/vae.py --conv --data-dir ../shared/data      # the convolutional variant
    python examples/vae.py --dry-run
"""
import argparse

import tinygen as tg
from tinygen.data import DataLoader, load
from tinygen.models.vae import VAE, VAEConfig, negative_elbo
from tinygen.train.plots import save_image_grid


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--conv", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="vae_samples.png")
    p.add_argument("--dry-run", action="store_true")
    return p.parse_args(argv)


def train(model, opt, loader, dry_run):
    model.train()
    total, n = 0.0, 0
    for step, (x, _) in enumerate(loader):
        recon, mu, logvar = model(x)
        loss = negative_elbo(recon, x, mu, logvar).sum()       # summed over the batch
        opt.zero_grad()
        loss.backward()
        opt.step()
        total, n = total + loss.item(), n + x.shape[0]
        if dry_run and step == 3:
            break
    return total / n


def test(model, dataset):
    model.eval()
    x = dataset.tensors[0]
    with tg.no_grad():
        recon, mu, logvar = model(x)
        return negative_elbo(recon, x, mu, logvar).mean().item()


def main(argv=None):
    args = parse_args(argv)
    tg.manual_seed(args.seed)
    name = "digits" if args.dry_run else "mnist"
    train_set, test_set = load(name, "train", root=args.data_dir), load(name, "test", root=args.data_dir)
    c, h, _ = train_set.tensors[0].shape[1:]
    model = VAE(VAEConfig(in_channels=c, image_size=h, conv=args.conv))
    opt = tg.optim.Adam(model.parameters(), lr=args.lr)
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    for epoch in range(1, (1 if args.dry_run else args.epochs) + 1):
        train_nelbo = train(model, opt, loader, args.dry_run)
        print(f"epoch {epoch}: train NELBO {train_nelbo:.2f}  test NELBO {test(model, test_set):.2f} nats/image")
    with tg.no_grad():
        save_image_grid(model.decode(tg.randn(64, model.config.latent)).sigmoid(), args.out)
    return test(model, test_set)


if __name__ == "__main__":
    main()
