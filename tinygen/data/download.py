"""Checksummed downloads into the dataset cache.

A file is streamed to a temporary name in its final folder while its SHA-256 is computed, and
renamed to its final name (`os.replace`, atomic on one filesystem) only when the checksum equals
the value recorded in `sources.py`. Anything else (a tampered or truncated file, a 404, a
connection that keeps dropping) deletes the temporary file and raises a `DownloadError` whose
message is one line naming the file, so the cache never holds a partial or wrong file.

A connection that drops mid-file (fewer bytes than the Content-Length, a reset, a timeout) is
retried `retries` times with a doubling pause; a 404 or other 4xx is not retried, and the next
mirror is tried instead.
"""
from __future__ import annotations

import hashlib
import http.client
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..io.atomic import atomic_write
from .sources import REMOTE_DATASETS, RemoteDataset, RemoteFile

CHUNK = 1 << 16
USER_AGENT = "tinygen-data/0.1 (+urllib)"


class DownloadError(RuntimeError):
    """A file could not be fetched; the message is one line and names the file."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not have the SHA-256 recorded for the file."""

    def __init__(self, path, expected: str, actual: str, url: str | None = None):
        self.path, self.expected, self.actual, self.url = Path(path), expected, actual, url
        source = f" from {url}" if url else ""
        super().__init__(
            f"checksum mismatch for {self.path.name}{source}: expected SHA-256 {expected}, "
            f"got {actual}; the file was deleted")


class _Dropped(Exception):
    """A transient failure worth retrying: the connection dropped, reset or timed out."""


def sha256_of(path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _progress_bar(total, desc, show):
    from tqdm import tqdm   # lazy: only downloads need it
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                disable=not show, leave=False, file=sys.stderr)


def _stream_once(url, out, timeout, show_progress, size_hint, desc):
    """GET `url` into the open file `out`; return the SHA-256 hex digest of what was written.
    Raises _Dropped for a transient failure, urllib.error.HTTPError for an HTTP error status."""
    out.seek(0)
    out.truncate()
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length is not None and length.isdigit() else None
            received = 0
            with _progress_bar(expected or size_hint, desc, show_progress) as bar:
                while True:
                    block = response.read(CHUNK)
                    if not block:
                        break
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
    except urllib.error.HTTPError as e:
        if e.code >= 500:                       # a server hiccup: worth another try
            raise _Dropped(f"HTTP {e.code} {e.reason}") from e
        raise
    except urllib.error.URLError as e:          # refused, DNS, TLS, timeout while connecting
        if isinstance(e.reason, FileNotFoundError):     # a file:// mirror without the file
            raise urllib.error.HTTPError(url, 404, "File not found", None, None) from e
        raise _Dropped(str(e.reason)) from e
    except (http.client.HTTPException, ConnectionError, TimeoutError) as e:  # socket.timeout too
        raise _Dropped(f"{type(e).__name__}: {e}".rstrip(": ")) from e
    # http.client's read(n) returns b"" on an early close instead of raising: check it here
    if expected is not None and received != expected:
        raise _Dropped(f"connection dropped after {received} of {expected} bytes")
    out.flush()
    return digest.hexdigest()


