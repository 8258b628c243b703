#pragma once
// Small helpers the model tests share: an init on the CPU, a parameter by name, random images,
// a small PixelRNN.
#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <string>

#include <memory>
#include "engine/random.h"
#include "models/model.h"
#include "models/nn.h"

#include "models/pixelrnn/pixelrnn.h"
#include "tests/support.h"

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

// A conditional model's per-class tables start at zero (the model starts as its
// unconditional twin); tests that need the label to matter fill them with seeded noise.
inline void randomise_class_tables(const nn::Module& model, uint64_t seed) {
  Generator gen(seed);
  for (auto p : model.parameters())
    if (p.name.ends_with("_class.table"))
      p.tensor.copy_from(Tensor::uniform(p.tensor.shape(), -1.0, 1.0, gen, p.tensor.dtype()));
}

// n seeded uniform uint8 images of shape s.
inline Tensor random_images(const models::ImageShape& s, int64_t n, uint64_t seed) {
  Generator gen(seed);
  return Tensor::uniform({n, s.channels, s.height, s.width}, 0.0, 255.99, gen).to(DType::u8);
}

// The model `make` builds (float64, parameters from Philox with `init_seed`, so identical on
// every device) gives the cpu's loss and parameter gradients on every other test device, with
// the same noise from `noise_seed`. Only the summation order differs: 1e-10 relative.
inline void check_same_on_every_device(
    const std::function<std::unique_ptr<models::Model>(const nn::Init&)>& make,
    const Tensor& images, uint64_t init_seed, uint64_t noise_seed) {
  Generator cpu_init(init_seed), cpu_noise(noise_seed);
  const auto reference = make({Device::cpu(), DType::f64, &cpu_init});
  const models::LossOutput want = reference->loss(images, cpu_noise);
  want.loss.backward();
  for (Device device : test_devices()) {
    if (device == Device::cpu()) continue;
    INFO("device " << device.name());
    Generator init(init_seed), noise(noise_seed);
    const auto model = make({device, DType::f64, &init});
    const models::LossOutput got = model->loss(images, noise);
    CHECK(got.nats_per_image == Approx(want.nats_per_image).epsilon(1e-10));
    got.loss.backward();
    const auto ps = model->parameters(), qs = reference->parameters();
    for (size_t i = 0; i < ps.size(); ++i)
      require_close(ps[i].tensor.grad().to_vector<double>(),
                    qs[i].tensor.grad().to_vector<double>(), 1e-10, 1e-10, ps[i].name);
  }
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
