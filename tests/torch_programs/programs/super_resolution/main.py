"""Single-image super-resolution by sub-pixel convolution (Shi et al., 2016) on MNIST digits:
the 28x28 images are shrunk 2x by average pooling, and the network brings them back. Each block
pads by reflection (ReflectionPad2d) before a 3x3 convolution, normalises with InstanceNorm2d
(affine) or BatchNorm2d (--norm) and applies PReLU; a last convolution makes scale^2 channels
that nn.PixelShuffle rearranges into the larger image, added to a bilinear upsampling of the
input (the net learns the residual). MSELoss; the quality is reported as PSNR, 10 log10(1 /
MSE) for pixels in [0, 1], next to the PSNR of plain bicubic upsampling. The trained model is
saved with torch.save, loaded again into a fresh model and checked to give the same PSNR."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms


class ConvBlock(nn.Module):
    def __init__(self, in_channels, out_channels, norm):
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.conv = nn.Conv2d(in_channels, out_channels, 3)
        if norm == 'instance':
            self.norm = nn.InstanceNorm2d(out_channels, affine=True)
        else:
            self.norm = nn.BatchNorm2d(out_channels)
        self.act = nn.PReLU(out_channels)

    def forward(self, x):
        return self.act(self.norm(self.conv(self.pad(x))))


class SubPixelNet(nn.Module):
    def __init__(self, scale=2, channels=32, blocks=3, norm='instance'):
        super().__init__()
        self.scale = scale
        layers = [ConvBlock(1, channels, norm)]
        layers += [ConvBlock(channels, channels, norm) for _ in range(blocks - 1)]
        self.body = nn.Sequential(*layers)
        self.to_subpixels = nn.Conv2d(channels, scale ** 2, 3, padding=1,
                                      padding_mode='reflect')
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, low):
        upsampled = F.interpolate(low, scale_factor=self.scale, mode='bilinear',
                                  align_corners=False)
        residual = self.shuffle(self.to_subpixels(self.body(low)))   # (N, 1, sH, sW)
        return upsampled + residual


def psnr(mse):
    return (10 * torch.log10(1.0 / mse)).item()


def evaluate(model, loader, scale):
    model.eval()
    total_mse, total_bicubic, batches = 0.0, 0.0, 0
    with torch.no_grad():
        for high, _ in loader:
            low = F.avg_pool2d(high, scale)
            output = model(low).clamp(0, 1)
            bicubic = F.interpolate(low, scale_factor=scale, mode='bicubic',
                                    align_corners=False).clamp(0, 1)
            total_mse += F.mse_loss(output, high).item()
            total_bicubic += F.mse_loss(bicubic, high).item()
            batches += 1
    return psnr(torch.tensor(total_mse / batches)), psnr(torch.tensor(total_bicubic / batches))


def main():
    parser = argparse.ArgumentParser(description='Sub-pixel super-resolution of MNIST')
    parser.add_argument('--scale', type=int, default=2)
    parser.add_argument('--channels', type=int, default=32)
    parser.add_argument('--blocks', type=int, default=3)
    parser.add_argument('--norm', choices=['instance', 'batch'], default='instance')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--train-size', type=int, default=10000)
    parser.add_argument('--test-size', type=int, default=1000)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--log-interval', type=int, default=20)
    parser.add_argument('--save', type=str, default='sr.pt')
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    to_tensor = transforms.ToTensor()
    train_set = Subset(datasets.MNIST('../data', train=True, download=True,
                                      transform=to_tensor), range(args.train_size))
    test_set = Subset(datasets.MNIST('../data', train=False, transform=to_tensor),
                      range(args.test_size))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=200)

    model = SubPixelNet(args.scale, args.channels, args.blocks, args.norm)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.MSELoss()
    model_psnr, bicubic_psnr = evaluate(model, test_loader, args.scale)
    print('Before training: PSNR {:.2f} dB (bicubic {:.2f} dB)'.format(model_psnr, bicubic_psnr))
    for epoch in range(1, args.epochs + 1):
        model.train()
        for batch_idx, (high, _) in enumerate(train_loader):
            low = F.avg_pool2d(high, args.scale)
            optimizer.zero_grad()
            loss = criterion(model(low), high)
            loss.backward()
            optimizer.step()
            if batch_idx % args.log_interval == 0:
                print('Train Epoch: {} [{}/{}]\tLoss: {:.6f}\tPSNR: {:.2f} dB'.format(
                    epoch, batch_idx * len(high), len(train_loader.dataset), loss.item(),
                    psnr(loss.detach())))
        model_psnr, bicubic_psnr = evaluate(model, test_loader, args.scale)
        print('Epoch {}: test PSNR {:.2f} dB (bicubic {:.2f} dB)'.format(
            epoch, model_psnr, bicubic_psnr))

    torch.save(model.state_dict(), args.save)
    reloaded = SubPixelNet(args.scale, args.channels, args.blocks, args.norm)
    reloaded.load_state_dict(torch.load(args.save))
    print('Reloaded: test PSNR {:.2f} dB'.format(evaluate(reloaded, test_loader, args.scale)[0]))


if __name__ == '__main__':
    main()
