// Fast autoregressive samplers against the naive ones: the same generator state must give the
// same images, bit for bit, and the incremental evaluation must give the network's logits.
#include <catch2/catch.hpp>

#include <cstring>

#include "engine/ops.h"
#include "models/images.h"
#include "models/pixelcnn/fast_sampler.h"
#include "models/pixelcnn/pixelcnn.h"
#include "models/pixelrnn/fast_sampler.h"
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
// number of random counters, so that whatever the caller draws next is the same too.
template <typename M, typename Fast>
void require_same_samples(M& model, Fast fast_sampler, int64_t count, double temperature,
                          uint64_t seed) {
  Generator naive_gen(seed), fast_gen(seed);
  const Tensor naive = model.sample(count, temperature, naive_gen);
  const Tensor fast = fast_sampler(model, count, temperature, fast_gen);
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

// A Row LSTM with rowlstm-ref's structure, small enough for the naive sampler in a test.
std::unique_ptr<pixelrnn::PixelRnn> make_rowlstm(ImageShape shape, DType dtype, uint64_t seed) {
  pixelrnn::PixelRnnConfig c;
  c.name = "rowlstm-test";
  c.architecture = pixelrnn::Architecture::row_lstm;
  c.channels = 6;
  c.hidden = 3;
  c.layers = 2;
  c.head_channels = 6;
  c.input_kernel = 5;
  Generator init_gen(seed);
  return std::make_unique<pixelrnn::PixelRnn>(c, shape, nn::Init{Device::cpu(), dtype, &init_gen});
}

}  // namespace

TEST_CASE("fast PixelCNN sampling draws the naive sampler's images", "[fast_sampling]") {
  for (DType dtype : {DType::f32, DType::f64}) {
    INFO("dtype " << dtype_name(dtype));
    {
      INFO("grey, odd image size");
      auto model = make(small_config(), {1, 7, 9}, dtype, 11);
      for (uint64_t seed : {1, 2, 3})
        require_same_samples(*model, sample_pixelcnn_fast, 3, 1.0, seed);
    }
    {
      INFO("RGB colour groups");
      auto model = make(small_config(), {3, 4, 5}, dtype, 12);
      for (uint64_t seed : {5, 6})
        require_same_samples(*model, sample_pixelcnn_fast, 2, 1.0, seed);
    }
    {
      INFO("temperatures, batch of one");
      auto model = make(small_config(), {1, 6, 6}, dtype, 13);
      require_same_samples(*model, sample_pixelcnn_fast, 1, 0.7, 8);
      require_same_samples(*model, sample_pixelcnn_fast, 4, 1.6, 9);
    }
    {
      INFO("binary (Bernoulli) output");
      auto model = make(small_config(true), {1, 5, 7}, dtype, 14);
      for (uint64_t seed : {10, 11})
        require_same_samples(*model, sample_pixelcnn_fast, 3, 1.0, seed);
    }
  }
}

TEST_CASE("fast PixelCNN sampling matches pixelcnn-ref itself", "[fast_sampling]") {
  auto model = make(PixelCnnConfig{}, {1, 8, 8}, DType::f32, 21);
  require_same_samples(*model, sample_pixelcnn_fast, 2, 1.0, 22);
}

TEST_CASE("fast Row LSTM sampling draws the naive sampler's images", "[fast_sampling]") {
  for (DType dtype : {DType::f32, DType::f64}) {
    INFO("dtype " << dtype_name(dtype));
    {
      INFO("grey, odd image size");
      auto model = make_rowlstm({1, 7, 9}, dtype, 51);
      for (uint64_t seed : {1, 2, 3})
        require_same_samples(*model, pixelrnn::sample_rowlstm_fast, 3, 1.0, seed);
    }
    {
      INFO("RGB colour groups, temperature");
      auto model = make_rowlstm({3, 5, 6}, dtype, 52);
      require_same_samples(*model, pixelrnn::sample_rowlstm_fast, 2, 1.0, 4);
      require_same_samples(*model, pixelrnn::sample_rowlstm_fast, 1, 0.8, 5);
    }
  }
}

TEST_CASE("the incremental evaluation gives the network's logits", "[fast_sampling]") {
  // Teacher forcing on random images, so every position sees varied inputs rather than constant ones.
  // Tolerances: both sides compute the same dot products in the same order; only the BLAS
  // micro-kernel may differ (a few roundings of sums of ~100 terms of order one).
  struct Case {
    ImageShape shape;
    DType dtype;
    double tol;
  };
  for (const Case& c : {Case{{1, 9, 7}, DType::f64, 1e-12}, Case{{1, 9, 7}, DType::f32, 2e-5},
                        Case{{3, 5, 4}, DType::f64, 1e-12}, Case{{3, 5, 4}, DType::f32, 2e-5}}) {
    INFO("shape " << c.shape.channels << "x" << c.shape.height << "x" << c.shape.width << " "
                  << dtype_name(c.dtype));
    auto model = make(small_config(), c.shape, c.dtype, 31);
    Generator gen(32);
    const Tensor images = Tensor::uniform({3, c.shape.channels, c.shape.height, c.shape.width}, 0.0,
                                          256.0, gen, DType::f64)
                              .to(DType::u8);
    const Tensor want = model->logits(scale_images(images, c.dtype, Device::cpu()));
    const Tensor got = pixelcnn_incremental_logits(*model, images);
    REQUIRE(got.shape() == want.shape());
    test::require_close(got.to_vector<double>(), want.to_vector<double>(), c.tol, c.tol,
                        "incremental PixelCNN logits");

    auto rnn = make_rowlstm(c.shape, c.dtype, 33);
    const Tensor rnn_want = rnn->logits(rnn->scale(images));
    const Tensor rnn_got = pixelrnn::rowlstm_incremental_logits(*rnn, images);
    REQUIRE(rnn_got.shape() == rnn_want.shape());
    test::require_close(rnn_got.to_vector<double>(), rnn_want.to_vector<double>(), c.tol, c.tol,
                        "incremental Row LSTM logits");
  }
}

TEST_CASE("the fast sampler's errors say what to do", "[fast_sampling]") {
  auto model = make(small_config(), {1, 4, 4}, DType::f32, 41);
  Generator gen(1);
  CHECK_THROWS_WITH(sample_pixelcnn_fast(*model, 0, 1.0, gen),
                    Catch::Contains("sample count must be positive"));
  CHECK_THROWS_WITH(sample_pixelcnn_fast(*model, 1, 0.0, gen),
                    Catch::Contains("temperature must be a positive number"));
  CHECK_THROWS_WITH(pixelcnn_incremental_logits(*model, Tensor::zeros({1, 1, 5, 4}, DType::u8)),
                    Catch::Contains("expected uint8 images [N, 1, 4, 4]"));
  pixelrnn::PixelRnnConfig diagonal;
  diagonal.name = "diaglstm-test";
  diagonal.architecture = pixelrnn::Architecture::diagonal_bilstm;
  diagonal.channels = diagonal.hidden = diagonal.head_channels = 4;
  Generator init_gen(42);
  pixelrnn::PixelRnn diag(diagonal, {1, 4, 4}, nn::Init{Device::cpu(), DType::f32, &init_gen});
  CHECK_THROWS_WITH(pixelrnn::sample_rowlstm_fast(diag, 1, 1.0, gen),
                    Catch::Contains("is not a Row LSTM"));
}

}  // namespace gm::models
