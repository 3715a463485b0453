"""Every kernel in the kernel table runs from an op: a workload that touches each op family on
the CPU records which kernels the ops asked for (Function.kernel -> kernel_for), and every
registered name must be among them. A kernel no op reaches is dead code, however well tested."""
import numpy as np

import tinygen as tg
import tinygen.nn.functional as F
from tinygen import nn
from tinygen.autograd import function as function_module
from tinygen.backend.dispatch import references
from tinygen.ops import binary, quantized


def _workload():
    x = tg.randn(4, 3, 8, 8, requires_grad=True)
    conv = nn.Conv2d(3, 4, 3, padding=1)      # its weight and bias gradients: one kernel
    y = F.batch_norm(conv(x) + nn.Conv2d(3, 4, 3, padding=1, bias=False)(x), None, None,
                     training=True)
    y = F.group_norm(F.interpolate(y, scale_factor=2), 2).relu()    # (4, 4, 16, 16): relu_fwd
    y = F.avg_pool2d(F.max_pool2d(F.leaky_relu(y, 0.2), 4), 2)               # (4, 4, 2, 2)
    h = y.flatten(1)                                                         # (4, 16)
    h = F.softplus(F.layer_norm(F.silu(F.gelu(h)), (16,))).relu().sigmoid().tanh()
    ids = tg.randint(0, 10, (4, 5))
    emb = nn.Embedding(10, 16)(ids)                                          # (4, 5, 16)
    q = emb.reshape(4, 1, 5, 16)
    att = F.scaled_dot_product_attention(q, q, q, is_causal=True).sum(dim=(1, 2))
    logits = (h + att) @ tg.randn(16, 10)                                    # a 2-D float32 matmul
    loss = F.cross_entropy(logits, tg.randint(0, 10, (4,))) + \
        logits.softmax(-1).sum() + logits.log_softmax(-1).sum() + \
        x.sum(dim=(0, 2, 3)).sum()                                      # channel_sum
    params = list(conv.parameters())
    loss.backward()
    tg.optim.Adam(params).step()
    tg.optim.SGD(params, lr=0.1, momentum=0.9).step()
    # int8 inference (tinygen.quantization's modules run these): the int8 GEMM and convolution
    w_q, w_scale = quantized.quantize_weight(conv.weight.detach())
    y = quantized.quantized_conv2d(x.detach(), w_q, w_scale, conv.bias.detach(), padding=1,
                                   input_scale=0.05, input_zero_point=3)        # static
    w_q, w_scale = quantized.quantize_weight(tg.randn(5, 16))
    quantized.quantized_linear(y.flatten(2).mean(-1).repeat(1, 4), w_q, w_scale)  # dynamic


def test_every_registered_kernel_is_reached_by_an_op(monkeypatch):
    asked = set()
    original = function_module.kernel_for

    def recording(name, device_type):
        asked.add(name)
        return original(name, device_type)

    monkeypatch.setattr(function_module, "kernel_for", recording)
    monkeypatch.setattr(binary, "_ADD_KERNEL_MIN", 1)     # Add's kernel is for large arrays
    _workload()
    assert sorted(set(references()) - asked) == []


def test_workload_runs_the_same_in_reference_mode():
    # the same ops through the NumPy references (TINYGEN_KERNELS=reference) give the same loss
    from tinygen_kernels.registry import set_mode

    def loss_of_step():
        tg.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.GELU(), nn.Flatten(), nn.LayerNorm(18),
                              nn.SiLU(), nn.Linear(18, 3))
        x = tg.randn(2, 1, 5, 5)
        return F.cross_entropy(model(x), tg.tensor([0, 2])).item()

    fast = loss_of_step()
    set_mode("reference")
    try:
        slow = loss_of_step()
    finally:
        set_mode("default")
    np.testing.assert_allclose(fast, slow, rtol=1e-5)
