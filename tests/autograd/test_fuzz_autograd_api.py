"""Random programs of the autograd API around the engine, run on tinygen and on PyTorch: the same
values, gradients, structure and flags (float64), or both refusing at the same step with an
exception of the same type.

(The engine core, backward / autograd.grad over a DAG with hooks and retain_grad, is fuzzed by
test_fuzz_engine.py; this fuzzer covers what sits around it.) Each program is drawn once from its
seed as plain data (`program(seed)`) and run on both libraries by the same code
(`run(lib, program)`). Leaves are float64 of shapes (), (1,), (2,), (3,), (2, 3); function bodies
are sums and products of terms from a fixed menu of smooth ops (sin, tanh, exp, sigmoid, x^2,
x^3, a linear term, a detached term), so both libraries run the same math. A program is one of:
- functional: autograd.functional.jacobian / hessian / vjp / jvp / hvp / vhp of one or more
  inputs (a Tensor or a tuple) and one or more outputs (some independent of some inputs, or of
  all), create_graph, strict, vectorize, strategy / outer_jacobian_strategy, v given, None or of
  a wrong shape; the nested result (tuples of tuples), shapes, values and requires_grad, and,
  under create_graph, the gradient of a weighted sum of it with respect to the caller's leaves;
- custom: autograd.Function subclasses defined here: two inputs and up to three outputs with a
  non-tensor argument, save_for_backward, needs_input_grad, mark_non_differentiable,
  set_materialize_grads(False) (None reaching backward), backward returning extra Nones, too
  many or too few gradients, a gradient for a non-tensor input, a wrong shape; mark_dirty (an
  in-place forward, of a leaf too); the setup_context style; @once_differentiable; an input
  returned as it is; apply under no_grad; backward or autograd.grad, then double backward;
- grad modes: no_grad / enable_grad / set_grad_enabled / inference_mode nested, as context
  managers, as decorators of functions and of generators (resumed under the opposite mode), and
  set_grad_enabled as a call; is_grad_enabled, is_inference_mode_enabled, and the requires_grad /
  is_leaf / grad_fn of a result at every level;
- hooks: Tensor.register_hook on leaves (returning None or a new tensor), on a tensor that does
  not require grad, hooks registered during backward, register_post_accumulate_grad_hook (which
  sees .grad and may scale it in place), over one or two backward passes;
- grad options: autograd.grad with allow_unused / materialize_grads, is_grads_batched,
  grad_outputs None for a non-scalar output, only_inputs; autograd.backward with inputs= of
  non-leaves;
- checkpoint: utils.checkpoint.checkpoint (use_reentrant True / False, preserve_rng_state,
  non-tensor arguments, kwargs, a closure's leaf) against the same function without it, and
  checkpoint_sequential over a list of functions; .backward() through it;
- gradcheck / gradgradcheck of correct custom Functions and of ones whose backward is wrong in
  the first or only in the second order, raising GradcheckError or returning False;
- anomaly: detect_anomaly / set_detect_anomaly with a NaN made by a custom backward, an inf
  forward and an inf gradient (PyTorch checks backward results for NaN only).
The logs must match (rtol 1e-9, atol 1e-12); exception types are compared exactly (no loose
pairs were needed).

KNOWN deliberate differences, kept out of the programs or checked otherwise:
(a) tinygen's tensors carry no inference flag, and enable_grad inside inference_mode records a
    graph (grad_mode.inference_mode): tensors made under inference_mode are not used later, and
    requires_grad is not compared where both modes are on.
(b) the engine's KNOWN (c) (test_fuzz_engine.py): under create_graph a first gradient that does
    not depend on the graph is tied to it with a zero derivative (engine.ZeroDerivative), so it
    requires grad where PyTorch's does not, and strict autograd.functional does not refuse it
    (functional.py). Checked: such a tinygen tensor must have a zero derivative with respect to
    every leaf (`_zero_derivative`); a strict refusal of PyTorch must meet a tinygen result
    holding one, and a second derivative PyTorch cannot take must be zero; the programs part
    there.
(c) the gradients of a @once_differentiable backward under create_graph always require grad in
    tinygen (and raise when differentiated), in PyTorch only where an incoming gradient does
    (custom_function.once_differentiable): checked as differentiating them raises.
(d) with vectorize=True PyTorch's blocks of zeros may require grad (vmap); tinygen's do not
    (functional.py): accepted for all-zero blocks of vectorized programs only.
(e) an unknown strategy: ValueError in tinygen, AssertionError (an assert) in PyTorch: not drawn.
(f) strategy="forward-mode": PyTorch's result nests lists and requires grad even without
    create_graph (functional.py): compared by values and nesting only, detached, as tuples.
(g) checkpoint's output requires grad, and a closure's parameters get gradients, even when no
    input requires grad (utils/checkpoint.py): reentrant programs' first input requires grad.
(h) tinygen's elementwise backward rules give 0 where the incoming gradient is 0 even at an
    infinite derivative (ops/elementwise.guard; PyTorch: NaN): the anomaly programs make their
    NaN elsewhere (abs at 0 under sqrt, a custom backward).
(i) the engine's zero derivative (b) sends zeros into the graph of the tensor a first gradient
    is tied to, so a double backward runs the backward of a custom Function there a second time
    with zero gradients (PyTorch only where its own formula records the input, as relu's), and
    its second gradients hold zeros where PyTorch's are None: custom backwards log nothing when
    called with only zeros or None (in both libraries), and such zeros meet PyTorch's None.
    The engine keeps its zeros: None there would refuse `grad(grad(relu(x).sum(), x, ...), x)`,
    which PyTorch answers with zeros.

A sweep beyond the suite's 300 seeds (/tmp/opfuzz/autograd_api/sweep.py, run on 2026-12-07):
of seeds 0-19999, 3,123 differed before the fixes (101 of the suite's 300), in 13 classes:
autograd.grad without materialize_grads / is_grads_batched / only_inputs, and taking an empty
inputs list; the grad-mode decorators not holding a generator's body in their mode, and
inference_mode(False) not turning grad mode on; anomaly mode checking forward values and
infinite gradients (PyTorch: backward NaN only); a custom Function's input returned as it is,
without a graph, being the same tensor (PyTorch: a new one, but a dirty one not requiring grad),
and a gradient for an input needing none being checked (PyTorch drops it); a double backward
re-running a custom backward with zero gradients (ZeroDerivative sends zeros into its anchor's
graph: kept, KNOWN (i)); jacobian accepting strict with vectorize or forward-mode, and
forward-mode without vectorize; the reentrant checkpoint taking kwargs and a backward with no
output requiring grad. 0 differ now (KNOWN (i) checked as it says).
"""
import random
import warnings

