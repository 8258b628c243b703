// genmodel's own sgemm (kernels/cpu/sgemm.h) against OpenBLAS's cblas_sgemm on the per-image
// GEMMs of pixelcnn-ref's convolutions (docs/reference-models.md), called the way
// kernels/cpu/conv.cpp calls them: every thread runs its own single-threaded GEMMs on its own
// buffers at the same time. The two are measured interleaved (ours, OpenBLAS, ours, ...) so that
// other load on the machine hits both alike; the table gives the median of each and their ratio.
// Time is the process's CPU time divided by the threads (--clock cpu, the default: on a machine
// shared with other work, time spent descheduled does not count) or wall time (--clock wall).
// Usage: bench_gemm [--reps N] [--clock cpu|wall] [--ms MS] [--csv FILE]. OMP_NUM_THREADS sets the
// threads.
#include <cblas.h>
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/sgemm.h"

namespace {

struct Shape {
  std::string name;
  bool ta, tb;
  int64_t m, n, k;
};

// For each layer (in channels C, out channels K, computed taps T) over P = 28 * 28 pixels: the
// forward y [K, P] = W [K, C T] col [C T, P], the data gradient dcol = W^T dy and the weight
// gradient dW = dy col^T.
std::vector<Shape> pixelcnn_ref_shapes() {
  struct Layer {
    std::string name;
    int64_t C, K, taps;
  };
  const std::vector<Layer> layers = {
      {"MaskA 7x7 1->64", 1, 64, 24},  {"1x1 64->32", 64, 32, 1},
      {"MaskB 3x3 32->32", 32, 32, 5}, {"1x1 32->64", 32, 64, 1},
      {"head 1x1 64->64", 64, 64, 1},  {"head 1x1 64->256", 64, 256, 1}};
  const int64_t P = 28 * 28;
  std::vector<Shape> shapes;
  for (const Layer& l : layers) {
    const int64_t rows = l.C * l.taps;
    shapes.push_back({l.name + " fwd", false, false, l.K, P, rows});
    if (l.name != "MaskA 7x7 1->64")  // the first layer's input needs no gradient
      shapes.push_back({l.name + " data", true, false, rows, P, l.K});
    shapes.push_back({l.name + " weight", false, true, l.K, rows, P});
  }
  return shapes;
}

// Seconds on the chosen clock; cpu: the process's CPU time over the threads.
double now(bool cpu) {
  if (cpu) {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec)) /
           omp_get_max_threads();
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Buffers {
  std::vector<float> a, b, c;
};

// Seconds for `calls` GEMMs of shape s on every thread at once.
template <typename Gemm>
double time_once(const Shape& s, std::vector<Buffers>& buffers, int calls, bool cpu, Gemm&& gemm) {
  const double start = now(cpu);
#pragma omp parallel
  {
    Buffers& buf = buffers[static_cast<size_t>(omp_get_thread_num())];
    for (int i = 0; i < calls; ++i)
      gemm(s, buf);
  }
  return now(cpu) - start;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"genmodel's sgemm against OpenBLAS on pixelcnn-ref's convolution GEMMs"};
  int reps = 15;
  std::string csv, clock = "cpu";
  double ms = 50;
  app.add_option("--reps", reps, "interleaved repetitions of each (median taken)");
  app.add_option("--clock", clock, "cpu (process CPU time / threads) or wall")
      ->check(CLI::IsMember({"cpu", "wall"}));
  app.add_option("--ms", ms, "work per timing, in ms at 30 GFLOP/s");
  app.add_option("--csv", csv, "also write the table as CSV");
  CLI11_PARSE(app, argc, argv);

  const int threads = omp_get_max_threads();
  const bool cpu = clock == "cpu";
  std::printf("threads %d, micro-kernel %s, clock %s\n", threads, gm::cpu::sgemm_kernel_name(),
              clock.c_str());
  std::printf("%-26s %5s %5s %5s %12s %14s %7s\n", "GEMM (per image)", "m", "n", "k", "ours GF/s",
              "OpenBLAS GF/s", "ratio");
  std::ofstream out;
  if (!csv.empty()) {
    out.open(csv);
    out << "gemm,m,n,k,threads,ours_gflops,openblas_gflops,ratio\n";
  }
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  double total_ours = 0, total_blas = 0, total_flop = 0;
  for (const Shape& s : pixelcnn_ref_shapes()) {
    std::vector<Buffers> buffers(static_cast<size_t>(threads));
    for (Buffers& b : buffers) {
      b.a.resize(static_cast<size_t>(s.m * s.k));
      b.b.resize(static_cast<size_t>(s.k * s.n));
      b.c.resize(static_cast<size_t>(s.m * s.n));
      for (float& v : b.a)
        v = dist(gen);
      for (float& v : b.b)
        v = dist(gen);
    }
    const double flop = 2.0 * static_cast<double>(s.m * s.n * s.k);
    // About `ms` of work per timing at 30 GFLOP/s, whatever the shape: long against the clock's
    // granularity (CPU time on a virtual machine may advance in scheduler ticks).
    const int calls = std::max(1, static_cast<int>(ms * 1e-3 * 30e9 / flop));
    auto ours = [](const Shape& g, Buffers& b) {
      gm::cpu::sgemm(g.ta, g.tb, g.m, g.n, g.k, 1.0f, b.a.data(), g.ta ? g.m : g.k, b.b.data(),
                     g.tb ? g.k : g.n, 0.0f, b.c.data(), g.n);
    };
    auto blas = [](const Shape& g, Buffers& b) {
      cblas_sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans, g.tb ? CblasTrans : CblasNoTrans,
                  static_cast<blasint>(g.m), static_cast<blasint>(g.n), static_cast<blasint>(g.k),
                  1.0f, b.a.data(), static_cast<blasint>(g.ta ? g.m : g.k), b.b.data(),
                  static_cast<blasint>(g.tb ? g.k : g.n), 0.0f, b.c.data(),
                  static_cast<blasint>(g.n));
    };
    time_once(s, buffers, calls, cpu, ours);  // warm-up
    time_once(s, buffers, calls, cpu, blas);
    std::vector<double> t_ours, t_blas;
    for (int r = 0; r < reps; ++r) {
      t_ours.push_back(time_once(s, buffers, calls, cpu, ours));
      t_blas.push_back(time_once(s, buffers, calls, cpu, blas));
    }
    const double work = flop * calls * threads;
    const double g_ours = work / median(t_ours) / 1e9, g_blas = work / median(t_blas) / 1e9;
    total_ours += median(t_ours) / calls;
    total_blas += median(t_blas) / calls;
    total_flop += flop * threads;
    std::printf("%-26s %5ld %5ld %5ld %12.1f %14.1f %7.2f\n", s.name.c_str(), s.m, s.n, s.k, g_ours,
                g_blas, g_ours / g_blas);
    if (out)
      out << s.name << ',' << s.m << ',' << s.n << ',' << s.k << ',' << threads << ',' << g_ours
          << ',' << g_blas << ',' << g_ours / g_blas << '\n';
  }
  std::printf("%-26s %5s %5s %5s %12.1f %14.1f %7.2f\n", "all, one call each", "", "", "",
              total_flop / total_ours / 1e9, total_flop / total_blas / 1e9,
              total_blas / total_ours);
  return 0;
}
