// Stream capture and graph replay for the simt runtime (runtime.h): a capture records the work
// queued on its stream as closures, a graph is that list, and a launch of it runs the list in
// order, which is what a CUDA graph of a single stream's work does.
#include <algorithm>
#include <mutex>

#include "kernels/simt/capture.h"

namespace gm::simt {

struct Graph {
  std::vector<std::function<void()>> nodes;
};
struct GraphExec {
  std::vector<std::function<void()>> nodes;
};

namespace {

// The streams capturing now: the emulated device's state, like the allocation registry.
class Captures {
 public:
  void begin(Stream* s) {
    std::lock_guard<std::mutex> lock(mutex_);
    active_.push_back(s);
  }
  void end(Stream* s) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::erase(active_, s);
  }
  bool any() {
    std::lock_guard<std::mutex> lock(mutex_);
    return !active_.empty();
  }
  // A forbidden call ends every capture in progress the way CUDA does: each stays invalidated
  // until its cudaStreamEndCapture, which then returns no graph.
  void invalidate_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (Stream* s : active_)
      s->capture = cudaStreamCaptureStatusInvalidated;
  }

 private:
  std::mutex mutex_;
  std::vector<Stream*> active_;
};

Captures& captures() {
  static Captures c;
  return c;
}

// The calling thread's mode for unsafe calls (cudaThreadExchangeStreamCaptureMode).
thread_local cudaStreamCaptureMode thread_mode = cudaStreamCaptureModeGlobal;

cudaError_t refuse(cudaError_t e) {
  captures().invalidate_all();
  return detail::report(e);
}

}  // namespace

namespace detail {

cudaError_t unsafe_call_allowed() {
  if (thread_mode == cudaStreamCaptureModeRelaxed || !captures().any()) return cudaSuccess;
  return refuse(cudaErrorStreamCaptureUnsupported);
}

cudaError_t enqueue(cudaStream_t stream, const std::function<void()>& work) {
  if (!stream) {
    // The legacy stream waits for every other stream, the capturing one included.
    if (captures().any()) return refuse(cudaErrorStreamCaptureImplicit);
  } else if (stream->capture == cudaStreamCaptureStatusActive) {
    stream->nodes.push_back(work);
    return cudaSuccess;
  } else if (stream->capture == cudaStreamCaptureStatusInvalidated) {
    return report(cudaErrorStreamCaptureInvalidated);
  }
  work();
  return cudaSuccess;
}

cudaError_t synchronize_allowed(cudaStream_t stream) {
  if (!stream) return captures().any() ? refuse(cudaErrorStreamCaptureImplicit) : cudaSuccess;
  if (stream->capture == cudaStreamCaptureStatusNone) return cudaSuccess;
  stream->capture = cudaStreamCaptureStatusInvalidated;
  return report(cudaErrorStreamCaptureUnsupported);
}

}  // namespace detail

bool record_if_capturing(cudaStream_t stream, std::function<void()>& work) {
  if (!stream) {
    if (!captures().any()) return false;
    refuse(cudaErrorStreamCaptureImplicit);
    return true;
  }
  switch (stream->capture.load()) {
    case cudaStreamCaptureStatusActive:
      stream->nodes.push_back(std::move(work));
      return true;
    case cudaStreamCaptureStatusInvalidated:
      detail::report(cudaErrorStreamCaptureInvalidated);
      return true;
    case cudaStreamCaptureStatusNone:
      break;
  }
  return false;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode) {
  if (!stream) return detail::report(cudaErrorStreamCaptureUnsupported);
  if (stream->capture != cudaStreamCaptureStatusNone) return detail::report(cudaErrorIllegalState);
  stream->capture = cudaStreamCaptureStatusActive;
  stream->nodes.clear();
  captures().begin(stream);
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  if (!stream || !graph) return detail::report(cudaErrorInvalidValue);
  *graph = nullptr;
  if (stream->capture == cudaStreamCaptureStatusNone) return detail::report(cudaErrorIllegalState);
  captures().end(stream);
  const bool valid = stream->capture == cudaStreamCaptureStatusActive;
  stream->capture = cudaStreamCaptureStatusNone;
  std::vector<std::function<void()>> nodes = std::move(stream->nodes);
  stream->nodes.clear();
  if (!valid) return detail::report(cudaErrorStreamCaptureInvalidated);
  *graph = new Graph{std::move(nodes)};
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  if (!status) return detail::report(cudaErrorInvalidValue);
  *status = stream ? stream->capture.load() : cudaStreamCaptureStatusNone;
  return cudaSuccess;
}

cudaError_t cudaThreadExchangeStreamCaptureMode(cudaStreamCaptureMode* mode) {
  if (!mode) return detail::report(cudaErrorInvalidValue);
  std::swap(*mode, thread_mode);
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (!exec || !graph) return detail::report(cudaErrorInvalidValue);
  *exec = new GraphExec{graph->nodes};
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (!exec) return detail::report(cudaErrorInvalidResourceHandle);
  // A graph launched into a capture becomes one node of the outer graph.
  return detail::enqueue(stream, [exec] {
    for (const auto& node : exec->nodes)
      node();
  });
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}

}  // namespace gm::simt
