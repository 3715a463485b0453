"""The command line under hypothesis-drawn argument lists (valid and invalid subcommands, flags,
values, paths): every one ends with exit status 0, 1 or 2, no traceback, and no file written
outside the places the command may write (its --out, the run folder it samples or evaluates, the
data root it lists). A fixed example budget keeps it to about a minute.

Commands that would run long on purpose are kept short or invalid: training draws at most 2
steps (an --epochs value is always a bad one), `bench` only with bad arguments, and downloads
only from a closed local port.
"""
import contextlib
import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinygen.cli import main
from tinygen.train import recipe_names

NUMBERS = st.sampled_from(["1", "2", "0", "-3", "abc", "1e9", "nan", "", "3.5"])
SMALL = st.sampled_from(["1", "2"])
SET_ITEMS = st.sampled_from(["latent=4", "hidden=8", "width=4", "latent=abc", "nosuch=1",
                             "latent", "=3", "couplings=1", "train_size=64", "n_layer=1",
                             "block_size=4", "eval_batches=1", "iw_samples=2", "arch=mlp",
                             "arch=cnn", "bias=maybe"])


def _paths(sandbox):
    return st.sampled_from([os.path.join(sandbox, "run"), os.path.join(sandbox, "new"),
                            os.path.join(sandbox, "missing", "deep"),
                            os.path.join(sandbox, "afile.txt"), os.path.join(sandbox, "empty"),
                            os.path.join(sandbox, "out.npy"), sandbox])


TINY = {"classifier": ["width=4", "hidden=8"], "vae": ["hidden=8", "latent=4"],
        "gan": ["width=4", "latent=4"], "dcgan": ["width=4", "latent=4"],
        "realnvp": ["hidden=8", "couplings=2", "train_size=256"]}


@st.composite
def valid_training(draw, sandbox):
    """A command line that trains (2 steps of a tiny model): the paths that succeed get drawn too."""
    model = draw(st.sampled_from(sorted(TINY)))
    argv = ["train", model, "--out", os.path.join(sandbox, "new", model), "--steps",
            draw(SMALL), "--device", draw(st.sampled_from(["cpu", "test"]))]
    argv += [a for item in TINY[model] for a in ("--set", item)]
    return argv + draw(st.sampled_from([[], ["--restart"], ["--resume"], ["--log-every", "1"]]))


@st.composite
def command_lines(draw, sandbox):
    paths = _paths(sandbox)
    kind = draw(st.sampled_from(["train", "train-valid", "train-valid", "sample", "eval",
                                 "runs", "data", "bench", "junk"]))
    if kind == "train-valid":
        return draw(valid_training(sandbox))
    if kind == "train":
        argv = ["train", draw(st.sampled_from(recipe_names() + ["nosuch"])), "--out", draw(paths)]
        argv += ["--steps", draw(SMALL)] if draw(st.booleans()) else ["--epochs", draw(
            st.sampled_from(["0", "-1", "x"]))]
        for flag, values in (("--batch-size", NUMBERS), ("--lr", NUMBERS),
                             ("--seed", NUMBERS), ("--log-every", NUMBERS),
                             ("--device", st.sampled_from(["cpu", "test", "tpu", "cuda:x"])),
                             ("--data", st.sampled_from(["digits", "moons", "nosuch", "mnist"]))):
            if draw(st.booleans()):
                argv += [flag, draw(values)]
        argv += [a for item in draw(st.lists(SET_ITEMS, max_size=3)) for a in ("--set", item)]
        argv += draw(st.sampled_from([[], ["--resume"], ["--restart"], ["--resume", "--restart"]]))
        return argv
    if kind in ("sample", "eval"):
        argv = [kind, draw(paths)]
        if kind == "sample":
            argv += draw(st.sampled_from([[], ["-n", "2"], ["-n", "-1"], ["-n", "x"]]))
            argv += draw(st.sampled_from([[], ["--out", draw(paths)], ["--force"]]))
        argv += [a for item in draw(st.lists(SET_ITEMS, max_size=2)) for a in ("--set", item)]
        return argv
    if kind == "runs":
        return ["runs"] + draw(st.sampled_from([[], [draw(paths)]]))
    if kind == "data":
        return draw(st.sampled_from([
            ["data"], ["data", "list", "--root", os.path.join(sandbox, "data")],
            ["data", "download", "nosuch", "--root", os.path.join(sandbox, "data")],
            ["data", "download", "mnist", "--root", os.path.join(sandbox, "data"), "--mirror",
             "http://127.0.0.1:9", "--retries", "1", "--timeout", "2"]]))
    if kind == "bench":
        return draw(st.sampled_from([["bench"], ["bench", "nosuch"],
                                     ["bench", "kernels", "--device", "tpu"]]))
    return draw(st.sampled_from([[], ["junk"], ["--nosuch"], ["train"], ["--debug"]]))


def _files(root):
    return {os.path.join(d, f) for d, _, names in os.walk(root) for f in names}


def _allowed(argv):
    """Where a command may write: its --out, the run folder of sample/eval, the data root."""
    places = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--out", "--root")]
    if argv and argv[0] in ("sample", "eval") and len(argv) > 1:
        places.append(argv[1])
    if argv and argv[0] == "train" and "--out" not in argv:
        places.append("runs")
    return [os.path.abspath(p) for p in places]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("cli_fuzz"))
    assert main(["train", "vae", "--out", os.path.join(root, "run"), "--steps", "2",
                 "--set", "hidden=8", "--set", "latent=4"]) == 0
    os.makedirs(os.path.join(root, "empty"))
    with open(os.path.join(root, "afile.txt"), "w") as f:
        f.write("not a run")
    return root


def test_cli_fuzz(sandbox, monkeypatch):
    monkeypatch.chdir(sandbox)

    @settings(max_examples=100, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(argv=command_lines(sandbox))
    def check(argv):
        before = _files(sandbox)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        assert code in (0, 1, 2), (argv, code, err.getvalue())
        assert "Traceback" not in err.getvalue(), (argv, err.getvalue())
        allowed = _allowed(argv)
        for path in _files(sandbox) - before:
            assert any(os.path.abspath(path).startswith(place.rstrip(os.sep) + os.sep)
                       or os.path.abspath(path) == place for place in allowed), (argv, path)

    check()
