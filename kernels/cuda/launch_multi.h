#pragma once
// Launchers of the multi-tensor kernels (multi_tensor.cu): one launch works on up to
// kMultiTensors tensors at once. A training step otherwise spends a launch (or several) per
// parameter on tiny updates; here the tensors' addresses and sizes travel in the kernel's
// arguments, so nothing is uploaded and the host never waits.
//
// The work is cut into chunks of kChunkPerThread elements per thread of a block; block b works
// on the tensor t with first_block[t] <= b < first_block[t + 1]. Only dense tensors of one dtype.
#include <cstdint>

#include "kernels/common/optim_math.h"
#include "kernels/cuda/launch.h"

namespace gm::GM_CUDA_NS {

// 48 tensors (four pointers, a count and a first block each): 2.3 KiB of kernel arguments,
// within the 4 KiB every CUDA architecture accepts, and more than the reference models have
// parameters, so their optimizer step is one launch.
constexpr int kMultiTensors = 48;
constexpr int kChunkPerThread = 4;

// The tensors of one launch. `x` is the tensor the kernel works on (a parameter, or the
// tensor to sum or scale); `g`, `b0`, `b1` the gradient and state buffers of optimizer steps
// (null where a kernel needs none, b0 also where SGD runs without momentum).
template <typename T>
struct TensorChunks {
  int count = 0;
  T* x[kMultiTensors] = {};
  const T* g[kMultiTensors] = {};
  T* b0[kMultiTensors] = {};
  T* b1[kMultiTensors] = {};
  int64_t n[kMultiTensors] = {};
  int64_t first_block[kMultiTensors + 1] = {};
};

// Elements one block covers for `threads` threads per block.
inline int64_t chunk_elements(unsigned threads) {
  return static_cast<int64_t>(threads) * kChunkPerThread;
}

// Fills first_block from n and returns the number of blocks of the launch.
template <typename T>
int64_t plan_chunks(TensorChunks<T>& l, unsigned threads) {
  const int64_t chunk = chunk_elements(threads);
  l.first_block[0] = 0;
  for (int t = 0; t < l.count; ++t)
    l.first_block[t + 1] = l.first_block[t] + (l.n[t] + chunk - 1) / chunk;
  return l.first_block[l.count];
}

// `guard`: null, or a device scalar; where it is not finite the launch changes nothing.
// `step_constants`: null, or the step's constants in device memory, read instead of `c` (so that
// a captured launch uses each replay's step).
template <typename T>
void adam_update_many(const Exec& e, const math::AdamConstants<T>& c, TensorChunks<T> l,
                      const double* guard, const math::AdamConstants<T>* step_constants = nullptr);
template <typename T>
void sgd_update_many(const Exec& e, const SgdStep& a, TensorChunks<T> l);
// partial[first + k] = sum of squares (in double) of block k's chunk; returns the blocks used.
template <typename T>
int64_t sum_squares_many(const Exec& e, TensorChunks<T> l, double* partial);
// *total = partial[0] + ... + partial[count - 1], in this order (one block).
void sum_partials(const Exec& e, const double* partial, int64_t count, double* total);
// One thread: stats[1 + 2 slot] = loss, stats[2 + 2 slot] = sqrt(sum_squares), and
// stats[0] = stats[0] * 0 + loss + sum_squares, which stays 0 while every value recorded is
// finite and is not finite ever after (a guard for the optimizer step). `slot_on_device`: null,
// or the slot in device memory, read instead of `slot`.
template <typename T>
void record_step_stats(const Exec& e, const T* loss, const double* sum_squares, double* stats,
                       int64_t slot, const int32_t* slot_on_device = nullptr);
// x *= factor for every tensor.
template <typename T>
void scale_many(const Exec& e, T factor, TensorChunks<T> l);

}  // namespace gm::GM_CUDA_NS
