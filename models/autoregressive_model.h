#pragma once
// What every autoregressive image model shares: two samplers that draw the same images.
//
// An autoregressive model draws pixel by pixel, colour by colour, in raster order. The naive
// sampler runs the whole network for every value it draws (teaching code: H*W*C passes). The
// fast one asks the model for an IncrementalEvaluator, built from the model's own layer
// objects, that computes the distribution at one position from caches of what earlier
// positions left behind; a single generic loop (sample_incremental) drives it. Both samplers
// hand the distribution at a position to the model's one draw(), with the same generator
// counters in the same order, so the same seed gives the same images bit for bit.
#include <functional>
#include <memory>
#include <vector>

#include "models/model.h"

namespace gm::models {

// One model's network evaluated one position at a time for a batch of B images. The loop
// calls, in raster order: begin_row(r) once per row, then for every column and channel
// output(r, c, ch) followed by set(r, c, ch, values). A model that draws whole pixels
// (AutoregressiveModel::draws_whole_pixels) is asked output(r, c, 0) once per pixel, then set
// for each of its channels.
class IncrementalEvaluator {
 public:
  virtual ~IncrementalEvaluator() = default;
  // Row r starts: every value of the rows above is set (a recurrent model may run whole-row
  // work here, e.g. the Diagonal BiLSTM's backward direction over row r - 1).
  virtual void begin_row(int64_t row) = 0;
  // The distribution at (row, col, channel), given every earlier value: [B, V] in the model's
  // dtype on the cpu, exactly what the naive sampler hands to draw().
  virtual Tensor output(int64_t row, int64_t col, int64_t channel) = 0;
  // The value at (row, col, channel) of each image (drawn, or given when teacher forcing).
  virtual void set(int64_t row, int64_t col, int64_t channel,
                   const std::vector<uint8_t>& values) = 0;
};

class AutoregressiveModel : public Model {
 public:
  // The fast sampler when the parameters live on the cpu (the evaluators are cpu code), the
  // naive one otherwise; both give the same images for the same generator state.
  Tensor sample(int64_t count, double temperature, Generator& gen) final;
  // The network: its input x [N, C, H, W] (the scaled image) -> the distribution's parameters
  // at every position [N, V, C, H, W], each depending on earlier values only (the
  // receptive-field probe of models/autoregressive.h measures that).
  virtual Tensor logits(const Tensor& x) const = 0;
  // One full network pass per drawn value: for teaching and for checking the fast sampler.
  virtual Tensor sample_naive(int64_t count, double temperature, Generator& gen) = 0;
  // An evaluator for `batch` images; the model's parameters must live on the cpu.
  virtual std::unique_ptr<IncrementalEvaluator> incremental(int64_t batch) const = 0;
  // Class-conditional models (num_classes() > 0) draw by label, with the same two samplers:
  // the evaluator for labels int32 [batch], and the naive sampler for labels int32 [N]. An
  // unconditional model has neither (they throw).
  virtual std::unique_ptr<IncrementalEvaluator> incremental_by_label(int64_t batch,
                                                                     const Tensor& labels) const;
  virtual Tensor sample_naive_by_label(const Tensor& labels, double temperature, Generator& gen);
  // By label: the fast sampler on the cpu, the naive one elsewhere (as sample(count, ...)).
  Tensor sample(const Tensor& labels, double temperature, Generator& gen) override;
  // The values of one position drawn from its distribution `output` [B, V] (as output() gives
  // it and the naive sampler computes it): B values, or B x C laid out [B, C] for a model that
  // draws whole pixels.
  virtual std::vector<uint8_t> draw(const Tensor& output, double temperature,
                                    Generator& gen) const = 0;
  // Whether one draw() gives all C channels of a pixel (PixelCNN++'s mixture couples them
  // inside the draw) rather than one channel. Such a model's sampling network has one
  // position per pixel: its outputs are [N, V, 1, H, W].
  virtual bool draws_whole_pixels() const { return false; }
  // Whether sample() takes the fast path (parameters on the cpu).
  bool samples_incrementally() const;
};

// What the softmax models share. draw(): softmax(output / T) over the values of each row of
// output [B, V] (the temperature goes to the kernel, which divides in double).
std::vector<uint8_t> draw_categorical(const Tensor& output, double temperature, Generator& gen);
// A head's output [N, C * V, H, W], channel c's V values in group c, as [N, V, C, H, W].
Tensor outputs_by_channel(const Tensor& head, int64_t channels);
// The loss of logits [N, V, C, H, W] for uint8 images [N, C, H, W] on the logits' device:
// mean over the batch of -sum log p(x_i | x_<i) in nats, and bits/dim.
// `read`: Model::read_loss.
LossOutput categorical_loss(const Tensor& logits, const Tensor& images, const ImageShape& shape,
                            bool read = true);
// The naive sampler: model.logits on the whole scaled image (x / 127.5 - 1, undrawn values 0,
// in the parameters' dtype and device) for every draw.
Tensor sample_by_full_passes(const AutoregressiveModel& model, int64_t count, double temperature,
                             Generator& gen);
// The same with another network in place of model.logits (e.g. a conditional model's logits
// for given labels).
Tensor sample_by_full_passes(const AutoregressiveModel& model, int64_t count, double temperature,
                             Generator& gen, const std::function<Tensor(const Tensor&)>& network);

// The generic fast sampling loop: uint8 [count, C, H, W]. `labels` (int32 [count]) for a
// conditional model, undefined otherwise.
Tensor sample_incremental(const AutoregressiveModel& model, int64_t count, double temperature,
                          Generator& gen, const Tensor& labels = Tensor());

// Teacher forcing through the evaluator: the distributions [N, V, C, H, W] at every position
// of uint8 images [N, C, H, W] ([N, V, 1, H, W] for a model that draws whole pixels; for
// tests: they equal the network's full-image outputs up to rounding).
Tensor incremental_outputs(const AutoregressiveModel& model, const Tensor& images,
                           const Tensor& labels = Tensor());

}  // namespace gm::models
