"""Random programs of the nn.Module API and the containers, run on tinygen and on PyTorch: the
same names, orders, types, flags, shapes, dtypes, values and return values, or both refusing
with the same exception at the same step.

Each program is drawn once from its seed as plain data (`program(seed)`) and run on both
libraries by the same code (`run(lib, program)`). It builds a random module tree: a root of the
test's own Module subclass (`Custom`: a Parameter and a buffer registered by attribute, a
non-persistent buffer, an int64 buffer, a None parameter and a None buffer, and a submodule
`sub`) holding a body and 0-3 other children; the nodes are Linear, BatchNorm1d (affine or not,
tracking statistics or not), ReLU / Tanh, Custom, Sequential (from arguments and from an
OrderedDict), ModuleList, ModuleDict, ParameterList and ParameterDict (from a dict, an
OrderedDict or pairs); now and then a module already built is reused (shared, reachable twice)
and a Parameter is tied (assigned into a second module). Every state_dict entry is set from the
seed (the same values on both sides), and the tree is made float64 in most programs. Then 6-18
random steps, each logging what it returns or the exception it raises, then the root's
state_dict keys:
- traversal: named_parameters / named_buffers / named_modules / named_children / parameters /
  buffers / modules / children with prefix, recurse and remove_duplicate (names, order, shapes,
  dtypes, requires_grad, Parameter or not, values, identity: which entries are one object);
  state_dict(prefix=, keep_vars=);
- load_state_dict(strict, assign) of the target's state dict with keys dropped, unexpected keys,
  a wrong shape, float64 values: the returned (missing_keys, unexpected_keys) or the exception,
  then the state after (what a refused strict load leaves, which tensors were replaced);
- train / eval (and a non-bool mode), the training flag of every submodule, requires_grad_,
  zero_grad(set_to_none) after backward, apply(fn) (the visiting order), to(float64) /
  to(dtype=) / double() / float() / half() / type() / to(int64), copy.deepcopy (sharing kept in
  the copy, nothing shared with the original), repr of the tree (ModuleList's folded runs);
- containers: Sequential / ModuleList indexing (negative, out of range, slices and the result's
  type and keys), __setitem__, __delitem__ (slices too), insert, append, extend, pop, len,
  iteration, + / += / * / rmul / *= (bad operands and factors too); ModuleDict get / set / del /
  pop / keys / values / items / update (dict, pairs, a ModuleDict, a bad sequence) / clear / in;
  ParameterList append / set / get / slice / extend / += (plain tensors become Parameters);
  ParameterDict set / get / del / pop / popitem / setdefault / get(default) / update / copy /
  fromkeys / | / |= / keys / reversed / in / clear;
- registration: add_module / register_module / register_buffer / register_parameter with bad
  names ('', 'a.b', an existing attribute, an int) and bad values, attribute assignment
  (a plain tensor over a Parameter, None, a Parameter over a buffer, an nn.Buffer, a module),
  delattr, get_submodule / get_parameter / get_buffer / set_submodule with good and bad paths;
- forward (a float64 seeded input through a Sequential, a Custom, a Linear or a BatchNorm1d:
  output, input gradient, every parameter's gradient, the state after), with forward pre-hooks and
  forward hooks (with_kwargs, prepend, always_call, replacing the input or output, returning
  None, raising), full backward pre-hooks and full backward hooks (replacing gradients, a wrong
  number of them), handle.remove() (twice too) and a hook used as a context manager: every hook
  call is logged, so the call order is compared.
Values are compared at rtol 1e-9 / atol 1e-10 in float64 (the atol for gradients that are
exactly 0 in exact arithmetic, a parameter before a BatchNorm, and come out as round-off),
1e-5 / 1e-6 in float32 and 1e-3 in float16; float64 values that went through float32 or
float16 (float() then double()) at the tolerance of the lowest precision. Exception types must
be equal, with one loose pair: in a forward pass, an op's shape error is a ValueError in
tinygen (its op errors, autograd/function.py) and a RuntimeError in PyTorch.
Not compared: forward passes through a Linear whose weight was set to None (tinygen's
F.linear raises AttributeError there, PyTorch's TypeError: functional.py, not this fuzzer's
layer) and through modules that are not all float64 (float32 round-off of
BatchNorm on a batch of 4 is amplified by the normalisation, float16 and mixed dtypes are the
ops' promotion rules: other fuzzers'); the state-dict hooks and the global hooks of
nn.modules.module (register_module_forward_hook...), which tinygen does not have.

KNOWN deliberate differences (each documented where tinygen implements it), kept out:
(a) ModuleList.insert: a negative index raises KeyError having changed nothing (PyTorch's
shifts some modules first), an index past the end appends (PyTorch leaves a gap in the
keys): container.py; only 0..2 drawn, past len skipped at run time, and see (d).
(b) nn.Buffer(t) is an instance of tinygen's Buffer (PyTorch's a plain Tensor with flags):
parameter.py; the log records Parameter or not only.
(c) `s += s` on a Sequential doubles it (PyTorch: RuntimeError, its loop reads the dict it
grows): container.py; += takes a new right operand.
(d) Sequential.insert and *=, ModuleList.insert on keys other than '0'..'n-1' (built from an
OrderedDict, or a module put in by set_submodule): tinygen renumbers / numbers the copies,
PyTorch raises KeyError (half done for insert): container.py; skipped at run time.
(e) ParameterList / ParameterDict entries are their registered parameters; PyTorch keeps a
size / key list of its own, so a parameter registered by register_parameter or set_submodule
on one differs: container.py; no register_* / setattr / set_submodule on them.
(f) ParameterDict keys that are not parameter names ('', 'a.b') or name an attribute
('training'): tinygen refuses them (KeyError) whatever the value; PyTorch stores a None
under any name as a plain attribute, accepts 'training' (losing the training flag), keeps a
refused key in its key list (a later clear() raises), and its pop of such a key raises
KeyError where get raises AttributeError: container.py; only valid keys drawn. A None value
holds its key's place (PyTorch's goes to a plain attribute, so a parameter set later under
that key is last in its state_dict): container.py; left in the programs (1 seed in 20,000).
(g) a submodule or parameter assigned under the name 'training': tinygen's train() still sets
the flag (PyTorch raises TypeError): module.py; setattr never draws 'training'.
(h) (gone) copy.deepcopy of a module holding a non-leaf buffer (a Parameter registered as a
buffer, then converted by double(): a non-leaf, as in PyTorch) copied it where PyTorch raises
RuntimeError; tensors now refuse a non-leaf deepcopy as PyTorch's (tensor_protocol.py), so
seeds 5332 and 10930 agree (checked on 2026-12-07 after that change).

The suite runs seeds 0-299 and EXTRA_SEEDS (the first seed beyond 0-299 of the classes with
fewer than 3 seeds in 0-299). Sweep of seeds 0-19999 on 2026-12-07
(/tmp/opfuzz/module_api/report.md): before the fixes 7,763 differed (117 of the suite's 300),
in 10 classes: to() / double() / float() / half() replacing buffers they leave alone (an int64
buffer under double()) and dropping a buffer's requires_grad (4,119); Module.type missing
(1,422); set_submodule missing (787); Sequential * True refused (527); `m.name = Parameter`
skipping register_parameter's name checks ('a.b', 'forward') (325); add_module with a non-str
name raising KeyError (242); load_state_dict(assign=True) cloning the checkpoint's tensors
(183); get_parameter of a None slot / of a Parameter registered as a buffer (126);
ParameterDict.popitem of an empty dict raising StopIteration (31); and one BatchNorm-chain
round-off program (below). Now 2 differ (4 before (h) went): one of (f)'s None place, and seed 9518,
a chain of five BatchNorms on a batch of 4 whose gradients are round-off (PyTorch's own change
by 4e-3 when the batch is reversed).
"""
import copy
import random
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import tinygen as tg
from helpers import assert_programs_match, length_difference, explain_difference  # noqa: E402