def fetch_file(urls, dest, sha256: str, *, retries: int = 3, backoff: float = 1.0,
               timeout: float = 30.0, progress: bool | None = None, size_hint: int | None = None):
    """Download the first of `urls` that answers into `dest`, checking its SHA-256.

    Each URL gets `retries` attempts against dropped connections (pausing backoff, 2*backoff, ...
    seconds between them); an HTTP 4xx moves on to the next URL at once. Returns `dest` (a Path).
    Raises ChecksumError when the bytes arrive but their digest differs (the temporary file is
    deleted; no other URL is tried, since a wrong file should be loud), DownloadError when no URL
    gave the file."""
    if isinstance(urls, str):
        urls = [urls]
    dest = Path(dest)
    if progress is None:
        progress = sys.stderr.isatty()
    folder_created = not dest.parent.exists()
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    try:
        # the bytes land under a hidden temporary name and replace `dest` only when the block
        # ends cleanly, that is after a matching checksum (the `return` below); any raise deletes it
        with atomic_write(dest, "wb") as out:
            for url in urls:
                if _fetch_from(url, out, dest, sha256, failures, retries=retries, backoff=backoff,
                               timeout=timeout, progress=progress, size_hint=size_hint):
                    return dest
            raise DownloadError(f"could not download {dest.name}: " + "; ".join(failures))
    finally:
        if folder_created and dest.parent.is_dir() and not any(dest.parent.iterdir()):
            dest.parent.rmdir()


def _fetch_from(url, out, dest, sha256, failures, *, retries, backoff, timeout, progress,
                size_hint) -> bool:
    """Up to `retries` attempts at `url` into `out`. True once the bytes have the right SHA-256;
    False (the reason appended to `failures`) when this URL gave up; ChecksumError on wrong bytes."""
    for attempt in range(1, retries + 1):
        try:
            actual = _stream_once(url, out, timeout, progress, size_hint, dest.name)
        except urllib.error.HTTPError as e:
            failures.append(f"{url}: HTTP {e.code} {e.reason}")
            return False
        except _Dropped as e:
            if attempt == retries:
                failures.append(f"{url}: {e} (gave up after {retries} attempts)")
            else:
                time.sleep(backoff * 2 ** (attempt - 1))
            continue
        if actual != sha256:
            raise ChecksumError(dest, sha256, actual, url)
        return True
    return False


def _mirror_urls(spec: RemoteDataset, file: RemoteFile, mirror: str | None) -> list[str]:
    """Official mirrors in order; or, for a user mirror, BASE/file then BASE/<dataset>/file (so a
    mirror may serve either the upstream layout or a copy of the cache layout)."""
    if mirror is None:
        return [base + file.name for base in spec.mirrors]
    base = mirror if mirror.endswith("/") else mirror + "/"
    return [base + file.name, f"{base}{spec.name}/{file.name}"]


def download(name: str, root=None, mirror: str | None = None, *, force: bool = False,
             progress: bool | None = None, retries: int = 3, backoff: float = 1.0,
             timeout: float = 30.0, log=None) -> Path:
    """Fetch every file of dataset `name` into ROOT/name/ and return that folder.

    A file already there with the right SHA-256 is kept (`force=True` fetches it again); one with
    the wrong SHA-256 is fetched again. `mirror` replaces the official sources with a base URL
    serving the same file names. `log(str)` receives one line per file (default: silent).

        >>> download("mnist", root="/tmp/data")              # doctest: +SKIP
        PosixPath('/tmp/data/mnist')
    """
    spec = REMOTE_DATASETS.get(name)
    if spec is None:
        raise ValueError(f"nothing to download for {name!r}; downloadable datasets: "
                         + ", ".join(sorted(REMOTE_DATASETS)))
    if mirror is not None and not mirror.startswith(("http://", "https://", "file://")):
        raise ValueError(f"mirror {mirror!r} is not a URL: expected http://, https:// or file://")
    log = log or (lambda line: None)
    folder = spec.folder(root)
    for file in spec.files:
        dest = folder / file.name
        if dest.is_file() and not force:
            if sha256_of(dest) == file.sha256:
                log(f"{dest}: present, SHA-256 ok")
                continue
            log(f"{dest}: present but its SHA-256 is wrong, fetching it again")
            dest.unlink()                  # known bad: never leave it behind, whatever happens next
        fetch_file(_mirror_urls(spec, file, mirror), dest, file.sha256, retries=retries,
                   backoff=backoff, timeout=timeout, progress=progress, size_hint=file.size)
        log(f"{dest}: downloaded, SHA-256 ok")
    return folder
