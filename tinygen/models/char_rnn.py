"""A character-level recurrent language model: embedding -> RNN, GRU or LSTM -> linear head, the
autoregressive baseline beside the GPT (tinygen/models/gpt.py). Its training recipes (`lstm`,
`gru`, `rnn`) are in tinygen/train/recipes/text.py.
"""
from __future__ import annotations

import tinygen as tg
from .. import nn
from ..nn import functional as F


class CharRNN(nn.Module):
    """Embedding -> RNN/GRU/LSTM -> linear: the autoregressive baseline beside the GPT.
    idx (B, T) int64 -> (logits (B, T, vocab), loss or None, as GPT)."""

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
