// `genmodel receptive-field`: which earlier values one output of an autoregressive model
// really sees, measured with gradients (models/autoregressive.h), as text and as a PNG. The
// docs' receptive-field figures come from this command.
#include "engine/io/png.h"
#include "models/autoregressive.h"
#include "models/autoregressive_model.h"
#include "models/registry.h"
#include "tools/commands.h"

namespace gm::tools {

namespace {

struct ReceptiveFieldOptions {
  std::string model, out;
  int64_t size = 0, channels = 0, row = -1, col = -1, channel = -1, cell = 8;
  uint64_t seed = 1;
};

int run_receptive_field(const ReceptiveFieldOptions& o) {
  const models::ModelConfig& config = models::find_model_config(o.model);
  models::ImageShape shape = config.default_shape;
  if (o.size > 0) shape.height = shape.width = o.size;
  if (o.channels > 0) shape.channels = o.channels;
  Generator gen(o.seed);
  auto model = config.make(shape, nn::Init{Device::cpu(), DType::f64, &gen});
  const auto* ar = dynamic_cast<const models::AutoregressiveModel*>(model.get());
  if (ar == nullptr)
    throw UsageError(
        fmt::format("receptive-field: {} is not an autoregressive model; its "
                    "outputs depend on every pixel through the latent code",
                    o.model));
  // Default: the last value, whose causal region is the whole image before it.
  const models::Position target{o.row < 0 ? shape.height - 1 : o.row,
                                o.col < 0 ? shape.width - 1 : o.col,
                                o.channel < 0 ? shape.channels - 1 : o.channel};
  const models::ReceptiveField field =
      models::receptive_field([ar](const Tensor& x) { return ar->logits(x); }, shape, target);
  fmt::print("{} on {}x{}x{}, output {}:\n{}", o.model, shape.channels, shape.height, shape.width,
             models::position_str(target), models::receptive_field_ascii(field));
  fmt::print("earlier values seen: {}, unseen (blind spot): {}, later values seen (leaks): {}\n",
             field.visible().size(), field.hidden().size(), field.leaks().size());
  if (!o.out.empty()) {
    io::write_png(o.out, models::receptive_field_image(field, o.cell));
    fmt::print("written to {}\n", o.out);
  }
  return kOk;
}

}  // namespace

void add_receptive_field_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<ReceptiveFieldOptions>();
  CLI::App* cmd = app.add_subcommand(
      "receptive-field",
      "Which earlier values one output of a freshly initialised model sees (gradient probe)");
  cmd->add_option("--model", o->model, "Model configuration (see 'genmodel list')")->required();
  cmd->add_option("--size", o->size, "Image height and width (default: the model's)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--channels", o->channels, "1 (grey) or 3 (RGB) (default: the model's)")
      ->check(CLI::IsMember({1, 3}));
  cmd->add_option("--row", o->row, "Output row (default: the last)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--col", o->col, "Output column (default: the last)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--channel", o->channel, "Output channel (default: the last)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", o->seed, "Initialisation seed")->capture_default_str();
  cmd->add_option("--out", o->out, "PNG file for the picture (optional)");
  cmd->add_option("--cell", o->cell, "Pixels per value in the PNG")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([o, &action] { action = [o] { return run_receptive_field(*o); }; });
}

}  // namespace gm::tools
