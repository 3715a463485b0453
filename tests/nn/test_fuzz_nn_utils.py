"""Random programs of tinygen.nn.utils and tinygen.nn.init, run on tinygen and on PyTorch: the
same values, gradients, names and errors.

Each program is drawn once from its seed as plain data (`program(seed)`; the seed modulo the
number of kinds picks the kind, so every block of 15 seeds reaches all of them), then run on
both libraries by the same code (`run(lib, program)`), which logs (label, plain value) entries
and stops at the first exception, logged with its built-in exception classes at that step.
Tensor values come from a NumPy stream seeded by the program (float64), module weights are set
from it (so PyTorch's and tinygen's layers hold the same ones), and gradients are those of a
seeded weighted sum of the outputs (autograd.grad, allow_unused: None kept). Kinds:
- pad_sequence (batch_first, padding_value, padding_side, empty sequences, mismatched trailing
  shapes, no sequences, a bad side) and unpad_sequence: outputs and gradients;
- pack: pack_padded_sequence (lengths as a list or a tensor, sorted, unsorted, equal, with a
  zero, of the wrong count; enforce_sorted; batch_first) or pack_sequence, then
  pad_packed_sequence (batch_first, padding_value, total_length below, at and above the
  longest) and unpack_sequence: every PackedSequence field and the gradients through each;
- rnn: nn.RNN (tanh, relu) / LSTM / GRU (1-2 layers, bidirectional, bias, batch_first, with
  and without an initial state) on a PackedSequence: output fields, states, and gradients of
  the input, the states and every weight;
- clip: clip_grad_norm_ (max_norm 0..1e6, norm_type 1, 2, inf, -inf, 0.5, 3, "inf",
  error_if_nonfinite, foreach None / False), clip_grad_value_, get_total_norm,
  clip_grads_with_norm_, on a list, tuple, generator or a single tensor, with grads None, zero,
  holding nan or +-inf: the returned norm and the grads after;
- vector: parameters_to_vector (and its gradient), vector_to_parameters (short vecs, a list);
- parametrize: register_parametrization on a Linear's weight, bias, a buffer or a missing name,
  with a module defined here (symmetric, skew, orthogonal by Cayley and by matrix_exp, a scale
  with right_inverse, a two-tensor right_inverse, a shape-changing slice, a dtype change;
  unsafe or not), then forwards, parametrize.cached(), assignment, a chained second
  parametrization, remove_parametrizations(leave_parametrized True / False), state_dict:
  parameter names, state_dict keys and values, is_parametrized, outputs and gradients;
- weight_norm: parametrizations.weight_norm and the older utils.weight_norm /
  remove_weight_norm on Linear / Conv1d / Conv2d / ConvTranspose2d (dim 0, 1, 2, -1, None,
  weight or bias, twice): names, state_dict, forward values and gradients before and after
  removal;
- spectral_norm: parametrizations.spectral_norm and utils.spectral_norm /
  remove_spectral_norm (n_power_iterations 0-3, eps, dim, weight or 1-D bias), with the
  power iteration's u and v set to the same unit vectors on both sides after registration, then
  1-3 forwards in train / eval mode: u, v, outputs, gradients;
- prune: 1-3 steps of l1_unstructured, random_unstructured, ln_structured (n 1, 2, 3, +-inf,
  "fro"; dim), global_unstructured, identity, custom_from_mask, remove (of pruned and unpruned
  tensors) with amounts as ints, fractions, out of range and True: is_pruned, names,
  state_dict keys and values (masks), forward values and gradients; after a random step only
  the masks' sums (while they do not depend on where the random mask fell);
- functional_call: func.functional_call (one dict or two), nn.utils.stateless.functional_call,
  on a Sequential with a BatchNorm1d (buffers, train / eval) and on a module with tied weights
  and a buffer (strict, tie_weights, missing / unexpected keys, a bias the module lacks):
  output, the dict's tensors and the module's state after, gradients;
- fuse: fuse_conv_bn_eval (Conv1d / Conv2d / ConvTranspose2d) and fuse_linear_bn_eval, bias or
  not, affine or not, in training mode (refused): fused parameters and outputs;
- gain: calculate_gain for every nonlinearity and odd params (exact values and types);
- fans: kaiming_uniform_ / kaiming_normal_ (a, mode, nonlinearity) and xavier_uniform_ /
  xavier_normal_ (gain) on tensors of rank 0-5 (some with a zero dim: PyTorch's warning),
  float64 / float32, Parameter or not: errors, warnings, the tensor returned, dtype and
  requires_grad kept, and the statistics below against the bound / std that the documented fan
  formula gives;
- init_exact: eye_, dirac_ (groups), zeros_, ones_, constant_ (float / int / bool values) on
  float64, float32 and int64 tensors of rank 0-5: exact values, errors;
- init_random: uniform_, normal_, trunc_normal_ (bounds a == b, a > b, a tail; std 0 and < 0),
  orthogonal_ (gain; rank 2-4; Q^T Q = gain^2 I on the smaller side, to 1e-11 gain^2 in
  float64, 1e-4 gain^2 in float32), sparse_ (the count of zeros in every column, exactly):
  properties only.

Values drawn at random cannot be compared across libraries; their properties are, on tensors
of at least 4096 elements: for a uniform on [lo, hi], every value inside it (give or take half
a float32 ulp of the bound in float32) and the max (min)
within 14 / n of the width of hi (lo) (each fails by chance with probability (1 - 14/n)^n <
e^-14 = 8e-7); for a normal, the sample mean within 5 sigma / sqrt(n) of the mean and the
sample std within 5 / sqrt(2 n) of sigma, relatively (5 standard errors: 5.7e-7 each); for
trunc_normal_, every value in [a, b] and the mean within 5 std / sqrt(n) of the truncated
normal's (its sd is below std / sqrt(n)).

Compared: plain values (tensors: dtype, shape, requires_grad, values at rtol 1e-9 and atol
1e-12, NaN-aware; Python numbers by type and exactly); an exception on one side must be one
on the other at the same step, of a common built-in class (tinygen's errors subclass the
built-in ones), except where PyTorch's own type is an accident (LOOSE: spectral_norm of a 1-D
tensor with dim 1, IndexError / RuntimeError; a lengths list of the wrong size in pack,
ValueError / IndexError / RuntimeError; vector_to_parameters with a short vec, ValueError /
RuntimeError).

KNOWN deliberate differences (documented where they live), kept out of the programs:
(a) pack_padded_sequence refuses a length longer than the input; PyTorch packs it, reading
past the input (rnn.py): such lengths are not drawn;
(b) vector_to_parameters refuses a vec of another size or rank (ValueError); PyTorch ignores
extra entries and slices the rows of a 2-D vec (convert_parameters.py): short 1-D vecs only;
(c) unpad_sequence takes lengths as a list too, PyTorch only a tensor (rnn.py): tensors drawn;
(d) clip_grad_value_ without any gradient does nothing; PyTorch's foreach=False path raises
an internal RuntimeError (clip_grad.py): a gradient always drawn there;
(e) fuse_linear_bn_eval with a BatchNorm1d(affine=False) fuses (weight 1, bias 0); PyTorch's
raises a TypeError on the None weight (fusion.py): affine drawn for linear;
(f) parameters_to_vector / vector_to_parameters take one tensor as [tensor]; PyTorch iterates
its first dim (convert_parameters.py): iterables drawn;
(g) prune.ln_structured with n="fro" on a weight of more than 3 dims takes each channel's
2-norm; PyTorch's matrix_norm refuses (prune.py): "fro" drawn for Linear only;
(h) tinygen has no parametrizations.orthogonal and no memory formats
(convert_conv2d_weight_memory_format is the identity): not drawn.

Beyond the suite's 300 seeds: of seeds 0-19999, run on 2026-12-07 (/tmp/opfuzz/nnutils/), 2,815
differed before this suite's fixes (48 of the suite's 300), in 12 classes, and 0 differ now:
calculate_gain's int 1 (588), register_parametrization's dtype / shape checks, assignment
without right_inverse, leave_parametrized across a dtype change (513), parametrize.cached
(314), get_total_norm's foreach (426), pad_sequence's bad padding_side type (262),
trunc_normal_'s errors, warning and tails (264), weight_norm's dim out of range (168),
uniform_ / normal_ / sparse_ leaking NumPy's ValueError (82), kaiming's zero-element warning
(59), clip_grad_norm_ of norm_type -inf (34), functional_call's strict keys with tied weights
and a None bias (48), prune's amount=True (57).
"""
import importlib
import math
import random
import warnings

