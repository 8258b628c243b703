// PixelRNN as a whole model: the reference configurations' parameter counts, whole-model
// gradient checks, sampling, and learning on Fashion-MNIST.
#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "models/model_gradcheck.h"
#include "models/pixelrnn/pixelrnn.h"
#include "models/registry.h"
#include "tests/learning.h"
#include "tests/model_helpers.h"
#include "tests/support.h"

using namespace gm;
using pixelrnn::Architecture;
using pixelrnn::PixelRnn;
using pixelrnn::PixelRnnConfig;

using test::make_pixelrnn;
using test::small_pixelrnn_config;

namespace {

// The parameter count of a configuration, term by term (PyTorch counts: masked kernels keep
// their masked weights, every convolution has a bias).
int64_t expected_parameters(const PixelRnnConfig& c, int64_t image_channels) {
  const int64_t C = c.channels, h = c.hidden, k = c.input_kernel;
  const int64_t mask_a = C * image_channels * k * k + C;
  const int64_t output = C * h + C;  // Conv1x1 h -> C
  int64_t layer = 0;
  if (c.architecture == Architecture::row_lstm) {
    layer = (4 * h * C * 3 + 4 * h)    // input-to-state, 1x3 mask B
            + (4 * h * h * 3 + 4 * h)  // state-to-state, kernel 3
            + output;
  } else {
    const int64_t direction = (4 * h * C + 4 * h)         // input-to-state, 1x1
                              + (4 * h * h * 2 + 4 * h);  // state-to-state, kernel 2
    layer = 2 * direction + output;
  }
  const int64_t head = (c.head_channels * C + c.head_channels) +
                       (256 * image_channels * c.head_channels + 256 * image_channels);
  return mask_a + c.layers * layer + head;
}

Tensor random_images(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return Tensor::uniform(shape, 0, 255.99, gen, DType::f64).to(DType::u8);
}

}  // namespace

TEST_CASE("the reference PixelRNNs have the documented parameter counts", "[pixelrnn][config]") {
  Generator gen(1);
  const nn::Init init{Device::cpu(), DType::f32, &gen};
  // Worked out in models/pixelrnn/configs.cpp.
  auto row = models::make_model("rowlstm-ref", {1, 28, 28}, init);
  auto diag = models::make_model("diaglstm-ref", {1, 28, 28}, init);
  CHECK(row->parameter_count() == 102464);
  CHECK(diag->parameter_count() == 94784);
  for (const char* name : {"rowlstm-ref", "diaglstm-ref", "rowlstm-large", "diaglstm-large"}) {
    INFO(name);
    for (int64_t channels : {int64_t{1}, int64_t{3}}) {
      if (channels == 3 && std::string(name).ends_with("-ref")) continue;
      auto m = models::make_model(name, {channels, 8, 8}, init);
      const auto& cfg = dynamic_cast<const PixelRnn&>(*m).config();
      CHECK(m->parameter_count() == expected_parameters(cfg, channels));
    }
  }
  // Checkpoint names a PyTorch port can map one to one.
  std::vector<std::string> names;
  for (const nn::NamedTensor& p : row->parameters())
    names.push_back(p.name + shape_str(p.tensor.shape()));
  CHECK(std::find(names.begin(), names.end(), "layer1.input_to_state.weight[128, 64, 1, 3]") !=
        names.end());
  CHECK(std::find(names.begin(), names.end(), "layer0.state_to_state.weight[128, 32, 3]") !=
        names.end());
}

TEST_CASE("the reference PixelRNNs are grey only, with a message saying what to use",
          "[pixelrnn][config]") {
  Generator gen(1);
  const nn::Init init{Device::cpu(), DType::f32, &gen};
  REQUIRE_THROWS_WITH(models::make_model("rowlstm-ref", {3, 28, 28}, init),
                      Catch::Contains("grey") && Catch::Contains("rowlstm-large"));
  // Colour groups need every channel count to split three ways.
  REQUIRE_THROWS_WITH(
      PixelRnn(small_pixelrnn_config(Architecture::row_lstm, 8, 6, 1, 6), {3, 5, 5}, init),
      Catch::Contains("multiples of 3"));
}

