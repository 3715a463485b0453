"""kill -9 at any moment of a training run leaves a folder that `--resume` continues from its
last complete checkpoint, and the resumed run's metrics.jsonl equals an uninterrupted run's, byte
for byte (issue #21). The runs are real processes killed with SIGKILL:

- in the middle of writing a checkpoint file (the process kills itself after half the bytes of
  its k-th safetensors write: the file seam tests patch),
- between the moves that commit a staged checkpoint (after its k-th os.replace out of the
  staging folder),
- and at random moments, several times in one run.
"""
import os
import random
import signal
import subprocess
import sys
import time

import pytest

ARGS = ["train", "vae", "--epochs", "4", "--log-every", "1", "--set", "hidden=8",
        "--set", "latent=4", "--seed", "3"]

DRIVER = r'''
import os, signal, sys
mode, k = sys.argv[1], int(sys.argv[2])
if mode == "write":              # die half-way through the k-th checkpoint file's bytes
    import tinygen.io.checkpoint as checkpoint
    original, calls = checkpoint._write_all, [0]
    def write_all(file, chunks):
        calls[0] += 1
        if calls[0] == k:
            data = b"".join(chunks)
            file.write(data[:len(data) // 2])
            file.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return original(file, chunks)
    checkpoint._write_all = write_all
elif mode == "commit":           # die after the k-th move out of the staging folder
    original, calls = os.replace, [0]
    def replace(src, dst):
        result = original(src, dst)
        if ".checkpoint-next" in str(src):
            calls[0] += 1
            if calls[0] == k:
                os.kill(os.getpid(), signal.SIGKILL)
        return result
    os.replace = replace
from tinygen.cli import main
sys.exit(main(sys.argv[3:]))
'''


def _run(tmp_path, out, mode="none", k=0, resume=False, wait=True):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    argv = [sys.executable, str(driver), mode, str(k), *ARGS, "--out", out]
    if resume:
        argv.append("--resume")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    if not wait:
        return proc
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err.decode()


def _metrics(out):
    with open(os.path.join(out, "metrics.jsonl"), "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kill_reference")
    out = str(tmp / "ref")
    code, err = _run(tmp, out)
    assert code == 0, err
    return _metrics(out)


def _resume_to_the_end(tmp_path, out):
    code, err = _run(tmp_path, out, resume=True)
    assert code == 0, err
    assert "Traceback" not in err


@pytest.mark.parametrize("k", [2, 4, 6])       # checkpoint files 2, 4, 6: epochs 1, 2, 3
def test_killed_while_writing_a_checkpoint(tmp_path, reference, k):
    out = str(tmp_path / "run")
    code, _ = _run(tmp_path, out, mode="write", k=k)
    assert code == -signal.SIGKILL
    _resume_to_the_end(tmp_path, out)
    assert _metrics(out) == reference


@pytest.mark.parametrize("k", [1, 2, 4])       # mid-commit of the first and second checkpoint
def test_killed_while_committing_a_checkpoint(tmp_path, reference, k):
    out = str(tmp_path / "run")
    code, _ = _run(tmp_path, out, mode="commit", k=k)
    assert code == -signal.SIGKILL
    _resume_to_the_end(tmp_path, out)
    assert _metrics(out) == reference


def test_killed_at_random_moments_again_and_again(tmp_path, reference):
    out = str(tmp_path / "run")
    rng = random.Random(7)
    for attempt in range(3):
        started = os.path.exists(os.path.join(out, "config.json"))
        proc = _run(tmp_path, out, resume=started, wait=False)
        time.sleep(rng.uniform(1.0, 4.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=300)
    _resume_to_the_end(tmp_path, out)
    assert _metrics(out) == reference