import numpy as np
import pytest

import tinygen as tg
from helpers import assert_programs_match, length_difference, explain_difference  # noqa: E402

torch = pytest.importorskip("torch")
importlib.import_module("torch.nn.utils.prune")          # (not imported by torch.nn.utils)

RTOL, ATOL = 1e-9, 1e-12
INF = float("inf")
GAIN_NAMES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]
Z = 5.0          # statistical checks: 5 standard errors (two-sided p = 5.7e-7 per check)
BIG = 4096       # elements of the tensors whose statistics are checked


# ---- plain values ----------------------------------------------------------------------------

def _is_tensor(x):
    return isinstance(x, (tg.Tensor, torch.Tensor))


def plain(x):
    """x as plain data: tensors as ("tensor", dtype name, float64/int64 array, requires_grad)."""
    if _is_tensor(x):
        arr = np.array(x.detach().cpu().numpy(), copy=True)      # (not a view)
        return ("tensor", str(x.dtype).split(".")[-1], arr, bool(x.requires_grad))
    if type(x).__name__ == "PackedSequence":
        return {"data": plain(x.data), "batch_sizes": plain(x.batch_sizes),
                "sorted_indices": plain(x.sorted_indices),
                "unsorted_indices": plain(x.unsorted_indices)}
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return x.item()
    return x


class Log:
    """The log of one run: (label, plain value) entries; `step` names where an error lands."""

    def __init__(self, lib, prog):
        self.lib, self.prog, self.entries, self.step = lib, prog, [], "start"
        self.rng = np.random.default_rng(prog["vseed"])

    def at(self, step):
        self.step = step

    def add(self, label, value):
        self.entries.append((f"{self.step}: {label}", plain(value)))

    def t(self, shape, rg=False, lo=-2.0, hi=2.0, dtype="float64"):
        arr = self.rng.uniform(lo, hi, shape)
        return self.lib.tensor(arr, dtype=getattr(self.lib, dtype), requires_grad=rg)

    def fill(self, module, lo=-1.0, hi=1.0):
        """Every parameter of module set from the seed's stream (sorted by name)."""
        with self.lib.no_grad():
            for _, p in sorted(module.named_parameters()):
                p.copy_(self.lib.tensor(self.rng.uniform(lo, hi, tuple(p.shape))))

    def grads(self, outputs, leaves, label="grads"):
        """Gradients of a seeded weighted sum of outputs with respect to leaves (None kept)."""
        outputs = [o for o in outputs if _is_tensor(o) and o.requires_grad]
        if not outputs:
            self.add(label, "no graph")
            return
        loss = sum((o * self.lib.tensor(self.rng.uniform(-1, 1, tuple(o.shape)))).sum()
                   for o in outputs)
        self.add(label, list(self.lib.autograd.grad(loss, leaves, allow_unused=True,
                                                   retain_graph=True)))


# ---- nn.utils.rnn ----------------------------------------------------------------------------

def _draw_lengths(r, batch, steps):
    mode = r.choice(["sorted", "sorted", "unsorted", "equal", "zero", "count"])  # KNOWN (a)
    lengths = [r.randint(1, steps) for _ in range(batch)]
    if mode == "sorted":
        lengths.sort(reverse=True)
    elif mode == "equal":
        lengths = [steps] * batch
    elif mode == "zero":
        lengths[r.randrange(batch)] = 0
    elif mode == "count":
        lengths = lengths + [1]
    return lengths


def draw_pad_sequence(r):
    n = r.choice([0, 1, 2, 3, 4]) if r.random() < 0.05 else r.randint(1, 4)
    trail = r.choice([(), (2,), (2, 3)])
    shapes = [(r.randint(0, 4),) + trail for _ in range(n)]
    if n > 1 and r.random() < 0.1:
        shapes[-1] = shapes[-1][:1] + (5,)
    return dict(shapes=shapes, batch_first=r.random() < 0.5,
                padding_value=r.choice([0.0, -1.5, 7]),
                padding_side=r.choice(["right", "left", "right", "left", "middle"]))


def run_pad_sequence(L, p):
    rnn = L.lib.nn.utils.rnn
    seqs = [L.t(s, rg=True) for s in p["shapes"]]
    L.at("pad_sequence")
    out = rnn.pad_sequence(seqs, batch_first=p["batch_first"],
                           padding_value=p["padding_value"], padding_side=p["padding_side"])
    L.add("out", out)
    L.grads([out], seqs)
    L.at("unpad_sequence")
    lengths = L.lib.tensor([s[0] for s in p["shapes"]])        # KNOWN (c): not a list
    if p["padding_side"] == "right":
        back = rnn.unpad_sequence(out, lengths, batch_first=p["batch_first"])
        L.add("sequences", back)
        L.grads(back, seqs)


