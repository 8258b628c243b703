// CUDA Graphs on cuda-emu, and on a GPU where there is one (models/graph_step.h): a training step
// captured once and replayed gives the same bits as the same steps run eagerly (losses, gradient
// norms, weights, Adam's state), costs one graph launch and no kernel launch or host wait per
// replayed step, and a step that cannot be captured is refused with a message that says why.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "engine/optim.h"
#include "engine/step_stats.h"
#include "kernels/common/optim_math.h"
#include "kernels/cuda/cuda_backend.h"
#include "models/graph_step.h"
#include "models/registry.h"
#include "tests/model_helpers.h"
#include "tests/support.h"

using namespace gm;
using Catch::Matchers::Contains;

namespace {

const models::ImageShape kShape{1, 6, 5};
constexpr int64_t kBatch = 2;
constexpr int kSteps = 5;

// A model, Adam and the step statistics on a CUDA device (cuda-emu unless said), from fixed
// seeds.
struct Run {
  explicit Run(const std::string& model_name, Device device = Device::cuda_emu())
      : stats(device, kSteps) {
    Generator init_gen(3);
    model = models::make_model(model_name, kShape, nn::Init{device, DType::f32, &init_gen});
    model->set_read_loss(false);
    adam = std::make_unique<Adam>(to_named_tensors(model->parameters()), AdamOptions{.lr = 1e-2});
    adam->set_guard(stats.guard());
  }
  std::unique_ptr<models::Model> model;
  std::unique_ptr<Adam> adam;
  StepStats stats;
  Generator gen{4};
};

// The CUDA devices of this test run: cuda-emu, and a GPU where there is one (scripts/gpu-run.sh
// runs this test there with our GEMM and with cuBLAS).
std::vector<Device> cuda_devices() {
  std::vector<Device> out;
  for (const Device d : test::test_devices())
    if (d != Device::cpu()) out.push_back(d);
  return out;
}

Tensor batch(int step) {
  return test::random_images(kShape, kBatch, 100 + static_cast<uint64_t>(step));
}

// The bytes of every tensor of a state, by name, for exact comparison.
std::map<std::string, std::vector<float>> values(const std::vector<NamedTensor>& tensors) {
  std::map<std::string, std::vector<float>> out;
  for (const NamedTensor& t : tensors)
    out[t.name] = t.tensor.to_vector<float>();
  return out;
}

void check_replay_matches_eager(const std::string& model_name, Device device) {
  INFO(model_name << " on " << device.name());
  Run eager(model_name, device);
  for (int s = 0; s < kSteps; ++s) {
    eager.adam->zero_grad();
    models::LossOutput out = eager.model->loss(batch(s), eager.gen);
    out.loss.backward();
    eager.stats.record(out.loss, eager.adam->params());
    eager.adam->step();
  }

  Run graphed(model_name, device);
  models::GraphTrainingStep step(*graphed.model, *graphed.adam, graphed.stats);
  std::vector<CudaCounters> counts;
  std::vector<StepStats::Step> b;
  // The fourth step (a replay) reports as `genmodel train` does: it queues the copy of the
  // statistics and takes what has arrived, without waiting; the last read takes the rest.
  constexpr int kReportingStep = 3;
  for (int s = 0; s < kSteps; ++s) {
    const Tensor images = batch(s);
    const CudaCounters before = *cuda_counters(device);
    step.step(images, graphed.gen);
    if (s == kReportingStep) {
      graphed.stats.request();
      for (StepStats::Step& v : graphed.stats.take())
        b.push_back(std::move(v));
    }
    counts.push_back(*cuda_counters(device) - before);
  }
  REQUIRE(step.captured());
  for (StepStats::Step& v : graphed.stats.read())
    b.push_back(std::move(v));

  const std::vector<StepStats::Step> a = eager.stats.read();
  REQUIRE(a.size() == kSteps);
  REQUIRE(b.size() == kSteps);
  for (size_t k = 0; k < a.size(); ++k) {
    CHECK(a[k].loss == b[k].loss);
    CHECK(a[k].grad_norm == b[k].grad_norm);
  }
  CHECK(a.front().loss != a.back().loss);  // the steps trained: equality is not vacuous
  CHECK(values(eager.adam->params()) == values(graphed.adam->params()));
  const OptimizerState sa = eager.adam->state(), sb = graphed.adam->state();
  CHECK(values(sa.tensors) == values(sb.tensors));
  CHECK(sa.scalars == sb.scalars);  // step counts included

  // Step 1 is the eager warm-up, step 2 is captured and launched; later steps are replays.
  CHECK(counts[0].graph_launches == 0);
  CHECK(counts[0].kernel_launches > 0);
  CHECK(counts[1].graph_launches == 1);
  // The batch (uint8), Adam's step constants and the statistics slot are the uploads.
  const uint64_t uploads = static_cast<uint64_t>(batch(0).numel()) +
                           sizeof(math::AdamConstants<float>) + sizeof(int32_t);
  for (int s = 2; s < kSteps; ++s) {
    INFO("step " << s + 1 << ": " << describe_counters(counts[static_cast<size_t>(s)]));
    CHECK(counts[static_cast<size_t>(s)].graph_launches == 1);
    CHECK(counts[static_cast<size_t>(s)].kernel_launches == 0);
    CHECK(counts[static_cast<size_t>(s)].host_syncs == 0);
    CHECK(counts[static_cast<size_t>(s)].h2d_bytes == uploads);
    // The report copies the flag and four steps' loss and norm back: (1 + 2 x 4) doubles.
    CHECK(counts[static_cast<size_t>(s)].d2h_bytes ==
          (s == kReportingStep ? 9 * sizeof(double) : 0));
    CHECK(counts[static_cast<size_t>(s)].allocator_misses == 0);
  }
}

}  // namespace

