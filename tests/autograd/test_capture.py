"""tg.compile: a captured step replays what the eager step does, bit for bit; guards re-trace when
what the plan assumed changes; what cannot be captured runs eagerly with a warning naming why."""
import warnings

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from tinygen import nn
from tinygen.autograd import capture


def _batches(n, shape=(8, 12), classes=5, seed=0):
    rng = np.random.default_rng(seed)
    return [(tg.tensor(rng.standard_normal(shape).astype(np.float32)),
             tg.tensor(rng.integers(0, classes, shape[0]))) for _ in range(n)]


def _mlp(seed=0, dropout=0.25, batchnorm=False):
    tg.manual_seed(seed)
    layers = [nn.Linear(12, 16)]
    if batchnorm:
        layers.append(nn.BatchNorm1d(16))
    layers += [nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 5)]
    return nn.Sequential(*layers)


def _state(model, opt=None):
    """Every array a step changes: parameters, buffers, gradients, optimiser moments."""
    out = [t.detach().numpy().copy() for t in model.state_dict().values()]
    out += [p.grad.numpy().copy() for p in model.parameters() if p.grad is not None]
    if opt is not None:
        for st in opt.state.values():
            out += [v.numpy().copy() for v in st.values() if isinstance(v, tg.Tensor)]
    return out


def _run_both(make, steps, batches, check=None):
    """Run `steps` eagerly and compiled from the same seed; return (eager, compiled) outputs and
    final states, and the compiled function."""
    results = []
    for compiled in (False, True):
        model, opt, step = make()
        fn = tg.compile(step) if compiled else step
        tg.manual_seed(1234)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)      # no silent fallback to eager
            outs = [_numpy(fn(*b)) for b in batches[:steps]]
        results.append((outs, _state(model, opt), fn))
    return results


def _numpy(out):
    if isinstance(out, tg.Tensor):
        return [out.numpy().copy()]
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _numpy(o)]
    if isinstance(out, dict):
        return [a for o in out.values() for a in _numpy(o)]
    return [out]


def _assert_bitwise(eager, compiled):
    (outs_e, state_e, _), (outs_c, state_c, fn) = eager, compiled
    assert len(outs_e) == len(outs_c)
    for k, (a, b) in enumerate(zip(outs_e, outs_c)):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y, err_msg=f"output of step {k}")
    assert len(state_e) == len(state_c)
    for a, b in zip(state_e, state_c):
        np.testing.assert_array_equal(a, b)
    plans = list(fn.plans.values())
    assert plans and all(p is not None for p in plans), fn.reason
    return fn


def _classifier_step(opt_cls=tg.optim.Adam, **kw):
    def make():
        model = _mlp(**kw)
        opt = opt_cls(model.parameters(), lr=1e-2)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss
        return model, opt, step
    return make


@pytest.mark.parametrize("opt_cls", [tg.optim.Adam, tg.optim.SGD, tg.optim.AdamW])
def test_classifier_step_with_dropout_is_bitwise_eager(opt_cls):
    eager, compiled = _run_both(_classifier_step(opt_cls), 30, _batches(30))
    fn = _assert_bitwise(eager, compiled)
    assert len(fn.plans) == 1                       # traced once, replayed 29 times


def test_batchnorm_running_stats_and_counter_are_replayed():
    eager, compiled = _run_both(_classifier_step(batchnorm=True, dropout=0.0), 12, _batches(12))
    _assert_bitwise(eager, compiled)


def test_grad_accumulation_without_set_to_none():
    def make():
        model = _mlp(dropout=0.0)
        opt = tg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def step(x, y):
            opt.zero_grad(set_to_none=False)
            for half in (slice(0, 4), slice(4, 8)):       # two micro-batches into one .grad
                F.cross_entropy(model(x[half]), y[half]).backward()
            opt.step()
            return model[0].weight.grad.sum()
        return model, opt, step
    batches = _batches(6)
    model, opt, step = make()
    step(*batches[0])                                   # .grad exists before the trace
    eager, compiled = _run_both(make, 6, batches)
    _assert_bitwise(eager, compiled)


