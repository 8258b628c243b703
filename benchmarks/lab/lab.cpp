// The kernel lab driver: every numbered version of every lab kernel (gemm_versions.cuh,
// softmax_xent_versions.cuh, masked_conv_versions.cuh; each one's last version is the library's
// own kernel, included from kernels/cuda) is validated on every configuration against plain double
// loops BEFORE anything is timed; then, on a real GPU only, each is timed with cudaEvents (warm-up,
// L2 flushed before every repetition) and printed beside the device peak and beside cuBLAS.
// Built twice from this one file: by g++ against kernels/simt (the emulated device: validation
// only, no timings) and, when nvcc exists, by nvcc (lab.cu includes this file).
//
// Usage: kernel_lab [--quick] [--csv FILE] [--reps R]
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "benchmarks/lab/gemm_versions.cuh"
#include "benchmarks/lab/lab_report.h"
#include "benchmarks/lab/masked_conv_versions.cuh"
#include "benchmarks/lab/softmax_xent_versions.cuh"
#include "kernels/common/mask.h"
#include "kernels/common/philox.h"

#if GM_LAB_REAL_GPU
#include <cublas_v2.h>
#endif
#if GM_LAB_HAVE_CUDNN
#include "benchmarks/lab/cudnn_baseline.h"
#endif

namespace {

using namespace gm::lab;

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "kernel_lab: %s failed: %s\n", what, cudaGetErrorString(e));
    std::exit(2);
  }
}

