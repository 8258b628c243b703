#pragma once
// The samplers bench_sampling times, with the cost model each one follows: how many full
// network evaluations of work it does and how many dependent steps it cannot parallelise.
#include <functional>
#include <string>
#include <vector>

#include "engine/random.h"
#include "models/model.h"

namespace gm::bench {

struct SamplingMethod {
  std::string name;    // "pixelcnn-naive"
  std::string config;  // the registry configuration it samples ("pixelcnn-ref")
  // One full network pass per pixel and channel: too slow to run at large sizes, so the
  // benchmark may time single passes and extrapolate (and says so).
  bool pass_per_pixel = false;
  bool cpu_only = false;  // the fast samplers run on the cpu only
  std::function<Tensor(models::Model&, int64_t count, Generator&)> sample;
  // For an N x N image with C channels: network invocations, work in full-network passes
  // (what the extrapolation multiplies the time of one pass by), and the length of the chain
  // of dependent steps (each one layer-parallel computation).
  std::function<double(double n, double c)> passes;
  std::function<double(double n, double c)> work;
  std::function<double(double n, double c)> sequential_steps;
  std::string cost_note;  // one line for the table's legend
};

// Every method, in table order. Methods whose configuration this build lacks are left out.
std::vector<SamplingMethod> sampling_methods();

}  // namespace gm::bench
