// bench_sampling: the sampling benchmark as its own binary (support/sampling_benchmark.h;
// also `genmodel bench sampling`). scripts/bench.sh runs it.
#include <fmt/format.h>

#include "support/sampling_benchmark.h"

int main(int argc, char** argv) {
  gm::bench::SamplingOptions options;
  CLI::App app{
      "Times image generation of each model family against image size (see "
      "docs/sampling.md)"};
  gm::bench::add_sampling_options(app, options);
  CLI11_PARSE(app, argc, argv);
  try {
    return gm::bench::run_sampling_benchmark(options);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_sampling: {}\n", e.what());
    return 1;
  }
}
