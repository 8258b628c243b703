// Backend entries that no differentiable op reaches on its own: memory, fills, casts, random
// draws, sampling and the optimizer steps. Each case calls them the way the engine does and
// compares with a scalar oracle, so the conformance test checks them on every device too.
#include "support/op_catalogue.h"

#include <cmath>
#include <cstddef>
#include <cstring>
#include <memory>

#include "engine/backend.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "kernels/common/philox.h"

namespace gm::catalogue {

namespace {

constexpr uint64_t kSeed = 41;
const Shape kShape = {3, 5, 7};  // odd sizes: no vector width divides them

// A case whose oracle applies `f(value, index)` to every element of its one input.
OpCase map_case(std::string name, std::function<Tensor(const Tensor&)> op,
                std::function<double(double, size_t)> f) {
  OpCase c;
  c.name = std::move(name);
  c.shapes = {kShape};
  c.op = [op](const std::vector<Tensor>& x) { return op(x[0]); };
  c.reference = [f](const std::vector<HostValues>& x) {
    HostValues y(x[0].size());
    for (size_t i = 0; i < y.size(); ++i)
      y[i] = f(x[0][i], i);
    return y;
  };
  return c;
}

// For cases whose op writes through the backend outside autograd (clone, axpy).
OpCase not_differentiable(OpCase c) {
  c.differentiable = false;
  return c;
}

OpCase round_trip_case() {
  // A float64 -> float32 -> float64 round trip rounds each value to float once. Not a
  // gradcheck: finite differences cannot see through the float32 rounding.
  OpCase c = map_case(
      "cast f32 round trip", [](const Tensor& x) { return x.to(DType::f32).to(x.dtype()); },
      [](double v, size_t) { return static_cast<double>(static_cast<float>(v)); });
  c.differentiable = false;
  c.f64_atol = c.f64_rtol = 0.0;  // exactly one rounding, the same on every device
  return c;
}

const AdamStep kAdam{.lr = 0.01, .weight_decay = 0.1, .step = 3};
const SgdStep kSgd{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1};

// The oracle of one optimizer step from zero state on parameter p with gradient g.
double stepped(bool adam, double p, double g) {
  if (adam) {
    // AdamW: decay on the weight, moments from zero, bias-corrected at step 3.
    const AdamStep& a = kAdam;
    const double m = (1 - a.beta1) * g, v = (1 - a.beta2) * g * g;
    const double mhat = m / (1 - std::pow(a.beta1, 3)), vhat = v / (1 - std::pow(a.beta2, 3));
    return (1 - a.lr * a.weight_decay) * p - a.lr * mhat / (std::sqrt(vhat) + a.eps);
  }
  // The buffer starts at zero, so after one step it holds the decayed gradient itself.
  return p - kSgd.lr * (g + kSgd.weight_decay * p);
}

// Inputs (param, grad) pairs; the output is every stepped parameter, flattened, in order.
HostValues stepped_pairs(bool adam, const std::vector<HostValues>& x) {
  HostValues out;
  for (size_t k = 0; k + 1 < x.size(); k += 2)
    for (size_t i = 0; i < x[k].size(); ++i)
      out.push_back(stepped(adam, x[k][i], x[k + 1][i]));
  return out;
}

Tensor flat_concat(const std::vector<Tensor>& xs) {
  std::vector<Tensor> flat;
  for (const Tensor& x : xs)
    flat.push_back(reshape(x, {-1}));
  return concat(flat, 0);
}

OpCase optimizer_case(bool adam, bool many) {
  OpCase c;
  c.name =
      std::string(adam ? "adam step 3 from zero moments" : "sgd momentum step from zero buffer") +
      (many ? ", two tensors in one call" : "");
  c.shapes = {kShape, kShape};
  if (many) c.shapes.insert(c.shapes.end(), {{2, 9}, {2, 9}});
  c.differentiable = false;
  c.op = [adam, many](const std::vector<Tensor>& x) {
    const size_t count = x.size() / 2;
    std::vector<Tensor> params, m, v;
    for (size_t k = 0; k < count; ++k) {
      params.push_back(x[2 * k].clone());
      m.push_back(Tensor::zeros(x[2 * k].shape(), x[2 * k].dtype(), x[2 * k].device()));
      v.push_back(Tensor::zeros(x[2 * k].shape(), x[2 * k].dtype(), x[2 * k].device()));
    }
    Backend& backend = x[0].backend();
    std::vector<OptimizerTensors> list;
    for (size_t k = 0; k < count; ++k)
      list.push_back({&params[k], &x[2 * k + 1], &m[k], &v[k]});
    if (many && adam) {
      backend.adam_update_many(kAdam, list);
    } else if (many) {
      backend.sgd_update_many(kSgd, list);
    } else if (adam) {
      backend.adam_update(kAdam, params[0], x[1], m[0], v[0]);
    } else {
      backend.sgd_update(kSgd, params[0], x[1], m[0]);
    }
    return flat_concat(params);
  };
  c.reference = [adam](const std::vector<HostValues>& x) { return stepped_pairs(adam, x); };
  // float32: the constants (1/bias corrections, keep) are rounded to float before use, a few
  // ulps of the lr-sized update on values of order one.
  c.f32_atol = 1e-6;
  return c;
}

// A case of a multi-tensor entry on two tensors of different sizes; its oracle `f` sees every
// input value, in order, as one list.
OpCase two_tensor_case(std::string name, std::function<Tensor(const std::vector<Tensor>&)> op,
                       std::function<HostValues(const HostValues&)> f) {
  OpCase c;
  c.name = std::move(name);
  c.shapes = {kShape, {2, 9}};
  c.differentiable = false;
  c.op = std::move(op);
  c.reference = [f](const std::vector<HostValues>& x) {
    HostValues all;
    for (const HostValues& t : x)
      all.insert(all.end(), t.begin(), t.end());
    return f(all);
  };
  return c;
}

// The multi-tensor gradient-norm entries: the sum of squares of two tensors, and both scaled.
OpCase sum_of_squares_case() {
  OpCase c = two_tensor_case(
      "sum of squares of two tensors",
      [](const std::vector<Tensor>& x) {
        return x[0].backend().sum_of_squares_many(x).to(x[0].dtype());
      },
      [](const HostValues& all) {
        double total = 0;
        for (double v : all)
          total += v * v;
        return HostValues{total};
      });
  // float32: 123 squares of order one summed, then the total (about 40) rounded to float once.
  c.f32_atol = 1e-5;
  c.f32_rtol = 1e-6;
  return c;
}

OpCase scale_case() {
  return two_tensor_case(
      "scale two tensors in place",
      [](const std::vector<Tensor>& x) {
        const std::vector<Tensor> copies = {x[0].clone(), x[1].clone()};
        x[0].backend().scale_many(-1.5, copies);
        return flat_concat(copies);
      },
      [](const HostValues& all) {
        HostValues out;
        for (double v : all)
          out.push_back(-1.5 * v);
        return out;
      });
}

// A training step's statistics recorded into slot 1 of 2: the loss (the first input's one
// value), the norm of the second input, and the guard value at 0 (loss + squares while both
// are finite). Slot 0 stays zero. `slot_on_device`: the slot comes from an int32 tensor on the
// device (record_step_stats_at, what a replayed CUDA graph step calls).
OpCase step_stats_case(bool slot_on_device) {
  OpCase c;
  c.name = slot_on_device ? "record step statistics, slot on the device" : "record step statistics";
  c.shapes = {{1}, kShape};
  c.differentiable = false;
  c.op = [slot_on_device](const std::vector<Tensor>& x) {
    Backend& backend = x[0].backend();
    const Tensor sum_squares = backend.sum_of_squares_many({x[1]});
    Tensor stats = Tensor::zeros({5}, DType::f64, x[0].device());
    if (slot_on_device)
      backend.record_step_stats_at(
          x[0], sum_squares, stats,
          Tensor::from_vector(std::vector<int32_t>{1}, {}).to(x[0].device()));
    else
      backend.record_step_stats(x[0], sum_squares, stats, 1);
    return stats.to(x[0].dtype());
  };
  c.reference = [](const std::vector<HostValues>& x) {
    double squares = 0;
    for (double v : x[1])
      squares += v * v;
    return HostValues{x[0][0] + squares, 0.0, 0.0, x[0][0], std::sqrt(squares)};
  };
  // float32: as the sum of squares case (105 squares of order one summed in float32).
  c.f32_atol = 1e-5;
  c.f32_rtol = 1e-6;
  return c;
}

// Device memory read back behind an event, as the step statistics are: the input in two
// pieces, its second half first, so the order of the pieces shows in the result.
OpCase readback_case() {
  OpCase c;
  c.name = "read back in two pieces";
  c.shapes = {kShape};
  c.differentiable = false;
  c.op = [](const std::vector<Tensor>& x) {
    const size_t element = dtype_size(x[0].dtype());
    const size_t count = static_cast<size_t>(x[0].numel()), half = count / 2;
    const auto* base = static_cast<const std::byte*>(x[0].raw());
    std::unique_ptr<HostReadback> readback = x[0].backend().make_readback();
    readback->start({{base + half * element, (count - half) * element}, {base, half * element}});
    if (!readback->ready()) readback->wait();
    Tensor host = Tensor::empty(x[0].shape(), x[0].dtype());
    std::memcpy(host.raw(), readback->data(), count * element);
    return host.to(x[0].device());
  };
  c.reference = [](const std::vector<HostValues>& x) {
    const auto half = static_cast<std::ptrdiff_t>(x[0].size() / 2);
    HostValues y(x[0].begin() + half, x[0].end());
    y.insert(y.end(), x[0].begin(), x[0].begin() + half);
    return y;
  };
  c.f32_atol = c.f64_atol = c.f32_rtol = c.f64_rtol = 0.0;  // copies: exact
  return c;
}

OpCase argmax_sample_case() {
  // A tiny temperature turns the draw into the argmax: deterministic whatever the uniforms.
  OpCase c;
  c.name = "sample_categorical argmax";
  c.shapes = {{3, 7, 5}};
  c.differentiable = false;
  c.op = [](const std::vector<Tensor>& x) {
    Generator gen(kSeed);
    return sample_categorical(x[0], 1e-6, gen).to(x[0].dtype());
  };
  c.reference = [](const std::vector<HostValues>& x) {
    HostValues y(15);
    for (size_t n = 0; n < 3; ++n)
      for (size_t s = 0; s < 5; ++s) {
        size_t best = 0;
        for (size_t v = 1; v < 7; ++v)
          if (x[0][(n * 7 + v) * 5 + s] > x[0][(n * 7 + best) * 5 + s]) best = v;
        y[n * 5 + s] = static_cast<double>(best);
      }
    return y;
  };
  // Inputs drawn from [-1, 1]: the gap between the best two logits of 7 is far above the
  // 1e-6 * 40 at which the runner-up could be drawn.
  c.f32_atol = c.f64_atol = 0.0;
  return c;
}

}  // namespace

void add_kernel_cases(std::vector<OpCase>& to) {
  add_cases(to, "cast", {"cast"}, {round_trip_case()});
  // Every case allocates, copies and frees; this one names them. On a GPU device the inputs
  // travel from the host and back, which is copy_from_host, copy_to_host and synchronize.
  add_cases(
      to, "clone",
      {"allocate", "deallocate", "copy_within", "copy_from_host", "copy_to_host", "synchronize"},
      {not_differentiable(map_case(
          "clone", [](const Tensor& x) { return x.clone(); },
          [](double v, size_t) { return v; }))});
  add_cases(to, "readback", {"make_readback"}, {readback_case()});
  add_cases(
      to, "full", {"fill"},
      {map_case(
          "times a filled tensor",
          [](const Tensor& x) { return x * Tensor::full(x.shape(), -0.5, x.dtype(), x.device()); },
          [](double v, size_t) { return -0.5 * v; })});
  add_cases(to, "arange", {"arange"},
            {map_case(
                "plus arange",
                [](const Tensor& x) {
                  return x + reshape(Tensor::arange(x.numel(), x.dtype(), x.device()), x.shape());
                },
                [](double v, size_t i) { return v + static_cast<double>(i); })});
  // Fresh generators: every evaluation (and finite difference) sees the same noise, which is
  // the Philox stream at counters 0, 1, ... by definition.
  add_cases(
      to, "uniform", {"fill_uniform"},
      {map_case(
          "plus uniform noise",
          [](const Tensor& x) {
            Generator gen(kSeed);
            return x + Tensor::uniform(x.shape(), -2.0, 3.0, gen, x.dtype(), x.device());
          },
          [](double v, size_t i) { return v + (-2.0 + 5.0 * philox::uniform(kSeed, 0, i)); })});
  add_cases(to, "normal", {"fill_normal"},
            {map_case(
                "plus normal noise",
                [](const Tensor& x) {
                  Generator gen(kSeed);
                  return x + Tensor::normal(x.shape(), 0.5, 2.0, gen, x.dtype(), x.device());
                },
                [](double v, size_t i) { return v + (0.5 + 2.0 * philox::normal(kSeed, 0, i)); })});
  add_cases(to, "axpy", {"axpy"},
            {not_differentiable(map_case(
                "axpy onto ones",
                [](const Tensor& x) {
                  Tensor y = Tensor::ones(x.shape(), x.dtype(), x.device());
                  y.backend().axpy(-0.75, x, y);
                  return y;
                },
                [](double v, size_t) { return 1.0 - 0.75 * v; }))});
  add_cases(to, "sample_categorical", {"sample_categorical"}, {argmax_sample_case()});
  add_cases(to, "adam_update", {"adam_update"}, {optimizer_case(true, false)});
  add_cases(to, "sgd_update", {"sgd_update"}, {optimizer_case(false, false)});
  add_cases(to, "adam_update_many", {"adam_update_many"}, {optimizer_case(true, true)});
  add_cases(to, "sgd_update_many", {"sgd_update_many"}, {optimizer_case(false, true)});
  add_cases(to, "sum_of_squares_many", {"sum_of_squares_many"}, {sum_of_squares_case()});
  add_cases(to, "scale_many", {"scale_many"}, {scale_case()});
  add_cases(to, "record_step_stats", {"record_step_stats", "sum_of_squares_many"},
            {step_stats_case(false)});
  add_cases(to, "record_step_stats_at", {"record_step_stats_at", "sum_of_squares_many"},
            {step_stats_case(true)});
}

}  // namespace gm::catalogue
