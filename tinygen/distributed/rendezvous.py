"""Where processes started without MPI meet: rank 0 hands a few bytes to every other rank over TCP.

Used by backend='nccl' when the ranks come from environment variables (RANK, WORLD_SIZE,
MASTER_ADDR, MASTER_PORT, as torchrun sets them) rather than from mpiexec: rank 0 makes NCCL's
unique id and serves it at MASTER_ADDR:MASTER_PORT; the others connect (retrying until rank 0
listens) and read it. The message is its length (4 bytes, big-endian), then the bytes.
"""
from __future__ import annotations

import socket
import struct
import time


def share_from_rank0(data, rank, size, addr, port, timeout=300.0):
    """rank 0 passes `data` (bytes) and gets it back; every other rank passes None and gets rank
    0's bytes. Raises a RuntimeError naming the address and the ranks after `timeout` seconds."""
    if size == 1:
        return data
    deadline = time.monotonic() + timeout
    if rank == 0:
        _serve(data, size, port, deadline, addr)
        return data
    return _fetch(rank, addr, port, deadline)


def _serve(data, size, port, deadline, addr):
    message = struct.pack(">I", len(data)) + data
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("", port))            # every interface: MASTER_ADDR is how others reach it
        server.listen(size)
        for joined in range(1, size):
            server.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                conn, _ = server.accept()
            except socket.timeout:
                raise RuntimeError(
                    f"rendezvous: rank 0 listened on port {port} (MASTER_ADDR={addr}) but only "
                    f"{joined - 1} of the {size - 1} other ranks connected in time; are RANK, "
                    "WORLD_SIZE, MASTER_ADDR and MASTER_PORT the same for every process?") from None
            with conn:
                conn.sendall(message)


def _fetch(rank, addr, port, deadline):
    while True:
        try:
            with socket.create_connection((addr, port), timeout=5.0) as conn:
                (n,) = struct.unpack(">I", _read(conn, 4))
                return _read(conn, n)
        except (ConnectionRefusedError, socket.timeout, OSError) as e:
            if time.monotonic() > deadline:
                raise RuntimeError(f"rendezvous: rank {rank} could not reach rank 0 at "
                                   f"{addr}:{port} ({e}); is rank 0 running, and are MASTER_ADDR "
                                   "and MASTER_PORT the same for every process?") from None
            time.sleep(0.1)


def _read(conn, n):
    chunks, got = [], 0
    while got < n:
        chunk = conn.recv(n - got)
        if not chunk:
            raise ConnectionError("rendezvous: rank 0 closed the connection early")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
