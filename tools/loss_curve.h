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

// Writes loss_curve(...) as SVG to `path`, atomically; nothing when there is no point yet.
void write_loss_curve(const std::filesystem::path& path, const std::string& title,
                      const std::vector<LogPoint>& points);

}  // namespace gm::tools
