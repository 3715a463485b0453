// Runs CUDA C kernels on the CPU, for tests on machines without a GPU: each CUDA thread of a
// block is an OS thread, __syncthreads() a std::barrier over the block, __syncwarp() one over the
// thread's warp, atomicAdd a std::atomic_ref, __shared__ a static (blocks run one after another, so a static is one block's
// shared memory; the dynamic shared memory is one buffer). Also emulated: __shfl_xor_sync,
// __half / __nv_bfloat16 (their rounding), uint4, and WMMA (nvcuda::wmma, m16n16k16): every lane
// holds the whole 16 x 16 fragment and computes the warp's result redundantly, which checks the
// layouts, leading dimensions and pointers a kernel passes, not the hardware's fragment layout.
// A source guards only what cannot be emulated (its CUDA #includes, `extern __shared__`) with
// TINYGEN_HOST_EMULATION. Compile: g++ -std=c++20 -pthread -shared -fPIC (see the test).
#pragma once
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#define TINYGEN_HOST_EMULATION 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) alignas(n)

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};
inline dim3 gridDim, blockIdx, blockDim;
inline thread_local dim3 threadIdx;

struct Warp {
    std::unique_ptr<std::barrier<>> barrier;
    float slots[32];
};
inline std::barrier<>* block_barrier = nullptr;
inline std::vector<Warp>* block_warps = nullptr;
inline std::vector<unsigned char>* dynamic_smem_buffer = nullptr;
inline unsigned char* host_dynamic_shared_memory() { return dynamic_smem_buffer->data(); }

inline void __syncthreads() { block_barrier->arrive_and_wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) {
    (*block_warps)[threadIdx.x / 32].barrier->arrive_and_wait();
}
inline float __shfl_xor_sync(unsigned, float value, int lane_mask) {
    Warp& warp = (*block_warps)[threadIdx.x / 32];
    const int lane = threadIdx.x % 32;
    warp.slots[lane] = value;
    warp.barrier->arrive_and_wait();
    const float other = warp.slots[lane ^ lane_mask];
    warp.barrier->arrive_and_wait();
    return other;
}
inline float atomicAdd(float* address, float value) {
    return std::atomic_ref<float>(*address).fetch_add(value);
}
inline float __int_as_float(int bits) {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}
using std::max;
using std::min;

// ---- 16-bit types ------------------------------------------------------------------------------
struct __half {
    _Float16 value;
};
inline float __half2float(__half h) { return static_cast<float>(h.value); }
inline __half __float2half_rn(float f) { return __half{static_cast<_Float16>(f)}; }
struct __nv_bfloat16 {
    uint16_t bits;
};
inline float __bfloat162float(__nv_bfloat16 b) {
    const uint32_t u = uint32_t(b.bits) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}
inline __nv_bfloat16 __float2bfloat16_rn(float f) {    // round to nearest even
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return __nv_bfloat16{uint16_t(u >> 16)};
}
struct uint4 {
    unsigned x, y, z, w;
};
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

// ---- WMMA, m16n16k16 ---------------------------------------------------------------------------
namespace nvcuda {
namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
    static_assert(M == 16 && N == 16 && K == 16, "emulated: m16n16k16 only");
    float x[16 * 16];                                   // row-major (row, col) of the tile
};

inline float element(float v) { return v; }
inline float element(__half v) { return __half2float(v); }
inline float element(__nv_bfloat16 v) { return __bfloat162float(v); }

