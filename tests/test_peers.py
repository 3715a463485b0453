"""benchmarks/peers.py (`tinygen bench peers`): the child's JSON, engines that are missing or
cannot run reported as rows (never raised), and the table's verdicts. No timing is asserted."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import peer_workloads  # noqa: E402
import peers  # noqa: E402
import zig_cc  # noqa: E402

import tinygen as tg  # noqa: E402

KEYS = {"engine", "workload", "status", "reason", "detail", "version", "threads", "median_us"}


def _check_ok(result, engine, workload, repeats, number):
    assert KEYS <= set(result)
    assert (result["engine"], result["workload"], result["status"]) == (engine, workload, "ok")
    assert len(result["times_us"]) == repeats and result["number"] == number
    assert result["median_us"] > 0 and all(t > 0 for t in result["times_us"])
    assert math.isfinite(result["first_loss"]) and math.isfinite(result["last_loss"])


def test_child_prints_one_json_line():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "peers.py"),
                           "--child", "tinygen", "chain", "--repeats", "2", "--number", "3",
                           "--warmup", "1"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    _check_ok(result, "tinygen", "chain", 2, 3)
    assert result["version"].startswith(tg.__version__)


def test_toy_in_process():
    result = peers.child_result("tinygen", "toy", repeats=2, number=2, warmup=1)
    _check_ok(result, "tinygen", "toy", 2, 2)
    assert result["last_loss"] < result["first_loss"]          # SGD on the hinge loss descends


def test_an_engine_that_is_not_installed_is_a_row(monkeypatch):
    for name in [m for m in sys.modules if m == "micrograd" or m.startswith("micrograd.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "micrograd", None)         # import micrograd now fails
    result = peers.child_result("micrograd", "toy", repeats=1, number=1)
    assert result["status"] == "not installed" and result["median_us"] is None
    assert "tinygen[peers]" in result["detail"]


def test_not_applicable_and_not_built_are_rows():
    result = peers.child_result("micrograd", "chain", repeats=1, number=1)
    assert result["status"] in ("unavailable", "not installed")
    compiled = peers.child_result("tinygen-compiled", "chain", repeats=1, number=1)
    eager = peers.child_result("tinygen", "chain", repeats=1, number=1)
    assert compiled["status"] == "ok"
    assert compiled["first_loss"] == eager["first_loss"]      # the same data, the same result


def test_tinygrad_without_clang_says_so(monkeypatch):
    monkeypatch.setattr(peer_workloads.shutil, "which", lambda name: None)
    monkeypatch.setattr(peer_workloads, "_ziglang_installed", lambda: False)
    monkeypatch.delenv("DEV", raising=False)
    monkeypatch.delenv("CC", raising=False)
    result = peers.child_result("tinygrad", "chain", repeats=1, number=1)
    try:
        import tinygrad  # noqa: F401
    except ImportError:
        assert result["status"] == "not installed"
    else:
        assert (result["status"], result["reason"]) == ("unavailable", "clang missing")
        assert "apt-get install clang" in result["detail"] and "ziglang" in result["detail"]


def test_tinygrad_without_clang_takes_the_ziglang_wheels(monkeypatch):
    monkeypatch.setattr(peer_workloads.shutil, "which", lambda name: None)
    monkeypatch.setattr(peer_workloads, "_ziglang_installed", lambda: True)
    monkeypatch.setattr(peer_workloads, "_zig_description", lambda: "zig's clang")
    monkeypatch.setattr(peer_workloads._zig_cc_executable, "made", None)
    monkeypatch.delenv("DEV", raising=False)
    monkeypatch.delenv("CC", raising=False)
    assert peer_workloads.tinygrad_compiler() == "zig's clang"
    cc = os.environ["CC"]                   # (monkeypatch restores the environment)
    assert os.access(cc, os.X_OK)
    script = open(cc).read()
    assert sys.executable in script and peer_workloads.ZIG_CC in script
    monkeypatch.setattr(peer_workloads.shutil, "which", lambda name: name)
    assert peer_workloads.tinygrad_compiler() == "zig's clang"     # the same, asked again


def test_zig_cc_translates_tinygrads_clang_call():
    args, out = zig_cc.zig_arguments(
        ["-c", "-x", "c", "-O2", "-fPIC", "--target=x86_64-none-unknown-elf", "-march=native",
         "-", "-o", "-"])
    assert out == "-"
    assert args == ["-c", "-x", "c", "-O2", "-fPIC", "-target", "x86_64-freestanding-none",
                    "-march=native", "-", "-g0"]


def test_zig_cc_writes_an_object_tinygrads_loader_takes(tmp_path):
    pytest.importorskip("ziglang")
    src = b"float dot(const float *a, const float *b, int n) {\n" \
          b"  float s = 0; for (int i = 0; i < n; i++) s += a[i] * b[i]; return s; }\n"
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "zig_cc.py"), "-c", "-x", "c", "-O2",
         "-fPIC", "-ffreestanding", "-nostdlib", "--target=x86_64-none-unknown-elf", "-", "-o",
         "-"], input=src, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout[:4] == b"\x7fELF"
    elf = pytest.importorskip("tinygrad.runtime.support.elf")
    elf.jit_loader(proc.stdout)             # raises on a relocation it does not take


def test_a_child_past_its_timeout_is_a_row():
    args = SimpleNamespace(repeats=1, warmup=0, threads=1, target=0.01, number=1, timeout=0.01,
                           keep_freed_memory=False)
    result = peers.run_child("tinygen", "chain", args)
    assert (result["status"], result["reason"]) == ("error", "timed out")


@pytest.mark.parametrize("workload", ["chain", "toy"])
def test_pytorch_computes_the_same_first_loss(workload):
    pytest.importorskip("torch")
    ours = peers.child_result("tinygen", workload, repeats=1, number=1, warmup=0)
    theirs = peers.child_result("torch", workload, repeats=1, number=1, warmup=0)
    results = {("tinygen", workload): ours, ("torch", workload): theirs}
    assert peers.loss_check(results, workload, "torch") == "ok"


def test_the_verdict_names_a_faster_engine():
    def row(engine, us, loss=1.0):
        return {"engine": engine, "status": "ok", "median_us": us, "first_loss": loss}
    results = {("tinygen", "toy"): row("tinygen", 100.0), ("mygrad", "toy"): row("mygrad", 80.0),
               ("autograd", "toy"): row("autograd", 200.0, loss=1.1),
               ("torch", "toy"): row("torch", 10.0)}                 # not from scratch
    assert peers.versus_other_from_scratch(results, "toy") == "SLOWER than MyGrad (1.25)"
    assert peers.loss_check(results, "toy", "autograd").startswith("MISMATCH")
    assert peers.cell(results["mygrad", "toy"], 100.0) == "80.0 µs (1.25)"


def test_tinygen_bench_peers_writes_the_table(tmp_path, monkeypatch):
    from tinygen.cli import main
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = tmp_path / "peers.md"
    assert main(["bench", "peers", "--engines", "micrograd", "--workloads", "chain,toy",
                 "--repeats", "1", "--number", "1", "--warmup", "0", "--out", str(out)]) == 0
    text = out.read_text()
    assert "| tinygen eager | micrograd |" in text                    # tinygen is always a column
    assert "n/a (scalar engine)" in text and "## " not in text
    assert "tinygen eager vs other from-scratch" in text


def test_rounds_pool_their_repeats_and_keep_failures():
    def ok(times, first, last):
        return {"status": "ok", "times_us": times, "median_us": None, "first_loss": first,
                "last_loss": last}
    merged = peers.merge(ok([1.0, 5.0], 2.0, 1.5), ok([3.0], 1.4, 1.2))
    assert merged["times_us"] == [1.0, 5.0, 3.0] and merged["median_us"] == 3.0
    assert (merged["first_loss"], merged["last_loss"]) == (2.0, 1.2)
    failed = {"status": "error", "reason": "timed out", "median_us": None}
    assert peers.merge(merged, failed) is failed and peers.merge(failed, merged) is failed


def test_an_unsteady_cell_is_marked():
    steady = {"engine": "mygrad", "status": "ok", "median_us": 10.0, "times_us": [9.0, 10.0, 12.0]}
    unsteady = dict(steady, times_us=[2.0, 10.0, 150.0])
    assert not peers.unsteady(steady) and peers.cell(steady, 10.0) == "10.0 µs (1.00)"
    assert peers.unsteady(unsteady) and peers.cell(unsteady, 10.0).endswith(" †")


def test_keep_freed_memory_in_a_child_does_not_import_tinygen():
    """--keep-freed-memory sets glibc's malloc in every engine's child from tinygen's memory.py
    file: a child timing another engine does not import tinygen for it."""
    def run(code):
        return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.split()
    out = run("import sys; sys.path.insert(0, 'benchmarks'); import peers; "
              "print(peers.keep_freed_memory(), 'tinygen' in sys.modules)")
    assert out[:1] == run("from tinygen.backend import memory; print(memory.keep_freed_memory())")
    assert out[1:] == ["False"]
