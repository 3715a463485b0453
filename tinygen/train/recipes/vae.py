"""Training recipes of the VAEs (`vae`, `conv-vae`; the model is tinygen/models/vae.py).

Adam(1e-3) on the negative ELBO summed over the batch, as pytorch/examples; `tinygen eval` adds
the importance-weighted bound (`--set iw_samples=K`, 64 by default) to the test ELBO.
"""
from __future__ import annotations

import tinygen as tg
from ...models.vae import VAE, VAEConfig, importance_weighted_nll, negative_elbo
from .base import Option, Recipe


class VAERecipe(Recipe):
    name = "vae"
    conv = False
    data_kinds = ("image",)
    defaults = {"epochs": 10, "batch_size": 128, "lr": 1e-3}
    options = (Option("hidden", int, 400, "units of the encoder's and decoder's hidden layer"),
               Option("latent", int, 20, "dimensions of the latent code z"),
               Option("width", int, 32, "channels of the first conv (conv-vae; the second has "
                      "twice as many)"),
               Option("iw_samples", int, 64, "importance samples K of the IWAE bound that "
                      "`tinygen eval` adds (0: none)"))

    def __init__(self, run, data):
        super().__init__(run, data)
        c, h, _ = data.shape
        self.config = VAEConfig(in_channels=c, image_size=h, conv=self.conv,
                                hidden=self.option("hidden"), latent=self.option("latent"),
                                width=self.option("width"))
        self.model = VAE(self.config)
        self.modules = {"vae": self.model}
        self.optimizers = {"adam": tg.optim.Adam(self.model.parameters(), lr=self.setting("lr"))}

    def train_step(self, batch, step):
        x = batch[0]
        opt = self.optimizers["adam"]
        recon, mu, logvar = self.model(x)
        loss = negative_elbo(recon, x, mu, logvar).sum()      # summed over the batch, as pytorch/examples
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"nelbo": loss.item() / x.shape[0]}

    def evaluate(self, test, iw_samples=0, batch_size=500):
        """test_nelbo_nats (per image); with iw_samples = K > 0 also test_iw_nll_nats, the
        importance-weighted bound with K samples (Burda et al. 2016), tighter than the ELBO."""
        x_all = test.tensors[0]
        total, total_iw = 0.0, 0.0
        for i in range(0, len(x_all), batch_size):
            x = x_all[i:i + batch_size].to(self.device)
            recon, mu, logvar = self.model(x)
            total += negative_elbo(recon, x, mu, logvar).sum().item()
            if iw_samples:
                total_iw += importance_weighted_nll(self.model, x, iw_samples).sum().item()
        out = {"test_nelbo_nats": total / len(x_all)}
        if iw_samples:
            out["test_iw_nll_nats"] = total_iw / len(x_all)
        return out

    def eval_options(self):
        return {"iw_samples": self.option("iw_samples")}

    def sample(self, n):
        z = tg.randn(n, self.config.latent, device=self.device)          # (n, latent) ~ N(0, I)
        return self.model.decode(z).sigmoid()                            # (n, C, H, W) in [0, 1]


class ConvVAERecipe(VAERecipe):
    name = "conv-vae"
    conv = True
