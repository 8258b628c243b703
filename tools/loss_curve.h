#pragma once
// The training run's loss curve: bits/dim of the training batches (averaged over bins of steps,
// so a long run stays a small file) and of every evaluation, against the step, on log-log axes,
// drawn by engine/io/svg_plot.h. `genmodel train` writes it next to log.jsonl at every checkpoint
// and at the end.
#include <filesystem>
#include <string>
#include <vector>

#include "engine/io/svg_plot.h"
#include "tools/run_log.h"

namespace gm::tools {

// The plot for `points` (records without a positive finite bits/dim are left out).
io::LogLogPlot loss_curve(const std::string& title, const std::vector<LogPoint>& points);

// One run's points under a name, for compare_curves.
struct NamedRun {
  std::string label;
  std::vector<LogPoint> points;
};

// Several runs on one plot from step `from_step` on, one colour each: the training batches'
// means dashed, the evaluations solid with markers, the y axis zoomed on the evaluations.
// `genmodel curves` draws it.
io::LogLogPlot compare_curves(const std::string& title, const std::vector<NamedRun>& runs,
                              int64_t from_step);

// Writes loss_curve(...) as SVG to `path`, atomically; nothing when there is no point yet.
void write_loss_curve(const std::filesystem::path& path, const std::string& title,
                      const std::vector<LogPoint>& points);

}  // namespace gm::tools
