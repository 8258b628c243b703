#pragma once
// Testing the autoregressive property instead of assuming it. An autoregressive image model
// factorises p(x) = prod_t p(x_t | x_<t) over the generation order: pixels in raster order and,
// within a pixel, colour channels R, G, B. Its network must therefore compute the distribution
// at position i from inputs j < i only. Here we measure that with autograd: for random inputs,
// the gradient of (a random projection of) the logits at position i with respect to every input
// position j. Masked kernels skip the hidden taps, so a future position's gradient is exactly
// zero, not merely small: any non-zero is a leak. The same measurement shows which past
// positions a network really sees (PixelCNN's blind spot) as an ASCII or PNG-ready picture.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "models/model.h"

namespace gm::models {

// Network input x [N, C, H, W] (float) -> logits [N, V, C, H, W]: V logits per pixel and
// channel (V = 256 for a softmax over intensities, 1 for a Bernoulli).
using LogitsFn = std::function<Tensor(const Tensor& x)>;

struct Position {
  int64_t row = 0, col = 0, channel = 0;
  friend bool operator==(const Position&, const Position&) = default;
};
// Index in generation order: (row * W + col) * C + channel.
int64_t generation_index(const ImageShape& shape, const Position& p);
Position position_at(const ImageShape& shape, int64_t generation_index);
std::string position_str(const Position& p);  // "(row 3, col 4, ch 1)"

// How the output distribution at `target` depends on each input position.
struct ReceptiveField {
  ImageShape shape;
  Position target;
  // sum over probe inputs of |d (w . logits[:, target]) / d x[j]|, laid out [C, H, W]
  std::vector<double> sensitivity;

  bool sees(const Position& j) const;
  std::vector<Position> leaks() const;    // j at or after target with non-zero sensitivity
  std::vector<Position> visible() const;  // j before target with non-zero sensitivity
  std::vector<Position> hidden() const;   // j before target with exactly zero sensitivity
};

struct ProbeOptions {
  int64_t repeats = 2;              // random inputs per position (a dead ReLU rarely hides all)
  int64_t positions_per_pass = 32;  // positions probed by one forward/backward (batch = p * r)
  DType dtype = DType::f64;
  Device device = Device::cpu();
  uint64_t seed = 2024;
};

// Receptive fields of the given positions. Each batch element of one forward pass probes one
// (position, repeat) pair, so this relies on the network treating batch elements independently.
// Gradients also accumulate into the network's parameters: zero them before training.
std::vector<ReceptiveField> receptive_fields(const LogitsFn& f, const ImageShape& shape,
                                             const std::vector<Position>& targets,
                                             const ProbeOptions& options = {});
ReceptiveField receptive_field(const LogitsFn& f, const ImageShape& shape, const Position& target,
                               const ProbeOptions& options = {});

// Every position of the image.
struct AutoregressiveCheck {
  int64_t positions = 0;
  std::vector<std::pair<Position, Position>> leaks;  // (output i, input j >= i seen by i)
  bool ok() const { return leaks.empty(); }
  std::string summary() const;  // "checked 192 positions: no leaks" or the first leaks
};
AutoregressiveCheck check_autoregressive(const LogitsFn& f, const ImageShape& shape,
                                         const ProbeOptions& options = {});

// One line per image row; each pixel shows one character per channel:
//   X  the target position      #  seen (non-zero gradient)
//   o  earlier but unseen (the blind spot)      .  later, correctly unseen      !  a leak
std::string receptive_field_ascii(const ReceptiveField& field);
// The same picture as uint8 [3, H * cell, W * C * cell] for a PNG writer: seen positions in
// blue with brightness growing with log sensitivity, the target red, the blind spot orange,
// later positions light grey and leaks magenta.
Tensor receptive_field_image(const ReceptiveField& field, int64_t cell = 8);

}  // namespace gm::models
