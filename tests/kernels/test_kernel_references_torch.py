"""The references of the softmax, layernorm, batchnorm, embedding, activation and adam families against
PyTorch (float64, 1e-10), and through dispatch the default kernels too: the table test then ties
every other implementation to these references."""
import numpy as np
import pytest

from tinygen_kernels import registry

torch = pytest.importorskip("torch")
TOL = dict(rtol=1e-10, atol=1e-10)


@pytest.fixture(params=["reference", None], ids=["reference", "default"])
def impl(request):
    return request.param


def kernel(name, impl):
    return registry.dispatch(name, "cpu", impl=impl)


def normal(shape, seed=0, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def torch_vjp(fn, x, gy):
    """fn(x) and the gradient of sum(fn(x) * gy) with respect to x, as NumPy arrays."""
    xt = torch.tensor(x, requires_grad=True)
    y = fn(xt)
    y.backward(torch.tensor(gy))
    return y.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("log", [False, True])
def test_softmax_family(impl, log):
    x, gy = normal((7, 33), 0, 3.0), normal((7, 33), 1)
    fwd, bwd = ("log_softmax_fwd", "log_softmax_bwd") if log else ("softmax_fwd", "softmax_bwd")
    y_t, gx_t = torch_vjp(lambda t: (torch.log_softmax if log else torch.softmax)(t, -1), x, gy)
    y = kernel(fwd, impl)(x)
    np.testing.assert_allclose(y, y_t, **TOL)
    np.testing.assert_allclose(kernel(bwd, impl)(y, gy), gx_t, **TOL)


@pytest.mark.parametrize("ignore_index, smoothing", [(-100, 0.0), (0, 0.0), (-100, 0.2), (3, 0.1)])
def test_cross_entropy(impl, ignore_index, smoothing):
    N, C = 11, 7
    logits = normal((N, C), 2, 3.0)
    target = np.random.default_rng(3).integers(0, C, size=N)
    target[::3] = ignore_index
    gloss = normal(N, 4)
    kw = dict(ignore_index=ignore_index, label_smoothing=smoothing)
    loss_t, g_t = torch_vjp(lambda t: torch.nn.functional.cross_entropy(
        t, torch.tensor(target), reduction="none", **kw), logits, gloss)
    loss, lse = kernel("cross_entropy_fwd", impl)(logits, target, **kw)
    np.testing.assert_allclose(loss, loss_t, **TOL)
    np.testing.assert_allclose(lse, torch.logsumexp(torch.tensor(logits), 1).numpy(), **TOL)
    g = kernel("cross_entropy_bwd", impl)(logits, target, lse, gloss, **kw)
    np.testing.assert_allclose(g, g_t, **TOL)


@pytest.mark.parametrize("affine", [True, False])
def test_layernorm(impl, affine):
    M, N = 9, 20
    x, gy = normal((M, N), 5, 2.0) + 1, normal((M, N), 6)
    w = normal(N, 7) if affine else None
    b = normal(N, 8) if affine else None
    wt = torch.tensor(w, requires_grad=True) if affine else None
    bt = torch.tensor(b, requires_grad=True) if affine else None
    xt = torch.tensor(x, requires_grad=True)
    y_t, mean_t, rstd_t = torch.native_layer_norm(xt, [N], wt, bt, 1e-5)
    y_t.backward(torch.tensor(gy))
    y, mean, rstd = kernel("layernorm_fwd", impl)(x, w, b, 1e-5)
    np.testing.assert_allclose(y, y_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(mean, mean_t.detach().numpy()[:, 0], **TOL)
    np.testing.assert_allclose(rstd, rstd_t.detach().numpy()[:, 0], **TOL)
    gx, gw, gb = kernel("layernorm_bwd", impl)(gy, x, w, mean, rstd)
    np.testing.assert_allclose(gx, xt.grad.numpy(), **TOL)
    if affine:
        np.testing.assert_allclose(gw, wt.grad.numpy(), **TOL)
        np.testing.assert_allclose(gb, bt.grad.numpy(), **TOL)


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_bwd(impl, padding_idx):
    V, D = 6, 5
    indices = np.random.default_rng(9).integers(0, V, size=(4, 7))
    gy = normal((4, 7, D), 10)
    weight = torch.tensor(normal((V, D), 11), requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(indices), weight, padding_idx=padding_idx).backward(
        torch.tensor(gy))
    gw = kernel("embedding_bwd", impl)(gy, indices, V, padding_idx=padding_idx)
    np.testing.assert_allclose(gw, weight.grad.numpy(), **TOL)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(impl, approximate):
    x, gy = normal((5, 40), 12, 4.0), normal((5, 40), 13)
    y_t, gx_t = torch_vjp(lambda t: torch.nn.functional.gelu(t, approximate=approximate), x, gy)
    np.testing.assert_allclose(kernel("gelu_fwd", impl)(x, approximate=approximate), y_t, **TOL)
    np.testing.assert_allclose(kernel("gelu_bwd", impl)(x, gy, approximate=approximate), gx_t,
                               **TOL)


def test_silu(impl):
    x, gy = normal((5, 40), 14, 4.0), normal((5, 40), 15)
    y_t, gx_t = torch_vjp(torch.nn.functional.silu, x, gy)
    np.testing.assert_allclose(kernel("silu_fwd", impl)(x), y_t, **TOL)
    np.testing.assert_allclose(kernel("silu_bwd", impl)(x, gy), gx_t, **TOL)


def test_sigmoid(impl):
    x = normal((5, 40), 16, 30.0)                  # saturated both ways too
    x.reshape(-1)[:4] = [-100.0, 100.0, -88.0, 0.0]
    np.testing.assert_allclose(kernel("sigmoid_fwd", impl)(x), torch.sigmoid(torch.tensor(x)),
                               **TOL)


@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 3.0), (0.5, -1.0), (-1.5, 20.0)])
def test_softplus(impl, beta, threshold):
    x = normal((5, 40), 18, 20.0)                  # saturated both ways, and past the threshold
    x.reshape(-1)[:4] = [-800.0, 800.0, 0.0, 1e-300]
    y_t = torch.nn.functional.softplus(torch.tensor(x), beta, threshold)
    np.testing.assert_allclose(kernel("softplus_fwd", impl)(x, beta, threshold), y_t, **TOL)