import numpy as np
import pytest

import tinygen as tg
from helpers import assert_programs_match, length_difference, explain_difference  # noqa: E402

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-9, 1e-12
SHAPES = [(), (1,), (2,), (3,), (2, 3)]
TERMS = ["sin", "tanh", "exp", "sigmoid", "square", "cube", "linear", "detached"]


def _term(name, x, c):
    if name == "sin":
        return (x * c).sin()
    if name == "tanh":
        return x.tanh() * c
    if name == "exp":
        return (x * (c / 2)).exp()
    if name == "sigmoid":
        return (x + c).sigmoid()
    if name == "square":
        return x * x * c
    if name == "cube":
        return x * x * x * c
    if name == "linear":
        return x * c
    return x.detach() * c          # "detached": independent of x


# ---- drawing ---------------------------------------------------------------------------------

def _coef(r):
    return round(r.uniform(-1.5, 1.5), 3)


def _draw_body(r, n_in, scalar, p_const=0.08):
    """One output of a function of n_in inputs: ("const", shape) or (shape index or None for a
    0-d output, terms, product, as_1d); a term is (menu name, input, coefficient)."""
    if r.random() < p_const:
        return ("const", None if scalar else r.randrange(n_in), _coef(r))
    target = None if scalar or r.random() < 0.3 else r.randrange(n_in)
    terms = [(r.choice(TERMS), r.randrange(n_in), _coef(r)) for _ in range(r.randint(1, 3))]
    return ("body", target, terms, len(terms) >= 2 and r.random() < 0.4,
            scalar and r.random() < 0.2)


def _draw_functional(r):
    api = r.choice(["jacobian", "jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"])
    n_in = r.randint(1, 3)
    scalar = api in ("hessian", "hvp", "vhp")
    n_out = 1 if scalar else r.randint(1, 3)
    prog = {"kind": "functional", "api": api, "shapes": [r.choice(SHAPES) for _ in range(n_in)],
            "tuple_in": n_in > 1 or r.random() < 0.3,
            "tuple_out": n_out > 1 or (not scalar and r.random() < 0.3) or r.random() < 0.03,
            "outs": [_draw_body(r, n_in, scalar) for _ in range(n_out)],
            "create_graph": r.random() < 0.4, "strict": r.random() < 0.35,
            "frozen": [r.random() < 0.1 for _ in range(n_in)], "kw": {}}
    if api in ("jacobian", "hessian"):
        if r.random() < 0.3:
            prog["kw"]["vectorize"] = r.random() < 0.6
        if r.random() < 0.25:
            key = "strategy" if api == "jacobian" else "outer_jacobian_strategy"
            prog["kw"][key] = r.choice(["forward-mode", "reverse-mode"])  # (KNOWN (e))
    else:
        prog["v"] = r.choice(["given", "given", "given", "none", "wrong_shape", "wrong_len"])
    return prog


CUSTOM_FLAGS = ["extra_none", "too_many", "too_few", "nontensor_grad", "wrong_shape",
                "broadcast_grad", "none_y", "nomat", "nondiff", "third"]


def _draw_custom(r):
    fn = r.choice(["Two", "Two", "Two", "Dirty", "Setup", "Once", "Ident"])
    flags = sorted({r.choice(CUSTOM_FLAGS) for _ in range(r.randint(0, 2))}) if fn == "Two" \
        else []
    shape = r.choice(SHAPES)
    return {"kind": "custom", "fn": fn, "flags": flags, "shape": shape, "k": _coef(r),
            "requires": [r.random() < 0.85, r.random() < 0.7],
            "dirty_leaf": r.random() < 0.25, "no_grad": r.random() < 0.1,
            "use": [r.random() < 0.7 for _ in range(3)],
            "api": r.choice(["backward", "grad", "double", "double"]),
            "call_seed": r.randrange(10 ** 6)}


