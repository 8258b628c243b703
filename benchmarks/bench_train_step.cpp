// bench_train_step: seconds per training step (forward + backward + Adam) of each reference
// configuration (docs/reference-models.md) on Fashion-MNIST batches, with peak memory.
//
// Memory: the backend interface has no allocator high-water mark, so peak memory is the
// process's peak resident set size. Linux lets a process reset that peak (write 5 to
// /proc/self/clear_refs), so it is reset after the data set, the model and the optimizer are
// set up, and VmHWM (/proc/self/status) then gives the peak of the training steps alone;
// VmRSS at that moment is the baseline. Where the reset is refused the peak is getrusage's
// ru_maxrss, which includes loading the data (the CSV's peak_source column says which).
//
// Each (configuration, device) runs in a child process (this binary re-executed with
// --child), so that no configuration inherits another's heap, caches or thread pools.
//
// Reported per configuration: median and mean step time over the timed steps (after warm-up
// steps, which also allocate Adam's state), the loss of the first and last step (a sanity
// check that the steps train), the peak RSS and the baseline, and on CUDA devices the runtime
// counters of the last step (kernels/cuda/counters.h: launches, host syncs, bytes copied,
// allocator misses). The counts are deterministic, so `--devices cuda-emu --emu` measures them
// on a machine without a GPU (its timings mean nothing).
//
// --cuda-graph runs the step as `genmodel train --cuda-graph` does on CUDA devices: captured
// once after the warm-up and replayed (models/graph_step.h), so that eager and graph steps can
// be timed side by side; its step records the loss in StepStats, read after the counters.
#include <fmt/format.h>
#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>

#include "engine/backend.h"
#include "engine/io/atomic_file.h"
#include "engine/io/batches.h"
#include "engine/io/dataset.h"
#include "engine/optim.h"
#include "engine/step_stats.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cuda/cuda_backend.h"
#include "models/graph_step.h"
#include "models/registry.h"

namespace gm::bench {
namespace {

struct Options {
  std::vector<std::string> models{"pixelcnn-ref", "rowlstm-ref", "diaglstm-ref", "vae-ref"};
  std::vector<std::string> devices{"cpu", "cuda"};
  int64_t batch = 32;
  int warmup = 2;
  int steps = 10;            // at least this many timed steps ...
  double min_seconds = 3.0;  // ... and at least this long
  uint64_t seed = 1;
  std::string data = "fashion-mnist";
  std::string csv;
  bool child = false;
  bool emu = false;         // run cuda-emu too, for its counters
  bool cuda_graph = false;  // CUDA devices: capture the step once and replay it
};

struct Result {
  std::string model, device;
  int64_t batch = 0, parameters = 0;
  int steps = 0;
  double median = 0, mean = 0, min = 0;
  double cpu_median = 0;  // process cpu time (user + sys, all threads) per step
  double loss_first = 0, loss_last = 0;
  double rss_before_mib = 0, rss_peak_mib = 0;
  // cpu only: the block cache's high-water mark of tensor bytes during the steps, and the
  // bytes in use before the first (data set, parameters, optimizer state); -1 elsewhere.
  double tensors_before_mib = -1, tensors_peak_mib = -1;
  std::string peak_source;  // "VmHWM" (reset before training) or "ru_maxrss" (whole process)
  // CUDA devices: the runtime counters of the last timed step; -1 elsewhere.
  int64_t launches = -1, syncs = -1, h2d_bytes = -1, d2h_bytes = -1, alloc_misses = -1;
  int64_t graph_launches = -1;
  int cuda_graph = 0;  // 1 when the step was a replayed CUDA graph
};

double now() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// Process cpu time, all threads, user + sys: less sensitive than wall time to other work on
// the machine, and cpu / wall shows how many threads were kept busy.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec);
  };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

double ru_maxrss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// A "VmRSS:"-style line of /proc/self/status in MiB, or -1 when absent.
double proc_status_mib(const std::string& key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(key.size())) / 1024.0;  // kB
  return -1;
}

// Resets the kernel's peak-RSS mark of this process; false where that is not allowed.
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return f.good();
}

