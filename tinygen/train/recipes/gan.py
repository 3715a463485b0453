"""Training recipes of the GANs (`gan`, `dcgan`, `wgan-gp`; the models are tinygen/models/gan.py).

- gan, dcgan: the non-saturating loss (BCE with logits against ones and zeros), one
  discriminator step then one generator step, Adam(lr, 0.5, 0.999); the log has the
  discriminator's accuracy on each batch (acc_d) beside the two losses.
- wgan-gp: the Wasserstein loss plus the gradient penalty, n_critic = 5 critic steps per
  generator step, Adam(1e-4, 0.5, 0.9).
There is no likelihood to evaluate: `tinygen eval --set classifier=RUN` (or the same --set while
training) scores samples with a trained classifier (tinygen/train/judge.py).
"""
from __future__ import annotations

import tinygen as tg
from ...models.gan import (ConvDiscriminator, ConvGenerator, GANConfig, MLPDiscriminator,
                           MLPGenerator, gradient_penalty, init_dcgan_)
from ...nn import functional as F
from ..errors import UsageError
from ..judge import describe_judge, judge_samples
from .base import IMAGE_SIZE, Option, Recipe, replace_defaults


class GANRecipe(Recipe):
    name = "gan"
    conv = False
    wasserstein = False
    data_kinds = ("image",)
    defaults = {"epochs": 20, "batch_size": 64, "lr": 2e-4}
    drop_last = True
    betas = (0.5, 0.999)
    options = (Option("latent", int, 64, "dimensions of the generator's noise z",
                      bounds="[1, inf)"),
               Option("width", int, 64, "base channels (conv) or hidden units / 4 (MLP)",
                      bounds="[1, inf)"),
               Option("n_critic", int, 1, "discriminator steps per generator step",
                      bounds="[1, inf)"),
               Option("gp_weight", float, 10.0, "weight of the gradient penalty (wgan-gp)",
                      bounds="[0, inf)"),
               Option("classifier", str, None, "a trained classifier's run folder: judge "
                      "samples with it at each epoch and at `tinygen eval`"),
               IMAGE_SIZE)

    def __init__(self, run, data):
        super().__init__(run, data)
        c, h, _ = data.shape
        self.config = GANConfig(in_channels=c, image_size=h, conv=self.conv,
                                latent=self.option("latent"), width=self.option("width"),
                                critic_batchnorm=not self.wasserstein)
        if self.conv:
            try:
                self.generator = ConvGenerator(self.config)
                self.discriminator = ConvDiscriminator(self.config)
            except ValueError as e:          # a side the strided convolutions cannot halve
                raise UsageError(f"--data {data.name}: {e}") from None
            init_dcgan_(self.generator)
            init_dcgan_(self.discriminator)
        else:
            self.generator, self.discriminator = MLPGenerator(self.config), MLPDiscriminator(self.config)
        self.modules = {"generator": self.generator, "discriminator": self.discriminator}
        lr = self.setting("lr")
        self.optimizers = {
            "generator": tg.optim.Adam(self.generator.parameters(), lr=lr, betas=self.betas),
            "discriminator": tg.optim.Adam(self.discriminator.parameters(), lr=lr, betas=self.betas)}
        self.n_critic = self.option("n_critic")
        self.gp_weight = self.option("gp_weight")
        self._last_loss_g = float("nan")       # logged on the critic-only steps of wgan-gp
        self._d_step = self.captured(self._discriminator_step)
        self._g_step = self.captured(self._generator_step)

    def noise(self, n):
        return tg.randn(n, self.config.latent, device=self.device)         # (n, latent)

    def train_step(self, batch, step):
        real = batch[0]
        metrics = {k: v.item() for k, v in self._d_step(real).items()}
        if "right" in metrics:
            # the discriminator's accuracy on this batch: real called real (logit > 0) and fake
            # called fake, over the 2B images; 0.5 is a discriminator the generator fools
            metrics["acc_d"] = metrics.pop("right") / (2 * real.shape[0])
        if step % self.n_critic == 0:          # the generator, every n_critic steps
            self._last_loss_g = self._g_step(real).item()
        metrics["loss_g"] = self._last_loss_g
        return metrics

    def _discriminator_step(self, real):
        opt = self.optimizers["discriminator"]
        fake = self.generator(self.noise(real.shape[0])).detach()
        d_real, d_fake = self.discriminator(real), self.discriminator(fake)    # (B,) each
        if self.wasserstein:
            gp = gradient_penalty(self.discriminator, real, fake)
            loss = d_fake.mean() - d_real.mean() + self.gp_weight * gp
        else:
            loss = (F.binary_cross_entropy_with_logits(d_real, tg.ones_like(d_real))
                    + F.binary_cross_entropy_with_logits(d_fake, tg.zeros_like(d_fake)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if self.wasserstein:
            return {"loss_d": loss, "gp": gp}
        return {"loss_d": loss, "right": (d_real > 0).float().sum() + (d_fake < 0).float().sum()}

    def _generator_step(self, real):
        """The generator's update, for a batch the size of `real`."""
        opt = self.optimizers["generator"]
        d_gen = self.discriminator(self.generator(self.noise(real.shape[0])))
        if self.wasserstein:
            loss = -d_gen.mean()
        else:                                  # non-saturating: maximise log D(G(z))
            loss = F.binary_cross_entropy_with_logits(d_gen, tg.ones_like(d_gen))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    def sample(self, n):
        return self.generator(self.noise(n))                               # (n, C, H, W)

    def evaluate(self, test, require_judge=False, samples=2000):
        """The judge's scores of `samples` samples, when a classifier run is set (else none, or,
        at `tinygen eval`, a usage error: a GAN has no likelihood to report)."""
        path = self.option("classifier")
        if not path:
            if require_judge:
                raise UsageError(f"tinygen eval: a {self.name} is scored by a trained classifier "
                                 "of the same data: pass --set classifier=RUN (a folder of "
                                 "`tinygen train classifier`)")
            return {}
        return judge_samples(self.sample, test, path, n=samples, device=self.device)

    def eval_options(self):
        return {"require_judge": True}

    def eval_info(self, test):
        return {"split": "test", "samples": 2000, "real_images": min(2000, len(test)),
                "judge": describe_judge(self.option("classifier"))}


class DCGANRecipe(GANRecipe):
    name = "dcgan"
    conv = True
    options = replace_defaults(GANRecipe.options, latent=100)
    defaults = {"epochs": 2, "batch_size": 64, "lr": 2e-4}


class WGANGPRecipe(GANRecipe):
    name = "wgan-gp"
    conv = True
    wasserstein = True
    defaults = {"epochs": 2, "batch_size": 64, "lr": 1e-4}
    betas = (0.5, 0.9)
    options = replace_defaults(GANRecipe.options, latent=100, n_critic=5)
