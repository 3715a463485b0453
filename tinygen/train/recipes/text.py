"""Training recipes of the character-level language models: `gpt` (tinygen/models/gpt.py) and the
recurrent baselines `lstm`, `gru`, `rnn` (tinygen/models/char_rnn.py).

Batches are nanoGPT's `get_batch`: random windows of `block_size` characters and the same windows
shifted by one, drawn from the loader's own seeded generator (so resume is exact). An "epoch" here
is `eval_interval` steps: the workbench evaluates, samples and checkpoints after each. The GPT
trains as nanoGPT: AdamW (decoupled weight decay on 2-D weights only), linear warm-up then cosine
decay, clipping at 1.0; the defaults are its CPU "baby" config (batch 12, 2000 iterations, lr
1e-3 -> 1e-4, beta2 0.99).
"""
from __future__ import annotations

import math

import numpy as np

import tinygen as tg
from ... import distributed as dist
from ... import nn
from ...distributed.utils import average_metrics
from ...io import atomic_write
from ...models.char_rnn import CharRNN
from ...models.gpt import GPT, GPTConfig
from ...metrics import perplexity
from ..errors import UsageError
from .base import Option, Recipe


class WindowLoader:
    """`steps` batches per epoch of random (x, y) windows, int64 (batch_size, block_size) each,
    on `device` (None: the CPU); state_dict()/load_state_dict() resume."""

    def __init__(self, dataset, batch_size, block_size, steps, seed, device=None):
        self.dataset, self.batch_size, self.block_size, self.steps = dataset, batch_size, block_size, steps
        self.device = device
        self.generator = np.random.Generator(np.random.PCG64(seed))
        self._left = None                 # batches left in an epoch interrupted by a checkpoint
        self._in_epoch = None             # batches left in the epoch being handed out

    def __len__(self):
        return self.steps

    def __iter__(self):
        n = self._left if self._left is not None else self.steps
        self._left = None
        for k in range(n):
            self._in_epoch = n - k - 1
            yield self.dataset.get_batch(self.batch_size, self.block_size, self.generator,
                                         device=self.device)
        self._in_epoch = None

    def state_dict(self):
        return {"generator": self.generator.bit_generator.state, "left": self._in_epoch}

    def load_state_dict(self, state):
        self.generator.bit_generator.state = state["generator"]
        self._left = state["left"] if state["left"] else None


