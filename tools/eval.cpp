// `genmodel eval`: test-set likelihood of a trained model, in nats per image and bits per
// dimension, plus whatever bounds the model family offers (extra_estimates.h).
#include <nlohmann/json.hpp>

#include "tools/checkpoint.h"
#include "tools/commands.h"
#include "tools/extra_estimates.h"
#include "tools/option_checks.h"

namespace gm::tools {

namespace {

struct EvalOptions {
  std::string checkpoint, data, device = "cpu";
  int64_t eval_limit = 0, batch = 100, importance_samples = 100;
  uint64_t seed = 0;
  bool json = false;
};

int run_eval(const EvalOptions& o) {
  const Device device = checked_device(o.device);
  const Checkpoint ck = read_checkpoint(o.checkpoint);
  auto model = load_model(ck, device);
  const TestData loaded = load_test_data(ck, o.data, o.eval_limit);
  const DataOptions& data = loaded.data;
  const io::Pixels pixels = loaded.pixels;
  const io::Dataset& test = loaded.images;
  const uint64_t seed = stream_seed(o.seed, Stream::eval);
  const EvalResult r = evaluate(*model, test, o.batch, pixels, seed);
  const LikelihoodKind kind =
      extra_estimates(*model, test, o.batch, pixels, o.importance_samples, seed);

  if (o.json) {
    nlohmann::json j = {{"model", ck.config.model},
                        {"step", ck.state.step},
                        {"data", data.spec},
                        {"images", r.images},
                        {"nats_per_image", r.nats_per_image},
                        {"bits_per_dim", r.bits_per_dim}};
    for (const auto& [name, value] : r.terms)
      j["terms"][name] = value;
    if (kind.loss_is_bound) j["elbo"] = -r.nats_per_image;
    for (const ExtraEstimate& e : kind.extras)
      j[e.key] = {{"nats_per_image", e.nats_per_image}, {"bits_per_dim", e.bits_per_dim}};
    fmt::print("{}\n", j.dump(2));
    return kOk;
  }
  fmt::print("{} (step {}) on {} test images of {} ({} pixels)\n", ck.config.model, ck.state.step,
             r.images, data.spec, data.pixels);
  if (!model->has_likelihood()) {
    fmt::print("  squared reconstruction error: {:.3f} per image ({} is no density: no NLL)\n",
               r.nats_per_image, ck.config.model);
  } else if (kind.loss_is_bound) {
    fmt::print("  ELBO: {:.3f} nats/image\n", -r.nats_per_image);
    fmt::print("  -ELBO (an upper bound on the test NLL): {:.3f} nats/image, {:.4f} bits/dim\n",
               r.nats_per_image, r.bits_per_dim);
  } else {
    fmt::print("  test NLL: {:.3f} nats/image, {:.4f} bits/dim\n", r.nats_per_image,
               r.bits_per_dim);
  }
  if (model->has_likelihood())  // the autoencoder's one term is the squared error above
    for (const auto& [name, value] : r.terms)
      fmt::print("    {}: {:.3f} nats/image\n", name, value);
  for (const ExtraEstimate& e : kind.extras)
    fmt::print("  {}: {:.3f} nats/image, {:.4f} bits/dim\n", e.label, e.nats_per_image,
               e.bits_per_dim);
  return kOk;
}

}  // namespace

void add_eval_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Test-set likelihood of a trained model");
  cmd->add_option("--checkpoint", o->checkpoint,
                  "A checkpoint written by 'genmodel train', or its run folder")
      ->required();
  cmd->add_option("--data", o->data, "Test data (default: the data the model was trained on)")
      ->check(data_spec());
  cmd->add_option("--eval-limit", o->eval_limit, "Evaluate on the first N test images (0: all)")
      ->check(non_negative_integer(kMaxImages))
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "Images per batch")
      ->check(positive_integer(65536))
      ->capture_default_str();
  cmd->add_option("--importance-samples", o->importance_samples,
                  "VAE: samples k of the importance-weighted NLL estimate (0: skip; the "
                  "literature uses 5000)")
      ->check(non_negative_integer(1'000'000))
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seeds the noise of stochastic models")->capture_default_str();
  cmd->add_option("--device", o->device, "cpu, cuda, cuda:N or cuda-emu")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print the results as JSON");
  cmd->callback([o, &action] { action = [o] { return run_eval(*o); }; });
}

}  // namespace gm::tools
