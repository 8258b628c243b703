// Training results do not depend on the number of OpenMP threads: the reference models, trained
// for a few Adam steps with 1 and with 2 threads, end with bit-identical weights. (OpenBLAS
// splits a GEMM among the threads it is given, and the split changed the rounding;
// kernels/cpu/blas.h fixes the split.) So a run resumed on a machine with another core count
// continues exactly.
#include <omp.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "engine/optim.h"
#include "models/registry.h"
#include "tests/model_helpers.h"

using namespace gm;

namespace {

// The weights of `name` after `steps` Adam steps on seeded random images, with `threads`
// OpenMP threads (restored after).
std::vector<std::vector<float>> trained_weights(const std::string& name, int threads,
                                                int64_t steps) {
  const int previous = omp_get_max_threads();
  omp_set_num_threads(threads);
  const models::ImageShape shape = models::find_model_config(name).default_shape;
  Generator init(1);
  auto model = models::make_model(name, shape, test::init_for(init, DType::f32));
  Adam adam(to_named_tensors(model->parameters()), AdamOptions{.lr = 1e-3});
  Generator noise(2);
  const Tensor images = test::random_images(shape, 8, 3);
  for (int64_t step = 0; step < steps; ++step) {
    adam.zero_grad();
    model->loss(images, noise).loss.backward();
    adam.step();
  }
  std::vector<std::vector<float>> weights;
  for (const auto& p : model->parameters())
    weights.push_back(p.tensor.to_vector<float>());
  omp_set_num_threads(previous);
  return weights;
}

}  // namespace

TEST_CASE("training gives bit-identical weights with 1 and 2 OpenMP threads", "[threads]") {
  // The four reference families at their own image size (28x28: large enough that OpenBLAS
  // would split their GEMMs among threads), batch 8, 2 steps.
  const std::string name = GENERATE("vae-ref", "pixelcnn-ref", "rowlstm-ref", "diaglstm-ref");
  INFO(name);
  // Run twice with 2 threads too: a difference there would come from state kept between runs,
  // not from the thread count.
  const auto two = trained_weights(name, 2, 2), one = trained_weights(name, 1, 2),
             two_again = trained_weights(name, 2, 2);
  auto differing = [](const std::vector<std::vector<float>>& a,
                      const std::vector<std::vector<float>>& b) {
    REQUIRE(a.size() == b.size());
    size_t n = 0;
    for (size_t i = 0; i < a.size(); ++i)
      n += a[i].size() != b[i].size() ||
           std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)) != 0;
    return n;
  };
  CHECK(differing(two, two_again) == 0);
  CHECK(differing(one, two) == 0);
}
