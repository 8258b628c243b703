#pragma once
// `genmodel train`: the options after parsing and the training loop (train_loop.cpp).
#include <filesystem>
#include <string>

#include "tools/checkpoint.h"

namespace gm::tools {

struct TrainOptions {
  RunConfig config;               // from the command line, or from the checkpoint when resuming
  int64_t steps = 0, epochs = 0;  // at most one set; neither: the checkpoint's or 1000 steps
  std::string device = "cpu";
  std::filesystem::path out;
  bool resume = false;
  bool profile = false;  // print each step's CUDA runtime counters
  // "fp32", or "bf16": matrix and convolution inputs rounded to BF16 with float32 sums
  // (cuda and cuda-emu only); weights, optimizer state, losses and softmax stay float32.
  std::string precision = "fp32";
  // Steps between reads of the loss and gradient norm from the device (the log and progress
  // are written then, the non-finite check acts then); 1 reads after every step.
  int64_t report_every = 10;
  // Capture the training step once as a CUDA graph and replay it (models/graph_step.h).
  bool cuda_graph = false;
};

// Trains, evaluates and checkpoints; returns the exit code (0, 1 on a non-finite loss, 130 / 143
// when stopped by Ctrl-C / SIGTERM after saving).
int run_training(const TrainOptions& options);

}  // namespace gm::tools
