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
  DataOptions data;
  int64_t limit = 0;  // train on the first `limit` images (0: all)
  int64_t batch = 32;
  double lr = 1e-3;
  uint64_t seed = 0;
  int64_t target_steps = 0;  // where the run was asked to stop
};

struct TrainingState {
  int64_t step = 0;  // completed optimizer steps
  Generator train_gen{0};
  double last_loss = 0.0;
};

void save_checkpoint(const std::filesystem::path& path, const RunConfig& config,
                     const TrainingState& state, const models::Model& model,
                     const Optimizer& optimizer);

struct Checkpoint {
  RunConfig config;
  TrainingState state;
  SafetensorsFile file;
};
// Reads and validates the file and its configuration (an IoError names what is missing).
Checkpoint read_checkpoint(const std::filesystem::path& path);

// Throws unless `data`'s images have the shape the checkpoint's model was trained on.
void check_data_fits(const io::Dataset& data, const Checkpoint& checkpoint);

// Builds the checkpoint's model on `device` and loads its weights.
std::unique_ptr<models::Model> load_model(const Checkpoint& checkpoint, Device device);
// Loads the weights and the optimizer's state into an existing model and optimizer.
void restore_training(const Checkpoint& checkpoint, models::Model& model, Optimizer& optimizer);

}  // namespace gm::tools
