"""Random calls of tinygen.nn.functional (and of the normalisation modules that keep running
statistics), run on tinygen and on PyTorch: the same results, or both refusing.

Each program is drawn once from its seed as plain data: a function name (the seed picks it, so
the suite's seeds reach every function in FUNCS), its positional arguments and keyword
arguments, where a tensor argument is a dict naming how to make it (uniform floats in a range,
+-1 signs, 0/1 values, probabilities or log-probabilities along a dim, int64 indices in a range
with some entries set to an ignore_index, bools, explicit values), a float dtype (float64 in
about two thirds of the programs, whose floating inputs then require grad where PyTorch
differentiates them; float32 otherwise, which also draws inplace=True) and an integer input now
and then where a float is expected. Now and then a tensor is a non-contiguous view (the
transpose of its leaf), a dim is empty, the values sit on a grid of 0.5 (ties, kinks), the
first input holds some NaN or some infinities, or the input is large enough for the kernels'
threaded and tiled paths (BIG). The arrays are made from the seed with NumPy, the same for
both libraries, and `run(lib, F, program)` runs the one code path on (tinygen, tinygen's F) and
(torch, torch's F). Drawn: the losses (cross_entropy with class indices, ignore_index, class
weights, label_smoothing, class-probability targets, K-dim inputs; nll_loss, the binary cross
entropies with broadcast weight and pos_weight, mse/l1/smooth_l1 (beta 0 too)/huber, kl_div
with log_target and 'batchmean', poisson and gaussian NLL, the margin losses, triplet losses,
ctc_loss on log_softmax outputs), the normalisations (batch_norm with and without running
statistics, layer/group/instance/rms/local-response norm, normalize), the activations with
their keyword arguments (softmax's dtype=, inplace=), one_hot, pad in its four modes (negative
pads too), embedding (padding_idx, max_norm) and embedding_bag, linear, bilinear, the distances
(cosine_similarity, pairwise_distance, pdist, cdist), unfold/fold, pixel and channel shuffles,
the dropouts where they are deterministic (training=False, p 0 or 1), affine_grid and
grid_sample, 1-D/2-D/3-D avg/max/lp/adaptive pooling with return_indices, interpolate in its
modes with size or scale_factor, scaled_dot_product_attention (bool and float masks, is_causal,
scale, enable_gqa, dropout_p=0); and BatchNorm1d/2d/3d and InstanceNorm1d/2d/3d called twice
in train mode and once in eval mode (momentum 0.1, None, 0.0 or 0.5; affine or not).

Compared: raise or not (RuntimeError, TypeError, ValueError, IndexError: one side raising means
the other raises too; any other exception is a difference), every tensor output (a tuple's
too): dtype, shape, values (rtol 1e-5 float32, 1e-9 float64, atol scaled by the largest
value, and for float32 normalisations by 1/sqrt(eps); NaN where NaN), requires_grad; every
input tensor after the call (in-place updates: running statistics, max_norm, inplace=); a
module's buffers after each call; and, in float64, the gradients of a weighted sum of the
outputs with respect to every floating input and weight (NaN-aware, None taken as zeros; at
the loosest tolerance of the dtypes the outputs went through, so softmax(dtype=float32)'s at
float32's). Gradients are not compared where PyTorch gives none (its backward raises: a weight
it does not differentiate, or its own failure) nor in programs with NaN inputs: PyTorch's
gradient at a NaN changes with the tensor's size (its vectorised and scalar loops disagree:
softshrink and hardtanh give 1 at a NaN in a 4-element float64 tensor, 0 in an 8-element one).

KNOWN differences, documented as deliberate by tinygen and kept out of the programs:
(a) F.pad: PyTorch's reflect/replicate/circular modes take 2 pads on a 2-D or 3-D input, 4 on
a 3-D or 4-D, 6 on a 4-D or 5-D; tinygen pads any trailing dims (only PyTorch's ranks drawn),
and where circular pads more than the cropped size tinygen raises (not drawn);
(b) ctc_loss: the gradient in log_probs differs by a multiple of exp(log_probs), removed by
log_softmax's backward (so log_probs are always a log_softmax of the leaf), and an input length
of 0 is refused (lengths >= 1 drawn);
(c) embedding_bag: max_norm, scale_grad_by_freq and sparse raise (not drawn);
(d) scaled_dot_product_attention: a float mask of another float dtype, a 1-D mask, and a row
masked everywhere by one large finite value (not drawn: float masks are in the query's dtype,
>= 2-D, with values in [-3, 3] or -inf);
(e) interpolate: the gradient of 3-D and 5-D 'nearest' with a scale_factor where a dim's size
stays or doubles, and of 'bicubic' when every output size equals its input size (drawn, but
with no gradient checked);
(f) grid_sample is differentiable once (only first gradients are checked anyway);
(g) kl_div: the gradient with respect to a target of exactly 0 (zero targets drawn without
grad); (h) ctc_loss: the gradient of an impossible alignment's infinite loss (not compared
where PyTorch's loss is infinite and zero_infinity is False); (i) softmax, log_softmax,
softmin: a slice that is -inf everywhere gives zeros (-inf) (their non-finite inputs are NaN
or +inf); (j) the gradient at an infinite input of soft_margin_loss and of p = inf cdist and
pdist (not compared for those three with infinite inputs); (k) layer_norm and rms_norm take an
int normalized_shape in tinygen's functional forms too (PyTorch: a TypeError; only its modules
take one): not drawn; (l) ctc_loss takes int lengths, a tensor beside a tuple, and 1-D targets
longer than the lengths use (PyTorch refuses them): not drawn; (m) hardsigmoid's float64
gradient: PyTorch's slope is 1/6 rounded to float32 (3e-8 off), tinygen's 1/6: compared at
float32's tolerance; (n) adaptive average pooling (and interpolate 'area') of a row holding an
inf or NaN: every window of the row NaN in tinygen (its averaging-matrix product): not drawn
with non-finite inputs.
Not drawn either, PyTorch's own failures (see _perturb): a non-contiguous 5-D input to
local_response_norm, and batch_norm's backward for a non-contiguous input with a size-1 dim.

The suite runs seeds 0-299 and EXTRA_SEEDS, the first seed of each difference class that a run
of seeds 0-19999 found beyond them (2026-12-07; all pass since the fixes). Of seeds 0-19999, 3
still differ, none tinygen's error: ctc_loss of log_probs holding -inf (PyTorch's NaN in a
time step tinygen's gradient leaves finite), poisson_nll_loss(full=True)'s gradient at a target
of 0 (PyTorch NaN), bilinear of infinite inputs (inf or NaN by summation order).
"""
import math
import random
import warnings

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as TGF

torch = pytest.importorskip("torch")
TF = torch.nn.functional

BIG = 0.03                # the chance of a larger input, where a drawer has one
ERRORS = (RuntimeError, TypeError, ValueError, IndexError)
TOL = {"float64": (1e-9, 1e-11), "float32": (1e-5, 1e-6), "float16": (1e-3, 1e-3),
       "bfloat16": (1e-2, 1e-2)}


# ---- tensor specs (plain data) -------------------------------------------------------------

def T(shape, lo=-2.0, hi=2.0, grad=True, kind="u", dim=None, pre=None, dtype=None):
    """A floating tensor: uniform in [lo, hi) (kind 'u'), 'sign' (+-1), 'bin' (0/1), 'prob' or
    'logprob' (softmax / log_softmax along dim), 'zero'. pre: ('log_softmax', dim) applied to the
    leaf inside the program (gradients are the leaf's)."""
    return {"t": "f", "shape": tuple(shape), "lo": lo, "hi": hi, "grad": grad, "kind": kind,
            "dim": dim, "pre": pre, "dtype": dtype}


def I(shape, lo, hi, fill=None, dtype="int64"):
    """Integer indices in [lo, hi); fill=(value, p) sets a fraction p of them to value."""
    return {"t": "i", "shape": tuple(shape), "lo": lo, "hi": hi, "fill": fill, "dtype": dtype}


def B(shape, p=0.7):
    return {"t": "b", "shape": tuple(shape), "p": p}


def V(values, dtype="int64"):
    """Explicit values (a list, or one number for a 0-d tensor)."""
    return {"t": "v", "values": values, "dtype": dtype}


def D(name):
    return {"t": "dtype", "name": name}


def _is_spec(v):
    return isinstance(v, dict) and "t" in v


