#include "engine/distributed/communicator.h"

#include <cstdlib>

#ifdef GENMODEL_HAVE_MPI
#include "engine/distributed/mpi/mpi_communicator.h"
#endif
#ifdef GENMODEL_HAVE_NCCL
#include "engine/distributed/nccl/nccl_communicator.h"
#endif

namespace gm::dist {

namespace {
class Done final : public PendingReduce {
 public:
  void progress() override {}
  void wait() override {}
};
}  // namespace

std::unique_ptr<PendingReduce> SingleProcess::start_mean(Tensor) {
  return std::make_unique<Done>();
}

void SingleProcess::abort_group(int exit_code) {
  // No other process waits for this one: its caller ends it with the exit code itself.
  fail("abort_group({}) on a group of one: return the exit code instead", exit_code);
}

bool launched_as_group() {
  // Open MPI's, PMIx's and MPICH's (Hydra) launchers set these in every process they start.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

std::unique_ptr<Communicator> join_group(double timeout_seconds) {
  if (!launched_as_group()) return std::make_unique<SingleProcess>();
#ifdef GENMODEL_HAVE_MPI
  return std::make_unique<MpiCommunicator>(timeout_seconds);
#else
  (void)timeout_seconds;
  throw Error(
      "this process was started by mpirun, but this genmodel was built without MPI: install "
      "Open MPI (scripts/setup.sh installs libopenmpi-dev and openmpi-bin), then configure and "
      "build again (cmake reports 'genmodel: MPI ON')");
#endif
}

std::unique_ptr<Communicator> for_device(std::unique_ptr<Communicator> group, Device device,
                                         double timeout_seconds) {
#ifdef GENMODEL_HAVE_NCCL
  if (device.kind == DeviceKind::cuda && group->size() > 1) {
    auto* mpi = dynamic_cast<MpiCommunicator*>(group.get());
    GM_CHECK(mpi != nullptr, "NCCL is bootstrapped through the MPI group");
    group.release();
    return std::make_unique<NcclCommunicator>(std::unique_ptr<MpiCommunicator>(mpi), device,
                                              timeout_seconds);
  }
#else
  (void)device;
  (void)timeout_seconds;
#endif
  return group;
}

Shard shard_of(int64_t total, int rank, int size) {
  GM_CHECK(size > 0 && rank >= 0 && rank < size, "shard_of: rank {} of a group of {}", rank, size);
  const int64_t first = total * rank / size;
  return {first, total * (rank + 1) / size - first};
}

}  // namespace gm::dist
