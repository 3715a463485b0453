// SGEMM, C (M, N) = A (M, K) B (K, N), float32, row-major: a study kernel kept beside cuBLAS.
// Loaded by kernels/cuda_sgemm.py through cupy.RawModule; the contract is kernels/gemm.py's
// `sgemm` reference. cuBLAS (cupy.matmul) stays the default for every real matmul in tinygen;
// these versions show where its speed comes from, one idea at a time (after Simon Boehm's
// "How to optimize a CUDA matmul kernel for cuBLAS-like performance").
//
// Versions:
//   v1  sgemm_naive        one thread per C element, K-loop straight from global memory;
//                          threadIdx.x runs along N, so B and C accesses coalesce
//   v2  sgemm_smem         32 x 32 tiles of A and B staged in shared memory: each global
//                          element is read once per tile instead of once per output
//   v3  sgemm_regblock     128 x 128 block tile, K steps of 8, 256 threads each computing an
//                          8 x 8 register tile from outer products; A stored transposed in shared
//                          memory so both operands are read as broadcast-free rows
//                          (arithmetic intensity 8 FMAs per shared load)          <- default
// All versions handle any M, N, K (tiles past the edges are zero-filled, stores are guarded).

constexpr int SMEM_TILE = 32;

extern "C" __global__ void sgemm_naive(const float* __restrict__ a, const float* __restrict__ b,
                                       float* __restrict__ c, int M, int N, int K) {
    const int col = blockIdx.x * blockDim.x + threadIdx.x;
    const int row = blockIdx.y * blockDim.y + threadIdx.y;
    if (row >= M || col >= N) return;
    float acc = 0.f;
    for (int kk = 0; kk < K; ++kk) acc += a[(size_t)row * K + kk] * b[(size_t)kk * N + col];
    c[(size_t)row * N + col] = acc;
}

extern "C" __global__ void __launch_bounds__(SMEM_TILE * SMEM_TILE)
sgemm_smem(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ c,
           int M, int N, int K) {
    __shared__ float as[SMEM_TILE][SMEM_TILE];
    __shared__ float bs[SMEM_TILE][SMEM_TILE + 1];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int row = blockIdx.y * SMEM_TILE + ty;
    const int col = blockIdx.x * SMEM_TILE + tx;
    float acc = 0.f;
    for (int k0 = 0; k0 < K; k0 += SMEM_TILE) {
        as[ty][tx] = (row < M && k0 + tx < K) ? a[(size_t)row * K + k0 + tx] : 0.f;
        bs[ty][tx] = (k0 + ty < K && col < N) ? b[(size_t)(k0 + ty) * N + col] : 0.f;
        __syncthreads();
        #pragma unroll
        for (int kk = 0; kk < SMEM_TILE; ++kk) acc += as[ty][kk] * bs[kk][tx];
        __syncthreads();
    }
    if (row < M && col < N) c[(size_t)row * N + col] = acc;
}

constexpr int BM = 128, BN = 128, BK = 8, TM = 8, TN = 8;
constexpr int REG_THREADS = (BM / TM) * (BN / TN);      // 256

extern "C" __global__ void __launch_bounds__(REG_THREADS)
sgemm_regblock(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ c,
               int M, int N, int K) {
    __shared__ float as[BK][BM];                        // A tile, transposed: as[k][m]
    __shared__ float bs[BK][BN];
    const int tid = threadIdx.x;
    const int thread_row = tid / (BN / TN), thread_col = tid % (BN / TN);
    const int block_row = blockIdx.y * BM, block_col = blockIdx.x * BN;

    float acc[TM][TN] = {};
    float a_reg[TM], b_reg[TN];
    for (int k0 = 0; k0 < K; k0 += BK) {
        // BM x BK of A and BK x BN of B: 1024 floats each, 4 per thread
        for (int e = tid; e < BM * BK; e += REG_THREADS) {
            const int r = e / BK, kk = e % BK;
            const int gr = block_row + r, gk = k0 + kk;
            as[kk][r] = (gr < M && gk < K) ? a[(size_t)gr * K + gk] : 0.f;
        }
        for (int e = tid; e < BK * BN; e += REG_THREADS) {
            const int kk = e / BN, col = e % BN;
            const int gk = k0 + kk, gc = block_col + col;
            bs[kk][col] = (gk < K && gc < N) ? b[(size_t)gk * N + gc] : 0.f;
        }
        __syncthreads();
        #pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
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
        const int gr = block_row + thread_row * TM + i;
        if (gr >= M) continue;
        #pragma unroll
        for (int j = 0; j < TN; ++j) {
            const int gc = block_col + thread_col * TN + j;
            if (gc < N) c[(size_t)gr * N + gc] = acc[i][j];
        }
    }
}
