"""Atomic file writes: a reader sees the old file or the new one, never a partial one.

    with atomic_write("runs/vae/config.json") as f:         # text; "wb" for bytes
        json.dump(config, f)

The bytes go to a hidden temporary file in the target's directory (`.NAME.<random>.tmp`), which
is flushed and fsync'ed, then `os.replace`d onto NAME (atomic on one filesystem), and the
directory is fsync'ed so the rename itself survives a power cut. If the block raises (an error,
Ctrl-C), the temporary file is deleted and NAME is left as it was. A process killed mid-write
leaves at most the hidden temporary file, never a partial NAME.

Every file tinygen writes in place (checkpoints, run folders, plots, downloads) goes through here.
"""
from __future__ import annotations

import contextlib
import os
import secrets


@contextlib.contextmanager
def atomic_write(path, mode="w", *, encoding=None):
    """Yield a file object open on a temporary name beside `path`; on a clean exit it replaces
    `path`. mode: "w" (text, UTF-8 unless `encoding` says otherwise) or "wb" (bytes). The new file
    gets the usual permissions (0o666 less the umask), like `open(path, "w")`."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
    # O_EXCL: never write through a file (or link) that something else put under this name
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except OSError as e:              # a missing or read-only folder: named by `path`, as open()
        raise type(e)(e.errno, e.strerror, path) from None       # would name it, not `tmp`
    try:
        if mode == "wb":
            file = os.fdopen(fd, "wb")
        else:
            file = os.fdopen(fd, "w", encoding=encoding or "utf-8")
        with file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:                      # KeyboardInterrupt too: never leave the temporary
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make a rename in `directory` durable (POSIX); a no-op where directories cannot be opened."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def commit_file(tmp, path):
    """Make the finished file `tmp` (written and closed by the caller, in `path`'s directory) the
    file `path`: fsync it, `os.replace` it onto `path` (atomic on one filesystem), fsync the
    directory. For files filled over several sessions (a resumed download), where the
    context manager above cannot span the writing."""
    fd = os.open(os.fspath(tmp), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_directory(os.path.dirname(os.path.abspath(os.fspath(path))))
