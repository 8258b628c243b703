// PixelCNN++: the configurations' sizes, the autoregressive property with no blind spot (every
// earlier position is seen, within a pixel too), the loss, sampling, a whole-model gradient
// check with dropout on, the same numbers on every device, weights through safetensors and a
// short learning run.
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "engine/io/safetensors.h"
#include "kernels/common/logistic_math.h"
#include "models/autoregressive.h"
#include "models/images.h"
#include "models/model_gradcheck.h"
#include "models/pixelcnnpp/logistic_mixture.h"
#include "models/pixelcnnpp/pixelcnnpp.h"
#include "models/registry.h"
#include "tests/learning.h"
#include "tests/model_helpers.h"
#include "tests/support.h"

using namespace gm;
using namespace gm::models;
using gm::test::init_for;
using gm::test::parameter;
using gm::test::random_images;

namespace {

PixelCnnPPConfig tiny_config(int64_t filters, int64_t scales, int64_t components) {
  PixelCnnPPConfig c;
  c.name = "pixelcnnpp-tiny";
  c.filters = filters;
  c.blocks = 1;
  c.scales = scales;
  c.components = components;
  c.dropout = 0.5;
  return c;
}

// The parameter count from the architecture, layer by layer (reference: pixelcnnpp.h).
int64_t expected_parameters(const PixelCnnPPConfig& c, int64_t channels) {
  const int64_t F = c.filters, in = channels + 1;
  auto conv = [](int64_t i, int64_t o, int64_t taps) { return i * o * taps + o; };
  // conv_in on concat_elu (2F -> F), conv_gate (2F -> 2F), a 1x1 on the concat_elu'd aux input.
  auto block = [&](int64_t taps, int64_t aux) {
    return conv(2 * F, F, taps) + conv(2 * F, 2 * F, taps) + (aux > 0 ? conv(2 * aux, F, 1) : 0);
  };
  const int64_t resample = conv(F, F, 6) + conv(F, F, 4);  // 2x3 (u) and 2x2 (ul)
  int64_t n = conv(in, F, 6) + conv(in, F, 3) + conv(in, F, 2);
  for (int64_t s = 0; s < c.scales; ++s) {
    n += c.blocks * (block(6, 0) + block(4, F));
    n += (c.blocks + (s > 0 ? 1 : 0)) * (block(6, F) + block(4, 2 * F));
    if (s + 1 < c.scales) n += 2 * resample;
  }
  return n + conv(F, mixture_planes(c.components, channels), 1);
}

// Every position's receptive field must be exactly the positions before it in generation
// order: nothing later (no leak) and nothing earlier missing (no blind spot).
void check_full_causal_fields(PixelCnnPP& model, const ImageShape& shape) {
  auto f = [&](const Tensor& x) { return model.channel_params(x); };
  const AutoregressiveCheck leaks = check_autoregressive(f, shape);
  CHECK(leaks.ok());
  INFO(leaks.summary());
  std::vector<Position> all;
  for (int64_t i = 0; i < shape.dims(); ++i)
    all.push_back(position_at(shape, i));
  for (const ReceptiveField& field : receptive_fields(f, shape, all)) {
    if (field.hidden().empty()) continue;
    FAIL_CHECK("output " << position_str(field.target) << " does not see "
                         << position_str(field.hidden().front()) << "\n"
                         << receptive_field_ascii(field));
  }
}

}  // namespace

TEST_CASE("pixelcnnpp configurations have the parameter counts of their architecture",
          "[pixelcnnpp]") {
  Generator gen(1);
  const nn::Init init = init_for(gen, DType::f32);
  for (auto [name, shape] : {std::pair{"pixelcnnpp-small", ImageShape{1, 28, 28}},
                             std::pair{"pixelcnnpp-rgb-small", ImageShape{3, 32, 32}}}) {
    auto model = make_model(name, shape, init);
    const auto& pp = dynamic_cast<const PixelCnnPP&>(*model);
    CHECK(model->parameter_count() == expected_parameters(pp.config(), shape.channels));
  }
  CHECK(make_model("pixelcnnpp-small", {1, 28, 28}, init)->parameter_count() == 81387);
  CHECK(make_model("pixelcnnpp-rgb-small", {3, 32, 32}, init)->parameter_count() == 82106);
  // The GPU configuration (53.6 M parameters) is counted from its config, not built here.
  PixelCnnPPConfig gpu;
  CHECK(expected_parameters(gpu, 3) == 53618660);
  CHECK(find_model_config("pixelcnnpp").summary.find("53,618,660") != std::string::npos);
  CHECK_THROWS_WITH(make_model("pixelcnnpp-small", {1, 30, 30}, init),
                    Catch::Contains("multiples of 4"));
}

