"""Checksummed, resumable downloads into the dataset cache.

A file is streamed into a hidden partial file beside its final name (`.NAME.part`) while its
SHA-256 (and MD5) is computed, and renamed to its final name (`os.replace`, atomic on one
filesystem) only when the checksum equals the value recorded in `sources.py`. So the final name
never holds a partial or wrong file:

- wrong bytes (a tampered or corrupted file): the partial file is deleted and a ChecksumError
  (one line, naming the file and both digests) is raised;
- a connection that drops mid-file (fewer bytes than the Content-Length, a reset, a timeout) is
  retried `retries` times with a doubling pause, each retry asking only for the missing bytes
  (HTTP Range: `bytes=N-`); after the last one the partial file is kept, and the next download of
  the same file, in this process or another, resumes from it. A server that ignores the Range
  header (200 instead of 206) sends the whole file again, which replaces the partial one;
- a 404 or other 4xx is not retried, and the next mirror is tried instead.

Checksums: a file's SHA-256 where it is recorded; for the files whose publishers give only an
MD5 (CelebA, LFW), the MD5 is checked and the SHA-256 of the verified file is then pinned in
ROOT/NAME/SHA256SUMS, against which every later use is checked ("pinned on first verified
download").
"""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..io.atomic import atomic_write, commit_file
from .sources import REMOTE_DATASETS, RemoteDataset, RemoteFile

CHUNK = 1 << 16
USER_AGENT = "tinygen-data/0.1 (+urllib)"
PINS = "SHA256SUMS"          # ROOT/NAME/SHA256SUMS: SHA-256 pinned on first verified download


class DownloadError(RuntimeError):
    """A file could not be fetched; the message is one line and names the file."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not have the checksum recorded for the file."""

    def __init__(self, path, expected: str, actual: str, url: str | None = None,
                 kind: str = "SHA-256"):
        self.path, self.expected, self.actual, self.url = Path(path), expected, actual, url
        source = f" from {url}" if url else ""
        super().__init__(
            f"checksum mismatch for {self.path.name}{source}: expected {kind} {expected}, "
            f"got {actual}; the file was deleted")


class _Dropped(Exception):
    """A transient failure worth retrying: the connection dropped, reset or timed out."""


class _NotTheFile(Exception):
    """The server answered with a web page instead of the file (Google Drive's quota or
    confirmation page, a login wall): not worth a retry."""


class _Restart(Exception):
    """The partial file cannot be resumed (416, or a range that does not start where it ends)."""


