#pragma once
// Helpers shared by the subcommands: devices, seeds, data and evaluation.
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "engine/distributed/communicator.h"
#include "engine/io/batches.h"
#include "engine/io/dataset.h"
#include "models/registry.h"

namespace gm::tools {

// Independent Philox streams from one user seed (SplitMix64 of seed and stream number), so
// initialisation, training noise, shuffling and evaluation never share random numbers.
enum class Stream : uint64_t { init = 1, train = 2, shuffle = 3, eval = 4, sample = 5 };
uint64_t stream_seed(uint64_t seed, Stream stream);

// Parses --device and checks that this build and machine have it (DeviceUnavailable says why).
Device checked_device(const std::string& name);

// Where the data comes from and how pixels are prepared: the options train and eval share.
struct DataOptions {
  std::string spec = "fashion-mnist";
  std::string pixels = "8bit";
  int64_t image_size = 0;  // folders: resize to this (0: the model's default size)
  int64_t channels = 0;    // folders: 1 grey or 3 RGB (0: the model's default)
  // A class left out of both splits (-1: none), so that its test images can serve as a
  // held-out outlier set (`train --exclude-class`, `outliers --against held-out`).
  int64_t exclude_class = -1;
};
// Both splits of `data`, without data.exclude_class's images.
io::DataSplits load_splits(const DataOptions& data, const models::ImageShape& model_default);
// The images of `data` whose label is `label` (keep = true) or is not (keep = false).
io::Dataset select_class(const io::Dataset& data, int64_t label, bool keep);
// The model's image shape: the data's, whatever the configuration's default.
models::ImageShape shape_of(const io::Dataset& data);

// The number of classes a conditional model trained on `data` needs: the largest label + 1.
// Throws when the data has fewer than 2 classes (nothing to condition on).
int64_t class_count(const io::Dataset& data, const std::string& model);

// Calls fn(images, labels) for `data` in order, in batches of at most `batch` images, each
// batch preprocessed for the model (`pixels`) with `gen`. In a group of `ranks` processes, rank
// `rank` gets its shard of every batch (dist::shard_of), drawing the random numbers one
// process would draw for those images (Generator::set_shard); an empty shard is skipped.
void for_each_batch(const io::Dataset& data, int64_t batch, io::Pixels pixels, Generator& gen,
                    const std::function<void(const Tensor& images, const Tensor& labels)>& fn,
                    int rank = 0, int ranks = 1);

// The mean over images of the model's loss on `data`, in batches, without gradients.
struct EvalResult {
  int64_t images = 0;
  double nats_per_image = 0.0;
  double bits_per_dim = 0.0;
  std::map<std::string, double> terms;  // the model's extra terms, averaged alike
};
// In a group, each rank evaluates its shard of every batch and the sums are reduced, so every
// rank returns the result over all of `data`.
EvalResult evaluate(models::Model& model, const io::Dataset& data, int64_t batch, io::Pixels pixels,
                    uint64_t seed);
EvalResult evaluate(models::Model& model, const io::Dataset& data, int64_t batch, io::Pixels pixels,
                    uint64_t seed, dist::Communicator& group);

// "1h02m", "4m05s", "12s".
std::string format_duration(double seconds);

}  // namespace gm::tools
