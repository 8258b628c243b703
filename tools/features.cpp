// `genmodel features`: the linear probe (tools/linear_probe.h) on raw pixels and on the
// encoder features of each given checkpoint (autoencoder code, VAE posterior mean): how well a
// logistic regression reads the class from each, as a printed table and a CSV file.
#include <algorithm>

#include "engine/io/atomic_file.h"
#include "tools/checkpoint.h"
#include "tools/commands.h"
#include "tools/linear_probe.h"

namespace gm::tools {

namespace {

struct FeaturesOptions {
  std::vector<std::string> checkpoints;
  std::string data = "fashion-mnist", out = "linear_probe.csv", device = "cpu";
  int64_t train_limit = 10000, test_limit = 0, batch = 500;
  ProbeOptions probe;
  uint64_t seed = 0;
};

struct Row {
  std::string representation;
  ProbeResult result;
};

int run_features(const FeaturesOptions& o) {
  const Device device = checked_device(o.device);
  DataOptions data;
  data.spec = o.data;
  const io::DataSplits splits = load_splits(data, {1, 28, 28});
  const io::Dataset train = splits.train.first(o.train_limit);
  const io::Dataset test = splits.test.first(o.test_limit);
  const std::vector<int> train_labels = train.labels.to_vector<int>();
  const int64_t classes = *std::max_element(train_labels.begin(), train_labels.end()) + 1;
  GM_CHECK(classes >= 2,
           "{}: the linear probe needs class labels, and every training image has label {}; use "
           "a labelled data set (fashion-mnist, mnist, cifar10, or class folders)",
           o.data, classes - 1);
  fmt::print("linear probe on {}: {} training and {} test images, {} classes, {} Adam steps\n",
             o.data, train.size(), test.size(), classes, o.probe.steps);

  std::vector<Row> rows;
  auto probe = [&](const std::string& name, const Tensor& train_x, const Tensor& test_x) {
    rows.push_back(
        {name, linear_probe(train_x, train.labels, test_x, test.labels, classes, o.probe)});
    fmt::print("  {:<36} {:>5} dims  test accuracy {:.2f}%\n", name,
               rows.back().result.feature_dims, 100.0 * rows.back().result.test_accuracy);
  };
  probe("raw pixels", pixel_features(train), pixel_features(test));
  for (const std::string& path : o.checkpoints) {
    const Checkpoint ck = read_checkpoint(path);
    auto model = load_model(ck, device);
    const auto* encoder = dynamic_cast<const models::FeatureEncoder*>(model.get());
    if (!encoder)
      throw UsageError(
          fmt::format("{} holds {}, which has no encoder; give autoencoder or VAE "
                      "checkpoints",
                      path, ck.config.model));
    check_data_fits(train, ck);
    Generator gen(stream_seed(o.seed, Stream::eval));
    const std::string what = model->has_likelihood() ? "posterior mean" : "code";
    probe(fmt::format("{} {} (step {})", ck.config.model, what, ck.state.step),
          encoder_features(*encoder, train, o.batch, gen),
          encoder_features(*encoder, test, o.batch, gen));
  }

  std::string csv = "representation,dims,train_images,test_images,train_accuracy,test_accuracy\n";
  fmt::print(
      "\n| representation | dims | train accuracy | test accuracy |\n|---|---:|---:|---:|\n");
  for (const Row& r : rows) {
    csv += fmt::format("{},{},{},{},{:.4f},{:.4f}\n", r.representation, r.result.feature_dims,
                       r.result.train_images, r.result.test_images, r.result.train_accuracy,
                       r.result.test_accuracy);
    fmt::print("| {} | {} | {:.2f}% | {:.2f}% |\n", r.representation, r.result.feature_dims,
               100.0 * r.result.train_accuracy, 100.0 * r.result.test_accuracy);
  }
  write_file_atomic(o.out, csv);
  fmt::print("\ntable written to {}\n", o.out);
  return kOk;
}

}  // namespace

void add_features_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<FeaturesOptions>();
  CLI::App* cmd = app.add_subcommand(
      "features",
      "Linear probe: logistic-regression accuracy on raw pixels and on encoder features");
  cmd->add_option("--checkpoint", o->checkpoints,
                  "Autoencoder (ae-conv) or VAE checkpoints whose encoder features to probe "
                  "(repeat the option for several; none: raw pixels only)");
  cmd->add_option("--data", o->data, "Labelled data: fashion-mnist, mnist:DIR, cifar10:DIR, ...")
      ->capture_default_str();
  cmd->add_option("--train-limit", o->train_limit, "Fit on the first N training images (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--test-limit", o->test_limit, "Score on the first N test images (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--steps", o->probe.steps, "Full-batch Adam steps of the logistic regression")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--lr", o->probe.lr, "Adam learning rate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "Images per encoder batch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--out", o->out, "CSV file for the table")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seeds any noise of the encoders' inputs")
      ->capture_default_str();
  cmd->add_option("--device", o->device, "cpu, cuda, cuda:N or cuda-emu")->capture_default_str();
  cmd->callback([o, &action] { action = [o] { return run_features(*o); }; });
}

}  // namespace gm::tools
