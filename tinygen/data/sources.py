"""Where each downloadable dataset lives: its files, their checksums, their public mirrors, and the
cache root on this machine.

The checksums are those of the official distribution files (MNIST and Fashion-MNIST: the same bytes
whose MD5 torchvision lists; tinyshakespeare: karpathy/char-rnn's `input.txt`; CIFAR-10: the
python tarball, MD5 c58f30108f718f92721af3b95e74349a as published on the CIFAR page, SHA-256 as
torchvision's prototype datasets record it). A download is kept only when its SHA-256 equals the
value recorded here. CelebA's and LFW's publishers give no SHA-256: their files carry the MD5s
torchvision checks (torchvision/datasets/celeba.py, lfw.py), and the SHA-256 of the first download
whose MD5 matches is pinned in ROOT/NAME/SHA256SUMS (tinygen/data/download.py), so every later use
is checked against SHA-256 too. No SHA-256 here is made up: where none was published, none is
written.

Layout under the root (one folder per dataset, the files under their usual names):

    ROOT/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    ROOT/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    ROOT/tinyshakespeare/input.txt
    ROOT/cifar10/cifar-10-python.tar.gz
    ROOT/celeba/{img_align_celeba.zip,list_eval_partition.txt}
    ROOT/lfw/{lfw-deepfunneled.tgz,peopleDevTrain.txt,peopleDevTest.txt}

plus, for the colour image sets, the decoded arrays (tinygen/data/colour.py):
ROOT/NAME/arrays/SPLIT-images.npy, SPLIT-labels.npy and manifest.json.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT_ENV = "TINYGEN_DATA"
DEFAULT_ROOT = "~/.cache/tinygen"


@dataclass(frozen=True)
class RemoteFile:
    name: str           # the file name, the same on every mirror and in the cache
    sha256: str | None  # None: not published; pinned on the first download whose MD5 matches
    size: int | None    # bytes; for the progress bar when a server sends no Content-Length
    md5: str | None = None          # the publisher's checksum, where it gives only an MD5
    urls: tuple[str, ...] = ()      # official URLs of this file (hosts that name files by id)


@dataclass(frozen=True)
class RemoteDataset:
    name: str                     # the dataset's name in `load()` and on the command line
    files: tuple[RemoteFile, ...]
    mirrors: tuple[str, ...]      # base URLs, tried in order; a file's URL is base + file name

    def folder(self, root=None) -> Path:
        return data_root(root) / self.name

    def paths(self, root=None) -> dict[str, Path]:
        folder = self.folder(root)
        return {f.name: folder / f.name for f in self.files}

    def missing(self, root=None) -> list[Path]:
        return [p for p in self.paths(root).values() if not p.is_file()]


def _drive(file_id: str) -> str:
    return f"https://drive.usercontent.google.com/download?id={file_id}&export=download&confirm=t"


def _idx_files(sums: dict[str, tuple[str, int]]) -> tuple[RemoteFile, ...]:
    return tuple(RemoteFile(name, sha, size) for name, (sha, size) in sums.items())


REMOTE_DATASETS: dict[str, RemoteDataset] = {
    "mnist": RemoteDataset(
        name="mnist",
        files=_idx_files({
            "train-images-idx3-ubyte.gz": (
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
            "train-labels-idx1-ubyte.gz": (
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
            "t10k-images-idx3-ubyte.gz": (
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
            "t10k-labels-idx1-ubyte.gz": (
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
        }),
        # torchvision's mirror first: the original site is often slow or refuses robots
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
    ),
    "fashion-mnist": RemoteDataset(
        name="fashion-mnist",
        files=_idx_files({
            "train-images-idx3-ubyte.gz": (
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
            "train-labels-idx1-ubyte.gz": (
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
            "t10k-images-idx3-ubyte.gz": (
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
            "t10k-labels-idx1-ubyte.gz": (
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
        }),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    ),
    "tinyshakespeare": RemoteDataset(
        name="tinyshakespeare",
        files=(RemoteFile("input.txt",
                          "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                          1115394),),
        mirrors=("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/",),
    ),
    "cifar10": RemoteDataset(
        name="cifar10",
        files=(RemoteFile(
            "cifar-10-python.tar.gz",
            "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce", 170498071,
            md5="c58f30108f718f92721af3b95e74349a"),),
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
    ),
    "celeba": RemoteDataset(
        # the aligned-and-cropped JPEGs and the official train/valid/test partition, from the
        # authors' Google Drive (file ids as torchvision's celeba.py; confirm=t skips the
        # "cannot scan this file for viruses" page of large files)
        name="celeba",
        files=(
            RemoteFile("img_align_celeba.zip", None, None, md5="00d2c5bc6d35e252742224ab0c1e8fcb",
                       urls=(_drive("0B7EVK8r0v71pZjFTYXZWM3FlRnM"),)),
            RemoteFile("list_eval_partition.txt", None, None,
                       md5="d32c9cbf5e040fd4025c592c306e6668",
                       urls=(_drive("0B7EVK8r0v71pY0NSMzRuSXJEVkk"),)),
        ),
        mirrors=(),
    ),
    "lfw": RemoteDataset(
        # the deep-funneled images (Huang et al. 2012) and the official identity-disjoint
        # development split (peopleDevTrain / peopleDevTest)
        name="lfw",
        files=(
            RemoteFile("lfw-deepfunneled.tgz", None, None, md5="68331da3eb755a505a502b5aacb3c201"),
            RemoteFile("peopleDevTrain.txt", None, None, md5="54eaac34beb6d042ed3a7d883e247a21"),
            RemoteFile("peopleDevTest.txt", None, None, md5="e4bf5be0a43b5dcd9dc5ccfcb8fb19c5"),
        ),
        mirrors=("http://vis-www.cs.umass.edu/lfw/",),
    ),
}


def data_root(root=None) -> Path:
    """The cache root: `root` if given, else `$TINYGEN_DATA`, else `~/.cache/tinygen`."""
    if root is None or root == "":
        root = os.environ.get(ROOT_ENV) or DEFAULT_ROOT
    return Path(os.path.expanduser(os.fspath(root)))


def download_hint(name: str, root=None) -> str:
    """The command that fills the cache for `name`, as a user would type it."""
    return f"tinygen data download {name} --root {data_root(root)}"
