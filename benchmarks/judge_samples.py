"""Score image samples (.npy, (N, C, H, W) in [0, 1]) with a trained tinygen classifier run:
classifier-feature Frechet distance to the test set, class entropy, confidence, and with
--labels K the conditional accuracy of samples drawn for the labels 0, 1, ..., K - 1, 0, ...

    python benchmarks/judge_samples.py runs/classifier samples.npy [more.npy ...] --data-dir ../shared/data
"""
import argparse
import sys

import numpy as np


class _Samples:
    """sample(n) hands out the saved images in order, as the judge draws them."""

    def __init__(self, images):
        self.images, self.pos = images, 0

    def sample(self, n):
        import tinygen as tg
        out = self.images[self.pos:self.pos + n]
        self.pos += n
        return tg.tensor(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("classifier")
    p.add_argument("samples", nargs="+")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--data", default="mnist", help="the test set the judge compares with")
    p.add_argument("--labels", type=int, default=None,
                   help="K: sample i was drawn for class i %% K (scores judge_cond_acc)")
    args = p.parse_args(argv)
    import tinygen as tg
    from tinygen.data import load
    from tinygen.train.judge import judge_samples
    test = load(args.data, "test", root=args.data_dir)
    for path in args.samples:
        images = np.load(path)
        with tg.no_grad():
            requested = None if args.labels is None else np.arange(len(images)) % args.labels
            scores = judge_samples(_Samples(images).sample, test, args.classifier, n=len(images),
                                   requested=requested)
        print(path, " ".join(f"{k}={v:.4f}" for k, v in scores.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
