// The simt executor: CUDA semantics of indices, shared memory, barriers, shuffles and atomics,
// and the bugs it exists to catch (missing barriers, barrier divergence).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "engine/error.h"
#include "kernels/simt/simt.h"

namespace kernels {
using namespace gm::simt;

// Each thread writes its linear index and its (x, y, z) so the test can check the mapping.
__global__ void record_indices(int* out) {
  const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned linear = b * blockDim.x * blockDim.y * blockDim.z + t;
  out[4 * linear + 0] = static_cast<int>(linear);
  out[4 * linear + 1] = static_cast<int>(threadIdx.x + blockIdx.x * 100);
  out[4 * linear + 2] = static_cast<int>(threadIdx.y + blockIdx.y * 100);
  out[4 * linear + 3] = static_cast<int>(threadIdx.z + blockIdx.z * 100);
}

// The classic block reduction: warp shuffles, then one value per warp through shared memory.
__device__ double block_sum(double v) {
  __shared__ double partial[32];
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int offset = 16; offset > 0; offset /= 2)
    v += __shfl_down_sync(0xffffffffu, v, static_cast<unsigned>(offset));
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = threadIdx.x < blockDim.x / 32 ? partial[lane] : 0.0;
  if (warp == 0)
    for (int offset = 16; offset > 0; offset /= 2)
      v += __shfl_down_sync(0xffffffffu, v, static_cast<unsigned>(offset));
  return v;
}

__global__ void sum_rows(const double* x, double* out, int n) {
  double v = 0;
  for (int i = static_cast<int>(threadIdx.x); i < n; i += static_cast<int>(blockDim.x))
    v += x[blockIdx.x * static_cast<unsigned>(n) + static_cast<unsigned>(i)];
  v = block_sum(v);
  if (threadIdx.x == 0) out[blockIdx.x] = v;
}

// Shuffle variants with sub-warp width; out[4 * tid + k] for the four kinds.
__global__ void shuffles(int* out, int width) {
  const int tid = static_cast<int>(threadIdx.x);
  const int v = 1000 + tid;
  out[4 * tid + 0] = __shfl_down_sync(0xffffffffu, v, 3u, width);
  out[4 * tid + 1] = __shfl_up_sync(0xffffffffu, v, 2u, width);
  out[4 * tid + 2] = __shfl_xor_sync(0xffffffffu, v, 5, width);
  out[4 * tid + 3] = __shfl_sync(0xffffffffu, v, 7, width);
}

// Thread i reads what thread i-1 wrote. With the barrier this is right in any order; without
// it, it only works when lower threads happen to run first.
template <bool kBarrier>
__global__ void read_left_neighbour(int* out, int salt) {
  __shared__ int cell[128];
  const unsigned i = threadIdx.x;
  cell[i] = static_cast<int>(i) + salt;
  if (kBarrier) __syncthreads();
  out[i] = i == 0 ? salt - 1 : cell[i - 1];
}

__global__ void barrier_in_branch(int* out) {
  if (threadIdx.x < 16) __syncthreads();
  out[threadIdx.x] = 1;
}
__global__ void two_barriers(int* out) {
  if (threadIdx.x % 2)
    __syncthreads();
  else
    __syncthreads();
  out[threadIdx.x] = 1;
}
__global__ void shuffle_in_branch(int* out) {
  int v = static_cast<int>(threadIdx.x);
  if (threadIdx.x < 16) v = __shfl_down_sync(0xffffffffu, v, 1u);
  out[threadIdx.x] = v;
}
__global__ void shuffle_half_mask(int* out) {
  out[threadIdx.x] = __shfl_xor_sync(0x0000ffffu, static_cast<int>(threadIdx.x), 1);
}

__global__ void atomics(int* count, float* fsum, double* dsum, int* maximum) {
  const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(count, 1);
  atomicAdd(fsum, 0.5f);
  atomicAdd(dsum, static_cast<double>(i));
  atomicMax(maximum, static_cast<int>(i));
}

