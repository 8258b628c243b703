// genmodel: train, sample, evaluate, gradient-check and benchmark explicit-density image models.
//
// Exit codes: 0 success, 1 failure (a library error, printed as one "error: ..." line, or a
// failed gradient check), 2 usage error (CLI11's message, or a UsageError), 130 a training run
// stopped by Ctrl-C after saving its checkpoint.
#include <fmt/format.h>

#include "tools/commands.h"

int main(int argc, char** argv) {
  using namespace gm::tools;
  CLI::App app{"genmodel: explicit-density generative models of images (PixelCNN, PixelRNN, VAE)",
               "genmodel"};
  app.require_subcommand(1);
  app.footer("Run 'genmodel SUBCOMMAND --help' for a subcommand's options.");
  Action action;
  add_train_command(app, action);
  add_sample_command(app, action);
  add_eval_command(app, action);
  add_gradcheck_command(app, action);
  add_list_command(app, action);
  add_bench_command(app, action);
  add_latent_command(app, action);
  add_features_command(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and succeeds; anything else is a usage error.
    return app.exit(e) == 0 ? kOk : kUsage;
  }
  try {
    return action();
  } catch (const UsageError& e) {
    fmt::print(stderr, "error: {}\nRun with --help for usage.\n", e.what());
    return kUsage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return kFailure;
  }
}