def test_double_backward_gradient_penalty():
    """WGAN-GP's penalty: autograd.grad with create_graph inside the step."""
    def make():
        tg.manual_seed(0)
        critic = nn.Sequential(nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 1))
        opt = tg.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))

        def step(real, _):
            opt.zero_grad()
            fake = tg.randn(real.shape)
            eps = tg.rand(real.shape[0], 1)
            mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
            (g,) = tg.autograd.grad(critic(mix).sum(), mix, create_graph=True)
            gp = ((g.norm(2, dim=1) - 1) ** 2).mean()
            loss = critic(fake).mean() - critic(real).mean() + 10 * gp
            loss.backward()
            opt.step()
            return loss, gp
        return critic, opt, step
    eager, compiled = _run_both(make, 10, _batches(10))
    _assert_bitwise(eager, compiled)


def test_scheduler_and_constant_written_in_place():
    def make():
        model = _mlp(dropout=0.0)
        opt = tg.optim.SGD(model.parameters(), lr=0.5)
        sched = tg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

        def step(x, y):
            acc = tg.zeros(5)
            acc += model(x).sum(0)                      # a constant, then written in place
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            sched.step()                                # replayed: the lr keeps halving
            return loss, acc
        return model, opt, step
    eager, compiled = _run_both(make, 8, _batches(8))
    _assert_bitwise(eager, compiled)


