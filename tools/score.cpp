// `genmodel score`: the NLL of every image of a data set (nats per image and bits per
// dimension; for a VAE also its ELBO) to CSV, with their histogram as an SVG figure.
#include <filesystem>

#include "engine/io/atomic_file.h"
#include "tools/checkpoint.h"
#include "tools/commands.h"
#include "tools/figures.h"
#include "tools/image_scores.h"

namespace gm::tools {

namespace {

struct ScoreOptions : ScoringOptions {
  std::string out, figure;
};

int run_score(const ScoreOptions& o) {
  const Device device = checked_device(o.device);
  const Checkpoint ck = read_checkpoint(o.checkpoint);
  auto model = load_model(ck, device);
  const TestData test = load_test_data(ck, o.data, o.limit);
  const std::filesystem::path csv =
      o.out.empty() ? beside_checkpoint(o.checkpoint, "scores.csv") : std::filesystem::path(o.out);
  const std::filesystem::path svg = o.figure.empty()
                                        ? std::filesystem::path(csv).replace_extension(".svg")
                                        : std::filesystem::path(o.figure);
  const int64_t dims = ck.config.shape.dims();
  const ImageScores s = score_images(*model, test.images, o.batch, test.pixels,
                                     o.importance_samples, stream_seed(o.seed, Stream::eval));
  const bool vae = !s.elbo_nats.empty();
  const bool bound = vae && o.importance_samples == 0;
  std::string text =
      fmt::format("index,label,nats_per_image,bits_per_dim{}\n", vae ? ",elbo_nats_per_image" : "");
  double mean = 0.0;
  for (size_t i = 0; i < s.nats.size(); ++i) {
    text += fmt::format("{},{},{:.4f},{:.6f}", i, s.labels[i], s.nats[i],
                        bits_per_dim(s.nats[i], dims));
    if (vae) text += fmt::format(",{:.4f}", -s.elbo_nats[i]);
    text += "\n";
    mean += s.nats[i] / static_cast<double>(s.nats.size());
  }
  write_file_atomic(csv, text);

  const std::string what =
      !vae    ? "NLL"
      : bound ? "-ELBO (an upper bound on the NLL)"
              : fmt::format("importance-weighted NLL (k = {})", o.importance_samples);
  Histogram h;
  h.title = fmt::format("{} (step {}) on {} images of {}", ck.config.model, ck.state.step,
                        s.nats.size(), test.data.spec);
  h.x_label = what + ", bits/dim";
  std::vector<double> bits;
  for (double n : s.nats)
    bits.push_back(bits_per_dim(n, dims));
  h.series.push_back({test.images.name, bits});
  h.notes.push_back(fmt::format("mean {:.4f} bits/dim", bits_per_dim(mean, dims)));
  write_file_atomic(svg, histogram_svg(h));
  fmt::print("{} of {} images of {} under {}: mean {:.2f} nats/image, {:.4f} bits/dim\n", what,
             s.nats.size(), test.data.spec, ck.config.model, mean, bits_per_dim(mean, dims));
  fmt::print("per-image scores: {}\nhistogram: {}\n", csv.string(), svg.string());
  return kOk;
}

}  // namespace

// Options every scoring command shares: the checkpoint, its test data, batches, noise.
void add_scoring_options(CLI::App* cmd, ScoringOptions& o) {
  cmd->add_option("--checkpoint", o.checkpoint, "A checkpoint written by 'genmodel train'")
      ->required();
  cmd->add_option("--data", o.data, "Test data (default: the data the model was trained on)");
  cmd->add_option("--eval-limit", o.limit, "Use the first N test images (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--batch", o.batch, "Images per batch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--importance-samples", o.importance_samples,
                  "VAE: samples k of the importance-weighted estimate (0: the ELBO)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seeds the noise of stochastic models")->capture_default_str();
  cmd->add_option("--device", o.device, "cpu, cuda, cuda:N or cuda-emu")->capture_default_str();
}

void add_score_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<ScoreOptions>();
  CLI::App* cmd =
      app.add_subcommand("score", "Per-image NLL of a data set to CSV, with a histogram (SVG)");
  add_scoring_options(cmd, *o);
  cmd->add_option("--out", o->out, "CSV file (default: scores.csv beside the checkpoint)");
  cmd->add_option("--figure", o->figure, "SVG histogram (default: the CSV's name with .svg)");
  cmd->callback([o, &action] { action = [o] { return run_score(*o); }; });
}

}  // namespace gm::tools