def _array(spec, rng, dt):
    kind, shape = spec["t"], spec.get("shape")
    if kind == "i":
        a = rng.integers(spec["lo"], max(spec["hi"], spec["lo"] + 1), size=shape)
        if spec["fill"] is not None:
            a = np.where(rng.random(shape) < spec["fill"][1], spec["fill"][0], a)
        return np.asarray(a, dtype=spec["dtype"])
    if kind == "b":
        return rng.random(shape) < spec["p"]
    if kind == "v":
        return np.asarray(spec["values"], dtype=spec["dtype"])
    a = rng.uniform(spec["lo"], spec["hi"], size=shape)
    if spec["kind"] == "sign":
        a = np.where(a < (spec["lo"] + spec["hi"]) / 2, -1.0, 1.0)
    elif spec["kind"] == "bin":
        a = np.where(a < (spec["lo"] + spec["hi"]) / 2, 0.0, 1.0)
    elif spec["kind"] == "zero":
        a = np.zeros(shape)
    elif spec["kind"] == "grid":                   # ties and kinks: multiples of 0.5
        a = np.clip(np.round(a * 2) / 2, spec["lo"], spec["hi"])
    elif spec["kind"] == "nan":                    # some NaN
        a = np.where(rng.random(shape) < 0.2, np.nan, a)
    elif spec["kind"] == "inf":                    # some inf and -inf
        a = np.where(rng.random(shape) < 0.2, np.where(rng.random(shape) < 0.5, np.inf,
                                                        -np.inf), a)
    elif spec["kind"] == "posinf":                 # some +inf
        a = np.where(rng.random(shape) < 0.2, np.inf, a)
    elif spec["kind"] == "ninf":                   # a float mask with some -inf
        a = np.where(rng.random(shape) < 0.25, -np.inf, a)
    elif spec["kind"] in ("prob", "logprob"):
        z = a - a.max(axis=spec["dim"], keepdims=True)
        lse = np.log(np.exp(z).sum(axis=spec["dim"], keepdims=True))
        a = z - lse if spec["kind"] == "logprob" else np.exp(z - lse)
    return np.asarray(a, dtype=spec["dtype"] or dt)


def _ldtype(lib, name):
    return getattr(lib, name)


# ---- drawing helpers -----------------------------------------------------------------------

def _red(r):
    return r.choice(["none", "sum", "mean"])


def _dims(r, lo, hi, size_lo=1, size_hi=4):
    return tuple(r.randint(size_lo, size_hi) for _ in range(r.randint(lo, hi)))


def _e(r, shape, p=0.04):
    """shape, or now and then with one dim made empty."""
    if shape and r.random() < p:
        k = r.randrange(len(shape))
        return shape[:k] + (0,) + shape[k + 1:]
    return shape


def _bcast_shape(r, shape):
    """A shape that broadcasts to `shape`: a suffix of it with some dims set to 1."""
    k = r.randint(0, len(shape))
    return tuple(1 if r.random() < 0.3 else s for s in shape[len(shape) - k:])


def _float(r, grad, shape, lo=-2.0, hi=2.0):
    return T(shape, lo, hi, grad=grad)


# ---- losses --------------------------------------------------------------------------------

def _class_target(r, tshape, C, kw):
    """Class indices with ignore_index now and then (set on some entries), rarely one out of
    range."""
    ign = r.choice([None, None, -100, -1, r.randrange(max(C, 1))])
    hi = C + (1 if r.random() < 0.04 else 0)
    if ign is not None:
        kw["ignore_index"] = ign
    return I(tshape, 0, hi, fill=None if ign is None else (ign, 0.3))


def _d_cross_entropy(r, g):
    C = r.randint(1, 5)
    lead = () if r.random() < 0.15 else _e(r, (r.randint(1, 4),))
    kdims = _dims(r, 0, 2, 1, 3) if lead and r.random() < 0.4 else ()
    if r.random() < BIG:                         # the kernels' threaded sizes
        lead, kdims, C = (r.randint(300, 1500),), (), r.randint(8, 40)
    shape, kw = lead + (C,) + kdims, {}
    cdim = 1 if lead else 0
    if r.random() < 0.3:
        target = T(shape, 0.0, 1.0, grad=g, kind=r.choice(["prob", "u"]), dim=cdim)
        weight_grad = g
    else:
        target, weight_grad = _class_target(r, lead + kdims, C, kw), False
    if r.random() < 0.4:
        kw["weight"] = T((C,), 0.1, 2.0, grad=weight_grad)
    if r.random() < 0.4:
        kw["label_smoothing"] = r.choice([round(r.uniform(0.0, 0.6), 3), 1.0])
    kw["reduction"] = _red(r)
    wide = 15 if r.random() < 0.15 else 1
    return dict(args=[T(shape, -3 * wide, 3 * wide, grad=g), target], kwargs=kw)


def _d_nll_loss(r, g):
    C = r.randint(1, 5)
    lead = () if r.random() < 0.15 else (r.randint(1, 4),)
    kdims = _dims(r, 0, 2, 1, 3) if lead and r.random() < 0.4 else ()
    kw = {}
    target = _class_target(r, lead + kdims, C, kw)
    if r.random() < 0.4:
        kw["weight"] = T((C,), 0.1, 2.0, grad=False)
    kw["reduction"] = _red(r)
    return dict(args=[T(lead + (C,) + kdims, -3, 0, grad=g), target], kwargs=kw)


def _d_binary_cross_entropy(r, g):
    shape = _e(r, _dims(r, 0, 3))
    kw = {"reduction": _red(r)}
    if r.random() < 0.4:
        kw["weight"] = T(_bcast_shape(r, shape), 0.1, 2.0, grad=False)
    kind = "bin" if r.random() < 0.1 else "u"
    x = T(shape, 0.02, 0.98, grad=g, kind=kind)
    return dict(args=[x, T(shape, 0.0, 1.0, grad=g, kind=r.choice(["u", "bin"]))], kwargs=kw)


def _d_binary_cross_entropy_with_logits(r, g):
    shape = _e(r, _dims(r, 0, 3))
    kw = {"reduction": _red(r)}
    if r.random() < 0.4:
        kw["weight"] = T(_bcast_shape(r, shape), 0.1, 2.0, grad=False)
    if r.random() < 0.5:
        kw["pos_weight"] = T(_bcast_shape(r, shape), 0.1, 3.0, grad=False)
    wide = 20 if r.random() < 0.2 else 1
    return dict(args=[T(shape, -4 * wide, 4 * wide, grad=g), T(shape, 0.0, 1.0, grad=g)],
                kwargs=kw)


def _pair_shapes(r):
    shape = _e(r, _dims(r, 0, 3))
    other = shape if r.random() < 0.85 else _bcast_shape(r, shape)
    return (shape, other) if r.random() < 0.5 else (other, shape)


def _d_mse_loss(r, g, name="mse"):
    a, b = _pair_shapes(r)
    kw = {"reduction": _red(r)}
    if name in ("mse", "l1", "huber") and r.random() < 0.3:
        kw["weight"] = T(a, 0.1, 2.0, grad=False)
    if name == "smooth_l1" and r.random() < 0.8:
        kw["beta"] = r.choice([0.0, 0.5, 1.0, round(r.uniform(0.01, 3), 3)])
    if name == "huber" and r.random() < 0.8:
        kw["delta"] = r.choice([0.5, 1.0, round(r.uniform(0.01, 3), 3)])
    return dict(args=[T(a, grad=g), T(b, grad=g)], kwargs=kw)


def _d_kl_div(r, g):
    shape = _dims(r, 1, 3)
    dim = len(shape) - 1
    log_target = r.random() < 0.4
    kw = {"reduction": r.choice(["none", "sum", "mean", "batchmean"]), "log_target": log_target}
    target = T(shape, -3, 3, grad=g, kind="logprob" if log_target else "prob", dim=dim)
    if not log_target and r.random() < 0.2:
        target = T(shape, 0.0, 1.0, grad=False, kind="bin")    # zeros: 0 * log 0; KNOWN (g)
    return dict(args=[T(shape, -3, 3, grad=g, kind="logprob", dim=dim), target], kwargs=kw)


def _d_poisson_nll_loss(r, g):
    shape = _dims(r, 0, 3)
    log_input = r.random() < 0.5
    kw = {"log_input": log_input, "full": r.random() < 0.5, "reduction": _red(r)}
    if r.random() < 0.3:
        kw["eps"] = r.choice([1e-8, 0.1, 1.0])
    x = T(shape, -2, 2, grad=g) if log_input else T(shape, 0.05, 3, grad=g)
    return dict(args=[x, T(shape, 0.0, 4.0, grad=g)], kwargs=kw)


