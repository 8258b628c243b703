#include "engine/io/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/error.h"

namespace gm::io {

namespace {

std::string escape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

// "1e-3"-style decade labels read better than 0.001 on a log axis spanning many decades.
std::string decade_label(int exponent) {
  if (exponent >= 0 && exponent <= 3) return fmt::format("{}", std::pow(10.0, exponent));
  if (exponent < 0 && exponent >= -2) return fmt::format("{}", std::pow(10.0, exponent));
  return fmt::format("1e{}", exponent);
}

struct Axes {
  double left, top, right, bottom;  // plot area in pixels
  double lx0, lx1, ly0, ly1;        // log10 ranges
  double x(double v) const { return left + (std::log10(v) - lx0) / (lx1 - lx0) * (right - left); }
  double y(double v) const { return bottom - (std::log10(v) - ly0) / (ly1 - ly0) * (bottom - top); }
};

}  // namespace

double loglog_slope(const std::vector<PlotPoint>& points) {
  const double n = static_cast<double>(points.size());
  if (points.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const PlotPoint& p : points) {
    const double lx = std::log(p.x), ly = std::log(p.y);
    sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly;
  }
  const double denominator = n * sxx - sx * sx;
  if (denominator == 0) return std::numeric_limits<double>::quiet_NaN();
  return (n * sxy - sx * sy) / denominator;
}

std::string render_svg(const LogLogPlot& plot) {
  double x_min = INFINITY, x_max = -INFINITY, y_min = INFINITY, y_max = -INFINITY;
  for (const PlotSeries& s : plot.series)
    for (const PlotPoint& p : s.points) {
      GM_CHECK(p.x > 0 && p.y > 0 && std::isfinite(p.x) && std::isfinite(p.y),
               "log-log plot '{}': series '{}' has a point ({}, {}) that is not positive",
               plot.title, s.label, p.x, p.y);
      x_min = std::min(x_min, p.x), x_max = std::max(x_max, p.x);
      y_min = std::min(y_min, p.y), y_max = std::max(y_max, p.y);
    }
  for (double t : plot.x_ticks)
    x_min = std::min(x_min, t), x_max = std::max(x_max, t);
  GM_CHECK(std::isfinite(x_min), "log-log plot '{}': no points to draw", plot.title);

  const double legend_width = 300;
  Axes a{80,
         50,
         plot.width - legend_width - 20,
         plot.height - 60.0,
         std::log10(x_min) - 0.05,
         std::log10(x_max) + 0.05,
         std::floor(std::log10(y_min)),
         std::ceil(std::log10(y_max))};
  if (!plot.y_ticks.empty()) {
    const auto [lo, hi] = std::minmax_element(plot.y_ticks.begin(), plot.y_ticks.end());
    GM_CHECK(*lo > 0 && *hi > *lo, "log-log plot '{}': y ticks must be positive and not all equal",
             plot.title);
    a.ly0 = std::log10(*lo), a.ly1 = std::log10(*hi);
  }
  if (a.ly1 == a.ly0) a.ly1 += 1;

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"28\" font-size=\"16\" text-anchor=\"middle\">{}</text>\n",
      plot.width, plot.height, (a.left + a.right) / 2, escape(plot.title));

  // Grid: the y ticks, or every decade of y (with minor lines at 2..9); every x tick.
  for (double t : plot.y_ticks) {
    const double y = a.y(t);
    svg += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
        a.left, y, a.right, y, a.left - 6, y + 4, t);
  }
  for (int e = static_cast<int>(a.ly0); plot.y_ticks.empty() && e <= static_cast<int>(a.ly1); ++e) {
    const double y = a.y(std::pow(10.0, e));
    svg += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#bbb\"/>\n"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
        a.left, y, a.right, y, a.left - 6, y + 4, decade_label(e));
    if (e == static_cast<int>(a.ly1)) break;
    for (int m = 2; m <= 9; ++m) {
      const double ym = a.y(m * std::pow(10.0, e));
      svg += fmt::format(
          "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#eee\"/>\n",
          a.left, ym, a.right, ym);
    }
  }
  for (double t : plot.x_ticks) {
    const double x = a.x(t);
    svg += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
        x, a.top, x, a.bottom, x, a.bottom + 18, t);
  }
  svg += fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" "
      "stroke=\"black\"/>\n"
      "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n"
      "<text transform=\"translate(20 {:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
      a.left, a.top, a.right - a.left, a.bottom - a.top, (a.left + a.right) / 2, a.bottom + 40,
      escape(plot.x_label), (a.top + a.bottom) / 2, escape(plot.y_label));

  // Series (clipped to the plot area) and legend.
  svg += fmt::format(
      "<clipPath id=\"plot-area\"><rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
      "height=\"{:.1f}\"/></clipPath>\n",
      a.left, a.top, a.right - a.left, a.bottom - a.top);
  double legend_y = a.top + 10;
  const double legend_x = a.right + 20;
  for (const PlotSeries& s : plot.series) {
    const std::string dash = s.dashed ? " stroke-dasharray=\"6 4\"" : "";
    std::string path;
    for (const PlotPoint& p : s.points)
      path += fmt::format("{:.1f},{:.1f} ", a.x(p.x), a.y(p.y));
    svg += fmt::format(
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} "
        "clip-path=\"url(#plot-area)\"/>\n",
        path, s.colour, dash);
    for (const PlotPoint& p : s.markers ? s.points : std::vector<PlotPoint>{})
      svg += fmt::format(
          "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\" stroke=\"{}\" "
          "stroke-width=\"1.5\" clip-path=\"url(#plot-area)\"/>\n",
          a.x(p.x), a.y(p.y), p.estimated ? "white" : s.colour, s.colour);
    svg += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
        "stroke-width=\"2\"{}/>\n<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n",
        legend_x, legend_y, legend_x + 30, legend_y, s.colour, dash, legend_x + 38, legend_y + 4,
        escape(s.label));
    legend_y += 18;
  }
  legend_y += 8;
  for (const std::string& note : plot.notes) {
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\">{}</text>\n", legend_x,
                       legend_y, escape(note));
    legend_y += 15;
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace gm::io