def draw_pack(r):
    batch, steps = r.randint(1, 4), r.randint(1, 4)
    lengths = _draw_lengths(r, batch, steps)
    return dict(batch=batch, steps=steps, lengths=lengths, trail=r.choice([(), (2,)]),
                route=r.choice(["padded", "padded", "sequence"]),
                enforce_sorted=r.random() < 0.5, lengths_as=r.choice(["list", "tensor"]),
                batch_first=r.random() < 0.5, batch_first_out=r.random() < 0.5,
                padding_value=r.choice([0.0, -2.5]),
                total_length=r.choice([None, None, 0, -1, 1, 2])
                )


def _pack(L, p):
    rnn = L.lib.nn.utils.rnn
    if p["route"] == "sequence":
        seqs = [L.t((n,) + p["trail"], rg=True) for n in p["lengths"]]
        return rnn.pack_sequence(seqs, enforce_sorted=p["enforce_sorted"]), seqs
    lengths = p["lengths"] if p["lengths_as"] == "list" else L.lib.tensor(p["lengths"])
    shape = (p["batch"], p["steps"]) if p["batch_first"] else (p["steps"], p["batch"])
    x = L.t(shape + p["trail"], rg=True)
    return rnn.pack_padded_sequence(x, lengths, batch_first=p["batch_first"],
                                    enforce_sorted=p["enforce_sorted"]), [x]


def run_pack(L, p):
    rnn = L.lib.nn.utils.rnn
    L.at("pack")
    packed, leaves = _pack(L, p)
    L.add("packed", packed)
    L.grads([packed.data], leaves)
    L.at("pad_packed_sequence")
    total = p["total_length"]
    if total is not None:
        total += max(p["lengths"])
    padded, lengths = rnn.pad_packed_sequence(packed, batch_first=p["batch_first_out"],
                                              padding_value=p["padding_value"],
                                              total_length=total)
    L.add("padded", [padded, lengths])
    L.grads([padded], leaves)
    L.at("unpack_sequence")
    seqs = rnn.unpack_sequence(packed)
    L.add("sequences", seqs)
    L.grads(seqs, leaves)


def draw_rnn(r):
    batch, steps = r.randint(1, 4), r.randint(1, 4)
    lengths = [r.randint(1, steps) for _ in range(batch)]
    enforce = r.random() < 0.4
    if enforce:
        lengths.sort(reverse=True)
    return dict(cell=r.choice(["RNN", "LSTM", "GRU"]), hidden=r.choice([2, 3]),
                layers=r.choice([1, 1, 2]), bidirectional=r.random() < 0.4,
                bias=r.random() < 0.8, batch_first=r.random() < 0.5,
                nonlinearity=r.choice(["tanh", "relu"]), batch=batch, steps=steps,
                lengths=lengths, enforce_sorted=enforce, h0=r.random() < 0.5)


def run_rnn(L, p):
    nn = L.lib.nn
    kw = dict(num_layers=p["layers"], bias=p["bias"], batch_first=p["batch_first"],
              bidirectional=p["bidirectional"])
    if p["cell"] == "RNN":
        kw["nonlinearity"] = p["nonlinearity"]
    m = getattr(nn, p["cell"])(2, p["hidden"], **kw).double()
    L.fill(m, -0.6, 0.6)
    params = [q for _, q in sorted(m.named_parameters())]
    L.add("parameter names", sorted(n for n, _ in m.named_parameters()))
    shape = (p["batch"], p["steps"], 2) if p["batch_first"] else (p["steps"], p["batch"], 2)
    x = L.t(shape, rg=True)
    packed = nn.utils.rnn.pack_padded_sequence(x, p["lengths"], batch_first=p["batch_first"],
                                               enforce_sorted=p["enforce_sorted"])
    leaves, state = [x], None
    if p["h0"]:
        hshape = (p["layers"] * (2 if p["bidirectional"] else 1), p["batch"], p["hidden"])
        state = L.t(hshape, rg=True)
        leaves.append(state)
        if p["cell"] == "LSTM":
            state = (state, L.t(hshape, rg=True))
            leaves.append(state[1])
    L.at("forward")
    out, h = m(packed, state)
    L.add("output", out)
    L.add("state", h)
    hs = list(h) if isinstance(h, tuple) else [h]
    L.grads([out.data] + hs, leaves + params)
    L.at("unpacked")
    padded, lengths = nn.utils.rnn.pad_packed_sequence(out, batch_first=p["batch_first"])
    L.add("padded", [padded, lengths])


# ---- clipping, flat vectors ------------------------------------------------------------------

def draw_clip(r):
    n = r.randint(1, 4)
    grads = [r.choice(["values"] * 6 + ["none", "zeros", "nan", "inf", "-inf"])
             for _ in range(n)]
    op = r.choice(["norm", "norm", "norm", "value", "total", "with_norm"])
    container = r.choice(["list", "list", "tuple", "generator", "single"])
    if op == "value" and (all(g == "none" for g in grads) or container == "single"):
        grads[0] = "values"                                                # KNOWN (d)
    return dict(shapes=[r.choice([(), (3,), (2, 3), (2, 2, 2)]) for _ in range(n)], grads=grads,
                scale=r.choice([1e-3, 1.0, 100.0]), op=op,
                max_norm=r.choice([0.0, 0.5, 1.0, 10.0, 1e6]),
                norm_type=r.choice([1, 2, 2.0, INF, 0.5, 3.0, "inf", -INF]),
                error_if_nonfinite=r.random() < 0.3, foreach=r.choice([None, False]),
                container=container, clip_value=r.choice([0.0, 0.1, 1.0, 5]))


def _params_with_grads(L, p):
    params = []
    for shape, kind in zip(p["shapes"], p["grads"]):
        q = L.lib.nn.Parameter(L.t(shape))
        g = L.t(shape, lo=-p["scale"], hi=p["scale"])
        if kind in ("nan", "inf", "-inf"):
            g.view(-1)[0] = float(kind)
        elif kind == "zeros":
            g.zero_()
        q.grad = None if kind == "none" else g
        params.append(q)
    return params


def _container(params, how):
    if how == "single":
        return params[0]
    if how == "generator":
        return (q for q in params)
    return tuple(params) if how == "tuple" else list(params)