MODES = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode"]


def _draw_modes(r):
    frames = [(r.choice(MODES), r.random() < 0.5, r.choice(["with", "with", "function",
                                                            "generator", "call", "bare"]))
              for _ in range(r.randint(1, 4))]
    return {"kind": "modes", "outer": r.choice(["none", "no_grad", "enable_grad"]),
            "frames": frames}


def _draw_hooks(r):
    hooks = []
    for _ in range(r.randint(1, 4)):
        kind = r.choice(["nongrad", "post_nonleaf"]) if r.random() < 0.06 else \
            r.choice(["leaf_none", "leaf_scale", "post", "post_scale", "during", "inter_scale"])
        hooks.append((kind, r.randrange(2), _coef(r)))
    return {"kind": "hooks", "hooks": hooks, "passes": r.randint(1, 2),
            "terms": [(r.choice(TERMS[:-1]), r.randrange(2), _coef(r)) for _ in range(3)],
            "shapes": [r.choice(SHAPES[1:]), r.choice(SHAPES)]}


def _draw_gradopts(r):
    case = r.choice(["unused", "unused", "batched", "implicit", "only_inputs", "backward_inputs"])
    return {"kind": "gradopts", "case": case, "shape": r.choice(SHAPES),
            "allow_unused": r.choice([None, False, True]),
            "materialize": r.choice([None, False, True]), "batch": r.randint(1, 3),
            "create_graph": r.random() < 0.3, "terms": [(r.choice(TERMS[:-1]), 0, _coef(r))
                                                        for _ in range(2)],
            "call_seed": r.randrange(10 ** 6)}


def _draw_checkpoint(r):
    prog = {"kind": "checkpoint", "sequential": r.random() < 0.25,
            "reentrant": r.choice([True, False]), "preserve": r.random() < 0.5,
            "shape": r.choice(SHAPES), "k": _coef(r), "scale": _coef(r),
            "pass_kw": r.random() < 0.5, "tuple_out": r.random() < 0.3,
            "terms": [(r.choice(TERMS), r.randrange(3), _coef(r)) for _ in range(3)],
            "segments": r.randint(1, 3), "n_fns": r.randint(3, 5),
            "requires": [r.random() < 0.9, r.random() < 0.7], "call_seed": r.randrange(10 ** 6)}
    if prog["reentrant"]:          # (KNOWN (g): an input that requires grad)
        prog["requires"][0] = True
    return prog


def _draw_gradcheck(r):
    return {"kind": "gradcheck", "second": r.random() < 0.4,
            "fault": r.choice([None, None, "first", "second"]), "raise": r.random() < 0.6,
            "shape": r.choice(SHAPES[1:]), "k": _coef(r) or 1.0}


def _draw_anomaly(r):
    return {"kind": "anomaly", "case": r.choice(["nan_backward", "inf_forward", "inf_grad",
                                                 "clean"]),
            "form": r.choice(["with", "set", "off"]), "shape": r.choice(SHAPES[1:])}


DRAW = {"functional": _draw_functional, "custom": _draw_custom, "modes": _draw_modes,
        "hooks": _draw_hooks, "gradopts": _draw_gradopts, "checkpoint": _draw_checkpoint,
        "gradcheck": _draw_gradcheck, "anomaly": _draw_anomaly}
WEIGHTS = {"functional": 5, "custom": 4, "modes": 2, "hooks": 2, "gradopts": 2,
           "checkpoint": 2, "gradcheck": 1, "anomaly": 1}


def program(seed):
    """The program of `seed` as plain data (a dict), drawn once and run on both libraries."""
    r = random.Random(seed)
    kind = r.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    return {"seed": seed, **DRAW[kind](r)}


# ---- running: helpers ------------------------------------------------------------------------

_GRAPH_LEAVES = []       # the leaves the running program made (KNOWN (b)'s check)
_PROBING = [False]       # that check is running: custom backwards do not trace


def _zero_derivative(x):
    """Whether tinygen tensor x, which requires grad, has a zero derivative with respect to
    every leaf of the program (KNOWN (b)); "raises" where differentiating it raises (KNOWN
    (c)), None where it has no graph."""
    leaves = [t for t in _GRAPH_LEAVES if t.requires_grad]
    if x.grad_fn is None:
        return None
    if not leaves:
        return True
    _PROBING[0] = True
    try:
        grads = tg.autograd.grad(x.sum(), leaves, retain_graph=True, allow_unused=True)
    except RuntimeError:
        return "raises"
    finally:
        _PROBING[0] = False
    return all(g is None or not g.detach().numpy().any() for g in grads)


def _tied(x):
    """The node's name where tinygen gradient x requires grad by KNOWN (c) (a gradient of
    a @once_differentiable backward), else None."""
    name = type(x.grad_fn).__name__
    return name if name == "_OnceDifferentiated" else None


