#include "tools/distributed.h"

#include <omp.h>

#include <cstdlib>
#include <string>

#include "tools/commands.h"
#include "tools/common.h"

namespace gm::tools {

TrainingGroup join_training_group(const std::string& device) {
  double timeout = 600.0;
  if (const char* text = std::getenv("GENMODEL_COLLECTIVE_TIMEOUT")) {
    char* end = nullptr;
    timeout = std::strtod(text, &end);
    if (end == text || *end != '\0' || !(timeout > 0))
      throw UsageError(fmt::format(
          "GENMODEL_COLLECTIVE_TIMEOUT='{}' is not a positive number of seconds", text));
  }
  auto group = dist::join_group(timeout);
  if (group->local_size() > 1 && std::getenv("OMP_NUM_THREADS") == nullptr)
    omp_set_num_threads(std::max(1, omp_get_num_procs() / group->local_size()));
  const Device d = checked_device(
      device == "cuda" && group->size() > 1 ? fmt::format("cuda:{}", group->local_rank()) : device);
  return {dist::for_device(std::move(group), d, timeout), d};
}

int run_in_group(dist::Communicator& group, const std::function<int()>& body) {
  if (group.size() == 1) return body();
  try {
    return body();
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: rank {} of {}: {}\n", group.rank(), group.size(), e.what());
    std::fflush(stderr);
    group.abort_group(kFailure);
  }
  return kFailure;  // not reached: abort_group ends the process
}

}  // namespace gm::tools