def run_clip(L, p):
    utils = L.lib.nn.utils
    params = _params_with_grads(L, p)
    if p["container"] == "single":
        params = params[:1]
    L.at(p["op"])
    args = _container(params, p["container"])
    if p["op"] == "norm":
        out = utils.clip_grad_norm_(args, p["max_norm"], norm_type=p["norm_type"],
                                    error_if_nonfinite=p["error_if_nonfinite"],
                                    foreach=p["foreach"])
    elif p["op"] == "value":
        out = utils.clip_grad_value_(args, p["clip_value"], foreach=p["foreach"])
    else:
        grads = [q.grad for q in params if q.grad is not None]
        out = utils.get_total_norm(grads, norm_type=p["norm_type"],
                                   error_if_nonfinite=p["error_if_nonfinite"],
                                   foreach=p["foreach"])
        if p["op"] == "with_norm":
            utils.clip_grads_with_norm_(_container(params, p["container"]), p["max_norm"], out,
                                        foreach=p["foreach"])
    L.add("returned", out)
    L.add("grads after", [q.grad for q in params])


def draw_vector(r):
    n = r.choice([0, 1, 2, 3, 3]) if r.random() < 0.1 else r.randint(1, 3)
    return dict(shapes=[r.choice([(), (3,), (2, 3), (2, 1, 2)]) for _ in range(n)],
                op=r.choice(["to_vector", "from_vector"]),
                delta=r.choice([0, 0, 0, 0, -1, -2]),                          # KNOWN (b)
                vec=r.choice(["1d"] * 8 + ["list"]),                             # KNOWN (b)
                container=r.choice(["list", "generator", "tuple"]))            # KNOWN (f)


def run_vector(L, p):
    utils, nn = L.lib.nn.utils, L.lib.nn
    params = [nn.Parameter(L.t(s)) for s in p["shapes"]]
    L.at(p["op"])
    if p["op"] == "to_vector":
        v = utils.parameters_to_vector(_container(params, p["container"]))
        L.add("vector", v)
        L.grads([v], params)
        return
    total = sum(int(np.prod(s, dtype=np.int64)) for s in p["shapes"])
    vec = L.t((total + p["delta"],))
    if p["vec"] == "list":
        vec = vec.tolist()
    utils.vector_to_parameters(vec, _container(params, p["container"]))
    L.add("parameters", params)


# ---- parametrize -----------------------------------------------------------------------------

