#pragma once
// The argument checks the samplers share (naive and incremental, every model family), with one
// wording: `what` names the sampler or model in every message.
#include <string_view>
#include <vector>

#include "engine/tensor.h"
#include "models/model.h"
#include "models/nn.h"

namespace gm::models {

// count >= 1 and a positive, finite temperature.
void check_sampling_request(std::string_view what, int64_t count, double temperature);

// The dtype of a model whose parameters must live on the cpu (the incremental samplers are
// cpu code); throws naming the model and the naive sampler as the alternative otherwise.
DType cpu_model_dtype(std::string_view what, std::string_view model_name,
                      const std::vector<nn::NamedTensor>& params);

// uint8 images [N, C, H, W] of the model's image shape.
void check_image_batch(std::string_view what, const ImageShape& shape, const Tensor& images);

}  // namespace gm::models