def test_cross_entropy_mean_counts_each_steps_targets():
    """cross_entropy's mean divides by the targets not ignored: counted in forward on every
    replay, so batches with 0, 3 and all targets ignored give the eager losses and gradients."""
    batches = _batches(6)
    for k, (_, y) in enumerate(batches):
        y._data[:[0, 3, 8, 1, 0, 5][k]] = -100

    def make():
        model = _mlp(dropout=0.0)
        opt = tg.optim.SGD(model.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
            loss.backward()
            opt.step()
            return loss
        return model, opt, step
    eager, compiled = _run_both(make, 6, batches)
    assert np.isnan(eager[0][2][0])                   # every target of the third batch ignored
    _assert_bitwise(eager, compiled)


def test_guards_retrace_on_shape_mode_and_parameter_changes():
    model, opt, step = _classifier_step()()
    fn = tg.compile(step)
    small, big = _batches(2, (8, 12))[0], _batches(2, (6, 12))[0]
    fn(*small)
    fn(*small)
    assert len(fn.plans) == 1
    fn(*big)                                            # another batch size: another plan
    assert len(fn.plans) == 2
    key = next(iter(fn.plans))
    plan = fn.plans[key]
    model.eval()                                        # dropout off: the plan no longer holds
    assert not plan.valid()
    model.train()
    assert plan.valid()
    w = model[0].weight
    w.data = w.detach().clone()                         # a parameter's array replaced
    assert not plan.valid()
    fn(*small)                                          # re-traced on the new array
    assert fn.plans[key] is not plan and fn.plans[key].valid()
    plan = fn.plans[key]
    w.requires_grad_(False)                             # frozen: the plan gave it a gradient
    assert not plan.valid()

    predict = tg.compile(lambda x: model(x).detach())
    predict(small[0])
    with tg.no_grad():
        predict(small[0])                               # grad mode is part of the key
    assert len(predict.plans) == 2


def test_replay_after_eval_switch_matches_eager():
    """A plan traced in training mode is not used in eval mode: the eval result is eager's."""
    def make():
        model = _mlp(dropout=0.5)

        def forward(x, _):
            with tg.no_grad():
                return model(x)
        return model, None, forward
    batches = _batches(4)
    model, _, forward = make()
    fn = tg.compile(forward)
    fn(*batches[0])
    model.eval()
    np.testing.assert_array_equal(fn(*batches[1]).numpy(), forward(*batches[1]).numpy())


@pytest.mark.parametrize("body, reason", [
    ("item", "reads a value"),
    ("from_numpy", "computed outside any op"),
    ("no_backward", "requires grad and runs no backward"),
])
def test_what_cannot_be_captured_runs_eagerly_with_a_warning(body, reason):
    model = _mlp(dropout=0.0)

    def step(x, y):
        out = model(x)
        if body == "item":
            return out * float(out.sum().item())
        if body == "from_numpy":
            return out + tg.from_numpy(np.full((8, 5), 2.0, np.float32))
        return out
    fn = tg.compile(step)
    x, y = _batches(1)[0]
    with pytest.warns(RuntimeWarning, match=reason):
        first = fn(x, y)
    second = fn(x, y)                                   # eager again, no second warning
    np.testing.assert_array_equal(first.detach().numpy(), second.detach().numpy())
    assert list(fn.plans.values()) == [None]


def test_intermediates_are_not_kept_between_calls():
    model, opt, step = _classifier_step()()
    fn = tg.compile(step)
    x, y = _batches(1)[0]
    fn(x, y)
    plan = next(iter(fn.plans.values()))
    kept = [v for v in plan.values if v is not None]
    n_state = sum(1 for _ in model.parameters()) + sum(1 for _ in model.buffers())
    # parameters (and constants such as the seed of backward) only: no activation lives on
    assert all(v.size <= max(p.numel() for p in model.parameters()) for v in kept)
    assert len(kept) <= n_state + 4


def test_method_decorator_and_options_are_accepted():
    class Trainer:
        def __init__(self):
            self.model = _mlp(dropout=0.0)

        @tg.compile
        def predict(self, x):
            with tg.no_grad():
                return self.model(x)
    t = Trainer()
    x, _ = _batches(1)[0]
    a, b = t.predict(x), t.predict(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert tg.compile(mode="max-autotune")(lambda v: v * 2)(x).shape == x.shape


def test_gradient_of_an_argument_goes_to_this_calls_argument():
    w = tg.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3))

    def grad_of_input(x):
        (x * x * w).sum().backward()
        return x.grad.detach() * 1.0

    fn = tg.compile(grad_of_input)
    for k in range(4):
        x = tg.tensor(np.full((2, 3), k + 1.0, np.float32), requires_grad=True)
        g = fn(x)
        np.testing.assert_array_equal(x.grad.numpy(), 2 * x.detach().numpy() * w.numpy())
        np.testing.assert_array_equal(g.numpy(), x.grad.numpy())
    assert all(p is not None and p.confirmed for p in fn.plans.values())


def test_a_batch_read_from_a_closure_is_not_frozen_into_the_plan():
    """A step that reads a tensor from a closure which the loop replaces each time would replay
    the first batch: two traces see different arrays, and the step runs eagerly, saying why."""
    model = _mlp(dropout=0.0)
    batch = {}

    def step():
        return model(batch["x"]).sum().detach()

    fn = tg.compile(step)
    with pytest.warns(RuntimeWarning, match="pass it as an argument"):
        for x, _ in _batches(6):
            batch["x"] = x
            np.testing.assert_array_equal(fn().numpy(), step().numpy())


def test_assigning_a_parameters_data_runs_eagerly_and_says_how_to_fix_it():
    """p.data = p.data - lr * g replaces the array the plan would read next time."""
    model = _mlp(dropout=0.0)

    def sgd_step(x, y):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        with tg.no_grad():
            for p in model.parameters():
                p.data = p.data - 0.1 * p.grad
                p.grad = None
        return loss

    fn = tg.compile(sgd_step)
    with pytest.warns(RuntimeWarning, match="in place instead"):
        losses = [fn(x, y).item() for x, y in _batches(4)]
    assert losses[-1] < losses[0] and list(fn.plans.values()) == [None]


