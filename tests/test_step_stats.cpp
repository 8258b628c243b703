// StepStats (engine/step_stats.h) and the optimizer guard: a training step that keeps its loss
// and gradient norm on the device makes no host synchronisation, reads back the same values a
// step that reads at once sees, and a non-finite value leaves the weights alone from that step
// on, on every device.
#include <cmath>
#include <limits>
#include <map>
#include <string>
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
  constexpr int kSteps = 5, kReportEvery = 2;
  // Two identical models and generators: one reads its loss after every step as before, the
  // other keeps it on the device, requests the values every second step as `genmodel train`
  // does, takes what has arrived after every step and reads the rest at the end.
  Generator init_a(3), init_b(3), gen_a(4), gen_b(4);
  auto eager = models::make_model("pixelcnn-ref", shape, nn::Init{device, DType::f32, &init_a});
  auto deferred = models::make_model("pixelcnn-ref", shape, nn::Init{device, DType::f32, &init_b});
  deferred->set_read_loss(false);
  Adam adam_a(to_named_tensors(eager->parameters()), AdamOptions{.lr = 1e-3});
  Adam adam_b(to_named_tensors(deferred->parameters()), AdamOptions{.lr = 1e-3});
  StepStats stats(device, kReportEvery);
  adam_b.set_guard(stats.guard());
  const Tensor images = test::random_images(shape, 2, 5);

  std::vector<double> losses, norms;
  std::vector<StepStats::Step> arrived;
  CHECK(stats.take().empty());  // nothing requested yet
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
    const bool reporting = stats.pending() == kReportEvery;
    if (reporting) stats.request();
    const size_t before_take = arrived.size();
    for (StepStats::Step& s : stats.take())
      arrived.push_back(std::move(s));
    const CudaCounters c = *cuda_counters(device) - before;
    INFO("step " << i << ": " << describe_counters(c));
    // The batch goes up through a pinned staging slot and the statistics come down into
    // pinned memory behind an event: no wait for either, in a reporting step too.
    CHECK(c.host_syncs == 0);
    CHECK(c.h2d_bytes == static_cast<uint64_t>(images.numel()));
    // A report copies the flag and its steps' loss and norm: (1 + 2 x 2) doubles.
    CHECK(c.d2h_bytes == (reporting ? 5 * sizeof(double) : 0));
    // Values arrive only after their request, never more than were recorded; on cuda-emu
    // the device has always passed the event by the time take() looks.
    CHECK(arrived.size() - before_take == (reporting ? size_t{kReportEvery} : size_t{0}));
  }
  CHECK(stats.pending() == 1);  // the fifth step: recorded, not requested
  const CudaCounters before = *cuda_counters(device);
  for (StepStats::Step& s : stats.read())
    arrived.push_back(std::move(s));
  const CudaCounters c = *cuda_counters(device) - before;
  CHECK(c.host_syncs == 1);  // the forced read waits once for what is pending
  CHECK(c.d2h_bytes == 3 * sizeof(double));
  CHECK(stats.pending() == 0);
  CHECK(stats.read().empty());
  REQUIRE(arrived.size() == static_cast<size_t>(kSteps));
  for (size_t i = 0; i < arrived.size(); ++i) {
    // The same kernels on the same inputs: the same bits, in step order.
    CHECK(arrived[i].loss == losses[i]);
    CHECK(arrived[i].grad_norm == norms[i]);
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
  CHECK_THROWS_WITH(stats.record(loss, {}), Catch::Contains("request() or read() them"));
  CHECK(stats.read().size() == 1);
  stats.record(loss, {});
  CHECK(stats.pending() == 1);
}

TEST_CASE("StepStats: requested values and their terms arrive in step order on every device") {
  for (const Device device : test::test_devices()) {
    INFO(device.name());
    StepStats stats(device, 2);
    auto scalar = [&](double v) { return Tensor::full({}, v, DType::f32, device); };
    stats.record(scalar(1.5), {}, {{"kl", scalar(0.25)}, {"recon", scalar(1.25)}});
    stats.record(scalar(2.5), {}, {{"kl", scalar(0.5)}, {"recon", scalar(2.0)}});
    stats.request();
    CHECK(stats.pending() == 0);
    stats.record(scalar(3.5), {});  // a step without terms, after the request
    // Before the forced read, whatever arrived is the requested steps, in order; the read
    // brings the rest.
    std::vector<StepStats::Step> got = stats.take();
    CHECK(got.size() <= 2);
    for (StepStats::Step& s : stats.read())
      got.push_back(std::move(s));
    REQUIRE(got.size() == 3);
    CHECK(got[0].loss == 1.5);
    CHECK(got[0].terms == std::map<std::string, double>{{"kl", 0.25}, {"recon", 1.25}});
    CHECK(got[1].loss == 2.5);
    CHECK(got[1].terms == std::map<std::string, double>{{"kl", 0.5}, {"recon", 2.0}});
    CHECK(got[2].loss == 3.5);
    CHECK(got[2].terms.empty());
    CHECK(got[2].grad_norm == 0.0);  // no gradients
  }
}

TEST_CASE("a readback returns device memory in the order of its pieces on every device", "[ops]") {
  gm::test::check_op_cases("readback");
}
