"""The backward engine: backward, autograd.grad, retain/create graph, accumulation, hooks,
retain_grad, grad mode, long chains and reused nodes (compared with PyTorch where it helps)."""
import numpy as np
import pytest
from helpers import assert_close

import tinygen as tg

F64 = tg.float64


def leaf(values):
    return tg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# ---- backward ----------------------------------------------------------------------------------
def test_backward_simple():
    x = leaf([1.0, 2.0, 3.0])
    y = (x * x * 3 + x).sum()
    y.backward()
    assert_close(x.grad, 6 * np.array([1.0, 2.0, 3.0]) + 1)


def test_backward_with_gradient_argument():
    x = leaf([1.0, 2.0])
    y = x * x
    y.backward(tg.tensor([1.0, 0.5], dtype=F64))
    assert_close(x.grad, np.array([2.0, 2.0]))


def test_non_scalar_backward_needs_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()


def test_backward_on_size_one_non_scalar():
    x = leaf([3.0])
    (x * x).backward()                       # one element: implicit gradient is fine
    assert_close(x.grad, np.array([6.0]))


def test_accumulation_over_two_backward_calls():
    x = leaf([1.0, -2.0])
    (x * x).sum().backward()
    (x * 3).sum().backward()
    assert_close(x.grad, np.array([2.0, -4.0]) + 3)
    x.grad = None
    (x * 3).sum().backward()
    assert_close(x.grad, np.array([3.0, 3.0]))


def test_retain_graph_and_freed_graph_error():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()                             # allowed: the graph was retained
    assert_close(x.grad, 2 * first)
    with pytest.raises(RuntimeError, match=r"backward through the graph a second time"):
        y.backward()


def test_freed_graph_error_via_autograd_grad():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    tg.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="second time"):
        tg.autograd.grad(y, x)


def test_node_used_twice():
    torch = pytest.importorskip("torch")
    a = leaf([1.5, -0.5])
    b = a + a
    c = b * b
    c.sum().backward()
    ta = torch.tensor([1.5, -0.5], dtype=torch.float64, requires_grad=True)
    tb = ta + ta
    (tb * tb).sum().backward()
    assert_close(a.grad, ta.grad)            # d/da (2a)^2 = 8a
    assert_close(a.grad, 8 * np.array([1.5, -0.5]))


def test_diamond_graph():
    x = leaf([0.3, 0.7])
    a = x.sin()
    b = x.exp()
    c = a * b + a
    c.sum().backward()
    xs = np.array([0.3, 0.7])
    expected = np.cos(xs) * np.exp(xs) + np.sin(xs) * np.exp(xs) + np.cos(xs)
    assert_close(x.grad, expected)


def test_long_chain_10000_ops():
    x = leaf([1.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001 - 0.0001 * y        # 2 ops per step, iterative engine: no recursion
    y.sum().backward()
    assert_close(x.grad, np.array([1.0]), rtol=1e-9)
    z = x
    for _ in range(10_000):
        z = z + 1.0
    (gx,) = tg.autograd.grad(z.sum(), x)
    assert gx.item() == 1.0


def test_backward_through_non_float_branch_and_leaf_root():
    x = leaf([1.0, 2.0])
    x.sum().backward()
    assert_close(x.grad, np.ones(2))
    x.grad = None
    x.backward(tg.ones(2, dtype=F64))        # a leaf as the root
    assert_close(x.grad, np.ones(2))


# ---- autograd.grad -----------------------------------------------------------------------------
def test_grad_returns_and_does_not_accumulate():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = (x * w).sum()
    gx, gw = tg.autograd.grad(y, [x, w])
    assert_close(gx, np.array([3.0, 4.0]))
    assert_close(gw, np.array([1.0, 2.0]))
    assert x.grad is None and w.grad is None
    (gx_only,) = tg.autograd.grad((x * x).sum(), x)
    assert_close(gx_only, np.array([2.0, 4.0]))


def test_grad_allow_unused():
    x, z = leaf([1.0]), leaf([2.0])
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        tg.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = tg.autograd.grad(y, [x, z], allow_unused=True)
    assert gz is None and gx.item() == 2.0


def test_grad_outputs_and_multiple_outputs():
    torch = pytest.importorskip("torch")
    xs = np.array([0.5, -1.0, 2.0])
    x = leaf(xs)
    y1, y2 = x.exp(), x * x
    go1, go2 = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 0.0])
    (g,) = tg.autograd.grad([y1, y2], [x], grad_outputs=[tg.tensor(go1), tg.tensor(go2)])
    tx = torch.tensor(xs, requires_grad=True)
    (tg_ref,) = torch.autograd.grad([tx.exp(), tx * tx], [tx],
                                    grad_outputs=[torch.tensor(go1), torch.tensor(go2)])
    assert_close(g, tg_ref)


