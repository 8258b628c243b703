// The PixelCNN configurations known by name (docs/reference-models.md and larger presets).
#include "models/pixelcnn/gated.h"
#include "models/pixelcnn/pixelcnn.h"
#include "models/registry.h"

namespace gm::models {

namespace {

ModelConfig pixelcnn_entry(PixelCnnConfig c, std::string summary,
                           ImageShape default_shape = {1, 28, 28}) {
  return {c.name, std::move(summary), default_shape,
          [c](const ImageShape& shape, const nn::Init& init) -> std::unique_ptr<Model> {
            return std::make_unique<PixelCnn>(c, shape, init);
          }};
}

ModelConfig gated_entry(GatedPixelCnnConfig c, ImageShape default_shape, std::string summary) {
  return {c.name, std::move(summary), default_shape,
          [c](const ImageShape& shape, const nn::Init& init) -> std::unique_ptr<Model> {
            return std::make_unique<GatedPixelCnn>(c, shape, init);
          }};
}

}  // namespace

std::vector<ModelConfig> pixelcnn_configs() {
  PixelCnnConfig ref;  // the defaults are pixelcnn-ref
  PixelCnnConfig bin = ref;
  bin.name = "pixelcnn-ref-bin";
  bin.binary = true;
  PixelCnnConfig cond = ref;
  cond.name = "pixelcnn-ref-cond";
  PixelCnnConfig large;
  large.name = "pixelcnn-large";
  large.filters = 192;
  large.hidden = 96;
  large.blocks = 12;
  large.head = 384;
  GatedPixelCnnConfig gated;  // the defaults: pixelcnn-ref's depth and parameter budget
  GatedPixelCnnConfig gated_cond = gated;
  gated_cond.name = "gated-pixelcnn-cond";
  GatedPixelCnnConfig gated_small{.name = "gated-pixelcnn-small",
                                  .filters = 24,
                                  .layers = 4,
                                  .first_kernel = 5,
                                  .kernel = 3,
                                  .head = 48};
  PixelCnnConfig small;
  small.name = "pixelcnn-small";
  small.filters = 24;
  small.hidden = 12;
  small.blocks = 3;
  small.first_kernel = 5;
  small.head = 48;
  return {
      pixelcnn_entry(ref,
                     "PixelCNN, MaskA 7x7 -> 64, 5 residual MaskB 3x3 blocks (h 32), "
                     "256-way softmax; 91,200 parameters on grey 28x28 (grey only)"),
      pixelcnn_entry(bin,
                     "pixelcnn-ref on dynamically binarised images with a Bernoulli output "
                     "(grey only)"),
      conditional_entry<PixelCnn>(cond,
                                  "pixelcnn-ref conditioned on the class: p(x | y) with a learned "
                                  "per-class bias in every layer; 101,440 parameters for 10 "
                                  "classes (grey only)"),
      pixelcnn_entry(large,
                     "PixelCNN for a GPU: MaskA 7x7 -> 192, 12 residual blocks (h 96), "
                     "head 384, 256-way softmax; grey or RGB"),
      pixelcnn_entry(small,
                     "small PixelCNN for RGB on a CPU: MaskA 5x5 -> 24, 3 residual blocks "
                     "(h 12), head 48; grey or RGB",
                     {3, 32, 32}),
      gated_entry(gated, {1, 28, 28},
                  "Gated PixelCNN, no blind spot: 6 gated layers (7x7 first, then 3x3) of 24 "
                  "channels per stack, head 66; 90,610 parameters on grey 28x28; grey or RGB"),
      conditional_entry<GatedPixelCnn>(
          gated_cond,
          "gated-pixelcnn conditioned on the class: p(x | y) with a learned per-class bias in "
          "every gate of both stacks; 96,370 parameters for 10 classes on grey 28x28"),
      gated_entry(gated_small, {3, 32, 32},
                  "small Gated PixelCNN for RGB on a CPU: 4 gated layers (5x5 first) of 24 "
                  "channels, head 48; grey or RGB"),
  };
}

}  // namespace gm::models
