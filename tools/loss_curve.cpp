#include "tools/loss_curve.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/io/atomic_file.h"

namespace gm::tools {

namespace {

// Enough points for a smooth line at the plot's width; a 100k-step run stays ~20 kB of SVG.
constexpr size_t kMaxTrainPoints = 300;

bool drawable(const LogPoint& p) {
  return p.step > 0 && std::isfinite(p.bits_per_dim) && p.bits_per_dim > 0;
}

}  // namespace

io::LogLogPlot loss_curve(const std::string& title, const std::vector<LogPoint>& points) {
  std::vector<LogPoint> train;
  io::PlotSeries eval;
  eval.label = "test images (evaluation)";
  eval.colour = "#d62728";
  for (const LogPoint& p : points) {
    if (!drawable(p)) continue;
    if (p.eval)
      eval.points.push_back({static_cast<double>(p.step), p.bits_per_dim});
    else
      train.push_back(p);
  }
  // Consecutive records in equal-sized bins, each drawn at its mean step and mean bits/dim.
  io::PlotSeries batches;
  batches.label = "training batches";
  batches.markers = false;
  const size_t per_bin = (train.size() + kMaxTrainPoints - 1) / kMaxTrainPoints;
  for (size_t first = 0; first < train.size(); first += per_bin) {
    const size_t last = std::min(train.size(), first + per_bin);
    double step = 0, bits = 0;
    for (size_t i = first; i < last; ++i)
      step += static_cast<double>(train[i].step), bits += train[i].bits_per_dim;
    const double n = static_cast<double>(last - first);
    batches.points.push_back({step / n, bits / n});
  }
  if (per_bin > 1) batches.label += fmt::format(" (means of {} steps)", per_bin);

  io::LogLogPlot plot;
  plot.title = title;
  plot.x_label = "optimizer step";
  plot.y_label = "bits per dimension";
  plot.width = 800;
  plot.height = 480;
  double last_step = 1;
  for (const LogPoint& p : points)
    if (drawable(p)) last_step = std::max(last_step, static_cast<double>(p.step));
  for (double tick = 1; tick <= last_step; tick *= 10)  // the decades the run reached
    plot.x_ticks.push_back(tick);
  if (!batches.points.empty()) plot.series.push_back(std::move(batches));
  if (!eval.points.empty()) plot.series.push_back(std::move(eval));
  return plot;
}

void write_loss_curve(const std::filesystem::path& path, const std::string& title,
                      const std::vector<LogPoint>& points) {
  const io::LogLogPlot plot = loss_curve(title, points);
  if (plot.series.empty()) return;
  write_file_atomic(path, io::render_svg(plot));
}

}  // namespace gm::tools
