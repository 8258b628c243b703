#pragma once
// The figures of `score`, `outliers` and `classify`, as SVG text: overlaid histograms of
// per-image scores and a confusion matrix. (engine/io/svg_plot.h draws log-log line plots;
// these are the two chart types the density-model commands need.)
#include <string>
#include <vector>

namespace gm::tools {

struct HistogramSeries {
  std::string label;
  std::vector<double> values;
};

struct Histogram {
  std::string title, x_label;
  std::vector<HistogramSeries> series;  // drawn as outlines in distinct colours
  std::vector<std::string> notes;       // lines under the legend (e.g. AUROC)
  int bins = 40;
};

// Shares one set of bins over every series; each series is normalised to a density so sets of
// different sizes compare. Throws when there is nothing to draw.
std::string histogram_svg(const Histogram& h);

// counts[true][predicted]; rows are normalised to fractions, shaded by them and labelled with
// the counts.
std::string confusion_svg(const std::string& title, const std::vector<std::string>& class_names,
                          const std::vector<std::vector<int64_t>>& counts);

}  // namespace gm::tools
