"""Training recipe of the diffusion model (`ddpm`; the models are tinygen/models/diffusion.py and
tinygen/models/unet.py): the epsilon-prediction loss of Ho et al. 2020 on images scaled to
[-1, 1], Adam, an exponential moving average of the weights for sampling, class-conditional with
label dropout (p = 0.1) so that sampling can use classifier-free guidance.

`tinygen sample DIR -n N --steps S --class K --guidance W` draws with DDIM (S steps, 50 by
default; eta 0); `tinygen eval DIR` reports the test set's denoising loss and, with
`--set classifier=RUN`, the judge's scores of 2000 samples (conditional accuracy included).
"""
from __future__ import annotations

import numpy as np

import tinygen as tg
from ...backend.random import fork_rng
from ...io import atomic_write
from ...models.diffusion import EMA, NoiseSchedule, ddim_sample, denoising_loss
from ...models.unet import UNet, UNetConfig
from ..errors import UsageError
from ..judge import describe_judge, judge_samples
from ..plots import save_image_grid
from .base import IMAGE_SIZE, Option, Recipe


def default_channels(side: int) -> str:
    """The U-Net's widths for images of this side: one level per halving down to 4-8 px with
    attention there (8 -> 4; 28 -> 7 and 32 -> 8 with three levels; 64 -> 8 with four)."""
    if side < 16:
        return "32,64"
    return "32,64,64" if side <= 32 else "32,64,64,128"


