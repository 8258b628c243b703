// `genmodel curves`: several training runs' learning curves on one figure, and their test
// bits/dim side by side at the steps where every run was evaluated. The comparison of models
// in docs/results.md comes from this command.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "engine/io/atomic_file.h"
#include "tools/commands.h"
#include "tools/loss_curve.h"

namespace gm::tools {

namespace {

struct CurvesOptions {
  std::vector<std::string> runs, labels;
  std::string out, title = "bits/dim during training";
  int64_t from_step = 100;
};

// The table of the evaluations that all runs share, as Markdown: one row per step.
std::string common_evaluations(const std::vector<NamedRun>& runs) {
  std::map<int64_t, std::vector<double>> by_step;  // step -> one value per run, in run order
  for (size_t i = 0; i < runs.size(); ++i)
    for (const LogPoint& p : runs[i].points)
      if (p.eval) {
        std::vector<double>& row = by_step[p.step];
        if (row.size() == i) row.push_back(p.bits_per_dim);  // a run's first evaluation there
      }
  std::string text = "| step |";
  for (const NamedRun& run : runs)
    text += fmt::format(" {} |", run.label);
  text += "\n|---:|";
  for (size_t i = 0; i < runs.size(); ++i)
    text += "---:|";
  text += "\n";
  for (const auto& [step, row] : by_step) {
    if (row.size() != runs.size()) continue;
    text += fmt::format("| {} |", step);
    const double best = *std::min_element(row.begin(), row.end());
    for (double bits : row)
      text += bits == best ? fmt::format(" **{:.4f}** |", bits) : fmt::format(" {:.4f} |", bits);
    text += "\n";
  }
  return text;
}

int run_curves(const CurvesOptions& o) {
  if (!o.labels.empty() && o.labels.size() != o.runs.size())
    throw UsageError(fmt::format("curves: {} --label for {} runs; give one per run or none",
                                 o.labels.size(), o.runs.size()));
  std::vector<NamedRun> runs;
  for (size_t i = 0; i < o.runs.size(); ++i) {
    const std::filesystem::path folder(o.runs[i]);
    const std::filesystem::path log = folder / "log.jsonl";
    if (!std::filesystem::exists(log))
      throw UsageError(fmt::format(
          "curves: '{}' has no log.jsonl; give the --out folders of `genmodel train` runs",
          folder.string()));
    const std::string label =
        o.labels.empty() ? folder.lexically_normal().filename().string() : o.labels[i];
    runs.push_back({label.empty() ? folder.string() : label, read_log_points(log)});
  }
  const io::LogLogPlot plot = compare_curves(o.title, runs, o.from_step);
  if (plot.series.empty())
    throw UsageError(fmt::format(
        "curves: the logs hold no bits/dim from step {} on; lower --from-step or let the runs "
        "train longer",
        o.from_step));
  write_file_atomic(o.out, io::render_svg(plot));
  fmt::print("test bits/dim at the steps every run was evaluated (best in bold):\n{}figure: {}\n",
             common_evaluations(runs), o.out);
  return 0;
}

}  // namespace

void add_curves_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<CurvesOptions>();
  CLI::App* cmd = app.add_subcommand(
      "curves", "Several training runs' learning curves in one figure, with a table of them");
  cmd->add_option("runs", o->runs, "Run folders (the --out of `genmodel train`)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--label", o->labels, "A name for each run, in order (default: folder names)");
  cmd->add_option("--out", o->out, "The SVG figure to write")->required();
  cmd->add_option("--title", o->title, "The figure's title");
  cmd->add_option("--from-step", o->from_step,
                  "Draw from this step on (the first steps' bits/dim would squash the rest)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->callback([o, &action] { action = [o] { return run_curves(*o); }; });
}

}  // namespace gm::tools
