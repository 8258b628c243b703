#include "tools/loss_curve.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/io/atomic_file.h"

namespace gm::tools {

namespace {

// Enough points for a smooth line at the plot's width; a 100k-step run stays ~20 kB of SVG.
constexpr size_t kMaxTrainPoints = 300;
// Several runs' batch means overlap: coarser bins keep each run's trend readable.
constexpr size_t kComparedTrainPoints = 40;

bool drawable(const LogPoint& p) {
  return p.step > 0 && std::isfinite(p.bits_per_dim) && p.bits_per_dim > 0;
}

// The training records of `points`, in consecutive equal-sized bins, each drawn at its mean
// step and mean bits/dim, at most `max_points` of them; `per_bin` is set to the bin size.
std::vector<io::PlotPoint> training_means(const std::vector<LogPoint>& points, size_t max_points,
                                          size_t& per_bin) {
  std::vector<LogPoint> train;
  for (const LogPoint& p : points)
    if (drawable(p) && !p.eval) train.push_back(p);
  per_bin = std::max<size_t>(1, (train.size() + max_points - 1) / max_points);
  std::vector<io::PlotPoint> means;
  for (size_t first = 0; first < train.size(); first += per_bin) {
    const size_t last = std::min(train.size(), first + per_bin);
    double step = 0, bits = 0;
    for (size_t i = first; i < last; ++i)
      step += static_cast<double>(train[i].step), bits += train[i].bits_per_dim;
    const double n = static_cast<double>(last - first);
    means.push_back({step / n, bits / n});
  }
  return means;
}

std::vector<io::PlotPoint> evaluations(const std::vector<LogPoint>& points) {
  std::vector<io::PlotPoint> evals;
  for (const LogPoint& p : points)
    if (drawable(p) && p.eval) evals.push_back({static_cast<double>(p.step), p.bits_per_dim});
  return evals;
}

io::LogLogPlot step_plot(const std::string& title, int64_t last_step) {
  io::LogLogPlot plot;
  plot.title = title;
  plot.x_label = "optimizer step";
  plot.y_label = "bits per dimension";
  plot.width = 800;
  plot.height = 480;
  for (double tick = 1; tick <= static_cast<double>(std::max<int64_t>(1, last_step)); tick *= 10)
    plot.x_ticks.push_back(tick);  // the decades the run reached
  return plot;
}

int64_t last_drawable_step(const std::vector<LogPoint>& points) {
  int64_t last = 1;
  for (const LogPoint& p : points)
    if (drawable(p)) last = std::max(last, p.step);
  return last;
}

}  // namespace

io::LogLogPlot loss_curve(const std::string& title, const std::vector<LogPoint>& points) {
  io::PlotSeries batches;
  size_t per_bin = 1;
  batches.points = training_means(points, kMaxTrainPoints, per_bin);
  batches.label = "training batches";
  batches.markers = false;
  if (per_bin > 1) batches.label += fmt::format(" (means of {} steps)", per_bin);
  io::PlotSeries eval;
  eval.label = "test images (evaluation)";
  eval.colour = "#d62728";
  eval.points = evaluations(points);

  io::LogLogPlot plot = step_plot(title, last_drawable_step(points));
  if (!batches.points.empty()) plot.series.push_back(std::move(batches));
  if (!eval.points.empty()) plot.series.push_back(std::move(eval));
  return plot;
}

io::LogLogPlot compare_curves(const std::string& title, const std::vector<NamedRun>& runs,
                              int64_t from_step) {
  // Colour-blind-safe and distinct in grey print (Okabe-Ito).
  static constexpr const char* kColours[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                             "#e69f00", "#56b4e9", "#000000"};
  auto late = [from_step](std::vector<io::PlotPoint> points) {
    std::erase_if(points, [from_step](const io::PlotPoint& p) {
      return p.x < static_cast<double>(from_step);
    });
    return points;
  };
  io::LogLogPlot plot = step_plot(title, 1);
  plot.x_ticks.clear();
  plot.width = 960;
  double last_step = 1, lowest = INFINITY, highest = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    const char* colour = kColours[i % std::size(kColours)];
    io::PlotSeries batches, eval;
    size_t per_bin = 1;
    batches.points = late(training_means(runs[i].points, kComparedTrainPoints, per_bin));
    batches.label = fmt::format("{}, batches", runs[i].label);
    if (per_bin > 1) batches.label += fmt::format(" (means of {})", per_bin);
    batches.colour = colour;
    batches.dashed = true;
    batches.markers = false;
    eval.points = late(evaluations(runs[i].points));
    eval.label = fmt::format("{}, test images", runs[i].label);
    eval.colour = colour;
    for (const io::PlotPoint& p : eval.points)
      lowest = std::min(lowest, p.y), highest = std::max(highest, p.y);
    for (const io::PlotSeries* s : {&batches, &eval})
      for (const io::PlotPoint& p : s->points)
        last_step = std::max(last_step, p.x);
    if (!batches.points.empty()) plot.series.push_back(std::move(batches));
    if (!eval.points.empty()) plot.series.push_back(std::move(eval));
  }
  // Steps at 1, 2 and 5 times the powers of ten; bits/dim in tenths around the evaluations
  // (the noisier batch means are clipped), since the runs differ by hundredths.
  for (double decade = 1; decade <= last_step; decade *= 10)
    for (double m : {1.0, 2.0, 5.0})
      if (m * decade >= static_cast<double>(from_step) && m * decade <= last_step)
        plot.x_ticks.push_back(m * decade);
  if (std::isfinite(lowest)) {
    const double lo = std::max(0.1, std::floor(lowest * 10) / 10 - 0.1);
    const double hi = std::ceil(highest * 10) / 10 + 0.1;
    const double spacing = hi - lo > 1.0 ? 0.2 : 0.1;
    for (double t = lo; t <= hi + 1e-9; t += spacing)
      plot.y_ticks.push_back(std::round(t * 10) / 10);
  }
  return plot;
}

void write_loss_curve(const std::filesystem::path& path, const std::string& title,
                      const std::vector<LogPoint>& points) {
  const io::LogLogPlot plot = loss_curve(title, points);
  if (plot.series.empty()) return;
  write_file_atomic(path, io::render_svg(plot));
}

}  // namespace gm::tools
