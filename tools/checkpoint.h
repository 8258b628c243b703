#pragma once
// Training checkpoints: one safetensors file holding the model's weights (named as
// Module::parameters() names them), the optimizer's buffers ("adam.m.<param>", ...), and in
// its metadata the run's configuration, the step, the training generator's state and the
// optimizer's scalars. Written atomically, so a crash never leaves half a checkpoint; resuming
// from it continues bit for bit (tests/test_cli.cpp checks).
#include <filesystem>
#include <memory>
#include <string>

#include "engine/io/safetensors.h"
#include "engine/optim.h"
#include "engine/random.h"
#include "models/registry.h"
#include "tools/common.h"

namespace gm::tools {

// What a run was started with; a resumed run must keep it (else the batches would differ).
struct RunConfig {
  std::string model;
  models::ImageShape shape;  // the data's shape, which the model was built for
  int64_t classes = 0;       // a conditional model's number of classes (0: unconditional)
  DataOptions data;
  int64_t train_limit = 0;    // train on the first `train_limit` images (0: all)
  int64_t eval_limit = 1000;  // evaluate on the first `eval_limit` test images (0: all)
  // Not part of what the run computes: a resumed run may change them, and keeps them if not.
  int64_t eval_every = 500;        // evaluate every N steps (0: only at the end)
  int64_t checkpoint_every = 500;  // checkpoint every N steps (0: only at the end and on a signal)
  int64_t batch = 32;
  double lr = 1e-3;
  uint64_t seed = 0;
  int64_t target_steps = 0;  // where the run was asked to stop
};

struct TrainingState {
  int64_t step = 0;  // completed optimizer steps
  Generator train_gen{0};
  double last_loss = 0.0;
  int64_t log_bytes = 0;  // log.jsonl's length, on disk before the checkpoint was written
};

// The checkpoint of the run folder `out` (what `train --out` writes).
std::filesystem::path checkpoint_path(const std::filesystem::path& out);
// What --checkpoint names: a checkpoint file, or a run folder meaning its checkpoint.
std::filesystem::path checkpoint_file(const std::filesystem::path& given);
// Where a command writes `name` by default: beside the checkpoint (inside a run folder given
// as --checkpoint, not beside it).
std::filesystem::path beside_checkpoint(const std::filesystem::path& given,
                                        const std::string& name);

void save_checkpoint(const std::filesystem::path& path, const RunConfig& config,
                     const TrainingState& state, const models::Model& model,
                     const Optimizer& optimizer);

struct Checkpoint {
  RunConfig config;
  TrainingState state;
  SafetensorsFile file;
};
// Reads and validates the file (or a run folder's checkpoint_file) and its configuration (an
// IoError names what is missing).
Checkpoint read_checkpoint(const std::filesystem::path& path);

// Throws unless `data`'s images have the shape the checkpoint's model was trained on.
void check_data_fits(const io::Dataset& data, const Checkpoint& checkpoint);

// Builds the checkpoint's model on `device` and loads its weights.
std::unique_ptr<models::Model> load_model(const Checkpoint& checkpoint, Device device);
// The test split of the checkpoint's data, or of `data_spec` when not empty (same pixels and
// folder options), first `limit` images (0: all); throws when its image shape differs from
// the model's.
struct TestData {
  DataOptions data;
  io::Pixels pixels;
  io::Dataset images;
};
TestData load_test_data(const Checkpoint& checkpoint, const std::string& data_spec, int64_t limit);

// Loads the weights and the optimizer's state into an existing model and optimizer.
void restore_training(const Checkpoint& checkpoint, models::Model& model, Optimizer& optimizer);

}  // namespace gm::tools
