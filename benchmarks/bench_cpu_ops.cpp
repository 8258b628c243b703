// CPU kernel benchmark on the layer shapes of pixelcnn-ref (docs/reference-models.md):
// achieved GFLOP/s of matmul (the 1x1 layers as GEMMs), conv2d and masked conv2d, forward and
// backward (data and weight), each next to raw OpenBLAS sgemm measured in the same run on the
// same GEMM shape and on a large square GEMM.
//
// Useful FLOPs are 2 x (output pixels) x (weights that count): a masked layer counts only its
// visible taps, so its GFLOP/s compare fairly with the plain conv2d of the same kernel, whose
// row shows what skipping the masked taps saves in time. Every kernel's result is checked
// against direct loops in double before it is timed. Usage: bench_cpu_ops --help.
#include <cblas.h>
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "benchmarks/conv_check.h"
#include "engine/backend.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "kernels/common/mask.h"

namespace {

using namespace gm;

struct Layer {
  std::string name;
  int64_t C, K, k;
  MaskType type;
};

// pixelcnn-ref: the first layer, a residual block's three layers, and the output head.
const std::vector<Layer> kLayers = {
    {"MaskA 7x7 1->64", 1, 64, 7, MaskType::A},
    {"Conv1x1 64->32", 64, 32, 1, MaskType::none},
    {"MaskB 3x3 32->32", 32, 32, 3, MaskType::B},
    {"Conv1x1 32->64", 32, 64, 1, MaskType::none},
    {"head 1x1 64->64", 64, 64, 1, MaskType::none},
    {"head 1x1 64->256", 64, 256, 1, MaskType::none},
};

struct Options {
  int64_t batch = 32, size = 28, square = 1024;
  int reps = 10, warmup = 2, threads = 0;
  bool quick = false, masks = false;
  // "wall" (default) or "cpu": process CPU time, which on a machine shared with other work
  // still measures the work of a single-threaded run (it sums the threads of a threaded one).
  std::string clock = "wall";
  std::string csv = "out/bench_cpu_ops.csv";
};

struct GemmShape {
  int64_t m = 0, n = 0, k = 0;
  double flops() const { return 2.0 * double(m) * double(n) * double(k); }
  bool operator<(const GemmShape& o) const { return std::tie(m, n, k) < std::tie(o.m, o.n, o.k); }
};

struct Row {
  std::string layer, op, direction;
  GemmShape gemm;  // the GEMM the kernel performs (per direction, all images together)
  double useful_flops = 0, seconds = 0, sgemm_shape_gflops = 0;
  double gflops() const { return useful_flops / seconds * 1e-9; }
};

double now_seconds(const Options& o) {
  if (o.clock == "cpu") {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median_seconds(const std::function<void()>& fn, const Options& o) {
  for (int i = 0; i < o.warmup; ++i)
    fn();
  std::vector<double> times;
  for (int i = 0; i < o.reps; ++i) {
    const double start = now_seconds(o);
    fn();
    times.push_back(now_seconds(o) - start);
  }
  std::sort(times.begin(), times.end());
  const size_t n = times.size();
  return n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
}

// Raw OpenBLAS sgemm, row-major C[m, n] = A[m, k] B[k, n]: this machine's ceiling for a shape.
// Measured once per shape and cached.
double sgemm_gflops(const GemmShape& s, const Options& o) {
  static std::map<GemmShape, double> measured;
  if (auto it = measured.find(s); it != measured.end()) return it->second;
  std::vector<float> a(size_t(s.m * s.k), 0.5f), b(size_t(s.k * s.n), 0.25f), c(size_t(s.m * s.n));
  const double t = median_seconds(
      [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(s.m), blasint(s.n),
                    blasint(s.k), 1.0f, a.data(), blasint(s.k), b.data(), blasint(s.n), 0.0f,
                    c.data(), blasint(s.n));
      },
      o);
  return measured[s] = s.flops() / t * 1e-9;
}

// Times and validates the three kernels of one convolution layer, plain or masked.
void bench_conv(const Layer& layer, const char* op, const ConvMask& mask, const Options& o,
                std::vector<Row>& rows) {
  Backend& be = backend_for(Device::cpu());
  Conv2dGeometry g;
  g.batch = o.batch;
  g.in_channels = layer.C;
  g.height = g.width = o.size;
  g.out_channels = layer.K;
  g.kernel_h = g.kernel_w = layer.k;
  g.pad_h = g.pad_w = layer.k / 2;
  Generator gen(2024);
  const Tensor x = Tensor::uniform({o.batch, layer.C, o.size, o.size}, -1, 1, gen);
  const Tensor w = Tensor::uniform({layer.K, layer.C, layer.k, layer.k}, -1, 1, gen);
  const Tensor dy = Tensor::uniform({o.batch, layer.K, o.size, o.size}, -1, 1, gen);
  Tensor y = Tensor::empty(dy.shape()), dx = Tensor::empty(x.shape()),
         dw = Tensor::empty(w.shape());
  be.conv2d_forward(g, mask, x, w, y);
  be.conv2d_backward_data(g, mask, dy, w, dx);
  be.conv2d_backward_weight(g, mask, x, dy, dw);
  bench::check_conv(layer.name + " " + op, g, mask, x, w, dy, y, dx, dw);

  const int64_t pixels = o.batch * g.out_height() * g.out_width();
  const int64_t rows_k =
      layer.C * mask::used_tap_count(mask.type, mask.colour_groups, layer.k, layer.k);
  const double useful = 2.0 * double(pixels) *
                        double(mask::visible_weight_count(mask.type, mask.colour_groups, layer.k,
                                                          layer.k, layer.C, layer.K));
  auto add = [&](const char* dir, GemmShape s, const std::function<void()>& fn) {
    rows.push_back({layer.name, op, dir, s, useful, median_seconds(fn, o), sgemm_gflops(s, o)});
  };
  add("forward", {layer.K, pixels, rows_k}, [&] { be.conv2d_forward(g, mask, x, w, y); });
  add("backward data", {rows_k, pixels, layer.K},
      [&] { be.conv2d_backward_data(g, mask, dy, w, dx); });
  add("backward weight", {layer.K, rows_k, pixels},
      [&] { be.conv2d_backward_weight(g, mask, x, dy, dw); });
}

// A 1x1 layer as plain matrices: W [K, C] times the activations as [C, batch*pixels].
void bench_matmul(const Layer& layer, const Options& o, std::vector<Row>& rows) {
  Backend& be = backend_for(Device::cpu());
  const int64_t M = layer.K, N = o.batch * o.size * o.size, K = layer.C;
  Generator gen(2025);
  const Tensor a = Tensor::uniform({M, K}, -1, 1, gen), b = Tensor::uniform({K, N}, -1, 1, gen);
  const Tensor dc = Tensor::uniform({M, N}, -1, 1, gen);
  Tensor c = Tensor::empty({M, N}), da = Tensor::empty({M, K}), db = Tensor::empty({K, N});
  Gemm fwd{false, false, M, N, K}, bwd_data{true, false, K, N, M}, bwd_weight{false, true, M, K, N};
  be.gemm(fwd, a, b, c);
  be.gemm(bwd_data, a, dc, db);
  be.gemm(bwd_weight, dc, b, da);
  bench::check_matmul(layer.name + " matmul", a, b, dc, c, db, da);
  const double useful = 2.0 * double(M) * double(N) * double(K);
  auto add = [&](const char* dir, GemmShape s, const std::function<void()>& fn) {
    rows.push_back(
        {layer.name, "matmul", dir, s, useful, median_seconds(fn, o), sgemm_gflops(s, o)});
  };
  add("forward", {M, N, K}, [&] { be.gemm(fwd, a, b, c); });
  add("backward data", {K, N, M}, [&] { be.gemm(bwd_data, a, dc, db); });
  add("backward weight", {M, K, N}, [&] { be.gemm(bwd_weight, dc, b, da); });
}

// The receptive field of output pixel (c, c) of a stack of masked 3x3 convolutions (one type A,
// then type B), found by running the op: perturb each input pixel and see whether the output
// moves. All weights are 1, so no two paths can cancel. 'o' is the pixel itself, 'x' a pixel it
// sees, '#' an earlier pixel (raster order) it cannot see: the blind spot; '.' later pixels.
std::string receptive_field_picture(int layers, int64_t size) {
  const Tensor w = Tensor::ones({1, 1, 3, 3}, DType::f64);
  auto stack = [&](const Tensor& x) {
    Tensor h = masked_conv2d(x, w, Tensor(), MaskType::A);
    for (int i = 1; i < layers; ++i)
      h = masked_conv2d(h, w, Tensor(), MaskType::B);
    return h.to_vector<double>();
  };
  const int64_t c = size / 2, centre = c * size + c;
  const double base =
      stack(Tensor::zeros({1, 1, size, size}, DType::f64))[static_cast<size_t>(centre)];
  std::string s;
  for (int64_t i = 0; i < size * size; ++i) {
    std::vector<double> x(static_cast<size_t>(size * size), 0.0);
    x[static_cast<size_t>(i)] = 1.0;
    const bool seen =
        stack(Tensor::from_vector(x, {1, 1, size, size}))[static_cast<size_t>(centre)] != base;
    s += i == centre ? 'o' : seen ? 'x' : i < centre ? '#' : '.';
    s += (i + 1) % size ? ' ' : '\n';
  }
  return s;
}

void print_masks() {
  for (auto [type, k] : {std::pair{MaskType::A, int64_t{7}}, std::pair{MaskType::B, int64_t{3}}})
    fmt::print("mask {} {}x{} ({} of {} taps computed):\n{}\n", type == MaskType::A ? "A" : "B", k,
               k, mask::used_tap_count(type, 1, k, k), k * k, mask::picture(type, 1, k));
  for (MaskType type : {MaskType::A, MaskType::B})
    fmt::print("mask {} 3x3 with 3 colour groups:\n{}\n", type == MaskType::A ? "A" : "B",
               mask::picture(type, 3, 3));
  fmt::print("receptive field of MaskA 3x3 + 3 x MaskB 3x3 ('#' = blind spot):\n{}",
             receptive_field_picture(4, 11));
}

void write_csv(const std::vector<Row>& rows, double square_gflops, const Options& o) {
  const std::filesystem::path path(o.csv);
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path);
  GM_CHECK(out, "bench_cpu_ops: cannot write {}", o.csv);
  out << "layer,op,direction,batch,gemm_m,gemm_n,gemm_k,useful_gflop,median_ms,gflops,"
         "sgemm_same_shape_gflops,ratio_same_shape,sgemm_square_gflops,ratio_square,"
         "omp_threads,blas_threads\n";
  for (const Row& r : rows)
    out << fmt::format(
        "{},{},{},{},{},{},{},{:.6f},{:.4f},{:.3f},{:.3f},{:.4f},{:.3f},{:.4f},{},{}\n", r.layer,
        r.op, r.direction, o.batch, r.gemm.m, r.gemm.n, r.gemm.k, r.useful_flops * 1e-9,
        r.seconds * 1e3, r.gflops(), r.sgemm_shape_gflops, r.gflops() / r.sgemm_shape_gflops,
        square_gflops, r.gflops() / square_gflops, omp_get_max_threads(),
        openblas_get_num_threads());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"CPU GFLOP/s of matmul, conv2d and masked conv2d on pixelcnn-ref's layers"};
  app.add_option("--batch", o.batch, "images per batch")->check(CLI::PositiveNumber);
  app.add_option("--size", o.size, "image height and width")->check(CLI::PositiveNumber);
  app.add_option("--reps", o.reps, "timed repetitions (median reported)")
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "untimed warm-up runs")->check(CLI::NonNegativeNumber);
  app.add_option("--square", o.square, "size of the square sgemm reference")
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", o.threads,
                 "OpenMP and OpenBLAS threads (default: OMP_NUM_THREADS / all cores)");
  app.add_option("--csv", o.csv, "where to write the CSV");
  app.add_option("--clock", o.clock, "wall (elapsed) or cpu (process CPU time)")
      ->check(CLI::IsMember({"wall", "cpu"}));
  app.add_flag("--quick", o.quick, "one repetition, no warm-up (smoke test)");
  app.add_flag("--masks", o.masks, "print the mask pictures and exit");
  CLI11_PARSE(app, argc, argv);
  if (o.quick) {
    o.reps = 1;
    o.warmup = 0;
  }
  if (o.threads > 0) {
    omp_set_num_threads(o.threads);
    openblas_set_num_threads(o.threads);
  }
  try {
    if (o.masks) {
      print_masks();
      return 0;
    }
    fmt::print("bench_cpu_ops: batch {}, {}x{} images, median of {} after {} warm-up, {} clock\n",
               o.batch, o.size, o.size, o.reps, o.warmup, o.clock);
    fmt::print("threads: OpenMP {}, OpenBLAS {} ({})\n", omp_get_max_threads(),
               openblas_get_num_threads(), openblas_get_config());
    if (std::ifstream load("/proc/loadavg"); load) {  // other work on the machine skews timings
      std::string one, five;
      load >> one >> five;
      fmt::print("load average before the run: {} (1 min), {} (5 min)\n", one, five);
    }
    const double square = sgemm_gflops({o.square, o.square, o.square}, o);
    fmt::print("raw sgemm {0}x{0}x{0}: {1:.1f} GFLOP/s\n", o.square, square);
    fmt::print(
        "useful FLOPs = 2 x output pixels x weights that count (masked: visible taps "
        "only); all results validated against direct loops first\n\n");
    std::vector<Row> rows;
    for (const Layer& layer : kLayers) {
      if (layer.k == 1) bench_matmul(layer, o, rows);
      bench_conv(layer, "conv2d", ConvMask{}, o, rows);
      if (layer.type != MaskType::none)
        bench_conv(layer, "masked_conv2d", ConvMask{layer.type, 1}, o, rows);
    }
    fmt::print("{:<18} {:<14} {:<16} {:>22} {:>9} {:>8} {:>12} {:>9} {:>9}\n", "layer", "op",
               "direction", "GEMM m x n x k", "ms", "GFLOP/s", "sgemm(same)", "/same", "/square");
    for (const Row& r : rows)
      fmt::print("{:<18} {:<14} {:<16} {:>22} {:>9.3f} {:>8.1f} {:>12.1f} {:>9.2f} {:>9.2f}\n",
                 r.layer, r.op, r.direction, fmt::format("{}x{}x{}", r.gemm.m, r.gemm.n, r.gemm.k),
                 r.seconds * 1e3, r.gflops(), r.sgemm_shape_gflops,
                 r.gflops() / r.sgemm_shape_gflops, r.gflops() / square);
    write_csv(rows, square, o);
    fmt::print("\nwrote {}\n", o.csv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_cpu_ops: {}\n", e.what());
    return 1;
  }
  return 0;
}
