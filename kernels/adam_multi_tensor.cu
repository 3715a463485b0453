// The Adam / AdamW update of every parameter in one launch ("multi-tensor apply", as apex and
// PyTorch's fused Adam). Loaded by kernels/cuda_adam.py through cupy.RawModule; the contract is
// kernels/adam.py's `adam_step` reference (PyTorch's formula exactly).
//
// The launcher passes a table of device pointers, 5 per parameter (p, g, m, v, vmax; vmax only
// read with amsgrad), the parameters' sizes, and a chunk map: block b updates elements
// [chunk_start[b], chunk_start[b] + CHUNK) of parameter chunk_tensor[b]. So one launch covers
// any number of parameters of any sizes, and every block has about the same work.
//
// Versions:
//   v1  adam_multi_tensor_<f32|f64>   one grid-stride pass per chunk, arithmetic in the
//       parameter's type (float32 as PyTorch's fused Adam; float64 for float64)
constexpr int CHUNK = 16384;            // elements per block: 64 per thread at 256 threads

template <typename T>
__device__ void adam_chunk(const unsigned long long* __restrict__ ptrs,
                           const long long* __restrict__ sizes,
                           const int* __restrict__ chunk_tensor,
                           const long long* __restrict__ chunk_start, int n_tensors, T w1,
                           T beta2, T w2, T decay, T step_size, T bc2_sqrt, T eps, int amsgrad,
                           int decoupled, int maximize) {
    const int t = chunk_tensor[blockIdx.x];
    const long long start = chunk_start[blockIdx.x];
    const long long end = min(start + (long long)CHUNK, sizes[t]);
    T* p = reinterpret_cast<T*>(ptrs[0 * n_tensors + t]);
    const T* g = reinterpret_cast<const T*>(ptrs[1 * n_tensors + t]);
    T* m = reinterpret_cast<T*>(ptrs[2 * n_tensors + t]);
    T* v = reinterpret_cast<T*>(ptrs[3 * n_tensors + t]);
    T* vmax = reinterpret_cast<T*>(ptrs[4 * n_tensors + t]);
    for (long long i = start + threadIdx.x; i < end; i += blockDim.x) {
        T gi = maximize ? -g[i] : g[i];
        T pi = p[i];
        if (decoupled) {
            pi = pi * decay;                             // decay = 1 - lr * weight_decay
        } else {
            gi = gi + decay * pi;                        // decay = weight_decay
        }
        const T mi = m[i] + w1 * (gi - m[i]);            // lerp(m, g, 1 - beta1)
        T vi = v[i] * beta2 + w2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (amsgrad) {
            vi = vmax[i] > vi ? vmax[i] : vi;
            vmax[i] = vi;
        }
        p[i] = pi - step_size * (mi / (sqrt(vi) / bc2_sqrt + eps));
    }
}

#define ADAM_ARGS(T) const unsigned long long *ptrs, const long long *sizes,                     \
                     const int *chunk_tensor, const long long *chunk_start, int n_tensors, T w1, \
                     T beta2, T w2, T decay, T step_size, T bc2_sqrt, T eps, int amsgrad,        \
                     int decoupled, int maximize
#define ADAM_CALL ptrs, sizes, chunk_tensor, chunk_start, n_tensors, w1, beta2, w2, decay,        \
                  step_size, bc2_sqrt, eps, amsgrad, decoupled, maximize

extern "C" __global__ void __launch_bounds__(256) adam_multi_tensor_f32(ADAM_ARGS(float)) {
    adam_chunk<float>(ADAM_CALL);
}

extern "C" __global__ void __launch_bounds__(256) adam_multi_tensor_f64(ADAM_ARGS(double)) {
    adam_chunk<double>(ADAM_CALL);
}
