"""A small Vision Transformer (Dosovitskiy et al., 2021) on MNIST. Images are cut into patches
by a Conv2d whose kernel and stride are the patch size; a learned class token is prepended and
a learned position embedding added; a pre-norm nn.TransformerEncoder (batch_first=True,
norm_first=True, GELU) mixes the tokens and a LayerNorm + Linear head reads the class token.
AdamW with two parameter groups (no weight decay on biases, norms, the class token and the
position embedding), a OneCycleLR schedule stepped every batch, and cross entropy with label
smoothing. Test accuracy under model.eval() and torch.no_grad(). Added for short runs:
--max-batches."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import OneCycleLR
from torchvision import datasets, transforms


class PatchEmbedding(nn.Module):
    def __init__(self, image_size, patch_size, channels, dim):
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, kernel_size=patch_size, stride=patch_size)
        self.num_patches = (image_size // patch_size) ** 2

    def forward(self, x):
        x = self.proj(x)                           # (N, D, H/P, W/P)
        return x.flatten(2).transpose(1, 2)        # (N, num_patches, D)


class ViT(nn.Module):
    def __init__(self, image_size=28, patch_size=7, channels=1, num_classes=10, dim=64,
                 depth=2, heads=4, mlp_ratio=2, dropout=0.1):
        super().__init__()
        self.patches = PatchEmbedding(image_size, patch_size, channels, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.zeros(1, self.patches.num_patches + 1, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=dim * mlp_ratio,
                                           dropout=dropout, activation='gelu',
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=depth,
                                             enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        nn.init.trunc_normal_(self.pos_embedding, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def forward(self, images):
        tokens = self.patches(images)                                  # (N, L, D)
        cls = self.cls_token.expand(tokens.size(0), -1, -1)            # (N, 1, D)
        tokens = torch.cat([cls, tokens], dim=1) + self.pos_embedding  # (N, L+1, D)
        tokens = self.encoder(tokens)
        return self.head(self.norm(tokens[:, 0]))


def parameter_groups(model, weight_decay):
    """Weight decay on the weight matrices and conv kernels only."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if param.ndim < 2 or name in ('cls_token', 'pos_embedding'):
            no_decay.append(param)
        else:
            decay.append(param)
    return [{'params': decay, 'weight_decay': weight_decay},
            {'params': no_decay, 'weight_decay': 0.0}]


def train(args, model, loader, optimizer, scheduler, criterion, epoch):
    model.train()
    for batch_idx, (images, labels) in enumerate(loader):
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{}]\tLoss: {:.6f}\tlr: {:.6f}'.format(
                epoch, batch_idx * len(images), len(loader.dataset), loss.item(),
                scheduler.get_last_lr()[0]))
        if batch_idx + 1 >= args.batches_per_epoch:
            break


def test(args, model, loader):
    model.eval()
    correct = seen = 0
    loss = 0.0
    with torch.no_grad():
        for batch_idx, (images, labels) in enumerate(loader):
            logits = model(images)
            loss += F.cross_entropy(logits, labels, reduction='sum').item()
            correct += (logits.argmax(dim=1) == labels).sum().item()
            seen += labels.numel()
            if args.max_batches and batch_idx + 1 >= args.max_batches:
                break
    print('Test set: Average loss: {:.4f}, Accuracy: {}/{} ({:.2f}%)'.format(
        loss / seen, correct, seen, 100.0 * correct / seen))


def main():
    parser = argparse.ArgumentParser(description='ViT on MNIST')
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--test-batch-size', type=int, default=1000)
    parser.add_argument('--epochs', type=int, default=5)
    parser.add_argument('--lr', type=float, default=3e-3, help='peak learning rate')
    parser.add_argument('--weight-decay', type=float, default=0.05)
    parser.add_argument('--label-smoothing', type=float, default=0.1)
    parser.add_argument('--dim', type=int, default=64)
    parser.add_argument('--depth', type=int, default=2)
    parser.add_argument('--heads', type=int, default=4)
    parser.add_argument('--patch-size', type=int, default=7)
    parser.add_argument('--dropout', type=float, default=0.1)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--log-interval', type=int, default=50)
    parser.add_argument('--max-batches', type=int, default=0,
                        help='stop each train/test pass after N batches (0: no limit)')
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize((0.1307,), (0.3081,))])
    train_set = datasets.MNIST('../data', train=True, download=True, transform=transform)
    test_set = datasets.MNIST('../data', train=False, transform=transform)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size,
                                               shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=args.test_batch_size)
    args.batches_per_epoch = len(train_loader)
    if args.max_batches:
        args.batches_per_epoch = min(args.max_batches, len(train_loader))

    model = ViT(patch_size=args.patch_size, dim=args.dim, depth=args.depth, heads=args.heads,
                dropout=args.dropout)
    optimizer = torch.optim.AdamW(parameter_groups(model, args.weight_decay), lr=args.lr)
    scheduler = OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                           steps_per_epoch=args.batches_per_epoch, pct_start=0.3)
    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    for epoch in range(1, args.epochs + 1):
        train(args, model, train_loader, optimizer, scheduler, criterion, epoch)
        test(args, model, test_loader)


if __name__ == '__main__':
    main()