def _plain(x):
    """Comparable plain data: a tensor as ("tensor", dtype, float64 array, requires_grad,
    grad_fn is None, zero derivative (tinygen's, where it requires grad)); tuples and lists as
    lists with their type name; the rest as it is."""
    if isinstance(x, (tg.Tensor, torch.Tensor)):
        zero = _zero_derivative(x) if isinstance(x, tg.Tensor) and x.requires_grad else None
        return ("tensor", str(x.dtype).split(".")[-1],
                np.array(x.detach().cpu().numpy(), dtype=np.float64), bool(x.requires_grad),
                x.grad_fn is None, zero)
    if isinstance(x, (list, tuple)):
        return [type(x).__name__] + [_plain(v) for v in x]
    if isinstance(x, float):
        return float(x)
    return x


def _leaves(lib, shapes, seed, frozen=None):
    g = np.random.default_rng(seed)
    frozen = frozen or [False] * len(shapes)
    leaves = [lib.tensor(g.standard_normal(s), dtype=lib.float64, requires_grad=not f)
              for s, f in zip(shapes, frozen)]
    _GRAPH_LEAVES.extend(leaves)
    return leaves


def _randn(lib, g, shape):
    return lib.tensor(g.standard_normal(tuple(shape)), dtype=lib.float64)


def _body(lib, out, xs):
    if out[0] == "const":
        shape = () if out[1] is None else tuple(xs[out[1]].shape)
        return lib.ones(shape, dtype=lib.float64) * out[2]
    _, target, terms, product, as_1d = out
    shape = () if target is None else tuple(xs[target].shape)
    vals = []
    for name, i, c in terms:
        t = _term(name, xs[i], c)
        vals.append(t if tuple(t.shape) == shape else t.sum())
    res = vals[0] * vals[1] if product else vals[0]
    for v in vals[2 if product else 1:]:
        res = res + v
    if tuple(res.shape) != shape:                 # every term reduced: broadcast back
        res = res * lib.ones(shape, dtype=lib.float64)
    return res.reshape(1) if as_1d else res


def _values_only(x):
    """x's tensors detached, its lists as tuples (KNOWN (f))."""
    if isinstance(x, (tuple, list)):
        return tuple(_values_only(el) for el in x)
    return x.detach()


def _flat(x):
    if isinstance(x, (tuple, list)):
        return [t for el in x for t in _flat(el)]
    return [x]


# ---- functional ------------------------------------------------------------------------------

def _v_for(lib, prog, g, xs, outs_fn):
    """v as the program asks: matching the outputs (vjp) or the inputs, None, or wrong."""
    like = outs_fn() if prog["api"] == "vjp" else xs
    if prog["v"] == "none":
        return None
    vs = [_randn(lib, g, t.shape) for t in like]
    if prog["v"] == "wrong_shape":
        vs[0] = _randn(lib, g, tuple(vs[0].shape) + (2,))
    elif prog["v"] == "wrong_len":
        vs.append(vs[0])
    tuple_v = prog["tuple_out" if prog["api"] == "vjp" else "tuple_in"] or len(vs) > 1
    return tuple(vs) if tuple_v else vs[0]


def run_functional(lib, prog, log):
    xs = _leaves(lib, prog["shapes"], prog["seed"], prog["frozen"])
    g = np.random.default_rng(prog["seed"] + 1)

    def func(*inp):
        outs = [_body(lib, o, inp) for o in prog["outs"]]
        return tuple(outs) if prog["tuple_out"] else outs[0]

    inputs = tuple(xs) if prog["tuple_in"] else xs[0]
    api = getattr(lib.autograd.functional, prog["api"])
    kw = dict(prog["kw"], create_graph=prog["create_graph"], strict=prog["strict"])
    if "v" in prog:
        with lib.no_grad():
            v = _v_for(lib, prog, g, xs, lambda: _flat(func(*xs)))
        res = api(func, inputs, v, **kw)
    else:
        res = api(func, inputs, **kw)
    if "forward-mode" in prog["kw"].values():    # KNOWN (f): values only
        log.append(("forward-mode result", _plain(_values_only(res))))
        return
    log.append(("result", _plain(res)))
    weighted = [(t, _randn(lib, g, t.shape)) for t in _flat(res)]   # (drawn for every one)
    flat = [(t, w) for t, w in weighted if t.requires_grad]
    if flat and any(x.requires_grad for x in xs):
        loss = sum((t * w).sum() for t, w in flat)
        grads = lib.autograd.grad(loss, [x for x in xs if x.requires_grad], allow_unused=True)
        log.append(("gradient of the result", _plain(grads)))
    else:
        log.append(("gradient of the result", "no first gradient requires grad"))  # (KNOWN (b))


# ---- custom Functions --------------------------------------------------------------------------

_CLASSES = {}


def _all_zero(grads):
    """Whether a backward was called with nothing but None or zeros (KNOWN (i))."""
    return all(g is None or not bool((g != 0).any()) for g in grads)


