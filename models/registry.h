#pragma once
// Models by configuration name ("pixelcnn-ref", "vae-ref-bin", ...): the reference
// configurations of docs/reference-models.md plus larger presets.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/model.h"

namespace gm::models {

struct ModelConfig {
  std::string name;
  std::string summary;  // one line for --help and error messages
  ImageShape default_shape;
  std::function<std::unique_ptr<Model>(const ImageShape&, const nn::Init&)> make;
};

// Every known configuration, in a stable order.
const std::vector<ModelConfig>& model_configs();
// Builds a model; an unknown name throws an error listing the known ones.
std::unique_ptr<Model> make_model(const std::string& name, const ImageShape& shape,
                                  const nn::Init& init);
const ModelConfig& find_model_config(const std::string& name);

}  // namespace gm::models