// One configuration in this process; the result is printed as one "RESULT ..." line.
Result measure(const Options& o, const std::string& name, Device device) {
  const io::DataSplits data = io::load_data(io::parse_data_source(o.data));
  io::BatchSampler batches(data.train, o.batch, o.seed);
  Generator init_gen(o.seed), gen(o.seed + 1);
  const models::ImageShape shape{data.train.channels(), data.train.height(), data.train.width()};
  auto model = models::make_model(name, shape, nn::Init{device, DType::f32, &init_gen});
  Adam adam(to_named_tensors(model->parameters()), AdamOptions{.lr = 1e-3});
  // The step keeps its loss on the device, as `genmodel train` does between reports; it is
  // read after the step's counters are taken.
  model->set_read_loss(false);

  Result r;
  r.model = name;
  r.device = device.name();
  r.batch = batches.batch_size();
  r.parameters = model->parameter_count();
  const bool reset = reset_peak_rss() && proc_status_mib("VmHWM:") > 0;
  r.peak_source = reset ? "VmHWM" : "ru_maxrss";
  r.rss_before_mib = proc_status_mib("VmRSS:");
  constexpr double kMiB = 1024.0 * 1024.0;
  if (device.is_cpu()) {
    cpu_backend().reset_peak_memory();
    r.tensors_before_mib = static_cast<double>(cpu_backend().memory_stats().bytes_in_use) / kMiB;
  }
  std::vector<double> times, cpu_times;
  double spent = 0;
  // --cuda-graph: the first warm-up step runs eagerly, the next one is captured.
  StepStats stats(device, 1);
  std::optional<models::GraphTrainingStep> graph;
  if (o.cuda_graph && !device.is_cpu()) {
    graph.emplace(*model, adam, stats);
    r.cuda_graph = 1;
  }
  for (int64_t step = 0;; ++step) {
    const std::optional<CudaCounters> counts_before = cuda_counters(device);
    const Tensor images = batches.batch(step).images;
    const double start = now(), cpu_start = cpu_seconds();
    models::LossOutput loss;
    if (graph) {
      graph->step(images, gen);
    } else {
      adam.zero_grad();
      loss = model->loss(images, gen);
      loss.loss.backward();
      adam.step();
    }
    backend_for(device).synchronize();
    const double took = now() - start, cpu_took = cpu_seconds() - cpu_start;
    if (counts_before) {
      const CudaCounters c = *cuda_counters(device) - *counts_before;
      r.launches = static_cast<int64_t>(c.kernel_launches);
      r.syncs = static_cast<int64_t>(c.host_syncs);
      r.h2d_bytes = static_cast<int64_t>(c.h2d_bytes);
      r.d2h_bytes = static_cast<int64_t>(c.d2h_bytes);
      r.alloc_misses = static_cast<int64_t>(c.allocator_misses);
      r.graph_launches = static_cast<int64_t>(c.graph_launches);
    }
    const double value = graph ? stats.read().front().loss : loss.loss.item();
    if (step == 0) r.loss_first = value;
    r.loss_last = value;
    if (step < o.warmup) continue;
    times.push_back(took);
    cpu_times.push_back(cpu_took);
    spent += took;
    if (static_cast<int>(times.size()) >= o.steps && spent >= o.min_seconds) break;
  }
  r.steps = static_cast<int>(times.size());
  r.mean = spent / static_cast<double>(times.size());
  std::sort(times.begin(), times.end());
  r.median = times[times.size() / 2];
  r.min = times.front();
  std::sort(cpu_times.begin(), cpu_times.end());
  r.cpu_median = cpu_times[cpu_times.size() / 2];
  r.rss_peak_mib = reset ? proc_status_mib("VmHWM:") : ru_maxrss_mib();
  if (device.is_cpu())
    r.tensors_peak_mib = static_cast<double>(cpu_backend().memory_stats().peak_bytes_in_use) / kMiB;
  return r;
}

std::string to_line(const Result& r) {
  return fmt::format(
      "RESULT {} {} {} {} {} {:.6g} {:.6g} {:.6g} {:.6g} {:.6g} {:.6g} {:.1f} {:.1f} {:.1f} {:.1f} "
      "{} {} {} {} {} {} {} {}",
      r.model, r.device, r.batch, r.parameters, r.steps, r.median, r.mean, r.min, r.cpu_median,
      r.loss_first, r.loss_last, r.rss_before_mib, r.rss_peak_mib, r.tensors_before_mib,
      r.tensors_peak_mib, r.peak_source, r.launches, r.syncs, r.h2d_bytes, r.d2h_bytes,
      r.alloc_misses, r.graph_launches, r.cuda_graph);
}

