"""Binary ops, in-place ops and operators against PyTorch 2.x: result dtypes exactly, values, the
errors PyTorch raises where NumPy would do something else, and gradients in float64 at the
points where a formula meets 0 * inf (pow at 0 ** 0, atan2 at the origin).

Each section is one finding of the dtype review: in-place casts, the in-place and reflected
operators, integer division by zero, complex operands, the promotion of the rounding divisions,
pow, bitwise / atan2 / comparisons, out-of-range Python ints, gradients, error messages."""
import numpy as np
import pytest

import tinygen as tg

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _values(dtype, role):
    """Small example values: role 'a' (may hold 0 and negatives), 'b' (a nonzero divisor)."""
    if dtype == "bool":
        return [True, False, True] if role == "a" else [True, True, True]
    if dtype == "uint8":
        return [7, 0, 5] if role == "a" else [2, 3, 1]
    if dtype.startswith("int"):
        return [-7, 0, 5] if role == "a" else [2, -3, 1]
    return [-7.5, 0.0, 5.25] if role == "a" else [2.0, -3.0, 0.5]


def _outcome(fn):
    """('ok', dtype name, values as float64 / int64) or ('err',): what fn() gives."""
    try:
        r = fn()
    except Exception:
        return ("err",)
    name = str(r.dtype).split(".")[-1]
    data = r.detach().numpy() if isinstance(r, torch.Tensor) else r.numpy()
    return ("ok", name, np.asarray(data, dtype=np.float64 if data.dtype.kind == "f" else None))


def _same(label, expected, got):
    assert expected[0] == got[0], f"{label}: torch {expected[:2]}, tinygen {got[:2]}"
    if expected[0] == "ok":
        assert got[1] == expected[1], f"{label}: dtype torch {expected[1]}, tinygen {got[1]}"
        np.testing.assert_allclose(got[2], expected[2], rtol=1e-3 if "16" in got[1] else 1e-6,
                                   equal_nan=True, err_msg=label)


def _make(m, dtype, values, zero_dim):
    return m.tensor(values[2] if zero_dim else values, dtype=getattr(m, dtype))


def _grid(op):
    """op(m, a, b) for every pair of dtypes, each operand 1-d or 0-d, in both libraries."""
    for da in DTYPES:
        for db in DTYPES:
            for za, zb in ((False, False), (True, False), (False, True), (True, True)):
                outs = [_outcome(lambda: op(m, _make(m, da, _values(da, "a"), za),
                                            _make(m, db, _values(db, "b"), zb)))
                        for m in (torch, tg)]
                _same(f"{da}{'[]' if za else '[3]'} {db}{'[]' if zb else '[3]'}", *outs)


SCALARS = [2, -3, 2.5, -0.5, True, False, 300, -129]


def _scalar_grid(op, scalars=SCALARS):
    """op(m, tensor, python_number) for every dtype, 1-d and 0-d, in both libraries."""
    for da in DTYPES:
        for zero_dim in (False, True):
            for s in scalars:
                outs = [_outcome(lambda: op(m, _make(m, da, _values(da, "a"), zero_dim), s))
                        for m in (torch, tg)]
                _same(f"{da}{'[]' if zero_dim else '[3]'} {s!r}", *outs)


# ---- 1. in-place ops refuse a result of a higher category ----------------------------------------
IN_PLACE = {
    "+=": lambda a, b: a.__iadd__(b), "-=": lambda a, b: a.__isub__(b),
    "*=": lambda a, b: a.__imul__(b), "/=": lambda a, b: a.__itruediv__(b),
    "add_": lambda a, b: a.add_(b), "sub_": lambda a, b: a.sub_(b),
    "mul_": lambda a, b: a.mul_(b), "div_": lambda a, b: a.div_(b),
    "clamp_": lambda a, b: a.clamp_(min=b), "pow_": lambda a, b: a.pow_(b),
    "//=": lambda a, b: a.__ifloordiv__(b), "%=": lambda a, b: a.__imod__(b),
    "**=": lambda a, b: a.__ipow__(b), "&=": lambda a, b: a.__iand__(b),
    "|=": lambda a, b: a.__ior__(b), "^=": lambda a, b: a.__ixor__(b),
    "<<=": lambda a, b: a.__ilshift__(b), ">>=": lambda a, b: a.__irshift__(b),
}


