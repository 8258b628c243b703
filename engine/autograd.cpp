#include "engine/autograd.h"

#include <unordered_map>
#include <unordered_set>

#include "engine/backend.h"

namespace gm {

namespace {
thread_local bool t_grad_mode = true;

// a + b as a new tensor. Gradients are never accumulated in place, so a gradient tensor may
// safely be shared (x + x hands the same tensor to both inputs).
Tensor add_fresh(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  a.backend().binary(BinaryOp::add, a, b, out);
  return out;
}

void check_gradient(const Node& node, size_t i, const Tensor& input, const Tensor& grad) {
  GM_CHECK(grad.shape() == input.shape() && grad.dtype() == input.dtype() &&
               grad.device() == input.device(),
           "autograd: backward of '{}' returned a gradient {} for input {} which is {}", node.name,
           grad.describe(), i, input.describe());
}
}  // namespace

bool grad_mode_enabled() {
  return t_grad_mode;
}
NoGradGuard::NoGradGuard() : previous_(t_grad_mode) {
  t_grad_mode = false;
}
NoGradGuard::~NoGradGuard() {
  t_grad_mode = previous_;
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_mode) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!t_grad_mode) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(std::string name, std::vector<Tensor> inputs, std::vector<Tensor*> outputs,
            std::function<std::vector<Tensor>(const std::vector<Tensor>&)> backward) {
  if (!needs_grad(inputs)) return;
  auto node = std::make_shared<Node>();
  node->name = std::move(name);
  node->inputs = std::move(inputs);
  node->num_outputs = static_cast<int>(outputs.size());
  node->backward = std::move(backward);
  for (size_t i = 0; i < outputs.size(); ++i) {
    TensorImpl& out = outputs[i]->impl();
    out.requires_grad = true;
    out.grad_fn = node;
    out.output_index = static_cast<int>(i);
  }
}

void Tensor::backward(const Tensor& seed,
                      const std::function<void(const Tensor& leaf)>& leaf_ready) const {
  GM_CHECK(requires_grad(),
           "backward() on {} which does not require grad: no input of the computation was "
           "marked with set_requires_grad()",
           describe());
  Tensor grad_seed = seed;
  if (!grad_seed.defined()) {
    GM_CHECK(numel() == 1,
             "backward() without a seed needs a one-element tensor (a loss), got {}; reduce it "
             "with sum() or mean(), or pass a seed gradient",
             describe());
    grad_seed = Tensor::ones(shape(), dtype(), device());
  }
  GM_CHECK(grad_seed.shape() == shape() && grad_seed.dtype() == dtype() &&
               grad_seed.device() == device(),
           "backward(): seed {} does not match {}", grad_seed.describe(), describe());

  NoGradGuard no_grad;
  auto accumulate_leaf = [](const Tensor& leaf, const Tensor& g) {
    TensorImpl& impl = leaf.impl();
    impl.grad = impl.grad ? add_fresh(Tensor(impl.grad), g).impl_ptr() : g.detach().impl_ptr();
  };
  if (is_leaf()) {
    accumulate_leaf(*this, grad_seed);
    if (leaf_ready) leaf_ready(*this);
    return;
  }

  // Post-order depth-first search (iterative: the Row LSTM's graphs are deep).
  std::vector<Node*> order;
  std::unordered_set<Node*> visited;
  std::vector<std::pair<Node*, size_t>> stack{{impl().grad_fn.get(), 0}};
  visited.insert(impl().grad_fn.get());
  while (!stack.empty()) {
    auto& [node, next_input] = stack.back();
    if (next_input < node->inputs.size()) {
      const Tensor& input = node->inputs[next_input++];
      if (input.defined() && input.impl().grad_fn &&
          visited.insert(input.impl().grad_fn.get()).second)
        stack.emplace_back(input.impl().grad_fn.get(), 0);
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }

  // How many edges of nodes still to run point at each leaf: at zero its gradient is final.
  std::unordered_map<TensorImpl*, int> leaf_edges;
  auto is_grad_leaf = [](const Tensor& t) {
    return t.defined() && t.requires_grad() && t.is_leaf();
  };
  if (leaf_ready)
    for (Node* node : order)
      for (const Tensor& input : node->inputs)
        if (is_grad_leaf(input)) ++leaf_edges[&input.impl()];
  auto release_leaves = [&](const Node& node) {
    if (!leaf_ready) return;
    for (const Tensor& input : node.inputs)
      if (is_grad_leaf(input) && --leaf_edges[&input.impl()] == 0) leaf_ready(input);
  };

  std::unordered_map<Node*, std::vector<Tensor>> pending;
  pending[impl().grad_fn.get()].resize(static_cast<size_t>(impl().grad_fn->num_outputs));
  pending[impl().grad_fn.get()][static_cast<size_t>(impl().output_index)] = grad_seed;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* node = *it;
    auto found = pending.find(node);
    if (found == pending.end()) {  // no gradient reached this node
      release_leaves(*node);
      continue;
    }
    std::vector<Tensor> grad_outputs = std::move(found->second);
    pending.erase(found);
    grad_outputs.resize(static_cast<size_t>(node->num_outputs));
    std::vector<Tensor> grad_inputs = node->backward(grad_outputs);
    GM_CHECK(grad_inputs.size() == node->inputs.size(),
             "autograd: backward of '{}' returned {} gradients for {} inputs", node->name,
             grad_inputs.size(), node->inputs.size());
    for (size_t i = 0; i < grad_inputs.size(); ++i) {
      const Tensor& input = node->inputs[i];
      const Tensor& g = grad_inputs[i];
      if (!g.defined() || !input.defined() || !input.requires_grad()) continue;
      check_gradient(*node, i, input, g);
      if (input.is_leaf()) {
        accumulate_leaf(input, g);
      } else {
        Node* parent = input.impl().grad_fn.get();
        auto& slots = pending[parent];
        slots.resize(static_cast<size_t>(parent->num_outputs));
        Tensor& slot = slots[static_cast<size_t>(input.impl().output_index)];
        slot = slot.defined() ? add_fresh(slot, g) : g;
      }
    }
    release_leaves(*node);
  }
}

}  // namespace gm