def sha256_of(path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def md5_of(path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def partial_path(dest) -> Path:
    """Where the bytes of `dest` collect until they are verified: `.NAME.part` beside it."""
    dest = Path(dest)
    return dest.with_name(f".{dest.name}.part")


def _progress_bar(total, desc, show, initial=0):
    from tqdm import tqdm   # lazy: only downloads need it
    return tqdm(total=total, initial=initial, desc=desc, unit="B", unit_scale=True,
                unit_divisor=1024, disable=not show, leave=False, file=sys.stderr)


def _range_start(content_range) -> int | None:
    """The first byte of a `Content-Range: bytes START-END/TOTAL` header, or None."""
    match = re.match(r"\s*bytes\s+(\d+)-", content_range or "")
    return int(match.group(1)) if match else None


def _append_body(response, part: Path, offset, resumed, digests, bar) -> int:
    """Write the response's body into `part` after its first `offset` bytes (resumed) or in place
    of them, feeding every byte of the file, old and new, to `digests`; return the bytes read."""
    received = 0
    with open(part, "r+b" if resumed else "wb") as out:
        if resumed:                              # the digests start with the bytes kept
            for block in iter(lambda: out.read(1 << 20), b""):
                for digest in digests:
                    digest.update(block)
            out.seek(offset)
            out.truncate()
        while True:
            block = response.read(CHUNK)
            if not block:
                break
            out.write(block)
            for digest in digests:
                digest.update(block)
            received += len(block)
            bar.update(len(block))
        out.flush()
        os.fsync(out.fileno())
    return received


def _stream_once(url, part: Path, timeout, show_progress, size_hint, desc):
    """GET `url` into the partial file `part`, asking only for the bytes it lacks; return the
    (SHA-256, MD5) hex digests of the whole file once complete. Raises _Dropped for a transient
    failure (the bytes received so far stay in `part`), _Restart when the partial file cannot be
    resumed, urllib.error.HTTPError for an HTTP error status."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            kind = (response.headers.get("Content-Type") or "").lower()
            if kind.startswith("text/html") and not desc.lower().endswith((".html", ".htm")):
                raise _NotTheFile("an HTML page instead of the file (a quota, confirmation or "
                                  "login page?)")
            resumed = offset > 0 and getattr(response, "status", None) == 206
            if resumed and _range_start(response.headers.get("Content-Range")) != offset:
                raise _Restart(f"the server answered a range not starting at byte {offset}")
            if not resumed:
                offset = 0                       # the whole file: it replaces the partial one
            length = response.headers.get("Content-Length")
            expected = int(length) if length is not None and length.isdigit() else None
            total = offset + expected if expected is not None else size_hint
            with _progress_bar(total, desc, show_progress, initial=offset) as bar:
                received = _append_body(response, part, offset, resumed, (sha, md5), bar)
    except urllib.error.HTTPError as e:
        if e.code == 416:                       # nothing left to send from there: start over
            raise _Restart("HTTP 416 Range Not Satisfiable") from e
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
        raise _Dropped(f"connection dropped after {offset + received} of {offset + expected} "
                       "bytes")
    return sha.hexdigest(), md5.hexdigest()


def fetch_file(urls, dest, sha256: str | None = None, *, md5: str | None = None,
               retries: int = 3, backoff: float = 1.0, timeout: float = 30.0,
               progress: bool | None = None, size_hint: int | None = None):
    """Download the first of `urls` that answers into `dest`, checking its SHA-256 (or, when only
    `md5` is given, its MD5).

    Each URL gets `retries` attempts against dropped connections (pausing backoff, 2*backoff, ...
    seconds between them), each resuming where the last stopped; an HTTP 4xx moves on to the next
    URL at once. Returns `dest` (a Path). Raises ChecksumError when the bytes arrive but their
    digest differs (the partial file is deleted; no other URL is tried, since a wrong file should
    be loud), DownloadError when no URL gave the whole file (the bytes received stay in
    `.NAME.part`, and the next call resumes from them)."""
    if sha256 is None and md5 is None:
        raise ValueError("fetch_file: give the SHA-256 (or the MD5) the file must have")
    if isinstance(urls, str):
        urls = [urls]
    dest = Path(dest)
    part = partial_path(dest)
    if progress is None:
        progress = sys.stderr.isatty()
    folder_created = not dest.parent.exists()
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    try:
        for url in urls:
            if _fetch_from(url, part, dest, sha256, md5, failures, retries=retries,
                           backoff=backoff, timeout=timeout, progress=progress,
                           size_hint=size_hint):
                commit_file(part, dest)          # verified: now, and only now, under its name
                return dest
        kept = part.stat().st_size if part.exists() else 0
        resume = f" ({kept} bytes kept in {part.name}: the next download resumes)" if kept else ""
        raise DownloadError(f"could not download {dest.name}: " + "; ".join(failures) + resume)
    finally:
        if part.exists() and part.stat().st_size == 0:
            part.unlink()
        if folder_created and dest.parent.is_dir() and not any(dest.parent.iterdir()):
            dest.parent.rmdir()


def _fetch_from(url, part, dest, sha256, md5, failures, *, retries, backoff, timeout, progress,
                size_hint) -> bool:
    """Up to `retries` attempts at `url` into `part`. True once the bytes have the right digest;
    False (the reason appended to `failures`) when this URL gave up; ChecksumError on wrong bytes."""
    for attempt in range(1, retries + 1):
        try:
            actual_sha, actual_md5 = _stream_once(url, part, timeout, progress, size_hint,
                                                  dest.name)
        except urllib.error.HTTPError as e:
            failures.append(f"{url}: HTTP {e.code} {e.reason}")
            return False
        except _NotTheFile as e:
            failures.append(f"{url}: {e}")
            return False
        except (_Dropped, _Restart) as e:
            if isinstance(e, _Restart):
                part.unlink(missing_ok=True)
            if attempt == retries:
                failures.append(f"{url}: {e} (gave up after {retries} attempts)")
            else:
                time.sleep(backoff * 2 ** (attempt - 1))
            continue
        if sha256 is not None and actual_sha != sha256:
            part.unlink(missing_ok=True)
            raise ChecksumError(dest, sha256, actual_sha, url)
        if sha256 is None and actual_md5 != md5:
            part.unlink(missing_ok=True)
            raise ChecksumError(dest, md5, actual_md5, url, kind="MD5")
        return True
    return False


def read_pins(folder) -> dict[str, str]:
    """{file name: SHA-256} pinned in FOLDER/SHA256SUMS ({} when there is none)."""
    path = Path(folder) / PINS
    if not path.is_file():
        return {}
    pins = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and re.fullmatch(r"[0-9a-f]{64}", parts[0]):
            pins[parts[1]] = parts[0]
    return pins


def pin_sha256(folder, name: str, sha256: str) -> None:
    """Record `sha256` for file `name` in FOLDER/SHA256SUMS (atomically, keeping the others)."""
    pins = read_pins(folder)
    pins[name] = sha256
    with atomic_write(Path(folder) / PINS) as f:
        f.writelines(f"{sha}  {file}\n" for file, sha in sorted(pins.items()))


def _mirror_urls(spec: RemoteDataset, file: RemoteFile, mirror: str | None) -> list[str]:
    """The file's own official URLs (for hosts that name files by id) or the official mirrors in
    order; or, for a user mirror, BASE/file then BASE/<dataset>/file (so a mirror may serve either
    the upstream layout or a copy of the cache layout)."""
    if mirror is None:
        return list(file.urls) or [base + file.name for base in spec.mirrors]
    base = mirror if mirror.endswith("/") else mirror + "/"
    return [base + file.name, f"{base}{spec.name}/{file.name}"]


def expected_sha256(spec: RemoteDataset, file: RemoteFile, root=None) -> str | None:
    """The SHA-256 `file` must have: recorded in sources.py, else pinned on its first verified
    download (ROOT/NAME/SHA256SUMS), else None (not downloaded yet: its MD5 decides)."""
    return file.sha256 or read_pins(spec.folder(root)).get(file.name)


def verify_file(spec: RemoteDataset, file: RemoteFile, root=None) -> bool:
    """Whether ROOT/NAME/FILE exists with its checksum (pinning its SHA-256 when only the MD5 was
    known and it matches)."""
    folder = spec.folder(root)
    path = folder / file.name
    if not path.is_file():
        return False
    sha = expected_sha256(spec, file, root)
    if sha is not None:
        return sha256_of(path) == sha
    if md5_of(path) != file.md5:
        return False
    pin_sha256(folder, file.name, sha256_of(path))
    return True


def download(name: str, root=None, mirror: str | None = None, *, force: bool = False,
             progress: bool | None = None, retries: int = 3, backoff: float = 1.0,
             timeout: float = 30.0, log=None) -> Path:
    """Fetch every file of dataset `name` into ROOT/name/ and return that folder.

    A file already there with the right checksum is kept (`force=True` fetches it again); one with
    the wrong checksum is deleted and fetched again. `mirror` replaces the official sources with a
    base URL serving the same file names. `log(str)` receives one line per file (default: silent).
    A partial file left by an interrupted download is resumed (HTTP Range).

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
        kind = "SHA-256" if expected_sha256(spec, file, root) else "MD5"
        if dest.is_file() and not force:
            if verify_file(spec, file, root):
                log(f"{dest}: present, {kind} ok")
                continue
            log(f"{dest}: present but its {kind} is wrong, fetching it again")
            dest.unlink()                  # known bad: never leave it behind, whatever happens next
        sha = None if force and not file.sha256 else expected_sha256(spec, file, root)
        try:
            fetch_file(_mirror_urls(spec, file, mirror), dest, sha, md5=file.md5,
                       retries=retries, backoff=backoff, timeout=timeout, progress=progress,
                       size_hint=file.size)
        except ChecksumError:
            raise
        except DownloadError as e:         # offline, or every source gone: say what else works
            raise DownloadError(f"{e}; offline? put {file.name} into {folder} by hand, or pass "
                                "--mirror URL (a server with the same file names)") from None
        if sha is None:                    # verified by its published MD5: pin its SHA-256
            pin_sha256(folder, file.name, sha256_of(dest))
        log(f"{dest}: downloaded, {'SHA-256' if sha else 'MD5'} ok")
    return folder
