"""The TCP rendezvous of backend='nccl' from environment variables: rank 0's bytes reach every rank
(here threads on localhost), and a missing rank is a clear error, not a hang."""
import socket
import threading

import pytest

from tinygen.distributed.rendezvous import share_from_rank0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_rank_gets_rank0s_bytes():
    size, port, payload = 4, free_port(), bytes(range(256)) * 3
    got = [None] * size

    def rank(r):
        got[r] = share_from_rank0(payload if r == 0 else None, r, size, "127.0.0.1", port, 30)

    threads = [threading.Thread(target=rank, args=(r,)) for r in (3, 1, 2, 0)]   # 0 starts last
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert got == [payload] * size


def test_a_missing_rank_times_out_with_the_address():
    with pytest.raises(RuntimeError, match=r"only 0 of the 1 other ranks connected"):
        share_from_rank0(b"x", 0, 2, "127.0.0.1", free_port(), timeout=0.5)
    with pytest.raises(RuntimeError, match=r"rank 1 could not reach rank 0 at 127.0.0.1:\d+"):
        share_from_rank0(None, 1, 2, "127.0.0.1", free_port(), timeout=0.5)


def test_one_rank_needs_no_network():
    assert share_from_rank0(b"abc", 0, 1, "nowhere", 1, timeout=0.1) == b"abc"
