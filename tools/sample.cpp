// `genmodel sample`: images drawn from a trained model, as one PNG grid, and how long the
// drawing took per image.
#include <chrono>

#include "engine/autograd.h"
#include "engine/io/png.h"
#include "models/vae/vae.h"
#include "tools/checkpoint.h"
#include "tools/commands.h"

namespace gm::tools {

namespace {

struct SampleOptions {
  std::string checkpoint, out, device = "cpu";
  int64_t count = 16, scale = 0;
  double temperature = 1.0;
  uint64_t seed = 0;
  bool mean = false;
};

int run_sample(const SampleOptions& o) {
  const Device device = checked_device(o.device);
  const Checkpoint ck = read_checkpoint(o.checkpoint);
  auto model = load_model(ck, device);
  const std::filesystem::path out =
      o.out.empty() ? std::filesystem::path(o.checkpoint).parent_path() / "samples.png"
                    : std::filesystem::path(o.out);
  auto* vae = dynamic_cast<models::VaeModel*>(model.get());
  if (o.mean && !vae)
    throw UsageError(fmt::format(
        "--mean shows a VAE decoder's mean image; {} draws every pixel from its conditional "
        "distribution (use --temperature below 1 to sharpen its samples)",
        ck.config.model));
  Generator gen(stream_seed(o.seed, Stream::sample));
  Tensor images;
  const auto start = std::chrono::steady_clock::now();
  {
    NoGradGuard no_grad;
    images = o.mean ? vae->sample(o.count, o.temperature, models::DecodeMode::mean, gen)
                    : model->sample(o.count, o.temperature, gen);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  io::GridOptions grid;
  grid.scale = o.scale;
  io::write_image_grid(out.string(), images, grid);
  fmt::print("{} samples from {} (step {}, temperature {}, seed {}{}) written to {}\n", o.count,
             ck.config.model, ck.state.step, o.temperature, o.seed, o.mean ? ", decoder means" : "",
             out.string());
  fmt::print("sampling took {:.3f} s, {:.2f} ms per image\n", seconds,
             1000.0 * seconds / static_cast<double>(o.count));
  return kOk;
}

}  // namespace

void add_sample_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<SampleOptions>();
  CLI::App* cmd = app.add_subcommand("sample", "Draw images from a trained model into a PNG grid");
  cmd->add_option("--checkpoint", o->checkpoint, "A checkpoint written by 'genmodel train'")
      ->required();
  cmd->add_option("--count", o->count, "Number of images")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--temperature", o->temperature,
                  "Below 1: closer to the most likely image. Autoregressive models: divides "
                  "the logits of every pixel's softmax. VAE: multiplies every standard "
                  "deviation of the sampler, the prior's (z ~ N(0, T^2 I)) and the pixel "
                  "noise's (logistic scale, Gaussian sigma; Bernoulli logits divided by T)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--mean", o->mean,
                "VAE: show the decoder's mean image for each z instead of drawing pixels "
                "(no pixel noise)");
  cmd->add_option("--seed", o->seed, "The same seed gives the same images")->capture_default_str();
  cmd->add_option("--out", o->out, "PNG file (default: samples.png beside the checkpoint)");
  cmd->add_option("--scale", o->scale, "Upscale each image by this factor (0: automatic)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--device", o->device, "cpu, cuda, cuda:N or cuda-emu")->capture_default_str();
  cmd->callback([o, &action] { action = [o] { return run_sample(*o); }; });
}

}  // namespace gm::tools
