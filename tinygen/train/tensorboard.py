"""TensorBoard events for a run (`tinygen train ... --tensorboard`), beside metrics.jsonl.

    OUT/tensorboard/events.out.tfevents.*    scalars (train/loss, test/..., one per logged row),
                                             the run's config as text, the sample grid after
                                             each epoch, weight histograms every N steps

Written with tensorboardX (an optional extra: pip install 'tinygen[tensorboard]'); view with
`tensorboard --logdir OUT/tensorboard`. A resumed run purges the events after its checkpoint's
step, as metrics.jsonl is cut back, so the curves have no doubled stretch.
"""
from __future__ import annotations

import json
import os

import numpy as np

from .errors import RunError
from .run_folder import TENSORBOARD


class TensorBoardLog:
    def __init__(self, out, start_step, histogram_every):
        try:
            from tensorboardX import SummaryWriter  # lazy: an optional extra
        except ImportError:
            raise RunError("--tensorboard needs tensorboardX: pip install 'tinygen[tensorboard]' "
                           "(or pip install tensorboardX)") from None
        self.writer = SummaryWriter(os.path.join(out, TENSORBOARD),
                                    purge_step=start_step if start_step else None)
        self.histogram_every = histogram_every

    def config(self, config):
        text = "```\n" + json.dumps(config, indent=2, sort_keys=True) + "\n```"
        self.writer.add_text("config", text, 0)

    def scalars(self, row):
        """One metrics.jsonl row: each number as `split/name` at the row's step."""
        for key, value in row.items():
            if key not in ("step", "epoch", "split") and isinstance(value, (int, float)):
                self.writer.add_scalar(f"{row['split']}/{key}", value, row["step"])

    def histograms(self, modules, step):
        if step % self.histogram_every:
            return
        for name, module in modules.items():
            for param_name, p in module.named_parameters():
                self.writer.add_histogram(f"{name}/{param_name}",
                                          p.detach().cpu().numpy().astype(np.float64), step)

    def image(self, path, step):
        """The PNG at `path` (the sample grid) as an image at `step`."""
        if not os.path.exists(path):
            return
        from PIL import Image  # lazy: start-up time
        with Image.open(path) as img:
            pixels = np.asarray(img.convert("RGB"))                       # (H, W, 3) uint8
        self.writer.add_image("samples", pixels, step, dataformats="HWC")

    def close(self):
        self.writer.close()
