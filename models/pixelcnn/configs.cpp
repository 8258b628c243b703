// The PixelCNN configurations known by name (docs/reference-models.md and larger presets).
#include "models/pixelcnn/pixelcnn.h"
#include "models/registry.h"

namespace gm::models {

namespace {

ModelConfig pixelcnn_entry(PixelCnnConfig c, std::string summary) {
  return {c.name, std::move(summary), ImageShape{1, 28, 28},
          [c](const ImageShape& shape, const nn::Init& init) -> std::unique_ptr<Model> {
            return std::make_unique<PixelCnn>(c, shape, init);
          }};
}

}  // namespace

std::vector<ModelConfig> pixelcnn_configs() {
  PixelCnnConfig ref;  // the defaults are pixelcnn-ref
  PixelCnnConfig bin = ref;
  bin.name = "pixelcnn-ref-bin";
  bin.binary = true;
  PixelCnnConfig large;
  large.name = "pixelcnn-large";
  large.filters = 192;
  large.hidden = 96;
  large.blocks = 12;
  large.head = 384;
  return {
      pixelcnn_entry(ref,
                     "PixelCNN, MaskA 7x7 -> 64, 5 residual MaskB 3x3 blocks (h 32), "
                     "256-way softmax; 91,200 parameters on grey 28x28 (grey only)"),
      pixelcnn_entry(bin,
                     "pixelcnn-ref on dynamically binarised images with a Bernoulli output "
                     "(grey only)"),
      pixelcnn_entry(large,
                     "PixelCNN for a GPU: MaskA 7x7 -> 192, 12 residual blocks (h 96), "
                     "head 384, 256-way softmax; grey or RGB"),
  };
}

}  // namespace gm::models
