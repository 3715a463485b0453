// Flash attention, forward and backward (Dao et al. 2022; Dao 2023), causal or not.
// Loaded by kernels/cuda_attention.py through cupy.RawModule; the contract (shapes, scale, the
// causal mask aligned top-left, lse in float32) is kernels/attention.py's reference.
//
// Layout: q, o, do (BH, T, D); k, v (BH, S, D); lse, delta (BH, T) float32; all contiguous.
// Every kernel is a template over the element type and the head size D, instantiated below
// under plain extern "C" names (flash_fwd_f32_d64, flash_fwd_wmma_f16_d128, ...).
//
// Versions:
//   fwd v1  flash_fwd_f32_d<D>                  float32, one thread per query row; key/value
//           tiles of 32 rows in shared memory, a tile's scores parked in shared memory so that
//           O is rescaled once per tile (online softmax), exp2 with log2(e) folded into the
//           scale. The readable baseline, and the float32 path.
//   fwd v2  flash_fwd_wmma_<f16|bf16>_d<D>      tensor cores through WMMA (m16n16k16, float32
//           accumulation). A block of 4 warps owns 64 query rows, 16 per warp; per 64-key tile:
//           S = Q K^T by WMMA into shared memory, the online softmax by lanes (2 lanes a row),
//           P rounded to the input type, then O += P V by WMMA on an O kept in shared memory in
//           float32 (rescaled by the lanes first: WMMA's accumulator layout is opaque). Shared
//           memory: 70 KB at D = 64, 110 KB at D = 128, so the launcher raises the dynamic
//           limit (cuda_attention.py mirrors WmmaSmem).                 <- default for 16-bit
//   bwd v1  flash_bwd_{preprocess,dkdv,dq}_f32_d<D>   float32 (16-bit inputs with D = 32 are
//           widened by the launcher): delta = rowsum(dO * O); then one thread per key
//           accumulating dK, dV over all query rows (P recomputed from lse), and one thread per
//           query row accumulating dQ over all keys. Two passes instead of atomics:
//           deterministic, no float32 dQ buffer.
//   bwd v2  flash_bwd_wmma_<f16|bf16>_d<D>      tensor cores through WMMA: a block of 4 warps
//           owns 64 keys and walks the query tiles that see them; S^T, dV, dP^T, dK and dQ are
//           five WMMA products per tile, dK and dV accumulate in shared memory (float32), dQ is
//           added into a float32 buffer with atomics (delta from the launcher). Shared memory:
//           113.5 KB at D = 64, 193.5 KB at D = 128.                          <- default for 16-bit
// Head sizes: D in {32, 64, 128} (float32), {64, 128} (WMMA); other shapes take the reference.
// TINYGEN_HOST_EMULATION: tests/gpu/host_emulation.h compiles this file for the CPU with g++,
// with its own 16-bit types and WMMA standing in for these headers.
#ifndef TINYGEN_HOST_EMULATION
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <mma.h>
#endif

namespace {

#define INF __int_as_float(0x7f800000)              // +infinity (NVRTC has no math.h INFINITY)
constexpr float LOG2E = 1.4426950408889634f;
constexpr float LN2 = 0.6931471805599453f;

// ---- element types: load as float, store from float -------------------------------------------
__device__ __forceinline__ float to_float(float x) { return x; }
template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
template <> __device__ __forceinline__ __half from_float<__half>(float x) {
    return __float2half_rn(x);
}
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
    return __float2bfloat16_rn(x);
}

// ================================================================================================
// fwd v1: one thread per query row
// ================================================================================================
constexpr int V1_ROWS = 64;     // query rows (threads) per block
constexpr int V1_KEYS = 32;     // keys per shared-memory tile

