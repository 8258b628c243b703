// The sampling benchmark (bench_sampling, `genmodel bench sampling`): how long each model family
// takes to generate images, against image size.
//
// For every device, image side N and batch size, it times each sampler of
// support/sampling_methods.cpp on a freshly initialised model (seeded, untrained: sampling
// cost does not depend on the weights' values), prints a table, writes a CSV and draws a
// log-log plot of seconds per image against N (SVG, engine/io/svg_plot.h).
//
// The naive autoregressive samplers cost one full network pass per pixel: ~N^4 work, hours at
// N = 64 with a batch of 32. Where a run would exceed the per-configuration budget, the
// benchmark times single network passes instead (the model's loss without gradients on a
// batch of random images: the same layers as the pass a sampling step runs) and reports
// passes x seconds per pass, marked "extrapolated" in the table, the CSV and the plot (hollow
// markers). Measured rows also show that estimate, so its accuracy can be read off.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/io/atomic_file.h"
#include "engine/io/svg_plot.h"
#include "models/registry.h"
#include "support/sampling_benchmark.h"
#include "support/sampling_methods.h"

namespace gm::bench {
namespace {

using Options = SamplingOptions;
using io::LogLogPlot;
using io::PlotSeries;

struct Row {
  std::string device, method, config;
  int64_t n = 0, batch = 0;
  double total = 0, per_image = 0, images_per_second = 0, vs_vae = 0;
  double passes = 0, sequential_steps = 0;
  double estimate = 0;  // passes x seconds per pass (naive samplers), else 0
  bool extrapolated = false;
};

double now() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// Runs f until it has taken ~min_total seconds (at least once, at most max_runs times) and
// returns the median time; the first run is a warm-up whenever there is time for more.
template <typename F>
double time_median(F&& f, double min_total, int max_runs) {
  std::vector<double> times;
  double spent = 0;
  while (times.empty() || (spent < min_total && static_cast<int>(times.size()) < max_runs)) {
    const double start = now();
    f();
    times.push_back(now() - start);
    spent += times.back();
  }
  if (times.size() > 2) times.erase(times.begin());
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Seconds for one full forward pass over `batch` random images (no gradient recorded).
double pass_seconds(models::Model& model, int64_t batch, Device device, uint64_t seed) {
  const models::ImageShape s = model.image_shape();
  Generator gen(seed);
  const Tensor images =
      Tensor::uniform({batch, s.channels, s.height, s.width}, 0.0, 256.0, gen, DType::f64)
          .to(DType::u8);
  NoGradGuard no_grad;
  return time_median(
      [&] {
        model.loss(images, gen);
        backend_for(device).synchronize();
      },
      0.3, 5);
}

Row run(const SamplingMethod& m, models::Model& model, Device device, int64_t batch,
        const Options& o) {
  const models::ImageShape s = model.image_shape();
  const double n = static_cast<double>(s.height), c = static_cast<double>(s.channels);
  Row row{device.name(), m.name, m.config, s.height, batch};
  row.passes = m.passes(n, c);
  row.sequential_steps = m.sequential_steps(n, c);
  if (m.pass_per_pixel) row.estimate = m.work(n, c) * pass_seconds(model, batch, device, o.seed);
  if (m.pass_per_pixel && row.estimate > o.budget) {
    row.total = row.estimate;
    row.extrapolated = true;
  } else {
    Generator gen(o.seed);
    row.total = time_median(
        [&] {
          m.sample(model, batch, gen);
          backend_for(device).synchronize();
        },
        std::min(1.0, o.budget / 4), 7);
  }
  row.per_image = row.total / static_cast<double>(batch);
  row.images_per_second = 1.0 / row.per_image;
  return row;
}

std::string human(double v) {
  if (v >= 1e6) return fmt::format("{:.2e}", v);
  if (v >= 100) return fmt::format("{:.0f}", v);
  if (v >= 1) return fmt::format("{:.2f}", v);
  return fmt::format("{:.3g}", v);
}

void print_table(const std::vector<Row>& rows) {
  fmt::print("\n{:<6} {:<16} {:>3} {:>5} {:>11} {:>10} {:>10} {:>9} {:>10} {:>12}  {}\n", "device",
             "method", "N", "batch", "s/image", "images/s", "x VAE", "passes", "seq.steps",
             "total s", "status");
  for (const Row& r : rows)
    fmt::print("{:<6} {:<16} {:>3} {:>5} {:>11} {:>10} {:>10} {:>9} {:>10} {:>12}  {}\n", r.device,
               r.method, r.n, r.batch, human(r.per_image), human(r.images_per_second),
               r.vs_vae > 0 ? human(r.vs_vae) : "-", human(r.passes), human(r.sequential_steps),
               human(r.total),
               r.extrapolated   ? std::string("extrapolated")
               : r.estimate > 0 ? fmt::format("measured (estimate {})", human(r.estimate))
                                : "measured");
}

// Written to a temporary file and renamed: an interrupted run leaves the old CSV intact.
void write_csv(const std::vector<Row>& rows, const std::string& path) {
  std::string f;
  f += "device,method,config,n,batch,threads,seconds_total,seconds_per_image,images_per_second,"
       "ratio_to_vae,network_passes,sequential_steps,status,estimate_seconds\n";
  for (const Row& r : rows)
    f += fmt::format("{},{},{},{},{},{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{},{:.6g}\n",
                     r.device, r.method, r.config, r.n, r.batch, omp_get_max_threads(), r.total,
                     r.per_image, r.images_per_second, r.vs_vae, r.passes, r.sequential_steps,
                     r.extrapolated ? "extrapolated" : "measured", r.estimate);
  write_file_atomic(path, f);
  fmt::print("wrote {}\n", path);
}

// "load average 0.02 (1 min) at start": timings taken on a busy machine mean little.
std::string load_average_note() {
  static const std::string note = [] {
    std::ifstream f("/proc/loadavg");
    std::string one_minute;
    f >> one_minute;
    return f ? "load average " + one_minute + " (1 min) at start" : std::string("load average ?");
  }();
  return note;
}

const char* colour_of(const std::string& method) {
  static const std::map<std::string, const char*> colours = {
      {"pixelcnn-naive", "#d62728"},   {"pixelcnn-fast", "#ff7f0e"},  {"rowlstm-naive", "#1f77b4"},
      {"rowlstm-fast", "#17becf"},     {"diaglstm-naive", "#2ca02c"}, {"vae", "#9467bd"},
      {"pixelcnnpp-naive", "#8c564b"}, {"pixelcnnpp-fast", "#e377c2"}};
  auto it = colours.find(method);
  return it == colours.end() ? "#7f7f7f" : it->second;
}

void write_plot(const std::vector<Row>& rows, const std::string& device, const Options& o,
                const std::string& path) {
  LogLogPlot plot;
  plot.title = fmt::format("Sampling time against image side N ({}, {} threads, untrained weights)",
                           device, omp_get_max_threads());
  plot.x_label = "image side N (N x N pixels)";
  plot.y_label = "seconds per image";
  for (int64_t n : o.sizes)
    plot.x_ticks.push_back(static_cast<double>(n));
  plot.notes.push_back(load_average_note());
  plot.notes.push_back("solid: batch 1, dashed: larger batch");
  plot.notes.push_back("hollow markers: extrapolated from");
  plot.notes.push_back("timed single network passes");
  plot.notes.push_back("fitted slopes d log t / d log N:");
  for (const SamplingMethod& m : sampling_methods())
    for (int64_t b : o.batches) {
      PlotSeries s;
      s.label = fmt::format("{} (batch {})", m.name, b);
      s.colour = colour_of(m.name);
      s.dashed = b > 1;
      for (const Row& r : rows)
        if (r.device == device && r.method == m.name && r.batch == b)
          s.points.push_back({static_cast<double>(r.n), r.per_image, r.extrapolated});
      if (s.points.empty()) continue;
      plot.notes.push_back(fmt::format("- {} b{}: {:.2f}", m.name, b, io::loglog_slope(s.points)));
      plot.series.push_back(std::move(s));
    }
  if (plot.series.empty()) return;
  write_file_atomic(path, io::render_svg(plot));
  fmt::print("wrote {}\n", path);
}

std::string plot_path(const std::string& base, const std::string& device, bool first) {
  if (first) return base;
  const size_t dot = base.rfind('.');
  return dot == std::string::npos ? base + "-" + device
                                  : base.substr(0, dot) + "-" + device + base.substr(dot);
}

}  // namespace

int run_sampling_benchmark(const SamplingOptions& o) {
  std::vector<SamplingMethod> methods;
  for (SamplingMethod& m : sampling_methods())
    if (o.methods.empty() ||
        std::find(o.methods.begin(), o.methods.end(), m.name) != o.methods.end())
      methods.push_back(std::move(m));
  std::vector<std::string> known;
  for (const SamplingMethod& m : sampling_methods())
    known.push_back(m.name);
  for (const std::string& name : o.methods)
    GM_CHECK(std::find(known.begin(), known.end(), name) != known.end(),
             "bench_sampling: unknown method '{}' in --methods; known: {}", name,
             fmt::join(known, ", "));
  GM_CHECK(!methods.empty(), "bench_sampling: no method matches --methods");
  // Fail before hours of timing, not after, when an output cannot be written.
  for (const std::string& path : {o.csv, o.svg}) {
    if (path.empty()) continue;
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = ".";
    GM_CHECK(std::filesystem::is_directory(dir),
             "bench_sampling: cannot write {}: the directory {} does not exist; create it first",
             path, dir.string());
  }
  fmt::print("bench_sampling: {} OpenMP threads, budget {} s per configuration, seed {}, {}\n",
             omp_get_max_threads(), o.budget, o.seed, load_average_note());

  std::vector<Row> rows;
  std::vector<std::string> devices_run;
  for (const std::string& name : o.devices) {
    const Device device = Device::parse(name);
    if (device.kind == DeviceKind::cuda_emu) {
      fmt::print("skipping cuda-emu: it emulates CUDA on the cpu, its timings mean nothing\n");
      continue;
    }
    if (!device_available(device)) {
      fmt::print("skipping {}: {}\n", name, device_unavailable_reason(device));
      continue;
    }
    devices_run.push_back(device.name());
    for (int64_t n : o.sizes) {
      std::map<std::string, std::unique_ptr<models::Model>> made;  // one model per config
      for (const SamplingMethod& m : methods) {
        if (m.cpu_only && !device.is_cpu()) continue;
        auto& model = made[m.config];
        if (!model) {
          Generator init_gen(o.seed);
          try {
            model =
                models::make_model(m.config, {1, n, n}, nn::Init{device, DType::f32, &init_gen});
          } catch (const Error& e) {  // e.g. a multi-scale model on a side it cannot halve
            fmt::print("  skipping {} at N={}: {}\n", m.name, n, e.what());
            made.erase(m.config);
            continue;
          }
        }
        for (int64_t b : o.batches) {
          rows.push_back(run(m, *model, device, b, o));
          const Row& r = rows.back();
          fmt::print("  {} {} N={} batch={}: {} s/image{}\n", r.device, r.method, r.n, r.batch,
                     human(r.per_image), r.extrapolated ? " (extrapolated)" : "");
          std::fflush(stdout);
        }
      }
    }
  }
  for (Row& r : rows)
    for (const Row& v : rows)
      if (v.method == "vae" && v.device == r.device && v.n == r.n && v.batch == r.batch)
        r.vs_vae = r.per_image / v.per_image;
  print_table(rows);
  if (!o.csv.empty()) write_csv(rows, o.csv);
  if (!o.svg.empty())
    for (size_t i = 0; i < devices_run.size(); ++i)
      write_plot(rows, devices_run[i], o, plot_path(o.svg, devices_run[i], i == 0));
  return 0;
}

void add_sampling_options(CLI::App& app, SamplingOptions& o) {
  app.add_option("--sizes", o.sizes, "image sides N")->delimiter(',');
  app.add_option("--batches", o.batches, "batch sizes")->delimiter(',');
  app.add_option("--methods", o.methods,
                 "subset of pixelcnn-naive, pixelcnn-fast, gated-naive, gated-fast, "
                 "rowlstm-naive, rowlstm-fast, diaglstm-naive, diaglstm-fast, pixelcnnpp-naive, "
                 "pixelcnnpp-fast, vae")
      ->delimiter(',');
  app.add_option("--devices", o.devices, "devices to try (unavailable ones are reported)")
      ->delimiter(',');
  app.add_option("--budget", o.budget,
                 "seconds a naive sampler may take per configuration before it is extrapolated "
                 "from timed network passes");
  app.add_option("--seed", o.seed, "initialisation and sampling seed");
  app.add_option("--csv", o.csv, "write the table as CSV");
  app.add_option("--svg", o.svg, "write the log-log plot (other devices get -DEVICE suffixes)");
}

}  // namespace gm::bench
