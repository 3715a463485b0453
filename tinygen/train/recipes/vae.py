"""Training recipes of the VAEs (`vae`, `conv-vae`; the model is tinygen/models/vae.py).

Adam(1e-3) on the negative ELBO summed over the batch, as pytorch/examples; `tinygen eval` adds
the importance-weighted bound (`--set iw_samples=K`, 64 by default; the reported figures use
5000) and the reconstruction's PSNR and SSIM to the test ELBO.
"""
from __future__ import annotations

import numpy as np

import tinygen as tg
from ...metrics import iwae_bound, psnr, ssim
from ...models.vae import VAE, VAEConfig, importance_log_weights, negative_elbo
from ..errors import UsageError
from .base import IMAGE_SIZE, Option, Recipe


class VAERecipe(Recipe):
    name = "vae"
    conv = False
    data_kinds = ("image",)
    defaults = {"epochs": 10, "batch_size": 128, "lr": 1e-3}
    loss_reduction = "sum"             # the negative ELBO summed over the batch
    options = (Option("hidden", int, 400, "units of the encoder's and decoder's hidden layer",
                      bounds="[1, inf)"),
               Option("latent", int, 20, "dimensions of the latent code z", bounds="[1, inf)"),
               Option("width", int, 32, "channels of the first conv (conv-vae; the second has "
                      "twice as many)", bounds="[1, inf)"),
               Option("iw_samples", int, 64, "importance samples K of the IWAE bound that "
                      "`tinygen eval` adds (0: none)", bounds="[0, inf)"),
               IMAGE_SIZE)

    def __init__(self, run, data):
        super().__init__(run, data)
        c, h, _ = data.shape
        self.config = VAEConfig(in_channels=c, image_size=h, conv=self.conv,
                                hidden=self.option("hidden"), latent=self.option("latent"),
                                width=self.option("width"))
        try:
            self.model = VAE(self.config)
        except ValueError as e:              # a side the strided convolutions cannot halve
            raise UsageError(f"--data {data.name}: {e}") from None
        self.modules = {"vae": self.model}
        self.optimizers = {"adam": tg.optim.Adam(self.model.parameters(), lr=self.setting("lr"))}

    def train_step(self, batch, step):
        return {"nelbo": self._step(batch[0]).item() / batch[0].shape[0]}

    def _update(self, x):
        opt = self.optimizers["adam"]
        recon, mu, logvar = self.model(x)
        loss = negative_elbo(recon, x, mu, logvar).sum()      # summed over the batch, as pytorch/examples
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    def evaluate(self, test, iw_samples=0, reconstruction=False, batch_size=500):
        """test_nelbo_nats (per image); with iw_samples = K > 0 also test_iw_nll_nats, the
        importance-weighted bound with K samples (Burda et al. 2016, log-sum-exp in float64),
        tighter than the ELBO; with reconstruction, recon_psnr and recon_ssim of the decoded
        posterior means against the test images (data range 1)."""
        # batches gathered one at a time: a colour test split (CelebA: 19,962 pictures of 64 px)
        # stays uint8 on disk until its batch is taken
        n = len(test)
        sums = {"test_nelbo_nats": 0.0, "test_iw_nll_nats": 0.0, "recon_psnr": 0.0,
                "recon_ssim": 0.0}
        for i in range(0, n, batch_size):
            x = test.take(slice(i, i + batch_size))[0].to(self.device)
            recon, mu, logvar = self.model(x)
            sums["test_nelbo_nats"] += negative_elbo(recon, x, mu, logvar).sum().item()
            if iw_samples:
                log_w = importance_log_weights(self.model, x, iw_samples)       # (B, K)
                sums["test_iw_nll_nats"] += float(iwae_bound(log_w).sum())
            if reconstruction:
                mean = self.model.decode(mu).sigmoid()                          # (B, C, H, W)
                sums["recon_psnr"] += float(np.sum(psnr(x, mean, data_range=1.0)))
                sums["recon_ssim"] += float(np.sum(ssim(x, mean, data_range=1.0,
                                                        win_size=self.ssim_window)))
        keep = ["test_nelbo_nats"] + (["test_iw_nll_nats"] if iw_samples else []) + (
            ["recon_psnr", "recon_ssim"] if reconstruction else [])
        return {k: sums[k] / n for k in keep}

    @property
    def ssim_window(self):
        """SSIM's Gaussian window: 11 (Wang et al.), or the largest odd size that fits smaller
        images (7 for the 8x8 digits)."""
        side = self.config.image_size
        return 11 if side >= 11 else side - (1 - side % 2)

    def eval_options(self):
        return {"iw_samples": self.option("iw_samples"), "reconstruction": True}

    def eval_info(self, test):
        return {"split": "test", "samples": len(test), "iw_samples": self.option("iw_samples"),
                "recon": "decoder(posterior mean), sigmoid; PSNR and SSIM with data range 1",
                "ssim_win_size": self.ssim_window}

    def sample(self, n):
        z = tg.randn(n, self.config.latent, device=self.device)          # (n, latent) ~ N(0, I)
        return self.model.decode(z).sigmoid()                            # (n, C, H, W) in [0, 1]


class ConvVAERecipe(VAERecipe):
    name = "conv-vae"
    conv = True