template <typename T, int D>
__device__ void flash_fwd_v1(const T* __restrict__ q, const T* __restrict__ k,
                             const T* __restrict__ v, T* __restrict__ o, float* __restrict__ lse,
                             int T_len, int S_len, float scale, int causal) {
    __shared__ float ks[V1_KEYS][D];
    __shared__ float vs[V1_KEYS][D];
    __shared__ float scores[V1_KEYS][V1_ROWS];
    const int bh = blockIdx.y;
    const int row0 = blockIdx.x * V1_ROWS;
    const int i = row0 + threadIdx.x;                  // this thread's query row
    const bool active = i < T_len;
    q += (size_t)bh * T_len * D;
    k += (size_t)bh * S_len * D;
    v += (size_t)bh * S_len * D;

    float qr[D], acc[D];
    #pragma unroll
    for (int d = 0; d < D; ++d) {
        qr[d] = active ? to_float(q[(size_t)i * D + d]) * scale * LOG2E : 0.f;   // base-2 scores
        acc[d] = 0.f;
    }
    float m = -INF, l = 0.f;

    const int last_row = min(row0 + V1_ROWS, T_len);   // keys past the last row are all masked
    const int s_end = causal ? min(S_len, last_row) : S_len;
    for (int s0 = 0; s0 < s_end; s0 += V1_KEYS) {
        __syncthreads();                                // the previous tile is consumed
        for (int e = threadIdx.x; e < V1_KEYS * D; e += blockDim.x) {
            const int j = e / D, d = e % D;
            const bool in = s0 + j < S_len;
            ks[j][d] = in ? to_float(k[(size_t)(s0 + j) * D + d]) : 0.f;
            vs[j][d] = in ? to_float(v[(size_t)(s0 + j) * D + d]) : 0.f;
        }
        __syncthreads();
        // scores of this tile into shared memory (column threadIdx.x: no bank conflicts), so
        // that the tile's max is known before any exp and O is rescaled once per tile
        float tile_max = -INF;
        for (int j = 0; j < V1_KEYS; ++j) {
            float dot = 0.f;
            #pragma unroll
            for (int d = 0; d < D; ++d) dot += qr[d] * ks[j][d];
            const int key = s0 + j;
            const bool masked = key >= S_len || (causal && key > i);
            const float s = masked ? -INF : dot;
            scores[j][threadIdx.x] = s;
            tile_max = fmaxf(tile_max, s);
        }
        const float m_new = fmaxf(m, tile_max);
        if (m_new == -INF) continue;                    // nothing visible yet (padding rows)
        const float alpha = exp2f(m - m_new);           // rescale what came before
        float tile_sum = 0.f;
        #pragma unroll
        for (int d = 0; d < D; ++d) acc[d] *= alpha;
        for (int j = 0; j < V1_KEYS; ++j) {
            const float p = exp2f(scores[j][threadIdx.x] - m_new);
            tile_sum += p;
            #pragma unroll
            for (int d = 0; d < D; ++d) acc[d] += p * vs[j][d];
        }
        l = l * alpha + tile_sum;
        m = m_new;
    }
    if (!active) return;
    const float inv_l = 1.f / l;
    o += (size_t)bh * T_len * D + (size_t)i * D;
    #pragma unroll
    for (int d = 0; d < D; ++d) o[d] = from_float<T>(acc[d] * inv_l);
    lse[(size_t)bh * T_len + i] = m * LN2 + logf(l);
}

// ================================================================================================
// fwd v2: tensor cores through WMMA (16-bit inputs, float32 accumulation)
// ================================================================================================
namespace wmma = nvcuda::wmma;

constexpr int W_ROWS = 64;      // query rows per block: 4 warps x 16
constexpr int W_KEYS = 64;      // keys per tile
constexpr int W_WARPS = 4;
constexpr int PAD16 = 8;        // 16 bytes of padding per 16-bit row: rows start in other banks
constexpr int PAD32 = 4;        // 16 bytes per float row

template <int D>
struct WmmaSmem {               // the dynamic shared memory layout, in elements
    static constexpr int LDQ = D + PAD16, LDK = D + PAD16, LDV = D + PAD16;
    static constexpr int LDS = W_KEYS + PAD32, LDP = W_KEYS + PAD16, LDO = D + PAD32;
    static constexpr size_t Q_BYTES = (size_t)W_ROWS * LDQ * 2;
    static constexpr size_t K_BYTES = (size_t)W_KEYS * LDK * 2;
    static constexpr size_t V_BYTES = (size_t)W_KEYS * LDV * 2;
    static constexpr size_t S_BYTES = (size_t)W_ROWS * LDS * 4;
    static constexpr size_t P_BYTES = (size_t)W_ROWS * LDP * 2;
    static constexpr size_t O_BYTES = (size_t)W_ROWS * LDO * 4;
    static constexpr size_t TOTAL = Q_BYTES + K_BYTES + V_BYTES + S_BYTES + P_BYTES + O_BYTES;
};

// Copies rows [r0, r0 + rows) of a (n_rows, D) 16-bit matrix into shared memory (leading dim
// ld), 16 bytes per thread per step; rows past n_rows become zeros.
template <typename T, int D>
__device__ __forceinline__ void load_tile(T* dst, int ld, const T* src, int r0, int rows,
                                          int n_rows) {
    constexpr int VEC = 8;                              // 8 x 16 bit = 16 bytes
    constexpr int PER_ROW = D / VEC;
    for (int e = threadIdx.x; e < rows * PER_ROW; e += blockDim.x) {
        const int r = e / PER_ROW, c = (e % PER_ROW) * VEC;
        uint4 val = make_uint4(0, 0, 0, 0);
        if (r0 + r < n_rows) val = *reinterpret_cast<const uint4*>(src + (size_t)(r0 + r) * D + c);
        *reinterpret_cast<uint4*>(dst + r * ld + c) = val;
    }
}

