#pragma once
// Shared test machinery in the style of ggml's test-backend-ops: an op case is data (the
// catalogue of support/op_catalogue.h), and one runner checks it on every device against the
// oracle and against finite differences.
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engine/gradcheck.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "support/op_catalogue.h"

namespace gm::test {

// Ends a test case that cannot run here (missing data, no GPU) with `reason`. Under ctest, which
// sets GM_TEST_SKIP_CODE, the process exits with that code and ctest lists the case as skipped;
// run by hand, the case warns and returns (call as `return skip(...)`).
void skip(const std::string& reason);

// Every device this build and machine can run: cpu always, cuda-emu when built, cuda when a
// GPU is present. Unavailable ones are reported once with the reason (never silently skipped).
std::vector<Device> test_devices();

// Op cases live in one catalogue (support/op_catalogue.h), shared with the command line.
using catalogue::HostValues;
using catalogue::make_inputs;
using catalogue::OpCase;

// Runs the forward on `device` in `dtype` and compares it to the oracle.
void check_forward(const OpCase& c, Device device, DType dtype);
// Runs gradcheck on `device` in float64; fails with the report's table.
void check_gradient(const OpCase& c, Device device);
// Both, on every test device, each in a Catch SECTION-free loop with INFO context.
void check_op_case(const OpCase& c);
// check_op_case for every catalogue case of the op `op_name`.
void check_op_cases(std::string_view op_name);

// Element-by-element comparison with a readable failure (first bad index, values, tolerance).
void require_close(const HostValues& got, const HostValues& want, double atol, double rtol,
                   const std::string& what);

}  // namespace gm::test
