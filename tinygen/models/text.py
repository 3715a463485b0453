"""What the character-level text models share: random-window batches, validation loss, sampling.

Batches are nanoGPT's `get_batch`: random windows of `block_size` characters and the same windows
shifted by one, drawn from the loader's own seeded generator (so resume is exact). An "epoch" here
is `eval_interval` steps: the workbench evaluates, samples and checkpoints after each.
"""
from __future__ import annotations

import numpy as np

import tinygen as tg
from .. import nn
from ..nn import functional as F
from ..train.recipe import Recipe


class WindowLoader:
    """`steps` batches per epoch of random (x, y) windows; state_dict()/load_state_dict() resume."""

    def __init__(self, dataset, batch_size, block_size, steps, seed):
        self.dataset, self.batch_size, self.block_size, self.steps = dataset, batch_size, block_size, steps
        self.generator = np.random.Generator(np.random.PCG64(seed))
        self._left = None                 # batches left in an epoch interrupted by a checkpoint

    def __len__(self):
        return self.steps

    def __iter__(self):
        n = self._left if self._left is not None else self.steps
        self._left = None
        for k in range(n):
            self._in_epoch = n - k - 1
            yield self.dataset.get_batch(self.batch_size, self.block_size, self.generator)
        self._in_epoch = None

    def state_dict(self):
        return {"generator": self.generator.bit_generator.state,
                "left": getattr(self, "_in_epoch", None)}

    def load_state_dict(self, state):
        self.generator.bit_generator.state = state["generator"]
        self._left = state["left"] if state["left"] else None


class TextRecipe(Recipe):
    """Base of the text models: subclasses build `self.model` with forward(x, y) -> (logits, loss)."""

    data_kinds = ("text",)
    default_data = "tinyshakespeare"

    def __init__(self, run, data):
        super().__init__(run, data)
        self.vocab = data.extra["vocab"]
        self.vocab_size = len(self.vocab)
        self.block_size = self.option("block_size", 64)
        self.eval_interval = self.option("eval_interval", 250)
        self.eval_batches = self.option("eval_batches", 200)
        self.total_steps = self.run.steps or self.setting("steps")

    def make_loader(self, batch_size, seed):
        return WindowLoader(self.data.train, batch_size, self.block_size,
                            min(self.eval_interval, self.total_steps), seed)

    def evaluate(self, test):
        """Mean cross-entropy (nats per character) over `eval_batches` random validation batches."""
        gen = np.random.Generator(np.random.PCG64(1234))       # the same batches at every eval
        total = 0.0
        for _ in range(self.eval_batches):
            x, y = test.get_batch(self.setting("batch_size"), self.block_size, gen)
            _, loss = self.model(x, y)
            total += loss.item()
        return {"val_loss": total / self.eval_batches}

    def generate_text(self, prompt, max_new_tokens=200, temperature=1.0, top_k=None):
        ids = self.data.train.encode(prompt) if prompt else [0]
        idx = tg.tensor([ids], dtype=tg.int64)
        out = self.model.generate(idx, max_new_tokens, temperature, top_k)
        return self.data.train.decode(out[0].tolist())

    def write_samples(self, path, n=64):
        """Text models write samples.txt beside samples.png's place."""
        text = self.generate_text("\n", 300, 1.0, None)
        out = path[:-4] + ".txt" if path.endswith(".png") else path
        with open(out + ".tmp", "w") as f:
            f.write(text)
        import os
        os.replace(out + ".tmp", out)


class CharRNN(nn.Module):
    """Embedding -> RNN/GRU/LSTM -> linear: the autoregressive baseline beside the GPT."""

    def __init__(self, vocab_size, cell="lstm", hidden=256, layers=2, embed=64):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        rnn = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.rnn = rnn(embed, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, idx, targets=None, state=None):
        h, state = self.rnn(self.embed(idx), state)                       # (B, T, hidden)
        logits = self.head(h)                                             # (B, T, vocab)
        if targets is None:
            return logits, None
        B, T = idx.shape
        return logits, F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))

    @tg.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        h, state = self.rnn(self.embed(idx))                              # read the prompt
        out = idx
        for _ in range(max_new_tokens):
            logits = self.head(h[:, -1]) / max(temperature, 1e-8)         # (B, vocab)
            if top_k is not None:
                v, _ = tg.topk(logits, min(top_k, logits.shape[-1]))
                logits = logits.masked_fill(logits < v[:, -1:], float("-inf"))
            nxt = tg.multinomial(logits.softmax(-1), 1)                   # (B, 1)
            out = tg.cat([out, nxt], dim=1)
            h, state = self.rnn(self.embed(nxt), state)
        return out


class CharRNNRecipe(TextRecipe):
    name = "lstm"
    cell = "lstm"
    defaults = {"steps": 2000, "batch_size": 12, "lr": 2e-3}

    def __init__(self, run, data):
        super().__init__(run, data)
        self.model = CharRNN(self.vocab_size, self.cell, self.option("hidden", 256),
                             self.option("layers", 2), self.option("embed", 64))
        self.modules = {self.name: self.model}
        self.optimizers = {"adam": tg.optim.Adam(self.model.parameters(), lr=self.setting("lr"))}

    def train_step(self, batch, step):
        x, y = batch
        opt = self.optimizers["adam"]
        _, loss = self.model(x, y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        opt.step()
        return {"loss": loss.item()}


class CharGRURecipe(CharRNNRecipe):
    name = "gru"
    cell = "gru"


class CharVanillaRNNRecipe(CharRNNRecipe):
    name = "rnn"
    cell = "rnn"
