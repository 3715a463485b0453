"""DCGAN (Radford et al. 2016) on MNIST with tinygen; --wgan-gp trains the WGAN-GP critic instead
(Gulrajani et al. 2017: the gradient penalty is a double backward through the convolutions), and
--mlp the plain MLP GAN.

    python examples/dcgan.py --data-dir ../shared/data --epochs 2
    python examples/dcgan.py --wgan-gp --data-dir ../shared/data --epochs 2
    python examples/dcgan.py --dry-run
"""
import argparse

import tinygen as tg
import tinygen.nn.functional as F
from tinygen.data import DataLoader, load
from tinygen.models.gan import (ConvDiscriminator, ConvGenerator, GANConfig, MLPDiscriminator,
                                MLPGenerator, gradient_penalty, init_dcgan_)
from tinygen.train.plots import save_image_grid


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--wgan-gp", action="store_true")
    p.add_argument("--mlp", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="gan_samples.png")
    p.add_argument("--dry-run", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    tg.manual_seed(args.seed)
    data = load("digits" if args.dry_run else "mnist", "train", root=args.data_dir)
    c, h, _ = data.tensors[0].shape[1:]
    cfg = GANConfig(in_channels=c, image_size=h, latent=64 if args.mlp else 100,
                    critic_batchnorm=not args.wgan_gp)
    if args.mlp:
        generator, critic = MLPGenerator(cfg), MLPDiscriminator(cfg)
    else:
        generator, critic = ConvGenerator(cfg), ConvDiscriminator(cfg)
        init_dcgan_(generator)
        init_dcgan_(critic)
    lr, betas = (1e-4, (0.5, 0.9)) if args.wgan_gp else (2e-4, (0.5, 0.999))
    opt_g = tg.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    opt_d = tg.optim.Adam(critic.parameters(), lr=lr, betas=betas)
    n_critic = 5 if args.wgan_gp else 1
    loader = DataLoader(data, batch_size=args.batch_size, shuffle=True, drop_last=True, seed=args.seed)
    for epoch in range(1, (1 if args.dry_run else args.epochs) + 1):
        for step, (real, _) in enumerate(loader):
            b = real.shape[0]
            fake = generator(tg.randn(b, cfg.latent)).detach()
            if args.wgan_gp:          # Wasserstein critic loss + lambda * gradient penalty
                loss_d = critic(fake).mean() - critic(real).mean() + 10 * gradient_penalty(critic, real, fake)
            else:                     # real -> 1, fake -> 0
                d_real, d_fake = critic(real), critic(fake)
                loss_d = (F.binary_cross_entropy_with_logits(d_real, tg.ones_like(d_real))
                          + F.binary_cross_entropy_with_logits(d_fake, tg.zeros_like(d_fake)))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            if step % n_critic == 0:
                d_gen = critic(generator(tg.randn(b, cfg.latent)))
                loss_g = -d_gen.mean() if args.wgan_gp else \
                    F.binary_cross_entropy_with_logits(d_gen, tg.ones_like(d_gen))   # non-saturating
                opt_g.zero_grad()
                loss_g.backward()
                opt_g.step()
            if step % 200 == 0:
                print(f"epoch {epoch} step {step}: loss_d {loss_d.item():.4f}  loss_g {loss_g.item():.4f}")
            if args.dry_run and step == 3:
                break
    generator.eval()
    with tg.no_grad():
        save_image_grid(generator(tg.randn(64, cfg.latent)), args.out)
    return loss_d.item()


if __name__ == "__main__":
    main()