@pytest.mark.parametrize("op", list(IN_PLACE))
def test_in_place_matches_torch_dtypes_values_and_refusals(op):
    f = IN_PLACE[op]
    for da in DTYPES:
        for db in DTYPES + ["py_int", "py_float", "py_bool"]:
            if op == "clamp_" and da == "bool":
                continue               # clamp of bools: torch refuses; ops/elementwise.py's
            def run(m):
                a = m.tensor(_values(da, "a"), dtype=getattr(m, da))
                b = {"py_int": 2, "py_float": 1.5, "py_bool": True}.get(db)
                if b is None:
                    b = m.tensor(_values(db, "b"), dtype=getattr(m, db))
                assert f(a, b) is a                       # in place: the same tensor back
                return a
            _same(f"{op} {da} {db}", _outcome(lambda: run(torch)), _outcome(lambda: run(tg)))


def test_in_place_refusal_names_op_and_dtypes_and_leaves_the_tensor():
    x = tg.tensor([1, 2])
    with pytest.raises(RuntimeError, match="add_: result type Float can't be cast to the "
                                           "desired output type Long"):
        x += 1.5
    with pytest.raises(RuntimeError, match="div_: result type Float .* Long"):
        x /= 2
    with pytest.raises(RuntimeError, match="result type Long can't be cast .* Bool"):
        b = tg.tensor([True, False])
        b += 1
    assert x.tolist() == [1, 2] and x._version[0] == 0


def test_in_place_within_a_category_casts_as_torch():
    x = tg.tensor([7.0])
    x *= tg.tensor([2.0], dtype=tg.float64)                 # float64 result into float32
    assert x.dtype == tg.float32 and x.tolist() == [14.0]
    u = tg.tensor([7], dtype=tg.uint8)
    u += -3                                                 # the scalar wraps: 7 + 253
    assert u.dtype == tg.uint8 and u.tolist() == [4]


# ---- 2. the in-place operators are in place; reflected operators and shifts ----------------------
@pytest.mark.parametrize("op, value", [("//=", 2), ("%=", 3), ("**=", 2), ("&=", 6), ("|=", 8),
                                       ("^=", 5), ("<<=", 1), (">>=", 1)])
def test_in_place_operators_write_through_views_and_aliases(op, value):
    results = []
    for m in (torch, tg):
        x = m.tensor([5, 7, -6])
        alias, view = x, x[1:]
        ns = {"x": x, "v": value}
        exec(f"x {op} v", ns)
        assert ns["x"] is x
        results.append((alias.tolist(), view.tolist()))
    assert results[1] == results[0]


