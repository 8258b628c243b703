#pragma once
// Shuffled mini-batches and pixel preprocessing for training.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/io/dataset.h"
#include "engine/random.h"

namespace gm::io {

// How pixels reach the model. Binarised pixels are 0 or 255, so images stay uint8 0..255 and a
// binary model's own Bernoulli(x/255) resampling leaves them unchanged.
enum class Pixels {
  eight_bit,  // unchanged (the default)
  dynamic,    // each pixel resampled as Bernoulli(x/255) at every use
  threshold,  // x >= 128
};
// "8bit", "dynamic" (or "binarize") and "threshold".
Pixels parse_pixels(const std::string& name);
std::string pixels_name(Pixels p);

// A preprocessed copy of uint8 images. Dynamic binarisation draws one uniform per pixel from
// `gen` (Philox, so the same generator state gives the same pixels).
Tensor preprocess(const Tensor& images, Pixels mode, Generator& gen);

// Serves the training split in shuffled mini-batches, epoch after epoch. A batch is a pure
// function of (seed, step): epoch e = step / batches_per_epoch() is a Fisher-Yates
// permutation driven by Philox(seed, counters e*N ...), so a resumed run sees exactly the
// batches an uninterrupted one would, without saving any sampler state. The last incomplete
// batch of an epoch is dropped, keeping every batch the same size.
class BatchSampler {
 public:
  BatchSampler(const Dataset& data, int64_t batch_size, uint64_t seed);

  int64_t batch_size() const { return batch_size_; }  // clipped to the data set's size
  int64_t batches_per_epoch() const { return data_.size() / batch_size_; }
  // The data set indices of step `step`'s batch.
  std::vector<int64_t> indices(int64_t step);
  Dataset batch(int64_t step) { return data_.gather(indices(step)); }

 private:
  const std::vector<int64_t>& permutation(int64_t epoch);

  const Dataset& data_;
  int64_t batch_size_;
  uint64_t seed_;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> cached_;
};

}  // namespace gm::io
