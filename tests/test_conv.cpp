// Convolutions: conv2d, masked conv2d and conv_transpose2d against direct scalar loops in double
// and finite differences, on every device (the cases: support/op_cases/conv.cpp).
#include "engine/autograd.h"
#include "engine/random.h"
#include "tests/support.h"

TEST_CASE("conv2d matches a direct convolution and finite differences", "[ops][conv]") {
  gm::test::check_op_cases("conv2d");
}

TEST_CASE("masked_conv2d matches a direct convolution with the mask applied", "[ops][conv]") {
  gm::test::check_op_cases("masked_conv2d");
}

TEST_CASE("conv_transpose2d matches its scatter definition and finite differences", "[ops][conv]") {
  gm::test::check_op_cases("conv_transpose2d");
}

TEST_CASE("relu_masked_conv2d matches masked_conv2d of relu(x) plus the residual", "[ops][conv]") {
  gm::test::check_op_cases("relu_masked_conv2d");
}

// The fused op replaces relu, masked_conv2d and add in the PixelCNN: its float32 values and
// gradients must be those of the three ops bit for bit, so trained models and the samplers'
// bit-identity do not depend on which form ran.
TEST_CASE("relu_masked_conv2d equals the unfused ops bit for bit in float32", "[ops][conv]") {
  using namespace gm;
  for (Device device : test::test_devices()) {
    for (auto [kernel, type] :
         {std::pair{int64_t{1}, MaskType::B}, std::pair{int64_t{3}, MaskType::B},
          std::pair{int64_t{7}, MaskType::A}}) {
      INFO(device.name() << " kernel " << kernel);
      Generator gen(7);
      auto leaf = [&](const Shape& s) {
        return Tensor::uniform(s, -1, 1, gen, DType::f32).to(device).set_requires_grad();
      };
      Tensor x = leaf({3, 8, 9, 7}), w = leaf({6, 8, kernel, kernel}), b = leaf({6});
      Tensor r = leaf({3, 6, 9, 7});
      const Tensor weights = leaf({3, 6, 9, 7}).detach();
      std::vector<std::vector<float>> got, want;
      for (bool fused : {true, false}) {
        const Tensor y = fused ? relu_masked_conv2d(x, w, b, type, 1, r)
                               : r + masked_conv2d(relu(x), w, b, type);
        sum(y * weights).backward();
        auto& out = fused ? got : want;
        out = {y.to_vector<float>()};
        for (Tensor* t : {&x, &w, &b, &r}) {
          out.push_back(t->grad().to_vector<float>());
          t->zero_grad();
        }
      }
      for (size_t i = 0; i < got.size(); ++i) {
        INFO("output 0 is y, then the gradients of x, w, b, r; this is " << i);
        CHECK(got[i] == want[i]);
      }
    }
  }
}
