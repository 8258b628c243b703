// `genmodel sample`: images drawn from a trained model, as one PNG grid.
#include "engine/autograd.h"
#include "engine/io/atomic_file.h"
#include "engine/io/png.h"
#include "models/autoregressive_model.h"
#include "tools/checkpoint.h"
#include "tools/commands.h"
#include "tools/option_checks.h"

namespace gm::tools {

namespace {

struct SampleOptions {
  std::string checkpoint, out, device = "cpu";
  int64_t count = 16, scale = 0;
  double temperature = 1.0;
  uint64_t seed = 0;
  bool naive = false;
};

// The fast sampler by default; --naive runs an autoregressive model's one-pass-per-value
// sampler instead (the same images for the same seed, much slower).
Tensor draw_samples(models::Model& model, const SampleOptions& o, Generator& gen,
                    std::string& sampler) {
  auto* ar = dynamic_cast<models::AutoregressiveModel*>(&model);
  GM_CHECK(!o.naive || ar != nullptr,
           "--naive: {} is not an autoregressive model and has a single sampler; drop --naive",
           model.config_name());
  NoGradGuard no_grad;
  if (ar == nullptr) {
    sampler = "";
    return model.sample(o.count, o.temperature, gen);
  }
  if (o.naive || !ar->samples_incrementally()) {
    sampler = o.naive ? ", naive sampler" : ", naive sampler (the fast one runs on the cpu)";
    return ar->sample_naive(o.count, o.temperature, gen);
  }
  sampler = ", fast sampler";
  return ar->sample(o.count, o.temperature, gen);
}

int run_sample(const SampleOptions& o) {
  const Device device = checked_device(o.device);
  const std::filesystem::path out =
      o.out.empty() ? checkpoint_file(o.checkpoint).parent_path() / "samples.png"
                    : std::filesystem::path(o.out);
  check_writable(out);  // before sampling, which may take minutes
  const Checkpoint ck = read_checkpoint(o.checkpoint);
  auto model = load_model(ck, device);
  Generator gen(stream_seed(o.seed, Stream::sample));
  std::string sampler;
  const Tensor images = draw_samples(*model, o, gen, sampler);
  io::GridOptions grid;
  grid.scale = o.scale;
  io::write_image_grid(out.string(), images, grid);
  fmt::print("{} samples from {} (step {}, temperature {}, seed {}{}) written to {}\n", o.count,
             ck.config.model, ck.state.step, o.temperature, o.seed, sampler, out.string());
  return kOk;
}

}  // namespace

void add_sample_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<SampleOptions>();
  CLI::App* cmd = app.add_subcommand("sample", "Draw images from a trained model into a PNG grid");
  cmd->add_option("--checkpoint", o->checkpoint,
                  "A checkpoint written by 'genmodel train', or its run folder")
      ->required();
  cmd->add_option("--count", o->count, "Number of images")
      ->check(positive_integer(10000))
      ->capture_default_str();
  cmd->add_option("--temperature", o->temperature,
                  "Divides the logits (autoregressive models) or scales the latent noise (VAE)")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "The same seed gives the same images")->capture_default_str();
  cmd->add_option("--out", o->out, "PNG file (default: samples.png beside the checkpoint)");
  cmd->add_option("--scale", o->scale, "Upscale each image by this factor (0: automatic)")
      ->check(non_negative_integer(64))
      ->capture_default_str();
  cmd->add_flag("--naive", o->naive,
                "Autoregressive models: one network pass per drawn value instead of the fast "
                "incremental sampler (same images, for teaching and comparison)");
  cmd->add_option("--device", o->device, "cpu, cuda, cuda:N or cuda-emu")->capture_default_str();
  cmd->callback([o, &action] { action = [o] { return run_sample(*o); }; });
}

}  // namespace gm::tools
