#pragma once
// Class labels for conditional models: int32 [N], one per image, in [0, K).
#include <string_view>

#include "engine/tensor.h"

namespace gm::models {

// int32 [count] on the cpu with every value in [0, classes); throws naming `what` otherwise.
void check_labels(std::string_view what, const Tensor& labels, int64_t count, int64_t classes);

// labels [N] -> [N, classes] with a 1 in each row's label column, in `dtype` on `device`.
Tensor one_hot(const Tensor& labels, int64_t classes, DType dtype, Device device);

// What a conditional model's layers take: the labels checked against `count` images and
// `classes`, one-hot encoded in `dtype` on `device`. classes = 0 (unconditional): undefined.
Tensor class_input(std::string_view what, const Tensor& labels, int64_t count, int64_t classes,
                   DType dtype, Device device);

// count labels all equal to `label` (int32 [count]).
Tensor repeated_label(int64_t label, int64_t count);

}  // namespace gm::models
