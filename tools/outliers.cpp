// `genmodel outliers`: does low likelihood flag images from elsewhere? The model's test set
// against other sets (transformations of it, another data set, a folder), scored by -log p(x)
// and by the input-complexity correction S(x) = -log2 p(x) - L(x) of Serra et al. (2020),
// L(x) the zlib-compressed length in bits: AUROC, FPR at 95% TPR and the histograms.
#include <cmath>
#include <filesystem>
#include <numeric>

#include "engine/io/atomic_file.h"
#include "tools/checkpoint.h"
#include "tools/commands.h"
#include "tools/figures.h"
#include "tools/image_scores.h"

namespace gm::tools {

namespace {

struct OutliersOptions : ScoringOptions {
  std::vector<std::string> against{"flip", "invert", "noise"};
  std::string figure;
};

double mean_of(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// Per image, in bits/dim: the NLL and the complexity-corrected score.
struct SetScores {
  std::string name;
  std::vector<double> nll, corrected;
};

SetScores score_set(models::Model& model, const io::Dataset& data, io::Pixels pixels,
                    const ScoringOptions& o) {
  fmt::print(stderr, "scoring {} ({} images)\n", data.name, data.size());
  const int64_t dims = shape_of(data).dims();
  SetScores s{data.name, {}, {}};
  const std::vector<double> nats = marginal_nats(model, data, o.batch, pixels, o.importance_samples,
                                                 stream_seed(o.seed, Stream::eval));
  for (size_t i = 0; i < nats.size(); ++i) {
    s.nll.push_back(bits_per_dim(nats[i], dims));
    const double bits = nats[i] / std::log(2.0);
    s.corrected.push_back((bits - compressed_bits(data.images, static_cast<int64_t>(i))) /
                          static_cast<double>(dims));
  }
  return s;
}

// The test images of one class of the checkpoint's data (also one the model never saw, when
// it was trained with --exclude-class), at most as many as the in-distribution set.
io::Dataset class_set(const Checkpoint& ck, int64_t label, int64_t limit) {
  DataOptions data = ck.config.data;
  data.exclude_class = -1;
  io::Dataset only = select_class(load_splits(data, ck.config.shape).test, label, true);
  GM_CHECK(only.size() > 0, "--against class:{}: {} has no test image of class {}", label,
           data.spec, label);
  only = only.first(limit);
  only.labels = Tensor::zeros({only.size()}, DType::i32);  // only p(x) is used
  return only;
}

int64_t parse_class(const std::string& spec) {
  const std::string digits = spec.substr(6);
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError(fmt::format("--against '{}': expected class:K with K a class number", spec));
  return std::stoll(digits);
}

io::Dataset outlier_set(const std::string& spec, const Checkpoint& ck, const io::Dataset& test,
                        const ScoringOptions& o) {
  if (spec == "flip" || spec == "mirror" || spec == "invert" || spec == "noise")
    return transformed(test, spec, stream_seed(o.seed, Stream::sample));
  if (spec == "held-out") {
    if (ck.config.data.exclude_class < 0)
      throw UsageError(fmt::format(
          "--against held-out: {} was trained on every class; train with --exclude-class K, "
          "or compare against one class with class:K",
          ck.config.model));
    return class_set(ck, ck.config.data.exclude_class, test.size());
  }
  if (spec.starts_with("class:")) return class_set(ck, parse_class(spec), test.size());
  if (spec.find(':') == std::string::npos && spec != "fashion-mnist")
    throw UsageError(
        fmt::format("--against '{}': use flip, mirror, invert, noise, held-out, class:K or a "
                    "data set (fashion-mnist, mnist:DIR, cifar10:DIR, folder:DIR)",
                    spec));
  io::Dataset other = load_test_data(ck, spec, test.size()).images;
  // Its labels mean nothing to this model: only p(x) is used.
  other.labels = Tensor::zeros({other.size()}, DType::i32);
  return other;
}

int run_outliers(const OutliersOptions& o) {
  const Device device = checked_device(o.device);
  const Checkpoint ck = read_checkpoint(o.checkpoint);
  auto model = load_model(ck, device);
  const TestData test = load_test_data(ck, o.data, o.limit);
  std::vector<io::Dataset> others;  // loaded first, so a bad --against fails before any work
  for (const std::string& spec : o.against)
    others.push_back(outlier_set(spec, ck, test.images, o));
  const std::filesystem::path svg = o.figure.empty()
                                        ? beside_checkpoint(o.checkpoint, "outliers.svg")
                                        : std::filesystem::path(o.figure);

  const SetScores in = score_set(*model, test.images, test.pixels, o);
  Histogram nll{.title = fmt::format("{} (step {}): -log p(x) of in- and out-of-distribution "
                                     "images",
                                     ck.config.model, ck.state.step),
                .x_label = "NLL, bits/dim",
                .series = {{in.name, in.nll}},
                .notes = {}};
  Histogram corrected{.title =
                          "the same images scored by S(x) = (-log2 p(x) - L(x)) / D, "
                          "L(x) = zlib bits",
                      .x_label = "S(x), bits/dim",
                      .series = {{in.name, in.corrected}},
                      .notes = {}};
  fmt::print("{} (step {}): {} test images of {}, mean {:.3f} bits/dim\n", ck.config.model,
             ck.state.step, in.nll.size(), test.data.spec, mean_of(in.nll));
  fmt::print("{:<36} {:>10} {:>8} {:>8}   {:>8} {:>8}\n", "outlier set", "bits/dim", "AUROC",
             "FPR95", "AUROC-S", "FPR95-S");
  for (const io::Dataset& other : others) {
    const SetScores out = score_set(*model, other, test.pixels, o);
    const double a = auroc(in.nll, out.nll), f = fpr_at_95_tpr(in.nll, out.nll);
    const double ac = auroc(in.corrected, out.corrected);
    const double fc = fpr_at_95_tpr(in.corrected, out.corrected);
    fmt::print("{:<36} {:>10.3f} {:>8.3f} {:>8.3f}   {:>8.3f} {:>8.3f}\n", out.name,
               mean_of(out.nll), a, f, ac, fc);
    nll.series.push_back({out.name, out.nll});
    nll.notes.push_back(fmt::format("{}: AUROC {:.3f}", out.name, a));
    corrected.series.push_back({out.name, out.corrected});
    corrected.notes.push_back(fmt::format("{}: AUROC {:.3f}", out.name, ac));
  }
  fmt::print(
      "AUROC: P(an outlier scores above a test image), 0.5 is chance; FPR95: outliers "
      "accepted at the threshold accepting 95% of test images; -S: with the "
      "input-complexity correction\n");
  write_file_atomic(svg, histogram_svg(nll));
  const std::filesystem::path svg_corrected =
      svg.parent_path() / (svg.stem().string() + "-corrected.svg");
  write_file_atomic(svg_corrected, histogram_svg(corrected));
  fmt::print("histograms: {}, {}\n", svg.string(), svg_corrected.string());
  return kOk;
}

}  // namespace

void add_outliers_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<OutliersOptions>();
  CLI::App* cmd = app.add_subcommand(
      "outliers",
      "Likelihood as an outlier detector: AUROC and FPR at 95% TPR of the test set against "
      "other sets, with and without the input-complexity correction");
  add_scoring_options(cmd, *o);
  cmd->add_option("--against", o->against,
                  "Outlier sets: flip (upside down), mirror, invert, noise, held-out (the class "
                  "train --exclude-class left out), class:K (the test images of class K), or a "
                  "data set (mnist:DIR, cifar10:DIR, folder:DIR)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--figure", o->figure,
                  "SVG histograms (default: outliers.svg beside the checkpoint; the corrected "
                  "scores go to NAME-corrected.svg)");
  cmd->callback([o, &action] { action = [o] { return run_outliers(*o); }; });
}

}  // namespace gm::tools