def test_grad_wrt_intermediate():
    x = leaf([1.0, 2.0])
    h = x * 3
    y = (h * h).sum()
    gh, gx = tg.autograd.grad(y, [h, x])
    assert_close(gh, 2 * np.array([3.0, 6.0]))
    assert_close(gx, 18 * np.array([1.0, 2.0]))


def test_create_graph_second_derivative():
    torch = pytest.importorskip("torch")
    xs = np.array([0.3, -0.8, 1.1])
    x = leaf(xs)
    y = (x.sin() * x * x).sum()
    (g,) = tg.autograd.grad(y, x, create_graph=True)
    assert g.requires_grad
    (h,) = tg.autograd.grad(g.sum(), x)
    tx = torch.tensor(xs, requires_grad=True)
    (tgrad,) = torch.autograd.grad((tx.sin() * tx * tx).sum(), tx, create_graph=True)
    (th,) = torch.autograd.grad(tgrad.sum(), tx)
    assert_close(g, tgrad)
    assert_close(h, th)


def test_create_graph_backward_accumulates_graph():
    x = leaf([2.0])
    y = x ** 3
    y.backward(create_graph=True)
    assert x.grad.requires_grad                        # 3x^2, still a graph
    g = x.grad
    x.grad = None
    g.backward()
    assert_close(x.grad, np.array([12.0]))              # 6x


def test_hessian_vector_product_wgan_gp_style():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    W, xs = rng.standard_normal((3, 4)), rng.standard_normal((2, 3))
    w, x = leaf(W), leaf(xs)
    out = (x @ w).tanh().sum()
    (gx,) = tg.autograd.grad(out, x, create_graph=True)
    penalty = ((gx.norm(dim=1) - 1) ** 2).mean()
    penalty.backward()
    tw, tx = torch.tensor(W, requires_grad=True), torch.tensor(xs, requires_grad=True)
    (tgx,) = torch.autograd.grad((tx @ tw).tanh().sum(), tx, create_graph=True)
    ((tgx.norm(dim=1) - 1) ** 2).mean().backward()
    assert_close(w.grad, tw.grad)
    assert_close(x.grad, tx.grad)


# ---- hooks and retain_grad ---------------------------------------------------------------------
def test_hook_on_leaf_can_replace_grad():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    assert_close(seen[0], np.array([3.0, 3.0]))
    assert_close(x.grad, np.array([30.0, 30.0]))


def test_hook_on_non_leaf_changes_upstream_grad():
    torch = pytest.importorskip("torch")
    x = leaf([1.0, 2.0])
    h = x * x
    h.register_hook(lambda g: g * 2)
    h.sum().backward()
    tx = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    th = tx * tx
    th.register_hook(lambda g: g * 2)
    th.sum().backward()
    assert_close(x.grad, tx.grad)


def test_leaf_hook_sees_the_total_gradient_once():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tg, torch):
        x = lib.tensor([3.0, -0.2], dtype=lib.float64, requires_grad=True)
        calls = []
        x.register_hook(lambda g, calls=calls: calls.append(g.tolist()) or g.clamp(-1, 1))
        (x * x + x * 2).sum().backward()           # x used three times
        results.append((calls, x.grad.tolist()))
    assert results[0] == results[1]
    assert len(results[0][0]) == 1


def test_hook_handle_remove():
    x = leaf([1.0])
    handle = x.register_hook(lambda g: g * 100)
    handle.remove()
    (x * 2).sum().backward()
    assert x.grad.item() == 2.0


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="doesn't require"):
        tg.ones(2).register_hook(lambda g: g)


def test_retain_grad():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    y = (h * h).sum()
    y.backward()
    assert_close(h.grad, 2 * np.array([3.0, 6.0]))
    assert_close(x.grad, 18 * np.array([1.0, 2.0]))
    z = x * 2
    (z * 1).sum().backward()
    assert z.grad is None                    # not retained: intermediate grads are not stored


# ---- grad mode ---------------------------------------------------------------------------------
def test_no_grad_and_enable_grad():
    x = leaf([1.0])
    assert tg.is_grad_enabled()
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = x * 2
        with tg.enable_grad():
            assert tg.is_grad_enabled()
            z = x * 2
    assert tg.is_grad_enabled()
    assert not y.requires_grad and z.requires_grad


