#pragma once
// The ops `genmodel gradcheck --op NAME` can check: tiny float64 inputs and the op applied.
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace gm::tools {

struct OpGradcheck {
  std::string name;
  std::vector<std::string> input_names;
  std::vector<Shape> shapes;
  double low = -1.0, high = 1.0;  // inputs drawn uniformly from [low, high]
  // Applies the op to fresh inputs; non-differentiable arguments (targets) are built inside.
  std::function<Tensor(const std::vector<Tensor>&)> apply;
};

const std::vector<OpGradcheck>& op_gradchecks();
const OpGradcheck& find_op_gradcheck(const std::string& name);

}  // namespace gm::tools
