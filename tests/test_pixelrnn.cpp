// PixelRNN: skewing, the LSTM scan (against a scalar oracle and finite differences), the two
// layers' autoregressive property and receptive fields, whole-model gradient checks,
// parameter counts, sampling and learning on Fashion-MNIST.
#include <cmath>
#include <iostream>

#include "engine/autograd.h"
#include "models/autoregressive.h"
#include "models/pixelrnn/pixelrnn.h"
#include "models/registry.h"
#include "tests/model_helpers.h"
#include "tests/support.h"

using namespace gm;
using gm::test::HostValues;
using gm::test::OpCase;
using pixelrnn::Architecture;
using pixelrnn::PixelRnn;
using pixelrnn::PixelRnnConfig;

using test::make_pixelrnn;
using test::small_pixelrnn_config;

TEST_CASE("skew shifts row r right by r, unskew reads it back", "[pixelrnn][skew]") {
  // One image, one channel, 3 x 3 with values 1..9.
  const Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  const std::vector<double> want = {1, 2, 3, 0, 0,  //
                                    0, 4, 5, 6, 0,  //
                                    0, 0, 7, 8, 9};
  const Tensor s = skew(x);
  CHECK(s.shape() == Shape{1, 1, 3, 5});
  CHECK(s.to_vector<double>() == want);
  CHECK(unskew(s).to_vector<double>() == x.to_vector<double>());
  // The scan's layout is the same map transposed; `reverse` skews the mirrored image.
  CHECK(skew_columns(x, false).to_vector<double>() == permute(s, {0, 1, 3, 2}).to_vector<double>());
  CHECK(skew_columns(x, true).to_vector<double>() ==
        permute(skew(flip(x, 3)), {0, 1, 3, 2}).to_vector<double>());
}

TEST_CASE("skew of a taller than wide map is H+W-1 wide", "[pixelrnn][skew]") {
  // 3 x 2: the last row ends in column (H-1) + (W-1) = 3, past 2W-1 = 3 columns.
  const Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {1, 1, 3, 2});
  const std::vector<double> want = {1, 2, 0, 0,  //
                                    0, 3, 4, 0,  //
                                    0, 0, 5, 6};
  const Tensor s = skew(x);
  CHECK(s.shape() == Shape{1, 1, 3, 4});
  CHECK(s.to_vector<double>() == want);
  CHECK(unskew(s).to_vector<double>() == x.to_vector<double>());
  CHECK(skew_columns(x, false).to_vector<double>() == permute(s, {0, 1, 3, 2}).to_vector<double>());
}

TEST_CASE("skew round trips on odd shapes", "[pixelrnn][skew]") {
  Generator gen(11);
  // Wider than tall, taller than wide, a single row and a single column.
  for (const Shape& shape :
       {Shape{2, 3, 4, 5}, Shape{2, 3, 7, 3}, Shape{1, 2, 1, 4}, Shape{1, 2, 4, 1}}) {
    INFO("shape " << shape_str(shape));
    const Tensor x = Tensor::uniform(shape, -1, 1, gen, DType::f64);
    for (bool reverse : {false, true}) {
      INFO("reverse " << reverse);
      const Tensor s = skew_columns(x, reverse);
      CHECK(s.shape() == Shape{shape[0], shape[1], shape[2] + shape[3] - 1, shape[2]});
      CHECK(unskew_columns(s, reverse).to_vector<double>() == x.to_vector<double>());
    }
    CHECK(unskew(skew(x)).to_vector<double>() == x.to_vector<double>());
  }
  // A skewed [H, W] map is at least H wide (W >= 1).
  REQUIRE_THROWS_WITH(unskew(Tensor::zeros({1, 1, 3, 2})), Catch::Contains("not a skewed map"));
  REQUIRE_THROWS_WITH(unskew_columns(Tensor::zeros({1, 1, 2, 3}), false),
                      Catch::Contains("H+W-1 wide"));
  REQUIRE_THROWS_WITH(skew(Tensor::zeros({1, 1, 0, 3})), Catch::Contains("no rows"));
}

TEST_CASE("skew ops match their oracle and finite differences", "[pixelrnn][skew]") {
  for (const char* op : {"skew", "unskew", "skew_columns", "unskew_columns"})
    gm::test::check_op_cases(op);
}

