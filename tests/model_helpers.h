#pragma once
// Small helpers the model tests share: an init on the CPU, a parameter by name, random images,
// a small PixelRNN.
#include <catch2/catch.hpp>
#include <string>

#include "engine/random.h"
#include "models/model.h"
#include "models/nn.h"
#include "models/pixelrnn/pixelrnn.h"

#include <memory>

namespace gm::test {

inline nn::Init init_for(Generator& gen, DType dtype = DType::f64) {
  return {Device::cpu(), dtype, &gen};
}

// The parameter tensor called `name` (shares storage: writing to it changes the model).
inline Tensor parameter(const models::Model& m, const std::string& name) {
  for (const auto& p : m.parameters())
    if (p.name == name) return p.tensor;
  FAIL("no parameter " << name);
  return {};
}

// n seeded uniform uint8 images of shape s.
inline Tensor random_images(const models::ImageShape& s, int64_t n, uint64_t seed) {
  Generator gen(seed);
  return Tensor::uniform({n, s.channels, s.height, s.width}, 0.0, 255.99, gen).to(DType::u8);
}

// A PixelRNN small enough for exact checks: `channels` features, `hidden` LSTM units, a 7x7
// input convolution and a head of `head` channels (`channels` when 0).
inline pixelrnn::PixelRnnConfig small_pixelrnn_config(pixelrnn::Architecture a, int64_t channels,
                                                      int64_t hidden, int layers = 2,
                                                      int64_t head = 0) {
  pixelrnn::PixelRnnConfig c;
  c.name = a == pixelrnn::Architecture::row_lstm ? "small-rowlstm" : "small-diaglstm";
  c.architecture = a;
  c.channels = channels;
  c.hidden = hidden;
  c.layers = layers;
  c.head_channels = head == 0 ? channels : head;
  c.input_kernel = 7;
  return c;
}

// The model of `c` on the CPU, initialised from `seed`.
inline std::unique_ptr<pixelrnn::PixelRnn> make_pixelrnn(const pixelrnn::PixelRnnConfig& c,
                                                         const models::ImageShape& shape,
                                                         uint64_t seed, DType dtype = DType::f64) {
  Generator gen(seed);
  return std::make_unique<pixelrnn::PixelRnn>(c, shape, init_for(gen, dtype));
}

}  // namespace gm::test
