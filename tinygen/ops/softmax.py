"""softmax and log_softmax along a dim: the kernel table's fused rows (kernels/softmax.py) forward
and backward, each backward op differentiable again in Tensor ops."""
from __future__ import annotations

from ..autograd.function import Function
from .args import norm_dim
from .convert import as_float


class Softmax(Function):
    """softmax along dim: the kernel table's softmax_fwd; backward is SoftmaxBackward."""

    def forward(self, x, dim):
        self.dim = dim
        y = self.kernel("softmax_fwd")(x, dim)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return SoftmaxBackward.apply(y, gy, self.dim), None


class SoftmaxBackward(Function):
    """gx = y * (gy - sum(gy * y)): the softmax_bwd kernel forward, Tensor ops backward (so the
    fused op stays twice differentiable)."""

    def forward(self, y, gy, dim):
        self.dim = dim
        self.save_for_backward(y, gy)
        return self.kernel("softmax_bwd")(y, gy, dim)

    def backward(self, gg):
        y, gy = self.saved_tensors
        d = self.dim
        gy_grad = SoftmaxBackward.apply(y, gg, d) if self.inputs[1] is not None else None  # linear in gy
        y_grad = None
        if self.inputs[0] is not None:
            # d/dy_k: gg_k (gy_k - sum(gy y)) - gy_k sum(gg y)
            y_grad = gg * (gy - (gy * y).sum(dim=d, keepdim=True)) - gy * (gg * y).sum(dim=d, keepdim=True)
        return y_grad, gy_grad, None


class LogSoftmax(Function):
    """log_softmax along dim: the kernel table's log_softmax_fwd; backward LogSoftmaxBackward."""

    def forward(self, x, dim):
        self.dim = dim
        y = self.kernel("log_softmax_fwd")(x, dim)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return LogSoftmaxBackward.apply(y, gy, self.dim), None


class LogSoftmaxBackward(Function):
    """gx = gy - exp(y) * sum(gy): the log_softmax_bwd kernel forward, Tensor ops backward."""

    def forward(self, y, gy, dim):
        self.dim = dim
        self.save_for_backward(y, gy)
        return self.kernel("log_softmax_bwd")(y, gy, dim)

    def backward(self, gg):
        y, gy = self.saved_tensors
        d = self.dim
        p_gg = y.exp() * gg
        gy_grad = gg - p_gg.sum(dim=d, keepdim=True) if self.inputs[1] is not None else None
        y_grad = -p_gg * gy.sum(dim=d, keepdim=True) if self.inputs[0] is not None else None
        return y_grad, gy_grad, None


def softmax(input, dim):
    return Softmax.apply(as_float(input), norm_dim(dim, input.ndim, "softmax"))


def log_softmax(input, dim):
    return LogSoftmax.apply(as_float(input), norm_dim(dim, input.ndim, "log_softmax"))
