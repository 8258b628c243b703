#pragma once
// The group's collectives on GPU memory through NCCL, for processes that each drive one GPU.
// NCCL needs every rank to join one communicator identified by a unique id that rank 0
// creates: the id travels over MPI (the group mpirun started), which also keeps the
// collectives NCCL has no use for (the step's statistics) and ends the group on failure.
#include <memory>

#include "engine/distributed/mpi/mpi_communicator.h"

namespace gm::dist {

class NcclCommunicator final : public Communicator {
 public:
  // Joins the NCCL communicator of the MPI group on the current rank's GPU `device`.
  NcclCommunicator(std::unique_ptr<MpiCommunicator> mpi, Device device, double timeout_seconds);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }
  int local_rank() const override { return mpi_->local_rank(); }
  int local_size() const override { return mpi_->local_size(); }
  Device buffer_device(Device grads) const override { return grads; }
  // ncclAllReduce with ncclAvg on NCCL's own stream, after the work already queued (the
  // bucket's copies). NCCL's ring adds in an order fixed by the topology:
  // the same on every rank and every run, but not the one-process order.
  std::unique_ptr<PendingReduce> start_mean(Tensor buffer) override;
  void sum(std::vector<double>& values) override { mpi_->sum(values); }
  void abort_group(int exit_code) override;

 private:
  struct State;  // NCCL and CUDA handles, kept out of this header
  std::unique_ptr<MpiCommunicator> mpi_;
  std::unique_ptr<State> state_;
  double timeout_seconds_;
};

}  // namespace gm::dist
