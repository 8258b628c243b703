#pragma once
// The one list of op cases, in the style of ggml's test-backend-ops: each case is data (the op's
// name, its inputs' shapes and ranges, the dtypes its forward is checked in, a scalar-loop
// oracle in double, tolerances with their reasons next to them, and the backend entries it
// runs). The op tests (tests/test_<family>.cpp), `genmodel gradcheck --op`, the cuda-emu
// conformance test and the coverage test (tests/test_op_coverage.cpp) all read this list, so
// an op checked in one place is checked in all of them.
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/gradcheck.h"
#include "engine/tensor.h"

namespace gm::catalogue {

using HostValues = std::vector<double>;

struct OpCase {
  std::string op_name;  // the op as `genmodel gradcheck --op` names it (filled in by the family)
  std::string name;     // this case, unique in the catalogue
  std::vector<Shape> shapes;
  std::function<Tensor(const std::vector<Tensor>&)> op;
  // Oracle: plain loops in double over the inputs' values (row-major); returns the output.
  std::function<HostValues(const std::vector<HostValues>&)> reference;
  double low = -1.0, high = 1.0;  // inputs drawn uniformly from [low, high]
  // Per-input [low, high] overriding the above for the first ranges.size() inputs (e.g. a mean
  // and a log-scale that need different ranges).
  std::vector<std::pair<double, double>> ranges;
  // The dtypes the forward is checked in against the oracle; the gradient is always float64.
  std::vector<DType> dtypes = {DType::f64, DType::f32};
  bool differentiable = true;
  // Forward tolerance in float32: |got - want| <= f32_atol + f32_rtol |want|. The defaults fit
  // a few roundings of values of order one (float32 epsilon is 1.2e-7); ops that sum many
  // terms set their own with the reason next to the case.
  double f32_atol = 1e-5, f32_rtol = 1e-5;
  // Float64 against the double oracle: only summation order differs.
  double f64_atol = 1e-12, f64_rtol = 1e-12;
  GradcheckOptions grad;
  // The GM_BACKEND_ENTRY names (engine/backend_ops.def) this case runs, forward and backward
  // (filled in by the family); the coverage test requires every entry to appear in some case.
  std::vector<std::string> entries;
};

// Every case, in family order. Built once on first use (the cases hold no state of their own).
const std::vector<OpCase>& op_catalogue();
// The cases of one op (by op_name), in catalogue order; throws when there is none.
std::vector<OpCase> cases_of(std::string_view op_name);
// The op names, each once, in catalogue order.
std::vector<std::string> op_names();
// Deterministic inputs for a case (seeded by its name, or by `seed`), as float64 on the cpu.
std::vector<Tensor> make_inputs(const OpCase& c);
std::vector<Tensor> make_inputs(const OpCase& c, uint64_t seed);
// "input0", "input1", ...: the names gradcheck reports the inputs under.
std::vector<std::string> input_names(const OpCase& c);

// Appends `cases` under one op name and the backend entries they run.
void add_cases(std::vector<OpCase>& to, std::string_view op_name,
               const std::vector<std::string>& entries, std::vector<OpCase> cases);

// The families (support/op_cases/<family>.cpp), each appending its cases.
void add_elementwise_cases(std::vector<OpCase>& to);
void add_shape_reduce_cases(std::vector<OpCase>& to);
void add_conv_cases(std::vector<OpCase>& to);
void add_softmax_xent_cases(std::vector<OpCase>& to);
void add_lstm_cell_cases(std::vector<OpCase>& to);
void add_gaussian_cases(std::vector<OpCase>& to);
void add_likelihood_cases(std::vector<OpCase>& to);
void add_pixelrnn_cases(std::vector<OpCase>& to);
void add_kernel_cases(std::vector<OpCase>& to);

}  // namespace gm::catalogue