// loads and stores are warp-collective: the barrier after a load keeps any lane from storing
// over a tile another lane has not read yet
template <class Use, class T, class Layout>
void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout>& f, const T* p, unsigned ldm) {
    for (int r = 0; r < 16; ++r)
        for (int c = 0; c < 16; ++c)
            f.x[r * 16 + c] = element(std::is_same_v<Layout, col_major> ? p[c * ldm + r]
                                                                        : p[r * ldm + c]);
    __syncwarp();
}
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float>& f, const float* p,
                             unsigned ldm, layout_t layout) {
    for (int r = 0; r < 16; ++r)
        for (int c = 0; c < 16; ++c)
            f.x[r * 16 + c] = layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r];
    __syncwarp();
}
inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 16, float>& f,
                              unsigned ldm, layout_t layout) {
    for (int r = 0; r < 16; ++r)
        for (int c = 0; c < 16; ++c)
            (layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = f.x[r * 16 + c];
}
inline void fill_fragment(fragment<accumulator, 16, 16, 16, float>& f, float v) {
    for (float& e : f.x) e = v;
}
template <class TA, class LA, class TB, class LB>
void mma_sync(fragment<accumulator, 16, 16, 16, float>& d,
              const fragment<matrix_a, 16, 16, 16, TA, LA>& a,
              const fragment<matrix_b, 16, 16, 16, TB, LB>& b,
              const fragment<accumulator, 16, 16, 16, float>& c) {
    float out[16 * 16];
    for (int i = 0; i < 16; ++i)
        for (int j = 0; j < 16; ++j) {
            float acc = c.x[i * 16 + j];
            for (int k = 0; k < 16; ++k) acc += a.x[i * 16 + k] * b.x[k * 16 + j];
            out[i * 16 + j] = acc;
        }
    std::memcpy(d.x, out, sizeof out);
}
}  // namespace wmma
}  // namespace nvcuda

// Runs kernel(args...) over grid x block (1-D blocks), one block at a time, a thread per CUDA
// thread, with `dynamic_smem` bytes of dynamic shared memory.
template <class Kernel, class... Args>
void emulate_launch_smem(Kernel kernel, dim3 grid, dim3 block, size_t dynamic_smem,
                         Args... args) {
    gridDim = grid;
    blockDim = block;
    const unsigned nthreads = block.x * block.y * block.z;
    std::vector<unsigned char> smem(dynamic_smem + 256);
    dynamic_smem_buffer = &smem;
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                blockIdx = dim3{bx, by, bz};
                std::barrier<> bar(nthreads);
                block_barrier = &bar;
                std::vector<Warp> warps((nthreads + 31) / 32);
                for (unsigned w = 0; w < warps.size(); ++w)
                    warps[w].barrier = std::make_unique<std::barrier<>>(
                        std::min(32u, nthreads - 32 * w));
                block_warps = &warps;
                std::vector<std::thread> threads;
                threads.reserve(nthreads);
                for (unsigned t = 0; t < nthreads; ++t)
                    threads.emplace_back([&, t] {
                        threadIdx = dim3{t % block.x, (t / block.x) % block.y,
                                         t / (block.x * block.y)};
                        kernel(args...);
                    });
                for (auto& th : threads) th.join();
            }
}

template <class Kernel, class... Args>
void emulate_launch(Kernel kernel, dim3 grid, dim3 block, Args... args) {
    emulate_launch_smem(kernel, grid, block, 0, args...);
}

// cuLaunchKernel's calling convention, which CuPy uses: params[i] points at argument i's value.
// EMULATE_EXPORT(kernel) defines extern "C" launch_<kernel>(grid, block, smem, params), so the
// Python launchers can run unchanged against the emulation (tests/gpu/test_cuda_launchers.py).
template <class... A, size_t... I>
void emulate_launch_params(void (*kernel)(A...), dim3 grid, dim3 block, size_t smem,
                           void** params, std::index_sequence<I...>) {
    emulate_launch_smem(kernel, grid, block, smem,
                        *static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(params[I])...);
}
template <class... A>
void emulate_launch_params(void (*kernel)(A...), dim3 grid, dim3 block, size_t smem,
                           void** params) {
    emulate_launch_params(kernel, grid, block, smem, params, std::index_sequence_for<A...>{});
}
#define EMULATE_EXPORT(name)                                                                   \
    extern "C" void launch_##name(unsigned gx, unsigned gy, unsigned gz, unsigned bx,           \
                                  unsigned by, unsigned bz, size_t smem, void** params) {       \
        emulate_launch_params(name, dim3{gx, gy, gz}, dim3{bx, by, bz}, smem, params);          \
    }
