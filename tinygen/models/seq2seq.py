"""An encoder-decoder Transformer (`nn.Transformer`, Vaswani et al. 2017) for short strings of
digits and "+", and its vocabulary: PAD, BOS, EOS, then the symbols.

Training uses teacher forcing (the decoder sees the target shifted right: `shift_right`); greedy
decoding (`Seq2Seq.greedy`) samples. The generated tasks (reverse, add) and the training recipe
are in tinygen/train/recipes/seq2seq.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import tinygen as tg
from .. import nn

PAD, BOS, EOS = 0, 1, 2
SYMBOLS = "0123456789+"
TOKEN = {ch: i + 3 for i, ch in enumerate(SYMBOLS)}
VOCAB = 3 + len(SYMBOLS)


@dataclass(frozen=True)
class Seq2SeqConfig:
    vocab: int = VOCAB
    max_len: int = 10
    d_model: int = 128
    nhead: int = 4
    layers: int = 2
    dim_feedforward: int = 256
    dropout: float = 0.0


class Seq2Seq(nn.Module):
    """src (B, S), tgt_in (B, T) int64 token ids, PAD-padded -> logits (B, T, vocab)."""

    def __init__(self, c: Seq2SeqConfig):
        super().__init__()
        self.config = c
        self.src_embed = nn.Embedding(c.vocab, c.d_model, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(c.vocab, c.d_model, padding_idx=PAD)
        self.pos = nn.Embedding(c.max_len + 1, c.d_model)
        self.transformer = nn.Transformer(c.d_model, c.nhead, c.layers, c.layers, c.dim_feedforward,
                                          c.dropout, batch_first=True)
        self.head = nn.Linear(c.d_model, c.vocab)

    def _embed(self, table, ids):
        T = ids.shape[1]
        positions = tg.arange(T, device=ids.device)                                  # (T,)
        return table(ids) * math.sqrt(self.config.d_model) + self.pos(positions)    # (B, T, d)

    def forward(self, src, tgt_in):
        """src (B, S), tgt_in (B, T) -> logits (B, T, vocab)."""
        T = tgt_in.shape[1]
        # (T, T), True above the diagonal: masked; bool as the padding masks (a float causal mask
        # beside bool padding masks is the mixture PyTorch warns about)
        causal = nn.Transformer.generate_square_subsequent_mask(T, device=tgt_in.device,
                                                                dtype=tg.bool)
        out = self.transformer(self._embed(self.src_embed, src), self._embed(self.tgt_embed, tgt_in),
                               tgt_mask=causal, src_key_padding_mask=src == PAD,
                               tgt_key_padding_mask=tgt_in == PAD, memory_key_padding_mask=src == PAD)
        return self.head(out)

    @tg.no_grad()
    def greedy(self, src, max_len):
        """Decode greedily: (B, S) -> (B, max_len) token ids."""
        B = src.shape[0]
        out = tg.full((B, 1), BOS, dtype=tg.int64, device=src.device)
        for _ in range(max_len):
            logits = self(src, out)                                  # (B, t, vocab)
            nxt = logits[:, -1].argmax(dim=-1, keepdim=True)         # (B, 1)
            out = tg.cat([out, nxt], dim=1)
        return out[:, 1:]


def shift_right(tgt):
    """The decoder input for teacher forcing: BOS then the target without its last token."""
    bos = tg.full((tgt.shape[0], 1), BOS, dtype=tg.int64, device=tgt.device)
    return tg.cat([bos, tgt[:, :-1]], dim=1)
