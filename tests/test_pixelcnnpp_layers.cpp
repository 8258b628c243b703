// PixelCNN++'s building blocks: dropout (statistics, gradient, seeding, every device) and the
// shifted convolutions' causality, measured with autograd.
#include <cmath>

#include "engine/autograd.h"
#include "models/pixelcnnpp/layers.h"
#include "tests/model_helpers.h"
#include "tests/support.h"

using namespace gm;
using namespace gm::models::pixelcnnpp;

TEST_CASE("dropout zeroes a fraction p and scales the rest by 1 / (1 - p)", "[nn][dropout]") {
  const int64_t n = 20000;
  const double p = 0.3;
  for (Device device : gm::test::test_devices()) {
    for (DType dtype : {DType::f32, DType::f64}) {
      INFO(device.name() << " " << dtype_name(dtype));
      Generator init(1);
      Tensor x = Tensor::uniform({n}, 0.5, 1.5, init, dtype, device);
      x.set_requires_grad();
      Generator gen(2);
      const Tensor y = nn::dropout(x, p, gen);
      const std::vector<double> xs = x.to_vector<double>(), ys = y.to_vector<double>();
      int64_t dropped = 0;
      for (size_t i = 0; i < xs.size(); ++i) {
        if (ys[i] == 0.0) {
          ++dropped;
          continue;
        }
        // Kept: x / (1 - p), one rounding of the dtype.
        REQUIRE(ys[i] == Approx(xs[i] / (1 - p)).epsilon(dtype == DType::f32 ? 1e-6 : 1e-15));
      }
      // Binomial(20000, 0.3): standard deviation 65 drops; 5 of them is a 1-in-a-million miss.
      CHECK(std::abs(static_cast<double>(dropped) - p * n) < 5 * std::sqrt(n * p * (1 - p)));
      // The gradient is the mask: 0 where dropped, 1 / (1 - p) where kept.
      sum(y).backward();
      const std::vector<double> g = x.grad().to_vector<double>();
      for (size_t i = 0; i < g.size(); ++i)
        REQUIRE(g[i] == Approx(ys[i] == 0.0 ? 0.0 : 1 / (1 - p)).epsilon(1e-6));

      // Seeded: the same generator state draws the same mask on every device.
      Generator again(2), cpu_gen(2);
      CHECK(nn::dropout(x, p, again).to_vector<double>() == ys);
      CHECK(nn::dropout(x.to(Device::cpu()), p, cpu_gen).to_vector<double>() == ys);
    }
  }
  Generator gen(3);
  const Tensor x = Tensor::ones({4});
  CHECK(nn::dropout(x, 0.0, gen).to_vector<double>() == x.to_vector<double>());
  CHECK_THROWS_WITH(nn::dropout(x, 1.0, gen), Catch::Contains("[0, 1)"));
}

namespace {

// Which input positions (row, col) output (row, col) of a one-channel layer depends on.
std::vector<std::pair<int64_t, int64_t>> inputs_seen(const std::function<Tensor(const Tensor&)>& f,
                                                     int64_t size, int64_t row, int64_t col) {
  Generator gen(4);
  Tensor x = Tensor::uniform({1, 1, size, size}, -1.0, 1.0, gen, DType::f64);
  x.set_requires_grad();
  const Tensor y = f(x);
  const int64_t w = y.size(3);
  std::vector<double> seed(static_cast<size_t>(y.numel()), 0.0);
  seed[static_cast<size_t>(row * w + col)] = 1.0;
  y.backward(Tensor::from_vector(seed, y.shape(), DType::f64));
  std::vector<std::pair<int64_t, int64_t>> seen;
  const std::vector<double> g = x.grad().to_vector<double>();
  for (int64_t i = 0; i < size * size; ++i)
    if (g[static_cast<size_t>(i)] != 0.0) seen.emplace_back(i / size, i % size);
  return seen;
}

}  // namespace

TEST_CASE("shifted convolutions see only what their padding allows", "[pixelcnnpp]") {
  Generator gen(5);
  const nn::Init init = gm::test::init_for(gen);
  using Seen = std::vector<std::pair<int64_t, int64_t>>;
  // 2x3 down: rows i-1..i, columns j-1..j+1 (then a down shift excludes row i).
  ShiftedConv2d down(1, 1, 2, 3, Shift::down, init);
  CHECK(inputs_seen([&](const Tensor& x) { return down(x); }, 6, 3, 2) ==
        Seen{{2, 1}, {2, 2}, {2, 3}, {3, 1}, {3, 2}, {3, 3}});
  CHECK(inputs_seen([&](const Tensor& x) { return down_shift(down(x)); }, 6, 3, 2) ==
        Seen{{1, 1}, {1, 2}, {1, 3}, {2, 1}, {2, 2}, {2, 3}});
  // 2x2 down-right: rows i-1..i, columns j-1..j.
  ShiftedConv2d down_right(1, 1, 2, 2, Shift::down_right, init);
  CHECK(inputs_seen([&](const Tensor& x) { return down_right(x); }, 6, 3, 2) ==
        Seen{{2, 1}, {2, 2}, {3, 1}, {3, 2}});
  // Stride 2 halves the size; low-resolution (i, j) summarises rows 2i-1..2i.
  ShiftedConv2d half(1, 1, 2, 3, Shift::down, init, 2);
  CHECK(inputs_seen([&](const Tensor& x) { return half(x); }, 6, 1, 1) ==
        Seen{{1, 1}, {1, 2}, {1, 3}, {2, 1}, {2, 2}, {2, 3}});
  // The transposed convolutions double it: full-resolution (i, j) hears low-resolution rows
  // i/2 (never a later one) and, down-right, only columns <= j/2.
  ShiftedDeconv2d up(1, 1, 2, 3, Shift::down, init);
  ShiftedDeconv2d up_right(1, 1, 2, 2, Shift::down_right, init);
  CHECK(up(Tensor::zeros({1, 1, 3, 3}, DType::f64)).shape() == Shape{1, 1, 6, 6});
  CHECK(inputs_seen([&](const Tensor& x) { return up(x); }, 3, 3, 1) == Seen{{1, 0}, {1, 1}});
  CHECK(inputs_seen([&](const Tensor& x) { return up(x); }, 3, 2, 3) == Seen{{1, 1}, {1, 2}});
  CHECK(inputs_seen([&](const Tensor& x) { return up_right(x); }, 3, 3, 3) == Seen{{1, 1}});
}
