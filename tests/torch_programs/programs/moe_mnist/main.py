"""A sparse mixture-of-experts classifier (Shazeer et al., 2017) on MNIST. A gate scores the
experts for each image; the top-k scores (torch.topk) are softmaxed and scattered (scatter_)
back into a dense (batch, experts) gate matrix that is zero elsewhere. The experts' weights are
stacked in one Parameter per layer and applied to the whole batch by torch.einsum, and the gate
matrix mixes their outputs (einsum again). An auxiliary load-balancing loss (the fraction of
images routed to each expert times its mean gate probability) keeps the experts in use; how
often each expert is picked is counted in a registered buffer (index_add_). The gate and the
head live in an nn.ModuleDict. The training images are split by random_split into train and
validation, batched by a DataLoader with a custom collate_fn that flattens them; validation
reports accuracy (argmax) and the mean probability given to the true class (gather)."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset, random_split
from torchvision import datasets, transforms


class Experts(nn.Module):
    """E two-layer MLPs, applied all at once: (B, D) -> (B, E, O)."""

    def __init__(self, num_experts, in_dim, hidden, out_dim):
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(num_experts, in_dim, hidden) * in_dim ** -0.5)
        self.b1 = nn.Parameter(torch.zeros(num_experts, hidden))
        self.w2 = nn.Parameter(torch.randn(num_experts, hidden, out_dim) * hidden ** -0.5)
        self.b2 = nn.Parameter(torch.zeros(num_experts, out_dim))

    def forward(self, x):
        h = F.relu(torch.einsum('bd,edh->beh', x, self.w1) + self.b1)    # (B, E, H)
        return torch.einsum('beh,eho->beo', h, self.w2) + self.b2       # (B, E, O)


class MixtureOfExperts(nn.Module):
    def __init__(self, in_dim=784, num_experts=4, top_k=2, hidden=64, features=64,
                 num_classes=10):
        super().__init__()
        self.top_k = top_k
        self.experts = Experts(num_experts, in_dim, hidden, features)
        self.layers = nn.ModuleDict({
            'gate': nn.Linear(in_dim, num_experts),
            'head': nn.Sequential(nn.ReLU(), nn.Linear(features, num_classes)),
        })
        self.register_buffer('expert_counts', torch.zeros(num_experts, dtype=torch.long))

    def forward(self, x):
        logits = self.layers['gate'](x)                                  # (B, E)
        top_values, top_index = logits.topk(self.top_k, dim=1)           # (B, k)
        gates = torch.zeros_like(logits).scatter_(1, top_index, F.softmax(top_values, dim=1))
        mixed = torch.einsum('be,beo->bo', gates, self.experts(x))       # (B, O)
        if self.training:
            with torch.no_grad():
                picked = top_index.reshape(-1)
                self.expert_counts.index_add_(0, picked, torch.ones_like(picked))
        # load balancing: fraction routed to each expert times its mean gate probability
        routed = (gates > 0).float().mean(dim=0)
        balance = (routed * F.softmax(logits, dim=1).mean(dim=0)).sum() * logits.size(1)
        return self.layers['head'](mixed), balance


def flatten_collate(batch):
    images = torch.stack([image for image, _ in batch]).flatten(1)       # (B, 784)
    labels = torch.tensor([label for _, label in batch])
    return images, labels


def validate(model, loader):
    model.eval()
    correct = seen = 0
    true_prob = 0.0
    with torch.no_grad():
        for images, labels in loader:
            logits, _ = model(images)
            probs = F.softmax(logits, dim=1)
            true_prob += probs.gather(1, labels.unsqueeze(1)).sum().item()
            correct += (probs.argmax(dim=1) == labels).sum().item()
            seen += len(labels)
    print('Validation: accuracy {:.4f}, mean true-class probability {:.4f}'.format(
        correct / seen, true_prob / seen))


def main():
    parser = argparse.ArgumentParser(description='Mixture of experts on MNIST')
    parser.add_argument('--images', type=int, default=12000, help='training images used')
    parser.add_argument('--val-fraction', type=float, default=0.1)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--experts', type=int, default=4)
    parser.add_argument('--top-k', type=int, default=2)
    parser.add_argument('--hidden', type=int, default=64)
    parser.add_argument('--balance-weight', type=float, default=0.01)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--log-interval', type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize((0.1307,), (0.3081,))])
    mnist = datasets.MNIST('../data', train=True, download=True, transform=transform)
    data = Subset(mnist, range(args.images))
    val_size = int(args.images * args.val_fraction)
    train_set, val_set = random_split(data, [args.images - val_size, val_size])
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              collate_fn=flatten_collate)
    val_loader = DataLoader(val_set, batch_size=500, collate_fn=flatten_collate)

    model = MixtureOfExperts(num_experts=args.experts, top_k=args.top_k, hidden=args.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    for epoch in range(1, args.epochs + 1):
        model.train()
        for batch_idx, (images, labels) in enumerate(train_loader):
            optimizer.zero_grad()
            logits, balance = model(images)
            loss = F.cross_entropy(logits, labels)
            (loss + args.balance_weight * balance).backward()
            optimizer.step()
            if batch_idx % args.log_interval == 0:
                print('Train Epoch: {} [{}/{}]\tLoss: {:.6f}\tbalance: {:.4f}'.format(
                    epoch, batch_idx * len(images), len(train_loader.dataset), loss.item(),
                    balance.item()))
        validate(model, val_loader)
        print('expert usage: {}'.format(model.expert_counts.tolist()))
    state = model.state_dict()
    print('state dict: {}'.format(sorted(state.keys())))


if __name__ == '__main__':
    main()