torch = pytest.importorskip("torch")

D, N = 3, 4                                  # width of every forwardable module, batch size
FORWARDABLE = ("linear", "bn", "act", "custom", "seq", "seq_od")
LEAVES = ("linear", "bn", "act", "plist", "pdict")   # may be shared anywhere: no cycles
BAD_NAMES = ["", "a.b", "training", "forward", "weight", "buf", "sub", "fresh", "count", 1]
PD_KEYS = ["a", "b", "c", "z", "k1"]
MD_KEYS = ["p", "q", "r", "s1"]
# atol: a gradient that is exactly 0 (a parameter before a BatchNorm, whose output does not
# depend on it) comes out as the round-off of sums of O(1) terms
TOL = {"float64": (1e-9, 1e-10), "float32": (1e-5, 1e-6), "float16": (1e-3, 1e-3)}


# ---- drawing ---------------------------------------------------------------------------------

class _Drawer:
    """Draws module specs and steps; kinds[i] is the kind of the i-th module the run builds (in
    the order the run builds them: children before their container)."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        self.kinds = []
        self.handles = 0

    def kinds_all(self):
        return set(self.kinds)

    def idx(self, kinds):
        cands = [i for i, k in enumerate(self.kinds) if k in kinds]
        return self.r.choice(cands) if cands else None

    def module(self, depth=0, forwardable=False, shared=0.12, leaf_refs=False):
        r = self.r
        if self.kinds and r.random() < shared:
            allowed = LEAVES if leaf_refs else (FORWARDABLE if forwardable else None)
            cands = [i for i, k in enumerate(self.kinds) if allowed is None or k in allowed]
            if forwardable:
                cands = [i for i in cands if self.kinds[i] in FORWARDABLE]
            if cands:
                return ("ref", r.choice(cands))
        kinds = ["linear", "bn", "act", "custom"] + (["seq", "seq_od"] if depth < 2 else [])
        if not forwardable:
            kinds += ["plist", "pdict"] + (["mlist", "mdict"] if depth < 2 else [])
        kind = r.choice(kinds)
        spec = self._spec(kind, depth, leaf_refs)
        self.kinds.append(kind)
        return spec

    def _spec(self, kind, depth, leaf_refs):
        r = self.r
        if kind == "linear":
            return ("linear", r.random() < 0.8)
        if kind == "bn":
            return ("bn", r.random() < 0.7, r.random() < 0.8)
        if kind == "act":
            return ("act", r.choice(["ReLU", "Tanh"]))
        if kind == "custom":
            sub = self.module(depth + 1, True, leaf_refs=leaf_refs) if r.random() < 0.4 else None
            return ("custom", sub)
        if kind == "seq":
            return ("seq", [self.module(depth + 1, True, leaf_refs=leaf_refs)
                            for _ in range(r.randint(0, 3))])
        if kind == "seq_od":
            names = r.sample(["a", "b", "x0", "7", "z"], r.randint(0, 3))
            return ("seq_od", [(k, self.module(depth + 1, True, leaf_refs=leaf_refs))
                               for k in names])
        if kind == "mlist":
            return ("mlist", [self.module(depth + 1, leaf_refs=leaf_refs)
                              for _ in range(r.randint(0, 4))])
        if kind == "mdict":
            keys = r.sample(MD_KEYS, r.randint(0, 3))
            return ("mdict", r.choice(["dict", "pairs"]),
                    [(k, self.module(depth + 1, leaf_refs=leaf_refs)) for k in keys])
        if kind == "plist":
            return ("plist", [self.shape() for _ in range(r.randint(0, 3))])
        keys = r.sample(PD_KEYS, r.randint(0, 3))
        return ("pdict", r.choice(["dict", "od", "pairs"]), [(k, self.shape()) for k in keys])

    def shape(self):
        return self.r.choice([(), (1,), (D,), (2, 3)])

    def fresh(self, forwardable=False):
        """A module spec built during a step: new modules, or a shared leaf."""
        return self.module(2, forwardable, shared=0.25, leaf_refs=True)


def _tree(d):
    r = d.r
    body = ("seq", [d.module(1, True) for _ in range(r.randint(0, 4))])
    d.kinds.append("seq")
    extras = [(f"c{i}", d.module(0)) for i in range(r.randint(0, 3))]
    d.kinds.append("custom")                         # the root
    ties = []
    for _ in range(r.randint(0, 2)):
        kind = r.choice(["custom", "linear"])
        cands = [i for i, k in enumerate(d.kinds) if k == kind]
        if len(cands) >= 2:
            src, dst = r.sample(cands, 2)
            ties.append((src, dst, "weight" if kind == "custom" or r.random() < 0.6 else "bias"))
    return ("root", body, extras), ties


def program(seed):
    """The program of `seed`, as plain data: the tree, the ties, a dtype and the steps."""
    d = _Drawer(seed)
    tree, ties = _tree(d)
    names = _names(tree)
    steps = [_step(d, names) for _ in range(d.r.randint(6, 18))]
    return {"seed": seed, "tree": tree, "ties": ties,
            "double": d.r.random() < 0.7, "steps": steps}


def _names(tree):
    """Dotted paths for get_submodule / get_parameter / get_buffer / set_submodule: some that
    exist in most trees, some that name a parameter, a buffer or a None slot, some missing."""
    out = ["", "nope", "sub.nope", "weight.x", "sub.weight", "buf", "tmp", "count", "none_p",
           "none_b", "training", "sub.0", "sub.0.weight", "sub.1.bias", "sub.0.running_mean",
           "sub.0.num_batches_tracked", "sub.0.sub", "sub.0.sub.weight", "c0", "c0.0",
           "c0.0.weight", "c0.weight", "c0.a", "c0.p", "c0.b", "c1.a", "c1.0.weight", "c2.sub",
           "c2.sub.0", "sub..0", "c1.0.none_b"]
    for k, spec in tree[2]:
        if spec[0] == "custom":
            out.append(f"{k}.none_p")
    return out


_STEP_WEIGHTS = {"traverse": 10, "state_dict": 4, "load": 6, "mode": 4, "grad": 3, "apply": 2,
                 "dtype": 3, "deepcopy": 2, "repr": 2, "seq": 10, "mlist": 8, "mdict": 7,
                 "plist": 6, "pdict": 8, "register": 9, "paths": 6, "forward": 12, "hook": 10,
                 "remove": 3}


def _step(d, names):
    r = d.r
    fams = list(_STEP_WEIGHTS)
    while True:
        fam = r.choices(fams, weights=[_STEP_WEIGHTS[f] for f in fams])[0]
        step = _DRAW[fam](d, names)
        if step is not None:
            return step


def _d_traverse(d, names):
    r, m = d.r, d.idx(d.kinds_all())
    what = r.choice(["named_parameters", "named_buffers", "named_modules", "named_children",
                     "parameters", "buffers", "modules", "children"])
    return ("traverse", m, what, r.choice(["", "", "pre", "a.b"]), r.random() < 0.7,
            r.random() < 0.7)


def _d_state_dict(d, names):
    r = d.r
    return ("state_dict", d.idx(d.kinds_all()), r.choice(["", "", "p."]), r.random() < 0.5)


def _d_load(d, names):
    r = d.r
    m = d.idx(d.kinds_all())
    edits = {"drop": r.sample(range(6), r.choice([0, 0, 1, 2])),
             "unexpected": r.sample(["bogus", "sub.bogus", "nochild.w", "0.weight.x",
                                     "_extra_state", "buf.x"], r.choice([0, 0, 1, 2])),
             "wrong": r.choice([None, None, None, 0, 1, 2, 3]),
             "wrong_to": r.choice(["extra", "one", "empty"]),
             "f64": r.random() < 0.2, "ints": r.random() < 0.1}
    return ("load", m, r.random() < 0.6, r.random() < 0.3, edits)


def _d_mode(d, names):
    r = d.r
    m = d.idx(d.kinds_all())
    return ("mode", m, r.choice([True, False, "eval", "bad"]))


def _d_grad(d, names):
    r = d.r
    m = d.idx(d.kinds_all())
    if r.random() < 0.5:
        return ("requires_grad_", m, r.random() < 0.5)
    return ("zero_grad", m, r.random() < 0.5)


def _d_apply(d, names):
    return ("apply", d.idx(d.kinds_all()), d.r.random() < 0.3)


def _d_dtype(d, names):
    r = d.r
    return ("dtype", r.choice(["to64", "to_kw64", "double", "float", "half", "type64", "to_int",
                               "to32", "type_str"]))


def _d_deepcopy(d, names):
    return ("deepcopy", d.idx(d.kinds_all()))


def _d_repr(d, names):
    return ("repr", d.idx(d.kinds_all()))


def _index(r, n=4):
    return r.randint(-n - 1, n)


def _slice(r):
    return ("slice", r.choice([None, 0, 1, -1, 2]), r.choice([None, 1, -1, 3, 0]),
            r.choice([None, None, 1, 2, -1]))


def _d_seq(d, names):
    r = d.r
    m = d.idx(("seq", "seq_od"))
    if m is None:
        return None
    op = r.choice(["getitem", "getitem", "getslice", "setitem", "delitem", "delslice", "insert",
                   "append", "extend", "pop", "len", "iter", "add", "iadd", "mul", "rmul",
                   "imul"])
    if op in ("getitem", "delitem", "pop"):
        return ("seq", op, m, _index(r))
    if op in ("getslice", "delslice"):
        return ("seq", op, m, _slice(r))
    if op == "setitem":
        return ("seq", op, m, _index(r), d.fresh(True))
    if op == "insert":
        return ("seq", op, m, _index(r), d.fresh(True))
    if op == "append":
        return ("seq", op, m, d.fresh(True))
    if op == "extend":
        return ("seq", op, m, [d.fresh(True) for _ in range(r.randint(0, 2))])
    if op == "add":
        return ("seq", op, m, d.idx(("seq", "seq_od", "mlist") if r.random() < 0.2 else
                                    ("seq", "seq_od")))
    if op == "iadd":        # a new right operand: += of an ancestor would make a cycle, and
        # s += s is PyTorch's RuntimeError (dict changed size during iteration): KNOWN (c)
        return ("seq", op, m, (r.choice(["Sequential", "Sequential", "ModuleList"]),
                               [d.fresh(True) for _ in range(r.randint(0, 2))]))
    if op in ("mul", "rmul", "imul"):
        return ("seq", op, m, r.choice([0, -1, 1, 2, 3, 1.5, True]))
    return ("seq", op, m)


def _d_mlist(d, names):
    r = d.r
    m = d.idx(("mlist",))
    if m is None:
        return None
    op = r.choice(["getitem", "getitem", "getslice", "setitem", "delitem", "delslice", "insert",
                   "append", "extend", "pop", "len", "iter", "add", "iadd"])
    if op in ("getitem", "delitem", "pop"):
        return ("mlist", op, m, _index(r))
    if op in ("getslice", "delslice"):
        return ("mlist", op, m, _slice(r))
    if op == "setitem":
        return ("mlist", op, m, _index(r), d.fresh())
    if op == "insert":
        return ("mlist", op, m, r.randint(0, 2), d.fresh())      # KNOWN (a): 0..len only
    if op == "append":
        return ("mlist", op, m, d.fresh())
    if op in ("extend", "add", "iadd"):
        return ("mlist", op, m, [d.fresh() for _ in range(r.randint(0, 2))])
    return ("mlist", op, m)


def _d_mdict(d, names):
    r = d.r
    m = d.idx(("mdict",))
    if m is None:
        return None
    op = r.choice(["get", "set", "del", "pop", "keys", "values", "items", "update", "clear",
                   "contains", "len", "iter"])
    key = r.choice(MD_KEYS + ["", "a.b", "training"])
    if op == "set":
        return ("mdict", op, m, key, d.fresh())
    if op == "update":
        form = r.choice(["dict", "pairs", "mdict", "od", "bad_pair", "not_iterable"])
        keys = r.sample(MD_KEYS, r.randint(0, 3))
        return ("mdict", op, m, form, [(k, d.fresh()) for k in keys])
    return ("mdict", op, m, key)


def _d_plist(d, names):
    r = d.r
    m = d.idx(("plist",))
    if m is None:
        return None
    op = r.choice(["append", "set", "get", "getslice", "extend", "iadd", "len", "iter",
                   "extend_tensor"])
    as_param = r.random() < 0.5
    if op in ("append",):
        return ("plist", op, m, d.shape(), as_param)
    if op == "set":
        return ("plist", op, m, _index(r), d.shape(), as_param)
    if op == "get":
        return ("plist", op, m, _index(r))
    if op == "getslice":
        return ("plist", op, m, _slice(r))
    if op in ("extend", "iadd"):
        return ("plist", op, m, [(d.shape(), r.random() < 0.5) for _ in range(r.randint(0, 2))])
    return ("plist", op, m)


def _d_pdict(d, names):
    r = d.r
    m = d.idx(("pdict",))
    if m is None:
        return None
    op = r.choice(["set", "set", "get", "del", "pop", "popitem", "setdefault", "get_default",
                   "update", "copy", "fromkeys", "or", "ior", "keys", "reversed", "contains",
                   "clear", "len", "set_none"])
    key = r.choice(PD_KEYS)            # KNOWN (f): no key naming an attribute or a bad name
    if op in ("set", "setdefault"):
        return ("pdict", op, m, key, d.shape(), r.random() < 0.5)
    if op in ("update", "or", "ior"):
        keys = r.sample(PD_KEYS, r.randint(0, 3))
        return ("pdict", op, m, r.choice(["dict", "od", "pairs"]),
                [(k, d.shape()) for k in keys])
    if op == "fromkeys":
        return ("pdict", op, m, r.sample(PD_KEYS, r.randint(0, 3)))
    return ("pdict", op, m, key)


def _d_register(d, names):
    r = d.r
    # not on a ParameterList / ParameterDict: their entries are what their own methods put
    # there (PyTorch keeps a key list of its own): KNOWN (e)
    m = d.idx(d.kinds_all() - {"plist", "pdict"})
    op = r.choice(["add_module", "register_module", "register_buffer", "register_parameter",
                   "setattr", "setattr", "delattr"])
    name = r.choice(BAD_NAMES + ["fresh", "fresh2", "weight", "sub"])
    if op == "setattr" and name == "training":      # KNOWN (g)
        name = "fresh"
    if op in ("add_module", "register_module"):
        what = r.choice(["module", "module", "none", "tensor", "int"])
        return ("register", op, m, name, what, d.fresh() if what == "module" else None)
    if op == "register_buffer":
        return ("register", op, m, name, r.choice(["tensor", "tensor", "none", "param", "int"]),
                r.random() < 0.6)
    if op == "register_parameter":
        return ("register", op, m, name, r.choice(["param", "param", "none", "tensor"]))
    if op == "setattr":
        what = r.choice(["param", "tensor", "none", "buffer", "module", "int", "param_d"])
        return ("register", op, m, name, what, d.fresh() if what == "module" else None)
    return ("register", op, m, name)


def _d_paths(d, names):
    r = d.r
    op = r.choice(["get_submodule", "get_parameter", "get_buffer", "set_submodule"])
    path = r.choice(names)
    if op == "set_submodule":
        return ("paths", op, path, d.fresh(), r.random() < 0.5)
    return ("paths", op, path)


def _d_forward(d, names):
    r = d.r
    m = d.idx(("seq", "seq_od", "custom", "linear", "bn"))
    return ("forward", m, r.randrange(1 << 30), r.random() < 0.85, r.random() < 0.85)


def _d_hook(d, names):
    r = d.r
    m = d.idx(FORWARDABLE)
    kind = r.choice(["fpre", "fhook", "bpre", "bhook", "ctx"])
    if kind == "ctx":
        return ("ctx", m, d.idx(("seq", "seq_od", "custom")), r.randrange(1 << 30))
    d.handles += 1
    if kind == "fpre":
        wk = r.random() < 0.4
        return ("hook", kind, m, r.choice(["none", "replace", "replace1", "bad"] if wk else
                                          ["none", "replace", "replace1"]),
                {"with_kwargs": wk, "prepend": r.random() < 0.3})
    if kind == "fhook":
        return ("hook", kind, m, r.choice(["none", "none", "replace", "raise"]),
                {"with_kwargs": r.random() < 0.4, "prepend": r.random() < 0.3,
                 "always_call": r.random() < 0.4})
    return ("hook", kind, m, r.choice(["none", "none", "scale", "badlen"]),
            {"prepend": r.random() < 0.3})


def _d_remove(d, names):
    if not d.handles:
        return None
    return ("remove", d.r.randrange(d.handles))


_DRAW = {"traverse": _d_traverse, "state_dict": _d_state_dict, "load": _d_load, "mode": _d_mode,
         "grad": _d_grad, "apply": _d_apply, "dtype": _d_dtype, "deepcopy": _d_deepcopy,
         "repr": _d_repr, "seq": _d_seq, "mlist": _d_mlist, "mdict": _d_mdict,
         "plist": _d_plist, "pdict": _d_pdict, "register": _d_register, "paths": _d_paths,
         "forward": _d_forward, "hook": _d_hook, "remove": _d_remove}


# ---- running ---------------------------------------------------------------------------------

_CLASSES = {}


def _custom_class(lib):
    """The test's own Module subclass, one per library."""
    if lib.__name__ in _CLASSES:
        return _CLASSES[lib.__name__]

    class Custom(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = lib.nn.Parameter(lib.ones(D))       # registered by attribute
            self.register_parameter("none_p", None)
            self.register_buffer("buf", lib.zeros(D))
            self.register_buffer("tmp", lib.arange(2).float(), persistent=False)
            self.register_buffer("none_b", None)
            self.register_buffer("count", lib.zeros((), dtype=lib.int64))
            self.sub = None

        def forward(self, x):
            w, b = self._parameters.get("weight"), self._buffers.get("buf")
            if w is not None:
                x = x * w
            if b is not None:
                x = x + b
            sub = self._modules.get("sub")
            return x if sub is None else sub(x)

    _CLASSES[lib.__name__] = Custom
    return Custom


def _dtype_name(dtype):
    return str(dtype).split(".")[-1]


class _Run:
    """One program's state on one library: the modules built (mods, in the drawing order), the
    hook handles, and the log."""

    def __init__(self, lib, prog):
        self.lib, self.nn, self.prog, self.log = lib, lib.nn, prog, []
        self.mods, self.mod_ids = [], {}
        self.tensors, self.tensor_ids = [], {}          # identities seen (kept alive)
        self.handles = []
        # the lowest precision the tree's values went through (float64 -> float32 -> float64
        # keeps float32's round-off): the tolerance of the float64 values logged after it
        self.precision = "float64"
        self.Custom = _custom_class(lib)
        self.root = self.build(prog["tree"])
        for src, dst, attr in prog["ties"]:
            setattr(self.mods[dst], attr, getattr(self.mods[src], attr))

    # -- building
    def keep(self, m):
        """Record a module built (its own parameters and buffers set from the seed)."""
        with self.lib.no_grad():
            own = [t for t in list(m._parameters.values()) + list(m._buffers.values())
                   if t is not None]
            for j, t in enumerate(own):
                g = np.random.default_rng([self.prog["seed"], 3, len(self.mods), j])
                a = g.standard_normal(tuple(t.shape)) if t.is_floating_point() else \
                    g.integers(0, 5, tuple(t.shape))
                t.copy_(self.lib.tensor(a))
        self.mods.append(m)
        self.mod_ids.setdefault(id(m), len(self.mods) - 1)
        return m

    def build(self, spec):
        nn, kind = self.nn, spec[0]
        if kind == "ref":
            return self.mods[spec[1]]
        if kind == "root":
            body = self.build(spec[1])
            extras = [(k, self.build(s)) for k, s in spec[2]]
            root = self.Custom()
            root.sub = body
            for k, m in extras:
                setattr(root, k, m)
            return self.keep(root)
        if kind == "linear":
            return self.keep(nn.Linear(D, D, bias=spec[1]))
        if kind == "bn":
            return self.keep(nn.BatchNorm1d(D, affine=spec[1], track_running_stats=spec[2]))
        if kind == "act":
            return self.keep(getattr(nn, spec[1])())
        if kind == "custom":
            sub = None if spec[1] is None else self.build(spec[1])
            m = self.Custom()
            m.sub = sub
            return self.keep(m)
        return self.keep(self._build_container(spec))

    def _build_container(self, spec):
        nn, kind = self.nn, spec[0]
        if kind == "seq":
            return nn.Sequential(*[self.build(s) for s in spec[1]])
        if kind == "seq_od":
            return nn.Sequential(OrderedDict((k, self.build(s)) for k, s in spec[1]))
        if kind == "mlist":
            return nn.ModuleList([self.build(s) for s in spec[1]])
        if kind == "mdict":
            pairs = [(k, self.build(s)) for k, s in spec[2]]
            return nn.ModuleDict(dict(pairs) if spec[1] == "dict" else pairs)
        if kind == "plist":
            return nn.ParameterList([self.tensor(s, i) for i, s in enumerate(spec[1])])
        pairs = [(k, self.tensor(s, i)) for i, (k, s) in enumerate(spec[2])]
        form = spec[1]
        return nn.ParameterDict(dict(pairs) if form == "dict" else
                                OrderedDict(pairs) if form == "od" else pairs)

    def tensor(self, shape, salt, param=False, dtype=None):
        g = np.random.default_rng([self.prog["seed"], 7, salt, len(shape)])
        t = self.lib.tensor(g.standard_normal(shape), dtype=dtype or self.lib.float32)
        return self.nn.Parameter(t) if param else t

    def init_values(self):
        """Every state_dict entry set from the seed, by position."""
        with self.lib.no_grad():
            for i, (k, v) in enumerate(self.root.state_dict(keep_vars=True).items()):
                g = np.random.default_rng([self.prog["seed"], i])
                if v.is_floating_point():
                    v.copy_(self.lib.tensor(g.standard_normal(tuple(v.shape))))
                else:
                    v.copy_(self.lib.tensor(g.integers(0, 5, tuple(v.shape))))

    # -- logging
    def plain(self, x):
        lib = self.lib
        if isinstance(x, lib.Tensor):
            return self.plain_tensor(x)
        if isinstance(x, lib.nn.Module):
            return ("module", type(x).__name__, self.mod_ids.get(id(x), "new"))
        if isinstance(x, (list, tuple)):
            return [self.plain(v) for v in x]
        if isinstance(x, dict):
            return {"dict": [(k, self.plain(v)) for k, v in x.items()]}
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        return type(x).__name__

    def plain_tensor(self, t):
        """Identity: the index of a tensor of the built tree (the same object as then), else
        ('new', first appearance in this log entry)."""
        if id(t) in self.tensor_ids:
            ident = self.tensor_ids[id(t)]
        else:
            ident = ("new", self.local_ids.setdefault(id(t), len(self.local_ids)))
        a = t.detach().numpy().astype(np.float64) if t.is_floating_point() else \
            t.detach().numpy().astype(np.int64)
        dtype = _dtype_name(t.dtype)
        tol = self.precision if dtype == "float64" or dtype == "float32" and \
            self.precision == "float16" else dtype
        return ("tensor", dtype, tuple(t.shape), a, bool(t.requires_grad),
                isinstance(t, self.nn.Parameter), ident, tol)

    def add(self, label, value):
        self.local_ids = {}
        self.log.append((label, self.plain(value)))

    def remember(self):
        """The tensors of the built tree, whose identity later entries name."""
        for m in self.mods:
            for t in list(m._parameters.values()) + list(m._buffers.values()):
                if t is not None and id(t) not in self.tensor_ids:
                    self.tensor_ids[id(t)] = len(self.tensors)
                    self.tensors.append(t)


def _modules_structure(run, root):
    """(name, type, training, identity within root) of every module, duplicates kept."""
    ids = {}
    out = []
    for name, m in root.named_modules(remove_duplicate=False):
        out.append((name, type(m).__name__, run.plain(m.training),
                    ids.setdefault(id(m), len(ids))))
    return out


def _exception(e):
    """The exception's type, and the builtin exception class it is (tinygen's op errors are
    subclasses of ValueError / TypeError / IndexError)."""
    builtin = next(c for c in type(e).__mro__ if c.__module__ == "builtins")
    return (type(e).__name__, builtin.__name__)


def run(lib, prog):
    """The log of `prog` on `lib`: (label, plain value) entries, and (label, 'raised', exception
    type, message) where a step raised."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = _Run(lib, prog)
        r.init_values()
        if prog["double"]:
            r.root.double()
        r.remember()
        r.add("built state", r.root.state_dict(keep_vars=True))
        r.log.append(("built modules", _modules_structure(r, r.root)))
        for n, step in enumerate(prog["steps"]):
            k = len(r.log)
            try:
                _STEPS[step[0]](r, step)
            except Exception as e:                    # noqa: BLE001 (raise-vs-not parity)
                r.log.append(("raised", _exception(e), str(e)[:300]))
            r.log.append(("root keys", list(r.root.state_dict())))
            r.log[k:] = [(f"step {n} {step[:2]}: {e[0]}", *e[1:]) for e in r.log[k:]]
    return r.log


# ---- the steps -------------------------------------------------------------------------------

def _s_traverse(r, step):
    _, m, what, prefix, recurse, dedup = step
    mod = r.mods[m]
    if what in ("named_parameters", "named_buffers"):
        out = getattr(mod, what)(prefix=prefix, recurse=recurse, remove_duplicate=dedup)
    elif what == "named_modules":
        out = mod.named_modules(prefix=prefix, remove_duplicate=dedup)
    elif what in ("parameters", "buffers"):
        out = getattr(mod, what)(recurse=recurse)
    else:
        out = getattr(mod, what)()
    r.add(what, list(out))


def _s_state_dict(r, step):
    _, m, prefix, keep_vars = step
    r.add("state_dict", r.mods[m].state_dict(prefix=prefix, keep_vars=keep_vars))


def _load_dict(r, mod, edits):
    lib = r.lib
    sd = mod.state_dict()
    out = OrderedDict()
    for i, (k, v) in enumerate(sd.items()):
        if i in edits["drop"]:
            continue
        g = np.random.default_rng([r.prog["seed"], 99, i])
        shape = tuple(v.shape)
        if i == edits["wrong"]:
            shape = {"extra": shape + (2,), "one": (1,), "empty": (0,)}[edits["wrong_to"]]
        if v.is_floating_point() and edits["ints"] and i % 2:
            out[k] = lib.tensor(g.integers(-3, 3, shape), dtype=lib.int64)
        elif v.is_floating_point():
            dtype = lib.float64 if edits["f64"] else v.dtype
            out[k] = lib.tensor(g.standard_normal(shape), dtype=dtype)
        else:
            out[k] = lib.tensor(g.integers(0, 9, shape), dtype=v.dtype)
    for k in edits["unexpected"]:
        out[k] = lib.zeros(2)
    return out


def _s_load(r, step):
    _, m, strict, assign, edits = step
    mod = r.mods[m]
    sd = _load_dict(r, mod, edits)
    try:
        res = mod.load_state_dict(sd, strict=strict, assign=assign)
        r.add("returned", [list(res.missing_keys), list(res.unexpected_keys)])
    except Exception as e:                        # noqa: BLE001
        r.log.append(("load raised", _exception(e), str(e)[:300]))
    r.add("state after", mod.state_dict(keep_vars=True))


def _s_mode(r, step):
    _, m, mode = step
    mod = r.mods[m]
    if mode == "eval":
        out = mod.eval()
    elif mode == "bad":
        out = mod.train("no")
    else:
        out = mod.train(mode)
    r.add("returned", out)
    r.log.append(("modules", _modules_structure(r, r.root)))


def _s_requires_grad(r, step):
    out = r.mods[step[1]].requires_grad_(step[2])
    r.add("returned", out)
    r.add("flags", [(k, p.requires_grad) for k, p in r.root.named_parameters(
        remove_duplicate=False)])


def _s_zero_grad(r, step):
    r.mods[step[1]].zero_grad(set_to_none=step[2])
    r.add("grads", [(k, p.grad) for k, p in r.root.named_parameters(remove_duplicate=False)])


def _s_apply(r, step):
    seen = []

    def fn(m):
        seen.append((type(m).__name__, r.mod_ids.get(id(m), "new")))
        if step[2] and isinstance(m, r.nn.BatchNorm1d):
            m.eval()

    r.add("returned", r.mods[step[1]].apply(fn))
    r.log.append(("visited", seen))
    r.log.append(("modules", _modules_structure(r, r.root)))


def _s_dtype(r, step):
    lib, root, how = r.lib, r.root, step[1]
    calls = {"to64": lambda: root.to(lib.float64), "to_kw64": lambda: root.to(dtype=lib.float64),
             "double": root.double, "float": root.float, "half": root.half,
             "type64": lambda: root.type(lib.float64), "to_int": lambda: root.to(lib.int64),
             "to32": lambda: root.to(lib.float32),
             "type_str": lambda: root.type(f"{lib.__name__}.DoubleTensor")}
    r.add("returned", calls[how]())
    lowest = {"float": "float32", "to32": "float32", "half": "float16"}.get(how, "float64")
    if list(TOL).index(lowest) > list(TOL).index(r.precision):
        r.precision = lowest
    r.add("state", root.state_dict(keep_vars=True))
    r.add("all buffers", list(root.named_buffers(remove_duplicate=False)))


def _s_deepcopy(r, step):
    mod = r.mods[step[1]]
    c = copy.deepcopy(mod)
    ids = {}
    originals = {id(t) for t in list(mod.parameters()) + list(mod.buffers())}
    originals |= {id(m) for m in mod.modules()}
    r.log.append(("copy params", [(k, ids.setdefault(id(p), len(ids)), id(p) in originals)
                                  for k, p in c.named_parameters(remove_duplicate=False)]))
    r.log.append(("copy buffers", [(k, ids.setdefault(id(b), len(ids)), id(b) in originals)
                                   for k, b in c.named_buffers(remove_duplicate=False)]))
    r.log.append(("copy modules", [(k, ids.setdefault(id(m), len(ids)), id(m) in originals)
                                   for k, m in c.named_modules(remove_duplicate=False)]))
    r.add("copy state", [(k, v, v.grad is None)
                         for k, v in c.state_dict(keep_vars=True).items()])


def _s_repr(r, step):
    text = repr(r.mods[step[1]])
    if r.lib is torch:
        text = text.replace("torch.", "tinygen.")
    r.log.append(("repr", text))


def _to_slice(s):
    return slice(*s[1:])


def _s_seq(r, step):
    op, mod = step[1], r.mods[step[2]]
    arg = step[3] if len(step) > 3 else None
    if op in ("setitem", "insert"):
        new = r.build(step[4])
        if op == "insert" and (not _numbered(mod) or
                               isinstance(mod, r.nn.ModuleList) and arg > len(mod)):
            r.log.append(("insert", "skipped: KNOWN (a) / (d)"))
            return
        out = mod.__setitem__(arg, new) if op == "setitem" else mod.insert(arg, new)
    elif op in ("append",):
        out = mod.append(r.build(arg))
    elif op == "extend":
        out = mod.extend([r.build(s) for s in arg])
    elif op in ("getitem", "pop"):
        out = getattr(mod, "__getitem__" if op == "getitem" else "pop")(arg)
    elif op == "getslice":
        out = mod[_to_slice(arg)]
        r.add("slice keys", [(k, m) for k, m in out._modules.items()])
    elif op == "delitem":
        out = mod.__delitem__(arg)
    elif op == "delslice":
        out = mod.__delitem__(_to_slice(arg))
    elif op in ("len", "iter"):
        out = len(mod) if op == "len" else list(mod)
    else:
        out = _seq_arith(r, op, mod, arg)
        if isinstance(out, r.nn.Module):
            r.add("result keys", [(k, m) for k, m in out._modules.items()])
    r.add("returned", out)
    r.add("keys", [(k, m) for k, m in mod._modules.items()])


def _numbered(mod):
    """Whether mod's keys are '0'..'n-1' in order (PyTorch's insert and *= assume so)."""
    return list(mod._modules) == [str(i) for i in range(len(mod._modules))]


def _seq_arith(r, op, mod, arg):
    if op in ("add", "iadd"):
        other = r.mods[arg] if isinstance(arg, int) else \
            getattr(r.nn, arg[0])([r.build(s) for s in arg[1]]) if arg[0] == "ModuleList" \
            else r.nn.Sequential(*[r.build(s) for s in arg[1]])
        if op == "add":
            return mod + other
        mod += other
        return mod
    if op == "imul" and not _numbered(mod):
        return "skipped: KNOWN (d)"
    if op == "mul":
        return mod * arg
    if op == "rmul":
        return arg * mod
    mod *= arg
    return mod


def _s_mlist(r, step):
    op, mod = step[1], r.mods[step[2]]
    if op in ("add", "iadd", "extend"):
        mods = [r.build(s) for s in step[3]]
        if op == "add":
            out = mod + mods
            r.add("result keys", [(k, m) for k, m in out._modules.items()])
        elif op == "iadd":
            mod += mods
            out = mod
        else:
            out = mod.extend(mods)
        r.add("returned", out)
        r.add("keys", [(k, m) for k, m in mod._modules.items()])
        return
    _s_seq(r, step)


def _s_mdict(r, step):
    op, mod = step[1], r.mods[step[2]]
    key = step[3]
    if op == "set":
        out = mod.__setitem__(key, r.build(step[4]))
    elif op == "update":
        pairs = [(k, r.build(s)) for k, s in step[4]]
        form = key
        arg = {"dict": lambda: dict(pairs), "pairs": lambda: pairs, "od": lambda: OrderedDict(
            pairs), "mdict": lambda: r.nn.ModuleDict(pairs), "bad_pair": lambda: [("k",)],
               "not_iterable": lambda: 3}[form]()
        out = mod.update(arg)
    elif op in ("get", "del", "pop", "contains"):
        fn = {"get": mod.__getitem__, "del": mod.__delitem__, "pop": mod.pop,
              "contains": mod.__contains__}[op]
        out = fn(key)
    elif op in ("keys", "values", "items"):
        out = list(getattr(mod, op)())
    elif op == "clear":
        out = mod.clear()
    else:
        out = len(mod) if op == "len" else list(mod)
    r.add("returned", out)
    r.add("keys", [(k, m) for k, m in mod._modules.items()])


def _s_plist(r, step):
    op, mod = step[1], r.mods[step[2]]
    salt = len(r.log)
    if op == "append":
        out = mod.append(r.tensor(step[3], salt, step[4]))
    elif op == "set":
        mod[step[3]] = r.tensor(step[4], salt, step[5])
        out = None
    elif op == "get":
        out = mod[step[3]]
    elif op == "getslice":
        out = mod[_to_slice(step[3])]
        r.add("slice", list(out))
    elif op in ("extend", "iadd"):
        values = [r.tensor(s, salt + i, p) for i, (s, p) in enumerate(step[3])]
        if op == "extend":
            out = mod.extend(values)
        else:
            mod += values
            out = mod
    elif op == "extend_tensor":
        out = mod.extend(r.tensor((2,), salt))
    else:
        out = len(mod) if op == "len" else list(mod)
    r.add("returned", out)
    r.add("entries", list(mod))


def _pd_arg(r, form, pairs):
    salt = len(r.log)
    pairs = [(k, r.tensor(s, salt + i)) for i, (k, s) in enumerate(pairs)]
    return dict(pairs) if form == "dict" else OrderedDict(pairs) if form == "od" else pairs


def _s_pdict(r, step):
    op, mod = step[1], r.mods[step[2]]
    key = step[3]
    if op in ("set", "setdefault"):
        value = r.tensor(step[4], len(r.log), step[5])
        out = mod.__setitem__(key, value) if op == "set" else mod.setdefault(key, value)
    elif op == "set_none":
        out = mod.__setitem__(key, None)
    elif op in ("update", "or", "ior"):
        arg = _pd_arg(r, key, step[4])
        if op == "update":
            out = mod.update(arg)
        elif op == "or":
            out = mod | (arg if key != "pairs" else r.nn.ParameterDict(arg))
            r.add("result", list(out.items()))
        else:
            mod |= arg
            out = mod
    elif op == "fromkeys":
        out = mod.fromkeys(key, r.tensor((2,), 5))
        r.add("result", list(out.items()))
    elif op == "copy":
        out = mod.copy()
        r.add("result", list(out.items()))
    else:
        out = _pdict_simple(r, op, mod, key)
    r.add("returned", out)
    r.add("entries", list(mod.items()))


def _pdict_simple(r, op, mod, key):
    if op == "get":
        return mod[key]
    if op == "get_default":
        return mod.get(key, "default")
    if op == "del":
        del mod[key]
        return None
    if op == "pop":
        return mod.pop(key)
    if op == "popitem":
        return mod.popitem()
    if op in ("keys", "reversed"):
        return list(mod.keys()) if op == "keys" else list(reversed(mod))
    if op == "contains":
        return key in mod
    if op == "clear":
        return mod.clear()
    return len(mod)


def _value(r, what, spec=None):
    lib, nn = r.lib, r.nn
    salt = len(r.log)
    return {"module": lambda: r.build(spec), "none": lambda: None, "int": lambda: 3,
            "tensor": lambda: r.tensor((D,), salt), "param": lambda: r.tensor((D,), salt, True),
            "param_d": lambda: r.tensor((2, 3), salt, True),
            "buffer": lambda: nn.Buffer(r.tensor((D,), salt),
                                        persistent=salt % 2 == 0)}[what]()


def _cycle(r, parent, value):
    """Whether putting `value` into `parent` would make a cycle (a shared leaf into itself)."""
    if isinstance(value, r.nn.Module) and any(m is parent for m in value.modules()):
        r.log.append(("skipped", "a cycle"))
        return True
    return False


def _s_register(r, step):
    op, mod, name = step[1], r.mods[step[2]], step[3]
    if op in ("add_module", "register_module", "setattr"):
        value = _value(r, step[4], step[5])
        if _cycle(r, mod, value):
            return
    if op in ("add_module", "register_module"):
        out = getattr(mod, op)(name, value)
    elif op == "register_buffer":
        value = _value(r, step[4])
        out = mod.register_buffer(name, value, persistent=step[5])
    elif op == "register_parameter":
        out = mod.register_parameter(name, _value(r, step[4]))
    elif op == "setattr":
        out = setattr(mod, name, value)
    else:
        out = delattr(mod, name)
    r.add("returned", out)
    r.add("state", mod.state_dict(keep_vars=True))
    r.add("registries", [list(mod._parameters.items()), list(mod._buffers.items()),
                         sorted(mod._non_persistent_buffers_set),
                         list(mod._modules.items())])
    r.add("attribute", getattr(mod, name, "<missing>") if isinstance(name, str) else None)


def _s_paths(r, step):
    op, path = step[1], step[2]
    if op == "set_submodule":
        new = r.build(step[3])
        parent = r.root.get_submodule(path.rpartition(".")[0]) if "." in path else r.root
        if isinstance(parent, (r.nn.ParameterList, r.nn.ParameterDict)):
            r.log.append(("skipped", "KNOWN (e)"))
            return
        if _cycle(r, parent, new):
            return
        out = r.root.set_submodule(path, new, strict=step[4])
        r.log.append(("modules", _modules_structure(r, r.root)))
    else:
        out = getattr(r.root, op)(path)
    r.add("returned", out)


def _input_dtype(r, mod):
    """float64 where mod's floating parameters and buffers are all float64 (or it has none),
    else None (not run, see the module docstring)."""
    dtypes = {_dtype_name(t.dtype) for t in list(mod.parameters()) + list(mod.buffers())
              if t.is_floating_point()}
    if not dtypes:
        return r.lib.float64
    if dtypes != {"float64"}:
        return None
    return getattr(r.lib, dtypes.pop())


def _forward(r, mod, xseed, x_grad=True, backward=True):
    dtype = _input_dtype(r, mod)
    if dtype is None:
        r.log.append(("forward", "skipped: not all float64"))
        return
    if any(isinstance(m, r.nn.Linear) and m._parameters.get("weight") is None
           for m in mod.modules()):
        r.log.append(("forward", "skipped: a Linear without weight"))   # see the docstring
        return
    g = np.random.default_rng(xseed)
    x = r.lib.tensor(g.standard_normal((N, D)), dtype=dtype)
    x.requires_grad_(x_grad)
    out = mod(x)
    r.add("output", out)
    if not backward:
        return
    w = r.lib.tensor(g.standard_normal(tuple(out.shape)), dtype=out.dtype)
    (out * w).sum().backward()
    r.add("x.grad", x.grad)
    r.add("grads", [(k, p.grad) for k, p in r.root.named_parameters(remove_duplicate=False)])


def _s_forward(r, step):
    _, m, xseed, x_grad, backward = step
    _forward(r, r.mods[m], xseed, x_grad, backward)
    r.add("state", r.root.state_dict())


def _hook_fn(r, kind, label, action, with_kwargs):
    """A hook that logs its call (and its tensors) and does `action`."""
    def log(*args):
        r.add(f"hook {kind} {label} {action}", [a for a in args[1:] if not isinstance(a, dict)])

    def fpre(m, args, kwargs=None):
        log(m, args)
        if action == "none":
            return None
        new = tuple(a * 2 if isinstance(a, r.lib.Tensor) else a for a in args)
        if action == "bad":
            return new[0]
        if action == "replace1":
            return new[0]
        return (new, kwargs) if with_kwargs else new

    def fhook(m, args, *rest):
        log(m, args, rest[-1])
        if action == "raise":
            raise ValueError("hook raised")
        return rest[-1] + 1 if action == "replace" else None

    def bhook(m, *grads):
        log(m, *grads)
        grads = grads[0]
        if action == "scale":
            return tuple(None if x is None else x * 3 for x in grads)
        return grads + (None,) if action == "badlen" else None

    return {"fpre": fpre, "fhook": fhook, "bpre": bhook, "bhook": bhook}[kind]


def _s_hook(r, step):
    _, kind, m, action, kw = step
    mod = r.mods[m]
    fn = _hook_fn(r, kind, m, action, kw.get("with_kwargs", False))
    method = {"fpre": mod.register_forward_pre_hook, "fhook": mod.register_forward_hook,
              "bpre": mod.register_full_backward_pre_hook,
              "bhook": mod.register_full_backward_hook}[kind]
    r.handles.append(method(fn, **kw))


def _s_remove(r, step):
    if step[1] >= len(r.handles):
        r.log.append(("remove", "no handle"))
        return
    r.add("returned", r.handles[step[1]].remove())


def _s_ctx(r, step):
    _, m, target, xseed = step
    with r.mods[m].register_forward_hook(_hook_fn(r, "fhook", m, "replace", False)) as h:
        r.log.append(("handle type", type(h).__name__))
        _forward(r, r.mods[target], xseed)
    _forward(r, r.mods[target], xseed, backward=False)


_STEPS = {"traverse": _s_traverse, "state_dict": _s_state_dict, "load": _s_load,
          "mode": _s_mode, "requires_grad_": _s_requires_grad, "zero_grad": _s_zero_grad,
          "apply": _s_apply, "dtype": _s_dtype, "deepcopy": _s_deepcopy, "repr": _s_repr,
          "seq": _s_seq, "mlist": _s_mlist, "mdict": _s_mdict, "plist": _s_plist,
          "pdict": _s_pdict, "register": _s_register, "paths": _s_paths, "forward": _s_forward,
          "hook": _s_hook, "remove": _s_remove, "ctx": _s_ctx}


# ---- comparing -------------------------------------------------------------------------------

def diff(a, b, path=""):
    """Where plain values a and b differ (a path), or None."""
    if isinstance(a, tuple) and a and a[0] == "tensor" or \
            isinstance(b, tuple) and b and b[0] == "tensor":
        if not (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)):
            return f"{path}: {a!r:.80} vs {b!r:.80}"
        if a[1:3] != b[1:3] or a[4:] != b[4:]:
            return f"{path}: (dtype, shape, requires_grad, Parameter, identity, tolerance) " \
                   f"{a[1:3] + a[4:]} vs {b[1:3] + b[4:]}"
        rtol, atol = TOL.get(a[-1], (0, 0))
        return None if np.allclose(a[3], b[3], rtol=rtol, atol=atol, equal_nan=True) else \
            f"{path}: values {a[3]} vs {b[3]}"
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)):
            return f"{path}: {a!r:.80} vs {b!r:.80}"
        return diff(a["dict"], b["dict"], path)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        if type(a) is not type(b) or len(a) != len(b):
            return f"{path}: {a!r:.300} vs {b!r:.300}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, f"{path}[{i}]")
            if d is not None:
                return d
        return None
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        ok = np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=1e-9, atol=1e-12,
                                                        equal_nan=True)
        return None if ok else f"{path}: arrays differ"
    return None if a == b else f"{path}: {a!r:.300} vs {b!r:.300}"


def _op_error_pair(label, ours, theirs):
    """An op's shape error in a forward pass: tinygen's op errors are ValueErrors
    (autograd/function.py), PyTorch's are RuntimeErrors (the one loose pair, forward only)."""
    forward = "('forward'" in label or "('ctx'" in label
    return forward and ours[1] == "ValueError" and theirs == ("RuntimeError", "RuntimeError")


