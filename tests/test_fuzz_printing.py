"""Random tensors printed by tinygen and by PyTorch: repr, str and f"{x}" must be the same text,
with the print options set the same way in both.

Each program is drawn once from its seed as plain data (a NumPy array and options) and run on both
libraries by the same code (`run(lib, program)`). It holds a tensor of float32, float64, float16,
int64, int32, int16, int8, uint8 or bool (bfloat16 too where tinygen has it on the CPU), 0-d to
4-d, empty in any dimension now and then, and now and then large enough to be summarised (1,001
to 2,400 elements); its values from one of several distributions: normal at scales 1e-6 .. 1e10,
log-uniform over 1e-8 .. 1e12 with both signs, whole numbers up to 1e10, values at the edges of
the format rules (ratios of 1000, 1e8, 1e-4, next to them), halfway and carrying roundings
(0.5, 2.5, 0.99995, 1e8 - 0.5), all zeros with negative zeros, one constant; with nan, inf, -inf, -0.0 and 0 sprinkled in. Floats may require grad, as a leaf or
through x * 1, x + 0 or -x (grad_fn=), or be wrapped in nn.Parameter (requires_grad True or
False). Before printing, 0-3 calls of set_printoptions (random precision 0-10, threshold 0 ..
inf, edgeitems 0-4, linewidth 1-200, profile, sci_mode; a call without sci_mode resets it, as in
PyTorch) and now and then set_default_dtype(float64); all reset after (profile="default").

Normalised before comparing (names only, not layout): the dtype's library name (dtype=tinygen.X
against dtype=torch.X) and the grad_fn's node numbering (tinygen's MulBackward, PyTorch's
MulBackward0). The two names differ in length, so where a suffix (size=, dtype=, grad_fn=, ...)
goes on a new line can differ near the line width: the suffixes are compared unwrapped, and each
library's output is checked to wrap them by the same rule (a suffix moves to a new line, under
"tensor(", where it would leave a line of the data less than two characters to spare or make a
line of suffixes longer than the line width).

KNOWN deliberate differences (documented in tinygen/printing.py), kept out of the programs:
(a) set_printoptions(profile=<unknown name>) raises ValueError; PyTorch ignores the profile
silently: not drawn (checked by its own test below). (b) tinygen has no complex dtypes: not
drawn. (c) bfloat16 is drawn only where tinygen has it on the CPU (ml_dtypes installed).

Beyond the suite's 300 seeds: of seeds 0-19,999, run on 2026-12-07 with a runner in
/tmp/opfuzz/printing (sweep.py), 9,724 differed with the former np.array2string printing, in
every part of the layout (digits, fixed vs scientific, nan padding, wrapping, summaries, which
suffixes show, f"{p}" of a 0-d Parameter); 0 now.
"""
import importlib
import math
import random
import re
import warnings

import numpy as np
import pytest

import tinygen as tg
from helpers import assert_programs_match  # noqa: E402

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]
if tg.bfloat16.np is not None:
    DTYPES.append("bfloat16")
FLOATS = {"float32", "float64", "float16", "bfloat16"}
BIG_SHAPES = [(1001,), (40, 50), (2, 600), (3, 20, 20), (2, 3, 10, 20), (1000,), (7, 150)]
KINDS = ["normal", "loguniform", "whole", "boundary", "rounding", "zeros", "constant"]
ROUNDING = [0.5, 1.5, 2.5, 0.99995, 0.00015, 99999.99995, 1e8 - 0.5, 123.45675, 9.99995e-5]
BOUNDARIES = [1e-4, 1e8, 1000.0, 0.5, 1e-3, 1e5, 1.0]
THRESHOLDS = [0, 1, 3, 6, 10, 50, 100, 1000, math.inf]
LINEWIDTHS = [1, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 90, 100, 120, 200]


# ---- drawing ------------------------------------------------------------------------------

def _shape(r):
    if r.random() < 0.15:
        return r.choice(BIG_SHAPES)
    ndim = r.choice([0, 1, 1, 2, 2, 3, 4])
    return tuple(r.choice([0, 1, 2, 3, 5, 8, 13]) if r.random() < 0.1 else r.randint(1, 9)
                 for _ in range(ndim))