def _d_gaussian_nll_loss(r, g):
    lead = _dims(r, 0, 2)
    D_ = r.randint(1, 4)
    shape = lead + (D_,)
    choices = [shape, lead + (1,), lead, shape[1:] if lead else shape]
    vshape = r.choice(choices)
    var = T(vshape, 0.05, 2.0, grad=g) if r.random() < 0.9 else round(r.uniform(0.1, 2), 3)
    kw = {"full": r.random() < 0.5, "reduction": _red(r)}
    if r.random() < 0.4:
        kw["eps"] = r.choice([1e-6, 0.1, 0.5])
    return dict(args=[T(shape, grad=g), T(shape, grad=g), var], kwargs=kw)


def _d_margin_ranking_loss(r, g):
    shape = _dims(r, 0, 2)
    kw = {"margin": r.choice([0.0, 0.5, -0.3, 1.0]), "reduction": _red(r)}
    return dict(args=[T(shape, grad=g), T(shape, grad=g), T(shape, kind="sign", grad=g)],
                kwargs=kw)


def _d_hinge_embedding_loss(r, g):
    shape = _dims(r, 0, 3)
    kw = {"margin": r.choice([1.0, 0.5, 2.0, -0.5]), "reduction": _red(r)}
    return dict(args=[T(shape, -3, 3, grad=g), T(shape, kind="sign", grad=False)], kwargs=kw)


def _d_soft_margin_loss(r, g):
    shape = _dims(r, 0, 3)
    return dict(args=[T(shape, -3, 3, grad=g), T(shape, kind="sign", grad=False)],
                kwargs={"reduction": _red(r)})


def _d_multilabel_soft_margin_loss(r, g):
    lead, C = (() if r.random() < 0.2 else (r.randint(1, 4),)), r.randint(1, 5)
    kw = {"reduction": _red(r)}
    if r.random() < 0.4:
        kw["weight"] = T((C,), 0.1, 2.0, grad=g)
    return dict(args=[T(lead + (C,), -3, 3, grad=g), T(lead + (C,), 0, 1, kind="bin",
                                                        grad=g)], kwargs=kw)


def _d_multilabel_margin_loss(r, g):
    lead, C = (() if r.random() < 0.2 else (r.randint(1, 4),)), r.randint(1, 5)
    target = I(lead + (C,), 0, C, fill=(-1, 0.3))
    return dict(args=[T(lead + (C,), -3, 3, grad=g), target], kwargs={"reduction": _red(r)})


def _d_multi_margin_loss(r, g):
    lead, C = (() if r.random() < 0.2 else (r.randint(1, 4),)), r.randint(1, 5)
    kw = {"p": r.choice([1, 2]), "margin": r.choice([1.0, 0.5, 2.0]), "reduction": _red(r)}
    if r.random() < 0.4:
        kw["weight"] = T((C,), 0.1, 2.0, grad=False)
    return dict(args=[T(lead + (C,), -2, 2, grad=g), I(lead, 0, C)], kwargs=kw)


def _d_cosine_embedding_loss(r, g):
    lead, Dm = (() if r.random() < 0.2 else (r.randint(1, 4),)), r.randint(1, 4)
    kw = {"margin": r.choice([0.0, 0.3, -0.2]), "reduction": _red(r)}
    x2 = T(lead + (Dm,), grad=g, kind="zero" if r.random() < 0.1 else "u")
    return dict(args=[T(lead + (Dm,), grad=g), x2, T(lead, kind="sign", grad=False)], kwargs=kw)


def _d_triplet_margin_loss(r, g):
    lead, Dm = (() if r.random() < 0.2 else (r.randint(1, 4),)), r.randint(1, 4)
    kw = {"margin": r.choice([1.0, 0.5, 2.0]), "p": r.choice([1, 2, 3, 1.5]),
          "swap": r.random() < 0.5, "reduction": _red(r)}
    if r.random() < 0.3:
        kw["eps"] = r.choice([1e-6, 0.1])
    sh = lead + (Dm,)
    return dict(args=[T(sh, grad=g), T(sh, grad=g), T(sh, grad=g)], kwargs=kw)


def _d_triplet_margin_with_distance_loss(r, g):
    lead, Dm = (() if r.random() < 0.2 else (r.randint(1, 4),)), r.randint(1, 4)
    kw = {"margin": r.choice([1.0, 0.5, 2.0]), "swap": r.random() < 0.5, "reduction": _red(r)}
    sh = lead + (Dm,)
    return dict(args=[T(sh, grad=g), T(sh, grad=g), T(sh, grad=g)], kwargs=kw)


def _d_ctc_loss(r, g):
    Tn, N, C = r.randint(2, 6), r.randint(1, 3), r.randint(2, 5)
    blank = r.choice([0, C - 1])
    unbatched = r.random() < 0.15
    N, S = (1 if unbatched else N), r.randint(1, 4)
    lens = [r.randint(1 if unbatched else 0, min(S, Tn)) for _ in range(N)]
    labels = [c for c in range(C) if c != blank]
    extra = 0                                     # (KNOWN (l): as many 1-D targets as taken)
    if not unbatched and r.random() < 0.6:        # padded (N, S)
        targets = V([[r.choice(labels) for _ in range(S)] for _ in lens])
    else:                                         # 1-D: concatenated (unbatched: the one)
        targets = V([r.choice(labels) for _ in range(sum(lens) + extra)])
    in_lens = [r.randint(1, Tn) for _ in lens]
    how = r.choice(["tensor", "tuple"])           # (KNOWN (l): no int or mixed lengths)
    if how == "tensor":
        zero_d = unbatched and r.random() < 0.5
        il, tl = (V(in_lens[0]), V(lens[0])) if zero_d else (V(in_lens), V(lens))
    elif how == "tuple":
        il, tl = tuple(in_lens), tuple(lens)
    elif how == "int":
        il, tl = in_lens[0], lens[0]
    else:
        il, tl = V(in_lens), tuple(lens)
    shape = (Tn, C) if unbatched else (Tn, N, C)
    lp = T(shape, -2, 2, grad=g, pre=("log_softmax", len(shape) - 1))
    kw = {"blank": blank, "reduction": _red(r), "zero_infinity": r.random() < 0.4}
    return dict(args=[lp, targets, il, tl], kwargs=kw)


# ---- normalisations ------------------------------------------------------------------------

def _maybe(r, p, spec):
    return spec if r.random() < p else None


def _d_batch_norm(r, g):
    C = r.randint(1, 4)
    shape = (r.randint(1, 3), C) + _dims(r, 0, 3, 1, 3)
    if r.random() < BIG:
        shape = (r.randint(2, 6), C, r.randint(30, 60), r.randint(30, 60))
    training = r.random() < 0.6
    stats = r.random() < 0.7 or not training and r.random() < 0.9
    rm = T((C,), -1, 1, grad=False) if stats else None
    rv = T((C,), 0.2, 2, grad=False) if stats else None
    kw = {"weight": _maybe(r, 0.6, T((C,), 0.2, 2, grad=g)),
          "bias": _maybe(r, 0.6, T((C,), grad=g)), "training": training,
          "momentum": r.choice([0.1, 0.0, 1.0, 0.5]), "eps": r.choice([1e-5, 0.1])}
    return dict(args=[T(shape, -3, 3, grad=g), rm, rv], kwargs=kw)


def _d_layer_norm(r, g):
    shape = _e(r, _dims(r, 1, 4))
    if r.random() < BIG:
        shape = (r.randint(2, 40), r.randint(2, 4), r.randint(200, 600))
    k = r.randint(1, len(shape))
    ns = shape[len(shape) - k:]
    kw = {"weight": _maybe(r, 0.6, T(ns, 0.2, 2, grad=g)), "bias": _maybe(r, 0.6, T(ns, grad=g))}
    if r.random() < 0.3:
        kw["eps"] = r.choice([1e-5, 0.1, 0.0])
    ns_arg = ns if r.random() < 0.5 else list(ns)          # (KNOWN (k): no int)
    return dict(args=[T(shape, -3, 3, grad=g), ns_arg], kwargs=kw)


def _d_group_norm(r, g):
    G = r.randint(1, 3)
    C = G * r.randint(1, 3)
    shape = (r.randint(1, 3), C) + _dims(r, 0, 3, 1, 3)
    if r.random() < BIG:
        shape = (r.randint(2, 6), C, r.randint(30, 60), r.randint(30, 60))
    groups = G if r.random() < 0.95 else C + 1
    kw = {"weight": _maybe(r, 0.6, T((C,), 0.2, 2, grad=g)),
          "bias": _maybe(r, 0.6, T((C,), grad=g))}
    if r.random() < 0.3:
        kw["eps"] = r.choice([1e-5, 0.1])
    return dict(args=[T(shape, -3, 3, grad=g), groups], kwargs=kw)


