#include "engine/optim.h"

#include <fmt/ranges.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"
#include "kernels/common/optim_math.h"

namespace gm {

// ---- Optimizer

void Optimizer::check_lr(double lr) {
  GM_CHECK(std::isfinite(lr) && lr >= 0.0,
           "optimizer: learning rate must be finite and >= 0, got {}", lr);
}

Optimizer::Optimizer(std::vector<NamedTensor> params, double lr,
                     std::vector<std::string> buffer_names)
    : params_(std::move(params)), lr_(lr), buffer_names_(std::move(buffer_names)) {
  check_lr(lr);
  std::set<std::string> names;
  std::set<const TensorImpl*> tensors;
  for (const NamedTensor& p : params_) {
    GM_CHECK(!p.name.empty(), "optimizer: a parameter has an empty name");
    GM_CHECK(names.insert(p.name).second, "optimizer: parameter name '{}' appears twice", p.name);
    GM_CHECK(p.tensor.defined(), "optimizer: parameter '{}' is undefined", p.name);
    GM_CHECK(tensors.insert(&p.tensor.impl()).second,
             "optimizer: parameter '{}' is the same tensor as another parameter (it would be "
             "updated twice per step)",
             p.name);
    GM_CHECK(is_floating(p.tensor.dtype()), "optimizer: parameter '{}' is {}, not floating point",
             p.name, p.tensor.describe());
    GM_CHECK(p.tensor.is_leaf(),
             "optimizer: parameter '{}' is the result of an op, not a leaf tensor: optimize the "
             "tensor it was computed from",
             p.name);
    std::vector<Tensor> bufs;
    for (size_t b = 0; b < buffer_names_.size(); ++b)
      bufs.push_back(Tensor::zeros(p.tensor.shape(), p.tensor.dtype(), p.tensor.device()));
    buffers_.push_back(std::move(bufs));
  }
  steps_.assign(params_.size(), 0);
}

void Optimizer::set_lr(double lr) {
  check_lr(lr);
  lr_ = lr;
}

void Optimizer::zero_grad() {
  for (NamedTensor& p : params_)
    p.tensor.zero_grad();
}

std::vector<size_t> Optimizer::ready_params() const {
  std::vector<size_t> ready;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& param = params_[i].tensor;
    const Tensor grad = param.grad();
    if (!grad.defined()) continue;
    if (grad.shape() != param.shape() || grad.dtype() != param.dtype() ||
        grad.device() != param.device()) {
      throw ShapeError(fmt::format("optimizer: parameter '{}' is {} but its gradient is {}",
                                   params_[i].name, param.describe(), grad.describe()));
    }
    ready.push_back(i);
  }
  return ready;
}

void Optimizer::step() {
  NoGradGuard no_grad;
  const std::vector<size_t> ready = ready_params();
  // Counted only once every gradient passed the checks: a throw leaves no step half-taken.
  for (size_t i : ready)
    ++steps_[i];
  if (!ready.empty()) update(ready);
}

void Optimizer::prepare_step() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i].tensor;
    const Tensor& first = params_.front().tensor;
    if (p.device() != first.device() || p.dtype() != first.dtype() || steps_[i] != steps_[0])
      throw Error(fmt::format(
          "{}: a replayed step updates all parameters together, but '{}' ({}, step {}) differs "
          "from '{}' ({}, step {}) in device, dtype or step count",
          kind(), params_[i].name, p.describe(), steps_[i], params_.front().name, first.describe(),
          steps_[0]));
  }
  upload_step_values(steps_.empty() ? 1 : steps_[0] + 1);
  for (int64_t& s : steps_)
    ++s;
}

void Optimizer::queue_step() {
  NoGradGuard no_grad;
  const std::vector<size_t> ready = ready_params();
  if (ready.size() != params_.size())
    for (const NamedTensor& p : params_)
      if (!p.tensor.grad().defined())
        throw Error(fmt::format(
            "{}: parameter '{}' has no gradient: a replayed step updates every parameter, so "
            "the loss must depend on all of them",
            kind(), p.name));
  if (!ready.empty()) queue_update(ready);
}

void Optimizer::upload_step_values(int64_t) {
  refuse_replay();
}

void Optimizer::queue_update(const std::vector<size_t>&) {
  refuse_replay();
}

