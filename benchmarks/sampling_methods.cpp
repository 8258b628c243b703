#include "benchmarks/sampling_methods.h"

#include "models/pixelcnn/fast_sampler.h"
#include "models/pixelcnn/pixelcnn.h"
#include "models/registry.h"

namespace gm::bench {

namespace {

bool known(const std::string& config) {
  for (const models::ModelConfig& c : models::model_configs())
    if (c.name == config) return true;
  return false;
}

template <typename M>
M& as(models::Model& model, const char* method) {
  auto* m = dynamic_cast<M*>(&model);
  GM_CHECK(m != nullptr, "{}: model {} is not the expected class", method, model.config_name());
  return *m;
}

Tensor naive(models::Model& model, int64_t count, Generator& gen) {
  return model.sample(count, 1.0, gen);
}

}  // namespace

std::vector<SamplingMethod> sampling_methods() {
  const auto pixels = [](double n, double c) { return n * n * c; };
  const auto one = [](double, double) { return 1.0; };
  std::vector<SamplingMethod> all = {
      {"pixelcnn-naive", "pixelcnn-ref", true, false, naive, pixels, pixels,
       "one full pass per pixel and channel: N^2 C passes of N^2 positions, O(N^4) work"},
      {"pixelcnn-fast", "pixelcnn-ref", false, true,
       [](models::Model& m, int64_t count, Generator& gen) {
         return models::sample_pixelcnn_fast(as<models::PixelCnn>(m, "pixelcnn-fast"), count, 1.0,
                                             gen);
       },
       [](double, double c) { return c; }, pixels,
       "each position evaluated once per channel from row caches: O(N^2) work, N^2 C steps"},
      {"rowlstm-naive", "rowlstm-ref", true, false, naive, pixels,
       [](double n, double c) { return n * n * c * n; },
       "one full pass per pixel, each pass N sequential row steps"},
      {"diaglstm-naive", "diaglstm-ref", true, false, naive, pixels,
       [](double n, double c) { return n * n * c * (2 * n - 1); },
       "one full pass per pixel, each pass 2N-1 sequential diagonal steps"},
      {"vae", "vae-ref", false, false, naive, one, one,
       "one decoder pass for the whole image (z ~ N(0, I), pixels drawn from p(x|z))"},
  };
  std::vector<SamplingMethod> available;
  for (SamplingMethod& m : all)
    if (known(m.config)) available.push_back(std::move(m));
  return available;
}

}  // namespace gm::bench