def lr_at(it, lr, min_lr, warmup, decay_iters):
    """nanoGPT's schedule: linear warm-up, cosine decay to min_lr, then flat."""
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it > decay_iters:
        return min_lr
    ratio = (it - warmup) / (decay_iters - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


class TextRecipe(Recipe):
    """Base of the text models: subclasses build `self.model` with forward(x, y) -> (logits, loss)
    and generate(idx, max_new_tokens, temperature, top_k) -> idx extended."""

    data_kinds = ("text",)
    default_data = "tinyshakespeare"
    evaluates_in_parallel = True          # the validation batches are split over the ranks
    options = (Option("block_size", int, 64, "characters of context (the training windows)",
                      bounds="[1, inf)"),
               Option("eval_interval", int, 250, "steps between evaluations (an 'epoch')",
                      bounds="[1, inf)"),
               Option("eval_batches", int, 200, "validation batches per evaluation",
                      bounds="[1, inf)"))

    def __init__(self, run, data):
        super().__init__(run, data)
        self.vocab = data.extra["vocab"]
        self.vocab_size = len(self.vocab)
        self.block_size = self.option("block_size")
        shortest = min(len(data.train), len(data.test))
        if self.block_size >= shortest:
            raise UsageError(f"--set block_size={self.block_size}: {data.name}'s shorter split has "
                             f"{shortest} characters, no window of {self.block_size} + 1")
        self.eval_interval = self.option("eval_interval")
        self.total_steps = self.run.steps or self.setting("steps")

    def make_loader(self, batch_size, seed):
        return WindowLoader(self.data.train, batch_size, self.block_size,
                            min(self.eval_interval, self.total_steps), seed, device=self.device)

    def evaluate(self, test):
        """Mean cross-entropy (nats per character) over `eval_batches` random validation batches.
        In a data-parallel run rank r evaluates batches r, r + N, ... of the same sequence and
        the means are combined (weighted by batches): the single-process value."""
        rank, size = ((dist.get_rank(), dist.get_world_size()) if dist.is_initialized()
                      else (0, 1))
        gen = np.random.Generator(np.random.PCG64(1234))       # the same batches at every eval
        total, mine = 0.0, 0
        for i in range(self.option("eval_batches")):
            x, y = test.get_batch(self.setting("batch_size"), self.block_size, gen,
                                  device=self.device)          # drawn on every rank: in step
            if i % size != rank:
                continue
            _, loss = self.model(x, y)
            total += loss.item()
            mine += 1
        loss = total / max(mine, 1)
        if size > 1:
            loss = average_metrics({"val_loss": loss}, count=mine)["val_loss"]
        return {"val_loss": loss, "val_perplexity": perplexity(loss)}

    def eval_info(self, test):
        return {"split": "val", "samples": self.option("eval_batches") * self.setting("batch_size"),
                "unit": f"windows of {self.block_size} characters (loss in nats per character)"}

    def generate_text(self, prompt, max_new_tokens=200, temperature=1.0, top_k=None):
        """`prompt` continued by max_new_tokens sampled characters (the prompt included)."""
        ids = self.data.train.encode(prompt) if prompt else [0]
        idx = tg.tensor([ids], dtype=tg.int64, device=self.device)             # (1, T)
        out = self.model.generate(idx, max_new_tokens, temperature, top_k)
        return self.data.train.decode(out[0].cpu())

    def write_samples(self, path, n=64):
        """Text models write samples.txt beside samples.png's place."""
        text = self.generate_text("\n", 300, 1.0, None)
        out = path[:-4] + ".txt" if path.endswith(".png") else path
        with atomic_write(out) as f:
            f.write(text)

    def sample_command(self, request):
        return self.generate_text(request.prompt or "", request.max_new_tokens,
                                  request.temperature, request.top_k)


class GPTRecipe(TextRecipe):
    name = "gpt"
    defaults = {"steps": 2000, "batch_size": 12, "lr": 1e-3}
    options = TextRecipe.options + (
        Option("n_layer", int, 4, "Transformer blocks", bounds="[0, inf)"),
        Option("n_head", int, 4, "attention heads per block", bounds="[1, inf)"),
        Option("n_embd", int, 128, "embedding width", bounds="[1, inf)"),
        Option("dropout", float, 0.0, "dropout probability", bounds="[0, 1]"),
        Option("bias", bool, False, "biases in the Linear and LayerNorm layers"),
        Option("weight_decay", float, 0.1, "AdamW's decoupled weight decay (2-D weights only)",
               bounds="[0, inf)"),
        Option("beta2", float, 0.99, "AdamW's beta2", bounds="[0, 1)"),
        Option("min_lr", float, None, "the learning rate at the end of the cosine decay "
               "(default lr / 10)", bounds="[0, inf)"),
        Option("warmup", int, 100, "steps of linear warm-up", bounds="[0, inf)"),
        Option("grad_clip", float, 1.0, "the gradient norm is clipped to this", bounds="(0, inf)"))

    def __init__(self, run, data):
        super().__init__(run, data)
        self.config = GPTConfig(vocab_size=self.vocab_size, block_size=self.block_size,
                                n_layer=self.option("n_layer"), n_head=self.option("n_head"),
                                n_embd=self.option("n_embd"), dropout=self.option("dropout"),
                                bias=self.option("bias"))
        self.model = GPT(self.config)
        self.modules = {"gpt": self.model}
        decay = [p for p in self.model.parameters() if p.ndim >= 2]
        no_decay = [p for p in self.model.parameters() if p.ndim < 2]
        self.optimizers = {"adamw": tg.optim.AdamW(
            [{"params": decay, "weight_decay": self.option("weight_decay")},
             {"params": no_decay, "weight_decay": 0.0}],
            lr=self.setting("lr"), betas=(0.9, self.option("beta2")))}
        self.min_lr = self.option("min_lr", self.setting("lr") / 10)
        self.warmup = self.option("warmup")

    def train_step(self, batch, step):
        x, y = batch
        opt = self.optimizers["adamw"]
        lr = lr_at(step, self.setting("lr"), self.min_lr, self.warmup, self.total_steps)
        for group in opt.param_groups:
            group["lr"] = lr                  # read by opt.step, also in a captured step
        return {"loss": self._step(x, y).item(), "lr": lr}

    def _update(self, x, y):
        opt = self.optimizers["adamw"]
        _, loss = self.model(x, y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), self.option("grad_clip"))
        opt.step()
        return loss


class CharRNNRecipe(TextRecipe):
    name = "lstm"
    cell = "lstm"
    defaults = {"steps": 2000, "batch_size": 12, "lr": 2e-3}
    options = TextRecipe.options + (
        Option("hidden", int, 256, "units of the recurrent state", bounds="[1, inf)"),
        Option("layers", int, 2, "stacked recurrent layers", bounds="[1, inf)"),
        Option("embed", int, 64, "width of the character embedding", bounds="[1, inf)"))

    def __init__(self, run, data):
        super().__init__(run, data)
        self.model = CharRNN(self.vocab_size, self.cell, self.option("hidden"),
                             self.option("layers"), self.option("embed"))
        self.modules = {self.name: self.model}
        self.optimizers = {"adam": tg.optim.Adam(self.model.parameters(), lr=self.setting("lr"))}

    def train_step(self, batch, step):
        return {"loss": self._step(*batch).item()}

    def _update(self, x, y):
        opt = self.optimizers["adam"]
        _, loss = self.model(x, y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        opt.step()
        return loss


class CharGRURecipe(CharRNNRecipe):
    name = "gru"
    cell = "gru"


class CharVanillaRNNRecipe(CharRNNRecipe):
    name = "rnn"
    cell = "rnn"