def _d_instance_norm(r, g):
    C = r.randint(1, 4)
    shape = (r.randint(1, 3), C) + _dims(r, 1, 3, 1, 3)
    stats = r.random() < 0.5
    use_input = r.random() < 0.7 or not stats
    kw = {"running_mean": T((C,), -1, 1, grad=False) if stats else None,
          "running_var": T((C,), 0.2, 2, grad=False) if stats else None,
          "weight": _maybe(r, 0.5, T((C,), 0.2, 2, grad=g)),
          "bias": _maybe(r, 0.5, T((C,), grad=g)), "use_input_stats": use_input,
          "momentum": r.choice([0.1, 0.0, 1.0, 0.5]), "eps": r.choice([1e-5, 0.1])}
    return dict(args=[T(shape, -3, 3, grad=g)], kwargs=kw)


def _d_local_response_norm(r, g):
    shape = (r.randint(1, 2), r.randint(1, 5)) + _dims(r, 1, 3, 1, 3)
    kw = {"alpha": r.choice([1e-4, 0.5, 1.0]), "beta": r.choice([0.75, 0.5, 1.3]),
          "k": r.choice([1.0, 2.0, 0.5])}
    return dict(args=[T(shape, -3, 3, grad=g), r.randint(1, 5)], kwargs=kw)


def _d_normalize(r, g):
    shape = _e(r, _dims(r, 1, 3))
    kw = {"p": r.choice([1, 2, 3, 0.5, float("inf"), 2.0]),
          "dim": r.randrange(-len(shape), len(shape)), "eps": r.choice([1e-12, 0.1, 1.0])}
    kind = "zero" if r.random() < 0.1 else "u"
    return dict(args=[T(shape, grad=g, kind=kind)], kwargs=kw)


def _d_rms_norm(r, g):
    shape = _dims(r, 1, 4)
    k = r.randint(1, len(shape))
    ns = shape[len(shape) - k:]
    kw = {"weight": _maybe(r, 0.6, T(ns, 0.2, 2, grad=g))}
    if r.random() < 0.5:
        kw["eps"] = r.choice([None, 1e-5, 0.1])
    ns_arg = list(ns) if r.random() < 0.7 else ns          # (KNOWN (k): no int)
    return dict(args=[T(shape, -3, 3, grad=g), ns_arg], kwargs=kw)


def _d_module_norm(cls):
    def draw(r, g):
        nd = int(cls[-2])
        C = r.randint(1, 4)
        batch_norm = cls.startswith("Batch")
        ctor = {"momentum": r.choice([0.1, None, 0.0, 0.5]), "eps": r.choice([1e-5, 0.1]),
                "affine": r.random() < (0.7 if batch_norm else 0.5),
                "track_running_stats": r.random() < (0.85 if batch_norm else 0.8)}
        if nd == 1 and batch_norm:
            spatial = () if r.random() < 0.4 else (r.randint(1, 3),)
            lead = (r.randint(2, 3),)
        else:
            spatial = tuple(r.randint(1, 3) for _ in range(nd))
            lead = () if not batch_norm and r.random() < 0.25 else (r.randint(1, 3),)
        if nd == 2 and r.random() < BIG:
            lead, spatial = (r.randint(2, 4),), (r.randint(30, 50), r.randint(30, 50))
        shape = lead + (C,) + spatial
        calls = [("train", T(shape, -3, 3, grad=g)), ("train", T(shape, -1, 4, grad=g)),
                 ("eval", T(shape, -3, 3, grad=g))]
        params = {"weight": T((C,), 0.2, 2, grad=g), "bias": T((C,), grad=g)}
        return dict(args=[], kwargs={}, module=dict(cls=cls, C=C, ctor=ctor, calls=calls,
                                                     params=params))
    return draw


# ---- activations ---------------------------------------------------------------------------

def _act_input(r, g, dt, lo=-3.0, hi=3.0):
    shape = _e(r, _dims(r, 0, 3))
    if r.random() < 0.08:
        return I(shape, -3, 4), False
    if r.random() < 0.15:
        lo, hi = -60.0, 60.0
    return T(shape, lo, hi, grad=g), True


def _d_activation(name, params=(), inplace=True):
    """An activation F.name(x, **kw), kw drawn from params: (kwarg, choices)."""
    def draw(r, g):
        x, is_float = _act_input(r, g, None)
        kw = {}
        for key, choices in params:
            if r.random() < 0.8:
                kw[key] = r.choice(choices)
        if inplace and not g and r.random() < 0.4:
            kw["inplace"] = True
        return dict(args=[x], kwargs=kw)
    return draw


def _d_softmax(r, g):
    shape = _e(r, _dims(r, 0, 3))
    if r.random() < BIG:
        shape = (r.randint(100, 400), r.randint(100, 200))
    wide = r.random() < 0.15
    x = T(shape, -4 * (1 + 20 * wide), 4 * (1 + 20 * wide), grad=g) if r.random() < 0.93 \
        else I(shape, -3, 4)
    kw = {"dim": r.randrange(-len(shape), len(shape)) if shape else r.choice([0, -1])}
    if r.random() < 0.1:
        kw.pop("dim")
    if r.random() < 0.3:
        kw["dtype"] = D(r.choice(["float64", "float32"]))
    return dict(args=[x], kwargs=kw)


def _d_glu(r, g):
    shape = list(_dims(r, 1, 3))
    dim = r.randrange(-len(shape), len(shape))
    shape[dim] = 2 * r.randint(1, 2) if r.random() < 0.92 else 3
    return dict(args=[T(shape, grad=g)], kwargs={"dim": dim})


def _d_prelu(r, g):
    shape = _dims(r, 0, 4)
    C = shape[1] if len(shape) >= 2 else (shape[0] if len(shape) == 1 else 1)
    w = T((C,) if r.random() < 0.6 else (1,), -0.5, 0.8, grad=g)
    return dict(args=[T(shape, grad=g), w], kwargs={})


def _d_threshold(r, g):
    x, _ = _act_input(r, g, None)
    kw = {}
    if not g and r.random() < 0.3:
        kw["inplace"] = True
    return dict(args=[x, r.choice([0.0, 0.5, -1.0, 1.3]), r.choice([0.0, -2.0, 7.5])],
                kwargs=kw)


def _d_rrelu(r, g):
    x, _ = _act_input(r, g, None)
    lo = r.choice([1 / 8, 0.0, 0.3])
    kw = {"lower": lo, "upper": r.choice([1 / 3, lo, 0.9]), "training": False}
    if not g and r.random() < 0.3:
        kw["inplace"] = True
    return dict(args=[x], kwargs=kw)


# ---- others --------------------------------------------------------------------------------

def _d_one_hot(r, g):
    shape = _dims(r, 0, 3)
    hi = r.randint(1, 5)
    nc = r.choice([-1, -1, hi, hi + 2, max(hi - 2, 0)])
    x = I(shape, 0, hi) if r.random() < 0.95 else I(shape, -1, hi)
    return dict(args=[x], kwargs={"num_classes": nc})


PAD_RANKS = {1: (2, 3), 2: (3, 4), 3: (4, 5)}


def _d_pad(r, g):
    mode = r.choice(["constant", "constant", "reflect", "replicate", "circular"])
    npairs = r.randint(1, 3)
    if mode == "constant":
        shape = _e(r, _dims(r, npairs, 4, 1, 4))
    else:
        shape = (r.randint(1, 2),) * (r.choice(PAD_RANKS[npairs]) - npairs) + \
            _dims(r, npairs, npairs, 1, 4)
    pads = []
    for k in range(npairs):
        size = shape[len(shape) - 1 - k]
        for _ in range(2):
            if mode == "constant":
                pads.append(r.randint(-size, 3))
            elif mode == "reflect":
                pads.append(r.randint(-1 if size > 2 else 0, size - 1) if r.random() < 0.95
                            else size)
            elif mode == "replicate":
                pads.append(r.randint(-1 if size > 2 else 0, 3))
            else:
                pads.append(r.randint(0, size))
    kw = {"mode": mode}
    if mode == "constant" and r.random() < 0.5:
        kw["value"] = r.choice([0.0, 1.5, -2.0, 3])
    x = T(shape, grad=g) if r.random() < 0.9 else I(shape, -5, 5)
    return dict(args=[x, tuple(pads)], kwargs=kw)


