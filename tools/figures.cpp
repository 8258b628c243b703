#include "tools/figures.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace gm::tools {

namespace {

constexpr const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                    "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out += c;
  }
  return out;
}

std::string text_at(double x, double y, const std::string& text, const char* anchor = "start",
                    int size = 13) {
  return fmt::format(
      "<text x='{:.1f}' y='{:.1f}' font-family='sans-serif' font-size='{}' "
      "text-anchor='{}'>{}</text>\n",
      x, y, size, anchor, escape(text));
}

}  // namespace

std::string histogram_svg(const Histogram& h) {
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : h.series)
    for (double v : s.values)
      if (std::isfinite(v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
  GM_CHECK(std::isfinite(lo) && h.bins >= 1, "histogram '{}': no finite values to draw", h.title);
  if (hi <= lo) hi = lo + 1.0;
  const int bins = h.bins;
  const double width_of_bin = (hi - lo) / bins;
  std::vector<std::vector<double>> density;
  double top = 0.0;
  for (const auto& s : h.series) {
    std::vector<double> d(static_cast<size_t>(bins), 0.0);
    for (double v : s.values)
      if (std::isfinite(v))
        d[static_cast<size_t>(
            std::clamp(static_cast<int>((v - lo) / width_of_bin), 0, bins - 1))] +=
            1.0 / (static_cast<double>(s.values.size()) * width_of_bin);
    top = std::max(top, *std::max_element(d.begin(), d.end()));
    density.push_back(std::move(d));
  }
  const double W = 900, H = 520, left = 70, right = 260, top_margin = 40, bottom = 60;
  const double pw = W - left - right, ph = H - top_margin - bottom;
  auto px = [&](double v) { return left + (v - lo) / (hi - lo) * pw; };
  auto py = [&](double d) { return top_margin + ph - d / top * ph; };
  std::string svg = fmt::format(
      "<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' viewBox='0 0 {} {}'>\n"
      "<rect width='100%' height='100%' fill='white'/>\n",
      W, H, W, H);
  svg += text_at(W / 2, 24, h.title, "middle", 16);
  svg += fmt::format("<rect x='{}' y='{}' width='{}' height='{}' fill='none' stroke='#444'/>\n",
                     left, top_margin, pw, ph);
  for (int t = 0; t <= 5; ++t) {
    const double v = lo + (hi - lo) * t / 5.0;
    svg += fmt::format("<line x1='{0:.1f}' x2='{0:.1f}' y1='{1}' y2='{2}' stroke='#444'/>\n", px(v),
                       top_margin + ph, top_margin + ph + 5);
    svg += text_at(px(v), top_margin + ph + 20, fmt::format("{:.3g}", v), "middle");
  }
  svg += text_at(left + pw / 2, H - 15, h.x_label, "middle");
  svg += text_at(18, top_margin + ph / 2, "density", "middle");
  for (size_t s = 0; s < density.size(); ++s) {
    const char* colour = kColours[s % std::size(kColours)];
    std::string path = fmt::format("M {:.1f} {:.1f}", px(lo), py(0));
    for (int b = 0; b < bins; ++b) {
      const double x0 = px(lo + b * width_of_bin), x1 = px(lo + (b + 1) * width_of_bin);
      const double y = py(density[s][static_cast<size_t>(b)]);
      path += fmt::format(" L {:.1f} {:.1f} L {:.1f} {:.1f}", x0, y, x1, y);
    }
    path += fmt::format(" L {:.1f} {:.1f}", px(hi), py(0));
    svg +=
        fmt::format("<path d='{}' fill='{}' fill-opacity='0.15' stroke='{}' stroke-width='1.5'/>\n",
                    path, colour, colour);
    const double ly = top_margin + 10 + 22 * static_cast<double>(s);
    svg += fmt::format("<rect x='{}' y='{}' width='14' height='14' fill='{}'/>\n", left + pw + 15,
                       ly, colour);
    svg += text_at(left + pw + 35, ly + 12, h.series[s].label);
  }
  for (size_t n = 0; n < h.notes.size(); ++n)
    svg += text_at(left + pw + 15, top_margin + 30 + 22 * static_cast<double>(density.size() + n),
                   h.notes[n], "start", 12);
  return svg + "</svg>\n";
}

std::string confusion_svg(const std::string& title, const std::vector<std::string>& names,
                          const std::vector<std::vector<int64_t>>& counts) {
  const size_t k = names.size();
  GM_CHECK(k >= 1 && counts.size() == k, "confusion matrix: {} class names for {} rows", k,
           counts.size());
  const double cell = 44, left = 130, top = 120;
  const double W = left + cell * static_cast<double>(k) + 30;
  const double H = top + cell * static_cast<double>(k) + 50;
  std::string svg = fmt::format(
      "<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' viewBox='0 0 {} {}'>\n"
      "<rect width='100%' height='100%' fill='white'/>\n",
      W, H, W, H);
  svg += text_at(W / 2, 24, title, "middle", 15);
  svg += text_at(left + cell * static_cast<double>(k) / 2, 50, "predicted class", "middle");
  svg += text_at(14, top - 10, "true class", "start");
  for (size_t i = 0; i < k; ++i) {
    GM_CHECK(counts[i].size() == k, "confusion matrix: row {} has {} columns, expected {}", i,
             counts[i].size(), k);
    int64_t row_total = 0;
    for (int64_t c : counts[i])
      row_total += c;
    const double y = top + cell * static_cast<double>(i);
    svg += text_at(left - 8, y + cell / 2 + 4, names[i], "end", 12);
    svg += fmt::format(
        "<text x='{0:.1f}' y='{1:.1f}' font-family='sans-serif' font-size='12' "
        "text-anchor='start' transform='rotate(-45 {0:.1f} {1:.1f})'>{2}</text>\n",
        left + cell * (static_cast<double>(i) + 0.5), top - 8, escape(names[i]));
    for (size_t j = 0; j < k; ++j) {
      const double f =
          row_total > 0 ? static_cast<double>(counts[i][j]) / static_cast<double>(row_total) : 0.0;
      const int shade = static_cast<int>(std::lround(255 * (1.0 - f)));
      const double x = left + cell * static_cast<double>(j);
      svg += fmt::format(
          "<rect x='{}' y='{}' width='{}' height='{}' fill='rgb({},{},255)' stroke='#ccc'/>\n", x,
          y, cell, cell, shade, shade);
      svg += fmt::format(
          "<text x='{:.1f}' y='{:.1f}' font-family='sans-serif' font-size='11' "
          "text-anchor='middle' fill='{}'>{}</text>\n",
          x + cell / 2, y + cell / 2 + 4, f > 0.5 ? "white" : "black", counts[i][j]);
    }
  }
  return svg + "</svg>\n";
}

}  // namespace gm::tools
