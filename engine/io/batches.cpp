#include "engine/io/batches.h"

#include <algorithm>

#include "kernels/common/philox.h"

namespace gm::io {

Pixels parse_pixels(const std::string& name) {
  if (name == "8bit") return Pixels::eight_bit;
  if (name == "dynamic" || name == "binarize" || name == "binarise") return Pixels::dynamic;
  if (name == "threshold") return Pixels::threshold;
  fail(
      "unknown pixel preprocessing '{}': expected 8bit, dynamic (Bernoulli(x/255) at every use) "
      "or threshold (x >= 128)",
      name);
}

std::string pixels_name(Pixels p) {
  switch (p) {
    case Pixels::eight_bit:
      return "8bit";
    case Pixels::dynamic:
      return "dynamic";
    case Pixels::threshold:
      return "threshold";
  }
  return "?";
}

Tensor preprocess(const Tensor& images, Pixels mode, Generator& gen) {
  GM_CHECK(images.dtype() == DType::u8, "preprocess: expected uint8 images, got {}",
           images.describe());
  if (mode == Pixels::eight_bit) return images;
  Tensor host = images.to(Device::cpu());
  Tensor out = Tensor::empty(host.shape(), DType::u8);
  const uint8_t* x = host.data<uint8_t>();
  uint8_t* y = out.data<uint8_t>();
  const int64_t n = host.numel();
  if (mode == Pixels::threshold) {
    for (int64_t i = 0; i < n; ++i)
      y[i] = x[i] >= 128 ? 255 : 0;
  } else {
    const uint64_t offset = gen.advance(static_cast<uint64_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const double u = philox::uniform(gen.seed(), offset, static_cast<uint64_t>(i));
      y[i] = u < x[i] / 255.0 ? 255 : 0;
    }
  }
  return out.to(images.device());
}

BatchSampler::BatchSampler(const Dataset& data, int64_t batch_size, uint64_t seed)
    : data_(data), batch_size_(std::min(batch_size, data.size())), seed_(seed) {
  GM_CHECK(data.size() > 0, "{}: no images to train on", data.name);
  GM_CHECK(batch_size > 0, "batch size must be positive, got {}", batch_size);
}

const std::vector<int64_t>& BatchSampler::permutation(int64_t epoch) {
  if (epoch == cached_epoch_) return cached_;
  const int64_t n = data_.size();
  cached_.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    cached_[static_cast<size_t>(i)] = i;
  const uint64_t offset = static_cast<uint64_t>(epoch) * static_cast<uint64_t>(n);
  for (int64_t i = n - 1; i > 0; --i) {
    const double u = philox::uniform(seed_, offset, static_cast<uint64_t>(i));
    // u < 1, but u * (i + 1) can round up to i + 1 in double; clamp.
    const int64_t j = std::min<int64_t>(i, static_cast<int64_t>(u * static_cast<double>(i + 1)));
    std::swap(cached_[static_cast<size_t>(i)], cached_[static_cast<size_t>(j)]);
  }
  cached_epoch_ = epoch;
  return cached_;
}

std::vector<int64_t> BatchSampler::indices(int64_t step) {
  GM_CHECK(step >= 0, "batch for step {}: steps count from 0", step);
  const int64_t epoch = step / batches_per_epoch();
  const int64_t start = (step % batches_per_epoch()) * batch_size_;
  const std::vector<int64_t>& perm = permutation(epoch);
  return {perm.begin() + start, perm.begin() + start + batch_size_};
}

}  // namespace gm::io
