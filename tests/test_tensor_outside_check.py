"""The issue's outside check, rehearsed: about 80 expressions written once with API.md names only,
run with tinygen and with PyTorch in float64; values, first gradients and second gradients must
agree within rtol 1e-6. Each expression is fn(m, *tensors) with m the module (tg or torch)."""
import pytest
from helpers import check_fn

POS = {"positive": True}

EXPRESSIONS = {
    # elementwise
    "add": (lambda m, a, b: a + b, [(2, 3), (3,)], {}),
    "sub_scalar": (lambda m, a: 1.5 - a, [(2, 3)], {}),
    "mul_broadcast": (lambda m, a, b: a * b, [(2, 1, 3), (4, 1)], {}),
    "div": (lambda m, a, b: a / (b * b + 1), [(2, 3), (2, 3)], {}),
    "pow_scalar": (lambda m, a: a ** 3, [(2, 3)], {}),
    "pow_tensor": (lambda m, a, b: a ** b, [(2, 3), (2, 3)], POS),
    "rpow": (lambda m, a: 1.7 ** a, [(2, 3)], {}),
    "neg": (lambda m, a: -a, [(2, 3)], {}),
    "exp": (lambda m, a: m.exp(a), [(2, 3)], {}),
    "log": (lambda m, a: m.log(a), [(2, 3)], POS),
    "log1p": (lambda m, a: a.log1p(), [(2, 3)], POS),
    "sqrt": (lambda m, a: m.sqrt(a), [(2, 3)], POS),
    "rsqrt": (lambda m, a: a.rsqrt(), [(2, 3)], POS),
    "abs": (lambda m, a: m.abs(a), [(2, 3)], {}),
    "sign_mul": (lambda m, a: a.sign() * a * a, [(2, 3)], {}),
    "sin": (lambda m, a: a.sin(), [(2, 3)], {}),
    "cos": (lambda m, a: a.cos(), [(2, 3)], {}),
    "tanh": (lambda m, a: m.tanh(a), [(2, 3)], {}),
    "sigmoid": (lambda m, a: m.sigmoid(a), [(2, 3)], {}),
    "relu": (lambda m, a: a.relu() * a, [(2, 3)], {}),
    "clamp": (lambda m, a: m.clamp(a, -0.5, 0.5) * a, [(2, 3)], {}),
    "maximum": (lambda m, a, b: m.maximum(a, b) * a, [(2, 3), (3,)], {}),
    "minimum": (lambda m, a, b: m.minimum(a, b) * b, [(2, 3), (2, 3)], {}),
    "where": (lambda m, a, b: m.where(a > 0, a * b, b * b), [(2, 3), (2, 3)], {}),
    "remainder": (lambda m, a: (a % 0.7) * a, [(2, 3)], {}),
    "chain": (lambda m, a, b: ((a * b).tanh() + a.exp()).sigmoid().log(), [(3,), (3,)], {}),
    # reductions
    "sum_all": (lambda m, a: (a * a).sum(), [(2, 3)], {}),
    "sum_dim": (lambda m, a: (a * a).sum(dim=1), [(2, 3)], {}),
    "sum_tuple_keep": (lambda m, a: (a * a).sum(dim=(0, 2), keepdim=True), [(2, 3, 2)], {}),
    "mean": (lambda m, a: (a * a).mean(dim=-1), [(2, 3)], {}),
    "var": (lambda m, a: a.var(dim=0), [(3, 2)], {}),
    "std": (lambda m, a: a.std(), [(3, 2)], {}),
    "std_keep": (lambda m, a: a.std(dim=1, keepdim=True), [(2, 3)], {}),
    "prod": (lambda m, a: a.prod(dim=1), [(2, 3)], {}),
    "max_full": (lambda m, a: a.max() * a, [(2, 3)], {}),
    "max_dim": (lambda m, a: a.max(dim=1)[0] ** 2, [(2, 3)], {}),
    "min_dim": (lambda m, a: a.min(dim=0).values ** 2, [(2, 3)], {}),
    "amax": (lambda m, a: a.amax(dim=(0, 1)) * a, [(2, 3)], {}),
    "amin": (lambda m, a: a.amin(dim=-1) ** 2, [(2, 3)], {}),
    "logsumexp": (lambda m, a: m.logsumexp(a, dim=1), [(2, 3)], {}),
    "norm": (lambda m, a: a.norm(), [(2, 3)], {}),
    "norm_dim": (lambda m, a: a.norm(dim=1), [(2, 3)], {}),
    "norm_p1": (lambda m, a: a.norm(p=1, dim=0) ** 2, [(2, 3)], {}),
    "softmax": (lambda m, a: m.softmax(a, dim=-1), [(2, 3)], {}),
    "log_softmax": (lambda m, a: m.log_softmax(a, dim=0), [(2, 3)], {}),
    "cumsum": (lambda m, a: m.cumsum(a * a, dim=1), [(2, 3)], {}),
    # shape
    "reshape": (lambda m, a: (a * a).reshape(3, 2), [(2, 3)], {}),
    "view": (lambda m, a: (a * a).view(-1), [(2, 3)], {}),
    "flatten": (lambda m, a: (a * a).flatten(1), [(2, 3, 2)], {}),
    "unflatten": (lambda m, a: (a * a).unflatten(1, (3, 2)), [(2, 6)], {}),
    "permute": (lambda m, a: (a * a).permute(2, 0, 1), [(2, 3, 2)], {}),
    "transpose": (lambda m, a: (a * a).transpose(0, 1), [(2, 3)], {}),
    "t": (lambda m, a: (a * a).t(), [(2, 3)], {}),
    "mT": (lambda m, a: (a * a).mT, [(2, 2, 3)], {}),
    "squeeze": (lambda m, a: (a * a).squeeze(1), [(2, 1, 3)], {}),
    "unsqueeze": (lambda m, a: (a * a).unsqueeze(-1), [(2, 3)], {}),
    "expand": (lambda m, a: (a * a).expand(4, 3), [(1, 3)], {}),
    "expand_as": (lambda m, a, b: (a * a).expand_as(b) * b, [(3,), (2, 3)], {}),
    "repeat": (lambda m, a: (a * a).repeat(2, 2), [(2, 3)], {}),
    "split": (lambda m, a: (a * a).split(2, dim=1), [(2, 3)], {}),
    "chunk": (lambda m, a: (a * a).chunk(2, dim=0), [(3, 2)], {}),
    "contiguous": (lambda m, a: (a * a).t().contiguous(), [(2, 3)], {}),
    "cat": (lambda m, a, b: m.cat([a * a, b], dim=1), [(2, 3), (2, 1)], {}),
    "stack": (lambda m, a, b: m.stack([a * a, b], dim=1), [(2, 3), (2, 3)], {}),
    "tril": (lambda m, a: m.tril(a * a), [(3, 3)], {}),
    "triu": (lambda m, a: m.triu(a * a, 1), [(3, 3)], {}),
    # indexing
    "getitem_basic": (lambda m, a: (a * a)[1:, None, ..., -1], [(3, 3)], {}),
    "getitem_int_array": (lambda m, a: (a * a)[[0, 0, 2]], [(3, 2)], {}),
    "getitem_bool": (lambda m, a: (a * a)[a > 0], [(3, 2)], {}),
    "gather": (lambda m, a: (a * a).gather(1, m.tensor([[0, 0], [2, 1]])), [(2, 3)], {}),
    "scatter_add": (lambda m, a, b: a.scatter_add(1, m.tensor([[0, 0], [2, 1]]), b * b),
                    [(2, 3), (2, 2)], {}),
    "index_select": (lambda m, a: (a * a).index_select(0, m.tensor([1, 1, 0])), [(2, 3)], {}),
    "masked_fill": (lambda m, a: (a * a).masked_fill(a > 0, 0.5), [(2, 3)], {}),
    "topk": (lambda m, a: m.topk(a * a, 2, dim=1)[0], [(2, 4)], {}),
    "sort": (lambda m, a: m.sort(a * a, dim=0)[0], [(3, 2)], {}),
    # linear algebra
    "matmul_1d": (lambda m, a, b: m.matmul(a, b) ** 2, [(3,), (3,)], {}),
    "matmul_2d": (lambda m, a, b: (a @ b).tanh(), [(2, 3), (3, 2)], {}),
    "matmul_batched": (lambda m, a, b: (a @ b) ** 2, [(2, 1, 2, 3), (3, 3, 2)], {}),
    "matmul_vec": (lambda m, a, b: (a @ b) ** 2, [(2, 3), (3,)], {}),
    "einsum": (lambda m, a, b: m.einsum("bij,bjk->bik", a, b) ** 2, [(2, 2, 3), (2, 3, 2)], {}),
    "mlp": (lambda m, x, w, b: (x @ w + b).relu().sum(dim=1).logsumexp(dim=0),
            [(4, 3), (3, 5), (5,)], {}),
}


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_outside_check_expression(name):
    fn, shapes, kw = EXPRESSIONS[name]
    check_fn(fn, shapes, gradcheck=False, seed=sum(map(ord, name)), **kw)


def test_expression_count():
    assert len(EXPRESSIONS) >= 70
