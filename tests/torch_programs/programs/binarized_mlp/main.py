"""A binarized MLP on MNIST (BinaryConnect-style weights, sign activations), trained through
straight-through estimators written as custom autograd Functions. Written for tinygen's tests as
a plain PyTorch program: the tests run it unchanged on tinygen through the import shim.

Each BinaryLinear keeps real-valued latent weights; the forward pass uses their signs (times the
mean absolute value of each output row, so the scale survives), and the backward pass treats the
sign as the identity where |w| <= 1 and as a constant elsewhere (the straight-through
estimator). Hidden activations go through a sign as well, whose gradient is passed where the
pre-activation lies in [-1, 1]. After each step the latent weights are clipped to [-1, 1] in
place. The two Functions use the two forms PyTorch offers: forward(ctx, ...) with
save_for_backward, and forward(...) with setup_context and @once_differentiable."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd.function import once_differentiable
from torchvision import datasets, transforms


class SignSTE(torch.autograd.Function):
    """sign(w) * scale in the forward; the gradient passes where |w| <= 1."""

    @staticmethod
    def forward(ctx, weight):
        ctx.save_for_backward(weight)
        scale = weight.abs().mean(dim=1, keepdim=True)
        return torch.where(weight >= 0, scale, -scale)

    @staticmethod
    def backward(ctx, grad_output):
        (weight,) = ctx.saved_tensors
        return grad_output * (weight.abs() <= 1).to(grad_output.dtype)


class HardSign(torch.autograd.Function):
    """sign(x) for activations (0 maps to +1); the gradient passes where |x| <= clip."""

    @staticmethod
    def forward(x, clip=1.0):
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, clip = inputs
        ctx.save_for_backward(x)
        ctx.clip = clip

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * (x.abs() <= ctx.clip).to(grad_output.dtype), None


class BinaryLinear(nn.Linear):
    def forward(self, x):
        return F.linear(x, SignSTE.apply(self.weight), self.bias)


class Net(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.fc1 = BinaryLinear(784, hidden)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.fc2 = BinaryLinear(hidden, hidden)
        self.bn2 = nn.BatchNorm1d(hidden)
        self.out = nn.Linear(hidden, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = HardSign.apply(self.bn1(self.fc1(x)))
        x = HardSign.apply(self.bn2(self.fc2(x)), 1.0)
        return self.out(x)

    def clip_latent_weights(self):
        with torch.no_grad():
            for layer in (self.fc1, self.fc2):
                layer.weight.clamp_(-1, 1)


def train(args, model, loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(loader):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data), target)
        loss.backward()
        optimizer.step()
        model.clip_latent_weights()
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{}]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(loader.dataset), loss.item()))
        if args.max_batches and batch_idx + 1 >= args.max_batches:
            break


def test(args, model, loader):
    model.eval()
    loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for batch_idx, (data, target) in enumerate(loader):
            output = model(data)
            loss += F.cross_entropy(output, target, reduction='sum').item()
            correct += (output.argmax(dim=1) == target).sum().item()
            seen += len(data)
            if args.max_batches and batch_idx + 1 >= args.max_batches:
                break
    print('Test set: Average loss: {:.4f}, Accuracy: {}/{} ({:.1f}%)'.format(
        loss / seen, correct, seen, 100.0 * correct / seen))


def main():
    parser = argparse.ArgumentParser(description='Binarized MLP on MNIST (straight-through)')
    parser.add_argument('--batch-size', type=int, default=100, metavar='N')
    parser.add_argument('--test-batch-size', type=int, default=1000, metavar='N')
    parser.add_argument('--epochs', type=int, default=5, metavar='N')
    parser.add_argument('--hidden', type=int, default=512, metavar='H')
    parser.add_argument('--lr', type=float, default=1e-3, metavar='LR')
    parser.add_argument('--seed', type=int, default=1, metavar='S')
    parser.add_argument('--log-interval', type=int, default=100, metavar='N')
    parser.add_argument('--max-batches', type=int, default=0, metavar='N',
                        help='stop each epoch after N batches (0: the whole set)')
    parser.add_argument('--save-model', action='store_true', default=False)
    parser.add_argument('--compile', action='store_true', default=False,
                        help='wrap the model with torch.compile')
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize((0.1307,), (0.3081,))])
    train_set = datasets.MNIST('../data', train=True, download=True, transform=transform)
    test_set = datasets.MNIST('../data', train=False, transform=transform)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size,
                                               shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=args.test_batch_size)

    model = Net(args.hidden)
    if args.compile:
        model = torch.compile(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    for epoch in range(1, args.epochs + 1):
        train(args, model, train_loader, optimizer, epoch)
        test(args, model, test_loader)
    if args.save_model:
        plain = getattr(model, '_orig_mod', model)      # without torch.compile's key prefix
        torch.save(plain.state_dict(), 'mnist_binarized.pt')


if __name__ == '__main__':
    main()
