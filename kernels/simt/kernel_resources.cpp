#include "kernels/simt/kernel_resources.h"

#include <algorithm>
#include <iterator>
#include <string_view>

namespace gm::simt {

namespace {

// Sorted by name (the generator writes it so).
constexpr KernelResources kTable[] = {
#include "kernels/simt/kernel_resources.inc"
};

}  // namespace

const KernelResources* find_kernel_resources(const std::string& short_name) {
  const auto* end = std::end(kTable);
  const auto* at = std::lower_bound(std::begin(kTable), end, short_name,
                                    [](const KernelResources& r, const std::string& name) {
                                      return std::string_view(r.name) < name;
                                    });
  return at != end && short_name == at->name ? at : nullptr;
}

int max_threads_for_registers(int registers) {
  const int per_warp = 32 * ((std::max(registers, 1) + 7) / 8 * 8);
  return std::min(1024, kRegistersPerBlock / per_warp * 32);
}

}  // namespace gm::simt
