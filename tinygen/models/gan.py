"""GANs on images: an MLP GAN (Goodfellow et al. 2014), DCGAN (Radford et al. 2016) and WGAN-GP
(Gulrajani et al. 2017), sharing one recipe.

- `gan`: MLP generator and discriminator, non-saturating loss (BCE with logits).
- `dcgan`: transposed convolutions + batch norm + ReLU in the generator, strided convolutions +
  LeakyReLU(0.2) in the discriminator (batch norm after the first layer), Adam(2e-4, 0.5, 0.999).
- `wgan-gp`: the DCGAN shapes with a critic without batch norm, the Wasserstein loss, and the
  gradient penalty lambda * (||grad_x D(x_hat)|| - 1)^2 on random interpolates: a double backward
  through the critic's convolutions. n_critic = 5, Adam(1e-4, 0.5, 0.9).
Images are in [0, 1]: the generator ends in a sigmoid.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import nn
from ..nn import functional as F
from ..train.recipe import Recipe


@dataclass(frozen=True)
class GANConfig:
    in_channels: int = 1
    image_size: int = 28
    latent: int = 64
    width: int = 64          # base channels (conv) or hidden units / 4 (MLP)
    conv: bool = True
    critic_batchnorm: bool = True


class MLPGenerator(nn.Module):
    def __init__(self, c: GANConfig):
        super().__init__()
        d = c.in_channels * c.image_size * c.image_size
        h = 4 * c.width
        self.net = nn.Sequential(
            nn.Linear(c.latent, h), nn.LeakyReLU(0.2), nn.Linear(h, 2 * h), nn.LeakyReLU(0.2),
            nn.Linear(2 * h, d), nn.Sigmoid(), nn.Unflatten(1, (c.in_channels, c.image_size, c.image_size)))

    def forward(self, z):
        return self.net(z)                       # (B, latent) -> (B, C, H, W)


class MLPDiscriminator(nn.Module):
    def __init__(self, c: GANConfig):
        super().__init__()
        d = c.in_channels * c.image_size * c.image_size
        h = 4 * c.width
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(d, 2 * h), nn.LeakyReLU(0.2), nn.Linear(2 * h, h),
            nn.LeakyReLU(0.2), nn.Linear(h, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)            # (B, C, H, W) -> (B,) logits


class ConvGenerator(nn.Module):
    """z -> (2w, H/4, W/4) -> (w, H/2, W/2) -> (C, H, W); H divisible by 4 (28 or 8)."""

    def __init__(self, c: GANConfig):
        super().__init__()
        w, side = c.width, c.image_size // 4
        self.net = nn.Sequential(
            nn.Unflatten(1, (c.latent, 1, 1)),
            nn.ConvTranspose2d(c.latent, 2 * w, side, 1, 0, bias=False),   # (B, 2w, H/4, W/4)
            nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False),             # (B, w, H/2, W/2)
            nn.BatchNorm2d(w), nn.ReLU(),
            nn.ConvTranspose2d(w, c.in_channels, 4, 2, 1),                 # (B, C, H, W)
            nn.Sigmoid())

    def forward(self, z):
        return self.net(z)


class ConvDiscriminator(nn.Module):
    def __init__(self, c: GANConfig):
        super().__init__()
        w, side = c.width, c.image_size // 4
        norm = nn.BatchNorm2d(2 * w) if c.critic_batchnorm else nn.Identity()
        self.net = nn.Sequential(
            nn.Conv2d(c.in_channels, w, 4, 2, 1), nn.LeakyReLU(0.2),        # (B, w, H/2, W/2)
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=not c.critic_batchnorm),      # (B, 2w, H/4, W/4)
            norm, nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 1, side, 1, 0), nn.Flatten())                  # (B, 1)

    def forward(self, x):
        return self.net(x).squeeze(1)            # (B,) logits or critic values


def init_dcgan_(module):
    """Radford et al.: conv weights N(0, 0.02), batch-norm weights N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def gradient_penalty(critic, real, fake):
    """E[(||grad D(x_hat)||_2 - 1)^2] with x_hat on random lines between real and fake samples."""
    import tinygen as tg
    alpha = tg.rand(real.shape[0], 1, 1, 1)
    x_hat = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
    (grad,) = tg.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norm = (grad.flatten(1).square().sum(1) + 1e-12).sqrt()
    return ((norm - 1) ** 2).mean()