def _parametrization(lib, kind):
    """A small parametrization Module of `lib` (the same code for both libraries)."""

    class Sym(lib.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(0, 1)

    class Skew(lib.nn.Module):
        def forward(self, X):
            A = X.triu(1)
            return A - A.transpose(0, 1)

    class Scale(lib.nn.Module):
        def forward(self, X):
            return X * 2.0

        def right_inverse(self, X):
            return X / 2.0

    class Slice(lib.nn.Module):
        def forward(self, X):
            return X[:, :2]

    class Split(lib.nn.Module):
        def forward(self, A, B):
            return A + B * 3.0

        def right_inverse(self, X):
            return X * 0.25, X * 0.25

    class Cayley(lib.nn.Module):                  # orthogonal: (I + A)^-1 (I - A), A skew
        def forward(self, X):
            A = X.triu(1)
            A = A - A.transpose(0, 1)
            eye = lib.eye(X.shape[0], dtype=X.dtype)
            return lib.linalg.solve(eye + A, eye - A)

    class Expm(lib.nn.Module):                    # orthogonal: exp(A), A skew
        def forward(self, X):
            A = X.triu(1)
            return lib.matrix_exp(A - A.transpose(0, 1))

    class Float32(lib.nn.Module):
        def forward(self, X):
            return X.float()

    return {"sym": Sym, "skew": Skew, "scale": Scale, "slice": Slice, "split": Split,
            "cayley": Cayley, "expm": Expm, "float32": Float32}[kind]()


def draw_parametrize(r):
    kinds = ["sym", "skew", "scale", "slice", "split", "float32", "cayley", "expm"]
    steps = r.sample(["forward", "forward", "cached", "assign", "remove", "state_dict",
                      "second"], r.randint(2, 5))
    return dict(features=r.choice([(3, 3), (2, 2), (3, 4)]),
                name=r.choice(["weight"] * 5 + ["bias", "nothing", "buffer"]),
                first=r.choice(kinds), second=r.choice(kinds[:3]),
                unsafe=r.random() < 0.3, leave=r.random() < 0.6, steps=steps)


def _describe(L, m):
    L.add("parameter names", sorted(n for n, _ in m.named_parameters()))
    L.add("state_dict", {k: v for k, v in m.state_dict().items()})
    L.add("is_parametrized", [L.lib.nn.utils.parametrize.is_parametrized(m),
                              L.lib.nn.utils.parametrize.is_parametrized(m, "weight")])


def _forward(L, m, features):
    x = L.t((2, features[0]))
    y = m(x)
    L.add("forward", y)
    L.grads([y], [q for _, q in sorted(m.named_parameters())])


def run_parametrize(L, p):
    nn, P = L.lib.nn, L.lib.nn.utils.parametrize
    m = nn.Linear(*p["features"]).double()
    L.fill(m)
    m.register_buffer("buffer", L.t(p["features"][::-1]))
    L.at("register")
    P.register_parametrization(m, p["name"], _parametrization(L.lib, p["first"]),
                               unsafe=p["unsafe"])
    _describe(L, m)
    for i, step in enumerate(p["steps"]):
        L.at(f"{i} {step}")
        if step == "forward":
            _forward(L, m, p["features"])
        elif step == "cached":
            with P.cached():
                L.add("twice", [getattr(m, p["name"]), getattr(m, p["name"])])
                _forward(L, m, p["features"])
        elif step == "assign":
            setattr(m, p["name"], L.t(tuple(getattr(m, p["name"]).shape)))
            _describe(L, m)
        elif step == "remove":
            P.remove_parametrizations(m, p["name"], leave_parametrized=p["leave"])
            _describe(L, m)
        elif step == "second":
            P.register_parametrization(m, p["name"], _parametrization(L.lib, p["second"]),
                                       unsafe=p["unsafe"])
            _describe(L, m)
        else:
            _describe(L, m)


def _conv_or_linear(L, kind):
    nn = L.lib.nn
    m = {"Linear": lambda: nn.Linear(3, 4), "Conv1d": lambda: nn.Conv1d(2, 3, 2),
         "Conv2d": lambda: nn.Conv2d(2, 3, (2, 1)),
         "ConvTranspose2d": lambda: nn.ConvTranspose2d(2, 3, 2)}[kind]().double()
    L.fill(m)
    return m


def _input_for(L, kind):
    return L.t({"Linear": (2, 3), "Conv1d": (2, 2, 4), "Conv2d": (1, 2, 3, 2),
                "ConvTranspose2d": (1, 2, 2, 2)}[kind])


def draw_weight_norm(r):
    return dict(module=r.choice(["Linear", "Conv1d", "Conv2d", "ConvTranspose2d"]),
                name=r.choice(["weight"] * 4 + ["bias"]), dim=r.choice([0, 1, None, -1, 2]),
                style=r.choice(["parametrizations", "old"]), leave=r.random() < 0.7,
                remove=r.random() < 0.5, twice=r.random() < 0.1)


def run_weight_norm(L, p):
    utils = L.lib.nn.utils
    m = _conv_or_linear(L, p["module"])
    L.at("register")
    if p["style"] == "old":
        utils.weight_norm(m, p["name"], dim=p["dim"])
        if p["twice"]:
            utils.weight_norm(m, p["name"], dim=p["dim"])
    else:
        utils.parametrizations.weight_norm(m, p["name"], dim=p["dim"])
    _describe_module(L, m)
    L.at("forward")
    _forward_module(L, m, p["module"])
    if p["remove"]:
        L.at("remove")
        if p["style"] == "old":
            utils.remove_weight_norm(m, p["name"])
        else:
            utils.parametrize.remove_parametrizations(m, p["name"], leave_parametrized=p["leave"])
        _describe_module(L, m)
        L.at("forward after remove")
        _forward_module(L, m, p["module"])


def _describe_module(L, m):
    L.add("parameter names", sorted(n for n, _ in m.named_parameters()))
    L.add("state_dict", dict(m.state_dict()))


def _forward_module(L, m, kind):
    y = m(_input_for(L, kind))
    L.add("forward", y)
    L.grads([y], [q for _, q in sorted(m.named_parameters())])


def draw_spectral_norm(r):
    return dict(module=r.choice(["Linear", "Conv1d", "Conv2d", "ConvTranspose2d"]),
                name=r.choice(["weight"] * 5 + ["bias"]), dim=r.choice([None, None, 0, 1]),
                iterations=r.choice([1, 1, 2, 3, 0]), eps=r.choice([1e-12, 1e-3]),
                style=r.choice(["parametrizations", "old"]),
                modes=[r.choice(["train", "train", "eval"]) for _ in range(r.randint(1, 3))],
                remove=r.random() < 0.4)


def _uv(L, m, p):
    """The power iteration's (u, v) buffers, set from the seed's stream (unit vectors)."""
    if p["style"] == "old":
        return getattr(m, p["name"] + "_u"), getattr(m, p["name"] + "_v")
    sn = m.parametrizations[p["name"]][0]
    return (sn._u, sn._v) if hasattr(sn, "_u") else ()


def run_spectral_norm(L, p):
    utils = L.lib.nn.utils
    m = _conv_or_linear(L, p["module"])
    L.at("register")
    fn = utils.spectral_norm if p["style"] == "old" else utils.parametrizations.spectral_norm
    fn(m, p["name"], n_power_iterations=p["iterations"], eps=p["eps"], dim=p["dim"])
    with L.lib.no_grad():
        for b in _uv(L, m, p):
            v = L.rng.normal(size=tuple(b.shape))
            b.copy_(L.lib.tensor(v / np.linalg.norm(v)))
    _describe_module(L, m)
    for i, mode in enumerate(p["modes"]):
        L.at(f"forward {i} {mode}")
        m.train(mode == "train")
        _forward_module(L, m, p["module"])
        L.add("u, v", list(_uv(L, m, p)))
    if p["remove"]:
        L.at("remove")
        if p["style"] == "old":
            utils.remove_spectral_norm(m, p["name"])
        else:
            utils.parametrize.remove_parametrizations(m, p["name"])
        _describe_module(L, m)
        _forward_module(L, m, p["module"])


# ---- prune -----------------------------------------------------------------------------------

def _amount(r, n):
    return r.choice([0, 1, 2, n, n + 1, 0.0, 0.25, 0.5, 0.7, 1.0, -0.1, 1.5, -1, True])


def draw_prune(r):
    module = r.choice(["Linear", "Conv2d"])
    steps = []
    for _ in range(r.randint(1, 3)):
        name = r.choice(["weight", "weight", "bias"])
        method = r.choice(["l1", "l1", "random", "ln", "ln", "global", "identity", "custom",
                           "remove", "remove_unpruned"])
        steps.append(dict(name=name, method=method, amount=_amount(r, 6),
                          n=r.choice([1, 2, INF, -INF, 3] + ["fro"] * (module == "Linear")),
                          dim=r.choice([0, 1, -1, 3]),
                          mask=[r.random() < 0.6 for _ in range(48)]))
    return dict(module=module, steps=steps)


def _prune_step(L, m, other, s):
    prune = L.lib.nn.utils.prune
    name, method = s["name"], s["method"]
    if method == "l1":
        prune.l1_unstructured(m, name, amount=s["amount"])
    elif method == "random":
        prune.random_unstructured(m, name, amount=s["amount"])
    elif method == "ln":
        prune.ln_structured(m, name, amount=s["amount"], n=s["n"], dim=s["dim"])
    elif method == "global":
        prune.global_unstructured([(m, name), (other, "weight")],
                                  pruning_method=prune.L1Unstructured, amount=s["amount"])
    elif method == "identity":
        prune.identity(m, name)
    elif method == "custom":
        shape = tuple(getattr(m, name).shape)
        mask = np.array(s["mask"][:int(np.prod(shape))], dtype=np.float64).reshape(shape)
        prune.custom_from_mask(m, name, mask=L.lib.tensor(mask))
    elif method == "remove":
        prune.remove(m, name)
    else:
        prune.remove(other, "weight")


def run_prune(L, p):
    m = _conv_or_linear(L, p["module"])
    other = L.lib.nn.Linear(2, 2).double()
    L.fill(other)
    random_drawn = False
    for i, s in enumerate(p["steps"]):
        L.at(f"{i} {s['method']} {s['name']}")
        _prune_step(L, m, other, s)
        if random_drawn and s["method"] in ("ln", "custom"):
            random_drawn = "counts unknown"     # they depend on where the random mask fell
        random_drawn = random_drawn or s["method"] == "random"
        L.add("is_pruned", [L.lib.nn.utils.prune.is_pruned(m),
                            L.lib.nn.utils.prune.is_pruned(other)])
        L.add("parameter names", sorted(n for n, _ in m.named_parameters()))
        state = dict(m.state_dict())
        L.add("state_dict keys", sorted(state))
        masks = {k: v for k, v in state.items() if k.endswith("_mask")}
        if random_drawn:                 # random draws: only the numbers of kept entries
            if random_drawn is True:
                L.add("mask sums", {k: float(v.sum()) for k, v in masks.items()})
            continue
        L.add("state_dict", state)
        _forward_module(L, m, p["module"])


# ---- functional_call, fusion -----------------------------------------------------------------

def _tied(lib):
    class Tied(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = lib.nn.Linear(3, 3, bias=False)
            self.b = lib.nn.Linear(3, 3, bias=False)
            self.b.weight = self.a.weight
            self.register_buffer("shift", lib.zeros(3, dtype=lib.float64))

        def forward(self, x):
            return self.b(self.a(x)) + self.shift

    return Tied().double()


def draw_functional_call(r):
    module = r.choice(["seq", "tied"])
    names = {"seq": ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                     "1.running_var", "2.weight"], "tied": ["a.weight", "b.weight", "shift"]}
    keys = r.sample(names[module], r.randint(0, len(names[module])))
    if r.random() < 0.15:
        keys.append(r.choice(["nope", "0.nope", "2.bias"]))
    return dict(module=module, keys=keys, strict=r.random() < 0.3,
                tie_weights=r.random() < 0.6, train=r.random() < 0.5,
                api=r.choice(["func", "func", "stateless", "two dicts"]))


def _module_for_call(L, kind):
    nn = L.lib.nn
    if kind == "tied":
        m = _tied(L.lib)
    else:
        m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2, bias=False))
        m = m.double()
    L.fill(m)
    return m


