#pragma once
#include <string>

#include "engine/error.h"

namespace gm {

// cpu: the reference backend (OpenMP + OpenBLAS).
// cuda: the CUDA kernels on a real GPU.
// cuda_emu: the same CUDA kernel sources executed on the CPU by our executor (kernels/simt),
//           so that every CUDA kernel is tested on machines without a GPU.
enum class DeviceKind : uint8_t { cpu, cuda, cuda_emu };

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;

  static Device cpu() { return {DeviceKind::cpu, 0}; }
  static Device cuda(int i = 0) { return {DeviceKind::cuda, i}; }
  static Device cuda_emu() { return {DeviceKind::cuda_emu, 0}; }
  // Parses "cpu", "cuda", "cuda:1" or "cuda-emu".
  static Device parse(const std::string& name);

  bool is_cpu() const { return kind == DeviceKind::cpu; }
  // Host code may read and write the memory of cpu tensors directly. (cuda_emu memory is host
  // memory too, but is treated as device memory so that tests catch missing copies.)
  bool host_accessible() const { return kind == DeviceKind::cpu; }
  std::string name() const;
  friend bool operator==(const Device&, const Device&) = default;
};

}  // namespace gm

template <>
struct fmt::formatter<gm::Device> : fmt::formatter<std::string> {
  auto format(const gm::Device& d, format_context& ctx) const {
    return fmt::formatter<std::string>::format(d.name(), ctx);
  }
};
