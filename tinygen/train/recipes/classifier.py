"""Training recipe of the LeNet-style classifier (`classifier`; the model is
tinygen/models/classifier.py): Adam with a cosine decay of the learning rate to 0 over the run,
cross-entropy, test accuracy. A trained classifier run is also the judge of the image generators
(tinygen/train/judge.py)."""
from __future__ import annotations

import tinygen as tg
from ...models.classifier import Classifier, ClassifierConfig
from ...nn import functional as F
from ..errors import UsageError
from .base import IMAGE_SIZE, Option, Recipe


def accuracy(model, dataset, device="cpu", batch_size=1000):
    """The fraction of `dataset` (a TensorDataset of images (N, C, H, W) and labels (N,)) that
    `model` classifies right, in batches moved to `device`."""
    x_all, y_all = dataset.tensors
    correct = 0
    with tg.no_grad():
        for i in range(0, len(y_all), batch_size):
            logits = model(x_all[i:i + batch_size].to(device))                 # (B, classes)
            labels = y_all[i:i + batch_size].to(device)
            correct += int((logits.argmax(dim=1) == labels).sum().item())
    return correct / len(y_all)


class ClassifierRecipe(Recipe):
    name = "classifier"
    data_kinds = ("image",)
    defaults = {"epochs": 3, "batch_size": 64, "lr": 1e-3}
    options = (Option("width", int, 32, "channels of the first conv (the second has twice as many)",
                      bounds="[1, inf)"),
               Option("hidden", int, 128, "units of the hidden layer (the judge's features)",
                      bounds="[1, inf)"),
               IMAGE_SIZE)

    def __init__(self, run, data):
        super().__init__(run, data)
        if data.num_classes is None:
            raise UsageError(f"--data {data.name}: has no labels; the classifier trains on "
                             "labelled images (digits, mnist, fashion-mnist, cifar10)")
        c, h, _ = data.shape
        pixels = data.train.tensors[0]
        self.config = ClassifierConfig(in_channels=c, image_size=h, num_classes=data.num_classes,
                                       width=self.option("width"),
                                       hidden=self.option("hidden"),
                                       mean=round(pixels.mean().item(), 4),
                                       std=round(pixels.std().item(), 4))
        self.model = Classifier(self.config)
        self.modules = {"classifier": self.model}
        self.optimizers = {"adam": tg.optim.Adam(self.model.parameters(), lr=self.setting("lr"))}

    def configure(self, total_steps):
        # cosine decay of the learning rate to 0 over the run
        self.schedulers = {"cosine": tg.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizers["adam"], T_max=total_steps)}

    def train_step(self, batch, step):
        return {"loss": self._step(*batch).item()}

    def _update(self, x, y):
        opt = self.optimizers["adam"]
        loss = F.cross_entropy(self.model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        self.schedulers["cosine"].step()
        return loss

    def evaluate(self, test):
        return {"test_acc": accuracy(self.model, test, self.device)}