template <typename T>
struct DeviceBuffer {
  T* p = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count) : n(count) {
    check(cudaMalloc(&p, std::max<size_t>(count, 1) * sizeof(T)), "cudaMalloc");
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) {
    check(cudaMemcpy(p, host.data(), n * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  std::vector<T> download() const {
    std::vector<T> host(n);
    check(cudaMemcpy(host.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), "download");
    return host;
  }
};

std::vector<float> random_floats(size_t n, uint64_t seed, float lo, float hi) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = lo + (hi - lo) * static_cast<float>(gm::philox::uniform(seed, 0, i));
  return v;
}

// ---------------------------------------------------------------- GEMM
struct GemmConfig {
  int M, N, K;
};
using GemmFn = void (*)(int, int, int, const float*, const float*, float*);
struct GemmVersion {
  const char* name;
  GemmFn fn;
  // Unit roundoff of the inputs before they are multiplied: 0 for float32 versions, 2^-11 for
  // TF32 and 2^-8 for BF16 rounded to nearest (2^-10 for cuBLAS's TF32, whose rounding mode is
  // not documented: truncation would lose up to a full ulp).
  double input_roundoff = 0;
};
#if GM_LAB_REAL_GPU
cublasHandle_t g_cublas = nullptr;
// cuBLAS is column-major: row-major C = A B is column-major C^T = B^T A^T.
void gemm_cublas(int M, int N, int K, const float* a, const float* b, float* c) {
  const float one = 1.0f, zero = 0.0f;
  cublasSgemm(g_cublas, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, b, N, a, K, &zero, c, N);
}
void gemm_cublas_tf32(int M, int N, int K, const float* a, const float* b, float* c) {
  const float one = 1.0f, zero = 0.0f;
  cublasGemmEx(g_cublas, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, b, CUDA_R_32F, N, a, CUDA_R_32F,
               K, &zero, c, CUDA_R_32F, N, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT);
}
#endif
const GemmVersion kGemmVersions[] = {
    {"gemm_v1_naive", gemm_v1},
    {"gemm_v2_shared", gemm_v2},
    {"gemm_v3_register", gemm_v3},
    {"gemm_v4_tiled", gemm_v4},    // the library's former kernel (gemm_tiled_v4.cuh)
    {"gemm_v5_library", gemm_v5},  // the kernel the library launches (kernels/cuda/gemm_tiled.cuh)
    // the library's tensor-core kernel (kernels/cuda/gemm_mma.cuh), TF32 and BF16
    {"gemm_v6_tf32", gemm_v6, 0x1p-11},
    {"gemm_v7_bf16", gemm_v7, 0x1p-8},
#if GM_LAB_REAL_GPU
    {"cublasSgemm", gemm_cublas},  // the yardstick; validated like the others
    {"cublasGemmEx_tf32", gemm_cublas_tf32, 0x1p-10},
#endif
};

// Returns the worst error of `c` relative to the rounding bound of fp32 summation: each output
// may be off by at most K * 2^-24 * sum_k |a_ik b_kj| (the standard gamma_K bound for a K-term
// dot product); we report error / (2 * that bound), so <= 1 passes with a factor-2 margin for
// the products' own rounding. Inputs rounded with unit roundoff u (the tensor-core versions)
// move each product by at most (2u + u^2) |a b| more, which is added to the bound. Also returns
// the largest absolute error for the table.
Validation check_gemm(const GemmConfig& g, const std::vector<float>& a, const std::vector<float>& b,
                      const std::vector<float>& c, double u) {
  Validation v;
  for (int i = 0; i < g.M; ++i)
    for (int j = 0; j < g.N; ++j) {
      double ref = 0, magnitude = 0;
      for (int k = 0; k < g.K; ++k) {
        const double p = static_cast<double>(a[i * g.K + k]) * b[k * g.N + j];
        ref += p;
        magnitude += std::fabs(p);
      }
      const double err = std::fabs(c[i * g.N + j] - ref);
      const double bound = (2.0 * g.K * std::ldexp(1.0, -24) + 2 * u + u * u) * magnitude + 1e-30;
      v.max_abs_error = std::max(v.max_abs_error, err);
      v.worst_ratio = std::max(v.worst_ratio, std::isfinite(err) ? err / bound : 1e30);
    }
  return v;
}

// ---------------------------------------------------------------- softmax cross-entropy
struct XentConfig {
  int N, V, S;
};
using XentFn = void (*)(int, int, int, const float*, const uint8_t*, float*);
struct XentVersion {
  const char* name;
  XentFn fn;
  bool per_image;  // writes nll[n] = sum over s (the library's op) instead of loss[n*S + s]
};
const XentVersion kXentVersions[] = {
    {"xent_v1_two_pass", xent_v1, false},
    {"xent_v2_online", xent_v2, false},
    {"xent_v3_warp", xent_v3, false},
    // the library's former forward: one thread per position, fused per-image sum
    {"xent_v4_thread", xent_v4, true},
    // the forward the library launches (kernels/cuda/softmax_xent.cuh): 8 warps per 32 positions
    {"xent_v5_library", xent_v5, true},
    // the library's training forward: v5 keeping each position's statistics for the backward
    {"xent_v6_stats", xent_v6, true},
};

// The loss is logsumexp - x_t. In fp32 each exp has relative error ~1 ulp and the sum of V terms
// gains up to V * 2^-24 relative error, which log turns into an absolute error of about
// V * 2^-24; subtracting/adding the max (|x| <= 8) adds a few ulp of 8. The bound below,
// (V + 64) * 2^-24 * (1 + max|x|), covers both with margin; the ratio reported is error / bound.
// A per-image version (nll[n] = sum over s) is held to the sum of its positions' bounds plus
// one fp32 rounding of the total (its final conversion to float).
Validation check_xent(const XentConfig& x, const std::vector<float>& logits,
                      const std::vector<uint8_t>& target, const std::vector<float>& loss,
                      bool per_image) {
  Validation v;
  const auto judge = [&v](double got, double ref, double bound) {
    const double err = std::fabs(got - ref);
    v.max_abs_error = std::max(v.max_abs_error, err);
    v.worst_ratio = std::max(v.worst_ratio, std::isfinite(err) ? err / bound : 1e30);
  };
  for (int n = 0; n < x.N; ++n) {
    double image_ref = 0, image_bound = 0;
    for (int s = 0; s < x.S; ++s) {
      const float* column = &logits[static_cast<size_t>(n) * x.V * x.S + s];
      double m = column[0], largest = 0;
      for (int k = 0; k < x.V; ++k) {
        m = std::max(m, static_cast<double>(column[k * x.S]));
        largest = std::max(largest, std::fabs(static_cast<double>(column[k * x.S])));
      }
      double sum = 0;
      for (int k = 0; k < x.V; ++k)
        sum += std::exp(column[k * x.S] - m);
      const int p = n * x.S + s;
      const double ref = m + std::log(sum) - column[target[p] * x.S];
      const double bound = (x.V + 64) * std::ldexp(1.0, -24) * (1.0 + largest);
      if (!per_image) judge(loss[p], ref, bound);
      image_ref += ref;
      image_bound += bound;
    }
    if (per_image) judge(loss[n], image_ref, image_bound + std::ldexp(std::fabs(image_ref), -24));
  }
  return v;
}

// ---------------------------------------------------------------- masked convolution
using ConvFn = void (*)(const ConvShape&, const float*, const float*, float*);
struct ConvVersion {
  const char* name;
  ConvFn fn;
  bool same_order_as_v1;  // sums (ci, ky, kx) as v1 does, so must match it bit for bit
};
#if GM_LAB_HAVE_CUDNN
// cuDNN on the same (already masked) weights, opened at run time (cudnn_baseline.h).
CudnnBaseline g_cudnn;
void masked_conv_cudnn(const ConvShape& s, const float* x, const float* w, float* y) {
  if (!g_cudnn.forward(s, x, w, y)) {
    std::fprintf(stderr, "kernel_lab: %s\n", g_cudnn.problem().c_str());
    std::exit(2);
  }
}
#endif
const ConvVersion kConvVersions[] = {
    {"mconv_v1_naive", masked_conv_v1, true},
    {"mconv_v2_visible", masked_conv_v2, true},
    {"mconv_v3_tiled", masked_conv_v3, true},
    // the library's former direct kernel (conv_direct.cuh); sums (ky, kx, ci)
    {"mconv_v4_direct", masked_conv_v4, false},
    // the forward the library runs (im2col over visible taps + GEMM, backend_conv.cpp)
    {"mconv_v5_library", masked_conv_v5, false},
    // v5's GEMM gathering its B tiles from the image: no column buffer
    {"mconv_v6_implicit", masked_conv_v6, true},
};

// The versions and, when cuDNN loaded, its forward as the yardstick on the same masked weights.
std::vector<ConvVersion> conv_versions(bool with_cudnn) {
  std::vector<ConvVersion> versions(std::begin(kConvVersions), std::end(kConvVersions));
#if GM_LAB_HAVE_CUDNN
  if (with_cudnn) versions.push_back({"cudnn_forward", masked_conv_cudnn, false});
#endif
  (void)with_cudnn;
  return versions;
}

// Opens cuDNN where it can run and says why not elsewhere; true when it is there.
bool load_cudnn() {
#if GM_LAB_HAVE_CUDNN
  if (g_cudnn.load()) {
    std::printf("cuDNN baseline: cudnnConvolutionForward beside the masked convolution\n");
    return true;
  }
  std::printf("%s\n", g_cudnn.problem().c_str());
#elif GM_LAB_REAL_GPU
  std::printf("cuDNN not found at build time (no cudnn.h): no cuDNN baseline\n");
#else
  std::printf(
      "cuDNN baseline: needs a GPU (this is the emulated device); kernel_lab_cuda runs it\n");
#endif
  return false;
}

// Weights with the mask applied (one colour group): rows above the centre, the centre row left
// of the centre, and the centre itself for type B.
std::vector<float> masked_weights(const ConvShape& s, uint64_t seed) {
  std::vector<float> w =
      random_floats(static_cast<size_t>(s.K) * s.C * s.k * s.k, seed, -0.5f, 0.5f);
  const gm::MaskType type = s.type_b ? gm::MaskType::B : gm::MaskType::A;
  for (size_t i = 0; i < w.size(); ++i) {
    const int kx = static_cast<int>(i % s.k), ky = static_cast<int>(i / s.k % s.k);
    if (!gm::mask::tap_visible(type, s.k, s.k, ky, kx)) w[i] = 0.0f;
  }
  return w;
}

// Same bound as the GEMM: C * k * k terms per output.
Validation check_conv(const ConvShape& s, const std::vector<float>& x, const std::vector<float>& w,
                      const std::vector<float>& y) {
  Validation v;
  const int half = s.k / 2, taps = s.C * s.k * s.k;
  for (int n = 0; n < s.N; ++n)
    for (int k = 0; k < s.K; ++k)
      for (int r = 0; r < s.H; ++r)
        for (int c = 0; c < s.W; ++c) {
          double ref = 0, magnitude = 0;
          for (int ci = 0; ci < s.C; ++ci)
            for (int ky = 0; ky < s.k; ++ky)
              for (int kx = 0; kx < s.k; ++kx) {
                const int rr = r + ky - half, cc = c + kx - half;
                if (rr < 0 || rr >= s.H || cc < 0 || cc >= s.W) continue;
                const double p = static_cast<double>(w[((k * s.C + ci) * s.k + ky) * s.k + kx]) *
                                 x[((n * s.C + ci) * s.H + rr) * s.W + cc];
                ref += p;
                magnitude += std::fabs(p);
              }
          const double err = std::fabs(y[((n * s.K + k) * s.H + r) * s.W + c] - ref);
          const double bound = 2.0 * taps * std::ldexp(1.0, -24) * magnitude + 1e-30;
          v.max_abs_error = std::max(v.max_abs_error, err);
          v.worst_ratio = std::max(v.worst_ratio, std::isfinite(err) ? err / bound : 1e30);
        }
  return v;
}

// Useful FLOPs count only the visible taps (as bench_cpu_ops does), so versions that skip the
// masked ones are compared fairly with those that compute them.
double conv_useful_flops(const ConvShape& s) {
  const gm::MaskType type = s.type_b ? gm::MaskType::B : gm::MaskType::A;
  return 2.0 * s.N * s.H * s.W *
         static_cast<double>(gm::mask::visible_weight_count(type, 1, s.k, s.k, s.C, s.K));
}

struct Options {
  bool quick = false;
  std::string csv = "kernel_lab.csv";
  int reps = 20;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      o.quick = true;
    } else if (arg == "--csv" && i + 1 < argc) {
      o.csv = argv[++i];
    } else if (arg == "--reps" && i + 1 < argc) {
      o.reps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: kernel_lab [--quick] [--csv FILE] [--reps R]\n");
      std::exit(arg == "--help" ? 0 : 2);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  const DevicePeak peak = query_peak();
#if GM_LAB_REAL_GPU
  if (cublasCreate(&g_cublas) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "kernel_lab: cublasCreate failed\n");
    return 2;
  }
#endif
  std::printf("kernel lab on %s\n", peak.name.c_str());
  const std::vector<ConvVersion> conv_list = conv_versions(load_cudnn());

  // Small shapes on the emulated device (every CUDA thread is a fiber); ragged ones exercise the
  // tile edges. A real GPU adds the shapes that matter for timing.
  std::vector<GemmConfig> gemms = {{33, 47, 29}, {64, 64, 64}, {1, 70, 17}};
  std::vector<XentConfig> xents = {{2, 256, 37}, {3, 256, 1}, {1, 256, 64}};
  std::vector<ConvShape> convs = {{1, 3, 4, 9, 9, 7, false}, {2, 5, 3, 17, 20, 3, true}};
  if (!opt.quick && GM_LAB_REAL_GPU) {
    gemms.push_back({1024, 1024, 1024});
    gemms.push_back({2048, 2048, 2048});     // the host reference takes a few seconds here
    gemms.push_back({64 * 1024, 128, 128});  // a 1x1 conv of pixelcnn-ref as a GEMM
    xents.push_back({64, 256, 1024});        // 64 images of 32x32 positions
    xents.push_back({16384, 256, 1});
    convs.push_back({8, 3, 128, 32, 32, 7, false});  // pixelcnn-ref's first layer
    convs.push_back({8, 64, 64, 32, 32, 3, true});   // a residual block's 3x3
  } else if (!opt.quick) {
    gemms.push_back({128, 96, 80});
    xents.push_back({4, 256, 256});
    convs.push_back({1, 4, 2, 33, 18, 5, true});
  }

  std::vector<Row> rows;
  bool all_ok = true;
  Timer timer;

  // ---- validation of every version on every configuration, before any timing
  for (const GemmConfig& g : gemms) {
    const auto a = random_floats(static_cast<size_t>(g.M) * g.K, 1, -1.0f, 1.0f);
    const auto b = random_floats(static_cast<size_t>(g.K) * g.N, 2, -1.0f, 1.0f);
    DeviceBuffer<float> da(a), db(b), dc(static_cast<size_t>(g.M) * g.N);
    std::vector<float> first;
    for (const GemmVersion& v : kGemmVersions) {
      check(cudaMemset(dc.p, 0xff, dc.n * sizeof(float)), "cudaMemset");  // NaN if unwritten
      v.fn(g.M, g.N, g.K, da.p, db.p, dc.p);
      check(cudaDeviceSynchronize(), v.name);
      const auto c = dc.download();
      Row r{v.name, fmt_config("M=%d N=%d K=%d", g.M, g.N, g.K),
            check_gemm(g, a, b, c, v.input_roundoff)};
      // All versions add the same products in the same order: they must agree bit for bit.
      if (first.empty()) first = c;
      r.bit_identical_to_v1 = std::memcmp(first.data(), c.data(), c.size() * sizeof(float)) == 0;
      r.must_match_v1 = v.fn != kGemmVersions[0].fn && std::strncmp(v.name, "gemm_", 5) == 0 &&
                        v.input_roundoff == 0;
      r.flops = 2.0 * g.M * g.N * g.K;
      r.bytes = 4.0 * (static_cast<double>(g.M) * g.K + static_cast<double>(g.K) * g.N +
                       static_cast<double>(g.M) * g.N);
      all_ok = all_ok && r.passed();
      rows.push_back(r);
    }
  }
  for (const XentConfig& x : xents) {
    const size_t positions = static_cast<size_t>(x.N) * x.S;
    const auto logits = random_floats(positions * x.V, 3, -8.0f, 8.0f);
    std::vector<uint8_t> target(positions);
    for (size_t i = 0; i < positions; ++i)
      target[i] = static_cast<uint8_t>(gm::philox::uniform(4, 0, i) * x.V);
    DeviceBuffer<float> dl(logits), dloss(positions);
    DeviceBuffer<uint8_t> dt(target);
    for (const XentVersion& v : kXentVersions) {
      check(cudaMemset(dloss.p, 0xff, dloss.n * sizeof(float)), "cudaMemset");
      v.fn(x.N, x.V, x.S, dl.p, dt.p, dloss.p);
      check(cudaDeviceSynchronize(), v.name);
      Row r{v.name, fmt_config("N=%d V=%d S=%d", x.N, x.V, x.S),
            check_xent(x, logits, target, dloss.download(), v.per_image)};
      r.bytes = 4.0 * static_cast<double>(positions) * x.V + 5.0 * static_cast<double>(positions);
      all_ok = all_ok && r.passed();
      rows.push_back(r);
    }
  }
  for (const ConvShape& cs : convs) {
    const auto x = random_floats(static_cast<size_t>(cs.N) * cs.C * cs.H * cs.W, 5, -1.0f, 1.0f);
    const auto w = masked_weights(cs, 6);
    const size_t outputs = static_cast<size_t>(cs.N) * cs.K * cs.H * cs.W;
    DeviceBuffer<float> dx(x), dw(w), dy(outputs);
    std::vector<float> first;
    for (const ConvVersion& v : conv_list) {
      check(cudaMemset(dy.p, 0xff, dy.n * sizeof(float)), "cudaMemset");
      v.fn(cs, dx.p, dw.p, dy.p);
      check(cudaDeviceSynchronize(), v.name);
      const auto y = dy.download();
      char config[96];
      std::snprintf(config, sizeof config, "N%d C%d K%d %dx%d k%d%s", cs.N, cs.C, cs.K, cs.H, cs.W,
                    cs.k, cs.type_b ? "B" : "A");
      Row r{v.name, config, check_conv(cs, x, w, y)};
      if (first.empty()) first = y;
      r.bit_identical_to_v1 = std::memcmp(first.data(), y.data(), y.size() * sizeof(float)) == 0;
      r.must_match_v1 = v.same_order_as_v1;
      r.flops = conv_useful_flops(cs);
      r.bytes = 4.0 * (static_cast<double>(x.size()) + static_cast<double>(w.size()) +
                       static_cast<double>(outputs));
      all_ok = all_ok && r.passed();
      rows.push_back(r);
    }
  }
  if (!all_ok) {
    print_table(rows, peak);
    std::printf("VALIDATION FAILED: nothing is timed.\n");
    return 1;
  }

  // ---- timing, real GPU only
#if GM_LAB_REAL_GPU
  size_t row_index = 0;
  for (const GemmConfig& g : gemms) {
    DeviceBuffer<float> da(random_floats(static_cast<size_t>(g.M) * g.K, 1, -1.0f, 1.0f));
    DeviceBuffer<float> db(random_floats(static_cast<size_t>(g.K) * g.N, 2, -1.0f, 1.0f));
    DeviceBuffer<float> dc(static_cast<size_t>(g.M) * g.N);
    for (const GemmVersion& v : kGemmVersions)
      rows[row_index++].ms =
          timer.median_ms(opt.reps, [&] { v.fn(g.M, g.N, g.K, da.p, db.p, dc.p); });
  }
  for (const XentConfig& x : xents) {
    const size_t positions = static_cast<size_t>(x.N) * x.S;
    DeviceBuffer<float> dl(random_floats(positions * x.V, 3, -8.0f, 8.0f)), dloss(positions);
    DeviceBuffer<uint8_t> dt(std::vector<uint8_t>(positions, 7));
    for (const XentVersion& v : kXentVersions)
      rows[row_index++].ms =
          timer.median_ms(opt.reps, [&] { v.fn(x.N, x.V, x.S, dl.p, dt.p, dloss.p); });
  }
  for (const ConvShape& cs : convs) {
    DeviceBuffer<float> dx(
        random_floats(static_cast<size_t>(cs.N) * cs.C * cs.H * cs.W, 5, -1.0f, 1.0f));
    DeviceBuffer<float> dw(masked_weights(cs, 6));
    DeviceBuffer<float> dy(static_cast<size_t>(cs.N) * cs.K * cs.H * cs.W);
    for (const ConvVersion& v : conv_list)
      rows[row_index++].ms = timer.median_ms(opt.reps, [&] { v.fn(cs, dx.p, dw.p, dy.p); });
  }
#endif

  print_table(rows, peak);
  if (!GM_LAB_REAL_GPU)
    std::printf(
        "All versions validated on the emulated device. Timings need a GPU: build with "
        "nvcc (GENMODEL_CUDA=ON) and run kernel_lab_cuda (scripts/gpu-run.sh).\n");
  write_csv(opt.csv, rows, peak);
  std::printf("CSV: %s\n", opt.csv.c_str());
  (void)timer;
#if GM_LAB_REAL_GPU
  cublasDestroy(g_cublas);
#endif
  return 0;
}
