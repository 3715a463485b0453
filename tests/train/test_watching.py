"""Watching runs: TensorBoard events (read back from the files) and `tinygen runs`."""
import glob
import json
import os
import struct
import subprocess
import sys

import pytest

from tinygen.cli import main

TINY_VAE = ["--set", "hidden=8", "--set", "latent=4"]


def _read_events(folder):
    """Every Event in the TFRecord files of a TensorBoard log folder: records are a little-endian
    uint64 length, a CRC of it, the payload, a CRC of the payload."""
    event_pb2 = pytest.importorskip("tensorboardX.proto.event_pb2")
    events = []
    for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
        data = open(path, "rb").read()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[pos + 12:pos + 12 + length])
            events.append(event)
            pos += 12 + length + 4
    return events


def test_tensorboard_events_hold_scalars_config_images_and_histograms(tmp_path):
    pytest.importorskip("tensorboardX")
    out = str(tmp_path / "vae")
    assert main(["train", "vae", "--out", out, "--epochs", "2", "--log-every", "4",
                 "--tensorboard", "--histogram-every", "5", *TINY_VAE]) == 0
    events = _read_events(os.path.join(out, "tensorboard"))
    values = [(e.step, v) for e in events for v in e.summary.value]
    scalars = {(step, v.tag): v.simple_value for step, v in values if v.HasField("simple_value")}
    with open(os.path.join(out, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    for row in rows:                    # every logged number, at its step, under split/name
        for key, value in row.items():
            if key not in ("step", "epoch", "split"):
                assert scalars[(row["step"], f"{row['split']}/{key}")] == pytest.approx(value)
    tags = {v.tag for _, v in values}
    assert any(tag.startswith("config") for tag in tags)
    images = [step for step, v in values if v.HasField("image")]
    assert len(images) == 2                                 # one sample grid per epoch
    histogram_steps = {step for step, v in values if v.HasField("histo")}
    assert histogram_steps and all(step % 5 == 0 for step in histogram_steps)
    assert any(tag.startswith("vae/") for tag in tags)      # weights by module and name


def test_without_tensorboardx_the_flag_is_one_clear_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)   # import fails
    assert main(["train", "vae", "--out", str(tmp_path / "v"), "--steps", "2", "--tensorboard",
                 *TINY_VAE]) == 1
    err = capsys.readouterr().err
    assert "pip install 'tinygen[tensorboard]'" in err and "Traceback" not in err


def test_runs_lists_status_metrics_and_size(tmp_path, capsys):
    done, stopped = str(tmp_path / "done"), str(tmp_path / "stopped")
    assert main(["train", "vae", "--out", done, "--steps", "3", *TINY_VAE]) == 0
    assert main(["train", "vae", "--out", stopped, "--epochs", "2", *TINY_VAE]) == 0
    with open(os.path.join(stopped, "trainer.json")) as f:      # as if stopped after epoch 1
        trainer = json.load(f)
    trainer["total_steps"] *= 2
    with open(os.path.join(stopped, "trainer.json"), "w") as f:
        json.dump(trainer, f)
    live = str(tmp_path / "live")
    assert main(["train", "vae", "--out", live, "--steps", "3", *TINY_VAE]) == 0
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with open(os.path.join(live, ".running"), "w") as f:
            json.dump({"pid": sleeper.pid}, f)
        capsys.readouterr()
        assert main(["runs", str(tmp_path)]) == 0
        lines = capsys.readouterr().out.splitlines()
    finally:
        sleeper.kill()
    table = {line.split()[0]: line.split() for line in lines[1:]}
    assert table[done][1:4] == ["vae", "digits", "finished"] and table[done][4] == "3/3"
    assert table[stopped][3] == "interrupted"
    assert table[live][3] == "running"
    assert "test_nelbo_nats=" in " ".join(table[done]) and table[done][-1] in ("kB", "MB")
    assert main(["runs", str(tmp_path / "nowhere")]) == 1
