#include "engine/distributed/mpi/mpi_communicator.h"

#include <mpi.h>

#include <chrono>
#include <thread>

namespace gm::dist {

namespace {

void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail("MPI: {} failed: {}", what, std::string(text, static_cast<size_t>(length)));
}

// Polls `request` until it completes; a rank that died or hangs must not hang the others.
void wait_for(MPI_Request& request, double timeout_seconds, int rank, const char* what) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  int done = 0;
  for (;;) {
    check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
    if (done) return;
    if (std::chrono::steady_clock::now() > deadline)
      fail(
          "rank {}: {} got no answer from the other ranks within {} s (one of them stopped or "
          "hangs; see its message above). Raise GENMODEL_COLLECTIVE_TIMEOUT if a step really "
          "takes that long",
          rank, what, timeout_seconds);
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

// Every rank's copy of a buffer, gathered; the mean is summed in rank order.
template <typename T>
void mean_in_rank_order(const std::vector<uint8_t>& gathered, T* out, size_t count, int size) {
  const T* all = reinterpret_cast<const T*>(gathered.data());
  for (size_t i = 0; i < count; ++i) {
    T total = all[i];
    for (int r = 1; r < size; ++r)
      total += all[static_cast<size_t>(r) * count + i];
    out[i] = total / static_cast<T>(size);
  }
}

class MpiMean final : public PendingReduce {
 public:
  MpiMean(Tensor buffer, int size, int rank, double timeout_seconds)
      : buffer_(std::move(buffer)), size_(size), rank_(rank), timeout_(timeout_seconds) {
    gathered_.resize(buffer_.nbytes() * static_cast<size_t>(size_));
    GM_CHECK(buffer_.nbytes() <= static_cast<size_t>(INT32_MAX),
             "MPI all-gather of {} bytes: buckets must stay under 2 GiB", buffer_.nbytes());
    const int bytes = static_cast<int>(buffer_.nbytes());
    check_mpi(MPI_Iallgather(buffer_.raw(), bytes, MPI_BYTE, gathered_.data(), bytes, MPI_BYTE,
                             MPI_COMM_WORLD, &request_),
              "MPI_Iallgather");
  }
  void progress() override {
    if (finished_) return;
    int done = 0;
    check_mpi(MPI_Test(&request_, &done, MPI_STATUS_IGNORE), "MPI_Test");
    finished_ = done != 0;
  }
  void wait() override {
    if (!finished_) wait_for(request_, timeout_, rank_, "the gradient all-reduce");
    finished_ = true;
    const size_t n = static_cast<size_t>(buffer_.numel());
    if (buffer_.dtype() == DType::f32)
      mean_in_rank_order(gathered_, buffer_.data<float>(), n, size_);
    else
      mean_in_rank_order(gathered_, buffer_.data<double>(), n, size_);
  }

 private:
  Tensor buffer_;
  int size_, rank_;
  double timeout_;
  std::vector<uint8_t> gathered_;
  MPI_Request request_ = MPI_REQUEST_NULL;
  bool finished_ = false;
};

}  // namespace

MpiCommunicator::MpiCommunicator(double timeout_seconds) : timeout_seconds_(timeout_seconds) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  GM_CHECK(!initialized && !finalized,
           "MPI was already initialised in this process: create one MpiCommunicator per process");
  int provided = 0;
  // Only the main thread calls MPI; OpenMP workers never do.
  check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  // Errors come back as codes (turned into gm::Error) instead of ending the process silently.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local;
  check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local),
            "MPI_Comm_split_type");
  MPI_Comm_rank(local, &local_rank_);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
}

MpiCommunicator::~MpiCommunicator() {
  MPI_Finalize();
}

std::unique_ptr<PendingReduce> MpiCommunicator::start_mean(Tensor buffer) {
  GM_CHECK(buffer.device().host_accessible() && is_floating(buffer.dtype()),
           "MPI averages float tensors in CPU memory, got {}", buffer.describe());
  return std::make_unique<MpiMean>(std::move(buffer), size_, rank_, timeout_seconds_);
}

void MpiCommunicator::sum(std::vector<double>& values) {
  GM_CHECK(values.size() <= static_cast<size_t>(INT32_MAX / size_), "MPI sum of {} values",
           values.size());
  const int count = static_cast<int>(values.size());
  std::vector<double> all(values.size() * static_cast<size_t>(size_));
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Iallgather(values.data(), count, MPI_DOUBLE, all.data(), count, MPI_DOUBLE,
                           MPI_COMM_WORLD, &request),
            "MPI_Iallgather");
  wait_for(request, timeout_seconds_, rank_, "a reduction of the step's statistics");
  for (size_t i = 0; i < values.size(); ++i) {
    double total = all[i];
    for (int r = 1; r < size_; ++r)
      total += all[static_cast<size_t>(r) * values.size() + i];
    values[i] = total;
  }
}

void MpiCommunicator::broadcast(void* bytes, size_t size) {
  GM_CHECK(size <= static_cast<size_t>(INT32_MAX), "MPI broadcast of {} bytes", size);
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Ibcast(bytes, static_cast<int>(size), MPI_BYTE, 0, MPI_COMM_WORLD, &request),
            "MPI_Ibcast");
  wait_for(request, timeout_seconds_, rank_, "a broadcast from rank 0");
}

void MpiCommunicator::abort_group(int exit_code) {
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::abort();  // MPI_Abort does not return; this tells the compiler so
}

}  // namespace gm::dist
