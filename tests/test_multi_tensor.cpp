// The multi-tensor entries (Backend::adam_update_many, sgd_update_many, sum_of_squares_many,
// scale_many) that the optimizers and clip_grad_norm use: on every device they give exactly the
// bits of the single-tensor entries they replace, for lists longer than one launch takes
// (kernels/cuda/launch_multi.h packs 48 tensors per launch), and on cuda-emu they take the few
// launches they exist for.
#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/optim.h"
#include "kernels/cuda/cuda_backend.h"
#include "tests/support.h"

using namespace gm;

namespace {

// 60 tensors of odd sizes, one empty: more than one launch's worth.
std::vector<int64_t> sizes() {
  std::vector<int64_t> n;
  for (int i = 0; i < 60; ++i)
    n.push_back(i == 7 ? 0 : 1 + (i * 977) % 1301);
  return n;
}

std::vector<Tensor> random_tensors(uint64_t seed, DType dtype, Device device) {
  Generator gen(seed);
  std::vector<Tensor> out;
  for (int64_t n : sizes())
    out.push_back(Tensor::uniform({n}, -1.0, 1.0, gen, dtype, device));
  return out;
}

std::vector<Tensor> copies(const std::vector<Tensor>& ts) {
  std::vector<Tensor> out;
  for (const Tensor& t : ts)
    out.push_back(t.clone());
  return out;
}

void require_same_bits(const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("tensor " << i);
    const std::vector<double> a = got[i].to(DType::f64).to_vector<double>();
    const std::vector<double> b = want[i].to(DType::f64).to_vector<double>();
    REQUIRE(a == b);
  }
}

}  // namespace

TEST_CASE("multi-tensor Adam, AdamW and SGD give the bits of the per-tensor entries",
          "[optim][cuda]") {
  for (Device device : test::test_devices()) {
    for (DType dtype : {DType::f32, DType::f64}) {
      INFO(device.name() << " " << dtype_name(dtype));
      Backend& backend = backend_for(device);
      const std::vector<Tensor> grads = random_tensors(1, dtype, device);
      for (int kind = 0; kind < 4; ++kind) {
        INFO("kind " << kind);
        std::vector<Tensor> p1 = random_tensors(2, dtype, device), p2 = copies(p1);
        std::vector<Tensor> m1 = random_tensors(3, dtype, device), m2 = copies(m1);
        std::vector<Tensor> v1 = random_tensors(4, dtype, device), v2 = copies(v1);
        for (Tensor& v : v1)
          v = abs(v);
        v2 = copies(v1);
        std::vector<OptimizerTensors> list;
        for (size_t i = 0; i < p1.size(); ++i)
          list.push_back({&p1[i], &grads[i], &m1[i], &v1[i]});
        if (kind < 2) {
          const AdamStep s{.lr = 1e-2, .weight_decay = 0.1, .decoupled = kind == 1, .step = 3};
          backend.adam_update_many(s, list);
          for (size_t i = 0; i < p2.size(); ++i)
            backend.adam_update(s, p2[i], grads[i], m2[i], v2[i]);
        } else {
          const SgdStep s{.lr = 1e-2, .momentum = 0.9, .weight_decay = 0.1, .nesterov = kind == 3};
          backend.sgd_update_many(s, list);
          for (size_t i = 0; i < p2.size(); ++i)
            backend.sgd_update(s, p2[i], grads[i], m2[i]);
        }
        require_same_bits(p1, p2);
        require_same_bits(m1, m2);
        if (kind < 2) require_same_bits(v1, v2);
      }
    }
  }
}

TEST_CASE("multi-tensor sum of squares is exact to rounding and the same every time",
          "[optim][cuda]") {
  for (Device device : test::test_devices()) {
    for (DType dtype : {DType::f32, DType::f64}) {
      INFO(device.name() << " " << dtype_name(dtype));
      Backend& backend = backend_for(device);
      const std::vector<Tensor> ts = random_tensors(5, dtype, device);
      double want = 0;
      for (const Tensor& t : ts)
        for (double x : t.to(DType::f64).to_vector<double>())
          want += x * x;
      const Tensor total = backend.sum_of_squares_many(ts);
      CHECK(total.dtype() == DType::f64);
      CHECK(total.device() == device);
      CHECK(total.item() == Approx(want).epsilon(1e-6));
      CHECK(backend.sum_of_squares_many(ts).item() == total.item());

      std::vector<Tensor> scaled = copies(ts);
      backend.scale_many(0.25, scaled);
      for (size_t i = 0; i < ts.size(); ++i)
        REQUIRE(scaled[i].to(DType::f64).to_vector<double>() ==
                mul_scalar(ts[i], 0.25).to(DType::f64).to_vector<double>());
    }
  }
}

TEST_CASE("cuda-emu: an Adam step and a gradient norm over 60 parameters take five launches",
          "[optim][cuda]") {
  const Device device = Device::cuda_emu();
  std::vector<NamedTensor> params;
  std::vector<Tensor> grads = random_tensors(6, DType::f32, device);
  std::vector<Tensor> values = random_tensors(7, DType::f32, device);
  Tensor loss;
  for (size_t i = 0; i < values.size(); ++i) {
    values[i].set_requires_grad(true);
    params.push_back({fmt::format("p{}", i), values[i]});
    const Tensor term = sum(values[i] * grads[i]);  // its gradient is grads[i]
    loss = loss.defined() ? loss + term : term;
  }
  loss.backward();
  Adam adam(params, AdamOptions{.lr = 1e-3});
  const CudaCounters before = *cuda_counters(device);
  const double norm = grad_norm(params);
  adam.step();
  const CudaCounters c = *cuda_counters(device) - before;
  CHECK(std::isfinite(norm));
  // Sum of squares: one launch per 48 tensors plus the final sum; Adam: one per 48 tensors.
  CHECK(c.kernel_launches == 2 + 1 + 2);
  CHECK(c.host_syncs == 1);  // reading the norm
  CHECK(c.h2d_bytes == 0);
}

TEST_CASE("the optimizer and multi-tensor catalogue cases match their oracles on every device",
          "[optim][ops]") {
  for (const char* op : {"adam_update", "sgd_update", "adam_update_many", "sgd_update_many",
                         "sum_of_squares_many", "scale_many", "record_step_stats"})
    gm::test::check_op_cases(op);
}
