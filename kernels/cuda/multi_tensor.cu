// Multi-tensor kernels (launch_multi.h): optimizer steps, sums of squares and scaling over many
// tensors in one launch, with the per-element formulas of the single-tensor kernels (optim.cu,
// kernels/common/optim_math.h), so the parameters come out bit-identical.
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/launch_multi.h"

namespace gm::GM_CUDA_NS {

namespace {

// The tensor of this block: at most kMultiTensors compares, the same for every thread.
template <typename T>
__device__ __forceinline__ int block_tensor(const TensorChunks<T>& l) {
  int t = 0;
  while (t + 1 < l.count && static_cast<int64_t>(blockIdx.x) >= l.first_block[t + 1])
    ++t;
  return t;
}

// Calls f(t, i) for this thread's elements i of tensor t: kChunkPerThread of them, a block
// stride apart, so that neighbouring threads touch neighbouring elements.
template <typename T, typename F>
__device__ __forceinline__ void for_chunk(const TensorChunks<T>& l, F f) {
  const int t = block_tensor(l);
  const int64_t start =
      (static_cast<int64_t>(blockIdx.x) - l.first_block[t]) * blockDim.x * kChunkPerThread;
  for (int k = 0; k < kChunkPerThread; ++k) {
    const int64_t i = start + static_cast<int64_t>(k) * blockDim.x + threadIdx.x;
    if (i < l.n[t]) f(t, i);
  }
}

// Without -ffast-math (never used here), x - x is 0 exactly for finite x, NaN otherwise.
__device__ __forceinline__ bool finite(double x) {
  return x - x == 0.0;
}

// `step_constants`: null, or this step's constants in device memory (a replayed graph's step).
template <typename T>
__global__ void adam_many_kernel(math::AdamConstants<T> c, TensorChunks<T> l, const double* guard,
                                 const math::AdamConstants<T>* step_constants) {
  if (guard && !finite(*guard)) return;
  const math::AdamConstants<T> k = step_constants ? *step_constants : c;
  for_chunk(l, [&](int t, int64_t i) {
    math::adam_step(k, l.g[t][i], l.x[t][i], l.b0[t][i], l.b1[t][i]);
  });
}

template <typename T>
__global__ void sgd_many_kernel(SgdStep a, TensorChunks<T> l) {
  if (a.guard && !finite(*a.guard)) return;
  for_chunk(l, [&](int t, int64_t i) {
    math::sgd_step(a.lr, a.momentum, a.weight_decay, a.nesterov, l.g[t][i], l.x[t][i],
                   l.b0[t] ? l.b0[t] + i : nullptr);
  });
}

template <typename T>
__global__ void sum_squares_many_kernel(TensorChunks<T> l, double* partial) {
  double s = 0;
  for_chunk(l, [&](int t, int64_t i) {
    const double v = static_cast<double>(l.x[t][i]);
    s += v * v;
  });
  s = block_sum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// One block: each thread sums a strided slice in order, then the block sums the slices, so the
// same partials give the same bits every time.
__global__ void sum_partials_kernel(const double* partial, int64_t count, double* total) {
  double s = 0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x)
    s += partial[i];
  s = block_sum(s);
  if (threadIdx.x == 0) *total = s;
}

template <typename T>
__global__ void record_step_stats_kernel(const T* loss, const double* sum_squares, double* stats,
                                         int64_t slot_value, const int32_t* slot_on_device) {
  const int64_t slot = slot_on_device ? *slot_on_device : slot_value;
  const double l = static_cast<double>(*loss), s = *sum_squares;
  stats[1 + 2 * slot] = l;
  stats[2 + 2 * slot] = sqrt(s);
  stats[0] = stats[0] * 0.0 + l + s;
}

template <typename T>
__global__ void scale_many_kernel(T factor, TensorChunks<T> l) {
  for_chunk(l, [&](int t, int64_t i) { l.x[t][i] = l.x[t][i] * factor; });
}

// Threads per block: the configured block size, fewer when every tensor is small.
template <typename T>
unsigned multi_threads(const Exec& e, const TensorChunks<T>& l) {
  int64_t largest = 0;
  for (int t = 0; t < l.count; ++t)
    largest = l.n[t] > largest ? l.n[t] : largest;
  return threads_for((largest + kChunkPerThread - 1) / kChunkPerThread, e.block);
}

}  // namespace

template <typename T>
void adam_update_many(const Exec& e, const math::AdamConstants<T>& c, TensorChunks<T> l,
                      const double* guard, const math::AdamConstants<T>* step_constants) {
  const unsigned threads = multi_threads(e, l);
  const int64_t blocks = plan_chunks(l, threads);
  if (blocks == 0) return;
  GM_LAUNCH((adam_many_kernel<T>), static_cast<unsigned>(blocks), threads, 0, e.stream)
  (c, l, guard, step_constants);
}

template <typename T>
void sgd_update_many(const Exec& e, const SgdStep& a, TensorChunks<T> l) {
  const unsigned threads = multi_threads(e, l);
  const int64_t blocks = plan_chunks(l, threads);
  if (blocks == 0) return;
  GM_LAUNCH((sgd_many_kernel<T>), static_cast<unsigned>(blocks), threads, 0, e.stream)(a, l);
}

template <typename T>
int64_t sum_squares_many(const Exec& e, TensorChunks<T> l, double* partial) {
  const unsigned threads = multi_threads(e, l);
  const int64_t blocks = plan_chunks(l, threads);
  if (blocks == 0) return 0;
  GM_LAUNCH((sum_squares_many_kernel<T>), static_cast<unsigned>(blocks), threads, 0, e.stream)
  (l, partial);
  return blocks;
}

void sum_partials(const Exec& e, const double* partial, int64_t count, double* total) {
  const unsigned threads = threads_for(count, e.block);
  GM_LAUNCH(sum_partials_kernel, 1, threads, 0, e.stream)(partial, count, total);
}

template <typename T>
void record_step_stats(const Exec& e, const T* loss, const double* sum_squares, double* stats,
                       int64_t slot, const int32_t* slot_on_device) {
  GM_LAUNCH((record_step_stats_kernel<T>), 1, 1, 0, e.stream)
  (loss, sum_squares, stats, slot, slot_on_device);
}

template <typename T>
void scale_many(const Exec& e, T factor, TensorChunks<T> l) {
  const unsigned threads = multi_threads(e, l);
  const int64_t blocks = plan_chunks(l, threads);
  if (blocks == 0) return;
  GM_LAUNCH((scale_many_kernel<T>), static_cast<unsigned>(blocks), threads, 0, e.stream)
  (factor, l);
}

#define GM_MULTI_INSTANTIATE(T)                                                                  \
  template void adam_update_many<T>(const Exec&, const math::AdamConstants<T>&, TensorChunks<T>, \
                                    const double*, const math::AdamConstants<T>*);               \
  template void sgd_update_many<T>(const Exec&, const SgdStep&, TensorChunks<T>);                \
  template void record_step_stats<T>(const Exec&, const T*, const double*, double*, int64_t,     \
                                     const int32_t*);                                            \
  template int64_t sum_squares_many<T>(const Exec&, TensorChunks<T>, double*);                   \
  template void scale_many<T>(const Exec&, T, TensorChunks<T>);
GM_MULTI_INSTANTIATE(float)
GM_MULTI_INSTANTIATE(double)
#undef GM_MULTI_INSTANTIATE

}  // namespace gm::GM_CUDA_NS
