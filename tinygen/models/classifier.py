"""A LeNet-style CNN classifier: the simplest thing to train, and the judge of generated images.

Two conv-ReLU-maxpool stages, then a hidden layer and the class logits; `features(x)` gives the
hidden layer's activations, used for the Frechet distance of GAN samples (eval of the GANs).
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import nn
from ..nn import functional as F
from ..train.recipe import Recipe


@dataclass(frozen=True)
class ClassifierConfig:
    in_channels: int = 1
    image_size: int = 28
    num_classes: int = 10
    width: int = 32            # channels of the first conv; the second has twice as many
    hidden: int = 128
    dropout: float = 0.25
    mean: float = 0.0          # input normalisation: (x - mean) / std, from the training pixels
    std: float = 1.0


class Classifier(nn.Module):
    def __init__(self, config: ClassifierConfig):
        super().__init__()
        c = self.config = config
        w, side = c.width, c.image_size // 4
        self.body = nn.Sequential(
            nn.Conv2d(c.in_channels, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (B, w, H/2, W/2)
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),          # (B, 2w, H/4, W/4)
            nn.Flatten(),                                                           # (B, 2w*H/4*W/4)
            nn.Linear(2 * w * side * side, c.hidden), nn.ReLU(),                    # (B, hidden)
        )
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden, c.num_classes)

    def features(self, x):
        """(B, C, H, W) -> (B, hidden): the penultimate activations."""
        return self.body((x - self.config.mean) / self.config.std)

    def forward(self, x):
        return self.head(self.dropout(self.features(x)))      # (B, num_classes) logits


def accuracy(model, dataset, batch_size=1000):
    import tinygen as tg
    x_all, y_all = dataset.tensors
    correct = 0
    with tg.no_grad():
        for i in range(0, len(y_all), batch_size):
            logits = model(x_all[i:i + batch_size])
            correct += int((logits.argmax(dim=1) == y_all[i:i + batch_size]).sum().item())
    return correct / len(y_all)


class ClassifierRecipe(Recipe):
    name = "classifier"
    data_kinds = ("image",)
    defaults = {"epochs": 3, "batch_size": 64, "lr": 1e-3}

    def __init__(self, run, data):
        super().__init__(run, data)
        import tinygen as tg
        c, h, _ = data.shape
        pixels = data.train.tensors[0]
        self.config = ClassifierConfig(in_channels=c, image_size=h, num_classes=data.num_classes,
                                       width=self.option("width", 32),
                                       hidden=self.option("hidden", 128),
                                       mean=round(pixels.mean().item(), 4),
                                       std=round(pixels.std().item(), 4))
        self.model = Classifier(self.config)
        self.modules = {"classifier": self.model}
        self.optimizers = {"adam": tg.optim.Adam(self.model.parameters(), lr=self.setting("lr"))}

    def configure(self, total_steps):
        import tinygen as tg
        # cosine decay of the learning rate to 0 over the run
        self.schedulers = {"cosine": tg.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizers["adam"], T_max=total_steps)}

    def train_step(self, batch, step):
        x, y = batch
        opt = self.optimizers["adam"]
        loss = F.cross_entropy(self.model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        self.schedulers["cosine"].step()
        return {"loss": loss.item()}

    def evaluate(self, test):
        return {"test_acc": accuracy(self.model, test)}
