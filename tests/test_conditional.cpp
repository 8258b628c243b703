// Class-conditional models p(x | y): their size, the labels' checks, the autoregressive
// property with the per-class biases, whole-model gradient checks and sampling by label.
#include "models/autoregressive.h"
#include "models/labels.h"
#include "models/model_gradcheck.h"
#include "models/pixelcnn/gated.h"
#include "models/pixelcnn/pixelcnn.h"
#include "models/registry.h"
#include "models/vae/vae.h"
#include "tests/model_helpers.h"

using namespace gm;
using namespace gm::models;
using gm::test::init_for;
using gm::test::parameter;
using gm::test::random_images;
using gm::test::randomise_class_tables;

namespace {

Tensor labels_of(const std::vector<int32_t>& values) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())});
}

PixelCnnConfig tiny_pixelcnn() {
  PixelCnnConfig c;
  c.name = "pixelcnn-tiny-cond";
  c.filters = 12;
  c.hidden = 6;
  c.head = 12;
  c.blocks = 2;
  c.first_kernel = 3;
  return c;
}

GatedPixelCnnConfig tiny_gated() {
  return {.name = "gated-tiny-cond",
          .filters = 6,
          .layers = 2,
          .first_kernel = 3,
          .kernel = 3,
          .head = 6};
}

VaeConfig tiny_vae() {
  VaeConfig c;
  c.name = "vae-tiny-cond";
  c.hidden = 7;
  c.latent = 3;
  return c;
}

}  // namespace

TEST_CASE("conditional configurations add K x width parameters per layer", "[conditional]") {
  Generator gen(1);
  const nn::Init init = init_for(gen, DType::f32);
  // pixelcnn-ref-cond: a [10, width] table after the input layer (64), each block's three
  // layers (32 + 32 + 64) and the two head layers (64 + 256).
  CHECK(make_model("pixelcnn-ref-cond", {1, 28, 28}, init, 10)->parameter_count() ==
        91200 + 10 * (64 + 5 * (32 + 32 + 64) + 64 + 256));
  // gated-pixelcnn-cond: a [10, 2p] table on each of the two stacks' pre-activations in each
  // of the 6 layers (p = 24).
  CHECK(make_model("gated-pixelcnn-cond", {1, 28, 28}, init, 10)->parameter_count() ==
        90610 + 10 * 6 * 2 * 48);
  // vae-ref-cond: the encoder's and the decoder's first layer each see 10 more inputs.
  CHECK(make_model("vae-ref-cond", {1, 28, 28}, init, 10)->parameter_count() ==
        967208 + 2 * 10 * 400);
  CHECK(find_model_config("vae-ref-cond").conditional());
  CHECK_FALSE(find_model_config("vae-ref").conditional());
  CHECK_THROWS_WITH(make_model("pixelcnn-ref-cond", {1, 28, 28}, init),
                    Catch::Contains("class-conditional and needs at least 2 classes"));
  CHECK_THROWS_WITH(make_model("pixelcnn-ref", {1, 28, 28}, init, 10),
                    Catch::Contains("unconditional"));
  CHECK_THROWS_WITH(VaeModel(
                        [] {
                          VaeConfig c;
                          c.network = VaeNetwork::conv;
                          return c;
                        }(),
                        {1, 28, 28}, init, 10),
                    Catch::Contains("only the MLP VAE"));
}

TEST_CASE("labels are checked: missing, wrong shape or dtype, out of range", "[conditional]") {
  Generator gen(2);
  const ImageShape shape{1, 5, 5};
  PixelCnn model(tiny_pixelcnn(), shape, init_for(gen), 3);
  const Tensor images = random_images(shape, 2, 3);
  Generator g(4);
  CHECK_THROWS_WITH(model.loss(images, g), Catch::Contains("needs one label per image"));
  CHECK_THROWS_WITH(model.sample(2, 1.0, g), Catch::Contains("needs one label per image"));
  CHECK_THROWS_WITH(model.loss(images, labels_of({0, 1, 2}), g),
                    Catch::Contains("expected labels int32 [2]"));
  CHECK_THROWS_WITH(model.loss(images, labels_of({0, 3}), g),
                    Catch::Contains("label 3 of image 1 is outside the model's 3 classes"));
  CHECK_THROWS_WITH(model.sample(labels_of({-1}), 1.0, g), Catch::Contains("label -1"));
  CHECK_THROWS_WITH(model.loss(images, Tensor::from_vector(std::vector<double>{0, 1}, {2}), g),
                    Catch::Contains("int32"));
}