template <typename T, int D>
__device__ void flash_fwd_wmma(const T* __restrict__ q, const T* __restrict__ k,
                               const T* __restrict__ v, T* __restrict__ o,
                               float* __restrict__ lse, int T_len, int S_len, float scale,
                               int causal) {
    using L = WmmaSmem<D>;
#ifdef TINYGEN_HOST_EMULATION
    unsigned char* smem = host_dynamic_shared_memory();
#else
    extern __shared__ __align__(128) unsigned char smem[];
#endif
    T* qs = reinterpret_cast<T*>(smem);
    T* ks = reinterpret_cast<T*>(smem + L::Q_BYTES);
    T* vs = reinterpret_cast<T*>(smem + L::Q_BYTES + L::K_BYTES);
    float* ss = reinterpret_cast<float*>(smem + L::Q_BYTES + L::K_BYTES + L::V_BYTES);
    T* ps = reinterpret_cast<T*>(smem + L::Q_BYTES + L::K_BYTES + L::V_BYTES + L::S_BYTES);
    float* os = reinterpret_cast<float*>(smem + L::Q_BYTES + L::K_BYTES + L::V_BYTES +
                                         L::S_BYTES + L::P_BYTES);

    const int bh = blockIdx.y;
    const int row0 = blockIdx.x * W_ROWS;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    q += (size_t)bh * T_len * D;
    k += (size_t)bh * S_len * D;
    v += (size_t)bh * S_len * D;

    load_tile<T, D>(qs, L::LDQ, q, row0, W_ROWS, T_len);
    for (int e = threadIdx.x; e < W_ROWS * L::LDO; e += blockDim.x) os[e] = 0.f;
    __syncthreads();

    // this warp's 16 query rows of Q, as D/16 fragments kept for the whole key loop
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> q_frag[D / 16];
    #pragma unroll
    for (int kk = 0; kk < D / 16; ++kk)
        wmma::load_matrix_sync(q_frag[kk], qs + warp * 16 * L::LDQ + kk * 16, L::LDQ);

    // the online softmax: lanes 2r and 2r + 1 share row r of the warp's 16, 32 keys each
    const int r = lane / 2, half_id = lane % 2;
    const int i = row0 + warp * 16 + r;                 // the query row of this lane pair
    float m = -INF, l = 0.f;
    float* s_row = ss + (warp * 16 + r) * L::LDS;
    T* p_row = ps + (warp * 16 + r) * L::LDP;
    float* o_row = os + (warp * 16 + r) * L::LDO;
    const float scale2 = scale * LOG2E;

    const int last_row = min(row0 + W_ROWS, T_len);
    const int s_end = causal ? min(S_len, last_row) : S_len;
    for (int s0 = 0; s0 < s_end; s0 += W_KEYS) {
        __syncthreads();                                // every warp is done with the last tile
        load_tile<T, D>(ks, L::LDK, k, s0, W_KEYS, S_len);
        load_tile<T, D>(vs, L::LDV, v, s0, W_KEYS, S_len);
        __syncthreads();

        // S (16 x 64) = Q (16 x D) K^T (D x 64); K stored (key, d) is K^T in column-major
        #pragma unroll
        for (int n = 0; n < W_KEYS / 16; ++n) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> s_frag;
            wmma::fill_fragment(s_frag, 0.f);
            #pragma unroll
            for (int kk = 0; kk < D / 16; ++kk) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> k_frag;
                wmma::load_matrix_sync(k_frag, ks + n * 16 * L::LDK + kk * 16, L::LDK);
                wmma::mma_sync(s_frag, q_frag[kk], k_frag, s_frag);
            }
            wmma::store_matrix_sync(ss + warp * 16 * L::LDS + n * 16, s_frag, L::LDS,
                                    wmma::mem_row_major);
        }
        __syncwarp();

        // online softmax over this tile, in base 2
        float tile_max = -INF;
        for (int c = half_id * 32; c < half_id * 32 + 32; ++c) {
            const int key = s0 + c;
            const bool masked = key >= S_len || (causal && key > i);
            const float s2 = masked ? -INF : s_row[c] * scale2;
            s_row[c] = s2;
            tile_max = fmaxf(tile_max, s2);
        }
        tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
        const float m_new = fmaxf(m, tile_max);
        const float alpha = m_new == -INF ? 1.f : exp2f(m - m_new);
        float tile_sum = 0.f;
        for (int c = half_id * 32; c < half_id * 32 + 32; ++c) {
            const float p = m_new == -INF ? 0.f : exp2f(s_row[c] - m_new);
            const T p16 = from_float<T>(p);
            p_row[c] = p16;
            tile_sum += to_float(p16);                  // the sum of the P that O will see
        }
        tile_sum += __shfl_xor_sync(0xffffffffu, tile_sum, 1);
        l = l * alpha + tile_sum;
        m = m_new;
        for (int c = half_id * (D / 2); c < (half_id + 1) * (D / 2); ++c) o_row[c] *= alpha;
        __syncwarp();

        // O (16 x D) += P (16 x 64) V (64 x D), accumulating on the float32 O in shared memory
        #pragma unroll
        for (int n = 0; n < D / 16; ++n) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> o_frag;
            float* o_tile = os + warp * 16 * L::LDO + n * 16;
            wmma::load_matrix_sync(o_frag, o_tile, L::LDO, wmma::mem_row_major);
            #pragma unroll
            for (int kk = 0; kk < W_KEYS / 16; ++kk) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> p_frag;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> v_frag;
                wmma::load_matrix_sync(p_frag, ps + warp * 16 * L::LDP + kk * 16, L::LDP);
                wmma::load_matrix_sync(v_frag, vs + kk * 16 * L::LDV + n * 16, L::LDV);
                wmma::mma_sync(o_frag, p_frag, v_frag, o_frag);
            }
            wmma::store_matrix_sync(o_tile, o_frag, L::LDO, wmma::mem_row_major);
        }
        __syncwarp();
    }

    if (i >= T_len) return;
    const float inv_l = l > 0.f ? 1.f / l : 0.f;
    T* o_out = o + (size_t)bh * T_len * D + (size_t)i * D;
    for (int c = half_id * (D / 2); c < (half_id + 1) * (D / 2); ++c)
        o_out[c] = from_float<T>(o_row[c] * inv_l);
    if (half_id == 0) lse[(size_t)bh * T_len + i] = m * LN2 + logf(l);
}