def run_functional_call(L, p):
    m = _module_for_call(L, p["module"])
    m.train(p["train"])
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    tensors = {k: L.t(shapes.get(k, (3,)), rg="running" not in k and k != "shift",
                      lo=0.5 if "var" in k else -1.0) for k in p["keys"]}
    x = L.t((4, 3))
    L.at(f"{p['api']} call")
    kw = dict(strict=p["strict"], tie_weights=p["tie_weights"])
    if p["api"] == "stateless":
        y = L.lib.nn.utils.stateless.functional_call(m, tensors, (x,), **kw)
    elif p["api"] == "two dicts":
        keys = list(tensors)
        parts = ({k: tensors[k] for k in keys[::2]}, {k: tensors[k] for k in keys[1::2]})
        y = L.lib.func.functional_call(m, parts, (x,), **kw)
    else:
        y = L.lib.func.functional_call(m, tensors, x, **kw)
    L.add("output", y)
    L.add("dict after", tensors)
    L.add("module after", dict(m.state_dict()))
    L.grads([y], [t for t in tensors.values() if t.requires_grad]
            + [q for _, q in sorted(m.named_parameters())])


def draw_fuse(r):
    layer = r.choice(["conv1d", "conv2d", "convT2d", "linear"])
    return dict(layer=layer, bias=r.random() < 0.6,
                affine=layer == "linear" or r.random() < 0.8,                 # KNOWN (e)
                training=r.random() < 0.1, eps=r.choice([1e-5, 0.1]))


def run_fuse(L, p):
    nn, utils = L.lib.nn, L.lib.nn.utils
    kind = p["layer"]
    layer, bn, shape = {
        "conv1d": lambda: (nn.Conv1d(2, 3, 2, bias=p["bias"]), nn.BatchNorm1d, (2, 2, 4)),
        "conv2d": lambda: (nn.Conv2d(2, 3, 2, bias=p["bias"]), nn.BatchNorm2d, (1, 2, 3, 3)),
        "convT2d": lambda: (nn.ConvTranspose2d(2, 3, 2, bias=p["bias"]), nn.BatchNorm2d,
                            (1, 2, 2, 2)),
        "linear": lambda: (nn.Linear(2, 3, bias=p["bias"]), nn.BatchNorm1d, (4, 2)),
    }[kind]()
    bn = bn(3, eps=p["eps"], affine=p["affine"])
    layer, bn = layer.double(), bn.double()
    L.fill(layer)
    L.fill(bn, 0.5, 1.5)
    with L.lib.no_grad():
        bn.running_mean.copy_(L.t((3,)))
        bn.running_var.copy_(L.t((3,), lo=0.2, hi=2.0))
    layer.train(p["training"])
    bn.train(p["training"])
    L.at("fuse")
    fused = utils.fuse_linear_bn_eval(layer, bn) if kind == "linear" else \
        utils.fuse_conv_bn_eval(layer, bn, transpose=kind == "convT2d")
    L.add("fused", dict(fused.named_parameters()))
    x = L.t(shape)
    L.add("forward", fused(x))
    with L.lib.no_grad():
        L.add("unfused", bn(layer(x)))


# ---- nn.init ---------------------------------------------------------------------------------

def draw_gain(r):
    return dict(nonlinearity=r.choice(GAIN_NAMES + ["leaky_relu"] * 4 + ["bogus", "Tanh"]),
                param=r.choice([None, None, 0, 0.2, -0.5, 3, 1e-2, True, "x", 0.0]))


def run_gain(L, p):
    L.at("calculate_gain")
    L.add("gain", L.lib.nn.init.calculate_gain(p["nonlinearity"], p["param"]))


def _shape_of_rank(r, rank, big):
    if rank == 0:
        return ()
    dims = [r.choice([2, 3, 5, 8]) for _ in range(rank)]
    while big and int(np.prod(dims)) < BIG:
        dims[r.randrange(rank)] *= 2
    return tuple(dims)


def draw_fans(r):
    rank = r.choice([0, 1, 2, 2, 3, 4, 5])
    shape = _shape_of_rank(r, rank, True)
    if rank and r.random() < 0.1:
        shape = shape[:-1] + (0,)
    return dict(fn=r.choice(["kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
                             "xavier_normal_"]),
                shape=shape, mode=r.choice(["fan_in", "fan_out", "fan_in", "Fan_Out", "bad"]),
                nonlinearity=r.choice(["leaky_relu", "relu", "tanh", "linear", "selu", "conv2d",
                                       "sigmoid", "bogus"]),
                a=r.choice([0, math.sqrt(5), 0.1]), gain=r.choice([1.0, 0.5, 2.0]),
                dtype=r.choice(["float64", "float32"]), parameter=r.random() < 0.4)


def _fans(shape):
    receptive = int(np.prod(shape[2:], dtype=np.int64))
    return shape[1] * receptive, shape[0] * receptive


def _expected_scale(p):
    """(kind, scale): the bound of a uniform or the std of a normal, by the formulas of the
    docs (independent of both libraries' code)."""
    fan_in, fan_out = _fans(p["shape"])
    if p["fn"].startswith("xavier"):
        std = p["gain"] * math.sqrt(2.0 / (fan_in + fan_out))
    else:
        fan = fan_in if p["mode"].lower() == "fan_in" else fan_out
        gains = {"relu": math.sqrt(2), "tanh": 5 / 3, "selu": 0.75,
                 "leaky_relu": math.sqrt(2 / (1 + p["a"] ** 2))}
        std = gains.get(p["nonlinearity"], 1.0) / math.sqrt(fan)
    return ("uniform", std * math.sqrt(3)) if p["fn"].endswith("uniform_") else ("normal", std)


