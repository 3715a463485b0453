"""`tinygen data download NAME [--root DIR] [--mirror URL]`: in process through
`tinygen.data.cli.main`, and once end to end through `python -m tinygen data ...`."""
import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinygen.data import REMOTE_DATASETS
from tinygen.data.cli import add_data_parser, main

REPO = Path(__file__).resolve().parents[2]
MNIST_FILES = [f.name for f in REMOTE_DATASETS["mnist"].files]


def _run_cli(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "tinygen", "data", *args], capture_output=True,
                          check=False, text=True, env=env, timeout=120)


def test_parser_hook_wires_into_a_top_level_parser(tmp_path):
    parser = argparse.ArgumentParser(prog="tinygen")
    add_data_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "download", "mnist", "--root", str(tmp_path),
                              "--mirror", "http://127.0.0.1:1/"])
    assert args.name == "mnist" and args.root == str(tmp_path) and callable(args.func)
    assert args.mirror == "http://127.0.0.1:1/" and args.progress is None


def test_download_good_mirror(mirror, mnist_root, tmp_path, capsys):
    mirror.copy_from(mnist_root / "mnist", MNIST_FILES)
    root = tmp_path / "R"
    assert main(["download", "mnist", "--root", str(root), "--mirror", mirror.url]) == 0
    for f in REMOTE_DATASETS["mnist"].files:
        assert hashlib.sha256((root / "mnist" / f.name).read_bytes()).hexdigest() == f.sha256
    assert f"mnist: ready in {root / 'mnist'}" in capsys.readouterr().out


def test_download_tampered_mirror_subprocess(mirror, mnist_root, tmp_path):
    mirror.copy_from(mnist_root / "mnist", MNIST_FILES)
    victim = mirror.folder / "train-images-idx3-ubyte.gz"
    data = bytearray(victim.read_bytes())
    data[123456] ^= 0x80
    victim.write_bytes(bytes(data))
    root = tmp_path / "R"
    result = _run_cli("download", "mnist", "--root", str(root), "--mirror", mirror.url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    error_lines = result.stderr.strip().splitlines()
    assert len(error_lines) == 1
    assert "checksum mismatch for train-images-idx3-ubyte.gz" in error_lines[0]
    assert REMOTE_DATASETS["mnist"].files[0].sha256 in error_lines[0]
    folder = root / "mnist"
    assert not (folder / "train-images-idx3-ubyte.gz").exists()
    assert not folder.exists() or not [p for p in folder.iterdir() if "train-images" in p.name]


def test_download_404(mirror, tmp_path, capsys):
    assert main(["download", "tinyshakespeare", "--root", str(tmp_path / "R"),
                 "--mirror", mirror.url]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "HTTP 404" in err and "input.txt" in err
    assert not (tmp_path / "R" / "tinyshakespeare").exists()


def test_download_dropped_connection(mirror, shared_data, tmp_path, capsys):
    mirror.copy_from(shared_data / "tinyshakespeare", ["input.txt"])
    code = main(["download", "tinyshakespeare", "--root", str(tmp_path / "R"),
                 "--mirror", mirror.url + "drop-always/", "--retries", "1"])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "dropped" in err and "resumes" in err
    # nothing under the file's own name: only the hidden partial file, which a rerun resumes
    assert sorted(p.name for p in (tmp_path / "R" / "tinyshakespeare").iterdir()) == [
        ".input.txt.part"]
    assert main(["download", "tinyshakespeare", "--root", str(tmp_path / "R"),
                 "--mirror", mirror.url]) == 0
    assert mirror.ranges["/input.txt"] == ["bytes=557697-"]          # the second half only
    assert sorted(p.name for p in (tmp_path / "R" / "tinyshakespeare").iterdir()) == [
        "input.txt"]


def test_unknown_and_bundled_names(capsys):
    assert main(["download", "cifar-100"]) == 1
    assert "unknown dataset 'cifar-100'" in capsys.readouterr().err
    assert main(["download", "digits"]) == 0
    assert "nothing to download" in capsys.readouterr().out


def test_mirror_must_be_a_url(tmp_path, capsys):
    assert main(["download", "mnist", "--root", str(tmp_path), "--mirror", "127.0.0.1:1/x"]) == 1
    assert "is not a URL" in capsys.readouterr().err


def test_file_url_mirror(mnist_root, tmp_path, capsys):
    mirror = (mnist_root / "mnist").as_uri() + "/"
    assert main(["download", "mnist", "--root", str(tmp_path), "--mirror", mirror]) == 0
    assert len(list((tmp_path / "mnist").iterdir())) == 4
    empty = tmp_path / "empty"
    empty.mkdir()
    start = time.monotonic()
    assert main(["download", "tinyshakespeare", "--root", str(tmp_path),
                 "--mirror", empty.as_uri()]) == 1
    assert "404" in capsys.readouterr().err and time.monotonic() - start < 1   # not retried


def test_list(tmp_path, capsys):
    assert main(["list", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mnist" in out and "not cached" in out and "digits" in out


def test_usage_errors(capsys):
    assert main([]) == 2                       # `tinygen data` alone: the help, exit 2
    assert "download" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:    # argparse: NAME is required
        main(["download"])
    assert info.value.code == 2
