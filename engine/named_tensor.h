#pragma once
// A tensor with a name: a parameter ("res0.conv1.weight"), an optimizer buffer
// ("adam.m.res0.conv1.weight") or an entry of a checkpoint file. Optimizers and checkpoint I/O
// take lists of these.
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace gm {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// Converts any list of {name, tensor} records (e.g. gm::nn::Module::parameters()) to
// NamedTensors. The tensors are shared, not copied.
template <typename Named>
std::vector<NamedTensor> to_named_tensors(const std::vector<Named>& items) {
  std::vector<NamedTensor> out;
  out.reserve(items.size());
  for (const auto& item : items)
    out.push_back({item.name, item.tensor});
  return out;
}

}  // namespace gm
