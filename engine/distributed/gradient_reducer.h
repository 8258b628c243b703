#pragma once
// Data-parallel gradients, as PyTorch's DistributedDataParallel does them: the parameters are
// grouped into buckets in reverse order (backward produces the last layers' gradients first);
// as soon as every gradient of a bucket is final (Tensor::backward's leaf_ready hook) the
// bucket is copied into one flat buffer and its all-reduce starts, while backward goes on with
// the earlier layers. finish() waits for the rest and gives every parameter the mean of the
// ranks' gradients, so each rank's optimizer step is the same.
#include <cstddef>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/distributed/communicator.h"
#include "engine/named_tensor.h"

namespace gm::dist {

class GradientReducer {
 public:
  // PyTorch's DDP default is 25 MiB; our reference models have a few MB of gradients in all,
  // so smaller buckets are what lets the first all-reduces start early in backward.
  static constexpr size_t kDefaultBucketBytes = size_t{1} << 20;

  GradientReducer(std::vector<NamedTensor> params, Communicator& comm,
                  size_t bucket_bytes = kDefaultBucketBytes);

  // Pass to Tensor::backward as its leaf_ready hook.
  std::function<void(const Tensor& leaf)> hook() {
    return [this](const Tensor& leaf) { on_gradient_ready(leaf); };
  }
  // Starts the buckets backward did not complete (a parameter that got no gradient counts as
  // zero), waits for every reduction and replaces each parameter's gradient by the mean.
  // Call once per step, after backward; the next step starts from an empty state.
  void finish();

  size_t bucket_count() const { return buckets_.size(); }
  // Seconds finish() spent waiting for reductions that backward did not hide, since creation.
  double wait_seconds() const { return wait_seconds_; }

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    std::vector<int64_t> offsets;
    int64_t elements = 0;
    size_t ready = 0;
    Tensor flat;  // on comm_.buffer_device()
    std::unique_ptr<PendingReduce> pending;
  };

  void on_gradient_ready(const Tensor& leaf);
  void launch_ready_buckets();
  void launch(Bucket& bucket);

  std::vector<NamedTensor> params_;
  Communicator& comm_;
  std::vector<Bucket> buckets_;
  std::unordered_map<const TensorImpl*, size_t> bucket_of_;  // parameter -> bucket
  std::vector<bool> param_ready_;
  std::unordered_map<const TensorImpl*, size_t> index_of_;
  size_t next_launch_ = 0;  // buckets start in index order on every rank, as MPI requires
  double wait_seconds_ = 0.0;
};

}  // namespace gm::dist