// ================================================================================================
// bwd v2: tensor cores through WMMA (16-bit inputs, float32 accumulation)
// ================================================================================================
// A block of 4 warps owns 64 keys (16 per warp) and walks the query tiles of 64 that can see
// them. Per query tile, warp w with its 16 keys:
//   S^T = K_w Q^T,  P^T = exp(S^T scale - lse) (masked),  dV_w += P^T dO,  dP^T = V_w dO^T,
//   dS^T = P^T (dP^T - delta),  dK_w += dS^T Q;   then, all warps together, dQ += dS K for
// the tile's 64 queries (16 per warp), added into a float32 dQ in global memory with atomics
// (several key blocks add to the same rows). dK, dV accumulate in float32 in shared memory.
template <int D>
struct WmmaBwdSmem {            // the dynamic shared memory layout, in elements
    static constexpr int LD16 = D + PAD16;     // K, V, Q, dO rows (16-bit)
    static constexpr int LDF = D + PAD32;      // dK, dV and the dQ tile (float)
    static constexpr int LDS = W_ROWS + PAD32; // P^T and dP^T (float, a row per key)
    static constexpr int LDP = W_ROWS + PAD16; // P^T then dS^T (16-bit)
    static constexpr size_t TILE16 = (size_t)64 * LD16 * 2;        // each of K, V, Q, dO
    static constexpr size_t ACC = (size_t)W_KEYS * LDF * 4;        // each of dK, dV
    static constexpr size_t PT = (size_t)W_KEYS * LDS * 4;
    static constexpr size_t SCRATCH = PT > (size_t)W_ROWS * LDF * 4 ? PT
                                                                    : (size_t)W_ROWS * LDF * 4;
    static constexpr size_t PT16 = (size_t)W_KEYS * LDP * 2;
    static constexpr size_t ROWS = 2 * W_ROWS * 4;                 // lse, delta
    static constexpr size_t TOTAL = 4 * TILE16 + 2 * ACC + PT + SCRATCH + PT16 + ROWS;
};