void Optimizer::refuse_replay() const {
  throw Error(fmt::format(
      "the {} optimizer has no replayable step (CUDA Graphs): use Adam or AdamW", kind()));
}

void Optimizer::set_guard(Tensor guard) {
  GM_CHECK(!guard.defined() || (guard.dtype() == DType::f64 && guard.numel() >= 1),
           "optimizer guard: expected a float64 tensor, got {}", guard.describe());
  guard_ = std::move(guard);
}

const double* Optimizer::guard_for(const Tensor& param) const {
  if (!guard_.defined()) return nullptr;
  GM_CHECK(guard_.device() == param.device(),
           "optimizer guard: it is on {} but the parameters are on {}", guard_.device().name(),
           param.device().name());
  return static_cast<const double*>(guard_.raw());
}

std::vector<std::vector<size_t>> Optimizer::groups(const std::vector<size_t>& ready) const {
  std::vector<std::vector<size_t>> out;
  for (size_t i : ready) {
    const Tensor& p = params_[i].tensor;
    auto same = [&](const std::vector<size_t>& g) {
      const Tensor& q = params_[g.front()].tensor;
      return q.device() == p.device() && q.dtype() == p.dtype() && steps_[g.front()] == steps_[i];
    };
    auto it = std::find_if(out.begin(), out.end(), same);
    if (it == out.end())
      out.push_back({i});
    else
      it->push_back(i);
  }
  return out;
}

std::string Optimizer::buffer_key(size_t buffer, size_t param) const {
  return fmt::format("{}.{}.{}", kind(), buffer_names_[buffer], params_[param].name);
}

std::string Optimizer::step_key(size_t param) const {
  return fmt::format("{}.step.{}", kind(), params_[param].name);
}

OptimizerState Optimizer::state() const {
  OptimizerState s;
  s.scalars["optimizer"] = kind();
  set_metadata_double(s.scalars, kind() + ".lr", lr_);
  describe_hyperparameters(s.scalars);
  for (size_t i = 0; i < params_.size(); ++i) {
    set_metadata_int(s.scalars, step_key(i), steps_[i]);
    for (size_t b = 0; b < buffer_names_.size(); ++b)
      s.tensors.push_back({buffer_key(b, i), buffers_[i][b].clone()});
  }
  return s;
}

void Optimizer::load_state(const std::vector<NamedTensor>& tensors, const Metadata& scalars) {
  const auto kind_it = scalars.find("optimizer");
  if (kind_it == scalars.end())
    throw IoError(
        fmt::format("optimizer state has no 'optimizer' entry (expected '{}'): the "
                    "checkpoint holds no optimizer state",
                    kind()));
  if (kind_it->second != kind())
    throw IoError(fmt::format("optimizer state is for '{}', but this optimizer is '{}'",
                              kind_it->second, kind()));

  const std::string prefix = kind() + ".";
  std::map<std::string, const Tensor*> given;
  for (const NamedTensor& nt : tensors)
    if (nt.name.starts_with(prefix)) given[nt.name] = &nt.tensor;

  std::vector<std::string> problems;
  std::vector<int64_t> steps(params_.size());
  std::set<std::string> expected;
  for (size_t i = 0; i < params_.size(); ++i) {
    try {
      steps[i] = get_metadata_int(scalars, step_key(i));
      GM_CHECK(steps[i] >= 0, "step count {} is negative", steps[i]);
    } catch (const Error& e) {
      problems.push_back(fmt::format("step count of '{}': {}", params_[i].name, e.what()));
    }
    for (size_t b = 0; b < buffer_names_.size(); ++b) {
      const std::string key = buffer_key(b, i);
      const Tensor& want = buffers_[i][b];
      expected.insert(key);
      const auto it = given.find(key);
      if (it == given.end()) {
        problems.push_back(fmt::format("missing tensor '{}' (expected {})", key, want.describe()));
      } else if (it->second->shape() != want.shape() || it->second->dtype() != want.dtype()) {
        problems.push_back(fmt::format("tensor '{}' is {}, expected {}", key,
                                       it->second->describe(), want.describe()));
      }
    }
  }
  for (const auto& [name, tensor] : given)
    if (!expected.count(name))
      problems.push_back(
          fmt::format("unexpected tensor '{}' ({}): no parameter of this optimizer "
                      "has that buffer",
                      name, tensor->describe()));
  if (!problems.empty())
    throw IoError(fmt::format("cannot restore the '{}' optimizer state:\n  {}", kind(),
                              fmt::join(problems, "\n  ")));

  for (size_t i = 0; i < params_.size(); ++i) {
    steps_[i] = steps[i];
    for (size_t b = 0; b < buffer_names_.size(); ++b)
      buffers_[i][b].copy_from(*given.at(buffer_key(b, i)));
  }
}