// Dynamic shared memory: a reversal through shared memory, plus one slot no one writes.
__global__ void reverse_through_shared(const float* x, float* y, float* unwritten) {
  GM_DYNAMIC_SHARED(float, s);
  const unsigned n = blockDim.x;
  s[threadIdx.x] = x[threadIdx.x];
  __syncthreads();
  y[threadIdx.x] = s[n - 1 - threadIdx.x];
  if (threadIdx.x == 0) *unwritten = s[n];
}

__global__ void nothing() {}

}  // namespace kernels

using namespace gm::simt;

namespace {

// Device buffer helpers on top of the runtime subset (which must also work).
template <typename T>
T* to_device(const std::vector<T>& host) {
  T* p = nullptr;
  REQUIRE(cudaMalloc(&p, host.size() * sizeof(T)) == cudaSuccess);
  REQUIRE(cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice) ==
          cudaSuccess);
  return p;
}
template <typename T>
std::vector<T> to_host(const T* p, size_t n) {
  std::vector<T> host(n);
  REQUIRE(cudaMemcpy(host.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
  return host;
}

}  // namespace

TEST_CASE("simt: thread and block indices follow CUDA's layout", "[simt]") {
  const dim3 grid(3, 2, 2), block(5, 3, 2);
  const size_t n = 3 * 2 * 2 * 5 * 3 * 2;
  int* out = to_device(std::vector<int>(4 * n, -1));
  GM_LAUNCH(kernels::record_indices, grid, block, 0, nullptr)(out);
  const std::vector<int> got = to_host(out, 4 * n);
  // Visit the grid in CUDA's order and check each thread found its own slot.
  size_t linear = 0;
  for (unsigned bz = 0; bz < 2; ++bz)
    for (unsigned by = 0; by < 2; ++by)
      for (unsigned bx = 0; bx < 3; ++bx)
        for (unsigned tz = 0; tz < 2; ++tz)
          for (unsigned ty = 0; ty < 3; ++ty)
            for (unsigned tx = 0; tx < 5; ++tx, ++linear) {
              INFO("thread " << linear);
              REQUIRE(got[4 * linear] == static_cast<int>(linear));
              REQUIRE(got[4 * linear + 1] == static_cast<int>(tx + 100 * bx));
              REQUIRE(got[4 * linear + 2] == static_cast<int>(ty + 100 * by));
              REQUIRE(got[4 * linear + 3] == static_cast<int>(tz + 100 * bz));
            }
  cudaFree(out);
}

TEST_CASE("simt: a shared-memory block reduction is exact in every order and block size",
          "[simt]") {
  const int rows = 7, n = 1000;
  std::vector<double> x(static_cast<size_t>(rows * n));
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<double>(i % 97);  // integers: every summation order gives the same sum
  double* dx = to_device(x);
  double* dout = to_device(std::vector<double>(rows, -1.0));
  for (LaneOrder order : {LaneOrder::forward, LaneOrder::reverse}) {
    ScopedLaneOrder scoped(order);
    for (unsigned block : {32u, 96u, 256u, 1024u}) {
      GM_LAUNCH(kernels::sum_rows, rows, block, 0, nullptr)(dx, dout, n);
      const std::vector<double> got = to_host(dout, rows);
      for (int r = 0; r < rows; ++r) {
        const double want = std::accumulate(x.begin() + r * n, x.begin() + (r + 1) * n, 0.0);
        INFO("block " << block << " row " << r);
        REQUIRE(got[static_cast<size_t>(r)] == want);
      }
    }
  }
  cudaFree(dx);
  cudaFree(dout);
}

TEST_CASE("simt: warp shuffles follow CUDA's definitions, including sub-warp widths", "[simt]") {
  const int threads = 64;
  int* out = to_device(std::vector<int>(4 * threads, 0));
  for (int width : {32, 16, 8}) {
    GM_LAUNCH(kernels::shuffles, 1, threads, 0, nullptr)(out, width);
    const std::vector<int> got = to_host(out, 4 * threads);
    for (int t = 0; t < threads; ++t) {
      const int lane = t % 32, seg = lane / width * width, warp_base = t - lane;
      auto value = [&](int src_lane) { return 1000 + warp_base + src_lane; };
      const int down = lane + 3 < seg + width ? value(lane + 3) : value(lane);
      const int up = lane - 2 >= seg ? value(lane - 2) : value(lane);
      const int x = lane ^ 5;
      const int xr = x < seg + width ? value(x) : value(lane);
      const int idx = value(seg + 7 % width);
      INFO("width " << width << " thread " << t);
      CHECK(got[static_cast<size_t>(4 * t)] == down);
      CHECK(got[static_cast<size_t>(4 * t + 1)] == up);
      CHECK(got[static_cast<size_t>(4 * t + 2)] == xr);
      CHECK(got[static_cast<size_t>(4 * t + 3)] == idx);
    }
  }
  cudaFree(out);
}

TEST_CASE("simt: reverse lane order exposes a missing __syncthreads", "[simt]") {
  const int n = 128;
  int* out = to_device(std::vector<int>(n, 0));
  int salt = 10;
  // Returns whether every thread read the value its left neighbour wrote in this launch.
  auto correct = [&](auto kernel) {
    salt += 1000;  // a new value each launch: stale shared memory never looks right
    GM_LAUNCH(kernel, 1, n, 0, nullptr)(out, salt);
    const std::vector<int> got = to_host(out, n);
    for (int i = 0; i < n; ++i)
      if (got[static_cast<size_t>(i)] != salt + i - 1) return false;
    return true;
  };
  {
    ScopedLaneOrder forward(LaneOrder::forward);
    CHECK(correct(kernels::read_left_neighbour<true>));
    CHECK(correct(kernels::read_left_neighbour<false>));  // the bug hides in this order
  }
  {
    ScopedLaneOrder reverse(LaneOrder::reverse);
    CHECK(correct(kernels::read_left_neighbour<true>));
    CHECK_FALSE(correct(kernels::read_left_neighbour<false>));
  }
  cudaFree(out);
}

TEST_CASE("simt: barrier divergence is an error naming the kernel and the line", "[simt]") {
  int* out = to_device(std::vector<int>(64, 0));
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(GM_LAUNCH(kernels::barrier_in_branch, 2, 64, 0, nullptr)(out),
                    Contains("kernels::barrier_in_branch") && Contains("barrier divergence") &&
                        Contains("has returned") && Contains("test_simt.cpp:"));
  CHECK_THROWS_WITH(GM_LAUNCH(kernels::two_barriers, 1, 64, 0, nullptr)(out),
                    Contains("kernels::two_barriers") && Contains("barrier divergence"));
  CHECK_THROWS_WITH(GM_LAUNCH(kernels::shuffle_in_branch, 1, 32, 0, nullptr)(out),
                    Contains("kernels::shuffle_in_branch") && Contains("has returned"));
  CHECK_THROWS_WITH(GM_LAUNCH(kernels::shuffle_half_mask, 1, 32, 0, nullptr)(out),
                    Contains("kernels::shuffle_half_mask") && Contains("does not name it"));
  // The mask names lanes 32..63 of a warp that exists only in part.
  CHECK_THROWS_WITH(GM_LAUNCH(kernels::shuffles, 1, 40, 0, nullptr)(out, 32),
                    Contains("does not exist"));
  // The executor is usable again after an error.
  GM_LAUNCH(kernels::barrier_in_branch, 1, 16, 0, nullptr)(out);
  CHECK(to_host(out, 16) == std::vector<int>(16, 1));
  cudaFree(out);
}

TEST_CASE("simt: atomics are exact across concurrently running blocks", "[simt]") {
  int* count = to_device(std::vector<int>{0});
  float* fsum = to_device(std::vector<float>{0.0f});
  double* dsum = to_device(std::vector<double>{0.0});
  int* maximum = to_device(std::vector<int>{-1});
  // Large enough for the executor to run blocks on several OS threads at once.
  const unsigned blocks = 192, threads = 256, n = blocks * threads;
  GM_LAUNCH(kernels::atomics, blocks, threads, 0, nullptr)(count, fsum, dsum, maximum);
  CHECK(to_host(count, 1)[0] == static_cast<int>(n));
  CHECK(to_host(fsum, 1)[0] == 0.5f * static_cast<float>(n));  // exact: small multiples of 1/2
  CHECK(to_host(dsum, 1)[0] == static_cast<double>(n) * (n - 1) / 2);
  CHECK(to_host(maximum, 1)[0] == static_cast<int>(n - 1));
  for (void* p : std::vector<void*>{count, fsum, dsum, maximum})
    cudaFree(p);
}

TEST_CASE("simt: dynamic shared memory is per launch and starts as NaN", "[simt]") {
  const int n = 37;
  std::vector<float> x(n);
  std::iota(x.begin(), x.end(), 1.0f);
  float* dx = to_device(x);
  float* dy = to_device(std::vector<float>(n, 0.0f));
  float* unwritten = to_device(std::vector<float>{0.0f});
  GM_LAUNCH(kernels::reverse_through_shared, 1, n, (n + 1) * sizeof(float), nullptr)
  (dx, dy, unwritten);
  const std::vector<float> y = to_host(dy, n);
  for (int i = 0; i < n; ++i)
    CHECK(y[static_cast<size_t>(i)] == x[static_cast<size_t>(n - 1 - i)]);
  CHECK(std::isnan(to_host(unwritten, 1)[0]));
  for (void* p : std::vector<void*>{dx, dy, unwritten})
    cudaFree(p);
}

TEST_CASE("simt: invalid launch configurations are rejected", "[simt]") {
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(GM_LAUNCH(kernels::nothing, 1, 2048, 0, nullptr)(),
                    Contains("kernels::nothing") && Contains("invalid launch configuration"));
  CHECK_THROWS_WITH(GM_LAUNCH(kernels::nothing, dim3(1, 70000), 32, 0, nullptr)(),
                    Contains("invalid launch configuration"));
  CHECK_THROWS_WITH(GM_LAUNCH(kernels::nothing, 1, 32, 64 * 1024, nullptr)(),
                    Contains("dynamic shared memory"));
  CHECK_NOTHROW(GM_LAUNCH(kernels::nothing, dim3(5, 3, 2), dim3(8, 4, 2), 0, nullptr)());
}

TEST_CASE("simt: the runtime subset checks pointers like a GPU would", "[simt]") {
  float* d = nullptr;
  REQUIRE(cudaMalloc(&d, 16 * sizeof(float)) == cudaSuccess);
  std::vector<float> host(16, 2.0f), back(16, 0.0f);
  CHECK(cudaMemcpy(d, host.data(), 64, cudaMemcpyHostToDevice) == cudaSuccess);
  CHECK(cudaMemset(d, 0, 32) == cudaSuccess);
  CHECK(cudaMemcpy(back.data(), d, 64, cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(back[7] == 0.0f);
  CHECK(back[8] == 2.0f);
  // Wrong directions, overruns and foreign pointers are errors, recorded as the last error.
  CHECK(cudaMemcpy(host.data(), d, 64, cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaSuccess);
  CHECK(cudaMemcpy(back.data(), d, 68, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);
  CHECK(cudaFree(host.data()) == cudaErrorInvalidDevicePointer);
  CHECK(std::string(cudaGetErrorString(cudaErrorInvalidDevicePointer)) == "invalid device pointer");
  CHECK(cudaFree(d) == cudaSuccess);
  CHECK(cudaFree(d) == cudaErrorInvalidDevicePointer);  // double free
  cudaGetLastError();

  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
  REQUIRE(cudaEventCreate(&start) == cudaSuccess);
  REQUIRE(cudaEventCreate(&stop) == cudaSuccess);
  float ms = -1.0f;
  CHECK(cudaEventElapsedTime(&ms, start, stop) == cudaErrorInvalidResourceHandle);  // unrecorded
  CHECK(cudaEventRecord(start, stream) == cudaSuccess);
  GM_LAUNCH(kernels::nothing, 4, 64, 0, stream)();
  CHECK(cudaEventRecord(stop, stream) == cudaSuccess);
  CHECK(cudaStreamSynchronize(stream) == cudaSuccess);
  CHECK(cudaEventElapsedTime(&ms, start, stop) == cudaSuccess);
  CHECK(ms >= 0.0f);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaStreamDestroy(stream);
  cudaGetLastError();
}
