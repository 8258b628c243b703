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
  // Unconditional configurations build with `make`; class-conditional ones (p(x | y)) with
  // `make_conditional`, given the number of classes K >= 2 of the training data.
  std::function<std::unique_ptr<Model>(const ImageShape&, const nn::Init&)> make;
  std::function<std::unique_ptr<Model>(const ImageShape&, int64_t classes, const nn::Init&)>
      make_conditional = nullptr;
  bool conditional() const { return static_cast<bool>(make_conditional); }
};

// The entry of a class-conditional configuration `c` of model M, built as M(c, shape, init,
// classes): what each family's configs.cpp uses for its *-cond names.
template <typename M, typename C>
ModelConfig conditional_entry(const C& c, std::string summary) {
  return {.name = c.name,
          .summary = std::move(summary),
          .default_shape = ImageShape{1, 28, 28},
          .make = nullptr,
          .make_conditional = [c](const ImageShape& shape, int64_t classes, const nn::Init& init)
              -> std::unique_ptr<Model> { return std::make_unique<M>(c, shape, init, classes); }};
}

// Every known configuration, in a stable order.
const std::vector<ModelConfig>& model_configs();
// Builds a model; an unknown name throws an error listing the known ones. `classes` is the
// number of classes of a conditional configuration and must be 0 for the others.
std::unique_ptr<Model> make_model(const std::string& name, const ImageShape& shape,
                                  const nn::Init& init, int64_t classes = 0);
const ModelConfig& find_model_config(const std::string& name);

}  // namespace gm::models
