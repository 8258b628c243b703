// CudaBackend: the multi-tensor entries (launch_multi.h). Tensors are packed kMultiTensors at a
// time into a launch's arguments; a longer list takes more launches, never an upload.
#include <algorithm>

#include "kernels/cuda/backend.h"
#include "kernels/cuda/launch_multi.h"

namespace gm::GM_CUDA_NS {

namespace {

template <typename T>
T* typed(const Tensor* t) {
  return t && t->defined() ? static_cast<T*>(t->raw()) : nullptr;
}

// Calls launch(chunks) for each run of up to kMultiTensors items, with chunks filled by
// fill(chunks, slot, item).
template <typename T, typename Item, typename Fill, typename Launch>
void in_chunks(const std::vector<Item>& items, Fill fill, Launch launch) {
  for (size_t first = 0; first < items.size(); first += kMultiTensors) {
    TensorChunks<T> l;
    const size_t last = std::min(items.size(), first + kMultiTensors);
    for (size_t k = first; k < last; ++k)
      fill(l, l.count++, items[k]);
    launch(l);
  }
}

}  // namespace

void CudaBackend::adam_update_many(const AdamStep& s, const std::vector<OptimizerTensors>& list) {
  if (list.empty()) return;
  const Exec e = exec();
  dispatch_floating(list.front().param->dtype(), "adam_update_many", [&](auto zero) {
    using T = decltype(zero);
    const auto c =
        math::adam_constants<T>(s.lr, s.beta1, s.beta2, s.eps, s.weight_decay, s.decoupled, s.step);
    in_chunks<T>(
        list,
        [](TensorChunks<T>& l, int k, const OptimizerTensors& t) {
          l.x[k] = typed<T>(t.param);
          l.g[k] = typed<T>(t.grad);
          l.b0[k] = typed<T>(t.b0);
          l.b1[k] = typed<T>(t.b1);
          l.n[k] = t.param->numel();
        },
        [&](const TensorChunks<T>& l) {
          GM_CUDA_NS::adam_update_many<T>(
              e, c, l, s.guard, static_cast<const math::AdamConstants<T>*>(s.step_constants));
        });
  });
  launched("adam_update_many");
}

void CudaBackend::sgd_update_many(const SgdStep& s, const std::vector<OptimizerTensors>& list) {
  if (list.empty()) return;
  const Exec e = exec();
  dispatch_floating(list.front().param->dtype(), "sgd_update_many", [&](auto zero) {
    using T = decltype(zero);
    in_chunks<T>(
        list,
        [](TensorChunks<T>& l, int k, const OptimizerTensors& t) {
          l.x[k] = typed<T>(t.param);
          l.g[k] = typed<T>(t.grad);
          l.b0[k] = typed<T>(t.b0);
          l.n[k] = t.param->numel();
        },
        [&](const TensorChunks<T>& l) { GM_CUDA_NS::sgd_update_many<T>(e, s, l); });
  });
  launched("sgd_update_many");
}

Tensor CudaBackend::sum_of_squares_many(const std::vector<Tensor>& tensors) {
  GM_CHECK(!tensors.empty(), "{}: sum_of_squares_many needs at least one tensor", name_);
  const Exec e = exec();
  // A bound on the partial sums (one per block): blocks have at least 32 threads.
  int64_t partials = 1;
  for (const Tensor& t : tensors)
    partials += (t.numel() + chunk_elements(32) - 1) / chunk_elements(32);
  Scratch partial(allocator_, static_cast<size_t>(partials) * sizeof(double));
  Tensor total = Tensor::empty({}, DType::f64, tensors.front().device());
  int64_t used = 0;
  dispatch_floating(tensors.front().dtype(), "sum_of_squares_many", [&](auto zero) {
    using T = decltype(zero);
    in_chunks<T>(
        tensors,
        [](TensorChunks<T>& l, int k, const Tensor& t) {
          l.x[k] = typed<T>(&t);
          l.n[k] = t.numel();
        },
        [&](const TensorChunks<T>& l) {
          used += GM_CUDA_NS::sum_squares_many<T>(e, l, partial.as<double>() + used);
        });
  });
  if (used == 0)
    GM_CUDA_NS::fill<double>(e, static_cast<double*>(total.raw()), 1, 0.0);
  else
    GM_CUDA_NS::sum_partials(e, partial.as<double>(), used, static_cast<double*>(total.raw()));
  launched("sum_of_squares_many");
  return total;
}

void CudaBackend::record_step_stats(const Tensor& loss, const Tensor& sum_squares, Tensor& stats,
                                    int64_t slot) {
  const Exec e = exec();
  dispatch_floating(loss.dtype(), "record_step_stats", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::record_step_stats<T>(e, typed<T>(&loss), typed<double>(&sum_squares),
                                     typed<double>(&stats), slot);
  });
  launched("record_step_stats");
}

void CudaBackend::record_step_stats_at(const Tensor& loss, const Tensor& sum_squares, Tensor& stats,
                                       const Tensor& slot) {
  const Exec e = exec();
  dispatch_floating(loss.dtype(), "record_step_stats_at", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::record_step_stats<T>(e, typed<T>(&loss), typed<double>(&sum_squares),
                                     typed<double>(&stats), 0, typed<int32_t>(&slot));
  });
  launched("record_step_stats_at");
}

void CudaBackend::scale_many(double factor, const std::vector<Tensor>& tensors) {
  if (tensors.empty()) return;
  const Exec e = exec();
  dispatch_floating(tensors.front().dtype(), "scale_many", [&](auto zero) {
    using T = decltype(zero);
    in_chunks<T>(
        tensors,
        [](TensorChunks<T>& l, int k, const Tensor& t) {
          l.x[k] = typed<T>(&t);
          l.n[k] = t.numel();
        },
        [&](const TensorChunks<T>& l) { GM_CUDA_NS::scale_many<T>(e, static_cast<T>(factor), l); });
  });
  launched("scale_many");
}

}  // namespace gm::GM_CUDA_NS
