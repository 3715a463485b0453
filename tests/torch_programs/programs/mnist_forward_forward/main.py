"""Hinton's forward-forward algorithm (2022) on MNIST, in the form of pytorch/examples
mnist_forward_forward/main.py. No gradient crosses layers: the label is written into the image
itself (its first 10 pixels become a one-hot code scaled to the brightest pixel), positive data
carries the true label and negative data a wrong one drawn at random, and each Linear+ReLU layer
learns on its own, with its own Adam, to give positive data a goodness (the mean squared
activation) above a threshold and negative data one below it: the loss is the softplus of how far
each goodness is on the wrong side. A layer sees its input scaled to unit length, so only the
direction of the previous layer's activity passes on, not its goodness; once a layer is trained,
its detached outputs are the next layer's data. A digit is predicted as the label whose embedding
gives the most goodness summed over the layers. Training is full-batch on the first --train_size
images. A plain PyTorch program: the tests run it unchanged on tinygen through the import shim;
its own flags (--epochs, --train_size, --test_size) make a run short, so nothing was added."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim import Adam
from torch.utils.data import DataLoader
from torchvision.datasets import MNIST
from torchvision.transforms import Compose, Normalize, ToTensor

CLASSES = 10


def embed_label(images, labels):
    """(n, 784) images with their first CLASSES pixels replaced by a one-hot code of `labels`
    (an int for all, or an (n,) tensor), at the height of the brightest pixel of the batch."""
    if not torch.is_tensor(labels):
        labels = torch.full((images.size(0),), labels, dtype=torch.long, device=images.device)
    code = F.one_hot(labels, CLASSES).to(images.dtype) * images.max()
    return torch.cat([code, images[:, CLASSES:]], dim=1)


def wrong_labels(labels):
    """For each label, another one, uniformly among the CLASSES - 1 wrong ones."""
    shift = torch.randint(1, CLASSES, labels.shape, device=labels.device)
    return (labels + shift) % CLASSES


def goodness(activity):
    return activity.pow(2).mean(dim=1)


class FFLayer(nn.Module):
    """Linear + ReLU on the input's direction, with its own optimiser and local objective."""

    def __init__(self, n_in, n_out, args):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.threshold = args.threshold
        self.epochs = args.epochs
        self.log_interval = args.log_interval
        self.optimizer = Adam(self.linear.parameters(), lr=args.lr)

    def forward(self, x):
        direction = x / (x.norm(p=2, dim=1, keepdim=True) + 1e-4)
        return F.relu(self.linear(direction))

    def fit(self, positive, negative):
        """Trains this layer alone; returns what it passes on for the next one (detached)."""
        for epoch in range(self.epochs):
            above = self.threshold - goodness(self(positive))   # > 0: positive not good enough
            below = goodness(self(negative)) - self.threshold   # > 0: negative too good
            loss = F.softplus(torch.cat([above, below])).mean()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            if epoch % self.log_interval == 0:
                print('Loss: {:.6f}'.format(loss.item()))
        with torch.no_grad():
            return self(positive), self(negative)


class FFNet(nn.Module):
    def __init__(self, sizes, args):
        super().__init__()
        self.layers = nn.ModuleList(
            FFLayer(n_in, n_out, args) for n_in, n_out in zip(sizes[:-1], sizes[1:]))

    def fit(self, positive, negative):
        for index, layer in enumerate(self.layers):
            print('training layer: ', index)
            positive, negative = layer.fit(positive, negative)

    @torch.no_grad()
    def predict(self, images):
        scores = []
        for label in range(CLASSES):
            h = embed_label(images, label)
            total = torch.zeros(images.size(0), device=images.device)
            for layer in self.layers:
                h = layer(h)
                total = total + goodness(h)
            scores.append(total)
        return torch.stack(scores, dim=1).argmax(dim=1)


def first_batch(dataset, size, device, **kwargs):
    images, labels = next(iter(DataLoader(dataset, batch_size=size, **kwargs)))
    return images.reshape(images.size(0), -1).to(device), labels.to(device)


def main():
    parser = argparse.ArgumentParser(description='PyTorch forward-forward MNIST Example')
    parser.add_argument('--epochs', type=int, default=1000, metavar='N',
                        help='number of epochs to train each layer (default: 1000)')
    parser.add_argument('--lr', type=float, default=0.03, metavar='LR',
                        help='learning rate (default: 0.03)')
    parser.add_argument('--no_cuda', action='store_true', default=False,
                        help='disables CUDA training')
    parser.add_argument('--no_xpu', action='store_true', default=False,
                        help='disables XPU training')
    parser.add_argument('--no_mps', action='store_true', default=False,
                        help='disables MPS training')
    parser.add_argument('--seed', type=int, default=1, metavar='S',
                        help='random seed (default: 1)')
    parser.add_argument('--save_model', '--save-model', dest='save_model', action='store_true',
                        default=False, help='save the trained model to mnist_ff.pt')
    parser.add_argument('--train_size', type=int, default=50000,
                        help='size of the training set (one full batch)')
    parser.add_argument('--threshold', type=float, default=2,
                        help='goodness threshold between positive and negative data')
    parser.add_argument('--test_size', type=int, default=10000, help='size of the test set')
    parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                        help='how many epochs to wait before logging a layer\'s loss')
    args = parser.parse_args()

    use_cuda = not args.no_cuda and torch.cuda.is_available()
    use_xpu = not args.no_xpu and torch.xpu.is_available()
    use_mps = not args.no_mps and torch.backends.mps.is_available()
    if use_cuda:
        device = torch.device('cuda')
    elif use_xpu:
        device = torch.device('xpu')
    elif use_mps:
        device = torch.device('mps')
    else:
        device = torch.device('cpu')

    torch.manual_seed(args.seed)

    loader_kwargs = {'num_workers': 1, 'pin_memory': True, 'shuffle': True} if use_cuda else {}
    transform = Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])
    x, y = first_batch(MNIST('./data/', train=True, download=True, transform=transform),
                       args.train_size, device, **loader_kwargs)
    x_test, y_test = first_batch(MNIST('./data/', train=False, download=True,
                                       transform=transform),
                                 args.test_size, device, **loader_kwargs)

    net = FFNet([784, 500, 500], args).to(device)
    net.fit(embed_label(x, y), embed_label(x, wrong_labels(y)))

    print('train error: {:.4f}'.format(1.0 - net.predict(x).eq(y).float().mean().item()))
    if args.save_model:
        torch.save(net.state_dict(), 'mnist_ff.pt')
    print('test error: {:.4f}'.format(
        1.0 - net.predict(x_test).eq(y_test).float().mean().item()))


if __name__ == '__main__':
    main()
