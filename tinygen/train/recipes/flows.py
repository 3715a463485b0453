"""Training recipes of the normalizing flows (`realnvp`, `glow`; the models are
tinygen/models/flows.py): maximum likelihood with Adam, reported in bits per dimension on images
(in dequantised data space, 256 levels) and in nats on the 2-D toy densities.
"""
from __future__ import annotations


import numpy as np

import tinygen as tg
from ...metrics import bits_per_dim
from ...models.flows import FlowConfig, MultiScaleFlow, VectorFlow, dequantize_logit, logit_inverse
from ..plots import flow_density_figure
from .base import Option, Recipe


class FlowRecipe(Recipe):
    name = "realnvp"
    glow = False
    data_kinds = ("image", "toy")
    default_data = "moons"
    defaults = {"epochs": 5, "batch_size": 128, "lr": 1e-3}
    # The 2-D toys: 100 000 fresh points (the dataset's default 10 000 let a 16-coupling flow
    # overfit: train 2.87 / test 2.90 nats on 8gaussians), 40 epochs, 16 couplings of 256 wide.
    # Measured on 8gaussians (test NLL, entropy 2.833): realnvp 6 x 128 on 10 000 points for 200
    # epochs 2.959, on 100 000 for 20 epochs 2.930; 16 x 256 on 10 000 (400 epochs) 2.900; glow
    # 6 x 128 2.984 / 2.948; 16 x 256 on 100 000 points for 40 epochs: glow 2.867 (780 s), realnvp
    # 2.870 at epoch 35 (quality.md has the final figures).
    toy_defaults = {"epochs": 40, "batch_size": 256, "lr": 1e-3}
    toy_train_size = 100_000
    options = (
        Option("arch", str, None, "mlp (couplings on flat vectors) or multiscale (conv couplings, "
               "squeezes; images only); default multiscale for glow on images, else mlp",
               choices=("mlp", "multiscale")),
        Option("couplings", int, None, "couplings (mlp) or steps per level (multiscale); "
               "default 6 (realnvp) / 4 (glow) on images, 16 on the 2-D toys", bounds="[1, inf)"),
        Option("hidden", int, None, "width of the coupling nets; default 512 (mlp) / 64 "
               "(multiscale) on images, 256 on the 2-D toys", bounds="[1, inf)"),
        Option("hidden_layers", int, 2, "hidden layers of each MLP coupling net",
               bounds="[0, inf)"),
        Option("levels", int, 2, "levels of the multi-scale architecture", bounds="[1, inf)"),
        Option("train_size", int, None, "training points drawn for the 2-D toys (default "
               "100000)", bounds="[0, inf)"))

    def __init__(self, run, data):
        super().__init__(run, data)
        self.image = len(data.shape) == 3
        if not self.image:
            self.defaults = self.toy_defaults
        arch = self.option("arch", "multiscale" if (self.glow and self.image) else "mlp")
        if self.image:
            hidden = 512 if arch == "mlp" else 64
            couplings = 4 if self.glow else 6
        else:
            hidden, couplings = 256, 16
        hidden = self.option("hidden", hidden)
        self.config = FlowConfig(shape=tuple(data.shape), glow=self.glow, arch=arch,
                                 couplings=self.option("couplings", couplings),
                                 hidden=hidden, hidden_layers=self.option("hidden_layers", 2),
                                 levels=self.option("levels", 2))
        self.flow = MultiScaleFlow(self.config) if arch == "multiscale" else VectorFlow(self.config)
        self.modules = {"flow": self.flow}
        self.optimizers = {"adam": tg.optim.Adam(self.flow.parameters(), lr=self.setting("lr"))}
        self.dims = int(np.prod(data.shape))

    def configure(self, total_steps):
        if not self.image:
            # the 2-D toys: cosine decay of the LR to 0, so the density settles (the image
            # recipes keep the constant Adam 1e-3 of the reference recipe)
            self.schedulers = {"cosine": tg.optim.lr_scheduler.CosineAnnealingLR(
                self.optimizers["adam"], T_max=total_steps)}

    def nll(self, x):
        """Per-sample negative log-likelihood in nats, (B,): images in dequantised u-space, toys
        as they are. x on the device."""
        if self.image:
            y, logdet = dequantize_logit(x, self.config.alpha)
            return -(self.flow.log_prob(y) + logdet)
        return -self.flow.log_prob(x)

    def bpd(self, nll):
        return bits_per_dim(nll, self.dims, levels=256)

    def train_step(self, batch, step):
        nll = self._step(batch[0]).item()
        return {"bpd": self.bpd(nll)} if self.image else {"nll": nll}

    def _update(self, x):
        opt = self.optimizers["adam"]
        nll = self.nll(x).mean()
        opt.zero_grad()
        nll.backward()
        opt.step()
        for sched in self.schedulers.values():
            sched.step()
        return nll

    def evaluate(self, test, batch_size=500):
        x_all = test.tensors[0]
        total = 0.0
        for i in range(0, len(x_all), batch_size):
            total += self.nll(x_all[i:i + batch_size].to(self.device)).sum().item()
        mean = total / len(x_all)
        return {"test_bpd": self.bpd(mean)} if self.image else {"test_nll": mean}

    def eval_info(self, test):
        if self.image:
            return {"split": "test", "samples": len(test), "unit": "bits per dimension, 256 "
                    "levels: uniform dequantisation u = (255 x + U[0, 1)) / 256, the logit "
                    "transform's log-determinant counted, + D log 256 (metrics.bits_per_dim)"}
        return {"split": "test", "samples": len(test), "unit": "nats per point"}

    def sample(self, n, temperature=1.0):
        x = self.flow.sample(n, temperature)
        if self.image:
            return logit_inverse(x.reshape(n, *self.config.shape), self.config.alpha)
        return x                                                            # (n, 2) points

    def write_samples(self, path, n=64):
        if self.image:
            return super().write_samples(path, n)
        # the 2-D toys: the density on a grid beside samples and the test points
        flow_density_figure(self.flow.log_prob, self.sample, self.data.test.tensors[0],
                            self.data.name, path, device=self.device)


class GlowRecipe(FlowRecipe):
    name = "glow"
    glow = True
    defaults = {"epochs": 5, "batch_size": 64, "lr": 1e-3}