Result from_line(const std::string& line) {
  std::istringstream in(line);
  std::string tag;
  Result r;
  in >> tag >> r.model >> r.device >> r.batch >> r.parameters >> r.steps >> r.median >> r.mean >>
      r.min >> r.cpu_median >> r.loss_first >> r.loss_last >> r.rss_before_mib >> r.rss_peak_mib >>
      r.tensors_before_mib >> r.tensors_peak_mib >> r.peak_source >> r.launches >> r.syncs >>
      r.h2d_bytes >> r.d2h_bytes >> r.alloc_misses >> r.graph_launches >> r.cuda_graph;
  GM_CHECK(tag == "RESULT" && !in.fail(), "bench_train_step: cannot parse child output '{}'", line);
  return r;
}

// Runs this binary again as a child for one configuration and returns its result line's data.
bool run_child(const Options& o, const std::string& model, const std::string& device, Result& out) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  GM_CHECK(n > 0, "bench_train_step: cannot find its own executable to run children");
  self[n] = '\0';
  const std::string cmd = fmt::format(
      "'{}' --child --models {} --devices {} --batch {} --warmup {} --steps {} --min-seconds {} "
      "--seed {} --data '{}'{}{}",
      self, model, device, o.batch, o.warmup, o.steps, o.min_seconds, o.seed, o.data,
      o.emu ? " --emu" : "", o.cuda_graph ? " --cuda-graph" : "");
  FILE* pipe = popen(cmd.c_str(), "r");
  GM_CHECK(pipe != nullptr, "bench_train_step: cannot start '{}'", cmd);
  char buffer[1024];
  bool found = false;
  while (std::fgets(buffer, sizeof(buffer), pipe)) {
    const std::string line(buffer);
    if (line.rfind("RESULT ", 0) == 0) {
      out = from_line(line);
      found = true;
    } else {
      fmt::print("  [{} {}] {}", model, device, line);  // the child's errors, if any
    }
  }
  const int status = pclose(pipe);
  return found && status == 0;
}

void print_and_save(const std::vector<Result>& results, const Options& o) {
  fmt::print("\n{:<13} {:<6} {:>5} {:>9} {:>6} {:>10} {:>9} {:>9} {:>11} {:>10} {:>14} {:>17}\n",
             "model", "device", "batch", "params", "steps", "median ms", "mean ms", "cpu ms",
             "loss first", "loss last", "peak RSS MiB", "peak tensors MiB");
  for (const Result& r : results)
    fmt::print(
        "{:<13} {:<6} {:>5} {:>9} {:>6} {:>10.1f} {:>9.1f} {:>9.1f} {:>11.1f} {:>10.1f} {:>7.0f} "
        "(+{:.0f}) {:>17}\n",
        r.model, r.device, r.batch, r.parameters, r.steps, 1e3 * r.median, 1e3 * r.mean,
        1e3 * r.cpu_median, r.loss_first, r.loss_last, r.rss_peak_mib,
        r.rss_peak_mib - r.rss_before_mib,
        r.tensors_peak_mib < 0 ? std::string("-")
                               : fmt::format("{:.0f} (+{:.0f})", r.tensors_peak_mib,
                                             r.tensors_peak_mib - r.tensors_before_mib));
  fmt::print("cpu ms: process cpu time per step, all threads (median)\n");
  for (const Result& r : results)
    if (r.launches >= 0)
      fmt::print(
          "{} on {}{}, last step: {} kernel launches, {} graph launches, {} host syncs, {} B "
          "host-to-device, {} B device-to-host, {} allocator misses\n",
          r.model, r.device, r.cuda_graph ? " (CUDA graph)" : "", r.launches, r.graph_launches,
          r.syncs, r.h2d_bytes, r.d2h_bytes, r.alloc_misses);
  fmt::print(
      "peak RSS: the process's peak during the training steps (VmHWM after a reset; "
      "ru_maxrss of the whole run where a reset is refused); (+N): above the RSS before "
      "the first step (data set, model, runtime)\n"
      "peak tensors: the cpu block cache's high-water mark of tensor memory during the steps; "
      "(+N): above what the data set, parameters and optimizer state hold before the first step\n");
  if (o.csv.empty()) return;
  std::string f =
      "model,device,batch,threads,parameters,steps,median_seconds,mean_seconds,min_seconds,"
      "cpu_seconds,loss_first,loss_last,rss_before_mib,rss_peak_mib,tensors_before_mib,"
      "tensors_peak_mib,peak_source,launches,syncs,h2d_bytes,d2h_bytes,alloc_misses,"
      "graph_launches,cuda_graph\n";
  for (const Result& r : results)
    f += fmt::format(
        "{},{},{},{},{},{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.1f},{:.1f},{:.1f},{:.1f},{}"
        ","
        "{},{},{},{},{},{},{}\n",
        r.model, r.device, r.batch, omp_get_max_threads(), r.parameters, r.steps, r.median, r.mean,
        r.min, r.cpu_median, r.loss_first, r.loss_last, r.rss_before_mib, r.rss_peak_mib,
        r.tensors_before_mib, r.tensors_peak_mib, r.peak_source, r.launches, r.syncs, r.h2d_bytes,
        r.d2h_bytes, r.alloc_misses, r.graph_launches, r.cuda_graph);
  write_file_atomic(o.csv, f);
  fmt::print("wrote {}\n", o.csv);
}

