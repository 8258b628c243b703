#include "engine/distributed/nccl/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <thread>

namespace gm::dist {

namespace {

void check_cuda(cudaError_t code, const char* what) {
  if (code != cudaSuccess) fail("CUDA: {} failed: {}", what, cudaGetErrorString(code));
}

void check_nccl(ncclResult_t code, const char* what) {
  if (code != ncclSuccess) fail("NCCL: {} failed: {}", what, ncclGetErrorString(code));
}

}  // namespace

struct NcclCommunicator::State {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
};

namespace {

class NcclMean final : public PendingReduce {
 public:
  NcclMean(Tensor buffer, ncclComm_t comm, cudaStream_t stream, int rank, double timeout)
      : buffer_(std::move(buffer)), comm_(comm), rank_(rank), timeout_(timeout) {
    // The bucket's copies were queued on the CUDA backend's stream, a blocking stream: an event
    // recorded on the legacy default stream comes after them, and NCCL's stream waits for it.
    check_cuda(cudaEventCreateWithFlags(&copied_, cudaEventDisableTiming), "cudaEventCreate");
    check_cuda(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming), "cudaEventCreate");
    check_cuda(cudaEventRecord(copied_, cudaStreamLegacy), "cudaEventRecord");
    check_cuda(cudaStreamWaitEvent(stream, copied_, 0), "cudaStreamWaitEvent");
    const ncclDataType_t type = buffer_.dtype() == DType::f32 ? ncclFloat32 : ncclFloat64;
    check_nccl(ncclAllReduce(buffer_.raw(), buffer_.raw(), static_cast<size_t>(buffer_.numel()),
                             type, ncclAvg, comm_, stream),
               "ncclAllReduce");
    check_cuda(cudaEventRecord(done_, stream), "cudaEventRecord");
  }
  ~NcclMean() override {
    cudaEventDestroy(copied_);
    cudaEventDestroy(done_);
  }
  NcclMean(const NcclMean&) = delete;
  NcclMean& operator=(const NcclMean&) = delete;

  void progress() override {}  // NCCL progresses on the GPU by itself
  void wait() override {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_);
    for (;;) {
      const cudaError_t state = cudaEventQuery(done_);
      if (state == cudaSuccess) return;
      if (state != cudaErrorNotReady) check_cuda(state, "the gradient all-reduce");
      ncclResult_t async_error = ncclSuccess;
      check_nccl(ncclCommGetAsyncError(comm_, &async_error), "ncclCommGetAsyncError");
      check_nccl(async_error, "the gradient all-reduce");
      if (std::chrono::steady_clock::now() > deadline)
        fail(
            "rank {}: the gradient all-reduce (NCCL) got no answer from the other ranks within "
            "{} s (one of them stopped or hangs; see its message above). Raise "
            "GENMODEL_COLLECTIVE_TIMEOUT if a step really takes that long",
            rank_, timeout_);
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }

 private:
  Tensor buffer_;
  ncclComm_t comm_;
  int rank_;
  double timeout_;
  cudaEvent_t copied_ = nullptr, done_ = nullptr;
};

}  // namespace

NcclCommunicator::NcclCommunicator(std::unique_ptr<MpiCommunicator> mpi, Device device,
                                   double timeout_seconds)
    : mpi_(std::move(mpi)), state_(std::make_unique<State>()), timeout_seconds_(timeout_seconds) {
  GM_CHECK(device.kind == DeviceKind::cuda, "NCCL reduces tensors on a GPU, not on {}",
           device.name());
  check_cuda(cudaSetDevice(device.index), "cudaSetDevice");
  ncclUniqueId id{};
  if (mpi_->rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
  mpi_->broadcast(&id, sizeof id);
  check_nccl(ncclCommInitRank(&state_->comm, mpi_->size(), id, mpi_->rank()), "ncclCommInitRank");
  check_cuda(cudaStreamCreateWithFlags(&state_->stream, cudaStreamNonBlocking), "cudaStreamCreate");
}

NcclCommunicator::~NcclCommunicator() {
  if (state_->stream) cudaStreamDestroy(state_->stream);
  if (state_->comm) ncclCommDestroy(state_->comm);
}

std::unique_ptr<PendingReduce> NcclCommunicator::start_mean(Tensor buffer) {
  GM_CHECK(buffer.device().kind == DeviceKind::cuda && is_floating(buffer.dtype()),
           "NCCL averages float tensors on the GPU, got {}", buffer.describe());
  return std::make_unique<NcclMean>(std::move(buffer), state_->comm, state_->stream, rank(),
                                    timeout_seconds_);
}

void NcclCommunicator::abort_group(int exit_code) {
  // Frees the GPU side at once; MPI then ends every process.
  if (state_->comm) ncclCommAbort(state_->comm);
  state_->comm = nullptr;
  mpi_->abort_group(exit_code);
}

}  // namespace gm::dist
