"""A RealNVP-style normalizing flow (Dinh et al., 2017) on the 2-D two-moons density, with
checkpoints it can resume from. Each coupling layer keeps one coordinate, and from it an MLP
gives the log-scale (tanh-bounded) and shift of the other; the layers alternate which
coordinate they keep, the mask held in a registered buffer. The base density is a standard
normal from torch.distributions (Independent(Normal(0, 1), 1)); the log-likelihood of x is
log p(z) plus the sum of the log-scales. The validation NLL drives ReduceLROnPlateau, and is
compared with a Gaussian fitted to the data, expressed as a TransformedDistribution of the base
by an AffineTransform. Every --save-every steps the model, optimizer, scheduler, step and RNG
state go into one checkpoint dict with torch.save; --resume loads it and continues from the
saved step."""
import argparse
import math
import os

import torch
import torch.nn as nn
from torch.distributions import AffineTransform, Independent, Normal, TransformedDistribution


def two_moons(n, noise=0.05, generator=None):
    """n points of two interleaved half circles: (n, 2)."""
    t = torch.rand(n, generator=generator) * math.pi
    upper = torch.rand(n, generator=generator) < 0.5
    x = torch.where(upper, torch.cos(t), 1 - torch.cos(t))
    y = torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))
    points = torch.stack([x, y], dim=1) + noise * torch.randn(n, 2, generator=generator)
    return points - torch.tensor([0.5, 0.25])


class Coupling(nn.Module):
    def __init__(self, keep, hidden):
        super().__init__()
        mask = torch.zeros(2)
        mask[keep] = 1.0
        self.register_buffer('mask', mask)
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 4))

    def _scale_shift(self, kept):
        log_scale, shift = self.net(kept).chunk(2, dim=1)
        log_scale = torch.tanh(log_scale) * (1 - self.mask)
        return log_scale, shift * (1 - self.mask)

    def forward(self, x):
        """x -> z, and log|det dz/dx| per point."""
        log_scale, shift = self._scale_shift(x * self.mask)
        return x * torch.exp(log_scale) + shift, log_scale.sum(dim=1)

    def inverse(self, z):
        log_scale, shift = self._scale_shift(z * self.mask)
        return (z - shift) * torch.exp(-log_scale)


class RealNVP(nn.Module):
    def __init__(self, layers, hidden):
        super().__init__()
        self.layers = nn.ModuleList([Coupling(i % 2, hidden) for i in range(layers)])
        self.register_buffer('base_loc', torch.zeros(2))
        self.register_buffer('base_scale', torch.ones(2))

    def base(self):
        return Independent(Normal(self.base_loc, self.base_scale), 1)

    def log_prob(self, x):
        log_det = torch.zeros(x.size(0))
        for layer in self.layers:
            x, ld = layer(x)
            log_det = log_det + ld
        return self.base().log_prob(x) + log_det

    def sample(self, n):
        z = self.base().rsample((n,))
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z


def save_checkpoint(path, step, model, optimizer, scheduler):
    torch.save({'step': step, 'model': model.state_dict(), 'optimizer': optimizer.state_dict(),
                'scheduler': scheduler.state_dict(), 'rng': torch.get_rng_state()}, path)


def main():
    parser = argparse.ArgumentParser(description='RealNVP on two moons, resumable')
    parser.add_argument('--steps', type=int, default=3000, help='total training steps')
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--layers', type=int, default=6)
    parser.add_argument('--hidden', type=int, default=64)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--patience', type=int, default=2)
    parser.add_argument('--eval-every', type=int, default=100)
    parser.add_argument('--save-every', type=int, default=500)
    parser.add_argument('--checkpoint', type=str, default='flow.ckpt')
    parser.add_argument('--resume', action='store_true')
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    validation = two_moons(2000, generator=torch.Generator().manual_seed(12345))
    model = RealNVP(args.layers, args.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode='min', factor=0.5,
                                                           patience=args.patience)
    start = 0
    if args.resume and os.path.exists(args.checkpoint):
        checkpoint = torch.load(args.checkpoint)
        model.load_state_dict(checkpoint['model'])
        optimizer.load_state_dict(checkpoint['optimizer'])
        scheduler.load_state_dict(checkpoint['scheduler'])
        torch.set_rng_state(checkpoint['rng'])
        start = checkpoint['step']
        print('Resumed from step {} (lr {:.2e})'.format(start, optimizer.param_groups[0]['lr']))

    mean, std = validation.mean(dim=0), validation.std(dim=0)
    gaussian = TransformedDistribution(model.base(), [AffineTransform(mean, std, event_dim=1)])
    print('Gaussian fit: validation NLL {:.4f}'.format(-gaussian.log_prob(validation).mean()))

    for step in range(start + 1, args.steps + 1):
        model.train()
        optimizer.zero_grad()
        loss = -model.log_prob(two_moons(args.batch_size)).mean()
        loss.backward()
        optimizer.step()
        if step % args.eval_every == 0:
            model.eval()
            with torch.no_grad():
                val_nll = -model.log_prob(validation).mean().item()
            scheduler.step(val_nll)
            print('step {} train NLL {:.4f} validation NLL {:.4f} lr {:.2e}'.format(
                step, loss.item(), val_nll, optimizer.param_groups[0]['lr']))
        if step % args.save_every == 0 or step == args.steps:
            save_checkpoint(args.checkpoint, step, model, optimizer, scheduler)

    with torch.no_grad():
        samples = model.sample(1000)
    print('samples: mean {} std {}'.format(
        [round(v, 3) for v in samples.mean(dim=0).tolist()],
        [round(v, 3) for v in samples.std(dim=0).tolist()]))


if __name__ == '__main__':
    main()