class GANRecipe(Recipe):
    name = "gan"
    conv = False
    wasserstein = False
    data_kinds = ("image",)
    defaults = {"epochs": 20, "batch_size": 64, "lr": 2e-4}
    drop_last = True
    betas = (0.5, 0.999)

    def __init__(self, run, data):
        super().__init__(run, data)
        import tinygen as tg
        c, h, _ = data.shape
        self.config = GANConfig(in_channels=c, image_size=h, conv=self.conv,
                                latent=self.option("latent", 100 if self.conv else 64),
                                width=self.option("width", 64),
                                critic_batchnorm=not self.wasserstein)
        if self.conv:
            self.generator, self.discriminator = ConvGenerator(self.config), ConvDiscriminator(self.config)
            init_dcgan_(self.generator)
            init_dcgan_(self.discriminator)
        else:
            self.generator, self.discriminator = MLPGenerator(self.config), MLPDiscriminator(self.config)
        self.modules = {"generator": self.generator, "discriminator": self.discriminator}
        lr = self.setting("lr")
        self.optimizers = {
            "generator": tg.optim.Adam(self.generator.parameters(), lr=lr, betas=self.betas),
            "discriminator": tg.optim.Adam(self.discriminator.parameters(), lr=lr, betas=self.betas)}
        self.n_critic = self.option("n_critic", 5 if self.wasserstein else 1)
        self.gp_weight = self.option("gp_weight", 10.0)

    def noise(self, n):
        import tinygen as tg
        return tg.randn(n, self.config.latent)

    def train_step(self, batch, step):
        real = batch[0]
        b = real.shape[0]
        opt_d, opt_g = self.optimizers["discriminator"], self.optimizers["generator"]
        # discriminator / critic
        fake = self.generator(self.noise(b)).detach()
        d_real, d_fake = self.discriminator(real), self.discriminator(fake)
        if self.wasserstein:
            gp = gradient_penalty(self.discriminator, real, fake)
            loss_d = d_fake.mean() - d_real.mean() + self.gp_weight * gp
        else:
            import tinygen as tg
            loss_d = (F.binary_cross_entropy_with_logits(d_real, tg.ones_like(d_real))
                      + F.binary_cross_entropy_with_logits(d_fake, tg.zeros_like(d_fake)))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        metrics = {"loss_d": loss_d.item()}
        if self.wasserstein:
            metrics["gp"] = gp.item()
        # generator, every n_critic steps
        if step % self.n_critic == 0:
            d_gen = self.discriminator(self.generator(self.noise(b)))
            if self.wasserstein:
                loss_g = -d_gen.mean()
            else:
                import tinygen as tg
                loss_g = F.binary_cross_entropy_with_logits(d_gen, tg.ones_like(d_gen))  # non-saturating
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            self._last_g = loss_g.item()
        metrics["loss_g"] = getattr(self, "_last_g", float("nan"))
        return metrics

    def sample(self, n):
        return self.generator(self.noise(n))

    def evaluate(self, test):
        path = self.run.options.get("classifier")
        if not path:
            return {}
        from .judge import judge_samples
        return judge_samples(self, test, path)


class DCGANRecipe(GANRecipe):
    name = "dcgan"
    conv = True
    defaults = {"epochs": 2, "batch_size": 64, "lr": 2e-4}


class WGANGPRecipe(GANRecipe):
    name = "wgan-gp"
    conv = True
    wasserstein = True
    defaults = {"epochs": 2, "batch_size": 64, "lr": 1e-4}
    betas = (0.5, 0.9)
