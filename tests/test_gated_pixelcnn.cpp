// Gated PixelCNN: its size, the autoregressive property and the blind spot's removal (against
// PixelCNN's, with the same probe), the gate's channel layout, a whole-model gradient check, a
// short learning run and its weights through safetensors.
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "engine/io/safetensors.h"
#include "models/autoregressive.h"
#include "models/model_gradcheck.h"
#include "models/pixelcnn/gated.h"
#include "models/pixelcnn/pixelcnn.h"
#include "models/registry.h"
#include "tests/learning.h"
#include "tests/model_helpers.h"
#include "tests/support.h"

using namespace gm;
using namespace gm::models;
using gm::test::init_for;
using gm::test::random_images;

namespace {

GatedPixelCnnConfig tiny_gated(int64_t filters, int64_t layers, int64_t first_kernel) {
  return {.name = "gated-tiny",
          .filters = filters,
          .layers = layers,
          .first_kernel = first_kernel,
          .kernel = 3,
          .head = filters};
}

LogitsFn logits_of(const GatedPixelCnn& model) {
  return [&model](const Tensor& x) { return model.logits(x); };
}

// Every position before `target` in generation order.
size_t causal_region(const ImageShape& s, const Position& target) {
  return static_cast<size_t>(generation_index(s, target));
}

}  // namespace

TEST_CASE("gated-pixelcnn has 90,610 parameters, pixelcnn-ref's budget and depth", "[gated]") {
  // p = 24 channels per stack, 2p gate channels. First layer (1 input channel, k = 7):
  // vertical 48*1*4*7 + 48, horizontal 48*1*1*7 + 48, vertical-to-horizontal 48*48 + 48,
  // residual 24*24 + 24 = 4,728. Each of the 5 others (k = 3): 48*24*2*3 + 48, 48*24*3 + 48,
  // 2,352, 600 = 13,416. Head: 24*66 + 66 and 66*256 + 256 = 18,802. Total 90,610 against
  // pixelcnn-ref's 91,200 (six spatial layers each).
  Generator gen(1);
  auto model = make_model("gated-pixelcnn", {1, 28, 28}, init_for(gen, DType::f32));
  CHECK(model->parameter_count() == 4728 + 5 * 13416 + 1650 + 17152);
  CHECK(model->parameter_count() == 90610);
}

TEST_CASE("gated-pixelcnn-small has 85,008 parameters on RGB", "[gated]") {
  // First layer (3 input channels, k = 5): vertical 48*3*3*5 + 48, horizontal 48*3*5 + 48,
  // vertical-to-horizontal 48*48 + 48, residual 24*24 + 24 = 5,928. Each of the 3 others
  // (k = 3) 13,416 as in gated-pixelcnn. Head: 24*48 + 48 and 48*768 + 768 (256 per channel).
  Generator gen(1);
  auto model = make_model("gated-pixelcnn-small", {3, 32, 32}, init_for(gen, DType::f32));
  CHECK(model->parameter_count() == 5928 + 3 * 13416 + 1200 + 37632);
  CHECK(model->parameter_count() == 85008);
}

TEST_CASE("the gate pairs f and g inside each colour group", "[gated]") {
  // a [2p = 12] laid out (group, f|g, unit) with 3 groups of 2 units: f of group k is
  // channels 4k, 4k+1 and g channels 4k+2, 4k+3.
  Generator gen(2);
  const Tensor a = Tensor::normal({2, 12, 3}, 0.0, 1.0, gen, DType::f64);
  const std::vector<double> av = a.to_vector<double>();
  const std::vector<double> got = gated_activation(a, 1, 3).to_vector<double>();
  REQUIRE(got.size() == 2 * 6 * 3);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t g = 0; g < 3; ++g)
      for (int64_t u = 0; u < 2; ++u)
        for (int64_t s = 0; s < 3; ++s) {
          const double f = av[static_cast<size_t>((n * 12 + 4 * g + u) * 3 + s)];
          const double gg = av[static_cast<size_t>((n * 12 + 4 * g + 2 + u) * 3 + s)];
          // Tolerance: the tanh and sigmoid kernels are accurate to a few ulp.
          CHECK(got[static_cast<size_t>((n * 6 + 2 * g + u) * 3 + s)] ==
                Approx(std::tanh(f) / (1.0 + std::exp(-gg))).epsilon(1e-14));
        }
}

