#pragma once
// The sampling benchmark, shared by the bench_sampling binary and `genmodel bench sampling`
// (docs/sampling.md): every sampler at every image size and batch, table, CSV and SVG plot.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace gm::bench {

struct SamplingOptions {
  std::vector<int64_t> sizes{8, 16, 28, 32, 64};
  std::vector<int64_t> batches{1, 32};
  std::vector<std::string> methods;  // empty: all
  std::vector<std::string> devices{"cpu", "cuda"};
  double budget = 20.0;  // seconds per configuration before extrapolating
  uint64_t seed = 1;
  std::string csv, svg;
};

// Registers the benchmark's options (--sizes, --batches, ...) on a command.
void add_sampling_options(CLI::App& app, SamplingOptions& options);

// Runs it; returns the exit code. Throws gm::Error on bad options or unwritable outputs.
int run_sampling_benchmark(const SamplingOptions& options);

}  // namespace gm::bench