def _values(r, rng, n):
    """n float64 values of one distribution."""
    kind = r.choice(KINDS)
    if kind == "normal":
        return rng.normal(0.0, r.choice([1e-6, 1e-3, 0.1, 1.0, 10.0, 1e3, 1e6, 1e10]), n)
    if kind == "loguniform":
        return rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(r.uniform(-8, 4), 12, n)
    if kind == "whole":
        return rng.integers(-1, 2, n) * np.floor(10.0 ** rng.uniform(0, r.choice([1, 3, 8, 10]), n))
    if kind == "boundary":              # the edges of the format rules, and one step off them
        base = r.choice(BOUNDARIES)
        picks = rng.choice([base, base / 1000, base * 1000, np.nextafter(base, 0),
                            np.nextafter(base, np.inf), 1.0, 2.0], n)
        return picks * rng.choice([1.0, -1.0], n)
    if kind == "rounding":             # halfway and carrying cases of the digits printed
        return rng.choice(ROUNDING, n) * r.choice([1.0, 1e-3, 1e3, -1.0])
    if kind == "zeros":
        return rng.choice([0.0, -0.0], n)
    return np.full(n, r.choice([0.1, 1.0, 3.0, -2.5, 1e-5, 1e9, 123456.789]))


def _array(r, rng, dtype, shape):
    n = int(np.prod(shape))
    values = _values(r, rng, n)
    if r.random() < 0.3 and n:          # special values at random places
        for i in rng.integers(0, n, r.randint(1, 3)):
            values[i] = r.choice([math.nan, math.inf, -math.inf, -0.0, 0.0])
    if dtype == "bool":
        return (values > 0).reshape(shape)
    if dtype not in FLOATS:
        low, high = max(np.iinfo(dtype).min, -10 ** 18), min(np.iinfo(dtype).max, 10 ** 18)
        whole = np.nan_to_num(np.round(values), posinf=high, neginf=low)
        return np.clip(whole, low, high).astype(dtype).reshape(shape)
    with np.errstate(over="ignore"):
        return values.astype(np.float32 if dtype == "bfloat16" else dtype).reshape(shape)


def _options(r):
    """One call of set_printoptions: a few of its arguments."""
    call = {}
    for key, draw in (("precision", lambda: r.randint(0, 10)),
                      ("threshold", lambda: r.choice(THRESHOLDS)),
                      ("edgeitems", lambda: r.randint(0, 4)),
                      ("linewidth", lambda: r.choice(LINEWIDTHS)),
                      ("profile", lambda: r.choice(["default", "short", "full"])),
                      ("sci_mode", lambda: r.choice([True, False]))):
        if r.random() < 0.3:
            call[key] = draw()
    return call


def program(seed):
    """The program as plain data, drawn once and run on both libraries."""
    r = random.Random(seed)
    rng = np.random.default_rng(seed)
    dtype, shape = r.choice(DTYPES), _shape(r)
    grad = r.choice(["leaf", "mul", "add", "neg", "param", "frozen"]) \
        if dtype in FLOATS and r.random() < 0.3 else None
    return {"seed": seed, "dtype": dtype, "array": _array(r, rng, dtype, shape), "grad": grad,
            "options": [_options(r) for _ in range(r.choice([0, 0, 1, 1, 2, 3]))],
            "default_float64": r.random() < 0.1}


# ---- running ------------------------------------------------------------------------------

def _tensor(lib, prog):
    x = lib.tensor(prog["array"])
    if prog["dtype"] == "bfloat16":
        x = x.to(lib.bfloat16)
    grad = prog["grad"]
    if grad in ("param", "frozen"):
        return lib.nn.Parameter(x, requires_grad=grad == "param")
    if grad is not None:
        x.requires_grad_(True)
    return {"mul": lambda: x * 1, "add": lambda: x + 0, "neg": lambda: -x}.get(grad, lambda: x)()


def run(lib, prog):
    """The log of `prog` on `lib`: (label, text) entries, (label, exception type, message) where
    a step raised."""
    log = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if prog["default_float64"]:
                lib.set_default_dtype(lib.float64)
            x = _tensor(lib, prog)
            for n, call in enumerate(prog["options"]):
                _step(log, f"set_printoptions {n} {call}", lambda: lib.set_printoptions(**call))
            _step(log, "repr", lambda: repr(x))
            _step(log, "str", lambda: str(x))
            _step(log, "format", lambda: f"{x}")
        finally:
            lib.set_printoptions(profile="default")
            lib.set_default_dtype(lib.float32)
    return log


def _step(log, label, fn):
    try:
        log.append((label, fn()))
    except Exception as e:   # noqa: BLE001 (a refusal is compared, type and step)
        log.append((label, type(e).__name__, str(e)))


# ---- comparing ----------------------------------------------------------------------------