def _two_backward(lib, ctx, ga, gb, rest):
    """Two's gradients (tensor ops, so twice differentiable), spoiled as its flags ask."""
    x, y = ctx.saved_tensors
    flags = ctx.flags
    if not _PROBING[0] and not _all_zero((ga, gb, *rest)):      # (KNOWN (i))
        ctx.trace.append(("needs_input_grad", list(ctx.needs_input_grad)))
        ctx.trace.append(("None grads", [g is None for g in (ga, gb, *rest)]))
    gx, gy = x * 0, y * 0
    if ga is not None:
        gx, gy = gx + ga * y * ctx.k, gy + ga * x * ctx.k
    if gb is not None:
        gx, gy = gx + gb * (1 - x.tanh() * x.tanh()), gy + gb * 2 * y
    if "fault_first" in flags:
        gx = gx * 1.1
    if "fault_second" in flags and gb is not None:
        gy = gb * 2 * y.detach()                 # right values, no second derivative
    if "nan" in flags:
        gx = gx * float("nan")
    if "wrong_shape" in flags:
        gx = gx.reshape(-1)[:1] * lib.ones((4,), dtype=gx.dtype)
    if "broadcast_grad" in flags:
        gx = gx * lib.ones((2,) + tuple(gx.shape), dtype=gx.dtype) / 2
    res = [gx, None if "none_y" in flags else gy, None, None, None]
    if "nontensor_grad" in flags:
        res[2] = x.sum() * 0
    if "too_few" in flags:
        res = res[:3]
    if "extra_none" in flags:
        res.append(None)
    if "too_many" in flags:
        res.append(x * 0)
    return tuple(res)


def _make_two(lib):
    class Two(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y, k, flags, trace):
            ctx.save_for_backward(x, y)
            ctx.k, ctx.flags, ctx.trace = k, flags, trace
            if "nomat" in flags:
                ctx.set_materialize_grads(False)
            outs = [x * y * k, x.tanh() + y * y]
            if "third" in flags or "nondiff" in flags:
                outs.append((x > 0).to(x.dtype))
                if "nondiff" in flags:
                    ctx.mark_non_differentiable(outs[2])
            return tuple(outs)

        @staticmethod
        def backward(ctx, ga, gb, *rest):
            return _two_backward(lib, ctx, ga, gb, rest)
    return Two


