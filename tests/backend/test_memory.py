"""tinygen.backend.memory: the malloc settings apply where glibc takes them, once, and not on
import; a subprocess keeps them out of the test process."""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")


def _run(code, **env):
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env},
                          capture_output=True, text=True, check=True).stdout.split()


def test_not_on_import_and_applied_on_request():
    out = _run("import tinygen\n"
               "from tinygen.backend import memory\n"
               "print(memory._applied, memory.keep_freed_memory(), memory._applied)")
    assert out == ["False", "True", "True"]


def test_the_environment_turns_it_off():
    code = ("from tinygen.backend import memory\n"
            "print(memory.keep_freed_memory_unless_disabled(), memory._applied)")
    assert _run(code, TINYGEN_KEEP_FREED_MEMORY="0") == ["False", "False"]
    assert _run(code, TINYGEN_KEEP_FREED_MEMORY="1") == ["True", "True"]