TEST_CASE("lstm_scan matches a scalar LSTM and finite differences", "[pixelrnn][scan]") {
  gm::test::check_op_cases("lstm_scan");
}

TEST_CASE("lstm_scan rejects inconsistent shapes with a clear message", "[pixelrnn][scan]") {
  const Tensor w = Tensor::zeros({8, 2, 3}), b = Tensor::zeros({8});
  REQUIRE_THROWS_WITH(lstm_scan(Tensor::zeros({1, 6, 3, 3}), w, b, 1),
                      Catch::Contains("4h = 8 gate channels"));
  REQUIRE_THROWS_WITH(lstm_scan(Tensor::zeros({1, 8, 3, 3}), w, b, 3),
                      Catch::Contains("pad_before 3"));
  REQUIRE_THROWS_WITH(lstm_scan(Tensor::zeros({1, 8, 3, 3}), w, b, 1, 3),
                      Catch::Contains("colour groups"));
}

TEST_CASE("the Row LSTM's 1x3 mask-B kernel sees the left and centre taps only",
          "[pixelrnn][conv]") {
  Generator gen(5);
  const Tensor x = Tensor::uniform({2, 3, 4, 5}, -1, 1, gen, DType::f64);
  const Tensor w = Tensor::uniform({4, 3, 1, 3}, -1, 1, gen, DType::f64);
  const Tensor masked = masked_conv2d(x, w, Tensor(), MaskType::B);
  // The same as a 1x2 convolution (left, centre) over the input padded by one column on the
  // left: the right tap's weights never enter.
  const Tensor plain = conv2d(pad2d(x, 0, 0, 1, 0), slice(w, 3, 0, 2), Tensor());
  gm::test::require_close(masked.to_vector<double>(), plain.to_vector<double>(), 1e-12, 1e-12,
                          "masked 1x3 vs 1x2");
}

// ---- the autoregressive property and the receptive fields ---------------------------------

namespace {

// What the architecture claims, computed from its definition alone (grey images): fields[q]
// is the set of pixels that the features at position q depend on, positions in raster order.
using Fields = std::vector<std::vector<bool>>;

// The MaskA k x k convolution: rows above within k/2, and the k/2 pixels to the left.
Fields mask_a_fields(int64_t h, int64_t w, int64_t k) {
  const int64_t reach = k / 2;
  Fields f(static_cast<size_t>(h * w), std::vector<bool>(static_cast<size_t>(h * w), false));
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c)
      for (int64_t r2 = 0; r2 < h; ++r2)
        for (int64_t c2 = 0; c2 < w; ++c2) {
          const bool above = r2 < r && r - r2 <= reach && std::abs(c2 - c) <= reach;
          const bool left = r2 == r && c2 < c && c - c2 <= reach;
          f[static_cast<size_t>(r * w + c)][static_cast<size_t>(r2 * w + c2)] = above || left;
        }
  return f;
}

// A residual recurrent layer: the features at q afterwards depend on what those at q did and
// on everything the features at the positions `feeds(q)` depended on.
template <typename Feeds>
Fields layer_fields(const Fields& in, int64_t h, int64_t w, Feeds feeds) {
  Fields out = in;
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c)
      for (int64_t r2 = 0; r2 < h; ++r2)
        for (int64_t c2 = 0; c2 < w; ++c2)
          if (feeds(r, c, r2, c2))
            for (size_t p = 0; p < in.size(); ++p)
              if (in[static_cast<size_t>(r2 * w + c2)][p])
                out[static_cast<size_t>(r * w + c)][p] = true;
  return out;
}

// Row LSTM: h(r, c) reads x(r, c-1), x(r, c) and h(r-1, c-1 .. c+1), so going d rows up it
// reaches the features at columns c-1-d .. c+d: a triangle.
bool row_lstm_feeds(int64_t r, int64_t c, int64_t r2, int64_t c2) {
  const int64_t d = r - r2;
  return d >= 0 && c2 >= c - 1 - d && c2 <= c + d;
}
// Diagonal BiLSTM: the left-to-right state at (r, c) reads everything up and to the left
// (inclusive); the right-to-left state, shifted down a row, everything up and to the right in
// the rows above. Together: all rows above, and row r up to c.
bool diagonal_feeds(int64_t r, int64_t c, int64_t r2, int64_t c2) {
  return (r2 <= r && c2 <= c) || (r2 <= r - 1 && c2 >= c);
}