def first_difference(seed):
    """(log entry index, where, ours, theirs) of the first difference of program `seed`, or
    None where the two logs match."""
    prog = program(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)        # these tiny ops are 3x slower beside tinygen's threads
    try:
        ours, theirs = run(tg, prog), run(torch, prog)
    finally:
        torch.set_num_threads(threads)
    for n, (a, b) in enumerate(zip(ours, theirs)):
        if a[0] != b[0]:
            return n, f"{a[0]} vs {b[0]}", a, b
        if "raised" in a[0]:
            if a[1] != b[1] and not _op_error_pair(a[0], a[1], b[1]):
                return n, f"{a[0]}: {a[1]} vs {b[1]}", a, b
            continue
        d = diff(a[1:], b[1:])
        if d is not None:
            return n, f"{a[0]}{d}", a, b
    return length_difference(ours, theirs)


def explain(seed, found):
    return explain_difference(seed, found, program(seed))


# the first seed beyond 0-299 of each class of difference that has fewer than 3 seeds in 0-299
# (the sweep of 2026-12-07: see the module docstring)
EXTRA_SEEDS = [423, 557, 801]


@pytest.mark.parametrize("block", list(range(10)) + ["extra"])
def test_random_module_programs_match_pytorch(block):
    seeds = EXTRA_SEEDS if block == "extra" else range(block * 30, block * 30 + 30)
    assert_programs_match(seeds, first_difference, explain)
