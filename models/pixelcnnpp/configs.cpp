// The PixelCNN++ configurations known by name. Parameter counts are asserted in
// tests/test_pixelcnnpp.cpp.
#include "models/pixelcnnpp/pixelcnnpp.h"
#include "models/registry.h"

namespace gm::models {

namespace {

ModelConfig pixelcnnpp_entry(PixelCnnPPConfig c, ImageShape shape, std::string summary) {
  return {c.name, std::move(summary), shape,
          [c](const ImageShape& s, const nn::Init& init) -> std::unique_ptr<Model> {
            return std::make_unique<PixelCnnPP>(c, s, init);
          }};
}

}  // namespace

std::vector<ModelConfig> pixelcnnpp_configs() {
  PixelCnnPPConfig gpu;  // the defaults: the paper's CIFAR-10 network
  PixelCnnPPConfig small;
  small.name = "pixelcnnpp-small";
  small.filters = 12;
  small.blocks = 1;
  small.components = 5;
  small.dropout = 0.0;
  PixelCnnPPConfig rgb_small = small;
  rgb_small.name = "pixelcnnpp-rgb-small";
  return {
      pixelcnnpp_entry(small, {1, 28, 28},
                       "PixelCNN++ for a CPU: 3 resolutions, 1 gated block each way, 12 filters, "
                       "mixture of 5 logistics; 81,387 parameters on grey 28x28"),
      pixelcnnpp_entry(rgb_small, {3, 32, 32},
                       "pixelcnnpp-small on colour: RGB-coupled mixture of 5 logistics; "
                       "82,106 parameters on RGB 32x32"),
      pixelcnnpp_entry(gpu, {3, 32, 32},
                       "PixelCNN++ for a GPU (the paper's CIFAR-10 network without weight "
                       "normalisation): 3 resolutions, 5 gated blocks, 160 filters, 10 "
                       "logistics, dropout 0.5; 53,618,660 parameters on RGB 32x32"),
  };
}

}  // namespace gm::models
