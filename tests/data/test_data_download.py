"""Checksummed downloads against a loopback HTTP server: good, tampered, dropped, 404."""
import hashlib

import numpy as np
import pytest

from tinygen.data import REMOTE_DATASETS, ChecksumError, DownloadError, download, fetch_file, load
from tinygen.data.download import _mirror_urls

MNIST_FILES = [f.name for f in REMOTE_DATASETS["mnist"].files]
PAYLOAD = bytes(range(256)) * 400                      # 102,400 bytes: several read chunks
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_recorded_checksums_match_shared_data(shared_data):
    recorded = {}
    for line in (shared_data / "SHA256SUMS").read_text().splitlines():
        sha, name = line.split()
        recorded[name] = sha
    for spec in REMOTE_DATASETS.values():
        if not (shared_data / spec.name).is_dir():      # cifar10, celeba, lfw: not shared here
            continue
        for f in spec.files:
            assert recorded[f"{spec.name}/{f.name}"] == f.sha256
            assert (shared_data / spec.name / f.name).stat().st_size == f.size


def test_fetch_good_file(mirror, tmp_path):
    mirror.add("blob.bin", PAYLOAD)
    dest = tmp_path / "cache" / "blob.bin"
    assert fetch_file(mirror.url + "blob.bin", dest, PAYLOAD_SHA, backoff=0) == dest
    assert dest.read_bytes() == PAYLOAD
    assert _leftovers(dest.parent) == ["blob.bin"]      # no temporary file left


def test_fetch_tampered_file_leaves_nothing(mirror, tmp_path):
    tampered = bytearray(PAYLOAD)
    tampered[5000] ^= 0xFF
    mirror.add("blob.bin", bytes(tampered))
    dest = tmp_path / "cache" / "blob.bin"
    with pytest.raises(ChecksumError) as info:
        fetch_file(mirror.url + "blob.bin", dest, PAYLOAD_SHA, backoff=0)
    message = str(info.value)
    assert "blob.bin" in message and PAYLOAD_SHA in message
    assert hashlib.sha256(bytes(tampered)).hexdigest() in message
    assert not dest.exists() and _leftovers(dest.parent) == []


def test_dropped_once_then_retry_succeeds(mirror, tmp_path):
    mirror.add("blob.bin", PAYLOAD)
    dest = tmp_path / "cache" / "blob.bin"
    fetch_file(mirror.url + "drop-once/blob.bin", dest, PAYLOAD_SHA, retries=3, backoff=0)
    assert dest.read_bytes() == PAYLOAD
    assert mirror.hits["/drop-once/blob.bin"] == 2
    assert _leftovers(dest.parent) == ["blob.bin"]


def test_dropped_every_time_fails_cleanly(mirror, tmp_path):
    mirror.add("blob.bin", PAYLOAD)
    dest = tmp_path / "cache" / "blob.bin"
    with pytest.raises(DownloadError) as info:
        fetch_file(mirror.url + "drop-always/blob.bin", dest, PAYLOAD_SHA, retries=3, backoff=0)
    assert not isinstance(info.value, ChecksumError)
    message = str(info.value)
    assert "blob.bin" in message and "dropped" in message and "3 attempts" in message
    assert "\n" not in message and "the next download resumes" in message
    assert mirror.hits["/drop-always/blob.bin"] == 3
    # the final name never holds a partial file; the hidden partial one is kept for a resume
    assert _leftovers(dest.parent) == [".blob.bin.part"]
    assert PAYLOAD.startswith((dest.parent / ".blob.bin.part").read_bytes())


def test_404_is_not_retried_and_next_url_is_tried(mirror, tmp_path):
    mirror.add("blob.bin", PAYLOAD)
    dest = tmp_path / "cache" / "blob.bin"
    with pytest.raises(DownloadError, match=r"could not download absent\.bin: .*HTTP 404"):
        fetch_file(mirror.url + "absent.bin", dest.parent / "absent.bin", PAYLOAD_SHA, backoff=0)
    urls = [mirror.url + "drop-always/absent.bin", mirror.url + "blob.bin"]
    fetch_file(urls, dest, PAYLOAD_SHA, retries=1, backoff=0)
    assert dest.read_bytes() == PAYLOAD
    assert mirror.hits["/drop-always/absent.bin"] == 1      # a 404 is not retried
    assert _leftovers(dest.parent) == ["blob.bin"]


