// Fast autoregressive samplers against the naive ones: the same generator state must give the
// same images, bit for bit, and the incremental evaluation must give the network's logits.
#include <catch2/catch.hpp>

#include <cstring>

#include "engine/ops.h"
#include "models/autoregressive_model.h"
#include "models/images.h"
#include "models/labels.h"
#include "models/pixelcnn/gated.h"
#include "models/pixelcnn/pixelcnn.h"
#include "models/pixelcnnpp/pixelcnnpp.h"
#include "models/pixelrnn/pixelrnn.h"
#include "models/registry.h"
#include "tests/model_helpers.h"
#include "tests/support.h"

namespace gm::models {
namespace {

// A PixelCNN small enough that the naive sampler (one full pass per pixel) runs in a blink,
// with the reference's structure: a 5x5 type A layer, blocks with 3x3 type B layers, 1x1
// head. Widths are multiples of 3 so colour groups divide them.
PixelCnnConfig small_config(bool binary = false) {
  PixelCnnConfig c;
  c.name = "pixelcnn-test";
  c.filters = 12;
  c.hidden = 6;
  c.blocks = 2;
  c.first_kernel = 5;
  c.block_kernel = 3;
  c.head = 9;
  c.binary = binary;
  return c;
}

std::unique_ptr<PixelCnn> make(const PixelCnnConfig& c, ImageShape shape, DType dtype,
                               uint64_t seed) {
  Generator init_gen(seed);
  return std::make_unique<PixelCnn>(c, shape, nn::Init{Device::cpu(), dtype, &init_gen});
}

std::vector<uint8_t> bytes(const Tensor& images) {
  REQUIRE(images.dtype() == DType::u8);
  return images.to_vector<uint8_t>();
}

// Naive and fast from the same generator state; also requires that both consumed the same
// number of random counters, so that whatever the caller draws next is the same too. The fast
// one is what sample() runs for a model on the cpu.
void require_same_samples(AutoregressiveModel& model, int64_t count, double temperature,
                          uint64_t seed) {
  REQUIRE(model.samples_incrementally());
  Generator naive_gen(seed), fast_gen(seed);
  const Tensor naive = model.sample_naive(count, temperature, naive_gen);
  const Tensor fast = model.sample(count, temperature, fast_gen);
  REQUIRE(fast.shape() == naive.shape());
  const std::vector<uint8_t> a = bytes(naive), b = bytes(fast);
  size_t first_difference = a.size();
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) {
      first_difference = i;
      break;
    }
  INFO("seed " << seed << ", first differing pixel index " << first_difference << " of "
               << a.size());
  CHECK(first_difference == a.size());
  CHECK(fast_gen.offset() == naive_gen.offset());
}

// A PixelRNN with the reference models' structure, small enough for the naive sampler in a
// test.
std::unique_ptr<pixelrnn::PixelRnn> make_pixelrnn(pixelrnn::Architecture architecture,
                                                  ImageShape shape, DType dtype, uint64_t seed) {
  pixelrnn::PixelRnnConfig c;
  c.name = "pixelrnn-test";
  c.architecture = architecture;
  c.channels = 6;
  c.hidden = 3;
  c.layers = 2;
  c.head_channels = 6;
  c.input_kernel = 5;
  Generator init_gen(seed);
  return std::make_unique<pixelrnn::PixelRnn>(c, shape, nn::Init{Device::cpu(), dtype, &init_gen});
}

std::unique_ptr<pixelrnn::PixelRnn> make_rowlstm(ImageShape shape, DType dtype, uint64_t seed) {
  return make_pixelrnn(pixelrnn::Architecture::row_lstm, shape, dtype, seed);
}
std::unique_ptr<pixelrnn::PixelRnn> make_diaglstm(ImageShape shape, DType dtype, uint64_t seed) {
  return make_pixelrnn(pixelrnn::Architecture::diagonal_bilstm, shape, dtype, seed);
}

// gated-pixelcnn's structure (k x k first layer, 3x3 after), narrow.
GatedPixelCnnConfig small_gated_config(int64_t layers = 3) {
  return {.name = "gated-test",
          .filters = 6,
          .layers = layers,
          .first_kernel = 5,
          .kernel = 3,
          .head = 9};
}

std::unique_ptr<GatedPixelCnn> make_gated(ImageShape shape, DType dtype, uint64_t seed) {
  Generator init_gen(seed);
  return std::make_unique<GatedPixelCnn>(small_gated_config(), shape,
                                         nn::Init{Device::cpu(), dtype, &init_gen});
}

// pixelcnnpp's structure, narrow: `scales` resolutions (the image side a multiple of
// 2^(scales - 1)), `blocks` gated blocks each way. Dropout is set but never acts in sampling.
PixelCnnPPConfig small_pp_config(int64_t scales, int64_t blocks) {
  return {.name = "pixelcnnpp-test",
          .filters = 4,
          .blocks = blocks,
          .scales = scales,
          .components = 3,
          .dropout = 0.5};
}

std::unique_ptr<PixelCnnPP> make_pp(const PixelCnnPPConfig& c, ImageShape shape, DType dtype,
                                    uint64_t seed) {
  Generator init_gen(seed);
  return std::make_unique<PixelCnnPP>(c, shape, nn::Init{Device::cpu(), dtype, &init_gen});
}

// Naive and fast sampling by label from the same generator state, as require_same_samples.
void require_same_samples_by_label(AutoregressiveModel& model, const std::vector<int32_t>& labels,
                                   double temperature, uint64_t seed) {
  REQUIRE(model.samples_incrementally());
  const Tensor y = Tensor::from_vector(labels, {static_cast<int64_t>(labels.size())});
  Generator naive_gen(seed), fast_gen(seed);
  const Tensor naive = model.sample_naive_by_label(y, temperature, naive_gen);
  const Tensor fast = model.sample(y, temperature, fast_gen);
  REQUIRE(fast.shape() == naive.shape());
  INFO("seed " << seed);
  CHECK(bytes(naive) == bytes(fast));
  CHECK(fast_gen.offset() == naive_gen.offset());
}

// Teacher forcing on random images, so every position sees varied inputs rather than constant
// ones. Tolerance: both sides compute the same dot products in the same order; only the BLAS
// micro-kernel may differ (a few roundings of sums of ~100 terms of order one).
void require_incremental_outputs(const AutoregressiveModel& model, const Tensor& want,
                                 const Tensor& images, DType dtype, const char* what,
                                 const Tensor& labels = Tensor()) {
  const double tol = dtype == DType::f64 ? 1e-12 : 2e-5;
  const Tensor got = incremental_outputs(model, images, labels);
  REQUIRE(got.shape() == want.shape());
  test::require_close(got.to_vector<double>(), want.to_vector<double>(), tol, tol, what);
}

}  // namespace