def test_in_place_operator_bumps_version_and_checks_leaves():
    x = tg.tensor([5, 7])
    x //= 2
    assert x._version[0] == 1
    w = tg.tensor([2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w **= 2
    with tg.no_grad():
        w **= 2
    assert w.tolist() == [4.0, 9.0]


def test_in_place_pow_in_a_graph_rebases_like_torch():
    grads = []
    for m in (torch, tg):
        x = m.tensor([1.5, -2.0, 3.0], dtype=m.float64, requires_grad=True)
        y = x * 1.0
        y **= 3
        y.sum().backward()
        grads.append(x.grad.tolist())
    np.testing.assert_allclose(grads[1], grads[0])


REFLECTED = {
    "1 & t": lambda t: 1 & t, "6 | t": lambda t: 6 | t, "5 ^ t": lambda t: 5 ^ t,
    "True & b": lambda t: True & (t > 0), "t << 1": lambda t: t << 1, "t >> 1": lambda t: t >> 1,
    "1 << t": lambda t: 1 << t.abs(), "64 >> t": lambda t: 64 >> t.abs(),
    "7 // t": lambda t: 7 // t, "-7 % t": lambda t: -7 % t, "2 ** t": lambda t: 2 ** t.abs(),
}


@pytest.mark.parametrize("name", list(REFLECTED))
def test_reflected_operators_and_shifts_match_torch(name):
    f = REFLECTED[name]
    for dtype in ("int8", "int32", "int64"):
        _same(f"{name} {dtype}", _outcome(lambda: f(torch.tensor([3, -2, 5], dtype=getattr(
            torch, dtype)))), _outcome(lambda: f(tg.tensor([3, -2, 5], dtype=getattr(tg, dtype)))))


def test_scalar_first_functions_match_torch():
    t = [3, -2, 5]
    for name, f in {"pow(2, t)": lambda m: m.pow(2, m.tensor(t).abs()),
                    "pow(2.5, t)": lambda m: m.pow(2.5, m.tensor(t)),
                    "remainder(-7, t)": lambda m: m.remainder(-7, m.tensor(t)),
                    "remainder(-7.5, t)": lambda m: m.remainder(-7.5, m.tensor(t)),
                    "floor_divide(-7, t)": lambda m: m.floor_divide(-7, m.tensor(t)),
                    "bitwise_and(6, t)": lambda m: m.bitwise_and(6, m.tensor(t))}.items():
        _same(name, _outcome(lambda: f(torch)), _outcome(lambda: f(tg)))


# ---- 3. integer division by zero raises; floats follow IEEE --------------------------------------
DIVISIONS = {
    "//": lambda m, a, b: a // b, "%": lambda m, a, b: a % b, "fmod": lambda m, a, b: m.fmod(a, b),
    "floor": lambda m, a, b: m.div(a, b, rounding_mode="floor"),
    "trunc": lambda m, a, b: m.div(a, b, rounding_mode="trunc"),
    "remainder": lambda m, a, b: m.remainder(a, b),
}


@pytest.mark.parametrize("name", list(DIVISIONS))
@pytest.mark.parametrize("dtype", ["uint8", "int32", "int64"])
def test_integer_division_by_zero_raises(name, dtype):
    f = DIVISIONS[name]
    a = tg.tensor([5, 7], dtype=getattr(tg, dtype))
    for divisor in (0, tg.tensor([0, 1], dtype=getattr(tg, dtype)), tg.tensor(0)):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            f(tg, a, divisor)
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            f(torch, torch.tensor([5, 7], dtype=getattr(torch, dtype)),
              divisor if isinstance(divisor, int) else torch.tensor(divisor.tolist()))


@pytest.mark.parametrize("name", list(DIVISIONS))
def test_float_division_by_zero_follows_torch(name):
    f = DIVISIONS[name]
    outs = [_outcome(lambda: f(m, m.tensor([5.0, -5.0, 0.0]), 0)) for m in (torch, tg)]
    _same(name, *outs)
    outs = [_outcome(lambda: f(m, m.tensor([5, -5]), 0.0)) for m in (torch, tg)]
    _same(f"{name} int by 0.0", *outs)


# ---- 4. complex operands: a TypeError naming the op ----------------------------------------------
@pytest.mark.parametrize("expr", ["t * (1 + 2j)", "t + 2j", "2j - t", "t / 1j", "t ** 1j",
                                  "1j ** t", "t.mul(np.complex128(1j))", "tg.where(t > 0, t, 1j)"])
@pytest.mark.parametrize("data", [[1.0, 2.0], 3.0, [1, 2]])
def test_complex_operands_are_a_clear_type_error(expr, data):
    t = tg.tensor(data)
    with pytest.raises(TypeError, match="complex"):
        eval(expr, {"t": t, "tg": tg, "np": np})


# ---- 5. floor_divide and div(rounding_mode=...) promote as the other binary ops ------------------
@pytest.mark.parametrize("name", ["//", "floor", "trunc", "%", "fmod"])
def test_rounding_divisions_promote_as_torch(name):
    _grid(DIVISIONS[name])


@pytest.mark.parametrize("name", ["//", "floor", "trunc", "%", "fmod"])
def test_rounding_divisions_with_scalars_promote_as_torch(name):
    _scalar_grid(DIVISIONS[name], [2, -3, 2.5, -0.5, True, 300])


def test_trunc_division_of_integers_is_exact():
    big = 2 ** 62 + 1                               # a float quotient would round this
    for m in (torch, tg):
        r = m.div(m.tensor([big, -big, -7]), m.tensor([3, 3, 2]), rounding_mode="trunc")
        assert str(r.dtype).endswith("int64")
        assert r.tolist() == [big // 3, -(big // 3), -3]


# ---- 6. pow --------------------------------------------------------------------------------------
def test_pow_grid_matches_torch():
    _grid(lambda m, a, b: a ** b)


def test_pow_scalar_exponent_and_base_match_torch():
    _scalar_grid(lambda m, a, s: a ** s, [2, 3, 2.5, -0.5, True, False])
    _scalar_grid(lambda m, a, s: s ** a, [2, 3, -2, 2.5, True, False, 300])


def test_pow_integer_results_are_exact():
    assert (3 ** tg.tensor([20])).tolist() == [3486784401]
    assert (3 ** tg.tensor([20])).dtype == tg.int64
    assert (tg.tensor([True]) ** 2).dtype == tg.int64
    r = tg.tensor([True, False]) ** True
    assert r.dtype == tg.bool and r.tolist() == [True, False]
    assert (tg.tensor([True, False]) ** False).tolist() == [True, True]


def test_integer_to_negative_tensor_power_matches_torch():
    a, b = [2, 1, -1, 0, -1, 3, -3], [-1, -1, -1, -1, -2, 0, -3]
    assert (tg.tensor(a) ** tg.tensor(b)).tolist() == (torch.tensor(a) ** torch.tensor(b)).tolist()
    assert (2 ** tg.tensor([-1, 0, 3])).tolist() == [0, 1, 8]
    with pytest.raises(RuntimeError, match="negative integer powers"):
        tg.tensor([2]) ** -1


# ---- 7. bitwise, atan2, comparisons, maximum, lerp, alpha ----------------------------------------
@pytest.mark.parametrize("name, op", [
    ("&", lambda m, a, b: a & b), ("|", lambda m, a, b: a | b), ("^", lambda m, a, b: a ^ b),
    ("<<", lambda m, a, b: a << b.abs() if b.dtype != m.bool else a << b),
    ("atan2", lambda m, a, b: m.atan2(a, b)), ("==", lambda m, a, b: a == b),
    ("<", lambda m, a, b: a < b), ("ne", lambda m, a, b: m.ne(a, b)),
    ("/", lambda m, a, b: a / b), ("-", lambda m, a, b: a - b),
    ("maximum", lambda m, a, b: m.maximum(a, b)),
])
def test_binary_grid_matches_torch(name, op):
    _grid(op)


@pytest.mark.parametrize("name, op", [
    ("&", lambda m, a, s: a & s), ("rand", lambda m, a, s: s & a), ("<", lambda m, a, s: a < s),
    ("==", lambda m, a, s: a == s), ("+", lambda m, a, s: a + s), ("-", lambda m, a, s: a - s),
    ("rsub", lambda m, a, s: s - a), ("*", lambda m, a, s: a * s), ("/", lambda m, a, s: a / s),
    ("atan2", lambda m, a, s: m.atan2(a, m.tensor(s))),
])
def test_scalar_grid_matches_torch(name, op):
    _scalar_grid(op)


def test_comparison_promotes_first():
    assert (tg.tensor([16777217]) == tg.tensor([16777216.0])).tolist() == [True]
    assert (tg.tensor([16777217]) == 16777216.0).tolist() == [True]
    assert (tg.tensor([1]) == 1.5).tolist() == [False]


def test_maximum_minimum_take_tensors_only():
    for f in (tg.maximum, tg.minimum):
        with pytest.raises(TypeError, match="must be a Tensor, not float"):
            f(tg.tensor([1.0]), 1.5)


def test_lerp_refuses_what_torch_refuses():
    with pytest.raises(NotImplementedError, match="lerp: not implemented for 'Long'"):
        tg.lerp(tg.tensor([1]), tg.tensor([3]), 0.5)
    with pytest.raises(RuntimeError, match="expected dtype tinygen.float32 for `end`"):
        tg.lerp(tg.tensor([1.0]), tg.tensor([3.0], dtype=tg.float64), 0.5)
    with pytest.raises(RuntimeError, match="for `weight`"):
        tg.lerp(tg.tensor([1.0]), tg.tensor([3.0]), tg.tensor([0.5], dtype=tg.float64))
    r = tg.lerp(tg.tensor([1.0]), tg.tensor([3.0]), tg.tensor(0.5, dtype=tg.float64))
    assert r.dtype == tg.float32 and r.tolist() == [2.0]


def test_alpha_rules_match_torch():
    cases = {
        "int alpha float": lambda m: m.add(m.tensor([1, 2]), m.tensor([1, 2]), alpha=2.5),
        "sub int alpha float": lambda m: m.sub(m.tensor([1, 2]), 1, alpha=2.5),
        "int alpha bool": lambda m: m.add(m.tensor([1]), m.tensor([1]), alpha=True),
        "bool alpha 2": lambda m: m.add(m.tensor([True]), m.tensor([False]), alpha=2),
        "float alpha 2": lambda m: m.add(m.tensor([1.0]), m.tensor([1.0]), alpha=2),
        "int8 alpha 2": lambda m: m.add(m.tensor([1], dtype=m.int8), 3, alpha=2),
    }
    for name, f in cases.items():
        _same(name, _outcome(lambda: f(torch)), _outcome(lambda: f(tg)))


# ---- 8. out-of-range Python ints wrap into the tensor's dtype ------------------------------------
def test_out_of_range_python_ints_wrap_as_torch():
    cases = {
        "uint8 + -3": lambda m: m.tensor([7, 0], dtype=m.uint8) + -3,
        "uint8 * -1": lambda m: m.tensor([7], dtype=m.uint8) * -1,
        "uint8 + 300": lambda m: m.tensor([7], dtype=m.uint8) + 300,
        "int32 + 2**40": lambda m: m.tensor([7], dtype=m.int32) + 2 ** 40,
        "int64 + 2**63": lambda m: m.tensor([7]) + 2 ** 63,
        "int8 & 300": lambda m: m.tensor([1], dtype=m.int8) & 300,
        "uint8 < -3": lambda m: m.tensor([7], dtype=m.uint8) < -3,
        "int8 * 0-d 300": lambda m: m.tensor([2], dtype=m.int8) * m.tensor(300),
        "-2 ** uint8": lambda m: (-2) ** m.tensor([3], dtype=m.uint8),
    }
    for name, f in cases.items():
        _same(name, _outcome(lambda: f(torch)), _outcome(lambda: f(tg)))
    with pytest.raises(OverflowError):
        tg.tensor([7]) + 2 ** 64


# ---- 9. gradients where the formulas meet 0 * inf ------------------------------------------------
def _grads(m, f, *values):
    xs = [m.tensor(v, dtype=m.float64, requires_grad=True) for v in values]
    f(m, *xs).sum().backward()
    return [x.grad.numpy() for x in xs]


@pytest.mark.parametrize("name, f, values", [
    ("pow", lambda m, a, b: a ** b, ([0.0, 0.0, 0.0, 2.0, 1.5, -1.0], [0.0, -1.0, 2.0, 0.0, 0.5,
                                                                        0.5])),
    ("pow broadcast", lambda m, a, b: a ** b, ([[0.0], [2.0]], [0.0, 3.0])),
    ("rpow 0", lambda m, b: 0.0 ** b, ([0.0, -1.0, 2.0],)),
    ("rpow -2", lambda m, b: (-2.0) ** b, ([0.0, 1.0],)),
    ("rpow 2", lambda m, b: 2.0 ** b, ([0.0, -1.5],)),
    ("atan2", lambda m, a, b: m.atan2(a, b), ([0.0, 0.0, 1e-200, 1.0, -0.5],
                                              [0.0, -0.0, 1e-200, 2.0, 0.0])),
])
def test_gradients_match_torch_float64(name, f, values):
    expected, got = _grads(torch, f, *values), _grads(tg, f, *values)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-12, equal_nan=True, err_msg=name)


# ---- 10. errors name the op and the dtypes -------------------------------------------------------
def test_errors_name_the_op_and_dtypes():
    with pytest.raises(NotImplementedError, match=r"bitwise_and: not implemented for 'Float' "
                                                   r"\(a tinygen.float32 tensor and a "
                                                   r"tinygen.int64 tensor"):
        tg.tensor([1.5]) & tg.tensor([1])
    with pytest.raises(NotImplementedError, match="bitwise_left_shift: .*'Bool'"):
        tg.tensor([True]) << True
    with pytest.raises(RuntimeError, match="sub: Subtraction, the `-` operator, with two bool"):
        tg.tensor([True]) - tg.tensor([True])
    with pytest.raises(RuntimeError, match="sub: Subtraction, the `-` operator, with a bool"):
        tg.tensor([1.0]) - tg.tensor([True])
    with pytest.raises(TypeError, match="add: unsupported operand of NumPy dtype <U1 with a "
                                        "tinygen.float32 tensor"):
        tg.tensor([1.0]) + "a"
    with pytest.raises(TypeError, match="add: unsupported operand of NumPy dtype <U1"):
        tg.add(tg.tensor([1.0]), ["a"])
    with pytest.raises(NotImplementedError, match="floor_divide: not implemented for 'Bool'"):
        tg.tensor([True]) // tg.tensor([True])
    with pytest.raises(NotImplementedError, match="pow: not implemented for 'Bool'"):
        tg.tensor([True]) ** tg.tensor([True])
    assert (tg.tensor([1.0]) == None) is False  # noqa: E711 (Python's identity test, as torch)
