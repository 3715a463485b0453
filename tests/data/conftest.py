"""Fixtures for the tinygen.data tests: the shared data folder and loopback HTTP mirrors.

The real datasets are read from ../shared/data next to the repository (or $TINYGEN_TEST_DATA);
tests that need them skip when it is absent. No test touches the network: downloads go to a
`ThreadingHTTPServer` on 127.0.0.1 serving a temporary folder, whose handler can also drop the
connection halfway through a file, once or every time.
"""
from __future__ import annotations

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import shared_data_dir

SHARED_DATA = shared_data_dir()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if SHARED_DATA is None:
        pytest.skip("../shared/data (or $TINYGEN_TEST_DATA) not found")
    return SHARED_DATA


def _require_shared(*relative):
    if SHARED_DATA is None or not all((SHARED_DATA / r).is_file() for r in relative):
        pytest.skip(f"shared data files {relative} not found")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mnist_root():
    """A root holding mnist/ (the shared folder itself: the loaders only read)."""
    return _require_shared("mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte.gz",
                           "mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz")


class _MirrorHandler(SimpleHTTPRequestHandler):
    """Serves the folder, answering `Range: bytes=N-` with 206 and the bytes from N (each Range
    header asked for is recorded per path in server.ranges); under /drop-once/ and /drop-always/
    it ignores ranges, sends the full Content-Length, then only half of the bytes and closes (the
    first time per path, or every time)."""

    def log_message(self, *args):       # keep pytest output clean
        pass

    def do_GET(self):
        mode, _, rest = self.path.lstrip("/").partition("/")
        if mode not in ("drop-once", "drop-always"):
            wanted = self.headers.get("Range")
            with self.server.lock:
                self.server.hits[self.path] = self.server.hits.get(self.path, 0) + 1
                if wanted:
                    self.server.ranges.setdefault(self.path, []).append(wanted)
            if wanted:
                return self._send_range(wanted)
            return super().do_GET()
        with self.server.lock:
            self.server.hits[self.path] = count = self.server.hits.get(self.path, 0) + 1
        file = Path(self.directory) / rest
        if not file.is_file():
            return self.send_error(404, "File not found")
        body = file.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "drop-always" or count == 1:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return None
        self.wfile.write(body)
        return None

    def _send_range(self, wanted):
        file = Path(self.translate_path(self.path))
        if not file.is_file():
            return self.send_error(404, "File not found")
        body = file.read_bytes()
        start = int(wanted.split("=")[1].split("-")[0])
        if start >= len(body):
            return self.send_error(416, "Range Not Satisfiable")
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])
        return None


class Mirror:
    def __init__(self, folder: Path):
        self.folder = folder
        handler = functools.partial(_MirrorHandler, directory=str(folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.server.lock = threading.Lock()
        self.server.hits = {}
        self.server.ranges = {}
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def hits(self) -> dict:
        return self.server.hits

    @property
    def ranges(self) -> dict:
        return self.server.ranges

    def add(self, name: str, data: bytes) -> Path:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def copy_from(self, source: Path, names, subdir: str = "") -> None:
        target = self.folder / subdir
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(source / name, target / name)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def mirror(tmp_path):
    """A loopback HTTP server over an empty temporary folder (add files with .add/.copy_from)."""
    served = tmp_path / "served"
    served.mkdir()
    server = Mirror(served)
    yield server
    server.close()