int run(const Options& o) {
  if (o.child) {
    GM_CHECK(o.models.size() == 1 && o.devices.size() == 1,
             "bench_train_step --child: exactly one model and one device");
    fmt::print("{}\n", to_line(measure(o, o.models[0], Device::parse(o.devices[0]))));
    return 0;
  }
  fmt::print(
      "bench_train_step: batch {}, {} OpenMP threads, {} warm-up + >= {} timed steps "
      "(>= {} s) per configuration\n",
      o.batch, omp_get_max_threads(), o.warmup, o.steps, o.min_seconds);
  std::vector<Result> results;
  bool all_ok = true;
  for (const std::string& device : o.devices) {
    const Device d = Device::parse(device);
    if (d.kind == DeviceKind::cuda_emu && !o.emu) {
      fmt::print(
          "skipping cuda-emu: it emulates CUDA on the cpu, its timings mean nothing (--emu runs "
          "it for its counters)\n");
      continue;
    }
    if (!device_available(d)) {
      fmt::print("skipping {}: {}\n", device, device_unavailable_reason(d));
      continue;
    }
    for (const std::string& model : o.models) {
      Result r;
      if (!run_child(o, model, device, r)) {
        fmt::print("  {} on {}: failed (see above)\n", model, device);
        all_ok = false;
        continue;
      }
      fmt::print("  {} on {}: {:.1f} ms/step\n", model, device, 1e3 * r.median);
      std::fflush(stdout);
      results.push_back(r);
    }
  }
  print_and_save(results, o);
  return all_ok ? 0 : 1;
}

}  // namespace
}  // namespace gm::bench

int main(int argc, char** argv) {
  gm::bench::Options o;
  CLI::App app{
      "Times one training step (forward + backward + Adam) of each reference "
      "configuration (see docs/benchmarks.md)"};
  app.add_option("--models", o.models, "configurations")->delimiter(',');
  app.add_option("--devices", o.devices, "devices to try (unavailable ones are reported)")
      ->delimiter(',');
  app.add_option("--batch", o.batch, "images per step");
  app.add_option("--warmup", o.warmup, "untimed steps first");
  app.add_option("--steps", o.steps, "minimum timed steps");
  app.add_option("--min-seconds", o.min_seconds, "minimum timed seconds");
  app.add_option("--seed", o.seed, "initialisation and batch-order seed");
  app.add_option("--data", o.data, "data source (fashion-mnist, mnist:DIR, ...)");
  app.add_option("--csv", o.csv, "write the table as CSV");
  app.add_flag("--emu", o.emu,
               "also run cuda-emu when listed in --devices, for its deterministic counters");
  app.add_flag("--cuda-graph", o.cuda_graph,
               "on CUDA devices, capture the step once after the warm-up and replay it (the cpu "
               "runs eagerly)");
  app.add_flag("--child", o.child, "internal: measure one configuration in this process");
  CLI11_PARSE(app, argc, argv);
  try {
    return gm::bench::run(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_train_step: {}\n", e.what());
    return 1;
  }
}