Fields claimed_fields(Architecture a, int64_t h, int64_t w, int layers) {
  Fields f = mask_a_fields(h, w, 7);
  for (int i = 0; i < layers; ++i)
    f = a == Architecture::row_lstm ? layer_fields(f, h, w, row_lstm_feeds)
                                    : layer_fields(f, h, w, diagonal_feeds);
  return f;
}

std::vector<models::Position> all_positions(const models::ImageShape& s) {
  std::vector<models::Position> out;
  for (int64_t i = 0; i < s.dims(); ++i)
    out.push_back(models::position_at(s, i));
  return out;
}

}  // namespace

TEST_CASE(
    "PixelRNN grey: no output sees its own or a later pixel, and each sees exactly what "
    "its architecture claims",
    "[pixelrnn][autoregressive]") {
  // Wider than tall and taller than wide: the Diagonal BiLSTM's skewed map is H+W-1 wide.
  for (const models::ImageShape shape : {models::ImageShape{1, 6, 7}, models::ImageShape{1, 7, 4}})
    for (Architecture a : {Architecture::row_lstm, Architecture::diagonal_bilstm}) {
      const PixelRnnConfig cfg = small_pixelrnn_config(a, 8, 4);
      INFO(cfg.name << " on " << shape.height << " x " << shape.width);
      auto model = make_pixelrnn(cfg, shape, 3);
      const models::LogitsFn f = [&](const Tensor& x) { return model->logits(x); };
      const std::vector<models::ReceptiveField> fields =
          models::receptive_fields(f, shape, all_positions(shape));
      const Fields claimed = claimed_fields(a, shape.height, shape.width, cfg.layers);
      for (const models::ReceptiveField& field : fields) {
        INFO("target " << models::position_str(field.target) << "\n"
                       << models::receptive_field_ascii(field));
        // Exactly zero gradient at the target and after it ...
        REQUIRE(field.leaks().empty());
        // ... and non-zero exactly where the architecture's definition says.
        const auto& want =
            claimed[static_cast<size_t>(field.target.row * shape.width + field.target.col)];
        for (int64_t p = 0; p < shape.height * shape.width; ++p)
          CHECK(field.sees({p / shape.width, p % shape.width, 0}) == want[static_cast<size_t>(p)]);
      }
    }
}

TEST_CASE("Row LSTM sees a triangle above, Diagonal BiLSTM the whole context but one pixel",
          "[pixelrnn][autoregressive]") {
  const models::ImageShape shape{1, 6, 7};
  auto row = make_pixelrnn(small_pixelrnn_config(Architecture::row_lstm, 8, 4), shape, 4);
  auto diag = make_pixelrnn(small_pixelrnn_config(Architecture::diagonal_bilstm, 8, 4), shape, 4);
  const models::LogitsFn row_f = [&](const Tensor& x) { return row->logits(x); };
  const models::LogitsFn diag_f = [&](const Tensor& x) { return diag->logits(x); };
  for (const models::Position& t : all_positions(shape)) {
    const models::ReceptiveField rf = models::receptive_field(row_f, shape, t);
    INFO("Row LSTM, target " << models::position_str(t) << "\n"
                             << models::receptive_field_ascii(rf));
    // The triangle: d rows up, every column within d of the target's.
    for (int64_t r = 0; r < t.row; ++r)
      for (int64_t c = 0; c < shape.width; ++c)
        if (std::abs(c - t.col) <= t.row - r) CHECK(rf.sees({r, c, 0}));
  }
  // Its blind region: from (1, 0) the right end of row 0 is out of reach (the 7x7 MaskA
  // reaches 3 columns, the two layers' triangles one more row each).
  const std::vector<models::Position> row_hidden = {{0, 4, 0}, {0, 5, 0}, {0, 6, 0}};
  CHECK(models::receptive_field(row_f, shape, {1, 0, 0}).hidden() == row_hidden);

  // The Diagonal BiLSTM's layers reach the features of every earlier position. The one pixel
  // it cannot see is the last of the row above, when the target is more than 3 columns from
  // the right edge: the MaskA features holding that pixel all lie to the right of the target
  // in its own row (or below), which no causal layer may read.
  for (const models::Position& t : all_positions(shape)) {
    const models::ReceptiveField rf = models::receptive_field(diag_f, shape, t);
    INFO("Diagonal BiLSTM, target " << models::position_str(t) << "\n"
                                    << models::receptive_field_ascii(rf));
    std::vector<models::Position> want_hidden;
    if (t.row >= 1 && t.col < shape.width - 4)
      want_hidden.push_back({t.row - 1, shape.width - 1, 0});
    CHECK(rf.hidden() == want_hidden);
  }
}

