// The training loop: batches, loss, backward, Adam; periodic evaluation and checkpoints; a
// non-finite loss or gradient stops the run before it can reach the weights (checked on the
// device, read every few steps); Ctrl-C saves.
// Under mpirun each process trains on its shard of every batch and the gradients are averaged
// (docs/distributed.md); rank 0 alone prints, logs and saves.
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <limits>
#include <numbers>
#include <optional>

#include "engine/distributed/gradient_reducer.h"
#include "engine/io/atomic_file.h"
#include "engine/step_stats.h"
#include "kernels/cuda/cuda_backend.h"
#include "models/graph_step.h"
#include "tools/commands.h"
#include "tools/distributed.h"
#include "tools/loss_curve.h"
#include "tools/progress.h"
#include "tools/run_log.h"
#include "tools/train.h"

namespace gm::tools {

namespace {

// Set by the SIGINT/SIGTERM handler to the signal's number, read by the loop between steps:
// the handler does nothing else.
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int signal) {
  g_stop_signal = signal;
}

// Installs the handler for Ctrl-C (SIGINT) and for SIGTERM (what schedulers, `timeout`,
// container stops and mpirun, on its own Ctrl-C, send) for the loop's lifetime, and restores the
// previous ones after.
class StopSignalGuard {
 public:
  StopSignalGuard()
      : previous_int_(std::signal(SIGINT, on_stop_signal)),
        previous_term_(std::signal(SIGTERM, on_stop_signal)) {
    g_stop_signal = 0;
  }
  ~StopSignalGuard() {
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
  }
  StopSignalGuard(const StopSignalGuard&) = delete;
  StopSignalGuard& operator=(const StopSignalGuard&) = delete;

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
  if (std::isnan(r.bits_per_dim))  // no likelihood (the autoencoder): the loss as it is
    return fmt::format("eval at step {}: loss {:.2f} per image on {} test images", step,
                       r.nats_per_image, r.images);
  return fmt::format("eval at step {}: {:.2f} nats/image, {:.4f} bits/dim on {} test images", step,
                     r.nats_per_image, r.bits_per_dim, r.images);
}

// Every output location is checked before the data is read and the model built, so a run
// never fails after minutes of work for a folder it could not write.
void prepare_run_folder(const std::filesystem::path& out) {
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec)
    throw IoError(fmt::format("cannot create the run folder '{}': {} (choose another --out)",
                              out.string(), ec.message()));
  for (const char* name : {"checkpoint.safetensors", "log.jsonl", "loss.svg"})
    check_writable(out / name);
}

