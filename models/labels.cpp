#include "models/labels.h"

#include <limits>
#include <vector>

#include "engine/error.h"
#include "models/model.h"

namespace gm::models {

void check_labels(std::string_view what, const Tensor& labels, int64_t count, int64_t classes) {
  GM_CHECK(labels.defined(),
           "{} is class-conditional: it needs one label per image (train it on labelled data: "
           "fashion-mnist, mnist, cifar10 or class folders)",
           what);
  GM_CHECK(labels.dtype() == DType::i32 && labels.ndim() == 1 && labels.size(0) == count &&
               labels.device().is_cpu(),
           "{}: expected labels int32 [{}] on the cpu, got {}", what, count, labels.describe());
  const int32_t* y = labels.data<int32_t>();
  for (int64_t i = 0; i < count; ++i)
    GM_CHECK(y[i] >= 0 && y[i] < classes,
             "{}: label {} of image {} is outside the model's {} classes (0 to {})", what, y[i], i,
             classes, classes - 1);
}

Tensor one_hot(const Tensor& labels, int64_t classes, DType dtype, Device device) {
  const int64_t n = labels.size(0);
  std::vector<double> rows(static_cast<size_t>(n * classes), 0.0);
  const int32_t* y = labels.data<int32_t>();
  for (int64_t i = 0; i < n; ++i)
    rows[static_cast<size_t>(i * classes + y[i])] = 1.0;
  return Tensor::from_vector(rows, {n, classes}, dtype, device);
}

Tensor class_input(std::string_view what, const Tensor& labels, int64_t count, int64_t classes,
                   DType dtype, Device device) {
  if (classes == 0) return {};
  check_labels(what, labels, count, classes);
  return one_hot(labels, classes, dtype, device);
}

Tensor repeated_label(int64_t label, int64_t count) {
  return Tensor::from_vector(
      std::vector<int32_t>(static_cast<size_t>(count), static_cast<int32_t>(label)), {count});
}

// The unconditional defaults: p(x | y) = p(x).
LossOutput Model::loss(const Tensor& images, const Tensor& labels, Generator& gen) {
  if (num_classes() > 0)
    fail("{}: a conditional model must override loss(images, labels, gen)", config_name());
  if (labels.defined())
    check_labels(config_name(), labels, images.size(0), std::numeric_limits<int32_t>::max());
  return loss(images, gen);
}

Tensor Model::sample(const Tensor& labels, double temperature, Generator& gen) {
  if (num_classes() > 0)
    fail("{}: a conditional model must override sample(labels, ...)", config_name());
  GM_CHECK(labels.defined(), "{}: sampling by label needs the labels (one per image)",
           config_name());
  check_labels(config_name(), labels, labels.size(0), std::numeric_limits<int32_t>::max());
  return sample(labels.size(0), temperature, gen);
}

}  // namespace gm::models