TEST_CASE("an unconditional model ignores labels: p(x | y) = p(x)", "[conditional]") {
  Generator gen(5);
  const ImageShape shape{1, 5, 5};
  PixelCnnConfig c = tiny_pixelcnn();
  c.name = "pixelcnn-tiny";
  PixelCnn model(c, shape, init_for(gen));
  const Tensor images = random_images(shape, 2, 6);
  Generator a(7), b(7);
  CHECK(model.loss(images, labels_of({4, 9}), a).nats_per_image ==
        model.loss(images, b).nats_per_image);
  Generator s1(8), s2(8);
  CHECK(static_cast<Model&>(model).sample(labels_of({1, 2, 3}), 1.0, s1).to_vector<int>() ==
        model.sample(3, 1.0, s2).to_vector<int>());
  CHECK_THROWS_WITH(model.loss(images, labels_of({0}), a), Catch::Contains("[2]"));
}

TEST_CASE("per-class biases keep the conditional PixelCNNs autoregressive", "[conditional]") {
  Generator gen(9);
  for (int64_t channels : {1, 3}) {
    const ImageShape shape{channels, 6, 6};
    PixelCnn model(tiny_pixelcnn(), shape, init_for(gen), 4);
    randomise_class_tables(model, 10);
    GatedPixelCnn gated(tiny_gated(), shape, init_for(gen), 4);
    randomise_class_tables(gated, 11);
    // Each probe image gets label (index mod 4), so every class is probed.
    const auto probe_onehot = [](const Tensor& x) {
      std::vector<int32_t> y;
      for (int64_t i = 0; i < x.size(0); ++i)
        y.push_back(static_cast<int32_t>(i % 4));
      return one_hot(labels_of(y), 4, x.dtype(), x.device());
    };
    const AutoregressiveCheck check = check_autoregressive(
        [&](const Tensor& x) { return model.logits(x, probe_onehot(x)); }, shape);
    INFO(check.summary());
    CHECK(check.ok());
    const AutoregressiveCheck gated_check = check_autoregressive(
        [&](const Tensor& x) { return gated.logits(x, probe_onehot(x)); }, shape);
    INFO(gated_check.summary());
    CHECK(gated_check.ok());
  }
}

TEST_CASE("conditional models' gradients match finite differences", "[conditional][gradcheck]") {
  Generator gen(11);
  const ImageShape shape{1, 4, 4};
  const Tensor images = random_images(shape, 3, 12);
  const Tensor labels = labels_of({0, 2, 1});
  PixelCnn pixelcnn(tiny_pixelcnn(), shape, init_for(gen), 3);
  VaeModel vae(tiny_vae(), shape, init_for(gen), 3);
  GatedPixelCnn gated(tiny_gated(), shape, init_for(gen), 3);
  for (Model* model : std::vector<Model*>{&pixelcnn, &vae, &gated}) {
    randomise_class_tables(*model, 13);
    const GradcheckReport report = gradcheck_parameters(model->parameters(), [&] {
      Generator noise(14);  // the VAE's epsilon, the same at every call
      return model->loss(images, labels, noise).loss;
    });
    INFO(model->config_name() << "\n" << report.table());
    CHECK(report.passed());
  }
}

TEST_CASE("sampling a label draws from that class's distribution", "[conditional]") {
  Generator gen(15);
  const ImageShape shape{1, 4, 5};
  PixelCnn model(tiny_pixelcnn(), shape, init_for(gen), 2);
  // Class 0's output bias favours level 0 by e^40 against every other level, class 1's level
  // 255: whatever the network computes elsewhere (weights ~0.3), each label's samples are
  // then all black or all white.
  Tensor table = parameter(model, "head2_class.table");  // [2, 256]
  std::vector<double> values(2 * 256, 0.0);
  values[0] = 40.0;
  values[256 + 255] = 40.0;
  table.copy_from(Tensor::from_vector(values, {2, 256}, table.dtype()));
  Generator g(16);
  const std::vector<int> pixels = model.sample(labels_of({1, 0, 1}), 1.0, g).to_vector<int>();
  const size_t d = static_cast<size_t>(shape.dims());
  REQUIRE(pixels.size() == 3 * d);
  for (size_t i = 0; i < d; ++i) {
    CHECK(pixels[i] == 255);
    CHECK(pixels[d + i] == 0);
    CHECK(pixels[2 * d + i] == 255);
  }

  // The VAE: the same generator state with another label decodes other images.
  VaeModel vae(tiny_vae(), shape, init_for(gen), 2);
  Generator a(17), b(17);
  CHECK(vae.sample(labels_of({0, 0}), 1.0, a).to_vector<int>() !=
        vae.sample(labels_of({1, 1}), 1.0, b).to_vector<int>());
  CHECK_THROWS_WITH(vae.sample(3, 1.0, a), Catch::Contains("needs one label per image"));
}