// Replaces this rank's loss statistics by the group's means (equal shards: the mean of the
// ranks' means is the batch's mean); returns whether any rank was asked to stop, so that all
// stop at the same step.
bool agree_on_step(dist::Communicator& group, models::LossOutput& out, bool stop) {
  if (group.size() == 1) return stop;
  std::vector<double> v{stop ? 1.0 : 0.0, out.nats_per_image, out.bits_per_dim};
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

// Sets the device's GEMM precision for the run and restores it after: the backend outlives the
// run (tests train in-process).
class PrecisionScope {
 public:
  PrecisionScope(Device device, const std::string& precision) {
    if (precision == "fp32") return;
    backend_ = dynamic_cast<CudaBackendBase*>(&backend_for(device));
    if (!backend_)
      throw UsageError(fmt::format(
          "--precision {} needs a CUDA device (cuda, cuda:N or cuda-emu), not {}: the CPU "
          "backend computes in float32 only",
          precision, device.name()));
    previous_ = backend_->matmul_precision();
    backend_->set_matmul_precision(MatmulPrecision::bf16);
  }
  ~PrecisionScope() {
    if (backend_) backend_->set_matmul_precision(previous_);
  }
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  CudaBackendBase* backend_ = nullptr;
  MatmulPrecision previous_ = MatmulPrecision::fp32;
};

// What --cuda-graph supports, checked before any work (models/graph_step.h has the why).
void check_cuda_graph_options(const std::string& model, Device device, int processes) {
  if (!dynamic_cast<CudaBackendBase*>(&backend_for(device)))
    throw UsageError(
        fmt::format("--cuda-graph needs a CUDA device (--device cuda, cuda:N or cuda-emu), not {}",
                    device.name()));
  if (processes > 1)
    throw UsageError(
        "--cuda-graph trains in one process: the gradient all-reduce of a group runs between "
        "the backward pass and the optimizer on the host, which a graph cannot contain");
  if (models::find_model_config(model).conditional())
    throw UsageError(fmt::format(
        "--cuda-graph: {} is class-conditional, and its labels would be uploaded inside the "
        "captured step: train it without --cuda-graph",
        model));
}

int train(const TrainOptions& o, dist::Communicator& group, Device device) {
  const RunConfig& c = o.config;
  const bool leader = group.rank() == 0;
  const PrecisionScope precision(device, o.precision);
  if (o.cuda_graph) check_cuda_graph_options(c.model, device, group.size());
  if (leader) prepare_run_folder(o.out);
  const io::Pixels pixels = io::parse_pixels(c.data.pixels);
  const models::ModelConfig& model_config = models::find_model_config(c.model);
  const io::DataSplits splits = load_splits(c.data, model_config.default_shape);
  const io::Dataset train = splits.train.first(c.train_limit);
  const io::Dataset test = splits.test.first(c.eval_limit);

  RunConfig config = c;
  config.shape = shape_of(train);
  if (!o.resume)
    config.classes = model_config.conditional() ? class_count(splits.train, c.model) : 0;
  Generator init_gen(stream_seed(c.seed, Stream::init));
  auto model =
      models::make_model(c.model, config.shape, {device, DType::f32, &init_gen}, config.classes);
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
    fmt::print(
        stderr, "{} {} ({} parameters{}) on {}{}, {} training images {}x{}x{}, batch {}{}, {}\n",
        o.resume ? "resuming" : "training", c.model, model->parameter_count(),
        config.classes > 0 ? fmt::format(", {} classes", config.classes) : "", device.name(),
        o.precision == "fp32" ? "" : " in " + o.precision, train.size(), config.shape.channels,
        config.shape.height, config.shape.width, sampler.batch_size(),
        group.size() > 1 ? fmt::format(" ({} on each of {} processes)", shard.count, group.size())
                         : std::string(),
        o.resume ? fmt::format("from step {} to {}", state.step, total)
                 : fmt::format("{} steps", total));
  // Rank 0 alone writes the log, checkpoints and loss curve, and shows progress.
  std::optional<RunLog> log;
  std::optional<Progress> progress;
  if (leader) {
    log.emplace(o.out / "log.jsonl", o.resume, state.step);
    progress.emplace(state.step, total);
  }
  const int64_t first_step = state.step;
  // The log reaches the disk before the checkpoint that follows it, and the loss curve is
  // redrawn from it.
  auto save = [&] {
    if (!leader) return;
    state.log_bytes = log->sync();
    save_checkpoint(ck_path, config, state, *model, optimizer);
    write_loss_curve(o.out / "loss.svg", fmt::format("{}: bits/dim during training", c.model),
                     log->points());
  };
  auto run_eval = [&] {
    // Evaluation reads every batch's loss (the training steps may keep theirs on the device).
    const bool read_loss = model->read_loss();
    model->set_read_loss(true);
    const EvalResult r = evaluate(*model, test, sampler.batch_size(), pixels,
                                  stream_seed(c.seed, Stream::eval), group);
    model->set_read_loss(read_loss);
    if (!leader) return;
    log->write(eval_record(state.step, r));
    progress->message(eval_line(state.step, r));
  };
  auto finish_progress = [&] {
    if (progress) progress->finish();
  };

  StopSignalGuard stop_signals;
  const auto start = std::chrono::steady_clock::now();
  const bool profile = o.profile && cuda_counters(device).has_value();
  if (leader && o.profile && !profile)
    fmt::print(stderr, "--profile: {} has no CUDA runtime counters; nothing to print\n",
               device.name());
  // The loss and the gradient norm stay on the device. Every report_every steps their copy to
  // the host is queued, and the loop logs them once they have arrived, a step or two later on
  // a GPU, so no step waits for the device; only what needs them at once (an evaluation, a
  // checkpoint, a stop, the end) waits for them. A non-finite value sets a flag on the device
  // that stops the optimizer from touching the weights; the loop finds it when the values
  // arrive and stops. Processes of a group agree on the loss every step (all must stop at the
  // same one), so they read it every step.
  const bool grouped = group.size() > 1;
  const int64_t report_every = grouped ? 1 : o.report_every;
  model->set_read_loss(grouped);
  StepStats stats(device, report_every);
  optimizer.set_guard(stats.guard());
  struct PendingStep {
    int64_t step;
    double seconds;  // when it was queued
    models::LossOutput out;
  };
  std::vector<PendingStep> pending;
  std::optional<models::GraphTrainingStep> graph_step;
  if (o.cuda_graph) graph_step.emplace(*model, optimizer, stats);
  const double bits_per_nat =
      model->has_likelihood() ? 1.0 / (static_cast<double>(config.shape.dims()) * std::numbers::ln2)
                              : std::numeric_limits<double>::quiet_NaN();
  // Logs the first values.size() pending steps, whose values these are; false (after saying
  // why) when one of them was not finite.
  auto report = [&](const std::vector<StepStats::Step>& values) {
    for (size_t k = 0; k < values.size(); ++k) {
      models::LossOutput& out = pending[k].out;
      if (!grouped) {
        out.nats_per_image = values[k].loss;
        out.bits_per_dim = out.nats_per_image * bits_per_nat;
        out.terms.insert(values[k].terms.begin(), values[k].terms.end());
      }
      const double norm = values[k].grad_norm;
      if (!std::isfinite(out.nats_per_image) || !std::isfinite(norm)) {
        finish_progress();
        if (!leader) return false;
        const bool have_checkpoint = std::filesystem::exists(ck_path);
        fmt::print(stderr,
                   "error: the {} is {} at step {} (loss {}): training stopped, the weights were "
                   "not updated. {}. Try a lower --lr.\n",
                   std::isfinite(out.nats_per_image) ? "gradient norm" : "loss",
                   std::isfinite(out.nats_per_image) ? norm : out.nats_per_image, pending[k].step,
                   out.nats_per_image,
                   have_checkpoint
                       ? fmt::format("The last good checkpoint is '{}' (step {})", ck_path.string(),
                                     read_checkpoint(ck_path).state.step)
                       : std::string("No checkpoint was written yet"));
        return false;
      }
      state.last_loss = out.nats_per_image;
      nlohmann::json record = {{"kind", "train"},
                               {"step", pending[k].step},
                               {"loss", out.nats_per_image},
                               {"bits_per_dim", out.bits_per_dim},
                               {"seconds", pending[k].seconds}};
      for (const auto& [name, value] : out.terms)
        record[name] = value;
      // Time spent waiting for gradient all-reduces that backward did not hide.
      if (reducer) record["allreduce_wait_seconds"] = reducer->wait_seconds();
      if (leader) {
        log->write(record);
        progress->update(pending[k].step, out.nats_per_image, out.bits_per_dim);
      }
    }
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(values.size()));
    return true;
  };
  while (state.step < total) {
    const std::optional<CudaCounters> before = profile ? cuda_counters(device) : std::nullopt;
    const std::vector<int64_t> indices = sampler.indices(state.step);
    const auto first = indices.begin() + shard.first;
    const io::Dataset batch = train.gather(std::vector<int64_t>(first, first + shard.count));
    const Tensor images = io::preprocess(batch.images, pixels, state.train_gen);
    models::LossOutput out;
    bool stop = false;
    if (graph_step) {
      out = graph_step->step(images, state.train_gen);
      stop = g_stop_signal != 0;
    } else {
      optimizer.zero_grad();
      out = model->loss(images, batch.labels, state.train_gen);
      stop = agree_on_step(group, out, g_stop_signal != 0);
      // A group knows its loss now and skips the backward pass of a non-finite one; otherwise
      // the guard keeps whatever backward computes from the weights.
      if (!grouped || std::isfinite(out.nats_per_image)) {
        if (reducer) {
          out.loss.backward(Tensor(), reducer->hook());
          reducer->finish();
        } else {
          out.loss.backward();
        }
      }
      stats.record(out.loss, optimizer.params(), out.unread_terms);
      out.unread_terms.clear();  // read with the loss at the report
      optimizer.step();
    }
    ++state.step;
    out.loss = Tensor();  // its autograd graph holds the step's activations
    pending.push_back(
        {state.step,
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
         std::move(out)});
    const auto due = [&](int64_t every) { return every > 0 && state.step % every == 0; };
    if (grouped || stop || state.step == total || due(c.eval_every) || due(c.checkpoint_every)) {
      if (!report(stats.read())) return kFailure;
    } else {
      if (stats.pending() == report_every) stats.request();
      if (!report(stats.take())) return kFailure;
    }
    if (before && leader)
      progress->message(fmt::format("profile step {}: {}", state.step,
                                    describe_counters(*cuda_counters(device) - *before)));

    if (stop) {
      // Every rank stops here; a rank that was not signalled itself counts as interrupted.
      const int signal = g_stop_signal;
      save();
      // The followers wait here until rank 0 has written the checkpoint: under mpirun, a
      // rank that exits with a non-zero status makes Open MPI kill the rest of the group at
      // once, which would end rank 0 in the middle of the save.
      std::vector<double> saved{1.0};
      group.sum(saved);
      finish_progress();
      if (leader)
        fmt::print(stderr,
                   "{} at step {}: checkpoint saved to '{}'. Continue with: genmodel "
                   "train --out {} --resume\n",
                   signal == SIGTERM ? "terminated (SIGTERM)" : "interrupted", state.step,
                   ck_path.string(), o.out.string());
      return signal == SIGTERM ? kTerminated : kInterrupted;
    }
    if (c.eval_every > 0 && state.step % c.eval_every == 0 && state.step < total) run_eval();
    if (c.checkpoint_every > 0 && state.step % c.checkpoint_every == 0 && state.step < total)
      save();
  }
  finish_progress();
  // A resumed run that had no steps left already has its final evaluation in the log. Every
  // rank asks rank 0's log, so that all take part in the evaluation or none does.
  std::vector<double> has_eval{leader && log->has_eval_at(state.step) ? 1.0 : 0.0};
  group.sum(has_eval);
  if (state.step > first_step || has_eval[0] == 0.0) run_eval();
  save();
  if (leader)
    fmt::print(stderr, "checkpoint: {}\nlog: {}\nloss curve: {}\n", ck_path.string(),
               log->path().string(), (o.out / "loss.svg").string());
  return kOk;
}

}  // namespace

int run_training(const TrainOptions& o) {
  const TrainingGroup g = join_training_group(o.device);
  return run_in_group(*g.group, [&] { return train(o, *g.group, g.device); });
}

}  // namespace gm::tools
