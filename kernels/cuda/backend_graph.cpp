// CudaBackend: CUDA Graphs. A capture records what the backend queues on its stream (the simt
// runtime emulates capture and replay, so this runs on cuda-emu too); the graph keeps the
// allocator's private pool of the capture alive, so every buffer the recorded work touches
// stays where it was.
#include <exception>

#include "kernels/cuda/backend.h"
#include "kernels/cuda/check.h"

namespace gm::GM_CUDA_NS {

class CudaBackend::Graph final : public CudaGraph {
 public:
  Graph(CudaBackend& backend, cudaGraphExec_t exec, int pool)
      : backend_(backend), exec_(exec), pool_(pool) {}
  ~Graph() override {
    cudaGraphExecDestroy(exec_);
    // Work queued later on the stream runs after the last replay, so the blocks may be reused.
    backend_.allocator_.release_private_pool(pool_);
  }
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  void launch() override {
    backend_.refuse_while_capturing("launching a graph");
    backend_.exec();
    GM_CUDA_CHECK(cudaGraphLaunch(exec_, backend_.stream_));
    backend_.counters_.graph_launch();
    if (backend_.sync_debug_) backend_.synchronize();
  }

 private:
  CudaBackend& backend_;
  cudaGraphExec_t exec_;
  int pool_;
};

void CudaBackend::refuse_while_capturing(const char* what) const {
  if (capturing_)
    fail(
        "{}: {} during a CUDA Graph capture: the captured step must not wait for the device. "
        "Keep reads of losses and statistics (item(), to_vector, StepStats::read), uploads of "
        "batches and synchronizes outside the captured function",
        name_, what);
}

std::unique_ptr<CudaGraph> CudaBackend::capture(const std::function<void()>& work) {
  refuse_while_capturing("starting another capture");
  exec();
  // Whatever is queued still runs eagerly; the capture starts from a quiet stream.
  GM_CUDA_CHECK(cudaStreamSynchronize(stream_));
  counters_.host_sync();
  const int pool = allocator_.begin_private_pool();
  std::exception_ptr failure;
  if (const cudaError_t e = cudaStreamBeginCapture(stream_, cudaStreamCaptureModeGlobal);
      e != cudaSuccess) {
    allocator_.end_private_pool();
    allocator_.release_private_pool(pool);
    GM_CUDA_CHECK(e);
  }
  capturing_ = true;
  try {
    work();
  } catch (...) {
    failure = std::current_exception();
  }
  capturing_ = false;
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
  allocator_.end_private_pool();
  cudaGraphExec_t exec = nullptr;
  cudaError_t instantiated = cudaSuccess;
  if (!failure && ended == cudaSuccess) instantiated = cudaGraphInstantiate(&exec, graph, 0);
  if (graph) cudaGraphDestroy(graph);
  if (failure || ended != cudaSuccess || instantiated != cudaSuccess) {
    cudaGetLastError();
    allocator_.release_private_pool(pool);
    if (failure) std::rethrow_exception(failure);
    const cudaError_t e = ended != cudaSuccess ? ended : instantiated;
    fail(
        "{}: the CUDA Graph capture failed: {} ({}); a call in the captured function waited for "
        "the device or used the default stream",
        name_, cudaGetErrorString(e), cudaGetErrorName(e));
  }
  return std::make_unique<Graph>(*this, exec, pool);
}

}  // namespace gm::GM_CUDA_NS
