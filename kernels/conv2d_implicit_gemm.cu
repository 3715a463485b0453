// conv2d as an implicit GEMM (float32): forward, input gradient and weight gradient, any stride,
// padding, dilation and groups. Loaded by kernels/cuda_conv.py through cupy.RawModule; the
// contract is kernels/conv.py's conv2d_fwd / conv2d_bwd_input / conv2d_bwd_weight references.
//
// "Implicit": the im2col matrix is never written. Each GEMM below reads its operands straight
// from x, w or gy through index arithmetic, one shared-memory tile at a time, so the columns
// (kH kW times the input) never touch global memory. One GEMM per group (blockIdx.z).
//
// With Cg = C / groups, Og = O / groups, L = OH * OW, per group g:
//   forward       y[b, gOg + m, l]  = sum_k w[gOg + m, k] * col[k, (b, l)]        k = (c, i, j)
//                 M = Og, N = B L, K = Cg kH kW
//   weight grad   gw[gOg + m, k]    = sum_(b, l) gy[b, gOg + m, l] * col[k, (b, l)]
//                 M = Og, N = Cg kH kW, K = B L
//   input grad    gx[b, gCg + c, h, w] = sum_(o, i, j) w[gOg + o, c, i, j] * gy[b, gOg + o, oh, ow]
//                 where oh = (h + ph - i dh) / sh when that divides exactly and lands inside
//                 M = Cg, N = B H W, K = Og kH kW
// col[(c, i, j), (b, oh, ow)] = x[b, gCg + c, oh sh - ph + i dh, ow sw - pw + j dw], 0 outside.
//
// Versions:
//   v1  conv2d_{fwd,bwd_weight,bwd_input}_igemm   one GEMM core (64 x 64 block tile, K steps
//       of 8, 256 threads with 4 x 4 outputs each) and three operand gathers   <- default
//   (next, for issue 9: 16-byte loads where the gather is contiguous, tensor cores (TF32 WMMA),
//   and precomputed index tables instead of divisions in the inner loop)

constexpr int BM = 64, BN = 64, BK = 8, TM = 4, TN = 4;
constexpr int THREADS = (BM / TM) * (BN / TN);          // 256

struct Conv {          // the geometry, as passed from Python
    int N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, G, OH, OW;
    __device__ int cg() const { return C / G; }
    __device__ int og() const { return O / G; }
};

// x as the column matrix col[k = (c, i, j), n = (b, oh, ow)] of group g
__device__ __forceinline__ float col_at(const float* x, const Conv& p, int g, int k, int n) {
    const int khw = p.KH * p.KW, l = p.OH * p.OW;
    const int c = k / khw, i = (k % khw) / p.KW, j = k % p.KW;
    const int b = n / l, oh = (n % l) / p.OW, ow = n % p.OW;
    const int h = oh * p.SH - p.PH + i * p.DH, w = ow * p.SW - p.PW + j * p.DW;
    if (h < 0 || h >= p.H || w < 0 || w >= p.W) return 0.f;
    return x[(((size_t)b * p.C + g * p.cg() + c) * p.H + h) * p.W + w];
}

// ---- the three GEMMs' operands: A (M, K) and B (K, N) of group g, and where C goes ------------
struct Forward {
    const float *x, *w;
    float* y;
    __device__ int M(const Conv& p) const { return p.og(); }
    __device__ int N(const Conv& p) const { return p.N * p.OH * p.OW; }
    __device__ int K(const Conv& p) const { return p.cg() * p.KH * p.KW; }
    __device__ float a(const Conv& p, int g, int m, int k) const {
        return w[(size_t)(g * p.og() + m) * K(p) + k];
    }
    __device__ float b(const Conv& p, int g, int k, int n) const { return col_at(x, p, g, k, n); }
    __device__ void store(const Conv& p, int g, int m, int n, float v) const {
        const int l = p.OH * p.OW, bi = n / l;
        y[((size_t)bi * p.O + g * p.og() + m) * l + n % l] = v;
    }
};

struct WeightGrad {
    const float *x, *gy;
    float* gw;
    __device__ int M(const Conv& p) const { return p.og(); }
    __device__ int N(const Conv& p) const { return p.cg() * p.KH * p.KW; }
    __device__ int K(const Conv& p) const { return p.N * p.OH * p.OW; }
    __device__ float a(const Conv& p, int g, int m, int k) const {   // gy[b, gOg + m, l]
        const int l = p.OH * p.OW, bi = k / l;
        return gy[((size_t)bi * p.O + g * p.og() + m) * l + k % l];
    }
    __device__ float b(const Conv& p, int g, int k, int n) const { return col_at(x, p, g, n, k); }
    __device__ void store(const Conv& p, int g, int m, int n, float v) const {
        gw[(size_t)(g * p.og() + m) * N(p) + n] = v;
    }
};

