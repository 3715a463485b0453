"""Training recipes of the contrastive models (`clip`, `simclr`; the models are
tinygen/models/clip.py).

clip: image-caption pairs made from a labelled image set (digits, mnist, fashion-mnist) with the
    template captions of tinygen/data/captions.py, one drawn at random for every image at every
    step (from a stream seeded by (seed, step), so a resumed run draws the same ones). The loss is
    F.info_nce with the learnable log-scale, clamped at ln 100 after each AdamW step.
    Same-class captions: a batch of 256 MNIST images holds ~25 images of each class, so with
    plain pair targets (image i <-> caption i only) the loss would push each image away from the
    other ~24 captions of its own class, which describe it just as well. The default,
    `--set targets=label-aware`, makes every caption of the image's class a positive: the
    cross-entropy target of each row (and column) is uniform over the same-class pairs
    (F.label_aware_targets). `--set targets=pairs` is CLIP's plain arange targets.
    `tinygen eval`: zero_shot_acc (each class's prompts embedded and averaged: prompt
    ensembling), linear_probe_acc (tinygen/train/probe.py on the image encoder's features),
    and retrieval recall@1 and @5 both ways over the first 1000 test images, each with one
    caption drawn from a fixed stream; a hit is an item of the query's class, since every caption
    of a class describes every image of it equally (the strings repeat across images).
simclr: SimCLR on the same images without captions: two random views of each image
    (tinygen/data/augment.py: rotation, zoom and shift, noise), F.nt_xent at temperature 0.5
    on the projection head's output; `tinygen eval` gives linear_probe_acc on the encoder's
    features and pixel_probe_acc, the same probe on the raw pixels (the baseline).
"""
from __future__ import annotations

import numpy as np

import tinygen as tg
from ...data.augment import random_view
from ...data.captions import CaptionSet
from ...io import atomic_write
from ...models.clip import (CLIP, CharTokenizer, CLIPConfig, SimCLR, SimCLRConfig,
                            class_text_embeddings)
from ...nn import functional as F
from ..errors import UsageError
from ..probe import ProbeConfig, extract_features, linear_probe
from .base import Option, Recipe

RETRIEVAL_PAIRS = 1000


def _pixel_stats(data):
    pixels = data.train.tensors[0]
    return round(pixels.mean().item(), 4), round(pixels.std().item(), 4)