def test_grad_mode_decorators():
    x = leaf([1.0])

    @tg.no_grad()
    def infer(t):
        return t * 2

    @tg.enable_grad()
    def train(t):
        return t * 2

    assert not infer(x).requires_grad
    with tg.no_grad():
        assert train(x).requires_grad
    assert tg.is_grad_enabled()


def test_set_grad_enabled():
    x = leaf([1.0])
    with tg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert tg.is_grad_enabled()
    tg.set_grad_enabled(False)
    assert not tg.is_grad_enabled()
    tg.set_grad_enabled(True)
    assert (x * 2).requires_grad

    @tg.set_grad_enabled(False)
    def f(t):
        return t * 2
    assert not f(x).requires_grad and tg.is_grad_enabled()


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(ValueError), tg.no_grad():
        raise ValueError("boom")
    assert tg.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = leaf([1.0, 2.0])
    y = x * 2
    z = (y.detach() * x).sum()              # only the direct path counts
    z.backward()
    assert_close(x.grad, np.array([2.0, 4.0]))
    assert not y.detach().requires_grad


def test_ops_on_non_grad_inputs_record_nothing():
    a, b = tg.ones(2), tg.ones(2)
    c = a * b + 1
    assert c.grad_fn is None and not c.requires_grad


def test_integer_outputs_do_not_require_grad():
    x = leaf([1.0, 3.0, 2.0])
    assert not x.argmax().requires_grad
    assert not (x > 1).requires_grad
    values, indices = x.max(dim=0)
    assert values.requires_grad and not indices.requires_grad


def test_leaf_grad_does_not_alias_the_callers_gradient():
    a = leaf([1.0, 1.0])
    g = tg.tensor([1.0, 2.0], dtype=F64)
    (a + 0.0).backward(g)                     # Add passes the gradient through unchanged
    with tg.no_grad():
        a.grad += 1.0                         # in place on .grad (as optimisers do)
    assert g.tolist() == [1.0, 2.0]
    assert a.grad.tolist() == [2.0, 3.0]


def test_two_leaves_get_separate_grad_storage():
    a, b = leaf([1.0]), leaf([2.0])
    (a + b).sum().backward()
    with tg.no_grad():
        a.grad.mul_(5.0)
    assert b.grad.item() == 1.0


def test_post_accumulate_hook_runs_as_soon_as_a_leaf_is_complete():
    # w1 is used only by the last op of the forward (the first to run in backward): its gradient
    # is complete, and its hook runs, before the backward reaches w0
    events = []
    w0 = tg.randn(3, 3, requires_grad=True)
    w1 = tg.randn(3, 3, requires_grad=True)
    x = tg.randn(2, 3)
    h = (x @ w0).tanh()
    h.register_hook(lambda g: events.append("h"))                 # runs when backward passes h
    w1.register_post_accumulate_grad_hook(lambda t: events.append(("w1", t.grad is not None)))
    w0.register_post_accumulate_grad_hook(lambda t: events.append(("w0", t.grad is not None)))
    (h @ w1).sum().backward()
    assert events == [("w1", True), "h", ("w0", True)]


def test_post_accumulate_hook_sees_the_sum_over_every_use():
    w = tg.randn(4, requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    y = (w * 2).sum() + (w * w).sum() + w.sum()
    y.backward()
    np.testing.assert_allclose(seen[0], 2 + 2 * w.detach().numpy() + 1, rtol=1e-6)
    assert len(seen) == 1
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda t: None)


def test_a_root_gradient_is_taken_in_the_outputs_dtype():
    # as PyTorch: a float64 gradient into a float32 output leaves a float32 .grad (it was
    # float64 after exp, relu, clamp, a product, a sum; float32 after others)
    for f in (lambda t: t.exp(), lambda t: t.relu(), lambda t: t * 2, lambda t: t.sigmoid()):
        x = tg.ones(3, requires_grad=True)
        f(x).backward(tg.ones(3, dtype=tg.float64))
        assert x.grad.dtype == tg.float32


# ---- found by tests/autograd/test_fuzz_engine.py (PyTorch's answers) --------------------------
def test_grad_accumulates_in_place_outside_create_graph():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    held = x.grad
    (x * 3).sum().backward()
    assert x.grad is held
    np.testing.assert_array_equal(held.numpy(), [6.0, 6.0])


