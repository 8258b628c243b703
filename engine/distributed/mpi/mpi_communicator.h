#pragma once
// The MPI group of the processes `mpirun` started (MPI_COMM_WORLD), on CPU memory. Owns MPI's
// lifetime: the constructor initialises MPI, the destructor finalises it, so one instance
// exists per process.
#include "engine/distributed/communicator.h"

namespace gm::dist {

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(double timeout_seconds);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  Device buffer_device(Device) const override { return Device::cpu(); }
  // An MPI_Iallgather of every rank's buffer, then the sum in rank order on each rank (so the
  // result never depends on MPI's reduction algorithm), divided by the group's size.
  std::unique_ptr<PendingReduce> start_mean(Tensor buffer) override;
  void sum(std::vector<double>& values) override;
  // Rank 0's bytes on every rank (the size must be the same everywhere); blocks.
  void broadcast(void* bytes, size_t size);
  void abort_group(int exit_code) override;

 private:
  double timeout_seconds_;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
};

}  // namespace gm::dist
