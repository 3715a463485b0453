"""Nearest-neighbour check of face samples against lfw-faces (a smoke set of 90 train faces):
how far each sample is from its closest training face, beside how far the 10 held-out real faces
are from theirs. A generator that copies its training faces scores near 0; samples as far from
the training faces as unseen real faces are (not copies), and pixel statistics near the real
ones, are what a 100-image smoke set can show. It says nothing about sample quality beyond that.

    tinygen sample runs/dcgan -n 256 --out samples.npy
    python benchmarks/faces_nn.py samples.npy [more.npy ...]

Distances: root-mean-square pixel difference (pixels in [0, 1]) to the closest of the 90 train
faces and their 90 mirror images.
"""
import argparse

import numpy as np


def nearest_rms(images, references):
    """(N,) RMS distance of each image (N, D) to its closest reference (M, D)."""
    squared = ((images ** 2).sum(1)[:, None] - 2 * images @ references.T
               + (references ** 2).sum(1)[None, :])                              # (N, M)
    return np.sqrt(np.maximum(squared.min(axis=1), 0) / images.shape[1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("samples", nargs="+", help=".npy files of (N, 1, S, S) images in [0, 1]")
    args = p.parse_args(argv)
    from tinygen.data import load
    print("| samples | N | median RMS to nearest train face | 10th percentile | pixel mean | "
          "pixel std |")
    print("|---|---|---|---|---|---|")
    side = None
    for path in args.samples:
        x = np.load(path).astype(np.float64)
        if x.ndim != 4 or x.shape[1] != 1:
            raise SystemExit(f"{path}: expected (N, 1, S, S) grayscale samples, got {x.shape}")
        if side is None:
            side = x.shape[-1]
            train = load("lfw-faces", "train", size=side).tensors[0].numpy()     # 180: mirrored
            test = load("lfw-faces", "test", size=side).tensors[0].numpy()
            refs = train.reshape(len(train), -1).astype(np.float64)
            real = nearest_rms(test.reshape(len(test), -1).astype(np.float64), refs)
            print(f"| the 10 held-out real faces | 10 | {np.median(real):.4f} | "
                  f"{np.percentile(real, 10):.4f} | {test.mean():.3f} | {test.std():.3f} |")
        if x.shape[-1] != side:
            raise SystemExit(f"{path}: {x.shape[-1]} px, the first file had {side}")
        d = nearest_rms(x.reshape(len(x), -1), refs)
        print(f"| {path} | {len(x)} | {np.median(d):.4f} | {np.percentile(d, 10):.4f} | "
              f"{x.mean():.3f} | {x.std():.3f} |")


if __name__ == "__main__":
    main()