def test_a_step_over_many_ops_is_captured_and_equals_eager():
    """Reductions with indices (max, sort, topk, argmax), logsumexp, rounding divisions, masks,
    convolution, normalisations, pooling, interpolation, dropout and the losses: each computes
    its arrays inside an op, so the plan holds and replays them on new data."""
    rng = np.random.default_rng(0)
    tg.manual_seed(0)
    params = [tg.randn(8, 8, requires_grad=True), tg.randn(4, 3, 3, 3, requires_grad=True),
              tg.randn(10, 8, requires_grad=True), tg.ones(4, requires_grad=True)]
    W, K, E, G = params

    def step(x, img, idx, y):
        for p in params:
            p.grad = None
        h = x @ W
        terms = [h.softmax(-1).sum(), F.layer_norm(h, (8,)).pow(2).mean(), F.gelu(h).mean(),
                 h.sigmoid().mean(), h.var(0).mean(), h.max(1).values.mean(),
                 tg.where(h > 0, h, 0.1 * h).mean(), h.gather(1, idx[:, None] % 8).mean(),
                 E.index_select(0, idx).mean(), h.masked_fill(h < -0.5, 0.0).mean(),
                 h.cumsum(1).mean(), F.cross_entropy(h, y), F.mse_loss(h, x),
                 F.binary_cross_entropy_with_logits(h, (x > 0).float()), F.dropout(h, 0.3).mean(),
                 F.embedding(idx, E).mean(), h.topk(3, dim=1).values.mean(),
                 h.sort(1).values[:, 0].mean(), h.logsumexp(1).mean(), h.argmax(1).float().mean(),
                 (h // 0.3).mean(), tg.div(h, 0.7, rounding_mode="trunc").mean(),
                 F.softplus(h, threshold=1.0).mean(), (~(h > 0)).float().mean()]
        c = F.group_norm(F.conv2d(img, K, padding=1), 2, G)
        terms += [F.max_pool2d(c, 2).mean(), F.avg_pool2d(c, 2).mean(),
                  F.batch_norm(c, None, None, training=True).pow(2).mean(),
                  F.interpolate(c, scale_factor=2).mean()]
        loss = sum(terms)
        loss.backward()
        return (loss,) + tuple(p.grad for p in params)

    batches = [(tg.tensor(rng.standard_normal((6, 8)).astype(np.float32)),
                tg.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32)),
                tg.tensor(rng.integers(0, 10, 6)), tg.tensor(rng.integers(0, 8, 6)))
               for _ in range(6)]
    results = []
    fn = tg.compile(step)
    for f in (step, fn):
        tg.manual_seed(5)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            results.append([[o.numpy().copy() for o in f(*b)] for b in batches])
    for eager, captured in zip(*results):
        for a, b in zip(eager, captured):
            np.testing.assert_array_equal(a, b)
    assert all(p is not None and p.confirmed for p in fn.plans.values())



def test_index_and_mask_tensors_held_by_the_step_are_its_state():
    """An index or mask tensor the step closes over (CLIP's recipe selects rows with one) is
    read like a parameter: the step is captured, equals eager, and sees the tensor's new values
    when it is changed in place between calls."""
    rng = np.random.default_rng(0)
    W = tg.tensor(rng.standard_normal((5, 4)).astype(np.float32), requires_grad=True)
    idx = tg.tensor([0, 3, 3, 1])
    cols = tg.tensor([[0], [2], [1], [3]])
    mask = tg.tensor(np.array([[True, False, False, True]] * 4))

    def step(x):
        W.grad = None
        h = W.index_select(0, idx) * x
        loss = h.masked_fill(mask, 0.0).sum() + h.gather(1, cols).pow(2).sum()
        loss.backward()
        return loss, W.grad

    xs = [tg.tensor(rng.standard_normal((4, 4)).astype(np.float32)) for _ in range(5)]
    fn = tg.compile(step)
    for k, x in enumerate(xs):
        if k == 3:                        # changed in place: both runs must see it
            idx[1] = 4
            mask[0, 1] = True
        want = [o.numpy().copy() for o in step(x)]
        got = [o.numpy().copy() for o in fn(x)]
        for a, b in zip(want, got):
            np.testing.assert_array_equal(a, b)
    assert all(p is not None and p.confirmed for p in fn.plans.values())