def test_backward_inputs_count_each_tensor_once():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward(inputs=[x, x])
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    y = x * 3
    y.retain_grad()
    (y * y).sum().backward(inputs=[y])          # once, not once more by retain_grad
    np.testing.assert_array_equal(y.grad.numpy(), [6.0, 12.0])
    z = x * 2
    z.register_hook(lambda g: g * 10)           # a non-leaf input's .grad: after its hooks
    tg.autograd.backward([(z * z).sum()], inputs=[z])
    np.testing.assert_array_equal(z.grad.numpy(), [40.0, 80.0])
    assert not z.retains_grad


def test_a_leaf_frozen_after_use_gets_no_grad():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3).sum()
    x.requires_grad_(False)
    y.backward()
    assert x.grad is None


def test_retain_grad_only_where_the_pass_goes():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    w = tg.tensor([5.0, 6.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    tg.autograd.grad((y * w).sum(), [w])        # y's node is not needed for w
    assert y.grad is None
    tg.autograd.grad((y * w).sum(), [x])
    np.testing.assert_array_equal(y.grad.numpy(), [5.0, 6.0])
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad"):
        tg.ones(2).retain_grad()


def test_a_lone_root_keeps_its_gradient_even_where_the_pass_needs_nothing_of_it():
    """PyTorch's engine starts at a lone root's node (no GraphRoot), so that node's hooks and
    retain_grad run even where no requested input needs it; with two roots, they do not."""
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    w = tg.tensor([5.0, 6.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    tg.autograd.backward([y], [tg.tensor([7.0, 8.0])], inputs=[w])
    np.testing.assert_array_equal(y.grad.numpy(), [7.0, 8.0])
    y.grad = None
    tg.autograd.backward([y, w * 2], [tg.tensor([7.0, 8.0]), tg.ones(2)], inputs=[w])
    assert y.grad is None


def test_a_retained_grad_is_a_copy_summed_out_of_place():
    """retain_grad keeps a copy and adds later gradients out of place (as PyTorch's hook): the
    gradient autograd.grad returned once is not changed by a later pass."""
    x = tg.tensor([1.0, 2.0], dtype=F64, requires_grad=True)
    y = x * 3
    y.retain_grad()
    (g,) = tg.autograd.grad((y * y).sum(), [y], create_graph=True, retain_graph=True)
    held = y.grad
    assert held is not g
    tg.autograd.grad((y * 10).sum(), [x])
    np.testing.assert_array_equal(g.detach().numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(held.detach().numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(y.grad.numpy(), [16.0, 22.0])


def test_a_hooked_input_of_autograd_grad():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.register_hook(lambda g: g * 10)
    (alone,) = tg.autograd.grad((y * y).sum(), [y])          # y's node goes no further
    dy, dx = tg.autograd.grad((y * y).sum(), [y, x])          # it goes on to x
    np.testing.assert_array_equal(alone.numpy(), [60.0, 120.0])
    np.testing.assert_array_equal(dy.numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(dx.numpy(), [180.0, 360.0])


def test_two_inputs_on_one_array_are_saved_apart():
    """x * x.detach(): the detached alias shares x's array; its saved value must not become x
    (the second derivative was 1, from a graph through the detached side)."""
    x = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64, requires_grad=True)
    (g,) = tg.autograd.grad((x * x.detach()).sum(), [x], create_graph=True)
    np.testing.assert_array_equal(g.detach().numpy(), [1.0, 2.0, 3.0])
    (gg,) = tg.autograd.grad(g.sum(), [x], allow_unused=True)
    assert gg is None or not np.any(gg.numpy())
    p = x.detach().requires_grad_()
    gp, _ = tg.autograd.grad((p * x).sum(), [p, x], create_graph=True)
    (gpp,) = tg.autograd.grad(gp.sum(), [p], allow_unused=True)
    assert gpp is None or not np.any(gpp.numpy())


def test_second_derivative_of_a_graph_free_gradient_is_zeros():
    """relu's gradient does not depend on x, but PyTorch's formula records x (its derivative is
    zeros_like), so grad(grad(relu(x).sum(), x, create_graph=True), x) is zeros, not a refusal
    for an unused input: tinygen's zero derivative (engine.ZeroDerivative) must send zeros into
    its anchor, not None (a fuzzer's fix once did, and this refused)."""
    x = tg.tensor([1.0, -2.0, 3.0], dtype=tg.float64, requires_grad=True)
    (g,) = tg.autograd.grad(tg.relu(x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.detach().numpy(), [1.0, 0.0, 1.0])
    (gg,) = tg.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(gg.numpy(), [0.0, 0.0, 0.0])
