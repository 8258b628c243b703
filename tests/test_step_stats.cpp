// StepStats (engine/step_stats.h) and the optimizer guard: a training step that keeps its loss
// and gradient norm on the device makes no host synchronisation, reads back the same values a
// step that reads at once sees, and a non-finite value leaves the weights alone from that step
// on, on every device.
#include <cmath>
#include <limits>
#include <vector>

#include "engine/optim.h"
#include "engine/step_stats.h"
#include "kernels/cuda/cuda_backend.h"
#include "models/registry.h"
#include "tests/model_helpers.h"
#include "tests/support.h"

using namespace gm;

namespace {

std::vector<std::vector<float>> weights(const std::vector<NamedTensor>& params) {
  std::vector<std::vector<float>> out;
  for (const NamedTensor& p : params)
    out.push_back(p.tensor.to_vector<float>());
  return out;
}

}  // namespace

TEST_CASE("cuda-emu: steps that keep their loss on the device make no host synchronisation",
          "[cuda]") {
  const Device device = Device::cuda_emu();
  const models::ImageShape shape{1, 6, 5};
  constexpr int kSteps = 3;
  // Two identical models and generators: one reads its loss after every step as before, the
  // other keeps it on the device and reads all three at the end.
  Generator init_a(3), init_b(3), gen_a(4), gen_b(4);
  auto eager = models::make_model("pixelcnn-ref", shape, nn::Init{device, DType::f32, &init_a});
  auto deferred = models::make_model("pixelcnn-ref", shape, nn::Init{device, DType::f32, &init_b});
  deferred->set_read_loss(false);
  Adam adam_a(to_named_tensors(eager->parameters()), AdamOptions{.lr = 1e-3});
  Adam adam_b(to_named_tensors(deferred->parameters()), AdamOptions{.lr = 1e-3});
  StepStats stats(device, kSteps);
  adam_b.set_guard(stats.guard());
  const Tensor images = test::random_images(shape, 2, 5);

  std::vector<double> losses, norms;
  for (int i = 0; i < kSteps; ++i) {
    adam_a.zero_grad();
    const models::LossOutput a = eager->loss(images, gen_a);
    a.loss.backward();
    losses.push_back(a.nats_per_image);
    norms.push_back(grad_norm(adam_a.params()));
    adam_a.step();

    const CudaCounters before = *cuda_counters(device);
    adam_b.zero_grad();
    const models::LossOutput b = deferred->loss(images, gen_b);
    CHECK(std::isnan(b.nats_per_image));  // not read
    b.loss.backward();
    stats.record(b.loss, adam_b.params());
    adam_b.step();
    const CudaCounters c = *cuda_counters(device) - before;
    INFO(describe_counters(c));
    // The batch goes up through a pinned staging slot: no wait for it either.
    CHECK(c.host_syncs == 0);
    CHECK(c.d2h_bytes == 0);
    CHECK(c.h2d_bytes == static_cast<uint64_t>(images.numel()));
  }
  const CudaCounters before = *cuda_counters(device);
  const std::vector<StepStats::Step> read = stats.read();
  const CudaCounters c = *cuda_counters(device) - before;
  CHECK(c.host_syncs == 1);  // one read for all pending steps
  CHECK(stats.pending() == 0);
  REQUIRE(read.size() == static_cast<size_t>(kSteps));
  for (int i = 0; i < kSteps; ++i) {
    // The same kernels on the same inputs: the same bits.
    CHECK(read[static_cast<size_t>(i)].loss == losses[static_cast<size_t>(i)]);
    CHECK(read[static_cast<size_t>(i)].grad_norm == norms[static_cast<size_t>(i)]);
  }
  CHECK(weights(adam_a.params()) == weights(adam_b.params()));
}

TEST_CASE("StepStats: a non-finite loss or norm stops the guarded optimizer from that step on") {
  for (const Device device : test::test_devices()) {
    INFO(device.name());
    const models::ImageShape shape{1, 5, 4};
    Generator init(7), gen(8);
    auto model = models::make_model("pixelcnn-ref", shape, nn::Init{device, DType::f32, &init});
    model->set_read_loss(false);
    Adam adam(to_named_tensors(model->parameters()), AdamOptions{.lr = 1e-2});
    StepStats stats(device, 4);
    adam.set_guard(stats.guard());
    const Tensor images = test::random_images(shape, 2, 9);
    auto step = [&](bool poison) {
      adam.zero_grad();
      const models::LossOutput out = model->loss(images, gen);
      out.loss.backward();
      // A NaN loss, as an overflowing forward pass gives, with the gradients as they are.
      const Tensor loss =
          poison ? mul_scalar(out.loss.detach(), std::numeric_limits<double>::quiet_NaN())
                 : out.loss.detach();
      stats.record(loss, adam.params());
      adam.step();
    };
    step(false);
    const std::vector<std::vector<float>> after_good = weights(adam.params());
    step(true);
    CHECK(weights(adam.params()) == after_good);
    step(false);  // finite again, but the run already went wrong: still no update
    CHECK(weights(adam.params()) == after_good);
    const std::vector<StepStats::Step> read = stats.read();
    REQUIRE(read.size() == 3);
    CHECK(std::isfinite(read[0].loss));
    CHECK(std::isnan(read[1].loss));
    CHECK(std::isfinite(read[2].loss));
    CHECK(std::isfinite(read[2].grad_norm));
  }
}

TEST_CASE("StepStats: more pending steps than its room is an error") {
  StepStats stats(Device::cpu(), 1);
  const Tensor loss = Tensor::zeros({});
  stats.record(loss, {});
  CHECK_THROWS_WITH(stats.record(loss, {}), Catch::Contains("read() them"));
  CHECK(stats.read().size() == 1);
  stats.record(loss, {});
  CHECK(stats.pending() == 1);
}