def test_connection_refused_is_a_download_error(tmp_path):
    with pytest.raises(DownloadError, match="could not download x.bin"):
        fetch_file("http://127.0.0.1:9/x.bin", tmp_path / "x.bin", PAYLOAD_SHA,
                   retries=2, backoff=0, timeout=2)
    assert _leftovers(tmp_path) == []


def test_progress_bar_when_asked(mirror, tmp_path, capsys):
    mirror.add("blob.bin", PAYLOAD)
    fetch_file(mirror.url + "blob.bin", tmp_path / "blob.bin", PAYLOAD_SHA, progress=True)
    assert "blob.bin" in capsys.readouterr().err


def test_mirror_urls_try_both_layouts():
    spec = REMOTE_DATASETS["mnist"]
    file = spec.files[0]
    official = _mirror_urls(spec, file, None)
    assert official[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/" + file.name
    assert official[1] == "http://yann.lecun.com/exdb/mnist/" + file.name
    assert _mirror_urls(spec, file, "http://h:1/m") == ["http://h:1/m/" + file.name,
                                                       "http://h:1/m/mnist/" + file.name]


@pytest.mark.parametrize("layout", ["flat", "cache"])
def test_download_mnist_from_mirror_then_load(mirror, mnist_root, tmp_path, layout):
    mirror.copy_from(mnist_root / "mnist", MNIST_FILES, subdir="" if layout == "flat" else "mnist")
    root = tmp_path / "root"
    lines = []
    folder = download("mnist", root=root, mirror=mirror.url, backoff=0, log=lines.append)
    assert folder == root / "mnist"
    assert _leftovers(folder) == sorted(MNIST_FILES)
    for f in REMOTE_DATASETS["mnist"].files:
        assert hashlib.sha256((folder / f.name).read_bytes()).hexdigest() == f.sha256
    x, y = (t.numpy() for t in load("mnist", "test", root=root).tensors)
    assert x.shape == (10000, 1, 28, 28) and np.bincount(y)[1] == 1135
    # a second run finds the files and fetches nothing
    before = dict(mirror.hits)
    download("mnist", root=root, mirror=mirror.url + "drop-always/", log=lines.append)
    assert mirror.hits == before and sum("present" in line for line in lines) == 4


def test_download_tampered_mirror_leaves_nothing(mirror, mnist_root, tmp_path):
    mirror.copy_from(mnist_root / "mnist", MNIST_FILES)
    victim = mirror.folder / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    root = tmp_path / "root"
    with pytest.raises(ChecksumError, match="checksum mismatch for t10k-labels-idx1-ubyte.gz"):
        download("mnist", root=root, mirror=mirror.url, backoff=0)
    assert not (root / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    assert not any(p.name.startswith(".t10k-labels") for p in (root / "mnist").iterdir())


def test_download_replaces_a_corrupt_cached_file(mirror, shared_data, tmp_path):
    mirror.copy_from(shared_data / "tinyshakespeare", ["input.txt"])
    cached = tmp_path / "tinyshakespeare" / "input.txt"
    cached.parent.mkdir()
    cached.write_text("not shakespeare")
    download("tinyshakespeare", root=tmp_path, mirror=mirror.url, backoff=0)
    assert cached.stat().st_size == REMOTE_DATASETS["tinyshakespeare"].files[0].size


def test_load_with_download_true(mirror, shared_data, tmp_path, monkeypatch):
    mirror.copy_from(shared_data / "tinyshakespeare", ["input.txt"])
    spec = REMOTE_DATASETS["tinyshakespeare"]
    monkeypatch.setitem(REMOTE_DATASETS, "tinyshakespeare",
                        type(spec)(spec.name, spec.files, (mirror.url,)))
    ds = load("tinyshakespeare", "val", root=tmp_path, download=True)
    assert ds.vocab_size == 65 and (tmp_path / "tinyshakespeare" / "input.txt").is_file()


def test_download_unknown_name():
    with pytest.raises(ValueError, match="nothing to download for 'digits'"):
        download("digits")
