// The PixelRNN configurations known by name (docs/reference-models.md, plus larger presets).
#include "models/pixelrnn/pixelrnn.h"
#include "models/registry.h"

namespace gm::models {

namespace {

ModelConfig make_config(pixelrnn::PixelRnnConfig c, std::string summary,
                        ImageShape default_shape = {1, 28, 28}) {
  ModelConfig out;
  out.name = c.name;
  out.summary = std::move(summary);
  out.default_shape = default_shape;
  out.make = [c](const ImageShape& shape, const nn::Init& init) -> std::unique_ptr<Model> {
    return std::make_unique<pixelrnn::PixelRnn>(c, shape, init);
  };
  return out;
}

}  // namespace

// Parameter counts on 28x28x1 images (asserted in tests/test_pixelrnn.cpp):
//   MaskA 7x7 1->64: 64*49 + 64 = 3,200.  Head: (64*64 + 64) + (64*256 + 256) = 20,800.
//   Row LSTM layer (C = 64, h = 32): input-to-state 1x3 (right tap masked) 128*64*3 + 128
//     = 24,704; state-to-state 128*32*3 + 128 = 12,416; output 64*32 + 64 = 2,112 -> 39,232.
//   rowlstm-ref = 3,200 + 2 * 39,232 + 20,800 = 102,464.
//   Diagonal BiLSTM layer: per direction input-to-state 128*64 + 128 = 8,320 and
//     state-to-state 128*32*2 + 128 = 8,320; two directions + output 2,112 -> 35,392.
//   diaglstm-ref = 3,200 + 2 * 35,392 + 20,800 = 94,784.
std::vector<ModelConfig> pixelrnn_configs() {
  using pixelrnn::Architecture;
  using pixelrnn::PixelRnnConfig;
  const PixelRnnConfig row_ref{.name = "rowlstm-ref",
                               .architecture = Architecture::row_lstm,
                               .channels = 64,
                               .hidden = 32,
                               .layers = 2,
                               .head_channels = 64,
                               .input_kernel = 7,
                               .grey_only = true};
  PixelRnnConfig diag_ref = row_ref;
  diag_ref.name = "diaglstm-ref";
  diag_ref.architecture = Architecture::diagonal_bilstm;
  // GPU presets: deeper and wider (PixelRNN's MNIST model had 7 layers); channel counts are
  // multiples of 3 so the same preset also serves RGB images with colour-group masks.
  const PixelRnnConfig row_large{.name = "rowlstm-large",
                                 .architecture = Architecture::row_lstm,
                                 .channels = 192,
                                 .hidden = 96,
                                 .layers = 7,
                                 .head_channels = 384,
                                 .input_kernel = 7,
                                 .grey_only = false};
  PixelRnnConfig diag_large = row_large;
  diag_large.name = "diaglstm-large";
  diag_large.architecture = Architecture::diagonal_bilstm;
  // CPU presets for RGB (CIFAR-10 sized): one narrow layer, a 5x5 input convolution.
  const PixelRnnConfig row_small{.name = "rowlstm-small",
                                 .architecture = Architecture::row_lstm,
                                 .channels = 24,
                                 .hidden = 12,
                                 .layers = 1,
                                 .head_channels = 48,
                                 .input_kernel = 5,
                                 .grey_only = false};
  PixelRnnConfig diag_small = row_small;
  diag_small.name = "diaglstm-small";
  diag_small.architecture = Architecture::diagonal_bilstm;
  const ImageShape rgb{3, 32, 32};
  return {
      make_config(row_ref, "PixelRNN Row LSTM, 2 layers h=32, 64 channels (reference, grey)"),
      make_config(diag_ref,
                  "PixelRNN Diagonal BiLSTM, 2 layers h=32, 64 channels (reference, grey)"),
      make_config(row_large, "PixelRNN Row LSTM, 7 layers h=96, 192 channels (GPU; grey or RGB)"),
      make_config(diag_large,
                  "PixelRNN Diagonal BiLSTM, 7 layers h=96, 192 channels (GPU; grey or RGB)"),
      make_config(row_small,
                  "small Row LSTM for RGB on a CPU: 1 layer h=12, 24 channels; grey or RGB", rgb),
      make_config(diag_small,
                  "small Diagonal BiLSTM for RGB on a CPU: 1 layer h=12, 24 channels; grey or RGB",
                  rgb),
  };
}

}  // namespace gm::models
