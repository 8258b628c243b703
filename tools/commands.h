#pragma once
// The subcommands of `genmodel`. Each add_*_command registers its options on `app` and, when
// the subcommand is chosen, sets `action` to the function that runs it and returns the exit
// code (see main.cpp for the codes).
#include <CLI/CLI.hpp>

#include <functional>

#include "engine/error.h"

namespace gm::tools {

using Action = std::function<int()>;

void add_train_command(CLI::App& app, Action& action);
void add_sample_command(CLI::App& app, Action& action);
void add_eval_command(CLI::App& app, Action& action);
void add_gradcheck_command(CLI::App& app, Action& action);
void add_list_command(CLI::App& app, Action& action);
void add_bench_command(CLI::App& app, Action& action);
void add_receptive_field_command(CLI::App& app, Action& action);
void add_score_command(CLI::App& app, Action& action);
void add_outliers_command(CLI::App& app, Action& action);
void add_classify_command(CLI::App& app, Action& action);

// The options score, outliers and classify share (registered by score.cpp).
struct ScoringOptions {
  std::string checkpoint, data, device = "cpu";
  int64_t limit = 1000, batch = 100, importance_samples = 100;
  uint64_t seed = 0;
};
void add_scoring_options(CLI::App* cmd, ScoringOptions& o);
void add_latent_command(CLI::App& app, Action& action);
void add_features_command(CLI::App& app, Action& action);
void add_curves_command(CLI::App& app, Action& action);

// A mistake in how the command was called that only shows after parsing (e.g. --resume with
// a different --model than the checkpoint's): exit code 2, like CLI11's own usage errors.
class UsageError : public Error {
 public:
  using Error::Error;
};

// 130 and 143: the shell's 128 + signal number for SIGINT and SIGTERM.
enum ExitCode : int { kOk = 0, kFailure = 1, kUsage = 2, kInterrupted = 130, kTerminated = 143 };

}  // namespace gm::tools
