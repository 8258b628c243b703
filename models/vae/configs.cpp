// The VAE configurations known by name (docs/reference-models.md and presets).
#include "models/registry.h"
#include "models/vae/vae.h"

namespace gm::models {

namespace {

ModelConfig vae_entry(VaeConfig c, std::string summary, ImageShape default_shape = {1, 28, 28}) {
  return {c.name, std::move(summary), default_shape,
          [c](const ImageShape& shape, const nn::Init& init) -> std::unique_ptr<Model> {
            return std::make_unique<VaeModel>(c, shape, init);
          }};
}

}  // namespace

std::vector<ModelConfig> vae_configs() {
  VaeConfig ref;  // the defaults are vae-ref
  VaeConfig bin = ref;
  bin.name = "vae-ref-bin";
  bin.likelihood = Likelihood::bernoulli;
  VaeConfig cond = ref;
  cond.name = "vae-ref-cond";
  VaeConfig gauss = ref;
  gauss.name = "vae-ref-gauss";
  gauss.likelihood = Likelihood::gaussian;
  VaeConfig two = ref;
  two.name = "vae-2d";
  two.latent = 2;
  VaeConfig conv;
  conv.name = "vae-conv";
  conv.network = VaeNetwork::conv;
  conv.conv_channels = 32;
  VaeConfig large = conv;
  large.name = "vae-conv-large";
  large.conv_channels = 64;
  large.latent = 64;
  VaeConfig small = conv;
  small.name = "vae-conv-small";
  small.conv_channels = 16;
  return {
      vae_entry(ref,
                "MLP VAE 784-400-20, discretized logistic decoder (8-bit NLL comparable "
                "with PixelCNN); 967,208 parameters"),
      conditional_entry<VaeModel>(cond,
                                  "vae-ref conditioned on the class: the label's one-hot is fed to "
                                  "the encoder and the decoder; 975,208 parameters for 10 classes"),
      vae_entry(bin, "vae-ref on dynamically binarised images with a Bernoulli decoder"),
      vae_entry(gauss,
                "vae-ref with a Gaussian decoder (learned diagonal variance) on "
                "dequantised pixels"),
      vae_entry(two, "vae-ref with a 2-D latent space, for the latent manifold grid"),
      vae_entry(conv,
                "convolutional VAE: 4 conv (32, 64, 64, 64) / 4 up-conv layers, 20 latents, "
                "discretized logistic decoder"),
      vae_entry(large, "vae-conv for a GPU: widths 64/128, 64 latents"),
      vae_entry(small, "vae-conv for RGB on a CPU: widths 16/32, 20 latents; grey or RGB",
                {3, 32, 32}),
  };
}

}  // namespace gm::models
