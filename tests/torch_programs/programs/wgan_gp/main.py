"""A WGAN with gradient penalty (Gulrajani et al., 2017) on a 2-D toy density: eight Gaussians on
a circle. The critic is trained n_critic times per generator step on the Wasserstein estimate
E[D(fake)] - E[D(real)] plus lambda * (||grad_x D(x_hat)|| - 1)^2 at points x_hat drawn on the
lines between real and fake samples; that gradient is taken with torch.autograd.grad(...,
create_graph=True) so the penalty itself is differentiated by backward. Adam with betas (0.5,
0.9), as in the paper. Every --log-interval generator steps it prints the losses and the mean
distance from generated points to their nearest mode, and at the end it saves both networks."""
import argparse
import math

import torch
import torch.nn as nn
import torch.optim as optim


def eight_gaussians(n, scale=2.0, std=0.02, generator=None):
    """n points from eight Gaussians centred on a circle of radius `scale`: (n, 2)."""
    angles = torch.randint(0, 8, (n,), generator=generator).float() * (2 * math.pi / 8)
    centres = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1) * scale
    return centres + std * torch.randn(n, 2, generator=generator)


def mode_centres(scale=2.0):
    angles = torch.arange(8).float() * (2 * math.pi / 8)
    return torch.stack([torch.cos(angles), torch.sin(angles)], dim=1) * scale


class Generator(nn.Module):
    def __init__(self, noise_dim, hidden):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(noise_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 2))

    def forward(self, z):
        return self.net(z)


class Critic(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)


def gradient_penalty(critic, real, fake):
    """lambda-free penalty: mean over the batch of (||d critic / d x_hat||_2 - 1)^2."""
    alpha = torch.rand(real.size(0), 1, device=real.device)
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = critic(x_hat)
    grads, = torch.autograd.grad(outputs=scores, inputs=x_hat,
                                 grad_outputs=torch.ones_like(scores),
                                 create_graph=True, retain_graph=True)
    return ((grads.norm(2, dim=1) - 1) ** 2).mean()


def distance_to_modes(samples, centres):
    """Mean over samples of the distance to the nearest mode centre."""
    distances = torch.cdist(samples, centres)          # (N, 8)
    return distances.min(dim=1).values.mean().item()


def main():
    parser = argparse.ArgumentParser(description='WGAN-GP on eight Gaussians')
    parser.add_argument('--steps', type=int, default=2000, help='generator steps')
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--n-critic', type=int, default=5, help='critic steps per generator step')
    parser.add_argument('--gp-weight', type=float, default=0.1, help='lambda of the penalty')
    parser.add_argument('--lr', type=float, default=1e-4)
    parser.add_argument('--hidden', type=int, default=128)
    parser.add_argument('--noise-dim', type=int, default=2)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--log-interval', type=int, default=100)
    parser.add_argument('--save', type=str, default='wgan_gp.pt')
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    generator = Generator(args.noise_dim, args.hidden).to(device)
    critic = Critic(args.hidden).to(device)
    opt_g = optim.Adam(generator.parameters(), lr=args.lr, betas=(0.5, 0.9))
    opt_c = optim.Adam(critic.parameters(), lr=args.lr, betas=(0.5, 0.9))
    centres = mode_centres().to(device)

    with torch.no_grad():
        start = distance_to_modes(generator(torch.randn(1000, args.noise_dim, device=device)),
                                  centres)
    print('step 0 distance to modes: {:.4f}'.format(start))
    for step in range(1, args.steps + 1):
        for _ in range(args.n_critic):
            real = eight_gaussians(args.batch_size).to(device)
            with torch.no_grad():
                fake = generator(torch.randn(args.batch_size, args.noise_dim, device=device))
            opt_c.zero_grad()
            wasserstein = critic(real).mean() - critic(fake).mean()
            penalty = gradient_penalty(critic, real, fake)
            critic_loss = -wasserstein + args.gp_weight * penalty
            critic_loss.backward()
            opt_c.step()

        for p in critic.parameters():
            p.requires_grad_(False)        # the generator step needs no critic gradients
        opt_g.zero_grad()
        fake = generator(torch.randn(args.batch_size, args.noise_dim, device=device))
        generator_loss = -critic(fake).mean()
        generator_loss.backward()
        opt_g.step()
        for p in critic.parameters():
            p.requires_grad_(True)

        if step % args.log_interval == 0:
            with torch.no_grad():
                samples = generator(torch.randn(1000, args.noise_dim, device=device))
            print('step {} critic loss: {:.4f} W: {:.4f} GP: {:.4f} G loss: {:.4f} '
                  'distance to modes: {:.4f}'.format(
                      step, critic_loss.item(), wasserstein.item(), penalty.item(),
                      generator_loss.item(), distance_to_modes(samples, centres)))

    torch.save({'generator': generator.state_dict(), 'critic': critic.state_dict()}, args.save)


if __name__ == '__main__':
    main()
