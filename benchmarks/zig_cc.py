"""clang for tinygrad's CPU device where the system has none: the clang inside the ziglang wheel
(`python -m ziglang cc`; clang 22 in ziglang 0.17), called the way tinygrad calls clang.
Benchmark-only: peer_workloads.tinygrad_compiler() makes it tinygrad's $CC when clang is not on
PATH and ziglang is installed (`pip install 'tinygen[peers]'` brings it).

tinygrad compiles every kernel, and its CPU queue's own programs, with

    $CC -c -x c -O2 -fPIC -ffreestanding -fno-math-errno -nostdlib -fno-ident
        --target=x86_64-none-unknown-elf -march=native - -o -

C on stdin, an ELF object on stdout, which its own loader links into memory. Three things differ
under zig, and are translated here:
  - zig parses targets its own way: `x86_64-none-unknown-elf` (bare metal, no OS) is zig's
    `x86_64-freestanding-none`;
  - zig writes an object to a file only: it goes to a temporary file, then to stdout;
  - zig adds debug information by default, whose absolute relocations (R_X86_64_32) tinygrad's
    loader does not take: -g0.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

ZIG_TARGETS = {"x86_64-none-unknown-elf": "x86_64-freestanding-none",
               "aarch64-none-unknown-elf": "aarch64-freestanding-none",
               "arm64-none-unknown-elf": "aarch64-freestanding-none"}


def zig_arguments(argv):
    """(zig cc's arguments but the output, the output path: None or '-' for stdout)."""
    args, out = [], None
    it = iter(argv)
    for a in it:
        if a.startswith("--target="):
            target = a.split("=", 1)[1]
            args += ["-target", ZIG_TARGETS.get(target, target)]
        elif a == "-o":
            out = next(it, None)
        else:
            args.append(a)
    return args + ["-g0"], out


def main(argv=None):
    args, out = zig_arguments(sys.argv[1:] if argv is None else argv)
    source = sys.stdin.buffer.read() if "-" in args else None
    with tempfile.TemporaryDirectory(prefix="tinygen-zig-cc-") as tmp:
        obj = os.path.join(tmp, "out.o")
        proc = subprocess.run([sys.executable, "-m", "ziglang", "cc", *args, "-o", obj],
                              input=source)
        if proc.returncode:
            return proc.returncode
        with open(obj, "rb") as f:
            data = f.read()
    if out in (None, "-"):
        sys.stdout.buffer.write(data)
    else:
        with open(out, "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
