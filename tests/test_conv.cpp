// Convolutions: conv2d, masked conv2d and conv_transpose2d against direct scalar loops in double
// and finite differences, on every device (the cases: support/op_cases/conv.cpp).
#include <omp.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/backend.h"
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

// The CPU sums the bias gradient inside the weight-gradient pass, from each image's dy while the
// GEMM has it in cache. The weight gradient must be the plain entry's bit for bit, the bias
// gradient dy's sum over images and positions, and neither may depend on the thread count.
TEST_CASE("the CPU's weight-gradient pass sums the bias gradient", "[ops][conv]") {
  using namespace gm;
  // (1, A) leaves no tap visible: the bias gradient must still see every position.
  for (auto [kernel, type] :
       {std::pair{int64_t{1}, MaskType::B}, std::pair{int64_t{3}, MaskType::B},
        std::pair{int64_t{7}, MaskType::A}, std::pair{int64_t{1}, MaskType::A}}) {
    for (bool relu : {false, true}) {
      INFO("kernel " << kernel << " relu " << relu);
      Conv2dGeometry g;
      g.batch = 11;  // more images than the pass's 8 groups, not a multiple of them
      g.in_channels = 3;
      g.height = 7;
      g.width = 9;
      g.out_channels = 5;
      g.kernel_h = g.kernel_w = kernel;
      g.pad_h = g.pad_w = kernel / 2;
      const ConvMask mask{type, 1};
      Generator gen(3);
      const Tensor x = Tensor::uniform({11, 3, 7, 9}, -1, 1, gen, DType::f32);
      const Tensor dy = Tensor::uniform({11, 5, 7, 9}, -1, 1, gen, DType::f32);
      Backend& cpu = x.backend();
      auto run = [&](int threads) {
        const int previous = omp_get_max_threads();
        omp_set_num_threads(threads);
        Tensor dw = Tensor::empty({5, 3, kernel, kernel}, DType::f32);
        Tensor db = Tensor::empty({5}, DType::f32);
        cpu.conv2d_backward_weight_bias(g, mask, x, relu, dy, dw, db);
        omp_set_num_threads(previous);
        return std::pair{dw.to_vector<float>(), db.to_vector<float>()};
      };
      const auto [dw, db] = run(2);
      const auto [dw_one, db_one] = run(1);
      CHECK(dw == dw_one);
      CHECK(db == db_one);

      Tensor dw_plain = Tensor::empty({5, 3, kernel, kernel}, DType::f32);
      if (relu)
        cpu.relu_conv2d_backward_weight(g, mask, x, dy, dw_plain);
      else
        cpu.conv2d_backward_weight(g, mask, x, dy, dw_plain);
      CHECK(dw == dw_plain.to_vector<float>());

      const std::vector<float> d = dy.to_vector<float>();
      for (int64_t k = 0; k < 5; ++k) {
        double exact = 0.0;
        for (int64_t n = 0; n < 11; ++n)
          for (int64_t p = 0; p < 63; ++p)
            exact += d[static_cast<size_t>((n * 5 + k) * 63 + p)];
        // Summed in double and rounded once to float: half an ulp of float (2^-24 relative),
        // plus the double sum's own rounding (693 terms below 1: far under 1e-12).
        CHECK(std::abs(db[static_cast<size_t>(k)] - exact) <= std::abs(exact) * 0x1p-24 + 1e-12);
      }
    }
  }
}