TEST_CASE("PixelRNN colour: no leaks, and each colour sees the earlier colours of its pixel",
          "[pixelrnn][autoregressive]") {
  const models::ImageShape shape{3, 4, 5};
  models::ProbeOptions probe;
  probe.repeats = 3;  // fewer channels per colour group: more random inputs against dead ReLUs
  for (Architecture a : {Architecture::row_lstm, Architecture::diagonal_bilstm}) {
    const PixelRnnConfig cfg = small_pixelrnn_config(a, 12, 6);
    INFO(cfg.name);
    auto model = make_pixelrnn(cfg, shape, 5);
    const models::LogitsFn f = [&](const Tensor& x) { return model->logits(x); };
    const models::AutoregressiveCheck check = models::check_autoregressive(f, shape, probe);
    INFO(check.summary());
    CHECK(check.positions == shape.dims());
    CHECK(check.ok());
    for (const models::Position& t : {models::Position{2, 3, 1}, models::Position{2, 3, 2}}) {
      const models::ReceptiveField rf = models::receptive_field(f, shape, t, probe);
      INFO(models::receptive_field_ascii(rf));
      for (int64_t ch = 0; ch < t.channel; ++ch)
        CHECK(rf.sees({t.row, t.col, ch}));
    }
  }
}

TEST_CASE("PixelRNN rows are causal: the top rows alone give the same logits",
          "[pixelrnn][sampling]") {
  // Sampling runs the network on the rows generated so far; this is why that is exact.
  // Wider than tall, then taller than wide (from row 5 on, the top rows are too).
  for (const models::ImageShape shape : {models::ImageShape{1, 5, 6}, models::ImageShape{1, 8, 4}})
    for (Architecture a : {Architecture::row_lstm, Architecture::diagonal_bilstm}) {
      const PixelRnnConfig cfg = small_pixelrnn_config(a, 6, 3);
      INFO(cfg.name << " on " << shape.height << " x " << shape.width);
      Generator gen(9);
      const Tensor x = Tensor::uniform({2, 1, shape.height, shape.width}, -1, 1, gen, DType::f64);
      auto model = make_pixelrnn(cfg, shape, 8);
      NoGradGuard no_grad;
      const Tensor full = model->logits(x);
      for (int64_t rows = 1; rows <= shape.height; ++rows) {
        const Tensor top = model->logits(slice(x, 2, 0, rows));
        // Same arithmetic on fewer rows; only GEMM blocking may reorder sums (float64).
        gm::test::require_close(top.to_vector<double>(),
                                slice(full, 3, 0, rows).to_vector<double>(), 1e-12, 1e-10,
                                "top rows");
      }
    }
}

// Not run by ctest (hidden tag): prints the receptive-field and skew pictures of
// docs/pixelrnn.md.   ./build/tests/test_pixelrnn "[docs]"
TEST_CASE("print the pictures of docs/pixelrnn.md", "[.][docs]") {
  const models::ImageShape shape{1, 8, 20};
  const models::Position target{6, 10, 0};
  for (Architecture a : {Architecture::row_lstm, Architecture::diagonal_bilstm}) {
    auto model = make_pixelrnn(small_pixelrnn_config(a, 8, 4), shape, 12);
    const models::LogitsFn f = [&](const Tensor& x) { return model->logits(x); };
    const models::ReceptiveField rf = models::receptive_field(f, shape, target);
    std::cout << model->config_name() << ", 2 layers, target " << models::position_str(target)
              << ": sees " << rf.visible().size() << " of "
              << models::generation_index(shape, target) << " earlier pixels\n"
              << models::receptive_field_ascii(rf) << "\n";
  }
  const Tensor x = Tensor::arange(12, DType::f64) + 1.0;
  std::cout << "skew of a 3 x 4 map:\n" << skew(reshape(x, {1, 1, 3, 4})).to_string() << "\n";
}
