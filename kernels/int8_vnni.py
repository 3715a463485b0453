"""The int8 family (kernels/int8.py) on AVX-512 VNNI: vpdpbusd, four 8-bit products summed into
each int32 lane, 32 products per instruction (Intel Cascade Lake and later, AMD Zen 4 and later).

  numba_vnni_v2  int8_gemm and int8_conv2d with the inner loop written in LLVM IR (a numba
                 @intrinsic): blocks of 2 rows of a by 4 rows of b, eight vector accumulators
                 (vpdpbusd has a latency of several cycles: one accumulator would wait on itself),
                 the loads of each block's rows shared by its outputs. Below K = 64 or M = 4 it
                 runs numba_v1's loop instead: there the eight horizontal sums per block cost
                 more than vpdpbusd saves (K = 20: 0.85 ms against 0.63 ms)
                                                                  <- default where VNNI is

vpdpbusd multiplies unsigned bytes by signed bytes, and a holds signed ones. So each byte of a is
flipped to a + 128 (an xor with 0x80) and the extra 128 * sum_k b[n, k] is subtracted once per
output. The sums wrap modulo 2^32 (vpdpbusd does not saturate), and the true result fits in int32
(K <= MAX_K, see int8.py), so the wrapped arithmetic gives it exactly. K is padded with zeros to a
multiple of 32 (b's zeros make whatever a holds there count 0), and b with zero rows to a multiple
of 4: the weights are copied once per call, the activations only when K is not a multiple of 32
(the convolution's im2row writes padded rows itself).

Registered only where the host CPU has avx512vnni and avx512vl (llvmlite's view of it), so it is
never compiled elsewhere; numba_v1 is the portable version, and the one every machine tests.
"""
from __future__ import annotations

import numpy as np

from . import int8
from ._numba import HAVE_NUMBA, jit, jit_serial, numba_kernel, parallel_blocks, prange

VECTOR = 32             # bytes per vpdpbusd operand (256-bit, the AVX512VL form)
MIN_K, MIN_M = 64, 4    # smaller products run numba_v1 (see the module docs)


def has_vnni():
    """True when numba can emit vpdpbusd for this CPU."""
    if not HAVE_NUMBA:
        return False
    import llvmlite.binding as llvm  # lazy: only where numba is installed
    features = llvm.get_host_cpu_features()
    return bool(features.get("avx512vnni") and features.get("avx512vl"))


def _block_intrinsic(rows, cols):
    """A numba intrinsic: (a, b, m, n, nvec) -> the rows * cols int32 sums
    sum_{k < 32 nvec} (a[m + r, k] + 128) * b[n + c, k] (mod 2^32), as a tuple, row-major."""
    from llvmlite import ir  # lazy: only where numba is installed (registration checks)
    from numba import types  # lazy: as above
    from numba.core import cgutils  # lazy: as above
    from numba.extending import intrinsic  # lazy: as above

    def codegen(context, builder, sig, args):
        a_val, b_val, m_val, n_val, nvec = args
        intp = context.get_value_type(types.intp)
        i8, i32 = ir.IntType(8), ir.IntType(32)
        v32i8, v8i32 = ir.VectorType(i8, VECTOR), ir.VectorType(i32, 8)

        def row_pointers(value, arytype, first, count):
            array = context.make_array(arytype)(context, builder, value)
            shape = cgutils.unpack_tuple(builder, array.shape)
            strides = cgutils.unpack_tuple(builder, array.strides)
            return [cgutils.get_item_pointer2(
                context, builder, array.data, shape, strides, arytype.layout,
                [builder.add(first, ir.Constant(intp, i)), ir.Constant(intp, 0)])
                for i in range(count)]

        a_rows = row_pointers(a_val, sig.args[0], m_val, rows)
        b_rows = row_pointers(b_val, sig.args[1], n_val, cols)
        dot = cgutils.get_or_insert_function(builder.module, ir.FunctionType(
            v8i32, [v8i32, v32i8, v32i8]), "llvm.x86.avx512.vpdpbusd.256")
        reduce = cgutils.get_or_insert_function(builder.module, ir.FunctionType(
            i32, [v8i32]), "llvm.vector.reduce.add.v8i32")
        accs = [cgutils.alloca_once_value(builder, ir.Constant(v8i32, None))
                for _ in range(rows * cols)]
        flip = ir.Constant(v32i8, [ir.Constant(i8, -128)] * VECTOR)     # a -> a + 128 (u8)

        def load(pointer, offset):
            return builder.load(builder.bitcast(builder.gep(pointer, [offset]),
                                                v32i8.as_pointer()), align=1)

        with cgutils.for_range(builder, nvec) as loop:
            offset = builder.mul(loop.index, ir.Constant(intp, VECTOR))
            a_vectors = [builder.xor(load(p, offset), flip) for p in a_rows]
            b_vectors = [load(p, offset) for p in b_rows]
            for r, va in enumerate(a_vectors):
                for c, vb in enumerate(b_vectors):
                    acc = accs[r * cols + c]
                    builder.store(builder.call(dot, [builder.load(acc), va, vb]), acc)
        sums = [builder.call(reduce, [builder.load(acc)]) for acc in accs]
        return context.make_tuple(builder, sig.return_type, sums)

    def typer(typingctx, a, b, m, n, nvec):
        return types.UniTuple(types.int32, rows * cols)(a, b, m, n, nvec), codegen

    return intrinsic(typer)