SUFFIX = re.compile(r",(?: |\n {7})(device='[^']*'|size=\([0-9, ]*\)|dtype=[\w.]+|"
                    r"grad_fn=<\w+>|requires_grad=True)$")


def split(text):
    """(the text up to the suffixes, the suffixes in order)."""
    body, suffixes = text[:-1], []
    while (m := SUFFIX.search(body)) is not None:
        suffixes.insert(0, m.group(1))
        body = body[:m.start()]
    return body, suffixes


def wrapped(body, suffixes, linewidth):
    """The suffixes laid out by the rule observed in PyTorch (tinygen/printing.py): a suffix
    joins a line of the data if two characters are left, a line of suffixes if it fits."""
    lines, data_line = body.split("\n"), True
    for suffix in suffixes:
        if len(lines[-1]) + 2 + len(suffix) <= linewidth - (2 if data_line else 0):
            lines[-1] += ", " + suffix
        else:
            lines[-1] += ","
            lines.append(" " * 7 + suffix)
            data_line = False
    return "\n".join(lines) + ")"


def _name(suffix):
    suffix = suffix.replace("dtype=tinygen.", "dtype=torch.")
    return re.sub(r"(grad_fn=<\w+?Backward)\d*>", r"\1>", suffix)


def normalised(text, linewidth):
    """The text with library names normalised and its suffixes unwrapped; an AssertionError where
    its suffixes are not wrapped by the rule."""
    if not isinstance(text, str) or "tensor(" not in text:
        return text
    body, suffixes = split(text)
    assert text == wrapped(body, suffixes, linewidth), f"suffixes wrapped otherwise:\n{text}"
    return body + "".join(", " + _name(s) for s in suffixes) + ")"


def _linewidth(prog):
    width = 80
    for call in prog["options"]:
        width = 80 if call.get("profile") else width
        width = call.get("linewidth", width)
    return width


def first_difference(seed):
    """(log entry index, where, ours, theirs) of the first difference of program `seed`, or None
    where the two logs match."""
    prog = program(seed)
    ours, theirs = run(tg, prog), run(torch, prog)
    width = _linewidth(prog)
    for n, (a, b) in enumerate(zip(ours, theirs)):
        if a[0] != b[0] or len(a) != len(b):
            return n, a[0], a, b
        if len(a) == 3:                 # both raised: the same type
            if a[1] != b[1]:
                return n, a[0], a, b
            continue
        try:
            same = normalised(a[1], width) == normalised(b[1], width)
        except AssertionError as e:
            return n, a[0], str(e), b[1]
        if not same:
            return n, a[0], a[1], b[1]
    if len(ours) != len(theirs):
        return len(ours), "length", len(ours), len(theirs)
    return None


def explain(seed, difference):
    n, where, ours, theirs = difference
    prog = program(seed)
    return (f"seed {seed}: step {n} ({where}); dtype {prog['dtype']}, shape "
            f"{prog['array'].shape}, grad {prog['grad']}, options {prog['options']}:\n"
            f"tinygen:\n{ours}\nPyTorch:\n{theirs}")


@pytest.mark.parametrize("block", range(10))
def test_random_tensors_print_as_pytorch(block):
    seeds = range(block * 30, block * 30 + 30)
    assert_programs_match(seeds, first_difference, explain)


# ---- what the programs cannot draw ----------------------------------------------------------

def test_examples_of_the_issue():
    cases = [([1.5, 2e-5, 3e5], None, "tensor([1.5000e+00, 2.0000e-05, 3.0000e+05])"),
             (3.25, "float64", "tensor(3.2500, dtype=tinygen.float64)"),
             ([math.nan, 1.0], None, "tensor([nan, 1.])")]
    for data, dtype, expected in cases:
        x = tg.tensor(data, dtype=getattr(tg, dtype) if dtype else None)
        assert repr(x) == str(x) == expected


def test_device_suffix_and_set_printoptions_paths():
    x = tg.ones(0, 3, device="test", dtype=tg.float64, requires_grad=True)
    assert repr(x) == ("tensor([], device='test', size=(0, 3), dtype=tinygen.float64,\n"
                       "       requires_grad=True)")
    tensor_module = importlib.import_module("tinygen.tensor")     # (tg.tensor is the function)
    assert tg.set_printoptions is tensor_module.set_printoptions is tg.printing.set_printoptions


def test_unknown_profile_is_refused():   # KNOWN (a): PyTorch ignores it
    with pytest.raises(ValueError, match="profile"):
        tg.set_printoptions(profile="wide")
    tg.set_printoptions(profile="default")
