// The plain convolutional autoencoder (parameter count, gradients, learning, what it refuses
// to do) and the linear probe on top of encoder features.
#include <cmath>

#include "models/autoencoder/autoencoder.h"
#include "models/images.h"
#include "models/model_gradcheck.h"
#include "models/registry.h"
#include "models/vae/vae.h"
#include "tests/learning.h"
#include "tests/model_helpers.h"
#include "tests/support.h"
#include "tools/linear_probe.h"

using namespace gm;
using namespace gm::models;
using gm::test::init_for;
using gm::test::random_images;

namespace {

AutoencoderConfig tiny_autoencoder() {
  AutoencoderConfig c;
  c.name = "ae-tiny";
  c.conv_channels = 2;
  c.code = 3;
  return c;
}

}  // namespace

TEST_CASE("ae-conv has the conv VAE's networks without the variance head: 343,781 parameters",
          "[autoencoder]") {
  Generator gen(1);
  auto model = make_model("ae-conv", {1, 28, 28}, init_for(gen, DType::f32));
  // Encoder: conv1 1->32 4x4 (544), conv2 32->64 4x4 (32,832), conv3 and conv4 64->64 3x3
  // (36,928 each), code head 64*7*7 -> 20 (62,740). Decoder: project 20 -> 3136 (65,856), up1
  // and up2 64->64 3x3 (36,928 each), up3 64->32 4x4 (32,800), up4 32->1 4x4 (513), one bias
  // per pixel (784).
  CHECK(model->parameter_count() ==
        544 + 32832 + 2 * 36928 + 62740 + 65856 + 2 * 36928 + 32800 + 513 + 784);
  for (const auto& p : model->parameters())
    CHECK(p.name.find("logvar") == std::string::npos);
  CHECK_FALSE(model->has_likelihood());
}

TEST_CASE("the autoencoder's loss is the squared error of its reconstruction", "[autoencoder]") {
  Generator gen(2);
  const ImageShape shape{1, 4, 4};
  AutoencoderModel model(tiny_autoencoder(), shape, init_for(gen));
  const Tensor images = random_images(shape, 3, 3);
  const LossOutput out = model.loss(images, gen);
  // Recompute the loss from the reconstruction rounded to levels: each pixel moves by at most
  // half a level, h = 1/255 on the [-1, 1] scale, which changes its squared error by at most
  // h (2 |x - r| + h). The sum of those bounds is the tolerance.
  const double h = 1.0 / 255.0;
  const std::vector<double> x = scale_images(images, DType::f64, Device::cpu()).to_vector<double>();
  const std::vector<double> r =
      scale_images(model.reconstruct(images), DType::f64, Device::cpu()).to_vector<double>();
  double sse = 0.0, bound = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    sse += (x[i] - r[i]) * (x[i] - r[i]) / 3.0;
    bound += h * (2.0 * std::abs(x[i] - r[i]) + h) / 3.0;
  }
  CHECK(out.nats_per_image == Approx(sse).margin(bound));
  CHECK(out.terms.at("l2") == out.nats_per_image);
  CHECK(std::isnan(out.bits_per_dim));
  CHECK(model.features(images, gen).shape() == Shape{3, 3});
  CHECK_THROWS_WITH(model.sample(2, 1.0, gen), Catch::Contains("no p(x) to sample"));
}

TEST_CASE("the autoencoder's parameter gradients match finite differences",
          "[autoencoder][gradcheck]") {
  // Float64, tiny networks, no noise in the loss. Tolerances: engine/gradcheck.h.
  Generator gen(4);
  const ImageShape shape{2, 4, 4};
  AutoencoderModel model(tiny_autoencoder(), shape, init_for(gen));
  const Tensor images = random_images(shape, 2, 5);
  const GradcheckReport report =
      gradcheck_parameters(model.parameters(), [&] { return model.loss(images, gen).loss; });
  INFO(report.table());
  CHECK(report.passed());
}