if has_vnni():
    _block_2x4 = _block_intrinsic(2, 4)
    _block_1x4 = _block_intrinsic(1, 4)

    @jit_serial
    def _vnni_rows(a, b, flip_sums, n_out, out, m0, m1, L, n0, o0):
        """Outputs of rows m0:m1 of a (an even count, except at the very end) into
        out[n0 + m // L, o0 + n, m % L]: a convolution's (N, O, OH * OW) layout, or with L = 1
        and out (M, N, 1) a GEMM's.
        a (M, 32 * nvec) int8, b (N4, 32 * nvec) int8 with N4 a multiple of 4 >= n_out."""
        nvec = a.shape[1] // 32
        m = m0
        while m < m1:
            pair = m + 1 < m1
            # where rows m and m + 1 go, divided once per row, not once per output
            image0, l0 = n0 + m // L, m % L
            image1, l1 = n0 + (m + 1) // L, (m + 1) % L
            for n in range(0, b.shape[0], 4):
                if pair:
                    sums = _block_2x4(a, b, m, n, nvec)
                else:
                    s = _block_1x4(a, b, m, n, nvec)
                    zero = np.int32(0)
                    sums = (s[0], s[1], s[2], s[3], zero, zero, zero, zero)
                for j in range(min(4, n_out - n)):
                    out[image0, o0 + n + j, l0] = np.int32(sums[j] - flip_sums[n + j])
                    if pair:
                        out[image1, o0 + n + j, l1] = np.int32(sums[4 + j] - flip_sums[n + j])
            m += 2 if pair else 1

    @jit_serial
    def _row_sums_x128(b):
        """128 * sum_k b[n, k] per row, in int64 (the sum itself fits int32: K <= MAX_K)."""
        out = np.empty(b.shape[0], np.int64)
        for n in range(b.shape[0]):
            total = np.int32(0)
            for k in range(b.shape[1]):
                total += np.int32(b[n, k])
            out[n] = 128 * np.int64(total)
        return out

    @jit
    def _vnni_parallel(a, b, flip_sums, n_out, out, L, n0, o0, blocks):
        M = a.shape[0]
        if blocks == 0:
            _vnni_rows(a, b, flip_sums, n_out, out, 0, M, L, n0, o0)
            return
        for blk in prange(blocks):
            # even block boundaries, so that only the last block can end on a single row
            start = (blk * M // blocks) // 2 * 2
            stop = M if blk == blocks - 1 else ((blk + 1) * M // blocks) // 2 * 2
            _vnni_rows(a, b, flip_sums, n_out, out, start, stop, L, n0, o0)


def _padded(x, rows, cols):
    """x (r, c) int8 zero-padded to (rows, cols); x itself when it already is that shape."""
    if x.shape == (rows, cols) and x.flags.c_contiguous:
        return x
    out = np.zeros((rows, cols), np.int8)
    out[:x.shape[0], :x.shape[1]] = x
    return out


def _round_up(n, multiple):
    return -(-n // multiple) * multiple


def _weights(b, k_padded):
    """b zero-padded to (N rounded up to 4, k_padded) and 128 * its row sums (int64)."""
    b = _padded(b, _round_up(b.shape[0], 4), k_padded)
    return b, _row_sums_x128(b)


def gemm_vnni(a, b, out=None, n0=0, o0=0):
    """a (M, K) @ b (N, K)^T on vpdpbusd: a new (M, N) int32 array, or written into the
    convolution layout out[n0 + m // L, o0 + n, m % L] of out (N, O, L)."""
    k_padded = max(_round_up(a.shape[1], VECTOR), VECTOR)
    a = _padded(a, a.shape[0], k_padded)
    b_padded, flip_sums = _weights(b, k_padded)
    c = np.empty((a.shape[0], b.shape[0]), np.int32) if out is None else None
    target = c.reshape(a.shape[0], b.shape[0], 1) if out is None else out
    blocks = parallel_blocks(a.shape[0], b.shape[0] * k_padded)
    _vnni_parallel(a, b_padded, flip_sums, b.shape[0], target, target.shape[2], n0, o0, blocks)
    return c


def _usable(*arrays):
    return all(type(x) is np.ndarray and x.dtype == np.int8 for x in arrays)


if has_vnni():
    @numba_kernel("int8_gemm", impl="numba_vnni_v2", default=True)
    def int8_gemm_vnni(a, b):
        """numba_vnni_v2 (see the module docs)."""
        if not _usable(a, b):
            return NotImplemented
        int8.check_int8_gemm("int8_gemm", a, b)
        if a.shape[1] < MIN_K or a.shape[0] < MIN_M:
            return int8.int8_gemm_rows(a, b)
        return gemm_vnni(a, b)

    @numba_kernel("int8_conv2d", impl="numba_vnni_v2", default=True)
    def int8_conv2d_vnni(x, w, stride, padding, dilation, groups, pad_value=0):
        """numba_vnni_v2: numba_v1's im2row, rows padded to a multiple of 32 bytes, then
        vpdpbusd blocks written straight into the output layout."""
        if not _usable(x, w):
            return NotImplemented
        int8.check_int8_conv("int8_conv2d", x, w, groups, pad_value)
        if w[0].size < MIN_K:
            return int8.int8_conv2d_numba(x, w, stride, padding, dilation, groups, pad_value)
        return int8.conv_forward(np.ascontiguousarray(x), w, stride, padding, dilation, groups,
                                 pad_value, int8.im2row_numba, _gemm_into, VECTOR)


def _gemm_into(rows, w, y, n0, o0):
    if rows.shape[0] < MIN_M:
        int8.gemm_into_numba(np.ascontiguousarray(rows[:, :w.shape[1]]), w, y, n0, o0)
        return
    gemm_vnni(rows, w, out=y, n0=n0, o0=o0)
