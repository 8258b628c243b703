#include "tools/checkpoint.h"

namespace gm::tools {

namespace {

constexpr const char* kFormat = "genmodel-training-checkpoint-1";

// A count from the metadata, refused (naming the file and key) below `least`: a hand-edited
// or corrupt file must fail here, not as a crash or a huge allocation later.
int64_t read_count(const std::filesystem::path& path, const Metadata& m, const std::string& key,
                   int64_t least) {
  const int64_t value = get_metadata_int(m, key);
  if (value < least)
    throw IoError(fmt::format("'{}': checkpoint metadata '{}' is {}, expected at least {}",
                              path.string(), key, value, least));
  return value;
}

std::vector<NamedTensor> weights_of(const models::Model& model) {
  return to_named_tensors(model.parameters());
}

}  // namespace

std::filesystem::path checkpoint_path(const std::filesystem::path& out) {
  return out / "checkpoint.safetensors";
}

std::filesystem::path checkpoint_file(const std::filesystem::path& given) {
  return std::filesystem::is_directory(given) ? checkpoint_path(given) : given;
}

std::filesystem::path beside_checkpoint(const std::filesystem::path& given,
                                        const std::string& name) {
  return checkpoint_file(given).parent_path() / name;
}

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
  set_metadata_int(meta, "classes", c.classes);
  meta["data"] = c.data.spec;
  meta["data.pixels"] = c.data.pixels;
  set_metadata_int(meta, "data.image_size", c.data.image_size);
  set_metadata_int(meta, "data.channels", c.data.channels);
  set_metadata_int(meta, "data.exclude_class", c.data.exclude_class);
  set_metadata_int(meta, "limit", c.train_limit);
  set_metadata_int(meta, "eval_limit", c.eval_limit);
  set_metadata_int(meta, "eval_every", c.eval_every);
  set_metadata_int(meta, "checkpoint_every", c.checkpoint_every);
  set_metadata_int(meta, "batch", c.batch);
  set_metadata_double(meta, "lr", c.lr);
  set_metadata_uint(meta, "seed", c.seed);
  set_metadata_int(meta, "target_steps", c.target_steps);
  set_metadata_int(meta, "step", state.step);
  set_metadata_generator(meta, "train_gen", state.train_gen);
  set_metadata_double(meta, "loss", state.last_loss);
  set_metadata_int(meta, "log_bytes", state.log_bytes);
  save_safetensors(path, tensors, meta);
}

Checkpoint read_checkpoint(const std::filesystem::path& given) {
  const std::filesystem::path path = checkpoint_file(given);
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
  io::check_image_size(
      {c.shape.channels, c.shape.height, c.shape.width},
      fmt::format("'{}': checkpoint metadata image.channels/height/width", path.string()));
  // Checkpoints from before conditional models have no "classes": they are unconditional.
  c.classes = m.contains("classes") ? get_metadata_int(m, "classes") : 0;
  c.data.spec = get_metadata(m, "data");
  c.data.pixels = get_metadata(m, "data.pixels");
  c.data.image_size = get_metadata_int(m, "data.image_size");
  c.data.channels = get_metadata_int(m, "data.channels");
  // Checkpoints from before held-out classes trained on every class.
  c.data.exclude_class =
      m.contains("data.exclude_class") ? read_count(path, m, "data.exclude_class", -1) : -1;
  c.train_limit = read_count(path, m, "limit", 0);
  // Checkpoints written before these were stored used the defaults.
  c.eval_limit = m.contains("eval_limit") ? read_count(path, m, "eval_limit", 0) : 1000;
  c.eval_every = m.contains("eval_every") ? read_count(path, m, "eval_every", 0) : 500;
  c.checkpoint_every =
      m.contains("checkpoint_every") ? read_count(path, m, "checkpoint_every", 0) : 500;
  c.batch = read_count(path, m, "batch", 1);
  c.lr = get_metadata_double(m, "lr");
  c.seed = get_metadata_uint(m, "seed");
  c.target_steps = read_count(path, m, "target_steps", 0);
  ck.state.step = read_count(path, m, "step", 0);
  ck.state.train_gen = get_metadata_generator(m, "train_gen");
  ck.state.last_loss = get_metadata_double(m, "loss");
  ck.state.log_bytes = m.contains("log_bytes") ? read_count(path, m, "log_bytes", 0) : 0;
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
  auto model = models::make_model(ck.config.model, ck.config.shape,
                                  nn::Init{device, DType::f32, &init_gen}, ck.config.classes);
  load_into(ck.file, weights_of(*model), {"adam.", "adamw.", "sgd."});
  return model;
}

TestData load_test_data(const Checkpoint& ck, const std::string& data_spec, int64_t limit) {
  DataOptions data = ck.config.data;
  if (!data_spec.empty()) data.spec = data_spec;
  io::Dataset test = load_splits(data, ck.config.shape).test.first(limit);
  check_data_fits(test, ck);
  return {data, io::parse_pixels(data.pixels), std::move(test)};
}

void restore_training(const Checkpoint& ck, models::Model& model, Optimizer& optimizer) {
  load_into(ck.file, weights_of(model), {optimizer.kind() + "."});
  optimizer.load_state(ck.file.tensors, ck.file.metadata);
}

}  // namespace gm::tools