template <typename T, int D>
__device__ void flash_bwd_wmma(const T* __restrict__ q, const T* __restrict__ k,
                               const T* __restrict__ v, const T* __restrict__ dout,
                               const float* __restrict__ lse, const float* __restrict__ delta,
                               float* __restrict__ dq, T* __restrict__ dk, T* __restrict__ dv,
                               int T_len, int S_len, float scale, int causal) {
    using L = WmmaBwdSmem<D>;
#ifdef TINYGEN_HOST_EMULATION
    unsigned char* smem = host_dynamic_shared_memory();
#else
    extern __shared__ __align__(128) unsigned char smem[];
#endif
    T* ks = reinterpret_cast<T*>(smem);
    T* vs = reinterpret_cast<T*>(smem + L::TILE16);
    T* qs = reinterpret_cast<T*>(smem + 2 * L::TILE16);
    T* dos = reinterpret_cast<T*>(smem + 3 * L::TILE16);
    float* dks = reinterpret_cast<float*>(smem + 4 * L::TILE16);
    float* dvs = reinterpret_cast<float*>(smem + 4 * L::TILE16 + L::ACC);
    float* pt = reinterpret_cast<float*>(smem + 4 * L::TILE16 + 2 * L::ACC);
    float* scratch = reinterpret_cast<float*>(smem + 4 * L::TILE16 + 2 * L::ACC + L::PT);
    T* pt16 = reinterpret_cast<T*>(smem + 4 * L::TILE16 + 2 * L::ACC + L::PT + L::SCRATCH);
    float* lses = reinterpret_cast<float*>(smem + 4 * L::TILE16 + 2 * L::ACC + L::PT +
                                           L::SCRATCH + L::PT16);
    float* deltas = lses + W_ROWS;

    const int bh = blockIdx.y;
    const int key0 = blockIdx.x * W_KEYS;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int r = lane / 2, half_id = lane % 2;         // lanes 2r, 2r + 1 share row r of 16
    q += (size_t)bh * T_len * D;
    dout += (size_t)bh * T_len * D;
    k += (size_t)bh * S_len * D;
    v += (size_t)bh * S_len * D;
    dq += (size_t)bh * T_len * D;

    load_tile<T, D>(ks, L::LD16, k, key0, W_KEYS, S_len);
    load_tile<T, D>(vs, L::LD16, v, key0, W_KEYS, S_len);
    for (int e = threadIdx.x; e < W_KEYS * L::LDF; e += blockDim.x) dks[e] = dvs[e] = 0.f;

    const int key = key0 + warp * 16 + r;               // this lane pair's key (P^T, dS^T rows)
    const float scale2 = scale * LOG2E;
    const int t_start = causal ? key0 : 0;              // earlier queries see none of our keys
    for (int t0 = t_start; t0 < T_len; t0 += W_ROWS) {
        __syncthreads();                                // the last tile's readers are done
        load_tile<T, D>(qs, L::LD16, q, t0, W_ROWS, T_len);
        load_tile<T, D>(dos, L::LD16, dout, t0, W_ROWS, T_len);
        for (int c = threadIdx.x; c < W_ROWS; c += blockDim.x) {
            const bool in = t0 + c < T_len;
            lses[c] = in ? lse[(size_t)bh * T_len + t0 + c] * LOG2E : INF;   // P = 0 past T
            deltas[c] = in ? delta[(size_t)bh * T_len + t0 + c] : 0.f;
        }
        __syncthreads();

        // S^T (16 keys x 64 queries) = K_w Q^T; Q stored (query, d) is Q^T in column-major
        #pragma unroll
        for (int n = 0; n < W_ROWS / 16; ++n) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.f);
            #pragma unroll
            for (int kk = 0; kk < D / 16; ++kk) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b;
                wmma::load_matrix_sync(a, ks + warp * 16 * L::LD16 + kk * 16, L::LD16);
                wmma::load_matrix_sync(b, qs + n * 16 * L::LD16 + kk * 16, L::LD16);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(pt + warp * 16 * L::LDS + n * 16, acc, L::LDS,
                                    wmma::mem_row_major);
        }
        __syncwarp();

        // P^T = exp(S^T scale - lse), 0 where masked; kept in float and in the input type
        float* pt_row = pt + (warp * 16 + r) * L::LDS;
        T* pt16_row = pt16 + (warp * 16 + r) * L::LDP;
        for (int c = half_id * 32; c < half_id * 32 + 32; ++c) {
            const bool masked = key >= S_len || (causal && key > t0 + c);
            const float p = masked ? 0.f : exp2f(pt_row[c] * scale2 - lses[c]);
            pt_row[c] = p;
            pt16_row[c] = from_float<T>(p);
        }
        __syncwarp();

        // dV_w (16 x D) += P^T (16 x 64) dO (64 x D)
        #pragma unroll
        for (int n = 0; n < D / 16; ++n) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            float* tile = dvs + warp * 16 * L::LDF + n * 16;
            wmma::load_matrix_sync(acc, tile, L::LDF, wmma::mem_row_major);
            #pragma unroll
            for (int kk = 0; kk < W_ROWS / 16; ++kk) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> b;
                wmma::load_matrix_sync(a, pt16 + warp * 16 * L::LDP + kk * 16, L::LDP);
                wmma::load_matrix_sync(b, dos + kk * 16 * L::LD16 + n * 16, L::LD16);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(tile, acc, L::LDF, wmma::mem_row_major);
        }

        // dP^T (16 x 64) = V_w (16 x D) dO^T (D x 64)
        #pragma unroll
        for (int n = 0; n < W_ROWS / 16; ++n) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.f);
            #pragma unroll
            for (int kk = 0; kk < D / 16; ++kk) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b;
                wmma::load_matrix_sync(a, vs + warp * 16 * L::LD16 + kk * 16, L::LD16);
                wmma::load_matrix_sync(b, dos + n * 16 * L::LD16 + kk * 16, L::LD16);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(scratch + warp * 16 * L::LDS + n * 16, acc, L::LDS,
                                    wmma::mem_row_major);
        }
        __syncwarp();

        // dS^T = P^T (dP^T - delta), over P^T's 16-bit copy (dV is done with it)
        const float* dp_row = scratch + (warp * 16 + r) * L::LDS;
        for (int c = half_id * 32; c < half_id * 32 + 32; ++c)
            pt16_row[c] = from_float<T>(pt_row[c] * (dp_row[c] - deltas[c]));
        __syncwarp();

        // dK_w (16 x D) += dS^T (16 x 64) Q (64 x D)   (times scale at the end)
        #pragma unroll
        for (int n = 0; n < D / 16; ++n) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            float* tile = dks + warp * 16 * L::LDF + n * 16;
            wmma::load_matrix_sync(acc, tile, L::LDF, wmma::mem_row_major);
            #pragma unroll
            for (int kk = 0; kk < W_ROWS / 16; ++kk) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> b;
                wmma::load_matrix_sync(a, pt16 + warp * 16 * L::LDP + kk * 16, L::LDP);
                wmma::load_matrix_sync(b, qs + kk * 16 * L::LD16 + n * 16, L::LD16);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(tile, acc, L::LDF, wmma::mem_row_major);
        }
        __syncthreads();                                // every warp's dS^T is in place

        // dQ (16 queries of warp w x D) += dS (16 x 64 keys) K (64 x D); dS^T stored
        // (key, query) is dS in column-major
        #pragma unroll
        for (int n = 0; n < D / 16; ++n) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.f);
            #pragma unroll
            for (int kk = 0; kk < W_KEYS / 16; ++kk) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::col_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> b;
                wmma::load_matrix_sync(a, pt16 + kk * 16 * L::LDP + warp * 16, L::LDP);
                wmma::load_matrix_sync(b, ks + kk * 16 * L::LD16 + n * 16, L::LD16);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(scratch + warp * 16 * L::LDF + n * 16, acc, L::LDF,
                                    wmma::mem_row_major);
        }
        __syncwarp();
        const int query = t0 + warp * 16 + r;
        if (query < T_len) {
            const float* dq_row = scratch + (warp * 16 + r) * L::LDF;
            for (int c = half_id * (D / 2); c < (half_id + 1) * (D / 2); ++c)
                atomicAdd(dq + (size_t)query * D + c, dq_row[c] * scale);
        }
    }
    __syncthreads();

    // write this block's dK (times scale) and dV, a row per lane pair
    if (key >= S_len) return;
    const int row = warp * 16 + r;
    T* dk_out = dk + ((size_t)bh * S_len + key) * D;
    T* dv_out = dv + ((size_t)bh * S_len + key) * D;
    for (int c = half_id * (D / 2); c < (half_id + 1) * (D / 2); ++c) {
        dk_out[c] = from_float<T>(dks[row * L::LDF + c] * scale);
        dv_out[c] = from_float<T>(dvs[row * L::LDF + c]);
    }
}

