"""atomic_write: the new file appears whole under its name or not at all; failures leave the old
file and no temporary behind. (tg.save's crash tests in test_checkpoint.py go through it too.)"""
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from tinygen.io import atomic_write


def test_text_and_bytes_replace_the_file(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("old")
    with atomic_write(path) as f:
        f.write("new é")
        assert path.read_text() == "old"           # nothing visible until the block ends
    assert path.read_text(encoding="utf-8") == "new é"
    with atomic_write(str(path), "wb") as f:
        f.write(b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert os.listdir(tmp_path) == ["a.json"]


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_an_error_in_the_block_keeps_the_old_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "metrics.jsonl"
    path.write_text("old\n")
    with pytest.raises(type(error)):
        with atomic_write(path) as f:
            f.write("half of the new")
            raise error
    assert path.read_text() == "old\n"
    with pytest.raises(type(error)):
        with atomic_write(tmp_path / "fresh.txt") as f:
            raise error
    assert os.listdir(tmp_path) == ["metrics.jsonl"]


def test_a_killed_process_leaves_only_a_hidden_temporary(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("old")
    script = textwrap.dedent(f"""
        import os
        from tinygen.io import atomic_write
        with atomic_write({str(path)!r}) as f:
            f.write("partial")
            f.flush()
            os._exit(17)                  # a hard crash: no cleanup runs
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120,
                            check=False)
    assert result.returncode == 17, result.stderr.decode()
    assert path.read_text() == "old"
    leftovers = [n for n in os.listdir(tmp_path) if n != "config.json"]
    assert leftovers and all(n.startswith(".config.json.") and n.endswith(".tmp")
                             for n in leftovers)


def test_permissions_follow_the_umask_like_open(tmp_path):
    plain, atomic = tmp_path / "plain", tmp_path / "atomic"
    plain.write_text("x")
    with atomic_write(atomic) as f:
        f.write("x")
    assert stat.S_IMODE(atomic.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_bad_mode_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb'"):
        with atomic_write(tmp_path / "x", "a"):
            pass


def test_a_missing_folder_is_named_by_the_path_asked_for(tmp_path):
    # not by the hidden temporary beside it (".x.json.1a2b3c4d.tmp"), which the user never named
    path = tmp_path / "no" / "such" / "x.json"
    with pytest.raises(FileNotFoundError) as info:
        with atomic_write(path) as f:
            f.write("{}")
    assert info.value.filename == str(path) and ".tmp" not in str(info.value)