namespace {

// Handles of a group's parameters and their gradients, alive while a multi-tensor call points
// at them.
struct ParamTensors {
  ParamTensors(const std::vector<NamedTensor>& all, const std::vector<size_t>& group) {
    for (size_t i : group) {
      params.push_back(all[i].tensor);
      grads.push_back(all[i].tensor.grad());
    }
  }
  std::vector<Tensor> params, grads;
};

}  // namespace

// ---- SGD

Sgd::Sgd(std::vector<NamedTensor> params, const SgdOptions& options)
    : Optimizer(std::move(params), options.lr,
                options.momentum != 0.0 ? std::vector<std::string>{"momentum"}
                                        : std::vector<std::string>{}),
      options_(options) {
  GM_CHECK(std::isfinite(options.momentum) && options.momentum >= 0.0,
           "sgd: momentum must be >= 0, got {}", options.momentum);
  GM_CHECK(std::isfinite(options.weight_decay) && options.weight_decay >= 0.0,
           "sgd: weight_decay must be >= 0, got {}", options.weight_decay);
  GM_CHECK(!options.nesterov || options.momentum > 0.0,
           "sgd: nesterov momentum needs momentum > 0, got {}", options.momentum);
}

void Sgd::update(const std::vector<size_t>& ready) {
  SgdStep s;
  s.lr = lr();
  s.momentum = options_.momentum;
  s.weight_decay = options_.weight_decay;
  s.nesterov = options_.nesterov;
  for (const std::vector<size_t>& group : groups(ready)) {
    ParamTensors t(params(), group);
    std::vector<OptimizerTensors> list;
    for (size_t k = 0; k < group.size(); ++k)
      list.push_back({&t.params[k], &t.grads[k],
                      options_.momentum != 0.0 ? &buffer(group[k], 0) : nullptr, nullptr});
    s.guard = guard_for(t.params.front());
    t.params.front().backend().sgd_update_many(s, list);
  }
}

void Sgd::describe_hyperparameters(Metadata& scalars) const {
  set_metadata_double(scalars, "sgd.momentum", options_.momentum);
  set_metadata_double(scalars, "sgd.weight_decay", options_.weight_decay);
  scalars["sgd.nesterov"] = options_.nesterov ? "true" : "false";
}

// ---- Adam / AdamW

Adam::Adam(std::vector<NamedTensor> params, const AdamOptions& options, bool decoupled)
    : Optimizer(std::move(params), options.lr, {"m", "v"}),
      options_(options),
      decoupled_(decoupled) {
  const std::string name = kind();
  GM_CHECK(options.beta1 >= 0.0 && options.beta1 < 1.0, "{}: beta1 must be in [0, 1), got {}", name,
           options.beta1);
  GM_CHECK(options.beta2 >= 0.0 && options.beta2 < 1.0, "{}: beta2 must be in [0, 1), got {}", name,
           options.beta2);
  GM_CHECK(std::isfinite(options.eps) && options.eps > 0.0, "{}: eps must be > 0, got {}", name,
           options.eps);
  GM_CHECK(std::isfinite(options.weight_decay) && options.weight_decay >= 0.0,
           "{}: weight_decay must be >= 0, got {}", name, options.weight_decay);
}

void Adam::update(const std::vector<size_t>& ready) {
  launch_updates(ready, nullptr);
}