// ================================================================================================
// bwd v1: scalar float math, every input type
// ================================================================================================
// Threads per block of both passes: 32 (keys in the dK dV pass, query rows in the dQ pass). The
// other side streams through shared memory in tiles of STREAM<D> rows, fewer for large D so that
// the static shared memory stays under 48 KB.
constexpr int B_THREADS = 32;
template <int D> struct Stream { static constexpr int ROWS = D >= 128 ? 8 : 32; };

// delta[i] = sum_d dO[i, d] O[i, d]: the rowsum(P * dP) that every dS needs
template <typename T, int D>
__device__ void flash_bwd_preprocess(const T* __restrict__ o, const T* __restrict__ dout,
                                     float* __restrict__ delta, int rows) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= rows) return;
    float acc = 0.f;
    for (int d = 0; d < D; ++d)
        acc += to_float(o[(size_t)i * D + d]) * to_float(dout[(size_t)i * D + d]);
    delta[i] = acc;
}

// One thread per key j: dV_j = sum_i P_ij dO_i,  dK_j = scale sum_i dS_ij Q_i.
template <typename T, int D>
__device__ void flash_bwd_dkdv(const T* __restrict__ q, const T* __restrict__ k,
                               const T* __restrict__ v, const T* __restrict__ dout,
                               const float* __restrict__ lse, const float* __restrict__ delta,
                               T* __restrict__ dk, T* __restrict__ dv, int T_len, int S_len,
                               float scale, int causal) {
    constexpr int ROWS = Stream<D>::ROWS;
    __shared__ float qs[ROWS][D];
    __shared__ float dos[ROWS][D];
    __shared__ float lses[ROWS], deltas[ROWS];
    __shared__ float kv[2][B_THREADS][D + 1];            // +1: thread j reads row j, no conflicts
    const int bh = blockIdx.y;
    const int key0 = blockIdx.x * B_THREADS;
    const int j = key0 + threadIdx.x;
    const bool active = j < S_len;
    const size_t q_off = (size_t)bh * T_len * D, k_off = (size_t)bh * S_len * D;
    for (int d = 0; d < D; ++d) {
        kv[0][threadIdx.x][d] = active ? to_float(k[k_off + (size_t)j * D + d]) : 0.f;
        kv[1][threadIdx.x][d] = active ? to_float(v[k_off + (size_t)j * D + d]) : 0.f;
    }
    float dk_acc[D], dv_acc[D];
    #pragma unroll
    for (int d = 0; d < D; ++d) { dk_acc[d] = 0.f; dv_acc[d] = 0.f; }

    const int t_start = causal ? (key0 / ROWS) * ROWS : 0;       // earlier queries see none
    for (int t0 = t_start; t0 < T_len; t0 += ROWS) {
        __syncthreads();
        for (int e = threadIdx.x; e < ROWS * D; e += blockDim.x) {
            const int r = e / D, d = e % D;
            const bool in = t0 + r < T_len;
            qs[r][d] = in ? to_float(q[q_off + (size_t)(t0 + r) * D + d]) : 0.f;
            dos[r][d] = in ? to_float(dout[q_off + (size_t)(t0 + r) * D + d]) : 0.f;
        }
        for (int r = threadIdx.x; r < ROWS; r += blockDim.x) {
            const bool in = t0 + r < T_len;
            lses[r] = in ? lse[(size_t)bh * T_len + t0 + r] : INF;   // P = exp(-inf) = 0
            deltas[r] = in ? delta[(size_t)bh * T_len + t0 + r] : 0.f;
        }
        __syncthreads();
        if (!active) continue;
        #pragma unroll 1
        for (int r = 0; r < ROWS; ++r) {
            const int i = t0 + r;
            if (causal && j > i) continue;
            float s = 0.f, dp = 0.f;
            #pragma unroll
            for (int d = 0; d < D; ++d) {
                s += qs[r][d] * kv[0][threadIdx.x][d];
                dp += dos[r][d] * kv[1][threadIdx.x][d];
            }
            const float p = expf(s * scale - lses[r]);
            const float ds = p * (dp - deltas[r]) * scale;
            #pragma unroll
            for (int d = 0; d < D; ++d) {
                dv_acc[d] += p * dos[r][d];
                dk_acc[d] += ds * qs[r][d];
            }
        }
    }
    if (!active) return;
    #pragma unroll
    for (int d = 0; d < D; ++d) {
        dk[k_off + (size_t)j * D + d] = from_float<T>(dk_acc[d]);
        dv[k_off + (size_t)j * D + d] = from_float<T>(dv_acc[d]);
    }
}

