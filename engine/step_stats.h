#pragma once
// A training step's loss and gradient norm, kept on the device and read back every few steps.
// Reading a scalar makes the host wait for every kernel queued before it; a loop that reads
// after each step can never queue the next step while the device runs this one. Here a step
// records its loss and its gradients' sum of squares into a small float64 buffer on the
// parameters' device (two or three launches, no wait), a flag in the same buffer turns
// non-finite the first time a value is, and the optimizer, given the buffer as its guard
// (Optimizer::set_guard), leaves the weights alone from that step on. A step may add named
// scalars (a model's loss terms) that stay on the device until they are read.
//
// Reading does not wait either: request() queues a copy of the pending steps' values into
// pinned host memory behind an event (HostReadback), and take() hands them out once the
// device has passed the event, usually a step or two later. read() is for the places that
// need the values at once (an evaluation, a checkpoint, the end): it requests and waits.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/named_tensor.h"

namespace gm {

class StepStats {
 public:
  // Room for `capacity` (>= 1) steps between requests.
  StepStats(Device device, int64_t capacity);

  // Records one step: `loss` a floating scalar, the gradients of `params` as they are after
  // backward, and `terms` (floating scalars, kept until read; no launch). Throws when
  // `capacity` steps are pending.
  void record(const Tensor& loss, const std::vector<NamedTensor>& params,
              const std::map<std::string, Tensor>& terms = {});
  // Steps recorded and not requested yet.
  int64_t pending() const { return pending_; }

  // record() in two halves, for a step captured once and replayed (CUDA Graphs):
  // prepare_record() takes the next slot and uploads its index to the device; queue_record()
  // queues the kernels that read the index there, so a captured queue_record() writes each
  // replay's statistics into the slot its prepare_record() took.
  void prepare_record();
  void queue_record(const Tensor& loss, const std::vector<NamedTensor>& params);

  struct Step {
    double loss = 0.0, grad_norm = 0.0;
    std::map<std::string, double> terms;
  };
  // Queues the copy of the pending steps' values to the host and frees their slots; nothing
  // pending after. No wait, unless the previous request's copy has not run yet (it is
  // collected first; counted as a host synchronisation only when the host did wait).
  void request();
  // The steps whose values have arrived, in the order they were recorded; never waits.
  std::vector<Step> take();
  // Every step recorded and not taken yet, in order: requests the pending ones and waits for
  // their copy (one host synchronisation). Nothing pending or in flight after.
  std::vector<Step> read();

  // For Optimizer::set_guard: finite while every recorded loss and norm was.
  const Tensor& guard() const { return stats_; }

 private:
  // Parses the copy of the request in flight into arrived_.
  void collect();

  Tensor stats_;  // float64 [1 + 2 capacity]: the flag, then (loss, norm) per pending step
  Tensor slot_;   // int32 scalar on the device: the slot of queue_record()
  int64_t capacity_;
  int64_t pending_ = 0;
  std::vector<std::map<std::string, Tensor>> terms_;  // per pending step
  std::unique_ptr<HostReadback> readback_;
  // The request in flight: how many steps, the names of their terms (in the order they were
  // copied), and the device buffer the terms were gathered into, kept until its copy has run.
  int64_t in_flight_ = 0;
  std::vector<std::vector<std::string>> in_flight_terms_;
  Tensor in_flight_buffer_;
  std::vector<Step> arrived_;
};

}  // namespace gm
