// The training loop: batches, loss, backward, Adam; periodic evaluation and checkpoints; a
// non-finite loss or gradient stops the run before it can reach the weights; Ctrl-C saves.
// Under mpirun each process trains on its shard of every batch and the gradients are averaged
// (docs/distributed.md); rank 0 alone prints, logs and saves.
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <optional>

#include "engine/distributed/gradient_reducer.h"
#include "tools/commands.h"
#include "tools/distributed.h"
#include "tools/progress.h"
#include "tools/run_log.h"
#include "tools/train.h"

namespace gm::tools {

namespace {

// Set by the SIGINT handler, read by the loop between steps: the handler does nothing else.
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_sigint(int) {
  g_interrupted = 1;
}

// Installs the handler for the loop's lifetime and restores the previous one after. SIGTERM
// counts as Ctrl-C too: it is what mpirun sends every process when its own Ctrl-C arrives.
class SigintGuard {
 public:
  SigintGuard()
      : previous_int_(std::signal(SIGINT, on_sigint)),
        previous_term_(std::signal(SIGTERM, on_sigint)) {
    g_interrupted = 0;
  }
  ~SigintGuard() {
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
  }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

nlohmann::json eval_record(int64_t step, const EvalResult& r) {
  nlohmann::json j = {{"kind", "eval"},
                      {"step", step},
                      {"images", r.images},
                      {"nats_per_image", r.nats_per_image},
                      {"bits_per_dim", r.bits_per_dim}};
  for (const auto& [name, value] : r.terms)
    j[name] = value;
  return j;
}

std::string eval_line(int64_t step, const EvalResult& r) {
  return fmt::format("eval at step {}: {:.2f} nats/image, {:.4f} bits/dim on {} test images", step,
                     r.nats_per_image, r.bits_per_dim, r.images);
}

// Replaces this rank's loss statistics by the group's means (equal shards: the mean of the
// ranks' means is the batch's mean); returns whether any rank was interrupted, so that all
// stop at the same step.
bool agree_on_step(dist::Communicator& group, models::LossOutput& out, bool interrupted) {
  if (group.size() == 1) return interrupted;
  std::vector<double> v{interrupted ? 1.0 : 0.0, out.nats_per_image, out.bits_per_dim};
  for (const auto& [name, value] : out.terms)
    v.push_back(value);
  group.sum(v);
  const double ranks = group.size();
  out.nats_per_image = v[1] / ranks;
  out.bits_per_dim = v[2] / ranks;
  size_t k = 3;
  for (auto& [name, value] : out.terms)
    value = v[k++] / ranks;
  return v[0] > 0;
}

int train(const TrainOptions& o, dist::Communicator& group, Device device) {
  const RunConfig& c = o.config;
  const bool leader = group.rank() == 0;
  const io::Pixels pixels = io::parse_pixels(c.data.pixels);
  const models::ModelConfig& model_config = models::find_model_config(c.model);
  const io::DataSplits splits = load_splits(c.data, model_config.default_shape);
  const io::Dataset train = splits.train.first(c.limit);
  const io::Dataset test = splits.test.first(o.eval_limit);

  RunConfig config = c;
  config.shape = shape_of(train);
  Generator init_gen(stream_seed(c.seed, Stream::init));
  auto model = models::make_model(c.model, config.shape, {device, DType::f32, &init_gen});
  Adam optimizer(to_named_tensors(model->parameters()), AdamOptions{.lr = c.lr});
  io::BatchSampler sampler(train, c.batch, stream_seed(c.seed, Stream::shuffle));
  // --batch is the global batch: each of the K processes trains on batch/K of its images.
  if (sampler.batch_size() % group.size() != 0)
    throw UsageError(fmt::format(
        "the batch of {} images does not split evenly over {} processes: --batch is the "
        "global batch (all processes together), so use a multiple of {}",
        sampler.batch_size(), group.size(), group.size()));
  const dist::Shard shard = dist::shard_of(sampler.batch_size(), group.rank(), group.size());
  std::unique_ptr<dist::GradientReducer> reducer;
  if (group.size() > 1)
    reducer = std::make_unique<dist::GradientReducer>(optimizer.params(), group);

  TrainingState state;
  state.train_gen = Generator(stream_seed(c.seed, Stream::train));
  const std::filesystem::path ck_path = checkpoint_path(o.out);
  if (leader) std::filesystem::create_directories(o.out);
  if (o.resume) {
    const Checkpoint ck = read_checkpoint(ck_path);
    restore_training(ck, *model, optimizer);
    state = ck.state;
  }
  state.train_gen.set_shard(static_cast<uint64_t>(shard.first), static_cast<uint64_t>(shard.count),
                            static_cast<uint64_t>(sampler.batch_size()));
  config.target_steps = o.steps > 0    ? o.steps
                        : o.epochs > 0 ? o.epochs * sampler.batches_per_epoch()
                        : o.resume     ? c.target_steps
                                       : 1000;
  const int64_t total = config.target_steps;

  if (leader)
    fmt::print(stderr, "{} {} ({} parameters) on {}, {} training images {}x{}x{}, batch {}{}, {}\n",
               o.resume ? "resuming" : "training", c.model, model->parameter_count(), device.name(),
               train.size(), config.shape.channels, config.shape.height, config.shape.width,
               sampler.batch_size(),
               group.size() > 1
                   ? fmt::format(" ({} on each of {} processes)", shard.count, group.size())
                   : std::string(),
               o.resume ? fmt::format("from step {} to {}", state.step, total)
                        : fmt::format("{} steps", total));
  // Rank 0 alone writes the log and checkpoints and shows progress.
  std::optional<RunLog> log;
  std::optional<Progress> progress;
  if (leader) {
    log.emplace(o.out / "log.jsonl", o.resume, state.step);
    progress.emplace(state.step, total);
  }
  auto save = [&] {
    if (leader) save_checkpoint(ck_path, config, state, *model, optimizer);
  };
  auto run_eval = [&] {
    const EvalResult r = evaluate(*model, test, sampler.batch_size(), pixels,
                                  stream_seed(c.seed, Stream::eval), group);
    if (!leader) return;
    log->write(eval_record(state.step, r));
    progress->message(eval_line(state.step, r));
  };
  auto finish_progress = [&] {
    if (progress) progress->finish();
  };

  SigintGuard sigint;
  const auto start = std::chrono::steady_clock::now();
  while (state.step < total) {
    const std::vector<int64_t> indices = sampler.indices(state.step);
    const auto first = indices.begin() + shard.first;
    const io::Dataset batch = train.gather(std::vector<int64_t>(first, first + shard.count));
    const Tensor images = io::preprocess(batch.images, pixels, state.train_gen);
    optimizer.zero_grad();
    models::LossOutput out = model->loss(images, state.train_gen);
    const bool interrupted = agree_on_step(group, out, g_interrupted != 0);
    // Stop before a non-finite value reaches the weights: the last checkpoint stays good.
    double norm = NAN;
    if (std::isfinite(out.nats_per_image)) {
      if (reducer) {
        out.loss.backward(Tensor(), reducer->hook());
        reducer->finish();
      } else {
        out.loss.backward();
      }
      norm = grad_norm(optimizer.params());
    }
    if (!std::isfinite(out.nats_per_image) || !std::isfinite(norm)) {
      finish_progress();
      if (!leader) return kFailure;
      const bool have_checkpoint = std::filesystem::exists(ck_path);
      fmt::print(stderr,
                 "error: the {} is {} at step {} (loss {}): training stopped, the weights were "
                 "not updated. {}. Try a lower --lr.\n",
                 std::isfinite(out.nats_per_image) ? "gradient norm" : "loss",
                 std::isfinite(out.nats_per_image) ? norm : out.nats_per_image, state.step + 1,
                 out.nats_per_image,
                 have_checkpoint
                     ? fmt::format("The last good checkpoint is '{}' (step {})", ck_path.string(),
                                   read_checkpoint(ck_path).state.step)
                     : std::string("No checkpoint was written yet"));
      return kFailure;
    }
    optimizer.step();
    ++state.step;
    state.last_loss = out.nats_per_image;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json record = {{"kind", "train"},
                             {"step", state.step},
                             {"loss", out.nats_per_image},
                             {"bits_per_dim", out.bits_per_dim},
                             {"seconds", seconds}};
    for (const auto& [name, value] : out.terms)
      record[name] = value;
    // Time spent waiting for gradient all-reduces that backward did not hide.
    if (reducer) record["allreduce_wait_seconds"] = reducer->wait_seconds();
    if (leader) {
      log->write(record);
      progress->update(state.step, out.nats_per_image, out.bits_per_dim);
    }

    if (interrupted) {
      save();
      finish_progress();
      if (leader)
        fmt::print(stderr,
                   "interrupted at step {}: checkpoint saved to '{}'. Continue with: genmodel "
                   "train --out {} --resume\n",
                   state.step, ck_path.string(), o.out.string());
      return kInterrupted;
    }
    if (o.eval_every > 0 && state.step % o.eval_every == 0 && state.step < total) run_eval();
    if (o.checkpoint_every > 0 && state.step % o.checkpoint_every == 0 && state.step < total)
      save();
  }
  finish_progress();
  save();
  run_eval();
  if (leader)
    fmt::print(stderr, "checkpoint: {}\nlog: {}\n", ck_path.string(), log->path().string());
  return kOk;
}

}  // namespace

int run_training(const TrainOptions& o) {
  const TrainingGroup g = join_training_group(o.device);
  return run_in_group(*g.group, [&] { return train(o, *g.group, g.device); });
}

}  // namespace gm::tools
