#pragma once
// The command line's side of data-parallel training (docs/distributed.md): joining the group
// that mpirun started, giving each process its share of the cores and its GPU, and making a
// rank that fails stop the whole group instead of leaving the others waiting.
#include <functional>
#include <memory>

#include "engine/distributed/communicator.h"

namespace gm::tools {

// The group of this process (a group of one without mpirun) and its device: `cuda` (no index)
// means the GPU of the process's rank on its machine; a GPU group reduces over NCCL where the
// build has it. Collectives time out after GENMODEL_COLLECTIVE_TIMEOUT seconds (default 600).
// Unless OMP_NUM_THREADS is set, the processes on one machine split its cores evenly.
struct TrainingGroup {
  std::unique_ptr<dist::Communicator> group;
  Device device;
};
TrainingGroup join_training_group(const std::string& device);

// Runs `body`; in a group of several, an exception is printed with the rank that raised it
// and then ends every process (MPI_Abort) with exit code 1.
int run_in_group(dist::Communicator& group, const std::function<int()>& body);

}  // namespace gm::tools
