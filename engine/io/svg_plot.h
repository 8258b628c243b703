#pragma once
// A small log-log line plot written as SVG text, without any plotting library: the benchmarks
// draw time against image size with it, `genmodel train` its loss curve. Series are polylines,
// with markers unless turned off; a hollow marker flags an estimated (not measured) point.
#include <string>
#include <vector>

namespace gm::io {

struct PlotPoint {
  double x = 0, y = 0;
  bool estimated = false;  // drawn hollow
};

struct PlotSeries {
  std::string label;
  std::string colour = "#1f77b4";  // any SVG colour
  bool dashed = false;
  bool markers = true;            // a circle at every point (off for long curves)
  std::vector<PlotPoint> points;  // x and y must be positive (log axes)
};

struct LogLogPlot {
  std::string title, x_label, y_label;
  std::vector<double> x_ticks;  // labelled x positions (e.g. the image sides measured)
  // Labelled y positions; when given, the y axis spans exactly their range (points outside
  // it are clipped), for curves that differ by a few percent. Otherwise whole decades.
  std::vector<double> y_ticks;
  std::vector<std::string> notes;  // lines printed under the legend
  std::vector<PlotSeries> series;
  int width = 900, height = 560;
};

// The SVG document. Throws gm::Error when a point is not positive.
std::string render_svg(const LogLogPlot& plot);

// Least-squares slope of log y against log x: the exponent k of y ~ x^k.
double loglog_slope(const std::vector<PlotPoint>& points);

}  // namespace gm::io