// One thread per query row i: dQ_i = scale sum_j dS_ij K_j.
template <typename T, int D>
__device__ void flash_bwd_dq(const T* __restrict__ q, const T* __restrict__ k,
                             const T* __restrict__ v, const T* __restrict__ dout,
                             const float* __restrict__ lse, const float* __restrict__ delta,
                             T* __restrict__ dq, int T_len, int S_len, float scale, int causal) {
    constexpr int KEYS = Stream<D>::ROWS;
    __shared__ float ks[KEYS][D];
    __shared__ float vs[KEYS][D];
    __shared__ float qd[2][B_THREADS][D + 1];            // this block's rows of Q and dO
    const int bh = blockIdx.y;
    const int row0 = blockIdx.x * B_THREADS;
    const int i = row0 + threadIdx.x;
    const bool active = i < T_len;
    const size_t q_off = (size_t)bh * T_len * D, k_off = (size_t)bh * S_len * D;
    for (int d = 0; d < D; ++d) {
        qd[0][threadIdx.x][d] = active ? to_float(q[q_off + (size_t)i * D + d]) : 0.f;
        qd[1][threadIdx.x][d] = active ? to_float(dout[q_off + (size_t)i * D + d]) : 0.f;
    }
    const float lse_i = active ? lse[(size_t)bh * T_len + i] : 0.f;
    const float delta_i = active ? delta[(size_t)bh * T_len + i] : 0.f;
    float dq_acc[D];
    #pragma unroll
    for (int d = 0; d < D; ++d) dq_acc[d] = 0.f;

    const int last_row = min(row0 + B_THREADS, T_len);
    const int s_end = causal ? min(S_len, last_row) : S_len;
    for (int s0 = 0; s0 < s_end; s0 += KEYS) {
        __syncthreads();
        for (int e = threadIdx.x; e < KEYS * D; e += blockDim.x) {
            const int c = e / D, d = e % D;
            const bool in = s0 + c < S_len;
            ks[c][d] = in ? to_float(k[k_off + (size_t)(s0 + c) * D + d]) : 0.f;
            vs[c][d] = in ? to_float(v[k_off + (size_t)(s0 + c) * D + d]) : 0.f;
        }
        __syncthreads();
        if (!active) continue;
        #pragma unroll 1
        for (int c = 0; c < KEYS; ++c) {
            const int j = s0 + c;
            if (j >= S_len || (causal && j > i)) continue;
            float s = 0.f, dp = 0.f;
            #pragma unroll
            for (int d = 0; d < D; ++d) {
                s += qd[0][threadIdx.x][d] * ks[c][d];
                dp += qd[1][threadIdx.x][d] * vs[c][d];
            }
            const float p = expf(s * scale - lse_i);
            const float ds = p * (dp - delta_i) * scale;
            #pragma unroll
            for (int d = 0; d < D; ++d) dq_acc[d] += ds * ks[c][d];
        }
    }
    if (!active) return;
    #pragma unroll
    for (int d = 0; d < D; ++d) dq[q_off + (size_t)i * D + d] = from_float<T>(dq_acc[d]);
}

}  // namespace

