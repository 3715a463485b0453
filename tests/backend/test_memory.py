"""tinygen.backend.memory: `import tinygen` settles malloc at glibc's own ceilings unless the
environment says otherwise; keep_freed_memory() goes further on request. A subprocess keeps the
settings out of the test process; the page faults of a loop of freed blocks show they act."""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")

# Ten rounds of four 1 MiB blocks, touched and freed: glibc's default trims the 4 MiB back to the
# kernel after each round (its trim threshold has risen only to twice the largest block it has
# freed, ~2 MiB), so every round faults ~1000 pages in again; at the ceilings the heap keeps them.
FAULTS = ("import resource, numpy\n"
          "def round():\n"
          "    blocks = [numpy.ones(1 << 20, numpy.uint8) for _ in range(4)]\n"
          "round()\n"
          "f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
          "for _ in range(10): round()\n"
          "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)\n")


def _run(code, drop=(), **env):
    environ = {k: v for k, v in os.environ.items()
               if not (k.startswith("MALLOC_") or k == "GLIBC_TUNABLES" or k in drop)}
    return subprocess.run([sys.executable, "-c", code], env={**environ, **env},
                          capture_output=True, text=True, check=True).stdout.split()


def test_import_settles_at_the_ceilings_and_keep_goes_further():
    out = _run("import tinygen\n"
               "from tinygen.backend import memory\n"
               "print(memory._applied, memory.keep_freed_memory(), memory._applied)",
               drop=("TINYGEN_KEEP_FREED_MEMORY",))
    assert out == ["ceilings", "True", "keep"]


def test_the_environment_turns_it_off():
    code = ("import tinygen\nfrom tinygen.backend import memory\n"
            "print(memory._applied, memory.keep_freed_memory_unless_disabled(), memory._applied)")
    assert _run(code, TINYGEN_KEEP_FREED_MEMORY="0") == ["None", "False", "None"]
    assert _run(code, TINYGEN_KEEP_FREED_MEMORY="1") == ["ceilings", "True", "keep"]
    # malloc set by the environment itself is left as it is on import
    assert _run(code, MALLOC_ARENA_MAX="2")[0] == "None"


def test_the_ceilings_keep_freed_blocks():
    plain = int(_run(FAULTS)[0])
    off = int(_run("import tinygen\n" + FAULTS, TINYGEN_KEEP_FREED_MEMORY="0")[0])
    settled = int(_run("import tinygen\n" + FAULTS, drop=("TINYGEN_KEEP_FREED_MEMORY",))[0])
    assert plain > 5000 and off > 5000, (plain, off)       # ~10 x 1024 pages: the trims happen
    assert settled < 100, settled