TEST_CASE("cuda graphs: replayed pixelcnn-ref steps give the eager steps' bits", "[cuda]") {
  for (const Device device : cuda_devices())
    check_replay_matches_eager("pixelcnn-ref", device);
}

TEST_CASE("cuda graphs: replayed rowlstm-ref steps give the eager steps' bits", "[cuda]") {
  for (const Device device : cuda_devices())
    check_replay_matches_eager("rowlstm-ref", device);
}

TEST_CASE("cuda-emu graphs: a batch of another shape runs eagerly between replays", "[cuda]") {
  Run eager("pixelcnn-ref"), graphed("pixelcnn-ref");
  models::GraphTrainingStep step(*graphed.model, *graphed.adam, graphed.stats);
  const std::vector<int64_t> sizes{2, 2, 2, 1, 2};  // a partial batch after the capture
  for (size_t s = 0; s < sizes.size(); ++s) {
    Generator g(200 + s);
    const Tensor images = test::random_images(kShape, sizes[s], 300 + s);
    eager.adam->zero_grad();
    models::LossOutput out = eager.model->loss(images, eager.gen);
    out.loss.backward();
    eager.stats.record(out.loss, eager.adam->params());
    eager.adam->step();
    step.step(images, graphed.gen);
  }
  const std::vector<StepStats::Step> a = eager.stats.read(), b = graphed.stats.read();
  REQUIRE(a.size() == b.size());
  for (size_t k = 0; k < a.size(); ++k)
    CHECK(a[k].loss == b[k].loss);
  CHECK(values(eager.adam->params()) == values(graphed.adam->params()));
}

TEST_CASE("cuda-emu graphs: a step that reads its loss cannot be captured, and says so", "[cuda]") {
  Run run("pixelcnn-ref");
  run.model->set_read_loss(true);  // loss.item(): a host wait inside the step
  models::GraphTrainingStep step(*run.model, *run.adam, run.stats);
  step.step(batch(0), run.gen);  // the eager warm-up may read
  CHECK_THROWS_WITH(step.step(batch(1), run.gen),
                    Contains("pixelcnn-ref: the training step cannot be captured") &&
                        Contains("during a CUDA Graph capture") &&
                        Contains("reading device memory back to the host") && Contains("item()"));
  CHECK_FALSE(step.captured());
  auto& emu = dynamic_cast<CudaBackendBase&>(backend_for(Device::cuda_emu()));
  CHECK_FALSE(emu.capturing());
  // The device works as before.
  const Tensor x = Tensor::full({4}, 2.0, DType::f32, Device::cuda_emu());
  CHECK((x + x).to_vector<float>() == std::vector<float>(4, 4.0f));
}

TEST_CASE(
    "cuda-emu graphs: steps with host randomness or without a replayable optimizer are "
    "refused",
    "[cuda]") {
  SECTION("the VAE draws its noise on the host") {
    Run run("vae-ref");
    models::GraphTrainingStep step(*run.model, *run.adam, run.stats);
    step.step(batch(0), run.gen);
    // The capture itself succeeds (its logistic target is not read back: it is made from
    // uint8 pixels), but the reparameterisation noise moved the host generator.
    CHECK_THROWS_WITH(step.step(batch(1), run.gen),
                      Contains("vae-ref: its training step draws random numbers on the host"));
    CHECK_FALSE(step.captured());
  }
  SECTION("SGD") {
    Run run("pixelcnn-ref");
    Sgd sgd(to_named_tensors(run.model->parameters()), SgdOptions{});
    models::GraphTrainingStep step(*run.model, sgd, run.stats);
    CHECK_THROWS_WITH(step.step(batch(0), run.gen),
                      Contains("sgd optimizer has no replayable step"));
  }
  SECTION("the CPU") {
    Generator init_gen(3);
    auto model =
        models::make_model("pixelcnn-ref", kShape, nn::Init{Device::cpu(), DType::f32, &init_gen});
    Adam adam(to_named_tensors(model->parameters()), AdamOptions{});
    StepStats stats(Device::cpu(), 1);
    CHECK_THROWS_WITH(models::GraphTrainingStep(*model, adam, stats),
                      Contains("CUDA Graphs need a CUDA device"));
  }
}

TEST_CASE("cuda-emu graphs: memory a capture used is the graph's until the graph is gone",
          "[cuda]") {
  auto& emu = dynamic_cast<CudaBackendBase&>(backend_for(Device::cuda_emu()));
  // Without sentinels, blocks of one size share a size class whoever allocates them.
  const bool debug = emu.debug_allocations();
  emu.set_debug_allocations(false);
  const Shape shape{1000};
  Tensor before = Tensor::zeros(shape, DType::f32, Device::cuda_emu());
  void* const freed_in_capture = before.raw();
  void* allocated_in_capture = nullptr;
  std::unique_ptr<CudaGraph> graph = emu.capture([&] {
    before = Tensor();  // allocated before the capture, freed during it
    Tensor t = Tensor::full(shape, 3.0, DType::f32, Device::cuda_emu());
    allocated_in_capture = t.raw();
  });
  graph->launch();
  std::vector<Tensor> others;
  for (int i = 0; i < 4; ++i) {
    others.push_back(Tensor::empty(shape, DType::f32, Device::cuda_emu()));
    CHECK(others.back().raw() != allocated_in_capture);
    CHECK(others.back().raw() != freed_in_capture);
  }
  graph.reset();  // its blocks return to the shared cache
  const Tensor reused = Tensor::empty(shape, DType::f32, Device::cuda_emu());
  CHECK((reused.raw() == allocated_in_capture || reused.raw() == freed_in_capture));
  emu.set_debug_allocations(debug);
}