def _d_embedding(r, g):
    V_, Dm = r.randint(1, 6), r.randint(1, 4)
    idx = I(_e(r, _dims(r, 0, 2)), 0, V_) if r.random() < 0.95 else I(_dims(r, 1, 2), -1, V_ + 1)
    kw = {}
    if r.random() < 0.4:
        kw["padding_idx"] = r.randint(-V_, V_ - 1)
    if r.random() < 0.4:
        kw["max_norm"] = r.choice([0.5, 1.0, 2.0])
        kw["norm_type"] = r.choice([1.0, 2.0, 3.0, float("inf")])
    if r.random() < 0.2:
        kw["scale_grad_by_freq"] = True
    return dict(args=[idx, T((V_, Dm), grad=g)], kwargs=kw)


def _d_embedding_bag(r, g):
    V_, Dm = r.randint(1, 6), r.randint(1, 4)
    mode = r.choice(["sum", "mean", "max"])
    kw = {"mode": mode}
    if r.random() < 0.5:
        B_, L = r.randint(1, 3), r.randint(1, 4)
        shape = (B_, L)
    else:
        n = r.randint(0, 6)
        shape = (n,)
        offs = sorted([0] + [r.randint(0, n) for _ in range(r.randint(0, 3))])
        if r.random() < 0.4:
            kw["include_last_offset"] = True
            offs = offs + [n]
        kw["offsets"] = V(offs)
    if mode == "sum" and r.random() < 0.5:
        kw["per_sample_weights"] = T(shape, grad=g)
    if r.random() < 0.3:
        kw["padding_idx"] = r.randint(-V_, V_ - 1)
    return dict(args=[I(shape, 0, V_), T((V_, Dm), grad=g)], kwargs=kw)


def _d_linear(r, g):
    lead, n_in, n_out = _e(r, _dims(r, 0, 2)), r.randint(1, 4), r.randint(1, 4)
    x = T(lead + (n_in,), grad=g) if r.random() < 0.95 else T(lead + (n_in + 1,), grad=g)
    return dict(args=[x, T((n_out, n_in), grad=g), _maybe(r, 0.6, T((n_out,), grad=g))],
                kwargs={})


def _d_bilinear(r, g):
    lead, a, b, o = _dims(r, 0, 2), r.randint(1, 3), r.randint(1, 3), r.randint(1, 3)
    return dict(args=[T(lead + (a,), grad=g), T(lead + (b,), grad=g), T((o, a, b), grad=g),
                      _maybe(r, 0.6, T((o,), grad=g))], kwargs={})


def _d_cosine_similarity(r, g):
    shape = _dims(r, 1, 3)
    other = tuple(1 if r.random() < 0.25 else s for s in shape)
    if r.random() < 0.2:
        other = other[1:]
    kw = {"dim": r.randrange(-len(other), len(other)) if other else 0}
    if r.random() < 0.4:
        kw["eps"] = r.choice([1e-8, 0.5, 2.0])
    kind = "zero" if r.random() < 0.1 else "u"
    return dict(args=[T(shape, grad=g), T(other, grad=g, kind=kind)], kwargs=kw)


def _d_pairwise_distance(r, g):
    Dm = r.randint(1, 4)
    a = (r.randint(1, 3), Dm) if r.random() < 0.8 else (Dm,)
    b = r.choice([a, (Dm,), (1, Dm)])
    kw = {"p": r.choice([1, 2, 3, 0.5, float("inf"), 0]), "keepdim": r.random() < 0.5}
    if r.random() < 0.3:
        kw["eps"] = r.choice([1e-6, 0.1])
    return dict(args=[T(a, grad=g), T(b, grad=g)], kwargs=kw)


def _d_pdist(r, g):
    shape = (r.randint(1, 4), r.randint(1, 3))
    return dict(args=[T(shape, grad=g)],
                kwargs={"p": r.choice([1, 2, 3, 0.5, float("inf"), 0, 2.0])})


def _d_cdist(r, g):
    lead, M = _dims(r, 0, 1, 1, 2), r.randint(1, 3)
    a, b = lead + (r.randint(1, 4), M), lead + (r.randint(1, 4), M)
    return dict(args=[T(a, grad=g), T(b, grad=g)],
                kwargs={"p": r.choice([1.0, 2.0, 3.0, 0.5, float("inf"), 0.0])})


def _geometry(r, nd, size_hi=5):
    k = tuple(r.randint(1, 3) for _ in range(nd))
    s = tuple(r.randint(1, 2) for _ in range(nd))
    d = tuple(r.randint(1, 2) for _ in range(nd))
    p = tuple(r.randint(0, 1) for _ in range(nd))
    return k, s, d, p


def _d_unfold(r, g):
    k, s, d, p = _geometry(r, 2)
    hw = tuple(r.randint(max(1, dd * (kk - 1) + 1 - 2 * pp), 5)
               for kk, dd, pp in zip(k, d, p))
    lead = (r.randint(1, 2), r.randint(1, 2)) if r.random() < 0.8 else (r.randint(1, 2),)
    return dict(args=[T(lead + hw, grad=g)],
                kwargs={"kernel_size": k, "dilation": d, "padding": p, "stride": s})


