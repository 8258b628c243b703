#pragma once
// Small helpers the model tests share: an init on the CPU, a parameter by name, random images.
#include <catch2/catch.hpp>
#include <string>

#include "engine/random.h"
#include "models/model.h"
#include "models/nn.h"

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

}  // namespace gm::test
