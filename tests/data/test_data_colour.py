"""cifar10, celeba and lfw: downloaded from a loopback mirror as small synthetic archives in the
official layouts, checksummed (SHA-256 recorded, or MD5 then SHA-256 pinned), resumed after an
interruption, decoded once into checked arrays, loaded with the right shapes, dtypes and values."""
import hashlib
import io
import json
import pickle
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from tinygen.cli import main as tinygen_main
from tinygen.data import (REMOTE_DATASETS, ChecksumError, DataFormatError, DownloadError,
                          ImageDataset, load, status)
from tinygen.data.cli import main
from tinygen.data.colour import _ArrayUnpickler
from tinygen.data.sources import RemoteDataset, RemoteFile

PER_BATCH = 3                                            # CIFAR images per batch file


def _jpeg(colour, size):
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _tar(members: dict) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def cifar_archive(rng):
    """The python tarball's layout: five train batches and a test batch, protocol-2 pickles of
    {'data': uint8 (n, 3072), 'labels': [..]}, plus batches.meta."""
    members, pixels, labels = {}, {"train": [], "test": []}, {"train": [], "test": []}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (PER_BATCH, 3072), dtype=np.uint8)
        batch_labels = [int(v) for v in rng.integers(0, 10, PER_BATCH)]
        split = "test" if name == "test_batch" else "train"
        pixels[split].append(data)
        labels[split].extend(batch_labels)
        members[f"cifar-10-batches-py/{name}"] = pickle.dumps(
            {"batch_label": name, "labels": batch_labels, "data": data}, protocol=2)
    members["cifar-10-batches-py/batches.meta"] = pickle.dumps({"label_names": ["a"] * 10},
                                                               protocol=2)
    expected = {s: (np.concatenate(pixels[s]).reshape(-1, 3, 32, 32), np.array(labels[s]))
                for s in pixels}
    return {"cifar-10-python.tar.gz": _tar(members)}, expected


CELEBA_SPLITS = [0, 0, 0, 0, 1, 2, 2]                    # 4 train, 1 valid, 2 test pictures


def celeba_archive():
    """img_align_celeba.zip (178 x 218 JPEGs, each one flat colour) and the partition file."""
    buffer = io.BytesIO()
    colours = {}
    with zipfile.ZipFile(buffer, "w") as archive:
        for k in range(len(CELEBA_SPLITS)):
            colours[k] = (30 * k, 200 - 20 * k, 100)
            archive.writestr(f"img_align_celeba/{k + 1:06d}.jpg", _jpeg(colours[k], (178, 218)))
    partition = "".join(f"{k + 1:06d}.jpg {s}\n" for k, s in enumerate(CELEBA_SPLITS))
    return {"img_align_celeba.zip": buffer.getvalue(),
            "list_eval_partition.txt": partition.encode()}, colours


LFW_PEOPLE = {"train": {"Ann_A": 2, "Bob_B": 1}, "test": {"Cy_C": 3}}


def lfw_archive():
    members = {}
    for split, people in LFW_PEOPLE.items():
        for person, count in people.items():
            for i in range(1, count + 1):
                colour = (40 * i, 250 if split == "train" else 10, 90)
                members[f"lfw-deepfunneled/{person}/{person}_{i:04d}.jpg"] = _jpeg(colour,
                                                                                  (250, 250))
    people = {split: f"{len(p)}\n" + "".join(f"{n}\t{c}\n" for n, c in p.items())
              for split, p in LFW_PEOPLE.items()}
    return {"lfw-deepfunneled.tgz": _tar(members),
            "peopleDevTrain.txt": people["train"].encode(),
            "peopleDevTest.txt": people["test"].encode()}, None


def _serve(mirror, monkeypatch, name, files, pin_only):
    """Put `files` on the mirror and make dataset `name` point there, with their SHA-256
    recorded, or (pin_only) only their MD5, as CelebA's and LFW's publishers give them."""
    specs = []
    for file_name, data in files.items():
        mirror.add(file_name, data)
        sha = None if pin_only else hashlib.sha256(data).hexdigest()
        specs.append(RemoteFile(file_name, sha, len(data), md5=hashlib.md5(data).hexdigest()))
    monkeypatch.setitem(REMOTE_DATASETS, name, RemoteDataset(name, tuple(specs), (mirror.url,)))


@pytest.fixture
def cifar(mirror, monkeypatch):
    files, expected = cifar_archive(np.random.default_rng(0))
    _serve(mirror, monkeypatch, "cifar10", files, pin_only=False)
    return files, expected


