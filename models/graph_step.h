#pragma once
// A training step (zero_grad, loss, backward, step statistics, optimizer) captured once as a
// CUDA graph and replayed, so that each step costs the host one batch upload and one graph
// launch (docs/cuda.md, "CUDA Graphs"). Works on every CUDA device, cuda-emu included.
//
// What a replay cannot change is fixed at the capture: the batch's shape and the addresses of
// every buffer. So the batch is copied into a fixed input tensor before each launch, the values
// that change from step to step are uploaded too (Optimizer::prepare_step: Adam's bias
// corrections and learning rate; StepStats::prepare_record: the statistics slot), and the
// memory the step uses belongs to the graph. A step that draws random numbers on the host (the
// VAE's noise: its seeds would be baked into the graph), reads a value back, or uploads
// anything (a conditional model's labels) cannot be captured: the capture throws saying which.
#include <memory>

#include "engine/optim.h"
#include "engine/step_stats.h"
#include "models/model.h"

namespace gm {
class CudaGraph;
}

namespace gm::models {

class GraphTrainingStep {
 public:
  // The model, optimizer and statistics outlive this; the optimizer's parameters are the
  // model's, on one CUDA device. `warmup` eager steps (at least 1) come before the capture.
  GraphTrainingStep(Model& model, Optimizer& optimizer, StepStats& stats, int warmup = 1);
  ~GraphTrainingStep();
  GraphTrainingStep(const GraphTrainingStep&) = delete;
  GraphTrainingStep& operator=(const GraphTrainingStep&) = delete;

  // One training step on `images` (host or device; its loss stays on the device and its
  // statistics go to the StepStats): eagerly during the warm-up, then captured and launched,
  // then launched. A batch whose shape or dtype differs from the first one (the last partial
  // batch of an epoch) runs eagerly, leaving the graph as it is. Returns the step's loss output
  // without the loss tensor (whose activations would be held), as the training loop keeps it.
  LossOutput step(const Tensor& images, Generator& gen);

  bool captured() const { return graph_ != nullptr; }

 private:
  // The device part of a step (what the capture records, on input_).
  LossOutput queue(const Tensor& images, Generator& gen);

  Model& model_;
  Optimizer& optimizer_;
  StepStats& stats_;
  int warmup_;
  int steps_ = 0;
  Device device_;
  Tensor input_;  // the batch of every graph step, at a fixed address
  std::unique_ptr<CudaGraph> graph_;
  LossOutput captured_output_;  // what the captured step returned (host values only)
};

}  // namespace gm::models