TEST_CASE("gated pixelcnn never sees the current or a future value", "[gated][autoregressive]") {
  Generator gen(3);
  SECTION("grey") {
    const ImageShape shape{1, 6, 7};
    GatedPixelCnn model(tiny_gated(6, 3, 5), shape, init_for(gen));
    const AutoregressiveCheck check = check_autoregressive(logits_of(model), shape);
    INFO(check.summary());
    CHECK(check.ok());
  }
  SECTION("RGB: within a pixel R sees none of it, G sees R, B sees R and G") {
    const ImageShape shape{3, 4, 5};
    GatedPixelCnn model(tiny_gated(6, 3, 3), shape, init_for(gen));
    const AutoregressiveCheck check = check_autoregressive(logits_of(model), shape);
    INFO(check.summary());
    CHECK(check.ok());
    const auto fields =
        receptive_fields(logits_of(model), shape, {{2, 2, 0}, {2, 2, 1}, {2, 2, 2}});
    CHECK_FALSE(fields[0].sees({2, 2, 0}));
    CHECK(fields[1].sees({2, 2, 0}));
    CHECK_FALSE(fields[1].sees({2, 2, 1}));
    CHECK(fields[2].sees({2, 2, 0}));
    CHECK(fields[2].sees({2, 2, 1}));
  }
}

TEST_CASE("the blind spot is gone: the last value sees the whole causal region",
          "[gated][autoregressive]") {
  // The same geometry as gated-pixelcnn and pixelcnn-ref (a 7x7 first layer, then five 3x3
  // layers), narrow, on 8x8 images: small enough that both models' reach covers the image, so
  // every unseen earlier position is a blind spot. The probe compares position by position.
  const ImageShape shape{1, 8, 8};
  Generator gen(4);
  GatedPixelCnnConfig gated_config;
  gated_config.filters = 12;
  gated_config.head = 12;
  GatedPixelCnn gated(gated_config, shape, init_for(gen));
  // The last value, and the first of the last row (whose blind spot in PixelCNN is largest).
  for (const Position target : {Position{7, 7, 0}, Position{7, 0, 0}}) {
    const ReceptiveField g = receptive_field(logits_of(gated), shape, target);
    INFO("gated, " << position_str(target) << ":\n" << receptive_field_ascii(g));
    CHECK(g.leaks().empty());
    CHECK(g.hidden().empty());
    CHECK(g.visible().size() == causal_region(shape, target));
  }

  PixelCnnConfig ref;  // pixelcnn-ref's geometry, narrow
  ref.filters = 16;
  ref.hidden = 8;
  ref.head = 16;
  PixelCnn pixelcnn(ref, shape, init_for(gen));
  const Position first_of_last_row{7, 0, 0};
  const ReceptiveField p = receptive_field([&](const Tensor& x) { return pixelcnn.logits(x); },
                                           shape, first_of_last_row);
  INFO("pixelcnn:\n" << receptive_field_ascii(p));
  CHECK(p.leaks().empty());
  // The wedge above and to the right: row 7 - k is seen up to column 3 + (k - 1) (the 7x7
  // layer's reach, then one column per row up), nothing beyond.
  for (int64_t up = 1; up <= 4; ++up) {
    CHECK(p.sees({7 - up, 2 + up, 0}));
    CHECK_FALSE(p.sees({7 - up, 3 + up, 0}));
  }
  CHECK(p.hidden().size() == 4 + 3 + 2 + 1);
  CHECK(p.visible().size() + p.hidden().size() == causal_region(shape, first_of_last_row));

  SECTION("RGB: every channel of the last pixel") {
    // gated-pixelcnn-small's widths and more random inputs: in narrower networks a colour
    // group's few head units can all sit behind dead ReLUs and hide real paths.
    const ImageShape rgb{3, 6, 6};
    GatedPixelCnnConfig c = gated_config;
    c.filters = 24;
    c.head = 48;
    GatedPixelCnn model(c, rgb, init_for(gen));
    ProbeOptions probe;
    probe.repeats = 4;
    for (int64_t ch = 0; ch < 3; ++ch) {
      const Position target{5, 5, ch};
      const ReceptiveField f = receptive_field(logits_of(model), rgb, target, probe);
      INFO("channel " << ch << "\n" << receptive_field_ascii(f));
      CHECK(f.leaks().empty());
      CHECK(f.hidden().empty());
    }
  }
}

