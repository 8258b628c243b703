#include "support/sampling_methods.h"

#include "models/autoregressive_model.h"
#include "models/registry.h"

namespace gm::bench {

namespace {

bool known(const std::string& config) {
  for (const models::ModelConfig& c : models::model_configs())
    if (c.name == config) return true;
  return false;
}

models::AutoregressiveModel& autoregressive(models::Model& model) {
  auto* m = dynamic_cast<models::AutoregressiveModel*>(&model);
  GM_CHECK(m != nullptr, "sampling benchmark: model {} is not autoregressive", model.config_name());
  return *m;
}

// The model's own sampler: the fast one for autoregressive models on the cpu.
Tensor own(models::Model& model, int64_t count, Generator& gen) {
  return model.sample(count, 1.0, gen);
}

Tensor naive(models::Model& model, int64_t count, Generator& gen) {
  return autoregressive(model).sample_naive(count, 1.0, gen);
}

}  // namespace

std::vector<SamplingMethod> sampling_methods() {
  const auto pixels = [](double n, double c) { return n * n * c; };
  const auto one = [](double, double) { return 1.0; };
  const auto whole_pixels = [](double n, double) { return n * n; };
  const auto channels = [](double, double c) { return c; };
  // PixelRnn::sample runs the network on rows 0..r only for a pixel of row r (the rows below
  // cannot matter): N C sum_r (r + 1) / N = N C (N + 1) / 2 full passes of work.
  const auto rows_so_far = [](double n, double c) { return n * c * (n + 1) / 2; };
  std::vector<SamplingMethod> all = {
      {"pixelcnn-naive", "pixelcnn-ref", true, false, naive, pixels, pixels, pixels,
       "one full pass per pixel and channel: N^2 C passes of N^2 positions, O(N^4) work"},
      {"pixelcnn-fast", "pixelcnn-ref", false, true, own, one, channels, pixels,
       "each position evaluated once per channel from row caches: O(N^2) work, N^2 C steps"},
      {"gated-naive", "gated-pixelcnn", true, false, naive, pixels, pixels, pixels,
       "one full pass per pixel and channel: N^2 C passes of N^2 positions, O(N^4) work"},
      {"gated-fast", "gated-pixelcnn", false, true, own, one, channels, pixels,
       "vertical stack a row at a time when the row starts, horizontal stack per pixel: O(N^2) "
       "work, N^2 C steps"},
      // A pass over r + 1 rows is r + 1 row steps: N C sum_r (r + 1) = N^2 C (N + 1) / 2.
      {"rowlstm-naive", "rowlstm-ref", true, false, naive, pixels, rows_so_far,
       [](double n, double c) { return n * n * c * (n + 1) / 2; },
       "one pass over rows 0..r per pixel, each pass r + 1 sequential row steps"},
      {"rowlstm-fast", "rowlstm-ref", false, true, own, one, channels, pixels,
       "row state carried: N row steps, each spread over its N pixels; O(N^2) work"},
      // A pass over r + 1 rows of width N scans N + r skewed columns: N C sum_r (N + r).
      {"diaglstm-naive", "diaglstm-ref", true, false, naive, pixels, rows_so_far,
       [](double n, double c) { return n * c * (n * n + n * (n - 1) / 2); },
       "one pass over rows 0..r per pixel, each pass N + r sequential diagonal steps"},
      {"diaglstm-fast", "diaglstm-ref", false, true, own, one, channels, pixels,
       "forward cell per pixel, backward row when a row starts, and the skew padding that "
       "feeds column 0: at most one pass of work per channel, N^2 C steps"},
      // One draw per pixel: the mixture gives all C channels at once.
      {"pixelcnnpp-naive", "pixelcnnpp-small", true, false, naive, whole_pixels, whole_pixels,
       whole_pixels,
       "one full pass per pixel (all channels drawn at once): N^2 passes of N^2 positions, O(N^4) "
       "work"},
      {"pixelcnnpp-fast", "pixelcnnpp-small", false, true, own, one, one, whole_pixels,
       "every map's positions computed once, on demand, from row caches per resolution: one pass "
       "of work, N^2 steps"},
      {"vae", "vae-ref", false, false, own, one, one, one,
       "one decoder pass for the whole image (z ~ N(0, I), pixels drawn from p(x|z))"},
  };
  std::vector<SamplingMethod> available;
  for (SamplingMethod& m : all)
    if (known(m.config)) available.push_back(std::move(m));
  return available;
}

}  // namespace gm::bench