def test_cifar10_download_decode_load(cifar, mirror, tmp_path, capsys):
    files, expected = cifar
    root = tmp_path / "root"
    assert main(["download", "cifar10", "--root", str(root)]) == 0
    assert "cifar10: ready in" in capsys.readouterr().out
    folder = root / "cifar10"
    assert sorted(p.name for p in folder.iterdir()) == ["arrays", "cifar-10-python.tar.gz"]
    assert sorted(p.name for p in (folder / "arrays").iterdir()) == [
        "manifest.json", "test-images.npy", "test-labels.npy", "train-images.npy",
        "train-labels.npy"]
    manifest = json.loads((folder / "arrays" / "manifest.json").read_text())
    assert manifest["splits"]["train"]["images"]["shape"] == [5 * PER_BATCH, 3, 32, 32]
    for split, n in (("train", 5 * PER_BATCH), ("test", PER_BATCH)):
        ds = load("cifar10", split, root=root)
        assert isinstance(ds, ImageDataset) and len(ds) == n and ds.num_classes == 10
        x, y = (t.numpy() for t in ds.tensors)
        assert x.shape == (n, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
        assert 0 <= x.min() and x.max() <= 1
        np.testing.assert_array_equal(x, expected[split][0] / np.float32(255))  # R, G, B planes
        np.testing.assert_array_equal(y, expected[split][1])
    assert load("cifar10", "test", root=root, size=16).tensors[0].shape == (PER_BATCH, 3, 16, 16)
    assert ("cifar10", f"cached at {folder}") in status(root)
    # the archive is cached with its recorded SHA-256: a second download fetches nothing
    before = dict(mirror.hits)
    assert main(["download", "cifar10", "--root", str(root)]) == 0
    assert "present, SHA-256 ok" in capsys.readouterr().out and mirror.hits == before


def test_a_flipped_byte_is_rejected(cifar, mirror, tmp_path):
    files, _ = cifar
    data = bytearray(files["cifar-10-python.tar.gz"])
    data[len(data) // 3] ^= 0x10
    mirror.add("cifar-10-python.tar.gz", bytes(data))
    root = tmp_path / "root"
    with pytest.raises(ChecksumError, match="checksum mismatch for cifar-10-python.tar.gz"):
        load("cifar10", root=root, download=True)
    assert not (root / "cifar10").exists() or list((root / "cifar10").iterdir()) == []


def test_an_interrupted_download_resumes(cifar, mirror, tmp_path):
    files, expected = cifar
    root = tmp_path / "root"
    size = len(files["cifar-10-python.tar.gz"])
    assert main(["download", "cifar10", "--root", str(root), "--mirror",
                 mirror.url + "drop-always/", "--retries", "1"]) == 1
    part = root / "cifar10" / ".cifar-10-python.tar.gz.part"
    assert part.stat().st_size == size // 2
    assert not (root / "cifar10" / "cifar-10-python.tar.gz").exists()
    assert main(["download", "cifar10", "--root", str(root), "--mirror", mirror.url]) == 0
    assert mirror.ranges["/cifar-10-python.tar.gz"] == [f"bytes={size // 2}-"]
    assert not part.exists()
    np.testing.assert_array_equal(load("cifar10", "test", root=root).tensors[1].numpy(),
                                  expected["test"][1])


def test_a_corrupt_partial_file_is_caught_by_the_checksum(cifar, mirror, tmp_path):
    files, _ = cifar
    folder = tmp_path / "root" / "cifar10"
    folder.mkdir(parents=True)
    corrupt = bytearray(files["cifar-10-python.tar.gz"][:1000])
    corrupt[10] ^= 0xFF                                  # a resume appends to wrong bytes
    (folder / ".cifar-10-python.tar.gz.part").write_bytes(bytes(corrupt))
    with pytest.raises(ChecksumError):
        load("cifar10", root=tmp_path / "root", download=True)
    assert list(folder.iterdir()) == []                  # deleted; the next try starts over
    assert len(load("cifar10", "test", root=tmp_path / "root", download=True)) == PER_BATCH


def test_a_corrupt_array_file_is_not_loaded(cifar, tmp_path):
    root = tmp_path / "root"
    load("cifar10", "test", root=root, download=True)
    path = root / "cifar10" / "arrays" / "test-images.npy"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DataFormatError, match="test-images.npy: its SHA-256 is not the one"):
        load("cifar10", "test", root=root)


def test_missing_files_and_offline_are_one_line_errors(cifar, tmp_path, capsys):
    root = tmp_path / "root"
    with pytest.raises(FileNotFoundError, match="tinygen data download cifar10 --root"):
        load("cifar10", root=root)
    assert main(["download", "cifar10", "--root", str(root), "--mirror", "http://127.0.0.1:9/",
                 "--retries", "1", "--timeout", "2"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "offline?" in err and "--mirror" in err
    assert tinygen_main(["train", "dcgan", "--data", "cifar10", "--data-dir", str(root),
                         "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tinygen data download cifar10" in err


def test_train_dcgan_on_cifar10(cifar, tmp_path):
    root = tmp_path / "root"
    assert main(["download", "cifar10", "--root", str(root)]) == 0
    out = tmp_path / "run"
    assert tinygen_main(["train", "dcgan", "--data", "cifar10", "--data-dir", str(root),
                         "--steps", "2", "--batch-size", "4", "--set", "width=4",
                         "--out", str(out)]) == 0
    assert Image.open(out / "samples.png").mode == "RGB"


def test_celeba_partition_crop_and_pinned_checksum(mirror, monkeypatch, tmp_path):
    files, colours = celeba_archive()
    _serve(mirror, monkeypatch, "celeba", files, pin_only=True)
    root = tmp_path / "root"
    train = load("celeba", "train", root=root, download=True)
    valid, test = load("celeba", "valid", root=root), load("celeba", "test", root=root)
    assert (len(train), len(valid), len(test)) == (8, 1, 2)       # 4 train pictures, mirrored
    assert train.num_classes is None
    x = train.tensors[0].numpy()
    assert x.shape == (8, 3, 64, 64) and x.dtype == np.float32
    for k in range(4):                                   # flat colours survive crop and resize
        np.testing.assert_allclose(x[k].mean(axis=(1, 2)) * 255, colours[k], atol=3)
    np.testing.assert_allclose(test.tensors[0].numpy()[1].mean(axis=(1, 2)) * 255,
                               colours[6], atol=3)
    # no SHA-256 was published: the MD5 was checked, then the SHA-256 pinned
    pins = (root / "celeba" / "SHA256SUMS").read_text()
    for name, data in files.items():
        assert f"{hashlib.sha256(data).hexdigest()}  {name}" in pins
    # a cached archive that no longer has its pinned SHA-256 is refused, and fetched again
    zip_path = root / "celeba" / "img_align_celeba.zip"
    data = bytearray(zip_path.read_bytes())
    data[100] ^= 0x01
    zip_path.write_bytes(bytes(data))
    (root / "celeba" / "arrays" / "manifest.json").unlink()
    with pytest.raises(FileNotFoundError, match="img_align_celeba.zip has the wrong checksum"):
        load("celeba", "test", root=root)
    assert len(load("celeba", "test", root=root, download=True)) == 2
    assert zip_path.read_bytes() == files["img_align_celeba.zip"]


def test_celeba_md5_mismatch_is_rejected(mirror, monkeypatch, tmp_path):
    files, _ = celeba_archive()
    _serve(mirror, monkeypatch, "celeba", files, pin_only=True)
    mirror.add("list_eval_partition.txt", b"000001.jpg 1\n")
    with pytest.raises(ChecksumError, match="list_eval_partition.txt.*expected MD5"):
        load("celeba", root=tmp_path, download=True)
    assert not (tmp_path / "celeba" / "list_eval_partition.txt").exists()


def test_lfw_people_split(mirror, monkeypatch, tmp_path):
    files, _ = lfw_archive()
    _serve(mirror, monkeypatch, "lfw", files, pin_only=True)
    root = tmp_path / "root"
    assert main(["download", "lfw", "--root", str(root)]) == 0
    train, test = load("lfw", "train", root=root, hflip=False), load("lfw", "test", root=root)
    assert (len(train), len(test)) == (3, 3) and len(load("lfw", root=root)) == 6
    x_train, x_test = train.tensors[0].numpy(), test.tensors[0].numpy()
    assert x_train.shape == (3, 3, 64, 64) and 0 <= x_train.min() and x_train.max() <= 1
    # the green channel marks the split: 250 for the train people, 10 for the test person
    assert (np.abs(x_train[:, 1].mean(axis=(1, 2)) * 255 - 250) < 4).all()
    assert (np.abs(x_test[:, 1].mean(axis=(1, 2)) * 255 - 10) < 4).all()


def test_the_cifar_unpickler_runs_no_code():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing (__builtin__|builtins)\.print"):
        _ArrayUnpickler(io.BytesIO(pickle.dumps(Evil(), protocol=2)), encoding="latin1").load()


def test_an_html_page_is_not_taken_for_the_file(mirror, tmp_path):
    from tinygen.data import fetch_file
    mirror.add("page.html", b"<html>quota exceeded</html>")
    with pytest.raises(DownloadError, match="an HTML page instead of the file"):
        fetch_file(mirror.url + "page.html", tmp_path / "cache" / "img_align_celeba.zip",
                   md5="0" * 32, retries=1)
    assert not (tmp_path / "cache").exists()