class _Contrastive(Recipe):
    """What clip and simclr share: AdamW with a cosine decay to 0, the linear probe."""

    data_kinds = ("image",)

    def _optimizer(self, model):
        # weight decay on the matrices and kernels only: not on biases, norms' gains or CLIP's
        # logit scale (1-D and 0-d parameters), as CLIP and nanoGPT do
        params = list(model.parameters())
        groups = [{"params": [p for p in params if p.ndim >= 2],
                   "weight_decay": self.option("weight_decay")},
                  {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
        self.optimizers = {"adamw": tg.optim.AdamW(groups, lr=self.setting("lr"))}

    def configure(self, total_steps):
        self.schedulers = {"cosine": tg.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizers["adamw"], T_max=total_steps)}

    def _step(self, loss):
        opt = self.optimizers["adamw"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        self.schedulers["cosine"].step()

    def _rng(self, step):
        return np.random.default_rng([self.run.seed, step])       # the same draws on a resume

    def probe_accuracy(self, encode, test):
        """The linear probe's test accuracy on encode(x)'s features."""
        x_train, y_train = self.data.train.tensors
        x_test, y_test = test.tensors
        train_features = extract_features(encode, x_train, self.device)
        test_features = extract_features(encode, x_test, self.device)
        return linear_probe(train_features, y_train.numpy(), test_features, y_test.numpy(),
                            self.data.num_classes, ProbeConfig(epochs=self.option("probe_epochs")),
                            self.device)


COMMON_OPTIONS = (
    Option("width", int, 32, "channels of the image CNN's first conv (then 2x, 4x)",
           bounds="[1, inf)"),
    Option("image_features", int, 128, "the image encoder's output (the probe's features)",
           bounds="[1, inf)"),
    Option("weight_decay", float, 0.05, "AdamW's decoupled weight decay (on weight matrices "
           "and kernels only)", bounds="[0, inf)"),
    Option("probe_epochs", int, 30, "epochs of the linear probe at `tinygen eval`",
           bounds="[0, inf)"))


class CLIPRecipe(_Contrastive):
    name = "clip"
    defaults = {"epochs": 5, "batch_size": 256, "lr": 2e-3}
    options = COMMON_OPTIONS + (
        Option("text_width", int, 64, "d_model of the character Transformer", bounds="[1, inf)"),
        Option("text_layers", int, 2, "Transformer layers of the text encoder", bounds="[0, inf)"),
        Option("embed_dim", int, 64, "the shared embedding's size", bounds="[1, inf)"),
        Option("targets", str, "label-aware", "which captions are positives: label-aware (every "
               "caption of the image's class) or pairs (its own only, CLIP's arange)",
               choices=("label-aware", "pairs")),
        Option("temperature", float, 0.0, "0: learn the logit scale (CLIP); > 0: a fixed "
               "temperature tau", bounds="[0, inf)"))

    def __init__(self, run, data):
        super().__init__(run, data)
        try:
            self.captions = CaptionSet(data.name)
        except ValueError as e:
            raise UsageError(f"--data {data.name}: clip needs captions; {e}") from None
        self.tokenizer = CharTokenizer()
        c, h, _ = data.shape
        mean, std = _pixel_stats(data)
        self.config = CLIPConfig(
            vocab_size=self.tokenizer.vocab_size, in_channels=c, image_size=h,
            width=self.option("width"), image_features=self.option("image_features"),
            text_width=self.option("text_width"), text_layers=self.option("text_layers"),
            max_len=self.captions.max_chars, embed_dim=self.option("embed_dim"), mean=mean,
            std=std)
        self.model = CLIP(self.config)
        self.modules = {"clip": self.model}
        self._optimizer(self.model)
        self.caption_tokens = self.tokenizer.encode(self.captions.flat, self.config.max_len)

    def tokens(self, texts_or_ids):
        """Caption ids (into captions.flat) or strings -> (T, L) int64 on the device."""
        if isinstance(texts_or_ids, np.ndarray):
            ids = self.caption_tokens[texts_or_ids]
        else:
            ids = self.tokenizer.encode(list(texts_or_ids), self.config.max_len)
        return tg.tensor(ids, device=self.device)

    def train_step(self, batch, step):
        x, labels = batch
        label_array = labels.cpu().numpy()
        caption_ids = self.captions.sample(label_array, self._rng(step))         # (B,)
        # encode each distinct caption once (~80-160 strings for a batch of 256) and gather
        unique, where = np.unique(caption_ids, return_inverse=True)
        text = self.model.encode_text(self.tokens(unique))                       # (U, E)
        text = text.index_select(0, tg.tensor(where.reshape(-1), device=self.device))  # (B, E)
        image = self.model.encode_image(x)                                       # (B, E)
        temperature = self.option("temperature")
        targets = (F.label_aware_targets(labels) if self.option("targets") == "label-aware"
                   else None)
        loss = F.info_nce(image, text, None if temperature else self.model.logit_scale,
                          temperature=temperature or None, targets=targets)
        self._step(loss)
        self.model.clamp_logit_scale_()
        return {"loss": loss.item(), "logit_scale": self.model.logit_scale.item()}

    def image_embeddings(self, images):
        """(N, C, H, W) -> (N, E) normalised, as NumPy."""
        return extract_features(lambda x: F.normalize(self.model.encode_image(x), dim=1), images,
                                self.device)

    def class_embeddings(self, heldout=False):
        """(K, E) zero-shot weights from every prompt of each class (prompt ensembling)."""
        prompts = self.captions.ensemble(heldout)                                # (K, P)
        K, P = len(prompts), len(prompts[0])
        tokens = self.tokens([p for ps in prompts for p in ps]).reshape(K, P, -1)
        return class_text_embeddings(self.model, tokens).cpu().numpy()

    def evaluate(self, test, full=False):
        """zero_shot_acc after each epoch; with full (tinygen eval) also zero_shot_heldout_acc
        (prompts from templates training never saw), linear_probe_acc and the retrieval
        recalls."""
        x, y = test.tensors
        labels = y.numpy()
        image = self.image_embeddings(x)                                          # (N, E)
        predicted = (image @ self.class_embeddings().T).argmax(axis=1)
        metrics = {"zero_shot_acc": float((predicted == labels).mean())}
        if full:
            predicted = (image @ self.class_embeddings(heldout=True).T).argmax(axis=1)
            metrics["zero_shot_heldout_acc"] = float((predicted == labels).mean())
            metrics["linear_probe_acc"] = self.probe_accuracy(self.model.image_features, test)
            metrics.update(self.retrieval(image[:RETRIEVAL_PAIRS], labels[:RETRIEVAL_PAIRS]))
        return metrics

    def retrieval(self, image, labels):
        """Recall@1 and @5 image -> text and text -> image over len(labels) pairs, each image
        with one caption of its class drawn from a fixed stream; a hit is an item of the query's
        class."""
        ids = self.captions.sample(labels, np.random.default_rng(20210226))
        text = extract_features(lambda t: F.normalize(self.model.encode_text(t), dim=1),
                                self.tokens(ids), self.device)                 # (N, E)
        sims = image @ text.T                                                   # (N, N)
        out = {}
        for name, s in (("image_to_text", sims), ("text_to_image", sims.T)):
            top = np.argsort(-s, axis=1, kind="stable")[:, :5]                  # (N, 5)
            hit = labels[top] == labels[:, None]
            out[f"{name}_r1"] = float(hit[:, 0].mean())
            out[f"{name}_r5"] = float(hit.any(axis=1).mean())
        return out

    def eval_options(self):
        return {"full": True}

    def eval_info(self, test):
        return {"split": "test", "samples": len(test),
                "zero_shot": f"prompt ensemble of {len(self.captions.ensemble()[0])} captions a "
                             "class (template x class name); heldout: "
                             f"{len(self.captions.ensemble(True)[0])} captions a class from "
                             "templates never used in training",
                "linear_probe": f"logistic regression on the {self.config.image_features} image "
                                f"features, standardised; {ProbeConfig(epochs=self.option('probe_epochs'))}",
                "retrieval": f"the first {min(RETRIEVAL_PAIRS, len(test))} test images, one "
                             "random caption each; "
                             "a hit is an item of the query's class"}

    def embed_command(self, texts=None, images=None, out="embeddings.npy"):
        """`tinygen embed`: normalised embeddings (N, E) float32 of texts or of an .npy of images
        (N, C, H, W) in [0, 1], saved into out; returns the line to print."""
        if (texts is None) == (images is None):
            raise UsageError("embed: pass --text TEXT (one or more) or --images FILE.npy")
        if texts is not None:
            try:
                tokens = self.tokens(texts)
            except ValueError as e:
                raise UsageError(f"--text: {e}") from None
            emb = extract_features(lambda t: F.normalize(self.model.encode_text(t), dim=1),
                                   tokens, self.device)
        else:
            emb = self.image_embeddings(tg.tensor(_load_images(images, self.config)))
        with atomic_write(out, "wb") as f:
            np.save(f, emb.astype(np.float32))
        return f"{emb.shape[0]} embeddings of size {emb.shape[1]} -> {out}"


def _load_images(path, config):
    """An .npy of images (N, C, H, W) float in [0, 1] of the run's size; UsageError otherwise."""
    x = np.load(path, allow_pickle=False)
    expected = (config.in_channels, config.image_size, config.image_size)
    if x.ndim == 3 and expected[0] == 1:
        x = x[:, None]                                          # (N, H, W) -> (N, 1, H, W)
    if x.ndim != 4 or tuple(x.shape[1:]) != expected or x.dtype.kind != "f":
        raise UsageError(f"--images {path}: expected float images of shape (N, "
                         f"{', '.join(map(str, expected))}), got {x.dtype} {x.shape}")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise UsageError(f"--images {path}: expected pixels in [0, 1], got {x.min():.3g}.."
                         f"{x.max():.3g}")
    return x.astype(np.float32)


class SimCLRRecipe(_Contrastive):
    name = "simclr"
    defaults = {"epochs": 5, "batch_size": 256, "lr": 2e-3}
    options = COMMON_OPTIONS + (
        Option("projection_dim", int, 64, "the projection head's output z (NT-Xent's space)",
               bounds="[1, inf)"),
        Option("temperature", float, 0.5, "NT-Xent's temperature tau", bounds="(0, inf)"),
        Option("noise", float, 0.1, "the views' pixel noise sigma", bounds="[0, inf)"),
        Option("degrees", float, 15.0, "the views' largest rotation", bounds="[0, inf)"))

    def __init__(self, run, data):
        super().__init__(run, data)
        c, h, _ = data.shape
        mean, std = _pixel_stats(data)
        self.config = SimCLRConfig(in_channels=c, image_size=h, width=self.option("width"),
                                   image_features=self.option("image_features"),
                                   projection_dim=self.option("projection_dim"), mean=mean,
                                   std=std)
        self.model = SimCLR(self.config)
        self.modules = {"simclr": self.model}
        self._optimizer(self.model)

    def views(self, x, rng):
        """Two random views of the batch x (B, C, H, W), made on the CPU, on the device."""
        images = x.cpu().numpy()
        settings = {"noise": self.option("noise"), "max_degrees": self.option("degrees")}
        return [tg.tensor(random_view(images, rng, **settings), device=self.device)
                for _ in range(2)]

    def train_step(self, batch, step):
        view1, view2 = self.views(batch[0], self._rng(step))
        z = self.model(tg.cat([view1, view2]))                 # (2B, proj): one BatchNorm batch
        z1, z2 = z.chunk(2, dim=0)
        loss = F.nt_xent(z1, z2, self.option("temperature"))
        self._step(loss)
        return {"loss": loss.item()}

    def evaluate(self, test, full=False, batch_size=500):
        """test_nt_xent on the first 2000 test images (views from a fixed stream) after each
        epoch; with full (tinygen eval) also linear_probe_acc and pixel_probe_acc."""
        x = test.tensors[0][:2000]
        rng = np.random.default_rng(1234)
        total = 0.0
        for i in range(0, len(x), batch_size):
            v1, v2 = self.views(x[i:i + batch_size], rng)
            loss = F.nt_xent(self.model(v1), self.model(v2), self.option("temperature"))
            total += loss.item() * len(v1)
        metrics = {"test_nt_xent": total / len(x)}
        if full:
            metrics["linear_probe_acc"] = self.probe_accuracy(self.model.image_features, test)
            metrics["pixel_probe_acc"] = self.probe_accuracy(lambda v: v.flatten(1), test)
        return metrics

    def eval_options(self):
        return {"full": True}

    def eval_info(self, test):
        return {"split": "test", "samples": len(test),
                "linear_probe": f"logistic regression on the {self.config.image_features} "
                                f"encoder features (pixel_probe_acc: on the raw pixels), "
                                f"standardised; {ProbeConfig(epochs=self.option('probe_epochs'))}"}