void Adam::upload_step_values(int64_t step) {
  const Tensor& first = params().front().tensor;
  dispatch_floating(first.dtype(), "adam step constants", [&](auto zero) {
    using T = decltype(zero);
    const auto c = math::adam_constants<T>(lr(), options_.beta1, options_.beta2, options_.eps,
                                           options_.weight_decay, decoupled_, step);
    static_assert(sizeof(c) % sizeof(T) == 0, "AdamConstants is a row of T");
    std::vector<T> values(sizeof(c) / sizeof(T));
    std::memcpy(values.data(), &c, sizeof(c));
    const Tensor host = Tensor::from_vector(values, {static_cast<int64_t>(values.size())});
    if (!step_constants_.defined())
      step_constants_ = Tensor::empty(host.shape(), first.dtype(), first.device());
    step_constants_.copy_from(host);
  });
}

void Adam::queue_update(const std::vector<size_t>& all) {
  GM_CHECK(step_constants_.defined(), "{}: queue_step() before any prepare_step()", kind());
  launch_updates(all, step_constants_.raw());
}

void Adam::launch_updates(const std::vector<size_t>& ready, const void* step_constants) {
  for (const std::vector<size_t>& group : groups(ready)) {
    AdamStep s;
    s.lr = lr();
    s.beta1 = options_.beta1;
    s.beta2 = options_.beta2;
    s.eps = options_.eps;
    s.weight_decay = options_.weight_decay;
    s.decoupled = decoupled_;
    s.step = step_count(group.front());
    ParamTensors t(params(), group);
    s.guard = guard_for(t.params.front());
    s.step_constants = step_constants;
    std::vector<OptimizerTensors> list;
    for (size_t k = 0; k < group.size(); ++k)
      list.push_back({&t.params[k], &t.grads[k], &buffer(group[k], 0), &buffer(group[k], 1)});
    t.params.front().backend().adam_update_many(s, list);
  }
}

void Adam::describe_hyperparameters(Metadata& scalars) const {
  const std::string k = kind();
  set_metadata_double(scalars, k + ".beta1", options_.beta1);
  set_metadata_double(scalars, k + ".beta2", options_.beta2);
  set_metadata_double(scalars, k + ".eps", options_.eps);
  set_metadata_double(scalars, k + ".weight_decay", options_.weight_decay);
}

// ---- gradient norms

namespace {

// The non-empty gradients, grouped by device and dtype (in order of first appearance): each
// group is one multi-tensor call.
std::vector<std::vector<Tensor>> gradient_groups(const std::vector<NamedTensor>& params) {
  std::vector<std::vector<Tensor>> out;
  for (const NamedTensor& p : params) {
    const Tensor g = p.tensor.grad();
    if (!g.defined() || g.numel() == 0) continue;
    auto it = std::find_if(out.begin(), out.end(), [&](const std::vector<Tensor>& group) {
      return group.front().device() == g.device() && group.front().dtype() == g.dtype();
    });
    if (it == out.end())
      out.push_back({g});
    else
      it->push_back(g);
  }
  return out;
}

// sum of squares of every gradient as a float64 scalar on the first gradient's device
Tensor sum_of_squares(const std::vector<NamedTensor>& params) {
  Tensor total;
  for (const std::vector<Tensor>& group : gradient_groups(params)) {
    Tensor partial = group.front().backend().sum_of_squares_many(group);
    total = total.defined() ? add(total, partial.to(total.device())) : partial;
  }
  return total;
}

}  // namespace

Tensor grad_sum_of_squares(const std::vector<NamedTensor>& params) {
  NoGradGuard no_grad;
  const Tensor total = sum_of_squares(params);
  return total.defined() ? total : Tensor::zeros({}, DType::f64);
}

double grad_norm(const std::vector<NamedTensor>& params) {
  NoGradGuard no_grad;
  const Tensor total = sum_of_squares(params);
  return total.defined() ? std::sqrt(total.item()) : 0.0;
}

double clip_grad_norm(const std::vector<NamedTensor>& params, double max_norm) {
  GM_CHECK(std::isfinite(max_norm) && max_norm > 0.0,
           "clip_grad_norm: max_norm must be finite and > 0, got {}", max_norm);
  NoGradGuard no_grad;
  const double norm = grad_norm(params);
  if (!std::isfinite(norm) || norm <= max_norm) return norm;
  const double scale = max_norm / norm;
  for (const std::vector<Tensor>& group : gradient_groups(params))
    group.front().backend().scale_many(scale, group);
  return norm;
}

}  // namespace gm
