// `genmodel sample`: images drawn from a trained model, as one PNG grid, and how long the
// drawing took per image. A class-conditional model draws from p(x | y) for the --label given,
// or one row per class with --label all.
#include <chrono>

#include "engine/autograd.h"
#include "engine/io/atomic_file.h"
#include "engine/io/png.h"
#include "models/autoregressive_model.h"
#include "models/labels.h"
#include "models/vae/vae.h"
#include "tools/checkpoint.h"
#include "tools/commands.h"
#include "tools/option_checks.h"

namespace gm::tools {

namespace {

struct SampleOptions {
  std::string checkpoint, out, device = "cpu", label;
  int64_t count = 16, scale = 0;
  double temperature = 1.0;
  uint64_t seed = 0;
  bool naive = false, mean = false;
};

// The fast sampler by default; --naive runs an autoregressive model's one-pass-per-value
// sampler instead (the same images for the same seed, much slower). `labels`: one per image
// for a class-conditional model, undefined otherwise.
Tensor draw_samples(models::Model& model, const SampleOptions& o, const Tensor& labels,
                    Generator& gen, std::string& sampler) {
  auto* ar = dynamic_cast<models::AutoregressiveModel*>(&model);
  GM_CHECK(!o.naive || ar != nullptr,
           "--naive: {} is not an autoregressive model and has a single sampler; drop --naive",
           model.config_name());
  NoGradGuard no_grad;
  const bool by_label = labels.defined();
  if (ar == nullptr) {
    sampler = "";
    return by_label ? model.sample(labels, o.temperature, gen)
                    : model.sample(o.count, o.temperature, gen);
  }
  if (o.naive || !ar->samples_incrementally()) {
    sampler = o.naive ? ", naive sampler" : ", naive sampler (the fast one runs on the cpu)";
    return by_label ? ar->sample_naive_by_label(labels, o.temperature, gen)
                    : ar->sample_naive(o.count, o.temperature, gen);
  }
  sampler = ", fast sampler";
  return by_label ? ar->sample(labels, o.temperature, gen)
                  : ar->sample(o.count, o.temperature, gen);
}

// The labels of the images to draw: --count copies of --label K, or --count per class (one
// grid row each) for --label all. Undefined for an unconditional model.
Tensor sample_labels(const SampleOptions& o, int64_t classes, const std::string& model) {
  if (classes == 0) {
    if (!o.label.empty())
      throw UsageError(
          fmt::format("{} is unconditional: --label needs a class-conditional model "
                      "(e.g. pixelcnn-ref-cond, vae-ref-cond)",
                      model));
    return {};
  }
  if (o.label.empty() || o.label == "all") {
    std::vector<int32_t> labels;
    for (int64_t y = 0; y < classes; ++y)
      for (int64_t i = 0; i < o.count; ++i)
        labels.push_back(static_cast<int32_t>(y));
    return Tensor::from_vector(labels, {classes * o.count});
  }
  int64_t label = -1;
  try {
    size_t used = 0;
    label = std::stoll(o.label, &used);
    if (used != o.label.size()) label = -1;
  } catch (const std::exception&) {
    label = -1;
  }
  if (label < 0 || label >= classes)
    throw UsageError(fmt::format("--label '{}': {} has classes 0 to {}; give one of them or 'all'",
                                 o.label, model, classes - 1));
  return models::repeated_label(label, o.count);
}

int run_sample(const SampleOptions& o) {
  const Device device = checked_device(o.device);
  const std::filesystem::path out =
      o.out.empty() ? beside_checkpoint(o.checkpoint, "samples.png") : std::filesystem::path(o.out);
  check_writable(out);  // before sampling, which may take minutes
  const Checkpoint ck = read_checkpoint(o.checkpoint);
  auto model = load_model(ck, device);
  const Tensor labels = sample_labels(o, model->num_classes(), ck.config.model);
  auto* vae = dynamic_cast<models::VaeModel*>(model.get());
  if (o.mean && !vae)
    throw UsageError(fmt::format(
        "--mean shows a VAE decoder's mean image; {} draws every pixel from its conditional "
        "distribution (use --temperature below 1 to sharpen its samples)",
        ck.config.model));
  if (o.mean && labels.defined())
    throw UsageError(
        fmt::format("--mean: {} is class-conditional; sample it without --mean", ck.config.model));
  Generator gen(stream_seed(o.seed, Stream::sample));
  std::string sampler;
  Tensor images;
  const auto start = std::chrono::steady_clock::now();
  if (o.mean) {
    NoGradGuard no_grad;
    images = vae->sample(o.count, o.temperature, models::DecodeMode::mean, gen);
    sampler = ", decoder means";
  } else {
    images = draw_samples(*model, o, labels, gen, sampler);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  io::GridOptions grid;
  grid.scale = o.scale;
  // One row per class when drawing every class.
  if (labels.defined() && labels.size(0) > o.count) grid.columns = o.count;
  io::write_image_grid(out.string(), images, grid);
  fmt::print("{} samples from {} (step {}, temperature {}, seed {}{}{}) written to {}\n",
             images.size(0), ck.config.model, ck.state.step, o.temperature, o.seed, sampler,
             !labels.defined()          ? ""
             : labels.size(0) > o.count ? ", one row per class"
                                        : fmt::format(", label {}", o.label),
             out.string());
  fmt::print("sampling took {:.3f} s, {:.2f} ms per image\n", seconds,
             1000.0 * seconds / static_cast<double>(images.size(0)));
  return kOk;
}

}  // namespace

void add_sample_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<SampleOptions>();
  CLI::App* cmd = app.add_subcommand("sample", "Draw images from a trained model into a PNG grid");
  cmd->add_option("--checkpoint", o->checkpoint,
                  "A checkpoint written by 'genmodel train', or its run folder")
      ->required();
  cmd->add_option("--label", o->label,
                  "Class-conditional models: draw class K, or 'all' (the default) for one row of "
                  "--count images per class");
  cmd->add_option("--count", o->count, "Number of images (per class with --label all)")
      ->check(positive_integer(10000))
      ->capture_default_str();
  cmd->add_option("--temperature", o->temperature,
                  "Below 1: closer to the most likely image. Autoregressive models: divides "
                  "the logits of every pixel's softmax. VAE: multiplies every standard "
                  "deviation of the sampler, the prior's (z ~ N(0, T^2 I)) and the pixel "
                  "noise's (logistic scale, Gaussian sigma; Bernoulli logits divided by T)")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_flag("--mean", o->mean,
                "VAE: show the decoder's mean image for each z instead of drawing pixels "
                "(no pixel noise)");
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
