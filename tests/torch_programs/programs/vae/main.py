"""A variational autoencoder (Kingma and Welling, 2014) on MNIST, in the form of pytorch/examples
vae/main.py: a 784-400-20 encoder gives the mean and log-variance of q(z|x), a sample of z is
drawn by the reparameterisation trick (mu + sigma * eps, so gradients reach the encoder), and a
20-400-784 decoder with a sigmoid gives the pixel probabilities. The loss is the binary cross
entropy of the reconstruction plus the KL divergence from the N(0, I) prior, both summed over
pixels and the batch; Adam at lr 1e-3. After each epoch it writes test images beside their
reconstructions, and 64 digits decoded from prior samples, with torchvision.utils.save_image
into results/. A plain PyTorch program: the tests run it unchanged on tinygen through the import
shim. Added for short runs: --max-batches (the average losses are then over the images seen)."""
import argparse
import os

import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import DataLoader
from torchvision import datasets, transforms
from torchvision.utils import save_image

PIXELS = 28 * 28
HIDDEN = 400
LATENT = 20


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()
        self.enc_hidden = nn.Linear(PIXELS, HIDDEN)
        self.enc_mu = nn.Linear(HIDDEN, LATENT)
        self.enc_logvar = nn.Linear(HIDDEN, LATENT)
        self.dec_hidden = nn.Linear(LATENT, HIDDEN)
        self.dec_out = nn.Linear(HIDDEN, PIXELS)

    def encode(self, x):
        h = F.relu(self.enc_hidden(x))
        return self.enc_mu(h), self.enc_logvar(h)

    def sample_latent(self, mu, logvar):
        sigma = (0.5 * logvar).exp()
        return mu + sigma * torch.randn_like(sigma)

    def decode(self, z):
        return torch.sigmoid(self.dec_out(F.relu(self.dec_hidden(z))))

    def forward(self, images):
        mu, logvar = self.encode(images.reshape(-1, PIXELS))
        return self.decode(self.sample_latent(mu, logvar)), mu, logvar


def vae_loss(reconstruction, images, mu, logvar):
    """-ELBO summed over the batch: reconstruction BCE + KL(N(mu, sigma^2) || N(0, I))."""
    bce = F.binary_cross_entropy(reconstruction, images.reshape(-1, PIXELS), reduction='sum')
    # closed form for diagonal Gaussians: 1/2 sum(mu^2 + sigma^2 - log sigma^2 - 1)
    kld = 0.5 * torch.sum(mu.pow(2) + logvar.exp() - logvar - 1)
    return bce + kld


def train(args, model, device, loader, optimizer, epoch):
    model.train()
    total, seen = 0.0, 0
    for batch_idx, (images, _) in enumerate(loader):
        images = images.to(device)
        optimizer.zero_grad()
        reconstruction, mu, logvar = model(images)
        loss = vae_loss(reconstruction, images, mu, logvar)
        loss.backward()
        optimizer.step()
        total += loss.item()
        seen += len(images)
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(images), len(loader.dataset),
                100. * batch_idx / len(loader), loss.item() / len(images)))
        if args.max_batches and batch_idx + 1 >= args.max_batches:
            break
    print('====> Epoch: {} Average loss: {:.4f}'.format(epoch, total / seen))


def test(args, model, device, loader, epoch):
    model.eval()
    total, seen = 0.0, 0
    with torch.no_grad():
        for batch_idx, (images, _) in enumerate(loader):
            images = images.to(device)
            reconstruction, mu, logvar = model(images)
            total += vae_loss(reconstruction, images, mu, logvar).item()
            seen += len(images)
            if batch_idx == 0:
                # the first images of the first batch over their reconstructions
                shown = min(8, len(images))
                pairs = torch.cat([images[:shown],
                                   reconstruction.reshape(-1, 1, 28, 28)[:shown]])
                save_image(pairs.cpu(), os.path.join('results', 'reconstruction_{}.png'.format(
                    epoch)), nrow=shown)
            if args.max_batches and batch_idx + 1 >= args.max_batches:
                break
    print('====> Test set loss: {:.4f}'.format(total / seen))


def main():
    parser = argparse.ArgumentParser(description='VAE MNIST Example')
    parser.add_argument('--batch-size', type=int, default=128, metavar='N',
                        help='input batch size for training (default: 128)')
    parser.add_argument('--epochs', type=int, default=10, metavar='N',
                        help='number of epochs to train (default: 10)')
    parser.add_argument('--no-cuda', action='store_true', default=False,
                        help='disables CUDA training')
    parser.add_argument('--seed', type=int, default=1, metavar='S',
                        help='random seed (default: 1)')
    parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                        help='how many batches to wait before logging training status')
    parser.add_argument('--max-batches', type=int, default=0, metavar='N',
                        help='stop each train/test pass after N batches (0: no limit)')
    args = parser.parse_args()
    use_cuda = not args.no_cuda and torch.cuda.is_available()
    device = torch.device('cuda' if use_cuda else 'cpu')

    torch.manual_seed(args.seed)

    loader_kwargs = {'batch_size': args.batch_size, 'shuffle': True}
    if use_cuda:
        loader_kwargs.update(num_workers=1, pin_memory=True)
    to_tensor = transforms.ToTensor()             # pixels in [0, 1]: Bernoulli targets for BCE
    train_loader = DataLoader(datasets.MNIST('../data', train=True, download=True,
                                             transform=to_tensor), **loader_kwargs)
    test_loader = DataLoader(datasets.MNIST('../data', train=False, transform=to_tensor),
                             **loader_kwargs)

    model = VAE().to(device)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    os.makedirs('results', exist_ok=True)

    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        test(args, model, device, test_loader, epoch)
        with torch.no_grad():
            # digits decoded from the prior: what the model generates on its own
            z = torch.randn(64, LATENT, device=device)
            samples = model.decode(z).reshape(64, 1, 28, 28)
            save_image(samples.cpu(), os.path.join('results', 'sample_{}.png'.format(epoch)))


if __name__ == '__main__':
    main()
