#pragma once
// Define-by-run autograd in the micrograd style. Every differentiable op builds its outputs,
// then (when grad mode is on and an input requires grad) attaches one Node that knows its
// inputs and how to turn the gradients of its outputs into gradients of its inputs.
// Tensor::backward() orders the nodes topologically and runs them in reverse; gradients of a
// tensor used several times add up.
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace gm {

struct Node {
  std::string name;            // the op's name, for error messages and graph dumps
  std::vector<Tensor> inputs;  // the op's tensor inputs (the graph's edges)
  int num_outputs = 1;
  // Receives one gradient per output (undefined where an output received none) and returns
  // one gradient per input (undefined where an input needs none). Runs in no-grad mode, so it
  // may use ordinary ops. It must not capture the op's outputs with their autograd fields
  // (that would be a reference cycle): capture `output.detach()` instead.
  std::function<std::vector<Tensor>(const std::vector<Tensor>& grad_outputs)> backward;
};

// Grad mode is per thread (like every autograd engine's): a NoGradGuard turns recording off
// for its scope, e.g. around evaluation, sampling and optimizer steps.
bool grad_mode_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any input requires grad.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches a node producing `outputs` from `inputs`, if any input requires grad. Returns the
// outputs (marked requires_grad) for convenient `return record(...)`.
void record(std::string name, std::vector<Tensor> inputs, std::vector<Tensor*> outputs,
            std::function<std::vector<Tensor>(const std::vector<Tensor>&)> backward);

}  // namespace gm
