#include "models/autoregressive.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/random.h"

namespace gm::models {

int64_t generation_index(const ImageShape& s, const Position& p) {
  return (p.row * s.width + p.col) * s.channels + p.channel;
}

Position position_at(const ImageShape& s, int64_t index) {
  const int64_t pixel = index / s.channels;
  return {pixel / s.width, pixel % s.width, index % s.channels};
}

std::string position_str(const Position& p) {
  return fmt::format("(row {}, col {}, ch {})", p.row, p.col, p.channel);
}

namespace {

// Offset of input position j in the [C, H, W] sensitivity layout.
size_t chw_offset(const ImageShape& s, const Position& j) {
  return static_cast<size_t>((j.channel * s.height + j.row) * s.width + j.col);
}

// All positions j with pred(generation_index(j) vs target's, sensitivity) true, in order.
template <typename Pred>
std::vector<Position> select(const ReceptiveField& f, Pred pred) {
  std::vector<Position> out;
  const int64_t target = generation_index(f.shape, f.target);
  for (int64_t index = 0; index < f.shape.dims(); ++index) {
    const Position j = position_at(f.shape, index);
    if (pred(index, target, f.sensitivity[chw_offset(f.shape, j)])) out.push_back(j);
  }
  return out;
}

void check_logits_shape(const Tensor& logits, const Tensor& x, const ImageShape& s) {
  const Shape& l = logits.shape();
  GM_CHECK(l.size() == 5 && l[0] == x.size(0) && l[2] == s.channels && l[3] == s.height &&
               l[4] == s.width,
           "receptive field probe: the network must return logits [N, V, C, H, W] = [{}, V, {}, "
           "{}, {}], got {}",
           x.size(0), s.channels, s.height, s.width, logits.describe());
}

}  // namespace

bool ReceptiveField::sees(const Position& j) const {
  return sensitivity[chw_offset(shape, j)] != 0.0;
}

std::vector<Position> ReceptiveField::leaks() const {
  return select(*this, [](int64_t j, int64_t i, double s) { return j >= i && s != 0.0; });
}
std::vector<Position> ReceptiveField::visible() const {
  return select(*this, [](int64_t j, int64_t i, double s) { return j < i && s != 0.0; });
}
std::vector<Position> ReceptiveField::hidden() const {
  return select(*this, [](int64_t j, int64_t i, double s) { return j < i && s == 0.0; });
}

std::vector<ReceptiveField> receptive_fields(const LogitsFn& f, const ImageShape& shape,
                                             const std::vector<Position>& targets,
                                             const ProbeOptions& options) {
  GM_CHECK(options.repeats >= 1 && options.positions_per_pass >= 1,
           "receptive field probe: repeats ({}) and positions_per_pass ({}) must be positive",
           options.repeats, options.positions_per_pass);
  for (const Position& t : targets)
    GM_CHECK(t.row >= 0 && t.row < shape.height && t.col >= 0 && t.col < shape.width &&
                 t.channel >= 0 && t.channel < shape.channels,
             "receptive field probe: position {} is outside a {}x{}x{} image", position_str(t),
             shape.channels, shape.height, shape.width);

  Generator gen(options.seed);
  const int64_t repeats = options.repeats;
  const size_t dims = static_cast<size_t>(shape.dims());
  std::vector<ReceptiveField> fields;
  for (const Position& t : targets)
    fields.push_back({shape, t, std::vector<double>(dims, 0.0)});

  GM_CHECK(grad_mode_enabled(),
           "receptive field probe: needs gradients, but it runs inside a NoGradGuard");
  for (size_t first = 0; first < targets.size();
       first += static_cast<size_t>(options.positions_per_pass)) {
    const size_t count =
        std::min(targets.size() - first, static_cast<size_t>(options.positions_per_pass));
    const int64_t batch = static_cast<int64_t>(count) * repeats;
    Tensor x = Tensor::uniform({batch, shape.channels, shape.height, shape.width}, -1.0, 1.0, gen,
                               options.dtype, options.device);
    x.set_requires_grad();
    Tensor logits = f(x);
    check_logits_shape(logits, x, shape);
    const int64_t values = logits.size(1);

    // Batch element b = p * repeats + r backpropagates a random projection of the V logits at
    // its own target: random weights so that no structural cancellation can fake a zero.
    const std::vector<double> weights =
        Tensor::normal({batch, values}, 0.0, 1.0, gen, DType::f64).to_vector<double>();
    std::vector<double> seed(static_cast<size_t>(logits.numel()), 0.0);
    const int64_t plane = shape.dims();  // C * H * W
    for (int64_t b = 0; b < batch; ++b) {
      const Position& t = targets[first + static_cast<size_t>(b / repeats)];
      for (int64_t v = 0; v < values; ++v)
        seed[static_cast<size_t>((b * values + v) * plane) + chw_offset(shape, t)] =
            weights[static_cast<size_t>(b * values + v)];
    }
    logits.backward(Tensor::from_vector(seed, logits.shape(), logits.dtype(), logits.device()));

    const std::vector<double> grad = x.grad().to_vector<double>();
    for (int64_t b = 0; b < batch; ++b) {
      ReceptiveField& field = fields[first + static_cast<size_t>(b / repeats)];
      for (size_t j = 0; j < dims; ++j)
        field.sensitivity[j] += std::abs(grad[static_cast<size_t>(b) * dims + j]);
    }
  }
  return fields;
}

ReceptiveField receptive_field(const LogitsFn& f, const ImageShape& shape, const Position& target,
                               const ProbeOptions& options) {
  return receptive_fields(f, shape, {target}, options).front();
}

std::string AutoregressiveCheck::summary() const {
  if (ok()) return fmt::format("checked {} positions: no leaks", positions);
  std::string out = fmt::format("checked {} positions: {} leaks, e.g.", positions, leaks.size());
  for (size_t k = 0; k < std::min<size_t>(leaks.size(), 5); ++k)
    out += fmt::format("\n  output {} sees input {}", position_str(leaks[k].first),
                       position_str(leaks[k].second));
  return out;
}

AutoregressiveCheck check_autoregressive(const LogitsFn& f, const ImageShape& shape,
                                         const ProbeOptions& options) {
  std::vector<Position> all;
  for (int64_t i = 0; i < shape.dims(); ++i)
    all.push_back(position_at(shape, i));
  AutoregressiveCheck check;
  check.positions = shape.dims();
  for (const ReceptiveField& field : receptive_fields(f, shape, all, options))
    for (const Position& j : field.leaks())
      check.leaks.emplace_back(field.target, j);
  return check;
}

namespace {

enum class Cell { target, seen, blind, future, leak };

Cell classify(const ReceptiveField& f, const Position& j) {
  const int64_t i = generation_index(f.shape, f.target), jj = generation_index(f.shape, j);
  if (jj == i) return f.sees(j) ? Cell::leak : Cell::target;
  if (jj > i) return f.sees(j) ? Cell::leak : Cell::future;
  return f.sees(j) ? Cell::seen : Cell::blind;
}

}  // namespace

std::string receptive_field_ascii(const ReceptiveField& field) {
  const ImageShape& s = field.shape;
  std::string out;
  for (int64_t r = 0; r < s.height; ++r) {
    for (int64_t c = 0; c < s.width; ++c) {
      if (c > 0) out += ' ';
      for (int64_t ch = 0; ch < s.channels; ++ch) {
        switch (classify(field, {r, c, ch})) {
          case Cell::target:
            out += 'X';
            break;
          case Cell::seen:
            out += '#';
            break;
          case Cell::blind:
            out += 'o';
            break;
          case Cell::future:
            out += '.';
            break;
          case Cell::leak:
            out += '!';
            break;
        }
      }
    }
    out += '\n';
  }
  return out;
}

Tensor receptive_field_image(const ReceptiveField& field, int64_t cell) {
  GM_CHECK(cell >= 1, "receptive_field_image: cell size must be positive, got {}", cell);
  const ImageShape& s = field.shape;
  const int64_t height = s.height * cell, width = s.width * s.channels * cell;
  std::vector<uint8_t> rgb(static_cast<size_t>(3 * height * width), 0);

  // Brightness of seen cells: log sensitivity mapped to [0.35, 1] over the field's range.
  double lo = INFINITY, hi = -INFINITY;
  for (double v : field.sensitivity)
    if (v > 0) lo = std::min(lo, std::log(v)), hi = std::max(hi, std::log(v));
  auto brightness = [&](double v) {
    const double t = hi > lo ? (std::log(v) - lo) / (hi - lo) : 1.0;
    return 0.35 + 0.65 * t;
  };

  for (int64_t r = 0; r < s.height; ++r)
    for (int64_t c = 0; c < s.width; ++c)
      for (int64_t ch = 0; ch < s.channels; ++ch) {
        const Position j{r, c, ch};
        double colour[3];
        switch (classify(field, j)) {
          case Cell::target:
            colour[0] = 1.0, colour[1] = 0.1, colour[2] = 0.1;
            break;
          case Cell::blind:
            colour[0] = 1.0, colour[1] = 0.6, colour[2] = 0.1;
            break;
          case Cell::future:
            colour[0] = colour[1] = colour[2] = 0.9;
            break;
          case Cell::leak:
            colour[0] = 1.0, colour[1] = 0.0, colour[2] = 1.0;
            break;
          case Cell::seen: {
            const double b = brightness(field.sensitivity[chw_offset(s, j)]);
            colour[0] = 0.1 * b, colour[1] = 0.4 * b, colour[2] = b;
            break;
          }
        }
        // A one-pixel dark border around each cell keeps neighbours apart when cell >= 4.
        const int64_t y0 = r * cell, x0 = (c * s.channels + ch) * cell;
        for (int64_t y = y0; y < y0 + cell; ++y)
          for (int64_t x = x0; x < x0 + cell; ++x) {
            const bool border = cell >= 4 && (y == y0 || x == x0);
            for (int k = 0; k < 3; ++k)
              rgb[static_cast<size_t>((k * height + y) * width + x)] =
                  border ? 40 : static_cast<uint8_t>(std::lround(255.0 * colour[k]));
          }
      }
  return Tensor::from_vector(rgb, {3, height, width}, DType::u8);
}

}  // namespace gm::models
