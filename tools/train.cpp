// `genmodel train`: options, and the rules for resuming (train_loop.cpp runs the loop).
#include "tools/train.h"

#include <limits>

#include "engine/io/dataset.h"
#include "tools/commands.h"
#include "tools/option_checks.h"

namespace gm::tools {

namespace {

struct TrainCli {
  TrainOptions options;
  std::string out;
  // Options that a resumed run takes from its checkpoint; giving them again with a
  // different value is a usage error.
  CLI::Option *model = nullptr, *data = nullptr, *pixels = nullptr, *train_limit = nullptr,
              *eval_limit = nullptr, *batch = nullptr, *lr = nullptr, *seed = nullptr,
              *image_size = nullptr, *channels = nullptr, *eval_every = nullptr,
              *checkpoint_every = nullptr, *exclude_class = nullptr;
};

template <typename T>
void keep_from_checkpoint(const CLI::Option* option, const T& given, const T& stored) {
  if (option->count() > 0 && given != stored)
    throw UsageError(fmt::format(
        "{} {} differs from the checkpoint's {}: a resumed run keeps its configuration (start a "
        "new run with another --out to change it)",
        option->get_name(), fmt::to_string(given), fmt::to_string(stored)));
}

int run(TrainCli& cli) {
  TrainOptions o = cli.options;
  o.out = cli.out.empty() ? std::filesystem::path("runs") / o.config.model
                          : std::filesystem::path(cli.out);
  const std::filesystem::path ck_path = checkpoint_path(o.out);
  if (o.resume) {
    if (cli.out.empty() && o.config.model.empty())
      throw UsageError(
          "--resume needs --out DIR (the run's folder), or --model NAME for runs/NAME");
    const RunConfig stored = read_checkpoint(ck_path).config;
    const RunConfig& given = o.config;
    keep_from_checkpoint(cli.model, given.model, stored.model);
    keep_from_checkpoint(cli.data, given.data.spec, stored.data.spec);
    keep_from_checkpoint(cli.pixels, given.data.pixels, stored.data.pixels);
    keep_from_checkpoint(cli.image_size, given.data.image_size, stored.data.image_size);
    keep_from_checkpoint(cli.channels, given.data.channels, stored.data.channels);
    keep_from_checkpoint(cli.exclude_class, given.data.exclude_class, stored.data.exclude_class);
    keep_from_checkpoint(cli.train_limit, given.train_limit, stored.train_limit);
    keep_from_checkpoint(cli.eval_limit, given.eval_limit, stored.eval_limit);
    keep_from_checkpoint(cli.batch, given.batch, stored.batch);
    keep_from_checkpoint(cli.lr, given.lr, stored.lr);
    keep_from_checkpoint(cli.seed, given.seed, stored.seed);
    RunConfig resumed = stored;
    // How often to evaluate and checkpoint does not change what is computed: given, it
    // applies from now on; not given, the run's own is kept.
    if (cli.eval_every->count() > 0) resumed.eval_every = given.eval_every;
    if (cli.checkpoint_every->count() > 0) resumed.checkpoint_every = given.checkpoint_every;
    o.config = resumed;
  } else {
    if (o.config.model.empty()) throw UsageError("--model is required (see 'genmodel list')");
    const bool folder =
        io::parse_data_source(o.config.data.spec).format == io::DataSource::Format::folder;
    for (const CLI::Option* option : {cli.image_size, cli.channels})
      if (option->count() > 0 && !folder)
        throw UsageError(fmt::format(
            "{} applies to folder:DIR data only: '{}' has a fixed image size and channel count",
            option->get_name(), o.config.data.spec));
    if (std::filesystem::exists(ck_path))
      throw UsageError(
          fmt::format("'{}' already holds a checkpoint: pass --resume to continue "
                      "that run, or choose another --out",
                      o.out.string()));
  }
  return run_training(o);
}

}  // namespace

void add_train_command(CLI::App& app, Action& action) {
  auto cli = std::make_shared<TrainCli>();
  TrainOptions& o = cli->options;
  RunConfig& c = o.config;
  CLI::App* cmd = app.add_subcommand("train", "Train a model, with checkpoints and a log");
  std::vector<std::string> names;
  for (const auto& config : models::model_configs())
    names.push_back(config.name);
  cli->model = cmd->add_option("--model", c.model,
                               "REQUIRED (except with --resume): the model configuration (see "
                               "'genmodel list')")
                   ->check(CLI::IsMember(names));
  cli->data = cmd->add_option("--data", c.data.spec,
                              "fashion-mnist, fashion-mnist:DIR, mnist:DIR, cifar10:DIR or "
                              "folder:DIR")
                  ->check(data_spec())
                  ->capture_default_str();
  cli->pixels = cmd->add_option("--pixels", c.data.pixels,
                                "8bit, dynamic (binarised, Bernoulli(x/255) at every use) or "
                                "threshold (x >= 128)")
                    ->check(CLI::IsMember({"8bit", "dynamic", "threshold"}))
                    ->capture_default_str();
  cli->image_size = cmd->add_option("--image-size", c.data.image_size,
                                    "folder:DIR images are resized to this (default: the "
                                    "model's size)")
                        ->check(positive_integer(4096));
  cli->channels = cmd->add_option("--channels", c.data.channels,
                                  "folder:DIR images as grey (1) or RGB (3) (default: the "
                                  "model's)")
                      ->check(CLI::IsMember({1, 3}));
  CLI::Option* steps = cmd->add_option("--steps", o.steps, "Optimizer steps (default 1000)")
                           ->check(positive_integer(kMaxSteps));
  cmd->add_option("--epochs", o.epochs, "Epochs over the training images, instead of --steps")
      ->check(positive_integer(1'000'000))
      ->excludes(steps);
  cli->batch = cmd->add_option("--batch", c.batch, "Images per batch")
                   ->check(positive_integer(65536))
                   ->capture_default_str();
  cli->lr = cmd->add_option("--lr", c.lr, "Adam learning rate")
                ->check(positive_number())
                ->capture_default_str();
  cmd->add_option("--device", o.device, "cpu, cuda, cuda:N or cuda-emu")->capture_default_str();
  cli->seed = cmd->add_option("--seed", c.seed, "Seeds initialisation, shuffling and noise")
                  ->capture_default_str();
  cmd->add_option("--out", cli->out, "Run folder: checkpoint, log (default runs/MODEL)");
  cli->eval_every = cmd->add_option("--eval-every", c.eval_every,
                                    "Evaluate on the test split every N steps (0: "
                                    "only at the end)")
                        ->check(non_negative_integer(kMaxSteps))
                        ->capture_default_str();
  cli->eval_limit =
      cmd->add_option("--eval-limit", c.eval_limit, "Test images per evaluation (0: all)")
          ->check(non_negative_integer(kMaxImages))
          ->capture_default_str();
  cli->checkpoint_every = cmd->add_option("--checkpoint-every", c.checkpoint_every,
                                          "Save a checkpoint every N steps (0: only at the end)")
                              ->check(non_negative_integer(kMaxSteps))
                              ->capture_default_str();
  cli->train_limit = cmd->add_option("--train-limit", c.train_limit,
                                     "Train on the first N training images only (0: all)")
                         ->check(non_negative_integer(kMaxImages));
  cli->exclude_class =
      cmd->add_option("--exclude-class", c.data.exclude_class,
                      "Leave class K out of training and evaluation, to test it later as an "
                      "outlier set (outliers --against held-out)")
          ->check(CLI::Range(int64_t{0}, int64_t{std::numeric_limits<int32_t>::max()}));
  cmd->add_flag("--resume", o.resume,
                "Continue the run in --out from its checkpoint, exactly where it stopped");
  cmd->add_option("--precision", o.precision,
                  "fp32, or bf16: matrix products and convolutions with BF16 inputs and float32 "
                  "sums, float32 weights and optimizer state (cuda and cuda-emu only)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  cmd->add_option("--report-every", o.report_every,
                  "Steps between reads of the loss and gradient norm from the device: the "
                  "steps in between never wait for it; the log, the progress and the stop on "
                  "a non-finite value follow at each read")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}))
      ->capture_default_str();
  cmd->add_flag("--cuda-graph", o.cuda_graph,
                "Capture the training step (forward, backward, statistics, Adam) once as a CUDA "
                "graph and replay it: one batch upload and one graph launch per step. cuda and "
                "cuda-emu, unconditional models whose step draws no noise (not the VAE), one "
                "process");
  cmd->add_flag("--profile", o.profile,
                "Print each step's CUDA runtime counters (kernel launches, host syncs, bytes "
                "copied, allocator hits and misses) to stderr; cuda and cuda-emu only");
  cmd->callback([cli, &action] { action = [cli] { return run(*cli); }; });
}

}  // namespace gm::tools