struct InputGrad {
    const float *gy, *w;
    float* gx;
    __device__ int M(const Conv& p) const { return p.cg(); }
    __device__ int N(const Conv& p) const { return p.N * p.H * p.W; }
    __device__ int K(const Conv& p) const { return p.og() * p.KH * p.KW; }
    __device__ float a(const Conv& p, int g, int m, int k) const {   // w[gOg + o, c = m, i, j]
        const int khw = p.KH * p.KW, o = k / khw, ij = k % khw;
        return w[((size_t)(g * p.og() + o) * p.cg() + m) * khw + ij];
    }
    __device__ float b(const Conv& p, int g, int k, int n) const {   // gy where (h, w) was hit
        const int khw = p.KH * p.KW, o = k / khw, i = (k % khw) / p.KW, j = k % p.KW;
        const int hw = p.H * p.W, bi = n / hw, h = (n % hw) / p.W, w_ = n % p.W;
        const int oh_num = h + p.PH - i * p.DH, ow_num = w_ + p.PW - j * p.DW;
        if (oh_num < 0 || ow_num < 0 || oh_num % p.SH || ow_num % p.SW) return 0.f;
        const int oh = oh_num / p.SH, ow = ow_num / p.SW;
        if (oh >= p.OH || ow >= p.OW) return 0.f;
        return gy[(((size_t)bi * p.O + g * p.og() + o) * p.OH + oh) * p.OW + ow];
    }
    __device__ void store(const Conv& p, int g, int m, int n, float v) const {
        const int hw = p.H * p.W, bi = n / hw;
        gx[((size_t)bi * p.C + g * p.cg() + m) * hw + n % hw] = v;
    }
};

// ---- the GEMM core: C tile (BM x BN) of group blockIdx.z ---------------------------------------
template <class Op>
__device__ void igemm(const Op& op, const Conv& p) {
    __shared__ float as[BK][BM];                        // A tile transposed: as[k][m]
    __shared__ float bs[BK][BN];
    const int g = blockIdx.z;
    const int M = op.M(p), N = op.N(p), K = op.K(p);
    const int tid = threadIdx.x;
    const int thread_row = tid / (BN / TN), thread_col = tid % (BN / TN);
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    float acc[TM][TN] = {};
    for (int k0 = 0; k0 < K; k0 += BK) {
        for (int e = tid; e < BM * BK; e += THREADS) {
            const int m = e / BK, kk = e % BK;
            as[kk][m] = (m0 + m < M && k0 + kk < K) ? op.a(p, g, m0 + m, k0 + kk) : 0.f;
        }
        for (int e = tid; e < BK * BN; e += THREADS) {
            const int kk = e / BN, n = e % BN;          // consecutive threads: consecutive n
            bs[kk][n] = (k0 + kk < K && n0 + n < N) ? op.b(p, g, k0 + kk, n0 + n) : 0.f;
        }
        __syncthreads();
        #pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
            float a_reg[TM], b_reg[TN];
            #pragma unroll
            for (int i = 0; i < TM; ++i) a_reg[i] = as[kk][thread_row * TM + i];
            #pragma unroll
            for (int j = 0; j < TN; ++j) b_reg[j] = bs[kk][thread_col * TN + j];
            #pragma unroll
            for (int i = 0; i < TM; ++i) {
                #pragma unroll
                for (int j = 0; j < TN; ++j) acc[i][j] += a_reg[i] * b_reg[j];
            }
        }
        __syncthreads();
    }
    #pragma unroll
    for (int i = 0; i < TM; ++i) {
        const int m = m0 + thread_row * TM + i;
        if (m >= M) continue;
        #pragma unroll
        for (int j = 0; j < TN; ++j) {
            const int n = n0 + thread_col * TN + j;
            if (n < N) op.store(p, g, m, n, acc[i][j]);
        }
    }
}

#define CONV_ARGS int N, int C, int H, int W, int O, int KH, int KW, int SH, int SW, int PH,   \
                  int PW, int DH, int DW, int G, int OH, int OW
#define CONV_INIT {N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, G, OH, OW}

extern "C" __global__ void __launch_bounds__(THREADS)
conv2d_fwd_igemm(const float* x, const float* w, float* y, CONV_ARGS) {
    const Conv p = CONV_INIT;
    igemm(Forward{x, w, y}, p);
}

extern "C" __global__ void __launch_bounds__(THREADS)
conv2d_bwd_weight_igemm(const float* x, const float* gy, float* gw, CONV_ARGS) {
    const Conv p = CONV_INIT;
    igemm(WeightGrad{x, gy, gw}, p);
}

extern "C" __global__ void __launch_bounds__(THREADS)
conv2d_bwd_input_igemm(const float* gy, const float* w, float* gx, CONV_ARGS) {
    const Conv p = CONV_INIT;
    igemm(InputGrad{gy, w, gx}, p);
}
