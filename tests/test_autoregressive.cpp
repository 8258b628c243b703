// The autoregressive-property machinery (models/autoregressive.h), tested on small hand-built
// networks whose dependencies are known exactly, so that the probe itself is trusted before
// it judges PixelCNN and PixelRNN (tests/test_pixelcnn.cpp, tests/test_pixelrnn*.cpp).
#include <algorithm>

#include "models/autoregressive.h"
#include "tests/support.h"

using namespace gm;
using namespace gm::models;

namespace {

// Shifts an [N, C, H, W] image down by one row / right by one column (zeros enter).
Tensor shift_down(const Tensor& x) {
  return pad2d(x, 1, -1, 0, 0);
}
Tensor shift_right(const Tensor& x) {
  return pad2d(x, 0, 0, 1, -1);
}
Tensor shift_up(const Tensor& x) {
  return pad2d(x, -1, 1, 0, 0);
}

// [N, C, H, W] features -> logits [N, 2, C, H, W]: two different non-linear read-outs, so the
// probe sees V > 1 values per position.
Tensor two_logits(const Tensor& features) {
  const Shape s = features.shape();
  Tensor a = reshape(tanh(features), {s[0], 1, s[1], s[2], s[3]});
  Tensor b = reshape(square(features), {s[0], 1, s[1], s[2], s[3]});
  return concat({a, b}, 1);
}

// A causal grey network: position (y, x) sees exactly (y-1, x) and (y, x-1).
Tensor causal_grey(const Tensor& x) {
  return two_logits(shift_down(x) + shift_right(x) * shift_down(x));
}

std::vector<Position> sorted(std::vector<Position> v, const ImageShape& s) {
  std::sort(v.begin(), v.end(), [&](const Position& a, const Position& b) {
    return generation_index(s, a) < generation_index(s, b);
  });
  return v;
}

}  // namespace

TEST_CASE("generation order is raster order, then colour channel", "[autoregressive]") {
  const ImageShape s{3, 4, 5};
  CHECK(generation_index(s, {0, 0, 0}) == 0);
  CHECK(generation_index(s, {0, 0, 2}) == 2);
  CHECK(generation_index(s, {0, 1, 0}) == 3);
  CHECK(generation_index(s, {1, 0, 0}) == 15);
  for (int64_t i = 0; i < s.dims(); ++i)
    CHECK(generation_index(s, position_at(s, i)) == i);
}

TEST_CASE("the probe finds exactly the inputs a causal network uses", "[autoregressive]") {
  const ImageShape s{1, 5, 6};
  const ReceptiveField f = receptive_field(causal_grey, s, {2, 3, 0});
  CHECK(f.leaks().empty());
  const std::vector<Position> want = {{1, 3, 0}, {2, 2, 0}};
  CHECK(sorted(f.visible(), s) == want);
  // Everything else before (2, 3) is unseen: 2 * 6 + 3 = 15 earlier positions, 2 seen.
  CHECK(f.hidden().size() == 13);

  const AutoregressiveCheck all = check_autoregressive(causal_grey, s);
  CHECK(all.positions == 30);
  CHECK(all.ok());
  CHECK(all.summary() == "checked 30 positions: no leaks");
}

TEST_CASE("the probe reports a network that sees the current or a future pixel",
          "[autoregressive]") {
  const ImageShape s{1, 4, 4};
  // Sees itself: every position leaks (j == i is not allowed).
  const AutoregressiveCheck self =
      check_autoregressive([](const Tensor& x) { return two_logits(x + shift_down(x)); }, s);
  CHECK(self.leaks.size() == 16);
  CHECK(self.leaks.front().first == self.leaks.front().second);

  // Sees the pixel below: every position but the last row leaks, and the report names it.
  const AutoregressiveCheck below =
      check_autoregressive([](const Tensor& x) { return two_logits(shift_up(x)); }, s);
  REQUIRE(below.leaks.size() == 12);
  CHECK(below.leaks.front().first == Position{0, 0, 0});
  CHECK(below.leaks.front().second == Position{1, 0, 0});
  CHECK(below.summary().find("output (row 0, col 0, ch 0) sees input (row 1, col 0, ch 0)") !=
        std::string::npos);
}

TEST_CASE("within a pixel, a colour channel may see only the channels before it",
          "[autoregressive]") {
  const ImageShape s{3, 3, 3};
  // Output channel c reads input channel c - 1 of the same pixel (R reads nothing): allowed.
  auto previous_channel = [](const Tensor& x) {
    Tensor zero = slice(x, 1, 0, 1) * 0.0;
    return two_logits(concat({zero, slice(x, 1, 0, 1), slice(x, 1, 1, 2)}, 1));
  };
  const AutoregressiveCheck ok = check_autoregressive(previous_channel, s);
  CHECK(ok.ok());
  const ReceptiveField blue = receptive_field(previous_channel, s, {1, 1, 2});
  CHECK(blue.visible() == std::vector<Position>{{1, 1, 1}});

  // Output R reads input G of the same pixel: G comes later in the order, a leak.
  auto next_channel = [](const Tensor& x) {
    return two_logits(concat({slice(x, 1, 1, 2), slice(x, 1, 0, 1), slice(x, 1, 1, 2)}, 1));
  };
  const AutoregressiveCheck bad = check_autoregressive(next_channel, s);
  CHECK(bad.leaks.size() == 9);  // R of every pixel
  for (const auto& [i, j] : bad.leaks) {
    CHECK(i.channel == 0);
    CHECK(j == Position{i.row, i.col, 1});
  }
}

TEST_CASE("the receptive field picture marks seen, unseen, future and leaking positions",
          "[autoregressive]") {
  const ImageShape s{1, 3, 4};
  const ReceptiveField f = receptive_field(causal_grey, s, {1, 2, 0});
  CHECK(receptive_field_ascii(f) ==
        "o o # o\n"
        "o # X .\n"
        ". . . .\n");

  const ReceptiveField leak =
      receptive_field([](const Tensor& x) { return two_logits(x + shift_up(x)); }, s, {1, 2, 0});
  CHECK(receptive_field_ascii(leak) ==
        "o o o o\n"
        "o o ! .\n"
        ". . ! .\n");

  const Tensor image = receptive_field_image(f, 4);
  CHECK(image.shape() == Shape{3, 12, 16});
  CHECK(image.dtype() == DType::u8);
  // Inside the target cell (row 1, col 2), away from its border: red.
  const std::vector<int32_t> px = image.to_vector<int32_t>();
  auto at = [&](int k, int y, int x) { return px[static_cast<size_t>((k * 12 + y) * 16 + x)]; };
  CHECK(at(0, 6, 10) == 255);
  CHECK(at(1, 6, 10) < 50);
}

TEST_CASE("the probe rejects a network with the wrong output layout", "[autoregressive]") {
  const ImageShape s{1, 3, 3};
  CHECK_THROWS_WITH(receptive_field([](const Tensor& x) { return tanh(x); }, s, {1, 1, 0}),
                    Catch::Contains("logits [N, V, C, H, W]"));
  CHECK_THROWS_WITH(receptive_field(causal_grey, s, {3, 0, 0}), Catch::Contains("outside"));
}
