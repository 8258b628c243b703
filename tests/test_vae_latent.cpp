// Using a VAE's latent space: what sampling temperature does to the pixel noise of each decoder
// likelihood and to the whole sampler, and the per-dimension sweep (the lecture's edit).
#include <cmath>

#include "models/vae/vae.h"
#include "tests/model_helpers.h"
#include "tests/support.h"

using namespace gm;
using namespace gm::models;
using gm::test::init_for;
using gm::test::random_images;

namespace {

VaeConfig tiny_vae(Likelihood l) {
  VaeConfig c;
  c.name = "vae-tiny";
  c.likelihood = l;
  c.hidden = 7;
  c.latent = 3;
  return c;
}

// Decoder parameters [1, 2, D] with every mean m and log-scale (or log-variance) q.
Tensor constant_params(int64_t d, double m, double q) {
  std::vector<double> v(static_cast<size_t>(2 * d), m);
  std::fill(v.begin() + d, v.end(), q);
  return Tensor::from_vector(v, {1, 2, d}, DType::f32);
}

double standard_deviation(const std::vector<double>& v) {
  double mean = 0.0, sq = 0.0;
  for (double x : v)
    mean += x / static_cast<double>(v.size());
  for (double x : v)
    sq += (x - mean) * (x - mean) / static_cast<double>(v.size() - 1);
  return std::sqrt(sq);
}

}  // namespace

TEST_CASE("temperature scales the pixel noise of every decoder likelihood", "[vae][temperature]") {
  const int64_t d = 20000;
  for (Likelihood l : {Likelihood::logistic, Likelihood::gaussian}) {
    INFO(likelihood_name(l));
    // Mean 0 (level 127.5) and a spread of about 13 levels at T = 1, far from the 0 and 255
    // ends, so that clipping does not shrink the spread.
    const double q = l == Likelihood::logistic ? std::log(0.06) : 2.0 * std::log(0.1);
    const Tensor params = constant_params(d, 0.0, q);
    Generator gen(3);
    const double s1 =
        standard_deviation(likelihood_sample(l, params, gen, 1.0).to_vector<double>());
    const double sh =
        standard_deviation(likelihood_sample(l, params, gen, 0.5).to_vector<double>());
    // 20000 draws estimate a standard deviation to about 1% (1/sqrt(2 d) for the Gaussian, a
    // little more for the logistic's heavier tails); rounding to levels adds 1/12 level^2 of
    // variance, negligible at this spread. 5% covers both.
    CHECK(sh / s1 == Approx(0.5).epsilon(0.05));
  }
  // Bernoulli: the logit is divided by T, so P(1) = sigmoid(logit / T).
  const Tensor logits = Tensor::full({1, 1, d}, 0.5, DType::f32);
  Generator gen(4);
  for (double t : {1.0, 0.25}) {
    const std::vector<double> bits =
        likelihood_sample(Likelihood::bernoulli, logits, gen, t).to_vector<double>();
    double ones = 0.0;
    for (double b : bits)
      ones += b / 255.0 / static_cast<double>(d);
    // A binomial proportion over 20000 draws has standard error <= 0.0036; 0.015 is 4 of them.
    CHECK(ones == Approx(1.0 / (1.0 + std::exp(-0.5 / t))).margin(0.015));
  }
  Generator g(5);
  CHECK_THROWS_WITH(likelihood_sample(Likelihood::logistic, constant_params(4, 0, 0), g, 0.0),
                    Catch::Contains("temperature"));
}

TEST_CASE("a VAE sample at temperature near 0 is the mean decoding of z = 0",
          "[vae][temperature]") {
  Generator gen(6);
  for (Likelihood l : {Likelihood::logistic, Likelihood::gaussian, Likelihood::bernoulli}) {
    INFO(likelihood_name(l));
    VaeModel model(tiny_vae(l), {1, 4, 4}, init_for(gen, DType::f64));
    const Tensor zero = Tensor::zeros({3, 3}, DType::f64);
    const std::vector<int> mode = model.decode(zero, DecodeMode::mean, gen).to_vector<int>();
    // T = 1e-9 moves z and each pixel by ~1e-9 of their scale: no pixel changes level unless
    // its mean lies within that of a rounding boundary (the Bernoulli's draw is then the more
    // likely value, which its mean decoding rounds to).
    const std::vector<int> cold = model.sample(3, 1e-9, gen).to_vector<int>();
    if (l == Likelihood::bernoulli) {
      for (size_t i = 0; i < cold.size(); ++i)
        CHECK(cold[i] == (mode[i] >= 128 ? 255 : 0));
    } else {
      CHECK(cold == mode);
    }
  }
}

TEST_CASE("a latent sweep decodes the image's mean with one dimension replaced", "[vae]") {
  Generator gen(7);
  const ImageShape shape{1, 4, 4};
  VaeModel model(tiny_vae(Likelihood::logistic), shape, init_for(gen, DType::f64));
  const Tensor image = random_images(shape, 1, 8);
  const Tensor sweep = model.sweep(image, {2, 0}, 3, 2.5, DecodeMode::mean, gen);
  REQUIRE(sweep.shape() == Shape{6, 1, 4, 4});
  const std::vector<double> mu = model.encode(image, gen).mu.to_vector<double>();
  // Row 0 sweeps dimension 2 over -2.5, 0, 2.5; row 1 dimension 0.
  for (auto [row, dim] : {std::pair{0, 2}, std::pair{1, 0}})
    for (int step = 0; step < 3; ++step) {
      std::vector<double> z = mu;
      z[static_cast<size_t>(dim)] = -2.5 + 2.5 * step;
      const Tensor expected =
          model.decode(Tensor::from_vector(z, {1, 3}, DType::f64), DecodeMode::mean, gen);
      const int64_t i = row * 3 + step;
      CHECK(slice(sweep, 0, i, i + 1).to_vector<int>() == expected.to_vector<int>());
    }
  CHECK_THROWS_WITH(model.sweep(image, {3}, 3, 2.5, DecodeMode::mean, gen),
                    Catch::Contains("dimension 3 does not exist"));
  CHECK_THROWS_WITH(model.sweep(random_images(shape, 2, 9), {0}, 3, 2.5, DecodeMode::mean, gen),
                    Catch::Contains("one image"));
  CHECK_THROWS_WITH(model.sweep(image, {0}, 1, 2.5, DecodeMode::mean, gen),
                    Catch::Contains("at least 2 steps"));
}