def test_a_backward_that_branches_on_the_data_runs_eagerly():
    """prod's backward takes another formula where an element is 0: a plan keeping one branch
    would be wrong for the next batch, so the step runs eagerly (and stays right)."""
    w = tg.tensor(np.linspace(0.5, 1.5, 4, dtype=np.float32), requires_grad=True)

    def step(x):
        w.grad = None
        (x * w).prod().backward()
        return w.grad.detach() * 1.0

    fn = tg.compile(step)
    xs = [np.full(4, 2.0, np.float32), np.array([0, 1, 2, 3], np.float32),
          np.array([1, 0, 2, 0], np.float32)]
    with pytest.warns(RuntimeWarning, match="reads a value"):
        for x in xs:
            np.testing.assert_array_equal(fn(tg.tensor(x)).numpy(), step(tg.tensor(x)).numpy())


def _fused_loops(fn):
    return [data for plan in fn.plans.values() for kind, data, _ in plan.steps
            if kind == capture._FUSED]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_elementwise_runs_equal_eager_bit_for_bit(dtype):
    # runs of +, -, *, /, negation, relu and the backward's zero guard become generated loops;
    # NaN, infinities and -0.0 go through them as through NumPy's ops
    rng = np.random.default_rng(0)
    a, b, c = (tg.tensor(rng.standard_normal((5, 7)).astype(dtype), requires_grad=True)
               for _ in range(3))
    wt = tg.tensor(rng.standard_normal((7, 5)).astype(dtype))

    def step(x):
        for p in (a, b, c):
            p.grad = None
        h = (a * x + b).relu()
        h = -(h / 3 - 0.5 * c) * x + 1
        t = x - wt.t() * 2                       # a transposed (not C-contiguous) operand
        s = (x.sqrt() * c - b).relu() + (a * c).exp() / (2 + b)
        loss = h.sum() + (t * a).sum() + s.mean() + (x[:, :1] * a).sum()   # broadcast: unfused
        loss.backward()
        return loss, h, (x * 1).relu(), -(x / b) + c, a.grad, b.grad, c.grad

    specials = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf, 2.5, -3.0], dtype)
    batches = []
    for _ in range(4):
        x = rng.standard_normal((5, 7)).astype(dtype)
        x[0] = specials
        batches.append(tg.tensor(x))
    runs = {}
    for name, fn in (("eager", step), ("fused", tg.compile(step)),
                     ("unfused", tg.compile(step, fuse=False))):
        with np.errstate(all="ignore"):
            runs[name] = [[o.numpy().copy() for o in fn(x)] for x in batches]
        if name == "fused":
            loops = _fused_loops(fn)
        if name == "unfused":
            assert _fused_loops(fn) == []
    assert len(loops) >= 3
    for name in ("fused", "unfused"):
        for eager, other in zip(runs["eager"], runs[name]):
            for e, o in zip(eager, other):
                # the same bits (-0.0 too), NaN where NaN: IEEE 754 leaves the sign of a NaN
                # from arithmetic unspecified, and NumPy's loops and the compiled one differ there
                nan = np.isnan(e)
                assert np.array_equal(nan, np.isnan(o)), name
                assert e[~nan].tobytes() == o[~nan].tobytes(), name