TEST_CASE("gated pixelcnn's parameter gradients match finite differences", "[gated][gradcheck]") {
  // Float64, 5x5 images, a few channels, 24 seeded elements per tensor. Tolerance: the central
  // difference's rounding error is ~1e-10 |f| (engine/gradcheck.h) and the RGB loss is ~420 nats,
  // so ~4e-8, measured up to 1.3e-7 on single elements; atol 5e-7 stays far below a wrong term
  // (1e-2 and up).
  ModelGradcheckOptions options;
  options.tolerances.atol = 5e-7;
  options.max_elements_per_tensor = 24;  // 18 tensors; a wrong term shows in any element
  for (int64_t channels : {1, 3}) {
    Generator gen(5);
    const ImageShape shape{channels, 5, 5};
    GatedPixelCnn model(tiny_gated(6, 2, 3), shape, init_for(gen));
    const Tensor images = random_images(shape, 2, 6);
    const GradcheckReport report = gradcheck_parameters(
        model.parameters(),
        [&] {
          Generator unused(7);
          return model.loss(images, unused).loss;
        },
        options);
    INFO("channels " << channels << "\n" << report.table());
    CHECK(report.passed());
  }
}

TEST_CASE("gated pixelcnn learns Fashion-MNIST: the loss falls well below its initial value",
          "[gated][learning]") {
  // As pixelcnn's learning test: 256 images, batch 32, 30 Adam steps; 0.7 x the initial loss
  // (about D ln 256 = 4347 nats) is far above where a learning model lands.
  const Tensor images = gm::test::fashion_mnist_images(256);
  Generator gen(8);
  GatedPixelCnn model(tiny_gated(8, 2, 7), {1, 28, 28}, init_for(gen, DType::f32));
  const auto r = gm::test::train_briefly(model, images, 30, 32, 1e-2, 9);
  WARN("gated pixelcnn learning: " << r.initial << " -> " << r.final << " nats/image");
  CHECK(r.final < 0.7 * r.initial);
}

TEST_CASE("gated pixelcnn's weights round-trip through safetensors", "[gated][checkpoint]") {
  const ImageShape shape{3, 5, 6};
  Generator a_gen(10), b_gen(11);
  GatedPixelCnn a(tiny_gated(6, 2, 5), shape, init_for(a_gen, DType::f32));
  GatedPixelCnn b(tiny_gated(6, 2, 5), shape, init_for(b_gen, DType::f32));
  const Tensor x = a.network_input(random_images(shape, 2, 12));
  REQUIRE(a.logits(x).to_vector<float>() != b.logits(x).to_vector<float>());
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("genmodel_test_gated_" + std::to_string(::getpid()) + ".safetensors");
  save_safetensors(path, a.parameters());
  load_into(path, b.parameters());
  std::filesystem::remove(path);
  CHECK(a.logits(x).to_vector<float>() == b.logits(x).to_vector<float>());
}