TEST_CASE("fast PixelCNN sampling draws the naive sampler's images", "[fast_sampling]") {
  for (DType dtype : {DType::f32, DType::f64}) {
    INFO("dtype " << dtype_name(dtype));
    {
      INFO("grey, odd image size");
      auto model = make(small_config(), {1, 7, 9}, dtype, 11);
      for (uint64_t seed : {1, 2, 3})
        require_same_samples(*model, 3, 1.0, seed);
    }
    {
      INFO("RGB colour groups");
      auto model = make(small_config(), {3, 4, 5}, dtype, 12);
      for (uint64_t seed : {5, 6})
        require_same_samples(*model, 2, 1.0, seed);
    }
    {
      INFO("temperatures, batch of one");
      auto model = make(small_config(), {1, 6, 6}, dtype, 13);
      require_same_samples(*model, 1, 0.7, 8);
      require_same_samples(*model, 4, 1.6, 9);
    }
    {
      INFO("binary (Bernoulli) output");
      auto model = make(small_config(true), {1, 5, 7}, dtype, 14);
      for (uint64_t seed : {10, 11})
        require_same_samples(*model, 3, 1.0, seed);
    }
  }
}

TEST_CASE("fast PixelCNN sampling matches pixelcnn-ref itself", "[fast_sampling]") {
  auto model = make(PixelCnnConfig{}, {1, 8, 8}, DType::f32, 21);
  require_same_samples(*model, 2, 1.0, 22);
}