class DiffusionRecipe(Recipe):
    name = "ddpm"
    data_kinds = ("image",)
    defaults = {"epochs": 20, "batch_size": 64, "lr": 1e-3}
    options = (
        Option("channels", str, None, "U-Net widths per level, top to bottom; default 32,64 for "
               "images under 16 px, 32,64,64 up to 32 px, 32,64,64,128 above"),
        Option("schedule", str, "linear", "the noise schedule", choices=("linear", "cosine")),
        Option("timesteps", int, 1000, "diffusion steps T", bounds="[1, inf)"),
        Option("conditional", bool, True, "condition on the class labels (guidance needs it; "
               "unlabelled data such as lfw-faces trains unconditionally)"),
        Option("p_uncond", float, 0.1, "label dropout while training (classifier-free guidance)",
               bounds="[0, 1]"),
        Option("dropout", float, 0.0, "dropout in the residual blocks", bounds="[0, 1]"),
        Option("ema", float, 0.999, "decay of the weights' moving average used for sampling",
               bounds="[0, 1]"),
        Option("sample_steps", int, 50, "DDIM steps for samples.png and evaluation",
               bounds="[1, inf)"),
        Option("clip_x0", bool, True, "clamp the sampler's predicted x0 to the data range at "
               "each step (Ho et al.'s code does)"),
        Option("guidance", float, 2.0, "guidance weight w for samples.png and evaluation "
               "(0: unconditional, 1: conditional)", bounds="[0, inf)"),
        Option("classifier", str, None, "a trained classifier's run folder: `tinygen eval` judges "
               "2000 samples with it"),
        Option("eval_samples", int, 2000, "samples the judge scores", bounds="[1, inf)"),
        IMAGE_SIZE)

    def __init__(self, run, data):
        super().__init__(run, data)
        c, h, _ = data.shape
        channels = self.option("channels") or default_channels(h)
        try:
            widths = tuple(int(v) for v in channels.split(","))
        except ValueError:
            widths = ()
        if not widths or min(widths) < 1:
            raise UsageError(f"--set channels={channels}: expected widths >= 1 separated by "
                             "commas (e.g. 32,64,64)")
        self.config = UNetConfig(
            in_channels=c, image_size=h, channels=widths,
            dropout=self.option("dropout"),
            num_classes=data.num_classes if self.option("conditional") else None)
        try:
            self.unet = UNet(self.config)
        except ValueError as e:
            raise UsageError(f"--set channels={channels}: {e}") from None
        self.ema = EMA(self.unet, UNet(self.config), self.option("ema"))
        self.modules = {"unet": self.unet, "ema": self.ema.module}
        self.optimizers = {"adam": tg.optim.Adam(self.unet.parameters(), lr=self.setting("lr"))}
        self.schedule = NoiseSchedule(self.option("schedule"), self.option("timesteps"))

    @property
    def conditional(self):
        return self.config.num_classes is not None

    def train_step(self, batch, step):
        loss = self._step(*batch)
        self.ema.update(step)                 # its decay depends on the step: outside the plan
        return {"loss": loss.item()}

    def _update(self, x, labels):
        opt = self.optimizers["adam"]
        loss = denoising_loss(self.unet, self.schedule, x * 2 - 1,
                              labels if self.conditional else None, self.option("p_uncond"),
                              self.unet.null_label)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    @tg.no_grad()
    def generate(self, n, steps=None, labels=None, guidance=None, chain=None):
        """n images in [0, 1] from the EMA weights (B, C, H, W), on the device; labels (n,)
        int64 or None (then a balanced cycle through the classes when conditional). Without
        a graph whatever the caller's grad mode: 50 steps of a U-Net kept for backward held
        23 GB for the 88 images of write_samples, called from Python outside no_grad."""
        if self.conditional and labels is None:
            labels = tg.arange(n, device=self.device) % self.config.num_classes
        c, h = self.config.in_channels, self.config.image_size
        x = ddim_sample(self.ema.module, self.schedule, (n, c, h, h),
                        steps or self.option("sample_steps"), eta=0.0,
                        labels=labels if self.conditional else None,
                        guidance=self.option("guidance") if guidance is None else guidance,
                        null_label=self.unet.null_label, device=self.device, chain=chain,
                        clip_x0=self.option("clip_x0"))
        return ((x + 1) / 2).clamp(0, 1)

    def sample(self, n):
        return self.generate(n)

    def write_samples(self, path, n=64):
        """A grid: a row of 8 per class (or 8 rows of samples), then a row of one sample's
        denoising chain, from noise to image."""
        rows = self.config.num_classes if self.conditional else 8
        labels = (tg.arange(rows * 8, device=self.device) // 8) if self.conditional else None
        chain = []
        images = self.generate(rows * 8, labels=labels, chain=chain)
        picks = np.linspace(0, len(chain) - 1, 8).round().astype(int)
        steps = tg.cat([((chain[i][:1] + 1) / 2).clamp(0, 1) for i in picks])
        save_image_grid(tg.cat([images, steps]), path, nrow=8)

    def evaluate(self, test, classifier=None, batch_size=250):
        """test_denoising_loss (the training loss on the test images, t and noise from a fixed
        stream); with a classifier run, the judge's scores of eval_samples samples."""
        n = len(test)                        # batches taken one at a time (see the VAE's)
        total = 0.0
        with fork_rng(1234):
            for i in range(0, n, batch_size):
                x_batch, y_batch = test.take(slice(i, i + batch_size))
                x = x_batch.to(self.device) * 2 - 1
                y = y_batch.to(self.device) if self.conditional else None
                total += denoising_loss(self.ema.module, self.schedule, x, y).item() * len(x)
        metrics = {"test_denoising_loss": total / n}
        if classifier:
            n = self.option("eval_samples")
            metrics.update(self._judged(test, classifier, n))
        return metrics

    def _judged(self, test, classifier, n):
        labels = np.arange(n) % self.config.num_classes if self.conditional else None
        start = [0]

        def sample(k):
            chunk = None if labels is None else tg.tensor(labels[start[0]:start[0] + k],
                                                          device=self.device)
            start[0] += k
            return self.generate(k, labels=chunk)
        return judge_samples(sample, test, classifier, n=n, device=self.device,
                             requested=labels)

    def eval_options(self):
        return {"classifier": self.option("classifier")}

    def eval_info(self, test):
        info = {"split": "test", "samples": len(test), "sampler": (
            f"DDIM, {self.option('sample_steps')} steps, eta 0, guidance "
            f"{self.option('guidance')}, x0 clipped: {self.option('clip_x0')}")}
        if self.option("classifier"):
            info["judge"] = describe_judge(self.option("classifier"))
            info["judged_samples"] = self.option("eval_samples")
        return info

    def sample_command(self, request):
        if request.class_label is not None:
            if not self.conditional:
                raise UsageError("--class: this model was trained without labels")
            if not 0 <= request.class_label < self.config.num_classes:
                raise UsageError(f"--class {request.class_label}: expected 0 .. "
                                 f"{self.config.num_classes - 1}")
        labels = None if request.class_label is None else tg.full(
            (request.n,), request.class_label, dtype=tg.int64, device=self.device)
        x = self.generate(request.n, request.steps, labels, request.guidance)
        x = x.detach().cpu().numpy().astype(np.float32)
        out = request.out if request.out.endswith(".npy") else request.out + ".npy"
        with atomic_write(out, "wb") as f:
            np.save(f, x)
        return f"{x.shape[0]} samples of shape {tuple(x.shape[1:])} -> {out}"