@pytest.mark.parametrize("slope", [0.01, 0.2, -1.5])
def test_leaky_relu(impl, slope):
    x, gy = normal((5, 40), 16, 4.0), normal((5, 40), 17)
    x[0, :3] = 0.0                                     # PyTorch's slope at the kink: negative_slope
    y_t, gx_t = torch_vjp(lambda t: torch.nn.functional.leaky_relu(t, slope), x, gy)
    np.testing.assert_allclose(kernel("leaky_relu_fwd", impl)(x, slope), y_t, **TOL)
    np.testing.assert_allclose(kernel("leaky_relu_bwd", impl)(x, gy, slope), gx_t, **TOL)


@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm(impl, affine):
    N, C, S = 4, 6, 15
    x, gy = normal((N, C, S), 18, 2.0) + 1, normal((N, C, S), 19)
    w = normal(C, 20) if affine else None
    b = normal(C, 21) if affine else None
    wt = torch.tensor(w, requires_grad=True) if affine else None
    bt = torch.tensor(b, requires_grad=True) if affine else None
    xt = torch.tensor(x, requires_grad=True)
    y_t = torch.nn.functional.batch_norm(xt, None, None, wt, bt, training=True, eps=1e-5)
    y_t.backward(torch.tensor(gy))
    y, mean, var = kernel("batchnorm_fwd", impl)(x, w, b, 1e-5)
    np.testing.assert_allclose(y, y_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2)), **TOL)
    np.testing.assert_allclose(var, x.var(axis=(0, 2)), **TOL)
    gx, gw, gb = kernel("batchnorm_bwd", impl)(gy, x, w, mean, 1 / np.sqrt(var + 1e-5))
    np.testing.assert_allclose(gx, xt.grad.numpy(), **TOL)
    if affine:
        np.testing.assert_allclose(gw, wt.grad.numpy(), **TOL)
        np.testing.assert_allclose(gb, bt.grad.numpy(), **TOL)


@pytest.mark.parametrize("decoupled, amsgrad, weight_decay, maximize",
                         [(False, False, 0.0, False), (False, True, 0.1, False),
                          (True, False, 0.1, False), (True, True, 0.01, True)])
def test_adam_step(impl, decoupled, amsgrad, weight_decay, maximize):
    shapes, step = [(3, 4), (7,), (300, 300)], 4
    params = [normal(s, 20 + i) for i, s in enumerate(shapes)]
    grads = [normal(s, 30 + i) for i, s in enumerate(shapes)]
    exp_avgs = [normal(s, 40 + i, 0.1) for i, s in enumerate(shapes)]
    exp_avg_sqs = [np.abs(normal(s, 50 + i, 0.01)) for i, s in enumerate(shapes)]
    max_sqs = [a * 1.5 for a in exp_avg_sqs]
    hyper = dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=weight_decay,
                 amsgrad=amsgrad, maximize=maximize, foreach=False)

    tparams = [torch.tensor(p, requires_grad=True) for p in params]
    optimizer = (torch.optim.AdamW if decoupled else torch.optim.Adam)(tparams, **hyper)
    for i, p in enumerate(tparams):
        p.grad = torch.tensor(grads[i])
        state = {"step": torch.tensor(float(step - 1)), "exp_avg": torch.tensor(exp_avgs[i]),
                 "exp_avg_sq": torch.tensor(exp_avg_sqs[i])}
        if amsgrad:
            state["max_exp_avg_sq"] = torch.tensor(max_sqs[i])
        optimizer.state[p] = state
    optimizer.step()

    kernel("adam_step", impl)(params, grads, exp_avgs, exp_avg_sqs, max_sqs if amsgrad else None,
                              step=step, lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-8,
                              weight_decay=weight_decay, decoupled=decoupled, amsgrad=amsgrad,
                              maximize=maximize)
    for i, p in enumerate(tparams):
        np.testing.assert_allclose(params[i], p.detach().numpy(), **TOL)
        np.testing.assert_allclose(exp_avgs[i], optimizer.state[p]["exp_avg"].numpy(), **TOL)
        np.testing.assert_allclose(exp_avg_sqs[i], optimizer.state[p]["exp_avg_sq"].numpy(),
                                   **TOL)
        if amsgrad:
            np.testing.assert_allclose(max_sqs[i], optimizer.state[p]["max_exp_avg_sq"].numpy(),
                                       **TOL)