TEST_CASE("fast Row LSTM sampling draws the naive sampler's images", "[fast_sampling]") {
  for (DType dtype : {DType::f32, DType::f64}) {
    INFO("dtype " << dtype_name(dtype));
    {
      INFO("grey, odd image size");
      auto model = make_rowlstm({1, 7, 9}, dtype, 51);
      for (uint64_t seed : {1, 2, 3})
        require_same_samples(*model, 3, 1.0, seed);
    }
    {
      INFO("RGB colour groups, temperature");
      auto model = make_rowlstm({3, 5, 6}, dtype, 52);
      require_same_samples(*model, 2, 1.0, 4);
      require_same_samples(*model, 1, 0.8, 5);
    }
  }
}

TEST_CASE("fast Diagonal BiLSTM sampling draws the naive sampler's images", "[fast_sampling]") {
  for (DType dtype : {DType::f32, DType::f64}) {
    INFO("dtype " << dtype_name(dtype));
    {
      INFO("grey, wider than tall");
      auto model = make_diaglstm({1, 6, 8}, dtype, 61);
      for (uint64_t seed : {1, 2})
        require_same_samples(*model, 3, 1.0, seed);
    }
    {
      INFO("grey, taller than wide (the skewed map is H+W-1 wide)");
      auto model = make_diaglstm({1, 7, 5}, dtype, 63);
      require_same_samples(*model, 3, 1.0, 3);
      const Tensor images = test::random_images({1, 7, 5}, 2, 64);
      require_incremental_outputs(*model, model->logits(model->scale(images)), images, dtype,
                                  "incremental Diagonal BiLSTM logits, taller than wide");
    }
    {
      INFO("RGB colour groups, temperature");
      auto model = make_diaglstm({3, 4, 5}, dtype, 62);
      require_same_samples(*model, 2, 1.0, 4);
      require_same_samples(*model, 1, 0.8, 5);
      require_same_samples(*model, 3, 1.3, 6);
    }
  }
}

TEST_CASE("fast Gated PixelCNN sampling draws the naive sampler's images", "[fast_sampling]") {
  for (DType dtype : {DType::f32, DType::f64}) {
    INFO("dtype " << dtype_name(dtype));
    {
      INFO("grey, odd image size");
      auto model = make_gated({1, 7, 6}, dtype, 71);
      for (uint64_t seed : {1, 2})
        require_same_samples(*model, 3, 1.0, seed);
    }
    {
      INFO("RGB colour groups, temperature");
      auto model = make_gated({3, 4, 5}, dtype, 72);
      require_same_samples(*model, 2, 1.0, 4);
      require_same_samples(*model, 1, 0.8, 5);
      require_same_samples(*model, 3, 1.4, 6);
    }
  }
}

