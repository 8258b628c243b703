#pragma once
// What runtime.cpp and graph.cpp share about streams and captures; users include runtime.h.
#include <atomic>
#include <functional>
#include <vector>

#include "kernels/simt/runtime.h"

namespace gm::simt {

struct Stream {
  // Atomic: a forbidden call on another thread invalidates the capture. The nodes are only
  // touched by the thread that issues work to the stream (an invalidated capture's are dropped
  // at cudaStreamEndCapture).
  std::atomic<cudaStreamCaptureStatus> capture{cudaStreamCaptureStatusNone};
  std::vector<std::function<void()>> nodes;  // recorded while capturing, in issue order
};

namespace detail {

// Remembers `e` as the thread's last error (unless it is cudaSuccess) and returns it.
cudaError_t report(cudaError_t e);
// cudaSuccess when a call that a global-mode capture forbids (cudaMalloc, cudaFree, waits for
// the device) may run on this thread now; otherwise every capture is invalidated and the
// error is returned (and reported).
cudaError_t unsafe_call_allowed();
// Runs `work` now, or records it when `stream` is capturing: the asynchronous copies, memsets
// and event records. Work on the legacy stream (null) during a capture, or on an invalidated
// capture, is refused with CUDA's error (reported).
cudaError_t enqueue(cudaStream_t stream, const std::function<void()>& work);
// cudaStreamSynchronize's check: synchronising a capturing stream invalidates its capture.
cudaError_t synchronize_allowed(cudaStream_t stream);
// Whether host memory [p, p + bytes) came from cudaMallocHost (a captured copy may only read or
// write page-locked host memory).
bool pinned(const void* p, size_t bytes);

}  // namespace detail
}  // namespace gm::simt