def test_fusion_writes_only_what_the_rest_of_the_plan_reads():
    # (a * x + b).relu(): a * x and a * x + b stay inside the loop; relu's output and its mask
    # (read by its backward) come out; x (an argument) is read, not written
    a = tg.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4), requires_grad=True)
    b = tg.tensor(np.full((3, 4), 0.25, np.float32))

    def step(x):
        a.grad = None
        y = (a * x + b).relu()
        y.sum().backward()
        return a.grad

    fn = tg.compile(step)
    x = tg.ones(3, 4)
    for _ in range(3):
        got = fn(x)
    (loop,) = _fused_loops(fn)[:1]
    _, in_slots, outs, shape, grid = loop
    assert shape == (3, 4) and len(in_slots) == 3 and grid is None
    assert [dtype for _, dtype in outs] == [np.float32, np.bool_]
    np.testing.assert_array_equal(got.numpy(), (a.detach().numpy() + 0.25 > 0).astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_loops_read_broadcast_operands_bit_for_bit(dtype):
    # row vectors (a mask over features, a (1, D) scale), columns (B, 1) and one-element arrays
    # join the loops (RealNVP's couplings: x * m + (1 - m) * x * s.exp() + t * (1 - m)); the
    # step equals eager bit for bit, NaN and -0.0 included, over 3-D outputs too
    rng = np.random.default_rng(1)
    for shape in [(6, 5), (2, 3, 4), (4, 1)]:
        x = rng.standard_normal(shape).astype(dtype)
        x.flat[0], x.flat[-1] = np.nan, -0.0
        m = tg.tensor((rng.random(shape[-1:]) > 0.5).astype(dtype))
        scale = tg.tensor(rng.standard_normal((1,) * (len(shape) - 1) + shape[-1:]).astype(dtype),
                          requires_grad=True)
        col = tg.tensor(rng.standard_normal(shape[:-1] + (1,)).astype(dtype), requires_grad=True)
        one = tg.tensor(np.array([1.5], dtype), requires_grad=True)

        def step(t):
            for p in (scale, col, one):
                p.grad = None
            y = t * m + (1 - m) * t * scale - col * 2 + one * t
            (y * y).sum().backward()
            return y.detach() * 1, scale.grad.detach() * 1, col.grad.detach() * 1, one.grad * 1

        fn = tg.compile(step)
        for _ in range(3):
            got = fn(tg.tensor(x))
        want = step(tg.tensor(x))
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w.numpy())
        loops = _fused_loops(fn)
        assert any(grid is not None for *_, grid in loops), shape


def test_attention_with_a_padding_mask_reads_each_steps_mask():
    """MultiheadAttention with a key-padding mask runs the fused kernel with the mask as an
    additive bias: a captured step reads the mask given to each call (not the traced one's) and
    equals eager, bit for bit."""
    rng = np.random.default_rng(0)
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(16, 2, batch_first=True)
    x = tg.tensor(rng.standard_normal((3, 5, 16)).astype(np.float32))
    masks = []
    for k in range(6):
        m = np.zeros((3, 5), bool)
        m[1:, 4 - k % 3:] = True                      # rows 1, 2: 1 to 3 keys padded
        masks.append(tg.tensor(m))

    def step(x, mask):
        mha.zero_grad()
        out, _ = mha(x, x, x, key_padding_mask=mask, need_weights=False)
        loss = (out * out).sum()
        loss.backward()
        return loss, mha.in_proj_weight.grad

    fn = tg.compile(step)
    losses = set()
    for mask in masks:
        want = [o.numpy().copy() for o in step(x, mask)]
        got = [o.numpy().copy() for o in fn(x, mask)]
        for a, b in zip(want, got):
            np.testing.assert_array_equal(a, b)
        losses.add(float(want[0]))
    assert len(losses) == 3                             # the three masks give three steps
    assert all(p is not None and p.confirmed for p in fn.plans.values())


