// genmodel: train, sample, evaluate, gradient-check and benchmark explicit-density image models.
//
// Exit codes: 0 success, 1 failure (a library error, printed as one "error: ..." line, or a
// failed gradient check), 2 usage error (CLI11's message, or a UsageError), 130 / 143 a training
// run stopped by Ctrl-C / SIGTERM after saving its checkpoint.
#include <fmt/format.h>

#include "tools/commands.h"

namespace {

// The subcommand the user chose (the deepest one parsed), e.g. "genmodel train".
const CLI::App* chosen_command(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands())
    if (sub->parsed()) return chosen_command(*sub);
  return &app;
}

// CLI11 reports leftovers as "not expected: 3 --bogus" (in reverse order); name the first
// unknown option instead, and where its options are listed.
int report_extras(const CLI::App& app) {
  const CLI::App* command = chosen_command(app);
  std::string path = command->get_name();
  for (const CLI::App* p = command->get_parent(); p; p = p->get_parent())
    path = p->get_name() + " " + path;
  const std::vector<std::string> rest = command->remaining();
  std::string first = rest.empty() ? std::string("?") : rest.front();
  for (const std::string& arg : rest)
    if (arg.starts_with("-")) {
      first = arg;
      break;
    }
  fmt::print(stderr, "error: {} '{}' for '{}'. Run '{} --help' for its options.\n",
             first.starts_with("-") ? "unknown option" : "unexpected argument", first, path, path);
  return gm::tools::kUsage;
}

}  // namespace

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
  add_receptive_field_command(app, action);
  add_score_command(app, action);
  add_outliers_command(app, action);
  add_classify_command(app, action);
  add_latent_command(app, action);
  add_features_command(app, action);
  add_curves_command(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ExtrasError&) {
    return report_extras(app);
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
