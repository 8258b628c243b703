#include "models/graph_step.h"

#include "engine/error.h"
#include "kernels/cuda/cuda_backend.h"

namespace gm::models {

namespace {

CudaBackendBase& cuda_backend_of(const Optimizer& optimizer) {
  GM_CHECK(!optimizer.params().empty(), "a graph training step needs parameters to train");
  const Device device = optimizer.params().front().tensor.device();
  auto* cuda = dynamic_cast<CudaBackendBase*>(&backend_for(device));
  if (!cuda)
    throw Error(fmt::format(
        "CUDA Graphs need a CUDA device (cuda, cuda:N or cuda-emu), not {}: train without the "
        "graph option there",
        device.name()));
  return *cuda;
}

}  // namespace

GraphTrainingStep::GraphTrainingStep(Model& model, Optimizer& optimizer, StepStats& stats,
                                     int warmup)
    : model_(model),
      optimizer_(optimizer),
      stats_(stats),
      warmup_(warmup),
      device_(optimizer.params().empty() ? Device::cpu()
                                         : optimizer.params().front().tensor.device()) {
  cuda_backend_of(optimizer);
  GM_CHECK(warmup >= 1, "a graph training step needs at least one warm-up step, got {}", warmup);
}

GraphTrainingStep::~GraphTrainingStep() = default;

LossOutput GraphTrainingStep::queue(const Tensor& images, Generator& gen) {
  optimizer_.zero_grad();
  LossOutput out = model_.loss(images, gen);
  out.loss.backward();
  stats_.queue_record(out.loss, optimizer_.params());
  optimizer_.queue_step();
  out.loss = Tensor();  // its autograd graph holds the step's activations
  return out;
}

LossOutput GraphTrainingStep::step(const Tensor& images, Generator& gen) {
  if (!input_.defined()) input_ = Tensor::empty(images.shape(), images.dtype(), device_);
  const bool fits = images.shape() == input_.shape() && images.dtype() == input_.dtype();
  if (fits) input_.copy_from(images);
  optimizer_.prepare_step();
  stats_.prepare_record();
  if (!fits) return queue(images, gen);  // eagerly, on a tensor of its own
  if (++steps_ <= warmup_) return queue(input_, gen);
  if (!graph_) {
    // Host-side randomness would be baked into the graph as the capture's seeds and offsets.
    const uint64_t offset = gen.offset();
    try {
      graph_ = cuda_backend_of(optimizer_).capture([&] { captured_output_ = queue(input_, gen); });
    } catch (const Error& e) {
      throw Error(fmt::format("{}: the training step cannot be captured as a CUDA graph: {}",
                              model_.config_name(), e.what()));
    }
    if (gen.offset() != offset) {
      graph_.reset();
      throw Error(fmt::format(
          "{}: its training step draws random numbers on the host (noise seeds), which a CUDA "
          "graph would replay unchanged: train it without CUDA Graphs",
          model_.config_name()));
    }
  }
  graph_->launch();
  return captured_output_;
}

}  // namespace gm::models