def _d_fold(r, g):
    k, s, d, p = _geometry(r, 2)
    out = tuple(r.randint(max(1, dd * (kk - 1) + 1 - 2 * pp), 5)
                for kk, dd, pp in zip(k, d, p))
    blocks = [(o + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for o, kk, ss, dd, pp
              in zip(out, k, s, d, p)]
    L = int(np.prod(blocks)) + (1 if r.random() < 0.05 else 0)
    C = r.randint(1, 2)
    lead = (r.randint(1, 2),) if r.random() < 0.8 else ()
    return dict(args=[T(lead + (C * k[0] * k[1], L), grad=g)],
                kwargs={"output_size": out, "kernel_size": k, "dilation": d, "padding": p,
                        "stride": s})


def _d_pixel_shuffle(r, g):
    rr = r.randint(1, 3)
    shape = _dims(r, 0, 2, 1, 2) + (r.randint(1, 2) * rr * rr, r.randint(1, 3), r.randint(1, 3))
    return dict(args=[T(shape, grad=g), rr], kwargs={})


def _d_pixel_unshuffle(r, g):
    rr = r.randint(1, 3)
    shape = _dims(r, 0, 2, 1, 2) + (r.randint(1, 2), r.randint(1, 2) * rr, r.randint(1, 2) * rr)
    return dict(args=[T(shape, grad=g), rr], kwargs={})


def _d_channel_shuffle(r, g):
    groups = r.randint(1, 3)
    shape = (r.randint(1, 2), groups * r.randint(1, 3)) + _dims(r, 1, 2, 1, 3)
    return dict(args=[T(shape, grad=g), groups], kwargs={})


def _d_dropout(name, ranks):
    def draw(r, g):
        rank = r.choice(ranks) if r.random() < 0.9 else r.randint(1, 5)
        x = T(_dims(r, rank, rank), grad=g)
        training = r.random() < 0.4
        p = r.choice([0.0, 1.0]) if training else r.choice([0.0, 0.3, 0.5, 1.0])
        kw = {"p": p, "training": training}
        if not g and r.random() < 0.3:
            kw["inplace"] = True
        return dict(args=[x], kwargs=kw)
    return draw


def _d_affine_grid(r, g):
    nd = r.choice([2, 3])
    N = r.randint(1, 2)
    size = (N, r.randint(1, 2)) + tuple(r.randint(1, 4) for _ in range(nd))
    kw = {"align_corners": r.choice([True, False])}
    return dict(args=[T((N, nd, nd + 1), grad=g), list(size)], kwargs=kw)


def _d_grid_sample(r, g):
    nd = r.choice([2, 2, 3])
    mode = r.choice(["bilinear", "nearest", "bicubic"] if nd == 2 else ["bilinear", "nearest"])
    N, C = r.randint(1, 2), r.randint(1, 2)
    x = (N, C) + tuple(r.randint(1, 4) for _ in range(nd))
    grid = (N,) + tuple(r.randint(1, 3) for _ in range(nd)) + (nd,)
    kw = {"mode": mode, "padding_mode": r.choice(["zeros", "border", "reflection"]),
          "align_corners": r.choice([True, False])}
    return dict(args=[T(x, grad=g), T(grid, -1.3, 1.3, grad=g)], kwargs=kw)


def _pool_input(r, g, nd, kernel, lo=-3.0):
    spatial = tuple(r.randint(k, k + 3) for k in kernel)
    lead = (r.randint(1, 2), r.randint(1, 2)) if r.random() < 0.8 else (r.randint(1, 2),)
    return T(lead + spatial, lo, 3, grad=g)


def _pool_common(r, nd):
    k = tuple(r.randint(1, 3) for _ in range(nd))
    s = tuple(r.randint(1, 3) for _ in range(nd))
    p = tuple(r.randint(0, kk // 2) for kk in k)
    one = lambda t: t[0] if nd == 1 or r.random() < 0.3 and len(set(t)) == 1 else t  # noqa
    return k, one(k), one(s) if r.random() < 0.8 else None, one(p)


def _d_avg_pool(nd):
    def draw(r, g):
        k, karg, sarg, parg = _pool_common(r, nd)
        kw = {"stride": sarg, "padding": parg, "ceil_mode": r.random() < 0.4,
              "count_include_pad": r.random() < 0.5}
        if nd > 1 and r.random() < 0.3:
            kw["divisor_override"] = r.randint(1, 4)
        return dict(args=[_pool_input(r, g, nd, k), karg], kwargs=kw)
    return draw


def _d_max_pool(nd):
    def draw(r, g):
        k, karg, sarg, parg = _pool_common(r, nd)
        kw = {"stride": sarg, "padding": parg, "ceil_mode": r.random() < 0.4,
              "return_indices": r.random() < 0.5}
        if r.random() < 0.4:
            kw["dilation"] = r.randint(1, 2)
        return dict(args=[_pool_input(r, g, nd, k), karg], kwargs=kw)
    return draw


def _d_lp_pool(nd):
    def draw(r, g):
        k, karg, sarg, _ = _pool_common(r, nd)
        norm = r.choice([1, 2, 3, 1.5, 2.0])
        lo = 0.1 if r.random() < 0.7 else -3.0
        kw = {"stride": sarg, "ceil_mode": r.random() < 0.4}
        return dict(args=[_pool_input(r, g, nd, k, lo), norm, karg], kwargs=kw)
    return draw


def _d_adaptive_pool(nd, kind):
    def draw(r, g):
        x = _pool_input(r, g, nd, (1,) * nd)
        spatial = x["shape"][-nd:]
        out = tuple(r.randint(1, s + 1) for s in spatial)
        if nd > 1 and r.random() < 0.3:
            out = tuple(None if r.random() < 0.4 else o for o in out)
        arg = out[0] if nd == 1 or r.random() < 0.2 and out[0] is not None else out
        kw = {"return_indices": r.random() < 0.5} if kind == "max" else {}
        return dict(args=[x, arg], kwargs=kw)
    return draw


INTERP_MODES = {3: ["nearest", "nearest-exact", "linear", "area"],
                4: ["nearest", "nearest-exact", "bilinear", "bicubic", "area"],
                5: ["nearest", "nearest-exact", "trilinear", "area"]}


def _d_interpolate(r, g):
    rank = r.choice([3, 3, 4, 5, 5])
    mode = r.choice(INTERP_MODES[rank])
    spatial = tuple(r.randint(1, 4) for _ in range(rank - 2))
    kw = {"mode": mode}
    if r.random() < 0.5:
        size = tuple(r.randint(1, 7) for _ in spatial)
        kw["size"] = size[0] if len(size) == 1 or r.random() < 0.2 else size
        out = size if len(size) == len(spatial) else size * len(spatial)
        out = out if isinstance(kw["size"], tuple) else (size[0],) * len(spatial)
    else:
        sf = tuple(r.choice([0.5, 1.0, 1.5, 2.0, 1.7, 3.0, 0.75]) for _ in spatial)
        kw["scale_factor"] = sf[0] if r.random() < 0.4 else sf
        sf = sf if isinstance(kw["scale_factor"], tuple) else (sf[0],) * len(spatial)
        out = tuple(math.floor(s * f) for s, f in zip(spatial, sf))
        if r.random() < 0.4:
            kw["recompute_scale_factor"] = r.choice([True, False])
    if mode in ("linear", "bilinear", "bicubic", "trilinear") and r.random() < 0.6:
        kw["align_corners"] = r.choice([True, False])
    if mode in ("bilinear", "bicubic") and r.random() < 0.3:
        kw["antialias"] = True
    nearest_sf = mode == "nearest" and rank in (3, 5) and "scale_factor" in kw and any(
        o in (s, 2 * s) for o, s in zip(out, spatial))
    bicubic_same = mode == "bicubic" and tuple(out) == spatial
    grad = g and not nearest_sf and not bicubic_same          # KNOWN (e)
    lead = (r.randint(1, 2), r.randint(1, 2))
    return dict(args=[T(lead + spatial, grad=grad)], kwargs=kw)


def _d_sdpa(r, g):
    lead = _dims(r, 0, 1, 1, 2)
    hq = r.randint(1, 4)
    gqa = r.random() < 0.25
    hk = r.choice([h for h in range(1, hq + 1) if hq % h == 0]) if gqa else hq
    L, S, E, Ev = r.randint(1, 4), r.randint(1, 4), r.randint(1, 4), r.randint(1, 4)
    if r.random() < BIG:                         # past the kernels' tiles (64, 128, 256)
        L, S = r.randint(60, 300), r.randint(60, 300)
    q, k, v = lead + (hq, L, E), lead + (hk, S, E), lead + (hk, S, Ev)
    kw = {}
    if gqa:
        kw["enable_gqa"] = True
    u = r.random()
    mshape = r.choice([(L, S), (1, L, S), lead + (1, L, S), lead + (hq, L, S)])
    if u < 0.3:
        kw["attn_mask"] = B(mshape, 0.75)
    elif u < 0.55:
        kw["attn_mask"] = T(mshape, -3, 3, grad=g and r.random() < 0.5,
                            kind="ninf" if r.random() < 0.3 else "u")
    elif u < 0.7:
        kw["is_causal"] = True
    if r.random() < 0.3:
        kw["scale"] = r.choice([0.5, 1.0, 2.0])
    if r.random() < 0.3:
        kw["dropout_p"] = 0.0
    return dict(args=[T(q, grad=g), T(k, grad=g), T(v, grad=g)], kwargs=kw)


# ---- the registry: name -> (where the callable lives, drawer) ------------------------------

def _act(name, params=(), inplace=True):
    return name, ("F", _d_activation(name, params, inplace))


FUNCS = dict([
    ("cross_entropy", ("F", _d_cross_entropy)), ("nll_loss", ("F", _d_nll_loss)),
    ("binary_cross_entropy", ("F", _d_binary_cross_entropy)),
    ("binary_cross_entropy_with_logits", ("F", _d_binary_cross_entropy_with_logits)),
    ("mse_loss", ("F", lambda r, g: _d_mse_loss(r, g, "mse"))),
    ("l1_loss", ("F", lambda r, g: _d_mse_loss(r, g, "l1"))),
    ("smooth_l1_loss", ("F", lambda r, g: _d_mse_loss(r, g, "smooth_l1"))),
    ("huber_loss", ("F", lambda r, g: _d_mse_loss(r, g, "huber"))),
    ("kl_div", ("F", _d_kl_div)), ("poisson_nll_loss", ("F", _d_poisson_nll_loss)),
    ("gaussian_nll_loss", ("F", _d_gaussian_nll_loss)),
    ("margin_ranking_loss", ("F", _d_margin_ranking_loss)),
    ("hinge_embedding_loss", ("F", _d_hinge_embedding_loss)),
    ("soft_margin_loss", ("F", _d_soft_margin_loss)),
    ("multilabel_soft_margin_loss", ("F", _d_multilabel_soft_margin_loss)),
    ("multilabel_margin_loss", ("F", _d_multilabel_margin_loss)),
    ("multi_margin_loss", ("F", _d_multi_margin_loss)),
    ("cosine_embedding_loss", ("F", _d_cosine_embedding_loss)),
    ("triplet_margin_loss", ("F", _d_triplet_margin_loss)),
    ("triplet_margin_with_distance_loss", ("F", _d_triplet_margin_with_distance_loss)),
    ("ctc_loss", ("F", _d_ctc_loss)),
    ("batch_norm", ("F", _d_batch_norm)), ("layer_norm", ("F", _d_layer_norm)),
    ("group_norm", ("F", _d_group_norm)), ("instance_norm", ("F", _d_instance_norm)),
    ("local_response_norm", ("F", _d_local_response_norm)),
    ("normalize", ("F", _d_normalize)), ("rms_norm", ("F", _d_rms_norm)),
    *[(c, ("module", _d_module_norm(c))) for c in
      ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
       "InstanceNorm3d")],
    _act("relu"), _act("relu6"), _act("selu"), _act("hardsigmoid"), _act("hardswish"),
    _act("mish"), _act("silu"), _act("softsign", inplace=False),
    _act("tanhshrink", inplace=False), _act("logsigmoid", inplace=False),
    _act("sigmoid", inplace=False), _act("tanh", inplace=False),
    _act("hardtanh", [("min_val", [-1.0, -0.5, 0.0, -2.0]), ("max_val", [1.0, 0.5, 2.0])]),
    _act("elu", [("alpha", [1.0, 0.5, 2.0, -0.5])]),
    _act("celu", [("alpha", [1.0, 0.5, 2.0, -0.5])]),
    _act("gelu", [("approximate", ["none", "tanh"])], inplace=False),
    _act("leaky_relu", [("negative_slope", [0.01, 0.2, -0.3, 1.5, 0.0])]),
    _act("softshrink", [("lambd", [0.5, 0.0, 1.2])], inplace=False),
    _act("hardshrink", [("lambd", [0.5, 0.0, 1.2, -0.5])], inplace=False),
    _act("softplus", [("beta", [1.0, 0.5, 2.0, -1.0]), ("threshold", [20.0, 1.0, 0.5])],
         inplace=False),
    ("threshold", ("F", _d_threshold)), ("rrelu", ("F", _d_rrelu)),
    ("prelu", ("F", _d_prelu)), ("glu", ("F", _d_glu)),
    ("softmax", ("F", _d_softmax)), ("log_softmax", ("F", _d_softmax)),
    ("softmin", ("F", _d_softmax)),
    ("one_hot", ("F", _d_one_hot)), ("pad", ("F", _d_pad)),
    ("embedding", ("F", _d_embedding)), ("embedding_bag", ("F", _d_embedding_bag)),
    ("linear", ("F", _d_linear)), ("bilinear", ("F", _d_bilinear)),
    ("cosine_similarity", ("F", _d_cosine_similarity)),
    ("pairwise_distance", ("F", _d_pairwise_distance)), ("pdist", ("F", _d_pdist)),
    ("cdist", ("lib", _d_cdist)), ("unfold", ("F", _d_unfold)), ("fold", ("F", _d_fold)),
    ("pixel_shuffle", ("F", _d_pixel_shuffle)), ("pixel_unshuffle", ("F", _d_pixel_unshuffle)),
    ("channel_shuffle", ("F", _d_channel_shuffle)),
    ("dropout", ("F", _d_dropout("dropout", (0, 1, 2, 3)))),
    ("alpha_dropout", ("F", _d_dropout("alpha_dropout", (1, 2, 3)))),
    ("feature_alpha_dropout", ("F", _d_dropout("feature_alpha_dropout", (3, 4, 5)))),
    ("dropout1d", ("F", _d_dropout("dropout1d", (2, 3)))),
    ("dropout2d", ("F", _d_dropout("dropout2d", (3, 4)))),
    ("dropout3d", ("F", _d_dropout("dropout3d", (4, 5)))),
    ("affine_grid", ("F", _d_affine_grid)), ("grid_sample", ("F", _d_grid_sample)),
    ("avg_pool1d", ("F", _d_avg_pool(1))), ("avg_pool3d", ("F", _d_avg_pool(3))),
    ("max_pool1d", ("F", _d_max_pool(1))), ("max_pool2d", ("F", _d_max_pool(2))),
    ("max_pool3d", ("F", _d_max_pool(3))),
    ("lp_pool1d", ("F", _d_lp_pool(1))), ("lp_pool2d", ("F", _d_lp_pool(2))),
    ("lp_pool3d", ("F", _d_lp_pool(3))),
    ("adaptive_max_pool1d", ("F", _d_adaptive_pool(1, "max"))),
    ("adaptive_max_pool2d", ("F", _d_adaptive_pool(2, "max"))),
    ("adaptive_max_pool3d", ("F", _d_adaptive_pool(3, "max"))),
    ("adaptive_avg_pool1d", ("F", _d_adaptive_pool(1, "avg"))),
    ("adaptive_avg_pool3d", ("F", _d_adaptive_pool(3, "avg"))),
    ("interpolate", ("F", _d_interpolate)),
    ("scaled_dot_product_attention", ("F", _d_sdpa)),
])
NAMES = list(FUNCS)


def _specs(v):
    if _is_spec(v):
        return [v]
    if isinstance(v, (list, tuple)):
        return [s for x in v for s in _specs(x)]
    if isinstance(v, dict):
        return [s for x in v.values() for s in _specs(x)]
    return []


NORMS = {"batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm", "BatchNorm1d",
         "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"}


SOFTMAXES = {"softmax", "log_softmax", "softmin"}
BATCH_NORMS = {"batch_norm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d"}


def _perturb(r, prog, name):
    """Now and then: non-contiguous float inputs (a transposed leaf), values on a grid of 0.5
    (ties and kinks), or some NaN or infinities in the first input. Not drawn, PyTorch's own
    failures: its local_response_norm views a non-contiguous 5-D input (and raises); its
    batch_norm backward takes a non-contiguous input with a size-1 dim whose strides also read
    as channels_last for channels_last and returns the gradient in the wrong layout."""
    floats = [s for s in _specs([prog["args"], prog["kwargs"], prog.get("module")])
              if s["t"] == "f"]
    for spec in floats:
        if len(spec["shape"]) >= 2 and r.random() < 0.15 and name != "local_response_norm" \
                and not (name in BATCH_NORMS and 1 in spec["shape"]):
            spec["nc"] = True
    u = r.random()
    plain = [s for s in floats if s["kind"] == "u"]
    if u < 0.08:
        for spec in plain:
            spec["kind"] = "grid"
    elif u < 0.12 and plain and not (name.startswith(("adaptive_avg_pool", "AdaptiveAvgPool"))
                                     or prog["kwargs"].get("mode") == "area"):     # (KNOWN (n))
        plain[0]["kind"] = r.choice(["nan", "posinf" if name in SOFTMAXES else "inf"])  # (i)


def draw(seed):
    """The program of a seed: FUNCS' name seed % len(FUNCS), then its arguments."""
    r = random.Random(seed)
    name = NAMES[seed % len(NAMES)]
    dtype = "float64" if r.random() < 0.65 else "float32"
    where, drawer = FUNCS[name]
    prog = drawer(r, dtype == "float64")
    _perturb(r, prog, name)
    eps = (prog.get("module") or {}).get("ctor", prog["kwargs"]).get("eps") or 1e-5
    cond = min(eps ** -0.5, 1e3) if name in NORMS else 1.0
    nan = any(s["kind"] == "nan" for s in _specs([prog["args"], prog["kwargs"]])
              if s["t"] == "f")
    return dict(seed=seed, fn=name, where=where, dtype=dtype, grad=dtype == "float64",
                args=prog["args"], kwargs=prog["kwargs"], module=prog.get("module"),
                cond=cond, nan_inputs=nan)


# ---- running a program on one library ------------------------------------------------------

class _Maker:
    """Tensors of the program's specs, the same arrays in each library (one NumPy stream)."""

    def __init__(self, lib, F, program):
        self.lib, self.F, self.program = lib, F, program
        self.rng = np.random.default_rng(program["seed"])
        self.leaves = []                     # every tensor made (compared after the call)
        self.grad_leaves = []                # those that require grad

    def build(self, v):
        if _is_spec(v):
            return self.tensor(v)
        if isinstance(v, (list, tuple)) and any(_is_spec(x) for x in v):
            return type(v)(self.build(x) for x in v)
        if isinstance(v, dict):
            return {k: self.build(x) for k, x in v.items()}
        return v

    def tensor(self, spec):
        lib = self.lib
        if spec["t"] == "dtype":
            return _ldtype(lib, spec["name"])
        a = _array(spec, self.rng, self.program["dtype"])
        grad = spec["t"] == "f" and spec["grad"] and self.program["grad"]
        t = lib.tensor(a if not spec.get("nc") else np.ascontiguousarray(a.T),
                       requires_grad=grad)
        self.leaves.append(t)
        if grad:
            self.grad_leaves.append(t)
        if spec.get("nc"):                         # a non-contiguous view of the leaf
            t = t.permute(*reversed(range(a.ndim)))
        if spec.get("pre"):
            t = getattr(self.F, spec["pre"][0])(t, spec["pre"][1])
        return t


def _flatten(out):
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _flatten(o)]
    return [out]


def _snap(lib, t):
    """A tensor as plain data: (dtype name, shape, array, requires_grad); anything else as
    ('obj', repr)."""
    if isinstance(t, lib.Tensor):
        return (str(t.dtype).split(".")[-1], tuple(t.shape), np.array(t.detach().numpy()),
                bool(t.requires_grad))
    return ("obj", repr(t))


def _call(lib, F, program, mk):
    args, kwargs = mk.build(program["args"]), mk.build(program["kwargs"])
    fn = getattr(lib if program["where"] == "lib" else F, program["fn"])
    return _flatten(fn(*args, **kwargs)), []


def _call_module(lib, F, program, mk):
    """A normalisation module: its parameters set from the program, then its calls; the
    outputs of all calls, and its buffers after each."""
    spec = program["module"]
    m = getattr(lib.nn, spec["cls"])(spec["C"], **spec["ctor"],
                                     dtype=_ldtype(lib, program["dtype"]))
    if m.weight is not None:
        with lib.no_grad():
            for name, p in spec["params"].items():
                getattr(m, name).copy_(mk.build(p))
        if program["grad"]:
            mk.grad_leaves += [m.weight, m.bias]
    outs, buffers = [], []
    for mode, x in spec["calls"]:
        m.train(mode == "train")
        outs.append(m(mk.build(x)))
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            b = getattr(m, name)
            buffers.append(None if b is None else b.detach().clone())
    return outs, buffers


def run(lib, F, program):
    """The program on (lib, F): {'raised': (type name, message)} or its outputs, the inputs
    after the call, (module) buffers, and in float64 the gradients of a weighted sum."""
    mk = _Maker(lib, F, program)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            caller = _call_module if program["module"] else _call
            outs, buffers = caller(lib, F, program, mk)
        except ERRORS as e:
            return {"raised": (type(e).__name__, str(e)[:300])}
        except Exception as e:                       # noqa: BLE001 (compared as a difference)
            return {"raised": ("!" + type(e).__name__, str(e)[:300])}
        res = {"raised": None, "outs": [_snap(lib, o) for o in outs],
               "after": [_snap(lib, t) for t in mk.leaves],
               "buffers": [_snap(lib, b) for b in buffers]}
        if program["grad"]:
            res["grads"] = _grads(lib, program, outs, mk.grad_leaves)
    return res


def _grads(lib, program, outs, leaves):
    """d(sum_k (out_k * w_k).sum()) / d leaves, w_k fixed by the seed; or ('raised', ...)."""
    rng = np.random.default_rng(program["seed"] + 1)
    floats = [o for o in outs if isinstance(o, lib.Tensor) and o.dtype.is_floating_point]
    weights = [rng.standard_normal(tuple(o.shape)) for o in floats]
    total, used = None, False
    for o, w in zip(floats, weights):
        if not o.requires_grad:
            continue
        term = (o * lib.tensor(w, dtype=o.dtype)).sum()
        total, used = (term if total is None else total + term), True
    if not used or not leaves:
        return None
    try:
        gs = lib.autograd.grad(total, leaves, allow_unused=True)
    except Exception as e:                           # noqa: BLE001
        return ("raised", type(e).__name__, str(e)[:300])
    return [np.zeros(tuple(t.shape)) if x is None else np.array(x.detach().numpy())
            for t, x in zip(leaves, gs)]


# ---- comparing the two runs ----------------------------------------------------------------

def _close(a, e, dtype, cond=1.0):
    """NaN-aware allclose at the tolerance of torch's dtype (exact for ints and bools); cond
    widens float32's atol where the op divides by sqrt(eps) (normalisations)."""
    if a.dtype.kind not in "fc" and e.dtype.kind not in "fc":
        return np.array_equal(a, e)
    a, e = a.astype(np.float64), e.astype(np.float64)
    rtol, atol = TOL.get(dtype, (1e-5, 1e-6))
    atol = atol * cond if dtype != "float64" else atol
    fin = np.isfinite(e)
    scale = max(1.0, float(np.abs(e[fin]).max())) if fin.any() else 1.0
    return bool(np.allclose(a, e, rtol=rtol, atol=atol * scale, equal_nan=True))


def _cmp_snaps(where, got, ref, diffs, kind, cond=1.0):
    if len(got) != len(ref):
        diffs.append(("structure", f"{where}: {len(got)} tensors, torch {len(ref)}"))
        return
    for k, (a, e) in enumerate(zip(got, ref)):
        if a[0] == "obj" or e[0] == "obj":
            if (a[0] == "obj") != (e[0] == "obj") or a[1] != e[1]:
                diffs.append(("structure", f"{where}[{k}]: {a[1]!r} vs torch {e[1]!r}"))
            continue
        if a[0] != e[0]:
            diffs.append(("dtype", f"{where}[{k}]: {a[0]}, torch {e[0]}"))
        if a[1] != e[1]:
            diffs.append(("shape", f"{where}[{k}]: {a[1]}, torch {e[1]}"))
        elif not _close(a[2], e[2], e[0], cond):
            diffs.append((kind, f"{where}[{k}]: {_show(a[2])} torch {_show(e[2])}"))
        if where == "out" and a[3] != e[3]:
            diffs.append(("requires_grad", f"out[{k}]: {a[3]}, torch {e[3]}"))


def _show(a):
    with np.printoptions(precision=6, threshold=12, edgeitems=3, linewidth=200):
        return str(a).replace("\n", " ")


def compare(got, ref, program=None):
    """Differences as (kind, detail) between tinygen's result `got` and PyTorch's `ref`."""
    ra, rb = got["raised"], ref["raised"]
    if ra or rb:
        if ra and ra[0].startswith("!"):
            return [("crash", f"tinygen {ra[0][1:]}: {ra[1]}")]
        if (ra is None) != (rb is None):
            return [("raise", f"tinygen raised {ra}" if ra else f"torch raised {rb}")]
        return []
    cond = (program or {}).get("cond", 1.0)
    diffs = []
    _cmp_snaps("out", got["outs"], ref["outs"], diffs, "value", cond)
    _cmp_snaps("after", got["after"], ref["after"], diffs, "inplace", cond)
    _cmp_snaps("buffers", got["buffers"], ref["buffers"], diffs, "buffers", cond)
    ga, gb = got.get("grads"), ref.get("grads")
    if (program or {}).get("nan_inputs") or _known_grad(program or {}, ref):
        return diffs                 # PyTorch's gradient at a NaN varies (module doc)
    if isinstance(gb, list):         # (no reference where PyTorch's backward raises)
        if not isinstance(ga, list):
            diffs.append(("grad", f"tinygen {_brief(ga)}, torch gradients"))
            return diffs
        # the loosest dtype the outputs went through (softmax's dtype=float32, ...)
        dt = max((o[0] for o in ref["outs"] if o[0] in TOL), key=lambda d: TOL[d],
                 default="float64")
        if (program or {}).get("fn") == "hardsigmoid":     # (KNOWN (m))
            dt = "float32"
        for k, (a, e) in enumerate(zip(ga, gb)):
            if a.shape != e.shape or not _close(a, e, dt, cond):
                diffs.append(("grad", f"leaf {k}: {_show(a)} torch {_show(e)}"))
    elif gb is None and isinstance(ga, list):
        diffs.append(("grad", "tinygen has gradients, torch's outputs need none"))
    return diffs


def _known_grad(program, ref):
    """KNOWN (h) and (j): gradients not compared."""
    fn, kw = program.get("fn"), program.get("kwargs", {})
    if fn == "ctc_loss" and not kw.get("zero_infinity"):
        return any(np.isinf(o[2]).any() for o in ref["outs"] if o[0] != "obj")
    infinite = any(s["kind"] == "inf" for s in _specs(program.get("args", []))
                   if s["t"] == "f")
    return infinite and (fn == "soft_margin_loss" or fn in ("cdist", "pdist")
                         and kw.get("p") == float("inf"))


def _brief(g):
    return "no graph" if g is None else (g if isinstance(g, tuple) else "gradients")


def check(seed):
    program = draw(seed)
    got, ref = run(tg, TGF, program), run(torch, TF, program)
    return program, compare(got, ref, program), got, ref


# first seeds of the classes that seeds 0-299 miss (seeds 0-19999 run outside the suite)
EXTRA_SEEDS = [317, 416, 433, 739, 1185, 1201, 1322, 1442, 1507, 1539, 1898, 2058, 2841, 3454,
               3800, 4118, 4142, 4407, 5614, 5812, 5900, 6252, 6450, 8719, 9100]


@pytest.mark.parametrize("seed", list(range(300)) + EXTRA_SEEDS)
def test_functional_matches_torch(seed):
    program, diffs, got, ref = check(seed)
    assert not diffs, f"{program['fn']} differs: {diffs}\nprogram: {program}"


def test_every_function_drawn():
    assert {draw(s)["fn"] for s in range(300)} == set(NAMES)
