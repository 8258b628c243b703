#include "models/registry.h"

#include <fmt/format.h>

namespace gm::models {

// Each model family appends its configurations through one function of its own (declared
// here, defined next to the model), so adding a family touches one line of this file.
std::vector<ModelConfig> pixelcnn_configs();
std::vector<ModelConfig> pixelcnnpp_configs();
std::vector<ModelConfig> pixelrnn_configs();
std::vector<ModelConfig> vae_configs();
std::vector<ModelConfig> autoencoder_configs();

const std::vector<ModelConfig>& model_configs() {
  static const std::vector<ModelConfig> configs = [] {
    std::vector<ModelConfig> all;
    for (auto family :
         {pixelcnn_configs, pixelcnnpp_configs, pixelrnn_configs, vae_configs, autoencoder_configs})
      for (ModelConfig& c : family())
        all.push_back(std::move(c));
    return all;
  }();
  return configs;
}

const ModelConfig& find_model_config(const std::string& name) {
  std::string known;
  for (const ModelConfig& c : model_configs()) {
    if (c.name == name) return c;
    known += (known.empty() ? "" : ", ") + c.name;
  }
  fail("unknown model '{}': known models are {}", name, known);
}

std::unique_ptr<Model> make_model(const std::string& name, const ImageShape& shape,
                                  const nn::Init& init, int64_t classes) {
  const ModelConfig& config = find_model_config(name);
  if (!config.conditional()) {
    GM_CHECK(classes == 0, "{} is unconditional: it cannot be built for {} classes", name, classes);
    return config.make(shape, init);
  }
  GM_CHECK(classes >= 2,
           "{} is class-conditional and needs at least 2 classes, got {}: train it on labelled "
           "data (fashion-mnist, mnist, cifar10 or a folder with one subfolder per class)",
           name, classes);
  return config.make_conditional(shape, classes, init);
}

}  // namespace gm::models
