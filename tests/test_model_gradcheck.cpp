// The whole-model gradient check can be trusted both ways: correct reference models pass at
// several image sizes although their loss is hundreds of nats (the tolerance grows with the
// loss: docs/gradcheck.md), and a gradient that is wrong by 0.1% fails.
#include <catch2/catch.hpp>

#include "engine/ops.h"
#include "models/model_gradcheck.h"
#include "models/registry.h"
#include "tests/cli_helpers.h"
#include "tests/model_helpers.h"

using namespace gm;
using Catch::Matchers::Contains;

TEST_CASE("model gradcheck: a gradient wrong by 0.1% fails", "[gradcheck]") {
  // pixelcnn-ref on two random 6x6 images, float64: a loss of ~160 nats, the same scale as
  // the checks that must pass. The loss gains a copy of itself scaled by 1e-3 that autograd
  // does not see (detached): the true gradient is 1.001 times autograd's.
  const models::ImageShape shape{1, 6, 6};
  Generator init(4);
  auto model = models::make_model("pixelcnn-ref", shape, test::init_for(init));
  const Tensor images = test::random_images(shape, 2, 5);
  models::ModelGradcheckOptions options;
  options.max_elements_per_tensor = 4;
  auto check = [&](double hidden_scale) {
    return models::gradcheck_parameters(
        model->parameters(),
        [&] {
          Generator gen(0);
          const Tensor loss = model->loss(images, gen).loss;
          return add(loss, mul_scalar(loss.detach(), hidden_scale));
        },
        options);
  };
  const GradcheckReport correct = check(0.0);
  INFO(correct.table());
  CHECK(correct.passed());
  const GradcheckReport wrong = check(1e-3);
  INFO(wrong.table());
  CHECK_FALSE(wrong.passed());
  int failing = 0;
  for (const GradcheckResult& r : wrong.inputs)
    failing += r.passed ? 0 : 1;
  // Nearly every tensor: only those whose checked elements have tiny gradients (below
  // ~atol / 1e-3) can hide the error.
  CHECK(failing >= static_cast<int>(wrong.inputs.size()) / 2);
}

TEST_CASE("cli: gradcheck of the reference models passes at several sizes", "[gradcheck]") {
  using gm::test_cli::genmodel;
  // The sizes where the fixed tolerance of 1e-7 reported FAILED on correct models (the errors
  // were the finite-difference rounding floor of a loss of hundreds of nats), and smaller ones.
  // A few elements per tensor keep it fast; the per-tensor worst error is what matters.
  const std::vector<std::pair<std::string, int>> cases = {{"pixelcnn-ref", 4}, {"pixelcnn-ref", 8},
                                                          {"rowlstm-ref", 8},  {"diaglstm-ref", 6},
                                                          {"vae-conv", 8},     {"vae-ref", 12}};
  for (const auto& [model, size] : cases) {
    const auto r = genmodel(
        fmt::format("gradcheck --model {} --size {} --batch 1 --max-elements 6", model, size));
    INFO(model << " at " << size << "\n" << r.output);
    CHECK(r.code == 0);
    CHECK_THAT(r.output, Contains("all tensors pass"));
  }
}
