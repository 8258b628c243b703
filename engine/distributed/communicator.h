#pragma once
// A group of processes that train one model together (data parallelism): each process's place
// in the group and the two collectives training needs. SingleProcess is the group of one;
// MpiCommunicator (mpi_communicator.h, built when CMake finds MPI) spans the processes that
// `mpirun` started.
#include <memory>
#include <vector>

#include "engine/tensor.h"

namespace gm::dist {

// A reduction in flight. progress() lets the transport move data without blocking (MPI moves
// non-blocking collectives only inside MPI calls); wait() returns when the result is in place
// and throws gm::Error if the group did not answer in time.
class PendingReduce {
 public:
  virtual ~PendingReduce() = default;
  virtual void progress() = 0;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // This process's place among the group's processes on the same machine (picks its GPU,
  // splits the cores).
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  // Where buffers handed to start_mean must live for gradients that live on `grads`.
  virtual Device buffer_device(Device grads) const = 0;
  // Starts replacing the contiguous float tensor `buffer` by its mean over the ranks. The
  // ranks' values are added in rank order, so every rank gets the same bits whatever path the
  // data took. `buffer` must stay untouched until wait() returns.
  virtual std::unique_ptr<PendingReduce> start_mean(Tensor buffer) = 0;
  // Replaces `values` by their sums over the ranks (added in rank order); blocks.
  virtual void sum(std::vector<double>& values) = 0;
  // Ends every process of the group with `exit_code`: for the command line's error handler
  // only, after it printed why (a rank that stops alone would leave the others waiting).
  // Does not return.
  virtual void abort_group(int exit_code) = 0;
};

// The group of one: every collective is the identity; abort_group throws (there is no group
// to end, the caller returns its exit code).
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  Device buffer_device(Device grads) const override { return grads; }
  std::unique_ptr<PendingReduce> start_mean(Tensor buffer) override;
  void sum(std::vector<double>&) override {}
  void abort_group(int exit_code) override;
};

// True when a launcher (mpirun, mpiexec) started this process as part of a group.
bool launched_as_group();
// The group this process belongs to: the MPI group when launched_as_group(), else a group of
// one. Collectives that wait longer than `timeout_seconds` for the other ranks throw. Throws
// when launched as a group by a build without MPI.
std::unique_ptr<Communicator> join_group(double timeout_seconds);

// The group's collectives for gradients on `device`: on a GPU of a group of several, in a build
// with NCCL, an NCCL communicator bootstrapped through `group` (which must be the MPI group);
// otherwise `group` itself (MPI reduces through host memory).
std::unique_ptr<Communicator> for_device(std::unique_ptr<Communicator> group, Device device,
                                         double timeout_seconds);

// The balanced split of `total` items over `size` ranks: rank r holds [first, first + count).
struct Shard {
  int64_t first = 0, count = 0;
};
Shard shard_of(int64_t total, int rank, int size);

}  // namespace gm::dist
