"""An encoder-decoder GRU that learns to sort variable-length sequences of digits, with additive
(Bahdanau-style) attention written by hand. The source batch is padded by a custom collate_fn
(pad_sequence) and run through the encoder packed (pack_padded_sequence / pad_packed_sequence),
so padding never enters the encoder state; attention scores over padded positions are masked
with masked_fill before the softmax, and the context is a bmm of the weights and the encoder
outputs. The decoder is fed the true previous token with probability --teacher-forcing, else
its own argmax. The output projection shares its weight with the decoder embedding (weight
tying). Gradients are clipped with clip_grad_norm_. The data set is drawn once, split with
random_split into train and validation, and validation reports the token and whole-sequence
accuracy of greedy decoding under torch.no_grad()."""
import argparse
import random

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
from torch.utils.data import DataLoader, Dataset, random_split

PAD, BOS, EOS = 0, 1, 2
SPECIAL = 3                                  # digits d are tokens d + SPECIAL


class SortingDataset(Dataset):
    def __init__(self, size, num_digits, min_len, max_len, seed):
        rng = random.Random(seed)
        self.examples = []
        for _ in range(size):
            length = rng.randint(min_len, max_len)
            digits = [rng.randrange(num_digits) for _ in range(length)]
            self.examples.append((torch.tensor(digits) + SPECIAL,
                                  torch.tensor(sorted(digits)) + SPECIAL))

    def __len__(self):
        return len(self.examples)

    def __getitem__(self, index):
        return self.examples[index]


def collate(batch):
    """Pad a list of (source, target) pairs. Returns sources (B, S), their lengths (B,),
    decoder inputs (B, T+1) starting with BOS and targets (B, T+1) ending with EOS."""
    sources, targets = zip(*batch)
    lengths = torch.tensor([len(s) for s in sources])
    bos = torch.tensor([BOS])
    eos = torch.tensor([EOS])
    decoder_in = pad_sequence([torch.cat([bos, t]) for t in targets], batch_first=True,
                              padding_value=PAD)
    decoder_out = pad_sequence([torch.cat([t, eos]) for t in targets], batch_first=True,
                               padding_value=PAD)
    return pad_sequence(list(sources), batch_first=True, padding_value=PAD), lengths, \
        decoder_in, decoder_out


class Encoder(nn.Module):
    def __init__(self, vocab, emb, hidden):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb, padding_idx=PAD)
        self.rnn = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, hidden)

    def forward(self, sources, lengths):
        packed = pack_padded_sequence(self.embedding(sources), lengths, batch_first=True,
                                      enforce_sorted=False)
        outputs, last = self.rnn(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True)    # (B, S, 2H)
        state = torch.tanh(self.bridge(torch.cat([last[0], last[1]], dim=1)))   # (B, H)
        return outputs, state.unsqueeze(0)


class AdditiveAttention(nn.Module):
    def __init__(self, enc_dim, dec_dim, attn_dim):
        super().__init__()
        self.keys = nn.Linear(enc_dim, attn_dim, bias=False)
        self.query = nn.Linear(dec_dim, attn_dim, bias=False)
        self.score = nn.Linear(attn_dim, 1, bias=False)

    def forward(self, query, keys, values, mask):
        # query (B, H), keys (B, S, A) precomputed, values (B, S, 2H), mask (B, S) True at pads
        scores = self.score(torch.tanh(keys + self.query(query).unsqueeze(1))).squeeze(2)
        scores = scores.masked_fill(mask, float('-inf'))
        weights = F.softmax(scores, dim=1)                               # (B, S)
        context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)     # (B, 2H)
        return context, weights


class Decoder(nn.Module):
    def __init__(self, vocab, emb, hidden):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb, padding_idx=PAD)
        self.attention = AdditiveAttention(2 * hidden, hidden, hidden)
        self.rnn = nn.GRU(emb + 2 * hidden, hidden, batch_first=True)
        self.to_emb = nn.Linear(hidden + 2 * hidden, emb)
        self.out = nn.Linear(emb, vocab)
        self.out.weight = self.embedding.weight                          # weight tying

    def step(self, token, state, keys, values, mask):
        context, weights = self.attention(state[-1], keys, values, mask)
        rnn_in = torch.cat([self.embedding(token), context], dim=1).unsqueeze(1)
        output, state = self.rnn(rnn_in, state)
        logits = self.out(torch.tanh(self.to_emb(torch.cat([output.squeeze(1), context], 1))))
        return logits, state, weights


