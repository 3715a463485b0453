"""Shared by the benchmarks: a header naming the machine, date and command; Markdown tables."""
from __future__ import annotations

import datetime
import os
import platform
import subprocess


def _cpu_name():
    """The CPU's model name, with its family, model and widest vector unit where /proc/cpuinfo
    has them: a VM's bare "AMD EPYC" covers machines 4x apart in speed (a Zen 1 at 2 GHz with
    AVX2, a later one with AVX-512)."""
    try:
        with open("/proc/cpuinfo") as f:
            fields = {}
            for line in f:
                if not line.strip():
                    break                                     # the first processor is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        fields = {}
    name = fields.get("model name") or platform.processor() or platform.machine()
    flags = fields.get("flags", "").split()
    simd = next((f for f in ("avx512f", "avx2", "avx", "neon", "asimd") if f in flags), None)
    detail = [f"family {fields['cpu family']} model {fields['model']}"
              if "cpu family" in fields and "model" in fields else None,
              simd and simd.upper().replace("AVX512F", "AVX-512"),
              fields.get("cpu MHz") and f"{float(fields['cpu MHz']):.0f} MHz"]
    detail = [d for d in detail if d]
    return f"{name} ({', '.join(detail)})" if detail else name


def _git_rev():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=os.path.dirname(__file__)).stdout.strip()
    except Exception:
        return "unknown"


def machine_header(argv):
    import numpy as np
    lines = [
        f"- machine: {_cpu_name()}, {os.cpu_count()} logical cores, {platform.system()} "
        f"{platform.release()}",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- command: `{' '.join(argv)}`",
        f"- tinygen commit {_git_rev()}, Python {platform.python_version()}, NumPy {np.__version__}",
    ]
    return "\n".join(lines)


def markdown_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def write_markdown(path, title, header, rows, notes, argv):
    text = (f"# {title}\n\n{machine_header(argv)}\n\n{markdown_table(header, rows)}\n\n{notes}\n")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return text


def write_ratio_chart(path, labels, ratios, title, xlabel):
    """A horizontal bar chart of ratios (1.0 marked: parity with the reference), as a PNG beside
    the Markdown table. NaN ratios (no counterpart) are left out."""
    import math

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = [(lab, r) for lab, r in zip(labels, ratios) if not math.isnan(r)]
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(pairs) + 1.2))
    ys = range(len(pairs))
    ax.barh(list(ys), [r for _, r in pairs],
            color=["tab:green" if r <= 1 else "tab:orange" for _, r in pairs])
    ax.set_yticks(list(ys), [lab for lab, _ in pairs], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
