#pragma once
// Optimizers over a list of named parameters. The math of each update is one fused backend
// kernel for all parameters of one device, dtype and step count (Backend::adam_update_many,
// Backend::sgd_update_many), so an optimizer runs on whatever device its parameters live on,
// and a CUDA step is one launch, not one per parameter. The optimizer's state (per-parameter step
// counts and buffers) can be taken out and put back exactly, so a training run resumed from a
// checkpoint continues bit for bit as if it had never stopped.
//
// Models pass their parameters with `gm::to_named_tensors(model.parameters())`.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/io/safetensors.h"
#include "engine/named_tensor.h"

namespace gm {

// Everything an optimizer needs to continue: buffers named "<kind>.<buffer>.<param>" (e.g.
// "adam.m.conv1.weight") and scalars: "optimizer" (the kind), "<kind>.step.<param>" and, for
// the record, the hyperparameters ("<kind>.lr", ...). Saved with the weights in one
// safetensors file (tensors and __metadata__).
struct OptimizerState {
  std::vector<NamedTensor> tensors;
  Metadata scalars;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // "sgd", "adam" or "adamw": the prefix of every state name.
  virtual std::string kind() const = 0;

  // Clears every parameter's gradient.
  void zero_grad();
  // Updates every parameter that has a gradient (others, and their step counts, are left
  // alone), with autograd recording off.
  void step();

  // step() in two halves, for a step captured once and replayed (CUDA Graphs): prepare_step()
  // is the host's part of the coming step (step counts, and an upload of the values that
  // change from step to step, such as Adam's bias corrections, to the parameters' device);
  // queue_step() queues the update kernels, which read those values there when they run, so a
  // captured queue_step() is right at every replay that follows a prepare_step(). Every
  // parameter must have a gradient, and all must be on one device with one dtype and step
  // count. Adam and AdamW only: the others throw, naming the optimizer.
  void prepare_step();
  void queue_step();

  // A float64 tensor on the parameters' device whose first element decides, on the device,
  // whether each later step() changes the parameters: it does while the element is finite
  // (Backend::record_step_stats keeps such a flag). Step counts advance either way; a loop that
  // finds the flag set stops without saving. An undefined tensor removes the guard.
  void set_guard(Tensor guard);

  double lr() const { return lr_; }
  void set_lr(double lr);  // for schedules
  const std::vector<NamedTensor>& params() const { return params_; }
  // How many times parameter i has been updated.
  int64_t step_count(size_t i) const { return steps_.at(i); }

  // A copy of the state (not affected by later steps).
  OptimizerState state() const;
  // Restores buffers and step counts from `tensors`/`scalars`, which may hold other entries
  // too (a checkpoint's weights): only names starting with "<kind>." are read, and all of
  // this optimizer's must be present with matching shapes and dtypes, with no unknown ones.
  // Hyperparameters are not restored: they come from the constructor (the run's
  // configuration), so a resumed run may change them on purpose. Checks everything before
  // changing anything; throws IoError naming the problems.
  void load_state(const std::vector<NamedTensor>& tensors, const Metadata& scalars);
  void load_state(const OptimizerState& s) { load_state(s.tensors, s.scalars); }

 protected:
  // Validates the parameters (named, unique, defined, floating) and allocates, for each, one
  // zero buffer per name in `buffer_names` on the parameter's device and dtype.
  Optimizer(std::vector<NamedTensor> params, double lr, std::vector<std::string> buffer_names);
  // One update of each parameter in `ready` (indices, in order), whose step counts
  // (step_count) already include this step; each has a gradient of its own shape.
  virtual void update(const std::vector<size_t>& ready) = 0;
  // prepare_step's upload of step `step`'s values, and queue_step's update of every
  // parameter reading them; the defaults throw (the optimizer has no replayable step).
  virtual void upload_step_values(int64_t step);
  virtual void queue_update(const std::vector<size_t>& all);
  // The parameters of `ready` that one multi-tensor call can update together: same backend,
  // dtype and step count, in order of first appearance.
  std::vector<std::vector<size_t>> groups(const std::vector<size_t>& ready) const;
  // Hyperparameters recorded in the state's scalars.
  virtual void describe_hyperparameters(Metadata& scalars) const = 0;