def _in(x, lo, hi):
    """Whether every value of x (float64 values of a float64 or float32 tensor) is in [lo, hi],
    give or take the rounding of the bounds to float32 (half an ulp)."""
    slack = np.finfo(np.float32).eps * max(abs(lo), abs(hi)) if x.dtype == np.float32 else 0.0
    return bool(np.all(x >= lo - slack) and np.all(x <= hi + slack))


def _stats(x, kind, scale, lo=None):
    """Properties of the values x (a float64 or float32 array) drawn from U(-scale, scale) (or
    U(lo, scale)) or N(0, scale^2): bounds, and the sample mean and std within Z standard
    errors."""
    n = x.size
    if kind == "uniform":
        lo = -scale if lo is None else lo
        width = scale - lo
        inside, x = _in(x, lo, scale), x.astype(np.float64)
        # P(max < hi - d * width) = (1 - d)^n = exp(-14) for n = BIG and d = 14 / BIG
        d = 14.0 / n
        return {"in bounds": inside,
                "max near the bound": bool(x.max() >= scale - d * width - 1e-6 * width),
                "min near the bound": bool(x.min() <= lo + d * width + 1e-6 * width)}
    # mean: sd scale / sqrt(n); std: relative sd about 1 / sqrt(2 n) (normal data)
    x = x.astype(np.float64)
    return {"mean": bool(abs(x.mean()) <= Z * scale / math.sqrt(n)),
            "std": bool(abs(x.std() / scale - 1) <= Z / math.sqrt(2 * n) + 1e-6)}


def _target(L, p):
    t = L.lib.empty(p["shape"], dtype=getattr(L.lib, p["dtype"]))
    return L.lib.nn.Parameter(t) if p["parameter"] and p["dtype"] != "int64" else t


def _kept(L, t, ret, p):
    L.add("returned the tensor", ret is t)
    L.add("dtype, requires_grad", [str(t.dtype).split(".")[-1], t.requires_grad,
                                   type(t).__name__])


