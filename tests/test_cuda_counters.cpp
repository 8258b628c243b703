// The CUDA runtime counters (kernels/cuda/counters.h) on cuda-emu: what known operations issue,
// and that a training step's counts repeat exactly, which is what lets docs/cuda.md, --profile
// and bench_train_step report them as facts of the code rather than of a run.
#include <vector>

#include "engine/optim.h"
#include "kernels/cuda/cuda_backend.h"
#include "models/registry.h"
#include "tests/model_helpers.h"
#include "tests/support.h"

using namespace gm;

TEST_CASE("cuda-emu counts launches, syncs and copies of known operations", "[cuda]") {
  CudaBackendBase& emu = cuda_emu_backend();
  const std::vector<float> host(1000, 0.5f);
  const Tensor x_cpu = Tensor::from_vector(host, {1000});

  CudaCounters before = emu.counters();
  const Tensor x = x_cpu.to(Device::cuda_emu());
  CudaCounters c = emu.counters() - before;
  CHECK(c.kernel_launches == 0);
  CHECK(c.h2d_bytes == 4000);
  CHECK(c.d2h_bytes == 0);
  // Through a pinned staging slot: the caller may reuse its buffer at once, without a wait.
  CHECK(c.host_syncs == 0);
  CHECK(c.allocator_hits + c.allocator_misses == 1);

  before = emu.counters();
  const Tensor y = exp(x) + x;
  c = emu.counters() - before;
  CHECK(c.kernel_launches == 2);
  CHECK(c.host_syncs == 0);  // queued work needs no wait
  CHECK(c.h2d_bytes + c.d2h_bytes == 0);
  CHECK(c.allocator_hits + c.allocator_misses == 2);

  before = emu.counters();
  const std::vector<float> back = y.to_vector<float>();
  c = emu.counters() - before;
  CHECK(c.d2h_bytes == 4000);
  CHECK(c.host_syncs == 1);
  CHECK(back[0] == std::exp(0.5f) + 0.5f);

  CHECK_FALSE(cuda_counters(Device::cpu()).has_value());
  REQUIRE(cuda_counters(Device::cuda_emu()).has_value());
}

TEST_CASE("cuda-emu: a repeated training step issues the same counts, all from the cache",
          "[cuda]") {
  const Device device = Device::cuda_emu();
  const models::ImageShape shape{1, 6, 5};
  Generator init_gen(3), gen(4);
  auto model = models::make_model("pixelcnn-ref", shape, nn::Init{device, DType::f32, &init_gen});
  Adam adam(to_named_tensors(model->parameters()), AdamOptions{.lr = 1e-3});
  const Tensor images = test::random_images(shape, 2, 5);
  std::vector<CudaCounters> steps;
  for (int i = 0; i < 3; ++i) {
    const CudaCounters before = *cuda_counters(device);
    adam.zero_grad();
    const models::LossOutput out = model->loss(images, gen);
    out.loss.backward();
    clip_grad_norm(adam.params(), 1.0);
    adam.step();
    steps.push_back(*cuda_counters(device) - before);
  }
  INFO(describe_counters(steps[1]));
  CHECK(steps[1].kernel_launches > 0);
  CHECK(steps[2].kernel_launches == steps[1].kernel_launches);
  CHECK(steps[2].host_syncs == steps[1].host_syncs);
  CHECK(steps[2].h2d_bytes == steps[1].h2d_bytes);
  CHECK(steps[2].d2h_bytes == steps[1].d2h_bytes);
  CHECK(steps[2].allocator_hits == steps[1].allocator_hits);
  // The batch (uint8) is uploaded once per step, and nothing else is.
  CHECK(steps[1].h2d_bytes == static_cast<uint64_t>(images.numel()));
  // Adam's state exists after the first step: later steps allocate nothing new on the device.
  CHECK(steps[1].allocator_misses == 0);
  CHECK(steps[2].allocator_misses == 0);
}