  Tensor& buffer(size_t param, size_t index) { return buffers_[param][index]; }
  // The guard's address for a step of parameters like `param`, or null.
  const double* guard_for(const Tensor& param) const;
  static void check_lr(double lr);

 private:
  // The parameters whose gradients step() uses, after checking them.
  std::vector<size_t> ready_params() const;
  [[noreturn]] void refuse_replay() const;
  std::string buffer_key(size_t buffer, size_t param) const;
  std::string step_key(size_t param) const;

  std::vector<NamedTensor> params_;
  double lr_;
  std::vector<std::string> buffer_names_;
  std::vector<std::vector<Tensor>> buffers_;  // [param][buffer]
  std::vector<int64_t> steps_;
  Tensor guard_;
};

// `lr` is the initial learning rate; Optimizer::set_lr changes it later.
struct SgdOptions {
  double lr = 1e-2;
  double momentum = 0.0;
  double weight_decay = 0.0;  // L2: adds weight_decay * param to the gradient
  bool nesterov = false;      // requires momentum > 0
};

// SGD with optional (Nesterov) momentum, as in PyTorch without dampening:
// d = g + wd p;  b = momentum b + d;  p -= lr (nesterov ? d + momentum b : b).
class Sgd : public Optimizer {
 public:
  Sgd(std::vector<NamedTensor> params, const SgdOptions& options);
  std::string kind() const override { return "sgd"; }

 protected:
  void update(const std::vector<size_t>& ready) override;
  void describe_hyperparameters(Metadata& scalars) const override;

 private:
  SgdOptions options_;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

// Adam (Kingma & Ba) with bias correction; weight decay added to the gradient (L2).
// AdamW (Loshchilov & Hutter) decays the weights directly: p -= lr wd p before the Adam step.
class Adam : public Optimizer {
 public:
  Adam(std::vector<NamedTensor> params, const AdamOptions& options)
      : Adam(std::move(params), options, false) {}
  std::string kind() const override { return decoupled_ ? "adamw" : "adam"; }

 protected:
  Adam(std::vector<NamedTensor> params, const AdamOptions& options, bool decoupled);
  void update(const std::vector<size_t>& ready) override;
  void upload_step_values(int64_t step) override;
  void queue_update(const std::vector<size_t>& all) override;
  void describe_hyperparameters(Metadata& scalars) const override;

 private:
  // One multi-tensor update per group; `step_constants` as AdamStep's.
  void launch_updates(const std::vector<size_t>& ready, const void* step_constants);

  AdamOptions options_;
  bool decoupled_;
  Tensor step_constants_;  // math::AdamConstants on the device, for queue_step()
};

class AdamW : public Adam {
 public:
  // PyTorch's default decay for AdamW is 0.01.
  AdamW(std::vector<NamedTensor> params, const AdamOptions& options = {.weight_decay = 0.01})
      : Adam(std::move(params), options, true) {}
};

// Scales all gradients together so that their global L2 norm is at most max_norm, and returns
// the norm before clipping. The norm is computed on the parameters' device (one fused sum of
// squares per device and dtype, Backend::sum_of_squares_many); a non-finite norm is returned as
// is, with the gradients left untouched, so the caller can stop on it.
double clip_grad_norm(const std::vector<NamedTensor>& params, double max_norm);
// The global L2 norm of the gradients (parameters without one count as zero).
double grad_norm(const std::vector<NamedTensor>& params);
// The sum of the squares of every gradient as a float64 scalar on the first gradient's device,
// not read back (zero, on the CPU, when no parameter has a gradient).
Tensor grad_sum_of_squares(const std::vector<NamedTensor>& params);

}  // namespace gm