TEST_CASE("the autoencoder learns Fashion-MNIST: the squared error falls well below its start",
          "[autoencoder][learning]") {
  // 256 training images, batch 32, 64 Adam steps at 3e-3, narrowed to 8 channels to keep the
  // test fast. At initialisation the reconstruction is near 0 on the [-1, 1] scale while most
  // pixels are black (-1): ~610 per image. Learning the mean image alone halves that; observed,
  // deterministic for these seeds: 613 -> 180 (0.29). A model that did not learn stays near 1.0.
  const Tensor images = gm::test::fashion_mnist_images(256);
  AutoencoderConfig c;
  c.name = "ae-conv-narrow";
  c.conv_channels = 8;
  Generator gen(6);
  AutoencoderModel model(c, {1, 28, 28}, init_for(gen, DType::f32));
  const auto r = gm::test::train_briefly(model, images, 64, 32, 3e-3, 7);
  WARN("ae-conv-narrow learning: " << r.initial << " -> " << r.final << " per image");
  CHECK(r.final < 0.5 * r.initial);
}

TEST_CASE("the linear probe separates separable classes and ignores constant features", "[probe]") {
  // Three classes at the corners of a triangle in 2-D, with unit noise 6 units apart, plus a
  // constant third feature: a linear classifier reads the class almost perfectly.
  Generator gen(8);
  auto make = [&](int64_t n) {
    const Tensor noise = Tensor::normal({n, 2}, 0.0, 1.0, gen, DType::f64);
    std::vector<double> f;
    std::vector<int> y;
    const std::vector<double> e = noise.to_vector<double>();
    const double cx[3] = {0, 6, 3}, cy[3] = {0, 0, 5};
    for (int64_t i = 0; i < n; ++i) {
      const int k = static_cast<int>(i % 3);
      f.insert(f.end(), {cx[k] + e[2 * i], cy[k] + e[2 * i + 1], 1.0});
      y.push_back(k);
    }
    return std::pair{Tensor::from_vector(f, {n, 3}, DType::f32),
                     Tensor::from_vector(y, {n}, DType::i32)};
  };
  const auto [train_x, train_y] = make(300);
  const auto [test_x, test_y] = make(300);
  const tools::ProbeResult r = tools::linear_probe(train_x, train_y, test_x, test_y, 3);
  // Corners 6 units apart with unit noise: the Bayes error is ~1% (a point crosses the
  // half-way line 3 sigma away with probability 0.13% per neighbour); 0.95 leaves room.
  CHECK(r.test_accuracy > 0.95);
  CHECK(r.train_accuracy > 0.95);
  CHECK(r.feature_dims == 3);
  // Labels must lie in 0..classes-1.
  CHECK_THROWS_WITH(tools::linear_probe(train_x, train_y, test_x, test_y, 2),
                    Catch::Contains("label 2 is outside 0..1"));
  CHECK_THROWS_WITH(tools::linear_probe(train_x, train_y, slice(test_x, 1, 0, 2), test_y, 3),
                    Catch::Contains("dimensions"));
}

TEST_CASE("encoder features of a data set come in the encoder's order and width", "[probe]") {
  Generator gen(9);
  const ImageShape shape{1, 4, 4};
  AutoencoderModel ae(tiny_autoencoder(), shape, init_for(gen, DType::f32));
  io::Dataset data{.name = "tiny", .images = random_images(shape, 5, 10), .labels = {}};
  const Tensor all = tools::encoder_features(ae, data, 2, gen);  // batches of 2, 2 and 1
  REQUIRE(all.shape() == Shape{5, 3});
  // Float32 convolutions of different batch sizes may block their sums differently: a few
  // ulp of values of order 1, far below 1e-5.
  gm::test::require_close(all.to_vector<double>(),
                          ae.features(data.images, gen).to_vector<double>(), 1e-5, 1e-5,
                          "features in batches vs at once");
  CHECK(tools::pixel_features(data).shape() == Shape{5, 16});
}
