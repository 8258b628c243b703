#include "tests/support.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>

namespace gm::test {

// GM_TEST_DEVICES (e.g. "cuda-emu" or "cpu,cuda") restricts the devices, for instance to run
// only the emulated CUDA device under the sanitizers (scripts/test.sh).
namespace {
std::string not_selected_reason(Device d) {
  const char* env = std::getenv("GM_TEST_DEVICES");
  if (!env) return "";
  // Commas around both sides so "cuda" does not match inside "cuda-emu".
  const std::string list = fmt::format(",{},", env), name = fmt::format(",{},", d.name());
  if (list.find(name) != std::string::npos) return "";
  return fmt::format("not in GM_TEST_DEVICES={}", env);
}
}  // namespace

void skip(const std::string& reason) {
  if (const char* code = std::getenv("GM_TEST_SKIP_CODE")) {
    fmt::print("skipped: {}\n", reason);
    std::fflush(stdout);
    std::exit(std::atoi(code));
  }
  WARN("skipped: " << reason);
}

std::vector<Device> test_devices() {
  std::vector<Device> devices;
  for (Device d : {Device::cpu(), Device::cuda_emu(), Device::cuda()}) {
    std::string reason = not_selected_reason(d);
    if (reason.empty()) reason = device_unavailable_reason(d);
    if (reason.empty()) {
      devices.push_back(d);
    } else {
      static std::once_flag reported[3];
      std::call_once(reported[static_cast<int>(d.kind)],
                     [&] { WARN(fmt::format("device {} skipped: {}", d.name(), reason)); });
    }
  }
  return devices;
}

void require_close(const HostValues& got, const HostValues& want, double atol, double rtol,
                   const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = atol + rtol * std::abs(want[i]);
    if (!(std::abs(got[i] - want[i]) <= tol)) {
      FAIL(fmt::format("{}: element {} is {:.10g}, expected {:.10g} (|diff| {:.3g} > tol {:.3g})",
                       what, i, got[i], want[i], std::abs(got[i] - want[i]), tol));
    }
  }
}

void check_forward(const OpCase& c, Device device, DType dtype) {
  const std::vector<Tensor> host_inputs = make_inputs(c);
  std::vector<HostValues> values;
  std::vector<Tensor> dev_inputs;
  for (const Tensor& t : host_inputs) {
    Tensor converted = t.to(dtype);
    // The oracle sees exactly the (rounded) values the device sees.
    values.push_back(converted.to_vector<double>());
    dev_inputs.push_back(converted.to(device));
  }
  const Tensor out = c.op(dev_inputs);
  REQUIRE(out.device() == device);
  REQUIRE(out.dtype() == dtype);
  const HostValues want = c.reference(values);
  const bool f32 = dtype == DType::f32;
  require_close(out.to_vector<double>(), want, f32 ? c.f32_atol : c.f64_atol,
                f32 ? c.f32_rtol : c.f64_rtol,
                fmt::format("{} forward on {} in {}", c.name, device.name(), dtype_name(dtype)));
}

void check_gradient(const OpCase& c, Device device) {
  std::vector<Tensor> inputs;
  for (const Tensor& t : make_inputs(c))
    inputs.push_back(t.to(device));
  const GradcheckReport report = gradcheck(c.op, inputs, catalogue::input_names(c), c.grad);
  INFO(fmt::format("{} gradcheck on {}:\n{}", c.name, device.name(), report.table()));
  CHECK(report.passed());
}

void check_op_case(const OpCase& c) {
  for (Device device : test_devices()) {
    INFO("op " << c.name << " on " << device.name());
    for (DType dtype : c.dtypes)
      check_forward(c, device, dtype);
    if (c.differentiable) check_gradient(c, device);
  }
}

void check_op_cases(std::string_view op_name) {
  for (const OpCase& c : catalogue::cases_of(op_name))
    check_op_case(c);
}

}  // namespace gm::test
