#include "tools/checkpoint.h"

namespace gm::tools {

namespace {

constexpr const char* kFormat = "genmodel-training-checkpoint-1";

std::vector<NamedTensor> weights_of(const models::Model& model) {
  return to_named_tensors(model.parameters());
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const RunConfig& c,
                     const TrainingState& state, const models::Model& model,
                     const Optimizer& optimizer) {
  std::vector<NamedTensor> tensors = weights_of(model);
  OptimizerState opt = optimizer.state();
  tensors.insert(tensors.end(), opt.tensors.begin(), opt.tensors.end());
  Metadata meta = opt.scalars;
  meta["format"] = kFormat;
  meta["model"] = c.model;
  set_metadata_int(meta, "image.channels", c.shape.channels);
  set_metadata_int(meta, "image.height", c.shape.height);
  set_metadata_int(meta, "image.width", c.shape.width);
  meta["data"] = c.data.spec;
  meta["data.pixels"] = c.data.pixels;
  set_metadata_int(meta, "data.image_size", c.data.image_size);
  set_metadata_int(meta, "data.channels", c.data.channels);
  set_metadata_int(meta, "limit", c.limit);
  set_metadata_int(meta, "batch", c.batch);
  set_metadata_double(meta, "lr", c.lr);
  set_metadata_uint(meta, "seed", c.seed);
  set_metadata_int(meta, "target_steps", c.target_steps);
  set_metadata_int(meta, "step", state.step);
  set_metadata_generator(meta, "train_gen", state.train_gen);
  set_metadata_double(meta, "loss", state.last_loss);
  save_safetensors(path, tensors, meta);
}

Checkpoint read_checkpoint(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path))
    throw IoError(fmt::format("checkpoint '{}' does not exist", path.string()));
  Checkpoint ck{.config = {}, .state = {}, .file = load_safetensors(path)};
  const Metadata& m = ck.file.metadata;
  const auto format = m.find("format");
  if (format == m.end() || format->second != kFormat)
    throw IoError(
        fmt::format("'{}' is a safetensors file but not a genmodel training checkpoint "
                    "(metadata 'format' is '{}', expected '{}')",
                    path.string(), format == m.end() ? "" : format->second, kFormat));
  RunConfig& c = ck.config;
  c.model = get_metadata(m, "model");
  c.shape = {get_metadata_int(m, "image.channels"), get_metadata_int(m, "image.height"),
             get_metadata_int(m, "image.width")};
  c.data.spec = get_metadata(m, "data");
  c.data.pixels = get_metadata(m, "data.pixels");
  c.data.image_size = get_metadata_int(m, "data.image_size");
  c.data.channels = get_metadata_int(m, "data.channels");
  c.limit = get_metadata_int(m, "limit");
  c.batch = get_metadata_int(m, "batch");
  c.lr = get_metadata_double(m, "lr");
  c.seed = get_metadata_uint(m, "seed");
  c.target_steps = get_metadata_int(m, "target_steps");
  ck.state.step = get_metadata_int(m, "step");
  ck.state.train_gen = get_metadata_generator(m, "train_gen");
  ck.state.last_loss = get_metadata_double(m, "loss");
  return ck;
}

void check_data_fits(const io::Dataset& data, const Checkpoint& ck) {
  const models::ImageShape& s = ck.config.shape;
  GM_CHECK(data.channels() == s.channels && shape_of(data).dims() == s.dims(),
           "{} images are {}x{}x{} but {} was trained on {}x{}x{}", data.name, data.channels(),
           data.height(), data.width(), ck.config.model, s.channels, s.height, s.width);
}

std::unique_ptr<models::Model> load_model(const Checkpoint& ck, Device device) {
  // The initial values are overwritten by the checkpoint's; any seed will do.
  Generator init_gen(0);
  auto model =
      models::make_model(ck.config.model, ck.config.shape, nn::Init{device, DType::f32, &init_gen});
  load_into(ck.file, weights_of(*model), {"adam.", "adamw.", "sgd."});
  return model;
}

void restore_training(const Checkpoint& ck, models::Model& model, Optimizer& optimizer) {
  load_into(ck.file, weights_of(model), {optimizer.kind() + "."});
  optimizer.load_state(ck.file.tensors, ck.file.metadata);
}

}  // namespace gm::tools