TEST_CASE("fast PixelCNN++ sampling draws the naive sampler's images", "[fast_sampling]") {
  for (DType dtype : {DType::f32, DType::f64}) {
    INFO("dtype " << dtype_name(dtype));
    {
      INFO("grey, three resolutions, wider than tall");
      auto model = make_pp(small_pp_config(3, 1), {1, 8, 12}, dtype, 101);
      for (uint64_t seed : {1, 2})
        require_same_samples(*model, 3, 1.0, seed);
    }
    {
      INFO("grey, two resolutions, two blocks each way, temperature");
      auto model = make_pp(small_pp_config(2, 2), {1, 6, 4}, dtype, 102);
      require_same_samples(*model, 2, 0.8, 3);
      require_same_samples(*model, 1, 1.5, 4);
    }
    {
      INFO("RGB (coupled channels), three resolutions, temperature");
      auto model = make_pp(small_pp_config(3, 1), {3, 4, 8}, dtype, 103);
      require_same_samples(*model, 2, 1.0, 5);
      require_same_samples(*model, 3, 0.7, 6);
    }
  }
  {
    INFO("four resolutions: the 1x1 coarsest map is read from every row");
    auto model = make_pp(small_pp_config(4, 1), {1, 8, 8}, DType::f32, 104);
    require_same_samples(*model, 2, 1.2, 7);
  }
  {
    INFO("five blocks each way, as the GPU configuration: deep chains stay within the row caches");
    auto model = make_pp(small_pp_config(3, 5), {3, 8, 8}, DType::f32, 106);
    require_same_samples(*model, 2, 1.0, 9);
  }
}

TEST_CASE("fast PixelCNN++ sampling matches pixelcnnpp-small itself", "[fast_sampling]") {
  // The registry's configuration (12 filters, 5 logistics) on 8x8 images, so that the naive
  // sampler's 64 passes stay quick.
  for (ImageShape shape : {ImageShape{1, 8, 8}, ImageShape{3, 8, 8}}) {
    Generator init_gen(105);
    auto model =
        make_model("pixelcnnpp-small", shape, nn::Init{Device::cpu(), DType::f32, &init_gen});
    require_same_samples(dynamic_cast<AutoregressiveModel&>(*model), 2, 1.0, 8);
  }
}

TEST_CASE("fast sampling by label draws the naive sampler's images for conditional models",
          "[fast_sampling][conditional]") {
  for (DType dtype : {DType::f32, DType::f64}) {
    INFO("dtype " << dtype_name(dtype));
    Generator init_gen(81);
    const nn::Init init{Device::cpu(), dtype, &init_gen};
    {
      INFO("conditional PixelCNN, grey and RGB");
      for (ImageShape shape : {ImageShape{1, 6, 7}, ImageShape{3, 4, 5}}) {
        PixelCnn model(small_config(), shape, init, 3);
        test::randomise_class_tables(model, 82);
        require_same_samples_by_label(model, {0, 2, 1}, 1.0, 83);
        require_same_samples_by_label(model, {2}, 0.8, 84);
      }
    }
    {
      INFO("conditional Gated PixelCNN, grey and RGB");
      const GatedPixelCnnConfig c = small_gated_config();
      for (ImageShape shape : {ImageShape{1, 6, 7}, ImageShape{3, 4, 5}}) {
        GatedPixelCnn model(c, shape, init, 4);
        test::randomise_class_tables(model, 85);
        require_same_samples_by_label(model, {3, 0, 1}, 1.0, 86);
        require_same_samples_by_label(model, {2, 2}, 1.3, 87);
      }
    }
  }
}