TEST_CASE("pixelcnnpp sees every earlier position and nothing else: no blind spot",
          "[pixelcnnpp][autoregressive]") {
  // Two blocks per resolution: on the current row only the full-resolution down-right
  // convolutions reach left (one column each), 1 + 2 x 2 + 2 x 3 = 11 >= 7 columns on 8x8.
  Generator gen(11);
  SECTION("grey 8x8, three resolutions") {
    const ImageShape shape{1, 8, 8};
    PixelCnnPPConfig c = tiny_config(4, 3, 2);
    c.blocks = 2;
    PixelCnnPP model(c, shape, init_for(gen));
    check_full_causal_fields(model, shape);
  }
  SECTION("RGB 4x4: within a pixel G sees R and B sees R and G, through the coupled means") {
    const ImageShape shape{3, 4, 4};
    PixelCnnPP model(tiny_config(4, 2, 2), shape, init_for(gen));
    check_full_causal_fields(model, shape);
  }
}

TEST_CASE("one block per resolution reaches 6 columns left on odd rows: a finite field",
          "[pixelcnnpp][autoregressive]") {
  // Not a blind spot but the reach of few layers: an odd row's own pixels to the left come
  // only through full-resolution down-right convolutions (the halved resolutions pass rows
  // above it), one column each: 1 (input) + 2 (down) + 2 x 2 (up) = 7, of which the short-cut
  // path keeps 6. Even rows also hear the current row through the half resolution.
  Generator gen(12);
  const ImageShape shape{1, 8, 8};
  PixelCnnPP model(tiny_config(4, 3, 2), shape, init_for(gen));
  auto f = [&](const Tensor& x) { return model.channel_params(x); };
  const auto fields = receptive_fields(f, shape, {{7, 7, 0}, {6, 7, 0}});
  INFO(receptive_field_ascii(fields[0]));
  CHECK(fields[0].hidden() == std::vector<Position>{{7, 0, 0}});
  CHECK(fields[1].hidden().empty());
}

TEST_CASE("pixelcnnpp's loss is the mixture NLL in nats per image", "[pixelcnnpp]") {
  Generator gen(3);
  for (int64_t channels : {1, 3}) {
    const ImageShape shape{channels, 4, 8};
    PixelCnnPP model(tiny_config(4, 2, 3), shape, init_for(gen));
    // A zero head: equal logits, mean 0, log-scale 0 and no coupling in every component, so each
    // channel is the discretized logistic(0, 1) on its own.
    for (const char* name : {"head.weight", "head.bias"}) {
      Tensor p = parameter(model, name);
      p.copy_from(Tensor::zeros(p.shape(), DType::f64));
    }
    const Tensor images = random_images(shape, 3, 5);
    const std::vector<double> x = (images.to(DType::f64) * (1.0 / 127.5) - 1.0).to_vector<double>();
    double want = 0;
    for (double v : x)
      want -= math::discretized_logistic_logp(v, 0.0, 0.0) / 3.0;
    const LossOutput out = model.loss(images, gen);
    CHECK(out.nats_per_image == Approx(want).epsilon(1e-12));
    CHECK(out.bits_per_dim ==
          Approx(want / (static_cast<double>(shape.dims()) * std::log(2.0))).epsilon(1e-12));
  }
}

TEST_CASE("pixelcnnpp samples pixel by pixel from its own mixture, seeded",
          "[pixelcnnpp][sampling]") {
  Generator init_gen(8);
  for (int64_t channels : {1, 3}) {
    const ImageShape shape{channels, 4, 4};
    PixelCnnPP model(tiny_config(4, 2, 2), shape, init_for(init_gen, DType::f32));
    INFO("channels " << channels);
    Generator a(99), b(99), other(100);
    const Tensor s1 = model.sample(3, 1.0, a);
    CHECK(s1.shape() == Shape{3, channels, 4, 4});
    CHECK(s1.dtype() == DType::u8);
    CHECK(s1.to_vector<int>() == model.sample(3, 1.0, b).to_vector<int>());
    CHECK(s1.to_vector<int>() != model.sample(3, 1.0, other).to_vector<int>());

    // Cold: each pixel is the top component's coupled mean, rounded to its level. The
    // conditionals recomputed on the finished image are the sampler's (later pixels cannot
    // change them), so the finished image must reproduce itself. Temperature 1e-6 moves a draw
    // by at most ~1e-4 levels; the margin below allows 0.02 of a level for float32 rounding.
    Generator g(5);
    const Tensor cold = model.sample(2, 1e-6, g);
    const int64_t K = 2, C = channels, plane = 16;
    const std::vector<int> v = cold.to_vector<int>();
    const std::vector<double> p =
        model.channel_params(scale_images(cold, DType::f32, Device::cpu())).to_vector<double>();
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t s = 0; s < plane; ++s) {
          auto at = [&](int64_t q) {
            return p[static_cast<size_t>(((n * 3 * K + q) * C + c) * plane + s)];
          };
          const int64_t top = at(1) > at(0) ? 1 : 0;
          const double level = std::clamp((at(K + top) + 1.0) * 127.5, 0.0, 255.0);
          CHECK(std::abs(v[static_cast<size_t>((n * C + c) * plane + s)] - level) <= 0.52);
        }
  }
}