class Seq2Seq(nn.Module):
    def __init__(self, vocab, emb, hidden):
        super().__init__()
        self.encoder = Encoder(vocab, emb, hidden)
        self.decoder = Decoder(vocab, emb, hidden)

    def forward(self, sources, lengths, decoder_in, teacher_forcing):
        values, state = self.encoder(sources, lengths)
        mask = sources[:, :values.size(1)] == PAD
        keys = self.decoder.attention.keys(values)
        token = decoder_in[:, 0]
        all_logits = []
        for t in range(decoder_in.size(1)):
            logits, state, _ = self.decoder.step(token, state, keys, values, mask)
            all_logits.append(logits)
            if t + 1 < decoder_in.size(1):
                use_truth = random.random() < teacher_forcing
                token = decoder_in[:, t + 1] if use_truth else logits.argmax(dim=1)
        return torch.stack(all_logits, dim=1)                            # (B, T+1, V)


def train(args, model, loader, optimizer, epoch):
    model.train()
    for batch_idx, (sources, lengths, decoder_in, targets) in enumerate(loader):
        optimizer.zero_grad()
        logits = model(sources, lengths, decoder_in, args.teacher_forcing)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                               ignore_index=PAD)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{}]\tLoss: {:.6f}\tgrad norm: {:.3f}'.format(
                epoch, batch_idx * len(sources), len(loader.dataset), loss.item(), norm.item()))


def evaluate(model, loader):
    model.eval()
    correct_tokens = total_tokens = correct_sequences = total_sequences = 0
    with torch.no_grad():
        for sources, lengths, decoder_in, targets in loader:
            logits = model(sources, lengths, decoder_in, teacher_forcing=0.0)
            predictions = logits.argmax(dim=-1)
            real = targets != PAD
            hits = (predictions == targets) & real
            correct_tokens += hits.sum().item()
            total_tokens += real.sum().item()
            correct_sequences += (hits | ~real).all(dim=1).sum().item()
            total_sequences += len(sources)
    token_acc = correct_tokens / total_tokens
    print('Validation: token accuracy {:.4f}, sequence accuracy {:.4f}'.format(
        token_acc, correct_sequences / total_sequences))
    return token_acc


def main():
    parser = argparse.ArgumentParser(description='Sort digit sequences with attention')
    parser.add_argument('--num-digits', type=int, default=10)
    parser.add_argument('--min-len', type=int, default=3)
    parser.add_argument('--max-len', type=int, default=10)
    parser.add_argument('--size', type=int, default=20000, help='examples drawn in all')
    parser.add_argument('--val-fraction', type=float, default=0.1)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--emb', type=int, default=32)
    parser.add_argument('--hidden', type=int, default=64)
    parser.add_argument('--lr', type=float, default=3e-3)
    parser.add_argument('--clip', type=float, default=1.0)
    parser.add_argument('--teacher-forcing', type=float, default=0.5)
    parser.add_argument('--workers', type=int, default=0, help='DataLoader worker processes')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--log-interval', type=int, default=50)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    data = SortingDataset(args.size, args.num_digits, args.min_len, args.max_len, args.seed)
    val_size = int(len(data) * args.val_fraction)
    train_set, val_set = random_split(data, [len(data) - val_size, val_size],
                                      generator=torch.Generator().manual_seed(args.seed))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              collate_fn=collate, num_workers=args.workers,
                              persistent_workers=args.workers > 0)
    val_loader = DataLoader(val_set, batch_size=256, collate_fn=collate)

    model = Seq2Seq(args.num_digits + SPECIAL, args.emb, args.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    print('chance token accuracy: {:.4f}'.format(1 / args.num_digits))
    for epoch in range(1, args.epochs + 1):
        train(args, model, train_loader, optimizer, epoch)
        evaluate(model, val_loader)


if __name__ == '__main__':
    main()