TEST_CASE("the incremental evaluation by label gives the conditional network's logits",
          "[fast_sampling][conditional]") {
  const ImageShape shape{1, 5, 6};
  const Tensor images = test::random_images(shape, 3, 91);
  const Tensor labels = Tensor::from_vector(std::vector<int32_t>{1, 0, 2}, {3});
  for (DType dtype : {DType::f64, DType::f32}) {
    INFO(dtype_name(dtype));
    Generator init_gen(92);
    const nn::Init init{Device::cpu(), dtype, &init_gen};
    const Tensor onehot = one_hot(labels, 3, dtype, Device::cpu());
    const Tensor x = scale_images(images, dtype, Device::cpu());
    PixelCnn cnn(small_config(), shape, init, 3);
    test::randomise_class_tables(cnn, 93);
    require_incremental_outputs(cnn, cnn.logits(x, onehot), images, dtype,
                                "incremental conditional PixelCNN logits", labels);
    // The labels matter: other labels give other logits.
    const Tensor other =
        one_hot(Tensor::from_vector(std::vector<int32_t>{0, 2, 1}, {3}), 3, dtype, Device::cpu());
    CHECK(cnn.logits(x, other).to_vector<double>() != cnn.logits(x, onehot).to_vector<double>());
    GatedPixelCnn gated(small_gated_config(2), shape, init, 3);
    test::randomise_class_tables(gated, 94);
    require_incremental_outputs(gated, gated.logits(x, onehot), images, dtype,
                                "incremental conditional Gated PixelCNN logits", labels);
  }
  // Labels are checked like everywhere else.
  Generator gen(1);
  PixelCnn cnn(small_config(), shape, nn::Init{Device::cpu(), DType::f32, &gen}, 3);
  CHECK_THROWS_WITH(cnn.sample(Tensor::from_vector(std::vector<int32_t>{3}, {1}), 1.0, gen),
                    Catch::Contains("outside the model's 3 classes"));
  CHECK_THROWS_WITH(cnn.sample(int64_t{2}, 1.0, gen), Catch::Contains("label"));
}

TEST_CASE("the incremental evaluation gives the network's logits", "[fast_sampling]") {
  for (ImageShape shape : {ImageShape{1, 7, 9}, ImageShape{3, 5, 6}})
    for (DType dtype : {DType::f64, DType::f32}) {
      INFO("shape " << shape.channels << "x" << shape.height << "x" << shape.width << " "
                    << dtype_name(dtype));
      const Tensor images = test::random_images(shape, 3, 32);
      auto cnn = make(small_config(), shape, dtype, 31);
      require_incremental_outputs(*cnn, cnn->logits(scale_images(images, dtype, Device::cpu())),
                                  images, dtype, "incremental PixelCNN logits");
      auto gated = make_gated(shape, dtype, 34);
      require_incremental_outputs(*gated, gated->logits(gated->network_input(images)), images,
                                  dtype, "incremental Gated PixelCNN logits");
      // PixelCNN++ draws whole pixels: one output per pixel, the network's planes, and every
      // one bit for bit (no tolerance: the evaluator computes the same sums in the same order).
      const ImageShape pp_shape{shape.channels, 4, 8};
      const Tensor pp_images = test::random_images(pp_shape, 3, 35);
      auto pp = make_pp(small_pp_config(3, 1), pp_shape, dtype, 36);
      const Tensor planes = pp->network(scale_images(pp_images, dtype, Device::cpu()), nullptr);
      const Tensor pp_got = incremental_outputs(*pp, pp_images);
      REQUIRE(pp_got.shape() == Shape{3, planes.size(1), 1, 4, 8});
      CHECK(pp_got.to_vector<double>() == planes.to_vector<double>());
      for (auto architecture :
           {pixelrnn::Architecture::row_lstm, pixelrnn::Architecture::diagonal_bilstm}) {
        auto rnn = make_pixelrnn(architecture, shape, dtype, 33);
        require_incremental_outputs(*rnn, rnn->logits(rnn->scale(images)), images, dtype,
                                    "incremental PixelRNN logits");
      }
    }
}

TEST_CASE("the fast sampler's errors say what to do", "[fast_sampling]") {
  auto model = make(small_config(), {1, 4, 4}, DType::f32, 41);
  Generator gen(1);
  CHECK_THROWS_WITH(sample_incremental(*model, 0, 1.0, gen),
                    Catch::Contains("sample count must be positive"));
  CHECK_THROWS_WITH(sample_incremental(*model, 1, 0.0, gen),
                    Catch::Contains("temperature must be a positive number"));
  CHECK_THROWS_WITH(incremental_outputs(*model, Tensor::zeros({1, 1, 5, 4}, DType::u8)),
                    Catch::Contains("expected uint8 images [N, 1, 4, 4]"));
}

}  // namespace gm::models