TEST_CASE("pixelcnnpp's parameter gradients match finite differences, dropout on",
          "[pixelcnnpp][gradcheck]") {
  // Float64, 4x4 images, two resolutions, dropout 0.5 with the same seed at every call (the
  // same mask; the finite differences run with gradients recorded, so dropout acts there too). 3
  // elements per tensor keep the ~60 tensors' check to ~400 forward passes. Tolerances:
  // engine/gradcheck.h (a loss of ~100 nats rounds to ~1e-8 in the differences).
  for (int64_t channels : {1, 3}) {
    Generator gen(21);
    const ImageShape shape{channels, 4, 4};
    PixelCnnPP model(tiny_config(2, 2, 2), shape, init_for(gen));
    const Tensor images = random_images(shape, 2, 22);
    ModelGradcheckOptions options;
    options.max_elements_per_tensor = 3;
    const GradcheckReport report = gradcheck_parameters(
        model.parameters(),
        [&] {
          Generator noise(23);
          return model.loss(images, noise).loss;
        },
        options);
    INFO("channels " << channels << "\n" << report.table());
    CHECK(report.passed());
  }
}

TEST_CASE("pixelcnnpp applies dropout only while training", "[pixelcnnpp]") {
  Generator gen(4);
  const ImageShape shape{1, 4, 4};
  PixelCnnPP model(tiny_config(4, 2, 2), shape, init_for(gen));
  const Tensor images = random_images(shape, 2, 6);
  auto loss = [&](uint64_t seed) {
    Generator noise(seed);
    return model.loss(images, noise).nats_per_image;
  };
  // With gradients (training) two seeds drop different units; without, neither drops any.
  CHECK(loss(1) != loss(2));
  NoGradGuard no_grad;
  CHECK(loss(1) == loss(2));
}

TEST_CASE("pixelcnnpp computes the same loss and gradients on every device",
          "[pixelcnnpp][device]") {
  // Dropout on (gradients are recorded): Philox draws the same masks on every device.
  const ImageShape shape{3, 4, 4};
  gm::test::check_same_on_every_device(
      [&](const nn::Init& init) {
        return std::make_unique<PixelCnnPP>(tiny_config(3, 2, 2), shape, init);
      },
      random_images(shape, 2, 51), 50, 52);
}

TEST_CASE("pixelcnnpp weights round-trip through safetensors", "[pixelcnnpp][checkpoint]") {
  const ImageShape shape{3, 4, 4};
  Generator g1(60), g2(61);
  PixelCnnPP saved(tiny_config(4, 2, 2), shape, init_for(g1, DType::f32));
  PixelCnnPP loaded(tiny_config(4, 2, 2), shape, init_for(g2, DType::f32));
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      fmt::format("genmodel_test_pixelcnnpp_{}.safetensors", ::getpid());
  save_safetensors(path, saved.parameters());
  load_into(path, loaded.parameters());
  std::filesystem::remove(path);
  const Tensor images = random_images(shape, 2, 62);
  NoGradGuard no_grad;
  Generator n1(1), n2(1);
  CHECK(loaded.loss(images, n1).nats_per_image == saved.loss(images, n2).nats_per_image);
}

TEST_CASE("pixelcnnpp learns Fashion-MNIST: the loss falls well below its initial value",
          "[pixelcnnpp][learning]") {
  // The centre 16x16 of 256 training images (a third of the work of 28x28), a small PixelCNN++
  // (8 filters, two resolutions, 3 logistics, no dropout), batch 32, Adam 1e-2, 40 steps.
  // The mixture starts far better than a uniform softmax (~5.3 nats per pixel, not ln 256), and
  // Adam moves the log-scales by ~lr per step, so the loss falls steadily rather than at once:
  // this run lands near 0.76 x initial. A broken gradient leaves it within a few percent of the
  // start, so 0.88 x initial separates the two.
  const Tensor full = gm::test::fashion_mnist_images(256);
  const Tensor images = slice(slice(full, 2, 6, 22), 3, 6, 22);
  Generator gen(31);
  PixelCnnPPConfig c = tiny_config(8, 2, 3);
  c.dropout = 0.0;
  PixelCnnPP model(c, {1, 16, 16}, init_for(gen, DType::f32));
  const auto r = gm::test::train_briefly(model, images, 40, 32, 1e-2, 32);
  WARN("pixelcnnpp learning: " << r.initial << " -> " << r.final << " nats/image");
  CHECK(r.final < 0.88 * r.initial);
}
