#include "models/sampling_checks.h"

#include <cmath>

namespace gm::models {

void check_sampling_request(std::string_view what, int64_t count, double temperature) {
  GM_CHECK(count >= 1, "{}: sample count must be positive, got {}", what, count);
  GM_CHECK(temperature > 0.0 && std::isfinite(temperature),
           "{}: temperature must be a positive number, got {}", what, temperature);
}

DType cpu_model_dtype(std::string_view what, std::string_view model_name,
                      const std::vector<nn::NamedTensor>& params) {
  GM_CHECK(!params.empty(), "{}: model {} has no parameters", what, model_name);
  const Tensor& p = params.front().tensor;
  GM_CHECK(p.device().is_cpu(),
           "{}: the fast sampler runs on the cpu, but model {} lives on {}; sample on the cpu "
           "or use the naive sampler (model.sample)",
           what, model_name, p.device().name());
  return p.dtype();
}

void check_image_batch(std::string_view what, const ImageShape& s, const Tensor& images) {
  GM_CHECK(images.dtype() == DType::u8 && images.ndim() == 4 && images.size(1) == s.channels &&
               images.size(2) == s.height && images.size(3) == s.width,
           "{}: expected uint8 images [N, {}, {}, {}], got {}", what, s.channels, s.height, s.width,
           images.describe());
}

}  // namespace gm::models
