// Stream capture and graph replay in the simt runtime: what a capture records, that a replay
// runs it again with the arguments of the capture, and that the calls a GPU rejects during a
// capture are rejected here with CUDA's errors.
#include <catch2/catch.hpp>

#include <vector>

#include "kernels/simt/simt.h"

namespace graph_kernels {
using namespace gm::simt;

// y[i] = y[i] * 2 + x[i]: applied twice, the result tells one replay from two.
__global__ void double_and_add(const float* x, float* y, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) y[i] = y[i] * 2.0f + x[i];
}

}  // namespace graph_kernels

using namespace gm::simt;

namespace {

constexpr int kN = 40;

struct Buffers {
  Buffers() {
    REQUIRE(cudaMalloc(&x, kN * sizeof(float)) == cudaSuccess);
    REQUIRE(cudaMalloc(&y, kN * sizeof(float)) == cudaSuccess);
    REQUIRE(cudaMallocHost(reinterpret_cast<void**>(&pinned), kN * sizeof(float)) == cudaSuccess);
    REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
  }
  ~Buffers() {
    cudaFree(x);
    cudaFree(y);
    cudaFreeHost(pinned);
    cudaStreamDestroy(stream);
    cudaGetLastError();
  }
  std::vector<float> read_y() const {
    std::vector<float> host(kN);
    REQUIRE(cudaMemcpy(host.data(), y, kN * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
    return host;
  }
  float* x = nullptr;
  float* y = nullptr;
  float* pinned = nullptr;
  cudaStream_t stream = nullptr;
};

}  // namespace

TEST_CASE("simt graphs: a capture records, and each replay runs the recorded work in order",
          "[simt]") {
  Buffers b;
  REQUIRE(cudaMemset(b.y, 0, kN * sizeof(float)) == cudaSuccess);
  for (int i = 0; i < kN; ++i)
    b.pinned[i] = static_cast<float>(i);
  REQUIRE(cudaStreamBeginCapture(b.stream, cudaStreamCaptureModeGlobal) == cudaSuccess);
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  REQUIRE(cudaStreamIsCapturing(b.stream, &status) == cudaSuccess);
  CHECK(status == cudaStreamCaptureStatusActive);
  // The upload reads the pinned buffer at each replay, not now.
  REQUIRE(cudaMemcpyAsync(b.x, b.pinned, kN * sizeof(float), cudaMemcpyHostToDevice, b.stream) ==
          cudaSuccess);
  GM_LAUNCH(graph_kernels::double_and_add, 2, 32, 0, b.stream)(b.x, b.y, kN);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  cudaGraph_t graph = nullptr;
  REQUIRE(cudaStreamEndCapture(b.stream, &graph) == cudaSuccess);
  REQUIRE(graph != nullptr);
  CHECK(b.read_y() == std::vector<float>(kN, 0.0f));  // nothing ran during the capture

  cudaGraphExec_t exec = nullptr;
  REQUIRE(cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess);
  REQUIRE(cudaGraphDestroy(graph) == cudaSuccess);  // the executable graph has its own copy
  REQUIRE(cudaGraphLaunch(exec, b.stream) == cudaSuccess);
  for (int i = 0; i < kN; ++i)
    b.pinned[i] = 1.0f;  // what the second replay uploads
  REQUIRE(cudaGraphLaunch(exec, b.stream) == cudaSuccess);
  REQUIRE(cudaStreamSynchronize(b.stream) == cudaSuccess);
  const std::vector<float> y = b.read_y();
  for (int i = 0; i < kN; ++i)
    CHECK(y[static_cast<size_t>(i)] == 2.0f * static_cast<float>(i) + 1.0f);
  CHECK(cudaGraphExecDestroy(exec) == cudaSuccess);
  CHECK(cudaStreamIsCapturing(b.stream, &status) == cudaSuccess);
  CHECK(status == cudaStreamCaptureStatusNone);
}

TEST_CASE("simt graphs: calls that a GPU rejects during a capture invalidate it", "[simt]") {
  Buffers b;
  std::vector<float> pageable(kN, 1.0f);
  const auto invalidated_by = [&](auto&& forbidden, cudaError_t expected) {
    REQUIRE(cudaStreamBeginCapture(b.stream, cudaStreamCaptureModeGlobal) == cudaSuccess);
    GM_LAUNCH(graph_kernels::double_and_add, 2, 32, 0, b.stream)(b.x, b.y, kN);
    CHECK(forbidden() == expected);
    // Everything after it on the stream is refused too, and the capture gives no graph.
    GM_LAUNCH(graph_kernels::double_and_add, 2, 32, 0, b.stream)(b.x, b.y, kN);
    CHECK(cudaGetLastError() == cudaErrorStreamCaptureInvalidated);
    cudaGraph_t graph = nullptr;
    CHECK(cudaStreamEndCapture(b.stream, &graph) == cudaErrorStreamCaptureInvalidated);
    CHECK(graph == nullptr);
    cudaGetLastError();
  };
  SECTION("synchronising the capturing stream") {
    invalidated_by([&] { return cudaStreamSynchronize(b.stream); },
                   cudaErrorStreamCaptureUnsupported);
  }
  SECTION("a synchronous copy back to the host (what reading a loss does)") {
    invalidated_by(
        [&] {
          return cudaMemcpy(pageable.data(), b.y, kN * sizeof(float), cudaMemcpyDeviceToHost);
        },
        cudaErrorStreamCaptureImplicit);
  }
  SECTION("an asynchronous copy from pageable memory") {
    invalidated_by(
        [&] {
          return cudaMemcpyAsync(b.x, pageable.data(), kN * sizeof(float), cudaMemcpyHostToDevice,
                                 b.stream);
        },
        cudaErrorStreamCaptureUnsupported);
  }
  SECTION("freeing device memory") {
    void* p = nullptr;
    REQUIRE(cudaMalloc(&p, 64) == cudaSuccess);
    invalidated_by([&] { return cudaFree(p); }, cudaErrorStreamCaptureUnsupported);
    CHECK(cudaFree(p) == cudaSuccess);  // the capture refused it: still allocated
  }
  SECTION("a launch on the legacy stream") {
    invalidated_by(
        [&] {
          GM_LAUNCH(graph_kernels::double_and_add, 2, 32, 0, nullptr)(b.x, b.y, kN);
          return cudaGetLastError();
        },
        cudaErrorStreamCaptureImplicit);
  }
}

TEST_CASE(
    "simt graphs: relaxed mode allows cudaMalloc during a capture; the default stream "
    "cannot be captured",
    "[simt]") {
  Buffers b;
  REQUIRE(cudaStreamBeginCapture(b.stream, cudaStreamCaptureModeGlobal) == cudaSuccess);
  void* p = nullptr;
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  REQUIRE(cudaThreadExchangeStreamCaptureMode(&mode) == cudaSuccess);
  CHECK(mode == cudaStreamCaptureModeGlobal);
  CHECK(cudaMalloc(&p, 64) == cudaSuccess);
  REQUIRE(cudaThreadExchangeStreamCaptureMode(&mode) == cudaSuccess);
  CHECK(mode == cudaStreamCaptureModeRelaxed);
  cudaGraph_t graph = nullptr;
  CHECK(cudaStreamEndCapture(b.stream, &graph) == cudaSuccess);
  CHECK(cudaGraphDestroy(graph) == cudaSuccess);
  CHECK(cudaFree(p) == cudaSuccess);  // allowed again once the capture ended
  CHECK(cudaStreamBeginCapture(nullptr, cudaStreamCaptureModeGlobal) ==
        cudaErrorStreamCaptureUnsupported);
  cudaGetLastError();
}