// ================================================================================================
// extern "C" entry points, one per (type, head size)
// ================================================================================================
#define FWD_ARGS(T) const T* q, const T* k, const T* v, T* o, float* lse, int T_len, int S_len, \
                    float scale, int causal
#define BWD_ARGS(T) const T* q, const T* k, const T* v, const T* dout, const float* lse,        \
                    const float* delta

#define INSTANTIATE(T, NAME, D)                                                                  \
    extern "C" __global__ void __launch_bounds__(V1_ROWS)                                        \
    flash_fwd_##NAME##_d##D(FWD_ARGS(T)) {                                                      \
        flash_fwd_v1<T, D>(q, k, v, o, lse, T_len, S_len, scale, causal);                        \
    }                                                                                            \
    extern "C" __global__ void flash_bwd_preprocess_##NAME##_d##D(const T* o, const T* dout,     \
                                                                 float* delta, int rows) {      \
        flash_bwd_preprocess<T, D>(o, dout, delta, rows);                                        \
    }                                                                                            \
    extern "C" __global__ void __launch_bounds__(B_THREADS)                                      \
    flash_bwd_dkdv_##NAME##_d##D(BWD_ARGS(T), T* dk, T* dv, int T_len, int S_len, float scale,  \
                                 int causal) {                                                   \
        flash_bwd_dkdv<T, D>(q, k, v, dout, lse, delta, dk, dv, T_len, S_len, scale, causal);    \
    }                                                                                            \
    extern "C" __global__ void __launch_bounds__(B_THREADS)                                      \
    flash_bwd_dq_##NAME##_d##D(BWD_ARGS(T), T* dq, int T_len, int S_len, float scale,           \
                               int causal) {                                                     \
        flash_bwd_dq<T, D>(q, k, v, dout, lse, delta, dq, T_len, S_len, scale, causal);          \
    }

INSTANTIATE(float, f32, 32)
INSTANTIATE(float, f32, 64)
INSTANTIATE(float, f32, 128)

#define INSTANTIATE_WMMA(T, NAME, D)                                                             \
    extern "C" __global__ void __launch_bounds__(W_WARPS * 32)                                   \
    flash_fwd_wmma_##NAME##_d##D(FWD_ARGS(T)) {                                                 \
        flash_fwd_wmma<T, D>(q, k, v, o, lse, T_len, S_len, scale, causal);                      \
    }                                                                                            \
    extern "C" __global__ void __launch_bounds__(W_WARPS * 32)                                   \
    flash_bwd_wmma_##NAME##_d##D(BWD_ARGS(T), float* dq, T* dk, T* dv, int T_len, int S_len,    \
                                 float scale, int causal) {                                      \
        flash_bwd_wmma<T, D>(q, k, v, dout, lse, delta, dq, dk, dv, T_len, S_len, scale, causal); \
    }

INSTANTIATE_WMMA(__half, f16, 64)
INSTANTIATE_WMMA(__half, f16, 128)
INSTANTIATE_WMMA(__nv_bfloat16, bf16, 64)
INSTANTIATE_WMMA(__nv_bfloat16, bf16, 128)
static_assert(WmmaSmem<64>::TOTAL <= 227 * 1024, "flash_fwd_wmma: over Hopper's shared memory");
static_assert(WmmaSmem<128>::TOTAL <= 227 * 1024, "flash_fwd_wmma: over Hopper's shared memory");
static_assert(WmmaBwdSmem<64>::TOTAL <= 227 * 1024, "flash_bwd_wmma: over Hopper's shared memory");
static_assert(WmmaBwdSmem<128>::TOTAL <= 227 * 1024, "flash_bwd_wmma: over Hopper's shared memory");
