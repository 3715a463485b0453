"""conv2d on the GPU as an implicit GEMM: kernels/conv2d_implicit_gemm.cu launched through CuPy,
registered against kernels/conv.py's references (same signatures):

  conv2d_fwd(x (N, C, H, W), w (O, C/groups, kH, kW), stride, padding, dilation, groups, bias)
  conv2d_bwd_input(gy (N, O, OH, OW), w, x_shape, stride, padding, dilation, groups) -> gx
  conv2d_bwd_weight(x, gy, w_shape, stride, padding, dilation, groups) -> gw

Versions (device="cuda"):
  reference  im2col (a strided copy of the whole batch) + one cuBLAS GEMM per group, through CuPy
  cuda_c_v1  the implicit GEMM of the .cu file: no im2col buffer at all; float32 only (float64
             and other dtypes return NotImplemented, so the reference runs)       <- default
Which wins depends on the shape: cuBLAS on big channel counts, the implicit GEMM where the
im2col copy dominates (small channel counts, large images); benchmarks/gpu_kernels.py measures
both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import cuda_build
from ._xp import array_module
from .conv import conv_output_size
from .registry import kernel

CU_FILE = "conv2d_implicit_gemm.cu"
BM = BN = 64
THREADS = 256


@dataclass(frozen=True)
class Geometry:
    """The 16 integers the kernels take (N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, G, OH, OW)
    and the launch grid of each GEMM."""
    args: tuple

    def grid(self, which):
        N, C, H, W, O, KH, KW, *_, G, OH, OW = self.args
        Cg, Og = C // G, O // G
        rows, cols = {
            "fwd": (Og, N * OH * OW),                 # M = Og, N = B L
            "bwd_weight": (Og, Cg * KH * KW),         # M = Og, N = Cg kH kW
            "bwd_input": (Cg, N * H * W),             # M = Cg, N = B H W
        }[which]
        return (math.ceil(cols / BN), math.ceil(rows / BM), G)


def geometry(x_shape, w_shape, stride, padding, dilation, groups):
    N, C, H, W = x_shape
    O, _, KH, KW = w_shape
    OH = conv_output_size(H, KH, stride[0], padding[0], dilation[0])
    OW = conv_output_size(W, KW, stride[1], padding[1], dilation[1])
    return Geometry((N, C, H, W, O, KH, KW, *stride, *padding, *dilation, groups, OH, OW))


def _ours(*arrays):
    return cuda_build.on_device(*arrays) and all(a.dtype == np.float32 for a in arrays)


def _launch(name, geo, which, a, b, out):
    xp = array_module(a)
    fn = cuda_build.function(CU_FILE, name)
    fn(geo.grid(which), (THREADS,),
       (xp.ascontiguousarray(a), xp.ascontiguousarray(b), out, *(np.int32(v) for v in geo.args)))
    return out


@kernel("conv2d_fwd", device="cuda", impl="cuda_c_v1", default=True)
def conv2d_fwd_igemm(x, w, stride, padding, dilation, groups, bias=None):
    """The bias, where given, is a CuPy add after the launch (the .cu kernel takes none)."""
    if not _ours(x, w) or x.size == 0 or w.size == 0:
        return NotImplemented
    geo = geometry(x.shape, w.shape, stride, padding, dilation, groups)
    N, O, OH, OW = x.shape[0], w.shape[0], geo.args[14], geo.args[15]
    if OH <= 0 or OW <= 0:
        return NotImplemented
    y = _launch("conv2d_fwd_igemm", geo, "fwd", x, w,
                array_module(x).empty((N, O, OH, OW), np.float32))
    if bias is not None:
        y += bias.reshape(1, -1, 1, 1)
    return y


@kernel("conv2d_bwd_input", device="cuda", impl="cuda_c_v1", default=True)
def conv2d_bwd_input_igemm(gy, w, x_shape, stride, padding, dilation, groups):
    if not _ours(gy, w) or gy.size == 0 or w.size == 0:
        return NotImplemented
    geo = geometry(tuple(x_shape), w.shape, stride, padding, dilation, groups)
    gx = array_module(gy).empty(tuple(x_shape), np.float32)
    return _launch("conv2d_bwd_input_igemm", geo, "bwd_input", gy, w, gx)


@kernel("conv2d_bwd_weight", device="cuda", impl="cuda_c_v1", default=True)
def conv2d_bwd_weight_igemm(x, gy, w_shape, stride, padding, dilation, groups):
    if not _ours(x, gy) or x.size == 0 or gy.size == 0:
        return NotImplemented
    geo = geometry(x.shape, tuple(w_shape), stride, padding, dilation, groups)
    gw = array_module(x).empty(tuple(w_shape), np.float32)
    return _launch("conv2d_bwd_weight_igemm", geo, "bwd_weight", x, gy, gw)
