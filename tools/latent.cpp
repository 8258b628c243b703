// `genmodel latent`: pictures of a trained VAE's latent space. The manifold of a 2-D latent
// space as a grid, interpolations between test images, per-dimension sweeps (encode, change
// one dimension, decode) and reconstructions under their originals. The VaeModel functions do
// the work (models/vae/generate.cpp); this file picks test images and writes the PNG.
#include "engine/autograd.h"
#include "engine/io/png.h"
#include "models/autoencoder/autoencoder.h"
#include "models/vae/vae.h"
#include "tools/checkpoint.h"
#include "tools/commands.h"

namespace gm::tools {

namespace {

struct LatentOptions {
  std::string checkpoint, view, out, data, device = "cpu";
  bool mean = false;
  int64_t size = 15, pairs = 4, steps = 9, image = 0, count = 8, scale = 0;
  std::vector<int64_t> dims;
  double range = 3.0;
  uint64_t seed = 0;
};

// The first `count` test images of the checkpoint's data (or --data), prepared as in training.
Tensor test_images(const Checkpoint& ck, const LatentOptions& o, int64_t count, Generator& gen) {
  DataOptions data = ck.config.data;
  if (!o.data.empty()) data.spec = o.data;
  const io::Dataset test = load_splits(data, ck.config.shape).test;
  GM_CHECK(test.size() >= count, "{} has {} test images, this view needs {}", data.spec,
           test.size(), count);
  check_data_fits(test, ck);
  return io::preprocess(slice(test.images, 0, 0, count), io::parse_pixels(data.pixels), gen);
}

models::VaeModel& as_vae(models::Model& model, const std::string& view) {
  auto* vae = dynamic_cast<models::VaeModel*>(&model);
  if (!vae)
    throw UsageError(fmt::format("--view {} needs a VAE checkpoint, this one holds {} (a {})", view,
                                 model.config_name(),
                                 model.has_likelihood() ? "model without a latent space"
                                                        : "plain autoencoder: only --view "
                                                          "reconstruct works for it"));
  return *vae;
}

int run_latent(const LatentOptions& o) {
  const Device device = checked_device(o.device);
  const Checkpoint ck = read_checkpoint(o.checkpoint);
  auto model = load_model(ck, device);
  const models::DecodeMode mode = o.mean ? models::DecodeMode::mean : models::DecodeMode::sample;
  Generator gen(stream_seed(o.seed, Stream::sample));
  NoGradGuard no_grad;
  io::GridOptions grid;
  grid.scale = o.scale;
  Tensor images;
  std::string what;
  if (o.view == "manifold") {
    images = as_vae(*model, o.view).manifold_grid(o.size, mode, gen);
    grid.columns = o.size;
    what = fmt::format("{} x {} latent manifold", o.size, o.size);
  } else if (o.view == "interpolate") {
    models::VaeModel& vae = as_vae(*model, o.view);
    const Tensor ends = test_images(ck, o, 2 * o.pairs, gen);
    images = vae.interpolate(slice(ends, 0, 0, o.pairs), slice(ends, 0, o.pairs, 2 * o.pairs),
                             o.steps, mode, gen);
    grid.columns = o.steps;
    what = fmt::format("{} interpolations of {} steps (test images 0..{} to {}..{})", o.pairs,
                       o.steps, o.pairs - 1, o.pairs, 2 * o.pairs - 1);
  } else if (o.view == "sweep") {
    models::VaeModel& vae = as_vae(*model, o.view);
    std::vector<int64_t> dims = o.dims;
    if (dims.empty())  // every dimension by default
      for (int64_t d = 0; d < vae.latent_dims(); ++d)
        dims.push_back(d);
    const Tensor image = slice(test_images(ck, o, o.image + 1, gen), 0, o.image, o.image + 1);
    images = vae.sweep(image, dims, o.steps, o.range, mode, gen);
    grid.columns = o.steps;
    what = fmt::format("sweeps of {} latent dimensions over [-{}, {}] from test image {}",
                       dims.size(), o.range, o.range, o.image);
  } else {  // reconstruct
    const Tensor originals = test_images(ck, o, o.count, gen);
    Tensor rebuilt;
    if (auto* ae = dynamic_cast<models::AutoencoderModel*>(model.get()))
      rebuilt = ae->reconstruct(originals);
    else
      rebuilt = as_vae(*model, o.view).reconstruct(originals, mode, gen);
    images = concat({originals, rebuilt.to(Device::cpu())}, 0);
    grid.columns = o.count;
    what = fmt::format("{} test images (top) and their reconstructions (bottom)", o.count);
  }
  const std::filesystem::path out = o.out.empty() ? beside_checkpoint(o.checkpoint, o.view + ".png")
                                                  : std::filesystem::path(o.out);
  io::write_image_grid(out.string(), images.to(Device::cpu()), grid);
  fmt::print("{} from {} (step {}, {}) written to {}\n", what, ck.config.model, ck.state.step,
             o.mean ? "decoder means" : "decoder samples", out.string());
  return kOk;
}

}  // namespace

void add_latent_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<LatentOptions>();
  CLI::App* cmd = app.add_subcommand(
      "latent",
      "Pictures of a VAE's latent space: manifold, interpolations, sweeps, reconstructions");
  cmd->add_option("--checkpoint", o->checkpoint, "A VAE checkpoint written by 'genmodel train'")
      ->required();
  cmd->add_option("--view", o->view,
                  "manifold: decodings of an even grid over a 2-D latent space (vae-2d); "
                  "interpolate: decodings along straight lines between the posterior means of "
                  "test images; sweep: one test image's mean with one dimension changed at a "
                  "time, a row per dimension; reconstruct: test images over their "
                  "reconstructions (autoencoders too)")
      ->required()
      ->check(CLI::IsMember({"manifold", "interpolate", "sweep", "reconstruct"}));
  cmd->add_flag("--mean", o->mean,
                "Show the decoder's mean image instead of a draw from p(x|z) (sharper: no pixel "
                "noise)");
  cmd->add_option("--size", o->size, "manifold: images per side of the grid")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--pairs", o->pairs, "interpolate: number of image pairs (rows)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--steps", o->steps, "interpolate, sweep: images per row")
      ->check(CLI::Range(int64_t{2}, int64_t{64}))
      ->capture_default_str();
  cmd->add_option("--image", o->image, "sweep: index of the test image to edit")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--dims", o->dims, "sweep: latent dimensions to change (default: all)")
      ->delimiter(',');
  cmd->add_option("--range", o->range, "sweep: each dimension goes from -range to range")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--count", o->count, "reconstruct: number of test images")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--data", o->data, "Test images (default: the data the model was trained on)");
  cmd->add_option("--out", o->out, "PNG file (default: VIEW.png beside the checkpoint)");
  cmd->add_option("--scale", o->scale, "Upscale each image by this factor (0: automatic)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "The same seed gives the same pictures")
      ->capture_default_str();
  cmd->add_option("--device", o->device, "cpu, cuda, cuda:N or cuda-emu")->capture_default_str();
  cmd->callback([o, &action] { action = [o] { return run_latent(*o); }; });
}

}  // namespace gm::tools