def test_predicates_are_ops_a_step_computes_again():
    """isfinite, isnan, isinf, logical_not, signbit, isposinf, isneginf, isreal, and the masks
    inside nan_to_num, logaddexp and copysign (by a number) are ops without gradient, so a step
    that uses them is captured (they were computed outside any op, which made it run eagerly)
    and reads each call's values."""
    w = tg.tensor(np.ones(4, np.float32), requires_grad=True)

    def step(x):
        w.grad = None
        keep = x.isfinite().logical_not().logical_not() & ~x.isnan() & ~x.isinf()
        keep = keep & ~tg.isposinf(x) & ~tg.isneginf(x) & tg.isreal(x)
        y = tg.where(keep, x, 0.0) * w
        loss = (y.sum() + tg.nan_to_num(x).sum() + tg.logaddexp(y, 1.0).sum()
                + tg.copysign(y, -1.0).sum() + tg.where(tg.signbit(y), y, 0.0).sum())
        loss.backward()
        return loss, w.grad

    fn = tg.compile(step)
    rng = np.random.default_rng(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # no "runs eagerly"
        for k in range(5):
            a = rng.standard_normal(4).astype(np.float32)
            a[k % 4] = (np.inf, np.nan, -np.inf, 1.0)[k % 4]
            want = [o.numpy().copy() for o in step(tg.tensor(a))]
            got = [o.numpy().copy() for o in fn(tg.tensor(a))]
            for g, e in zip(got, want):
                np.testing.assert_array_equal(g, e)
    assert all(p is not None and p.confirmed for p in fn.plans.values())


def _eager_and_compiled(make, calls, fuse=True):
    """[(results of each call)] for make()'s step run eagerly and compiled, each from the same
    seed and state; make() -> (step, args_of(i), state tensors to compare after each call)."""
    runs = []
    for compiled in (False, True):
        tg.manual_seed(0)
        step, args_of, state = make()
        fn = tg.compile(step, fuse=fuse) if compiled else step
        out = []
        for i in range(calls):
            r = fn(*args_of(i))
            rs = r if isinstance(r, (tuple, list)) else (r,)
            out.append([t.numpy().copy() for t in rs] + [s.numpy().copy() for s in state()])
        out.append([tg.randn(3).numpy()])                  # where the stream is after
        runs.append(out)
    return runs


def _assert_same(runs):
    for call, (e, c) in enumerate(zip(*runs)):
        for a, b in zip(e, c):
            np.testing.assert_array_equal(a, b, err_msg=f"call {call}")


def _writes():
    buf, ema, noise = tg.ones(4), tg.zeros(4), tg.zeros(4)

    def step(x):
        y = x.clone()
        y[0] = -1.0                                         # setitem, no graph
        with tg.no_grad():
            ema.copy_(ema * 0.5 + x * 0.5)                  # copy_ of a computed value
        buf.mul_(3.0)
        out = y * buf
        buf.fill_(1.0)                                      # fill_ a constant
        noise.normal_()                                     # a draw, in place
        return out + noise
    return step, lambda i: (tg.arange(4, dtype=tg.float32) + i,), lambda: (buf, ema, noise)


def _sgd_step(m, opt):
    """A training step of m: squared outputs, backward, SGD."""
    def step(x):
        opt.zero_grad()
        loss = (m(x) ** 2).sum()
        loss.backward()
        opt.step()
        return loss
    return step


def _unfreeze():
    m = nn.Linear(3, 2)
    opt = tg.optim.SGD(m.parameters(), lr=0.1)
    m.bias.requires_grad_(False)
    step = _sgd_step(m, opt)

    def args(i):
        if i == 4:
            m.bias.requires_grad_(True)                     # a parameter unfrozen later
        return (tg.ones(2, 3) * (i + 1),)
    return step, args, lambda: (m.weight, m.bias)


def _assign_state():
    m = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    opt = tg.optim.SGD(m.parameters(), lr=0.1)
    step = _sgd_step(m, opt)

    def args(i):
        if i == 4:                                          # new tensors, not new values
            m.load_state_dict({k: v.clone() for k, v in m.state_dict().items()}, assign=True)
            opt.param_groups[0]["params"] = list(m.parameters())
        if i == 6:
            m[1].running_mean = tg.zeros(3)
        return (tg.arange(6, dtype=tg.float32).reshape(2, 3) * (i + 1),)
    return step, args, lambda: list(m.state_dict().values())


def _grad_accumulation():
    m = nn.Linear(4, 2)
    opt = tg.optim.SGD(m.parameters(), lr=0.1)

    def step(x):                                            # zero_grad outside the step
        loss = (m(x) ** 2).sum()
        loss.backward()
        return loss

    def args(i):
        if i in (3, 5, 6):                                  # .grad None at some calls only
            opt.step()
            opt.zero_grad()
        return (tg.ones(3, 4) * (i + 1),)
    return step, args, lambda: (m.weight, m.weight.grad if m.weight.grad is not None
                                else tg.zeros(1))


def _layout_and_floats():
    def step(x, s):
        return ((x * 3.0 + 1.0) * 0.5).sum(0), 1.0 / (x * s)
    base = tg.tensor(np.random.default_rng(0).standard_normal((20, 20)).astype(np.float32))
    return step, lambda i: (base.t() if i >= 4 else base, -0.0 if i == 5 else 0.0), tuple


def _constant_out():
    def step(x):
        return x * 2, tg.zeros(3)
    return step, lambda i: (tg.ones(3),), tuple


def _tensor_of_values():
    def step(x):
        return x * tg.tensor([x.max(), 1.0])
    return step, lambda i: (tg.tensor([1.0 + i, 0.5]),), tuple


@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("make", [_writes, _unfreeze, _assign_state, _grad_accumulation,
                                  _layout_and_floats, _constant_out, _tensor_of_values])
def test_compiled_equals_eager_where_state_and_arguments_change(make, fuse):
    """What a review of tg.compile found silently different from eager, each now equal (or
    eager): writes made outside ops (setitem without a graph, copy_, fill_, normal_) are
    recorded; a parameter unfrozen later, parameters and buffers replaced by new tensors, and
    a .grad that is None at some calls only are guarded; the arguments' layout and a float's
    sign (-0.0) key the plans; a returned constant is a fresh array each call; a tensor made
    from values the step computed makes the step run eagerly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # (the eager fallbacks say why)
        runs = _eager_and_compiled(make, 8, fuse)
    if make is _constant_out:                              # a caller writing into a result
        assert not np.shares_memory(runs[1][5][1], runs[1][6][1])
    _assert_same(runs)


def test_a_constant_result_is_not_shared_between_calls():
    fn = tg.compile(lambda x: (x * 2, tg.zeros(3)))
    outs = [fn(tg.ones(3))[1] for _ in range(5)]
    outs[3].add_(5.0)
    np.testing.assert_array_equal(outs[4].numpy(), np.zeros(3))


def test_two_arguments_that_are_one_tensor_run_eagerly():
    w = tg.ones(3, requires_grad=True)

    def step(a, b):
        w.grad = None
        (a * b * w).sum().backward()
        return w.grad

    fn = tg.compile(step)
    x, y = tg.ones(3) * 2, tg.ones(3) * 3
    for _ in range(3):
        fn(x, y)
    with pytest.warns(RuntimeWarning, match="two arguments share one array"):
        got = fn(x, x).numpy().copy()
    np.testing.assert_array_equal(got, step(x, x).numpy())


def test_seeding_inside_the_step_and_a_mode_changed_by_it_run_eagerly():
    def seeded(x):
        tg.manual_seed(0)
        return x + tg.randn(3)
    fn = tg.compile(seeded)
    with pytest.warns(RuntimeWarning, match="seeds the generators"):
        outs = [fn(tg.zeros(3)).numpy() for _ in range(4)]
    assert all(np.array_equal(o, outs[0]) for o in outs)
    m = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))

    def toggles(x):
        m.eval()
        ref = m(x)
        m.train()
        return (m(x) - ref).detach()
    fn = tg.compile(toggles)
    with pytest.warns(RuntimeWarning, match="changes during the step itself"):
        for _ in range(6):
            fn(tg.ones(2, 3))