TEST_CASE("PixelRNN whole-model gradient check (float64, tiny)", "[pixelrnn][gradcheck]") {
  struct Case {
    Architecture arch;
    models::ImageShape shape;
    int64_t channels, hidden, head;
  };
  // Tiny images (the grey Diagonal BiLSTM's taller than wide: its skewed map is H+W-1 wide),
  // h = 2, a few channels; the colour case needs multiples of 3.
  for (const Case& c : {Case{Architecture::row_lstm, {1, 5, 5}, 4, 2, 4},
                        Case{Architecture::diagonal_bilstm, {1, 6, 4}, 4, 2, 4},
                        Case{Architecture::diagonal_bilstm, {3, 4, 4}, 3, 3, 3}}) {
    const PixelRnnConfig cfg = small_pixelrnn_config(c.arch, c.channels, c.hidden, 2, c.head);
    INFO(cfg.name << " with " << c.shape.channels << " channel(s)");
    auto model = make_pixelrnn(cfg, c.shape, 21, DType::f64);
    const Tensor images = random_images({2, c.shape.channels, c.shape.height, c.shape.width}, 22);
    const GradcheckReport report = models::gradcheck_parameters(model->parameters(), [&] {
      Generator gen(0);  // unused by PixelRNN's loss: it is deterministic
      return model->loss(images, gen).loss;
    });
    INFO(report.table());
    CHECK(report.passed());
  }
}

TEST_CASE("PixelRNN sampling is seeded and follows the model's own conditionals",
          "[pixelrnn][sampling]") {
  for (Architecture a : {Architecture::row_lstm, Architecture::diagonal_bilstm}) {
    for (int64_t channels : {int64_t{1}, int64_t{3}}) {
      const models::ImageShape shape{channels, 4, 5};
      auto model = make_pixelrnn(small_pixelrnn_config(a, 6, 3, 1, 6), shape, 31, DType::f64);
      INFO(model->config_name() << " with " << channels << " channel(s)");
      Generator g1(5), g2(5), g3(6);
      const Tensor s1 = model->sample(3, 1.0, g1);
      CHECK(s1.shape() == Shape{3, channels, 4, 5});
      CHECK(s1.dtype() == DType::u8);
      CHECK(model->sample(3, 1.0, g2).to_vector<int>() == s1.to_vector<int>());
      CHECK(model->sample(3, 1.0, g3).to_vector<int>() != s1.to_vector<int>());

      // At a tiny temperature every value is the argmax of its conditional. The logits of
      // the finished images give each position's conditional (they only read earlier values),
      // so the sampler must have drawn exactly their argmax, position by position.
      Generator g4(7);
      const Tensor greedy = model->sample(2, 1e-6, g4);
      NoGradGuard no_grad;
      const std::vector<double> lg = model->logits(model->scale(greedy)).to_vector<double>();
      const std::vector<int> px = greedy.to_vector<int>();
      const int64_t positions = shape.dims();
      for (int64_t n = 0; n < 2; ++n)
        for (int64_t p = 0; p < positions; ++p) {
          int best = 0;
          for (int v = 1; v < 256; ++v)
            if (lg[static_cast<size_t>((n * 256 + v) * positions + p)] >
                lg[static_cast<size_t>((n * 256 + best) * positions + p)])
              best = v;
          CHECK(px[static_cast<size_t>(n * positions + p)] == best);
        }
    }
  }
}

namespace {

// 256 training images, 28x28; one layer of small width; 25 Adam steps at batch 32 with a
// learning rate of 1e-2 (the reference 1e-3 needs hundreds of steps to get this far).
void check_learns_fashion_mnist(Architecture a) {
  const Tensor images = gm::test::fashion_mnist_images(256);
  auto model = make_pixelrnn(small_pixelrnn_config(a, 16, 8, 1, 32), {1, 28, 28}, 41, DType::f32);
  const gm::test::LearningResult r =
      gm::test::train_briefly(*model, images, /*steps=*/25, /*batch=*/32, 1e-2, 42);
  WARN(model->config_name() << " learning: " << r.initial << " -> " << r.final << " nats/image");
  // Untrained, every value is about equally likely: 784 ln 256 = 4347 nats. The best model
  // that ignores context and position, one intensity histogram for every pixel, scores
  // 2,659 nats/image on these 256 images (computed from the data), so a loss below 2,550
  // means the network predicts pixels from their neighbours. Runs land near 2,400.
  CHECK(r.initial > 4000.0);
  CHECK(r.final < 2550.0);
}

}  // namespace

TEST_CASE("Row LSTM learns Fashion-MNIST: the loss falls well below its initial value",
          "[pixelrnn][learning]") {
  check_learns_fashion_mnist(Architecture::row_lstm);
}

TEST_CASE("Diagonal BiLSTM learns Fashion-MNIST: the loss falls well below its initial value",
          "[pixelrnn][learning]") {
  check_learns_fashion_mnist(Architecture::diagonal_bilstm);
}
