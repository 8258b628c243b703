#pragma once
// Shared test machinery in the style of ggml's test-backend-ops: an op case is data (inputs'
// shapes and ranges, the op, a scalar-loop oracle in double), and one runner checks it on every
// device against the oracle and against finite differences.
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engine/gradcheck.h"
#include "engine/ops.h"
#include "engine/random.h"

namespace gm::test {

// Ends a test case that cannot run here (missing data, no GPU) with `reason`. Under ctest, which
// sets GM_TEST_SKIP_CODE, the process exits with that code and ctest lists the case as skipped;
// run by hand, the case warns and returns (call as `return skip(...)`).
void skip(const std::string& reason);

// Every device this build and machine can run: cpu always, cuda-emu when built, cuda when a
// GPU is present. Unavailable ones are reported once with the reason (never silently skipped).
std::vector<Device> test_devices();

using HostValues = std::vector<double>;
struct OpCase {
  std::string name;
  std::vector<Shape> shapes;
  std::function<Tensor(const std::vector<Tensor>&)> op;
  // Oracle: plain loops in double over the inputs' values (row-major); returns the output.
  std::function<HostValues(const std::vector<HostValues>&)> reference;
  double low = -1.0, high = 1.0;  // inputs drawn uniformly from [low, high]
  // Per-input [low, high] overriding the above for the first ranges.size() inputs (e.g. a mean
  // and a log-scale that need different ranges).
  std::vector<std::pair<double, double>> ranges;
  bool differentiable = true;
  // Forward tolerance in float32: |got - want| <= f32_atol + f32_rtol |want|. The defaults fit
  // a few roundings of values of order one (float32 epsilon is 1.2e-7); ops that sum many
  // terms set their own with the reason next to the case.
  double f32_atol = 1e-5, f32_rtol = 1e-5;
  // Float64 against the double oracle: only summation order differs.
  double f64_atol = 1e-12, f64_rtol = 1e-12;
  GradcheckOptions grad;
};

// Deterministic inputs for a case (seeded by its name), as float64 on the cpu.
std::vector<Tensor> make_inputs(const OpCase& c);
// Runs the forward on `device` in `dtype` and compares it to the oracle.
void check_forward(const OpCase& c, Device device, DType dtype);
// Runs gradcheck on `device` in float64; fails with the report's table.
void check_gradient(const OpCase& c, Device device);
// Both, on every test device, each in a Catch SECTION-free loop with INFO context.
void check_op_case(const OpCase& c);

// Element-by-element comparison with a readable failure (first bad index, values, tolerance).
void require_close(const HostValues& got, const HostValues& want, double atol, double rtol,
                   const std::string& what);

}  // namespace gm::test
