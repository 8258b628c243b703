#include "tools/common.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "engine/backend.h"

namespace gm::tools {

uint64_t stream_seed(uint64_t seed, Stream stream) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(stream) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

Device checked_device(const std::string& name) {
  const Device device = Device::parse(name);
  if (!device_available(device))
    throw DeviceUnavailable(fmt::format("device {} is unavailable: {}", device.name(),
                                        device_unavailable_reason(device)));
  return device;
}

io::DataSplits load_splits(const DataOptions& data, const models::ImageShape& model_default) {
  io::FolderOptions folder;
  folder.channels = data.channels > 0 ? data.channels : model_default.channels;
  folder.height = data.image_size > 0 ? data.image_size : model_default.height;
  folder.width = data.image_size > 0 ? data.image_size : model_default.width;
  io::DataSplits splits = io::load_data(io::parse_data_source(data.spec), folder);
  if (data.exclude_class < 0) return splits;
  const io::Dataset held_out = select_class(splits.train, data.exclude_class, true);
  GM_CHECK(held_out.size() > 0 && held_out.size() < splits.train.size(),
           "--exclude-class {}: {} has {} images of that class out of {}; give a class it has "
           "(and not its only one)",
           data.exclude_class, splits.train.name, held_out.size(), splits.train.size());
  splits.train = select_class(splits.train, data.exclude_class, false);
  splits.test = select_class(splits.test, data.exclude_class, false);
  return splits;
}

io::Dataset select_class(const io::Dataset& data, int64_t label, bool keep) {
  GM_CHECK(data.labels.defined(), "{}: has no labels to select class {} by", data.name, label);
  const std::vector<int32_t> labels = data.labels.to_vector<int32_t>();
  std::vector<int64_t> indices;
  for (size_t i = 0; i < labels.size(); ++i)
    if ((labels[i] == label) == keep) indices.push_back(static_cast<int64_t>(i));
  io::Dataset selected = data.gather(indices);
  selected.name = fmt::format("{} {} class {}", data.name, keep ? "only" : "without", label);
  return selected;
}

models::ImageShape shape_of(const io::Dataset& data) {
  return {data.channels(), data.height(), data.width()};
}

int64_t class_count(const io::Dataset& data, const std::string& model) {
  GM_CHECK(data.labels.defined() && data.size() > 0, "{}: no labelled images", data.name);
  const std::vector<int32_t> labels = data.labels.to_vector<int32_t>();
  const int32_t top = *std::max_element(labels.begin(), labels.end());
  GM_CHECK(top >= 1,
           "{} is class-conditional but every image of {} has label 0: give it labelled data "
           "(fashion-mnist, mnist, cifar10, or a folder with one subfolder per class)",
           model, data.name);
  return int64_t{top} + 1;
}

void for_each_batch(const io::Dataset& data, int64_t batch, io::Pixels pixels, Generator& gen,
                    const std::function<void(const Tensor& images, const Tensor& labels)>& fn,
                    int rank, int ranks) {
  for (int64_t start = 0; start < data.size(); start += batch) {
    const int64_t n = std::min(batch, data.size() - start);
    const dist::Shard shard = dist::shard_of(n, rank, ranks);
    if (shard.count == 0) continue;
    std::vector<int64_t> idx(static_cast<size_t>(shard.count));
    for (int64_t i = 0; i < shard.count; ++i)
      idx[static_cast<size_t>(i)] = start + shard.first + i;
    gen.set_shard(static_cast<uint64_t>(shard.first), static_cast<uint64_t>(shard.count),
                  static_cast<uint64_t>(n));
    const io::Dataset part = data.gather(idx);
    fn(io::preprocess(part.images, pixels, gen), part.labels);
  }
}

EvalResult evaluate(models::Model& model, const io::Dataset& data, int64_t batch, io::Pixels pixels,
                    uint64_t seed) {
  dist::SingleProcess alone;
  return evaluate(model, data, batch, pixels, seed, alone);
}

EvalResult evaluate(models::Model& model, const io::Dataset& data, int64_t batch, io::Pixels pixels,
                    uint64_t seed, dist::Communicator& group) {
  GM_CHECK(data.size() > 0, "{}: no images to evaluate on", data.name);
  // Every rank must see at least one image, so that all know the model's terms by name.
  GM_CHECK(data.size() >= group.size() && batch >= group.size(),
           "{}: {} images in batches of {} cannot be shared by {} processes: evaluate on at "
           "least one image per process",
           data.name, data.size(), batch, group.size());
  NoGradGuard no_grad;
  Generator gen(seed);
  EvalResult r;
  for_each_batch(
      data, batch, pixels, gen,
      [&](const Tensor& images, const Tensor& labels) {
        const int64_t n = images.size(0);
        const models::LossOutput out = model.loss(images, labels, gen);
        r.nats_per_image += out.nats_per_image * static_cast<double>(n);
        for (const auto& [name, value] : out.terms)
          r.terms[name] += value * static_cast<double>(n);
        r.images += n;
      },
      group.rank(), group.size());
  if (group.size() > 1) {
    std::vector<double> sums{static_cast<double>(r.images), r.nats_per_image};
    for (const auto& [name, value] : r.terms)
      sums.push_back(value);
    group.sum(sums);
    r.images = static_cast<int64_t>(sums[0]);
    r.nats_per_image = sums[1];
    size_t k = 2;
    for (auto& [name, value] : r.terms)
      value = sums[k++];
  }
  const double n = static_cast<double>(r.images);
  r.nats_per_image /= n;
  for (auto& [name, value] : r.terms)
    value /= n;
  r.bits_per_dim =
      model.has_likelihood()
          ? r.nats_per_image / (static_cast<double>(shape_of(data).dims()) * std::log(2.0))
          : std::numeric_limits<double>::quiet_NaN();
  return r;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace gm::tools
