// `genmodel bench sampling`: the sampling benchmark of support/sampling_benchmark.h (the same
// code as the bench_sampling binary that scripts/bench.sh runs).
#include <memory>

#include "support/sampling_benchmark.h"
#include "tools/commands.h"

namespace gm::tools {

void add_bench_command(CLI::App& app, Action& action) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks (see docs/benchmarks.md)");
  bench->require_subcommand(1);
  CLI::App* sampling = bench->add_subcommand(
      "sampling",
      "Time image generation of every model family against image size: table, CSV, log-log "
      "plot (docs/sampling.md)");
  auto o = std::make_shared<bench::SamplingOptions>();
  bench::add_sampling_options(*sampling, *o);
  sampling->callback([o, &action] { action = [o] { return bench::run_sampling_benchmark(*o); }; });
}

}  // namespace gm::tools
