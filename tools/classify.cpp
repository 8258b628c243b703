// `genmodel classify`: a class-conditional density model as a classifier, by Bayes' rule
//   p(y | x) = p(x | y) p(y) / p(x),   p(x) = sum_y p(x | y) p(y),   p(y) = 1/K,
// exact for autoregressive models and with the importance-weighted estimate of log p(x | y)
// for a VAE. The same p(x) rejects what the model finds unlikely: images whose log p(x) falls
// below the threshold that rejects --reject of the test images are not classified.
#include <algorithm>
#include <filesystem>

#include "engine/io/atomic_file.h"
#include "tools/checkpoint.h"
#include "tools/commands.h"
#include "tools/figures.h"
#include "tools/image_scores.h"

namespace gm::tools {

namespace {

struct ClassifyOptions : ScoringOptions {
  double reject = 0.05;
  std::string outliers = "flip", figure;
};

std::vector<std::string> class_names(const std::string& data_spec, int64_t classes) {
  static const std::vector<std::string> fashion = {
      "T-shirt/top", "trouser", "pullover", "dress", "coat",
      "sandal",      "shirt",   "sneaker",  "bag",   "ankle boot"};
  if (data_spec.starts_with("fashion-mnist") && classes == 10) return fashion;
  std::vector<std::string> names;
  for (int64_t y = 0; y < classes; ++y)
    names.push_back(std::to_string(y));
  return names;
}

int run_classify(const ClassifyOptions& o) {
  if (!(o.reject >= 0.0 && o.reject < 1.0))
    throw UsageError(fmt::format("--reject {} must be in [0, 1)", o.reject));
  const Device device = checked_device(o.device);
  const Checkpoint ck = read_checkpoint(o.checkpoint);
  auto model = load_model(ck, device);
  const int64_t k = model->num_classes();
  if (k == 0)
    throw UsageError(
        fmt::format("{} is unconditional: classify needs a class-conditional model "
                    "(train pixelcnn-ref-cond or vae-ref-cond)",
                    ck.config.model));
  const TestData test = load_test_data(ck, o.data, o.limit);
  const io::Dataset outliers =
      transformed(test.images, o.outliers, stream_seed(o.seed, Stream::sample));
  const uint64_t seed = stream_seed(o.seed, Stream::eval);

  const auto ll =
      class_log_likelihoods(*model, test.images, o.batch, test.pixels, o.importance_samples, seed);
  const std::vector<int32_t> truth = test.images.labels.to_vector<int32_t>();
  std::vector<std::vector<int64_t>> confusion(static_cast<size_t>(k),
                                              std::vector<int64_t>(static_cast<size_t>(k), 0));
  std::vector<double> log_px;
  std::vector<bool> correct;
  for (size_t i = 0; i < ll.size(); ++i) {
    const auto best = std::max_element(ll[i].begin(), ll[i].end()) - ll[i].begin();
    GM_CHECK(truth[i] >= 0 && truth[i] < k, "test label {} is outside the model's {} classes",
             truth[i], k);
    ++confusion[static_cast<size_t>(truth[i])][static_cast<size_t>(best)];
    correct.push_back(best == truth[i]);
    log_px.push_back(log_marginal(ll[i]));
  }
  // The threshold rejects the fraction --reject of the test images with the lowest p(x).
  std::vector<double> sorted = log_px;
  std::sort(sorted.begin(), sorted.end());
  const size_t cut = static_cast<size_t>(o.reject * static_cast<double>(sorted.size()));
  const double threshold = o.reject > 0.0 ? sorted[cut] : -INFINITY;
  int64_t accepted = 0, accepted_correct = 0, all_correct = 0;
  for (size_t i = 0; i < log_px.size(); ++i) {
    all_correct += correct[i];
    if (log_px[i] >= threshold) {
      ++accepted;
      accepted_correct += correct[i];
    }
  }
  const auto out_ll =
      class_log_likelihoods(*model, outliers, o.batch, test.pixels, o.importance_samples, seed);
  int64_t out_rejected = 0;
  for (const auto& row : out_ll)
    out_rejected += log_marginal(row) < threshold;

  const double n = static_cast<double>(ll.size());
  const double dims = static_cast<double>(ck.config.shape.dims());
  fmt::print("{} (step {}) on {} test images of {}, Bayes' rule with p(y) = 1/{}\n",
             ck.config.model, ck.state.step, ll.size(), test.data.spec, k);
  fmt::print("  accuracy: {:.4f} ({} of {})\n", static_cast<double>(all_correct) / n, all_correct,
             ll.size());
  fmt::print(
      "  rejecting log p(x) < {:.1f} nats ({:.4f} bits/dim; {:.0f}% of the test images): "
      "accuracy {:.4f} on the {} accepted\n",
      threshold, -threshold / (dims * std::log(2.0)), 100.0 * o.reject,
      accepted > 0 ? static_cast<double>(accepted_correct) / static_cast<double>(accepted) : 0.0,
      accepted);
  fmt::print("  outliers ({}): {:.4f} rejected ({} of {})\n", outliers.name,
             static_cast<double>(out_rejected) / static_cast<double>(out_ll.size()), out_rejected,
             out_ll.size());
  const std::filesystem::path svg = o.figure.empty()
                                        ? beside_checkpoint(o.checkpoint, "confusion.svg")
                                        : std::filesystem::path(o.figure);
  write_file_atomic(
      svg, confusion_svg(fmt::format("{}: accuracy {:.3f} on {} test images", ck.config.model,
                                     static_cast<double>(all_correct) / n, ll.size()),
                         class_names(test.data.spec, k), confusion));
  fmt::print("confusion matrix: {}\n", svg.string());
  return kOk;
}

}  // namespace

void add_classify_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<ClassifyOptions>();
  CLI::App* cmd = app.add_subcommand(
      "classify",
      "Bayes' rule with a class-conditional model: accuracy, confusion matrix (SVG), and "
      "rejection of unlikely images by p(x)");
  add_scoring_options(cmd, *o);
  cmd->add_option("--reject", o->reject,
                  "Fraction of test images whose p(x) sets the rejection threshold (0: none)")
      ->capture_default_str();
  cmd->add_option("--outliers", o->outliers,
                  "Outlier set for the rejection rate: flip, mirror, invert or noise")
      ->check(CLI::IsMember({"flip", "mirror", "invert", "noise"}))
      ->capture_default_str();
  cmd->add_option("--figure", o->figure,
                  "SVG confusion matrix (default: confusion.svg beside "
                  "the checkpoint)");
  cmd->callback([o, &action] { action = [o] { return run_classify(*o); }; });
}

}  // namespace gm::tools