def run_fans(L, p):
    init = L.lib.nn.init
    t = _target(L, p)
    L.at(p["fn"])
    kw = dict(gain=p["gain"]) if p["fn"].startswith("xavier") else \
        dict(a=p["a"], mode=p["mode"], nonlinearity=p["nonlinearity"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ret = getattr(init, p["fn"])(t, **kw)
    L.add("warnings", sorted({w.category.__name__ for w in caught}))
    _kept(L, t, ret, p)
    if t.numel() >= BIG:
        L.add("statistics", _stats(t.detach().numpy(), *_expected_scale(p)))


def draw_init_exact(r):
    rank = r.choice([0, 1, 2, 2, 3, 4, 5])
    return dict(fn=r.choice(["eye_", "dirac_", "dirac_", "zeros_", "ones_", "constant_"]),
                shape=_shape_of_rank(r, rank, False), groups=r.choice([1, 1, 2, 3]),
                val=r.choice([0.5, -3, 2.0 ** 60, 1e-300, 7, True]),
                dtype=r.choice(["float64", "float32", "int64"]), parameter=r.random() < 0.4)


def run_init_exact(L, p):
    init = L.lib.nn.init
    t = _target(L, p)
    with L.lib.no_grad():
        t.copy_(L.t(p["shape"], lo=-9, hi=9).to(t.dtype))
    L.at(p["fn"])
    if p["fn"] == "dirac_":
        ret = init.dirac_(t, groups=p["groups"])
    elif p["fn"] == "constant_":
        ret = init.constant_(t, p["val"])
    else:
        ret = getattr(init, p["fn"])(t)
    _kept(L, t, ret, p)
    L.add("values", t)


def draw_init_random(r):
    fn = r.choice(["uniform_", "normal_", "trunc_normal_", "trunc_normal_", "orthogonal_",
                   "orthogonal_", "sparse_"])
    rank = r.choice([2, 2, 2, 3, 4]) if r.random() < 0.9 else r.choice([0, 1])
    big = fn not in ("orthogonal_",) and r.random() < 0.9
    shape = _shape_of_rank(r, rank, big)
    if fn == "orthogonal_" and rank and r.random() < 0.1:
        shape = shape[:-1] + (0,)
    lo, hi = r.choice([(-2.0, 2.0), (0.0, 1.0), (-1.0, 3.0), (3.0, 4.0), (-0.5, -0.4),
                       (1.0, 1.0), (2.0, 1.0)])
    mean = r.choice([0.0, 0.0, 1.5])
    std = r.choice([1.0, 0.5, 0.01, 0.0, -1.0]) if fn != "orthogonal_" else 1.0
    if fn == "trunc_normal_" and not lo - 2 * abs(std) <= mean <= hi + 2 * abs(std):
        # PyTorch warns that its draws may be wrong there, and its inverse CDF takes about
        # 30 ms per element far in a tail: drawn small, its bounds and warning compared
        shape = (2, 2)
    return dict(fn=fn, shape=shape, a=lo, b=hi, mean=mean, std=std,
                gain=r.choice([1.0, 0.5, 3.0]), sparsity=r.choice([0.0, 0.1, 0.5, 0.9, 1.0]),
                dtype=r.choice(["float64", "float64", "float32"]), parameter=r.random() < 0.4)


def _trunc_normal_moments(mean, std, a, b):
    """(mean, std) of N(mean, std^2) truncated to [a, b]."""
    al, be = (a - mean) / std, (b - mean) / std
    pdf = [math.exp(-z * z / 2) / math.sqrt(2 * math.pi) for z in (al, be)]
    mass = 0.5 * (math.erf(be / math.sqrt(2)) - math.erf(al / math.sqrt(2)))
    m = (pdf[0] - pdf[1]) / mass
    var = 1 + (al * pdf[0] - be * pdf[1]) / mass - m * m
    return mean + std * m, std * math.sqrt(max(var, 0.0))


def _random_properties(L, t, p):
    x = t.detach().numpy()
    fn = p["fn"]
    if fn == "uniform_":
        return _stats(x, "uniform", p["b"], lo=p["a"]) if x.size >= BIG else None
    if fn == "normal_":
        return _stats(x - p["mean"], "normal", p["std"]) if x.size >= BIG and p["std"] > 0 \
            else {"all the mean": bool(np.all(x == p["mean"]))} if p["std"] == 0 else None
    if fn == "trunc_normal_":
        out = {"in bounds": _in(x, p["a"], p["b"])}
        if x.size >= BIG and p["std"] > 0 and p["a"] < p["b"]:
            # the truncated std is at most std, so the sample mean's sd is at most std/sqrt(n)
            mu, _ = _trunc_normal_moments(p["mean"], p["std"], p["a"], p["b"])
            out["mean"] = bool(abs(x.mean() - mu) <= Z * p["std"] / math.sqrt(x.size))
        return out
    if fn == "orthogonal_":
        q = x.reshape(x.shape[0], -1)
        small = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
        tol = 1e-12 if p["dtype"] == "float64" else 1e-5
        return {"Q^T Q = gain^2 I": bool(np.allclose(small, p["gain"] ** 2 * np.eye(len(small)),
                                                     atol=tol * p["gain"] ** 2 * 10))}
    zeros = (x == 0).sum(axis=0)
    return {"zeros per column": sorted(set(zeros.tolist())),
            "std of the rest": _stats(x[x != 0], "normal", p["std"])
            if (x != 0).sum() >= BIG else None}


def run_init_random(L, p):
    init = L.lib.nn.init
    t = _target(L, p)
    L.at(p["fn"])
    fn = getattr(init, p["fn"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if p["fn"] == "uniform_":
            ret = fn(t, p["a"], p["b"])
        elif p["fn"] == "normal_":
            ret = fn(t, p["mean"], p["std"])
        elif p["fn"] == "trunc_normal_":
            ret = fn(t, p["mean"], p["std"], p["a"], p["b"])
        elif p["fn"] == "orthogonal_":
            ret = fn(t, gain=p["gain"])
        else:
            ret = fn(t, p["sparsity"], std=p["std"])
    L.add("warnings", sorted({w.category.__name__ for w in caught}))
    _kept(L, t, ret, p)
    L.add("properties", _random_properties(L, t, p))


# ---- running and comparing -------------------------------------------------------------------

KINDS = {name[5:]: (globals()[name], globals()["run_" + name[5:]])
         for name in list(globals()) if name.startswith("draw_")}
NAMES = sorted(KINDS)


def program(seed):
    """The program of `seed`: plain data (the seed picks the kind, so every block of
    len(NAMES) consecutive seeds reaches every kind)."""
    r = random.Random(seed)
    kind = NAMES[seed % len(NAMES)]
    return {"kind": kind, "vseed": seed, **KINDS[kind][0](r)}


def _builtin_types(e):
    """The built-in exception classes e is an instance of (tinygen's errors subclass them)."""
    return sorted({c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins"}
                  - {"Exception", "BaseException", "object"}) or [type(e).__name__]


# where PyTorch's own exception type is an accident of its implementation: any of these
LOOSE = {
    # spectral_norm of a 1-D bias with dim 1: PyTorch's permute fails (RuntimeError)
    "spectral_norm": {"IndexError", "RuntimeError"},
    # a lengths list of the wrong size: PyTorch's IndexError from an index out of range
    "pack": {"ValueError", "IndexError", "RuntimeError"},
    # vector_to_parameters with a short vec: PyTorch's view() fails (RuntimeError)
    "vector": {"ValueError", "RuntimeError"},
}


def same_error(kind, ours, theirs):
    """Whether the exception types (lists of built-in names) ours and theirs agree."""
    if set(ours) & set(theirs):
        return True
    loose = LOOSE.get(kind, set())
    return bool(set(ours) & loose and set(theirs) & loose)


def run(lib, prog):
    """The log of `prog` on `lib` (tinygen or torch): (label, plain value) entries, and
    (label, exception type, message) where a step raised (the run stops there)."""
    L = Log(lib, prog)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            KINDS[prog["kind"]][1](L, prog)
        except Exception as e:                        # noqa: BLE001 (raise-vs-not parity)
            L.entries.append((f"{L.step}: refused", _builtin_types(e), str(e)[:300]))
    return L.entries


def diff(a, b, path=""):
    """Where plain values a and b differ (a path), or None."""
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)):
            return f"{path}: type {type(a).__name__} vs {type(b).__name__}"
        if list(a) != list(b):
            return f"{path}: keys {list(a)} vs {list(b)}"
        return next((d for k in a if (d := diff(a[k], b[k], f"{path}[{k!r}]"))), None)
    if isinstance(a, tuple) or isinstance(b, tuple):
        if not (isinstance(a, tuple) and isinstance(b, tuple)):
            return f"{path}: {type(a).__name__} vs {type(b).__name__}"
        if a[1] != b[1] or a[2].shape != b[2].shape or a[3] != b[3]:
            return f"{path}: dtype/shape/requires_grad {a[1]}{a[2].shape}{a[3]} vs " \
                   f"{b[1]}{b[2].shape}{b[3]}"
        ok = np.allclose(a[2], b[2], rtol=RTOL, atol=ATOL, equal_nan=True) \
            if a[2].dtype.kind in "fc" else np.array_equal(a[2], b[2])
        return None if ok else f"{path}: values"
    if isinstance(a, list) or isinstance(b, list):
        if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b):
            return f"{path}: list {a!r:.80} vs {b!r:.80}"
        return next((d for i, (x, y) in enumerate(zip(a, b))
                     if (d := diff(x, y, f"{path}[{i}]"))), None)
    if type(a) is not type(b):
        return f"{path}: {a!r} ({type(a).__name__}) vs {b!r} ({type(b).__name__})"
    if isinstance(a, float):
        return None if a == b or (a != a and b != b) else f"{path}: {a!r} vs {b!r}"
    return None if a == b else f"{path}: {a!r} vs {b!r}"


def first_difference(seed):
    """(log entry index, where, ours, theirs) of the first difference of program `seed`, or
    None where the two logs match."""
    prog = program(seed)
    ours, theirs = run(tg, prog), run(torch, prog)
    for n, (a, b) in enumerate(zip(ours, theirs)):
        if a[0] != b[0]:
            return n, f"{a[0]} vs {b[0]}", a, b
        if a[0].endswith("refused"):
            if not same_error(prog["kind"], a[1], b[1]):
                return n, f"{a[0]}: {a[1]} vs {b[1]}", a, b
            continue
        d = diff(a[1], b[1])
        if d is not None:
            return n, f"{a[0]}{d}", a, b
    return length_difference(ours, theirs)


def explain(seed, found):
    return explain_difference(seed, found, program(seed))


@pytest.mark.parametrize("block", range(10))
def test_random_nn_utils_programs_match_pytorch(block):
    seeds = range(block * 30, block * 30 + 30)
    assert_programs_match(seeds, first_difference, explain)
