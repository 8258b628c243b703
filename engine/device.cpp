#include "engine/device.h"

#include <fmt/format.h>

namespace gm {

Device Device::parse(const std::string& name) {
  if (name == "cpu") return cpu();
  if (name == "cuda-emu" || name == "cuda_emu") return cuda_emu();
  if (name == "cuda") return cuda(0);
  if (name.rfind("cuda:", 0) == 0) {
    const std::string index = name.substr(5);
    GM_CHECK(!index.empty() && index.find_first_not_of("0123456789") == std::string::npos,
             "unknown device '{}': expected cpu, cuda, cuda:N or cuda-emu", name);
    return cuda(std::stoi(index));
  }
  fail("unknown device '{}': expected cpu, cuda, cuda:N or cuda-emu", name);
}

std::string Device::name() const {
  switch (kind) {
    case DeviceKind::cpu:
      return "cpu";
    case DeviceKind::cuda:
      return index == 0 ? "cuda" : fmt::format("cuda:{}", index);
    case DeviceKind::cuda_emu:
      return "cuda-emu";
  }
  return "?";
}

}  // namespace gm