def _make_dirty_setup(lib):
    class Dirty(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.mark_dirty(x)
            ctx.k = k
            return x.mul_(k)

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    class Setup(lib.autograd.Function):
        @staticmethod
        def forward(x, k):
            return (x * k).exp()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(output)
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved_tensors
            return g * out * ctx.k, None
    return Dirty, Setup


def _make_once_ident(lib):
    class Once(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x * x * x * k

        @staticmethod
        @lib.autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x * ctx.k, None

    class Ident(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 1, None
    return Once, Ident


def functions(lib):
    """The custom Function classes of the programs, defined for `lib` (once)."""
    if lib not in _CLASSES:
        classes = (_make_two(lib), *_make_dirty_setup(lib), *_make_once_ident(lib))
        _CLASSES[lib] = {c.__name__: c for c in classes}
    return _CLASSES[lib]


def _apply_custom(lib, prog, xs, trace):
    cls = functions(lib)[prog["fn"]]
    if prog["fn"] == "Two":
        return cls.apply(xs[0], xs[1], prog["k"], tuple(prog["flags"]), trace)
    x = xs[0]
    if prog["fn"] == "Dirty" and not prog["dirty_leaf"]:
        x = x * 1                                          # a non-leaf, changed in place
    out = cls.apply(x, prog["k"])
    trace.append(("output is the input", out is x))
    return out


def _grads_of(lib, prog, outs, xs, g):
    """A weighted sum of the outputs used, differentiated as the program asks."""
    used = [o for o, u in zip(outs, prog["use"]) if u and o.requires_grad] or \
        [o for o in outs if o.requires_grad][:1]
    if not used:
        return [("nothing requires grad", None)]
    loss = sum((o * _randn(lib, g, o.shape)).sum() for o in used)
    wrt = [x for x in xs if x.requires_grad]
    if prog["api"] == "backward":
        loss.backward()
        return [("leaf .grad", _plain([x.grad for x in xs]))]
    firsts = lib.autograd.grad(loss, wrt, create_graph=prog["api"] == "double",
                               allow_unused=True)
    log = [("first gradients", _plain(firsts))]
    if prog["api"] == "double":
        live = [(f, w) for f, w in zip(firsts, wrt) if f is not None and f.requires_grad
                and not (isinstance(f, tg.Tensor) and _tied(f) == "_OnceDifferentiated")]
        if live:
            second = sum((f * _randn(lib, g, f.shape)).sum() for f, _ in live)
            log.append(("second gradients", _plain(
                lib.autograd.grad(second, wrt, allow_unused=True))))
        else:
            log.append(("second gradients", "no first gradient requires grad"))   # (KNOWN (b))
    return log


def run_custom(lib, prog, log):
    xs = _leaves(lib, [prog["shape"]] * 2, prog["seed"])
    for x, req in zip(xs, prog["requires"]):
        x.requires_grad_(req)
    trace = []
    g = np.random.default_rng(prog["call_seed"])
    try:
        if prog["no_grad"]:
            with lib.no_grad():
                out = _apply_custom(lib, prog, xs, trace)
        else:
            out = _apply_custom(lib, prog, xs, trace)
        outs = list(out) if isinstance(out, tuple) else [out]
        log.append(("outputs", _plain(out)))
        log.append(("leaves after forward", _plain(xs)))
        log.extend(_grads_of(lib, prog, outs, xs, g))
    finally:
        log.extend(trace)


# ---- grad modes --------------------------------------------------------------------------------

def _mode(lib, name, flag):
    if name in ("no_grad", "enable_grad"):
        return getattr(lib, name)()
    return getattr(lib, name)(flag)


def _observe(lib, x, depth, log, tag=""):
    y = x * 2
    flags = [y.requires_grad, y.is_leaf, y.grad_fn is None]
    if lib.is_inference_mode_enabled() and lib.is_grad_enabled():
        flags = "KNOWN (a)"          # enable_grad inside inference_mode: tinygen records
    log.append((f"depth {depth}{tag}: grad, inference, requires_grad, leaf, no grad_fn",
                [lib.is_grad_enabled(), lib.is_inference_mode_enabled(), flags]))


def _frames(lib, frames, depth, x, log):
    """Enter frames[depth] in its style, observe, go one deeper, observe again on the way out."""
    if depth == len(frames):
        return
    name, flag, style = frames[depth]

    def inner():
        _observe(lib, x, depth, log)
        _frames(lib, frames, depth + 1, x, log)
        _observe(lib, x, depth, log, " after the inner frames")

    if style == "with":
        with _mode(lib, name, flag):
            inner()
    elif style == "function":
        _mode(lib, name, flag)(inner)()
    elif style == "bare":                      # @inference_mode / @no_grad without parentheses
        deco = getattr(lib, name) if name in ("no_grad", "enable_grad", "inference_mode") \
            else lib.set_grad_enabled(flag)
        if name in ("no_grad", "enable_grad"):
            deco = deco()
        deco(inner)()
    elif style == "generator":
        def gen():
            for k in range(2):
                _observe(lib, x, depth, log, f" generator step {k}")
                yield k
            inner()
        wrapped = _mode(lib, name, flag)(gen)
        for k, _ in enumerate(wrapped()):
            flip = lib.enable_grad() if k % 2 else lib.no_grad()   # the caller's mode changes
            flip.__enter__()
            log.append((f"depth {depth}: the caller between steps", lib.is_grad_enabled()))
            flip.__exit__(None, None, None)
    elif name == "set_grad_enabled":           # "call": switched as a function call
        prev = lib.is_grad_enabled()
        lib.set_grad_enabled(flag)
        inner()
        lib.set_grad_enabled(prev)
    else:
        with _mode(lib, name, flag):
            inner()


def run_modes(lib, prog, log):
    (x,) = _leaves(lib, [(2,)], prog["seed"])
    outer = None if prog["outer"] == "none" else getattr(lib, prog["outer"])()
    if outer is not None:
        outer.__enter__()
    try:
        _frames(lib, prog["frames"], 0, x, log)
    finally:
        if outer is not None:
            outer.__exit__(None, None, None)
    log.append(("after", [lib.is_grad_enabled(), lib.is_inference_mode_enabled()]))


# ---- hooks -------------------------------------------------------------------------------------

def run_hooks(lib, prog, log):
    xs = _leaves(lib, prog["shapes"], prog["seed"])
    trace = []
    consts = [lib.tensor(2.0, dtype=lib.float64)]

    def forward():
        terms = [_term(n, xs[i], c).sum() for n, i, c in prog["terms"]]
        return terms[0] * terms[1] + terms[2], terms

    loss, terms = forward()
    for n, (kind, i, c) in enumerate(prog["hooks"]):
        x = xs[i]
        if kind == "leaf_none":
            x.register_hook(lambda gr, n=n: trace.append((f"hook {n} saw", _plain(gr))))
        elif kind == "leaf_scale":
            x.register_hook(lambda gr, c=c: gr * c)
        elif kind == "post":
            x.register_post_accumulate_grad_hook(
                lambda p, n=n: trace.append((f"post hook {n} saw .grad", _plain(p.grad))))
        elif kind == "post_scale":
            def post(p, c=c):
                with lib.no_grad():
                    p.grad.mul_(c)
            x.register_post_accumulate_grad_hook(post)
        elif kind == "nongrad":
            consts[0].register_hook(lambda gr: gr)
        elif kind == "post_nonleaf":
            terms[i].register_post_accumulate_grad_hook(lambda p: None)
        elif kind == "inter_scale":
            terms[i].register_hook(lambda gr, c=c: gr * c)
        else:                                   # "during": a hook that adds a hook to x
            def adder(gr, x=x, c=c, n=n):
                x.register_hook(lambda g2: trace.append((f"late hook {n} saw", _plain(g2))))
                return None
            terms[0].register_hook(adder)
    for p in range(prog["passes"]):
        loss.backward(retain_graph=True)
        log.append((f"pass {p}: .grad", _plain([x.grad for x in xs])))
        log.extend(trace)
        trace.clear()


# ---- grad options ------------------------------------------------------------------------------

def run_gradopts(lib, prog, log):
    x, unused = _leaves(lib, [prog["shape"], (2,)], prog["seed"])
    g = np.random.default_rng(prog["call_seed"])
    mid = x * 1.5
    out = sum(_term(n, mid, c) for n, _, c in prog["terms"])
    case, kw = prog["case"], {}
    if case == "unused":
        for key, val in (("allow_unused", prog["allow_unused"]),
                         ("materialize_grads", prog["materialize"])):
            if val is not None:
                kw[key] = val
        res = lib.autograd.grad(out.sum(), [x, unused], create_graph=prog["create_graph"], **kw)
    elif case == "batched":
        go = _randn(lib, g, (prog["batch"],) + tuple(out.shape))
        res = lib.autograd.grad(out, x, go, is_grads_batched=True,
                                create_graph=prog["create_graph"])
    elif case == "implicit":
        res = lib.autograd.grad(out, x)
    elif case == "only_inputs":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = lib.autograd.grad(out.sum(), [x], only_inputs=True)
    else:
        mid.retain_grad() if prog["allow_unused"] else None
        lib.autograd.backward([out], [_randn(lib, g, out.shape)], inputs=[mid, x][
            : 1 + bool(prog["materialize"])])
        res = [mid.grad, x.grad]
    log.append(("result", _plain(res)))


# ---- checkpoint --------------------------------------------------------------------------------

def _checkpoint_fn(lib, prog, w):
    def f(x, y, k, scale=1.0):
        xs = [x, y if y is not None else x, w]
        terms = [_term(n, xs[i], c) for n, i, c in prog["terms"]]
        out = (terms[0] + terms[1] * terms[2].sum()) * k * scale
        return (out, out.tanh() * scale) if prog["tuple_out"] else out
    return f


def _checkpointed(lib, prog, f, x, y, use):
    kw = {"scale": prog["scale"]} if prog["pass_kw"] else {}
    if not use:
        return f(x, y, prog["k"], **kw)
    cp = lib.utils.checkpoint
    if prog["sequential"]:
        fns = [lambda t, c=c: (t * c).tanh() + t for c in
               np.linspace(0.3, 1.1, prog["n_fns"]).tolist()]
        return cp.checkpoint_sequential(fns, prog["segments"], x,
                                        use_reentrant=prog["reentrant"])
    return cp.checkpoint(f, x, y, prog["k"], use_reentrant=prog["reentrant"],
                         preserve_rng_state=prog["preserve"], **kw)


def run_checkpoint(lib, prog, log):
    for use in (False, True):
        x, y, w = _leaves(lib, [prog["shape"]] * 3, prog["seed"])
        x.requires_grad_(prog["requires"][0])
        y.requires_grad_(prog["requires"][1])
        f = _checkpoint_fn(lib, prog, w)
        if prog["sequential"] and not use:
            out = x
            for c in np.linspace(0.3, 1.1, prog["n_fns"]).tolist():
                out = (out * c).tanh() + out
        else:
            out = _checkpointed(lib, prog, f, x, y, use)
        log.append((f"checkpoint {use}: output", _plain(out)))
        outs = [o for o in (out if isinstance(out, tuple) else (out,)) if o.requires_grad]
        if outs:
            g = np.random.default_rng(prog["call_seed"])
            sum((o * _randn(lib, g, o.shape)).sum() for o in outs).backward()
        log.append((f"checkpoint {use}: .grad", _plain([x.grad, y.grad, w.grad])))


# ---- gradcheck ---------------------------------------------------------------------------------

def run_gradcheck(lib, prog, log):
    xs = _leaves(lib, [prog["shape"]] * 2, prog["seed"])
    flags = (f"fault_{prog['fault']}",) if prog["fault"] else ()
    two = functions(lib)["Two"]

    def fn(x, y):
        a, b = two.apply(x, y, prog["k"], flags, [])
        return a + b

    check = lib.autograd.gradgradcheck if prog["second"] else lib.autograd.gradcheck
    log.append(("result", check(fn, tuple(xs), raise_exception=prog["raise"])))


# ---- anomaly -----------------------------------------------------------------------------------

def _anomaly_loss(lib, prog, x):
    if prog["case"] == "nan_backward":
        a, b = functions(lib)["Two"].apply(x, x * 2, 1.5, ("nan",), [])
        return (a + b).sum()
    if prog["case"] == "inf_forward":                     # a -inf mask: finite gradients
        mask = np.zeros(tuple(x.shape))
        mask.reshape(-1)[0] = -np.inf if x.shape[-1] > 1 else 0.0
        return ((x + lib.tensor(mask)).softmax(-1) * x).sum()
    if prog["case"] == "inf_grad":
        return (x - x.detach()).abs().sqrt().sum()        # d sqrt at 0: inf; d abs: 0: nan
    return (x.sin() * x).sum()


def run_anomaly(lib, prog, log):
    (x,) = _leaves(lib, [prog["shape"]], prog["seed"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if prog["form"] == "with":
            with lib.autograd.detect_anomaly():
                _anomaly_run(lib, prog, x, log)
        elif prog["form"] == "set":
            lib.autograd.set_detect_anomaly(True)
            try:
                _anomaly_run(lib, prog, x, log)
            finally:
                lib.autograd.set_detect_anomaly(False)
        else:
            _anomaly_run(lib, prog, x, log)
    log.append(("anomaly mode after", lib.is_anomaly_enabled()))


def _anomaly_run(lib, prog, x, log):
    log.append(("anomaly mode", lib.is_anomaly_enabled()))
    loss = _anomaly_loss(lib, prog, x)
    log.append(("loss", _plain(loss)))
    loss.backward()
    log.append(("grad", _plain(x.grad)))


RUNNERS = {"functional": run_functional, "custom": run_custom, "modes": run_modes,
           "hooks": run_hooks, "gradopts": run_gradopts, "checkpoint": run_checkpoint,
           "gradcheck": run_gradcheck, "anomaly": run_anomaly}


def run(lib, prog):
    """The log of `prog` on `lib`: (label, plain value) entries, ending with (label, exception
    type name, message) where it raised. Grad and anomaly modes are restored after it."""
    log = []
    _GRAPH_LEAVES.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            RUNNERS[prog["kind"]](lib, prog, log)
        except Exception as e:                      # noqa: BLE001 (raise-vs-not parity)
            log.append(("refused", type(e).__name__, str(e)))
        finally:
            lib.set_grad_enabled(True)
            lib.autograd.set_detect_anomaly(False)
    return log


# ---- comparing ---------------------------------------------------------------------------------

def diff(a, b, path="", vectorized=False):
    """Where plain values a and b differ (a string), or None. vectorized: PyTorch's blocks of
    zeros may require grad (KNOWN (d))."""
    if isinstance(a, tuple) and a and a[0] == "tensor" or \
            isinstance(b, tuple) and b and b[0] == "tensor":
        if not (isinstance(a, tuple) and isinstance(b, tuple)):
            return f"{path}: {a!r:.80} vs {b!r:.80}"
        if a[1] != b[1] or a[2].shape != b[2].shape:
            return f"{path}: dtype/shape {a[1]}{a[2].shape} vs {b[1]}{b[2].shape}"
        if a[3:5] == (True, False) and b[3:5] == (False, True) and a[5]:
            pass                         # KNOWN (b) (a zero derivative) or (c) (it raises)
        elif vectorized and a[3:5] == (False, True) and b[3:5] == (True, False) and \
                not b[2].any():
            pass                         # KNOWN (d)
        elif a[3:5] != b[3:5]:
            return f"{path}: requires_grad, grad_fn is None {a[3:]} vs {b[3:]}"
        ok = np.allclose(a[2], b[2], rtol=RTOL, atol=ATOL, equal_nan=True)
        return None if ok else f"{path}: values"
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {a!r:.100} vs {b!r:.100}"
        return next((d for i, (x, y) in enumerate(zip(a, b))
                     if (d := diff(x, y, f"{path}[{i}]", vectorized))), None)
    if isinstance(a, float) and isinstance(b, float):
        return None if np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True) else \
            f"{path}: {a} vs {b}"
    return None if type(a) is type(b) and a == b else f"{path}: {a!r:.100} vs {b!r:.100}"


def first_difference(seed):
    """(log entry index, where, ours, theirs) of the first difference of program `seed`, or
    None where the two logs match."""
    prog = program(seed)
    ours, theirs = run(tg, prog), run(torch, prog)
    for n, (a, b) in enumerate(zip(ours, theirs)):
        if _known_c(prog, a, b):
            return None
        if _known_i(a, b):
            continue
        if a[0] != b[0]:
            return n, f"{a[0]} vs {b[0]}", a, b
        if a[0] == "refused":
            if a[1] != b[1]:
                return n, f"refused: {a[1]} vs {b[1]}", a, b
            continue
        d = diff(a[1], b[1], vectorized=bool(prog.get("kw", {}).get("vectorize")))
        if d is not None:
            return n, f"{a[0]}{d}", a, b
    return length_difference(ours, theirs)


def _zero_tied(x):
    """Whether plain value x holds a tinygen tensor tied to the graph with a zero derivative."""
    if isinstance(x, tuple) and x and x[0] == "tensor":
        return x[5] is True
    return isinstance(x, list) and any(_zero_tied(v) for v in x)


def _known_i(a, b):
    """KNOWN (i): second gradients (or those of a functional result made with a graph) where
    tinygen's are zeros and PyTorch's None, the rest alike."""
    if not (a[0] == b[0] and a[0] in ("second gradients", "gradient of the result") and
            isinstance(a[1], list) and
            isinstance(b[1], list) and len(a[1]) == len(b[1])):
        return False
    return all(diff(x, y) is None or y is None and isinstance(x, tuple) and not x[2].any()
               for x, y in zip(a[1][1:], b[1][1:]))


def _known_c(prog, a, b):
    """KNOWN (b) where PyTorch refuses and tinygen goes on (the programs part there): strict
    mode finding a gradient independent of the inputs that tinygen ties to the graph (tinygen's
    result holds such a tensor, or, in the second-order functions, their inner first gradients
    did), or a second derivative of first gradients that do not require
    grad in PyTorch (tinygen's are all zero)."""
    if b[1:] == ("no first gradient requires grad",) and isinstance(a[1], list):
        return all(v is None or not v[2].any() for v in a[1][1:])
    if a[0] == "refused" or b[0] != "refused":
        return False
    if prog["kind"] == "functional" and "independent" in b[2] and prog["strict"]:
        return prog["api"] in ("hessian", "hvp", "vhp") or _zero_tied(a[1])
    return False


def explain(seed, found):
    return explain_difference(seed, found, program(seed))


@pytest.mark.parametrize("block", range(10))
def test_random_autograd_api_programs_match_pytorch(block):
    seeds = range(block * 30, block * 30 + 30)
    assert_programs_match(seeds, first_difference, explain)
