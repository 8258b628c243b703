#pragma once
// The lab's bookkeeping: validation results, device peaks, cudaEvent timing with warm-up and an
// L2 flush, and the table/CSV output. Included by lab.cpp after lab_platform.h.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace gm::lab {

struct Validation {
  double max_abs_error = 0;
  double worst_ratio = 0;  // error / tolerance bound, worst element; <= 1 passes
};

struct Row {
  std::string version, config;
  Validation validation;
  bool bit_identical_to_v1 = true;  // meaningful where versions share v1's summation order
  bool must_match_v1 = false;       // set for versions that promise v1's exact arithmetic
  double flops = 0;                 // useful FLOPs; 0 for memory-bound kernels
  double bytes = 0;                 // compulsory DRAM traffic
  double ms = -1;                   // median time, < 0 when not timed
  bool passed() const {
    return validation.worst_ratio <= 1.0 && (!must_match_v1 || bit_identical_to_v1);
  }
};

inline std::string fmt_config(const char* format, int a, int b, int c) {
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, format, a, b, c);
  return buffer;
}

struct DevicePeak {
  std::string name;
  double gflops = 0;  // fp32, non-tensor-core
  double gbs = 0;     // DRAM bandwidth
};

#if GM_LAB_REAL_GPU
inline DevicePeak query_peak() {
  int device = 0, sms = 0, clock_khz = 0, mem_khz = 0, bus_bits = 0, major = 0, minor = 0;
  cudaGetDevice(&device);
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, device);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device);
  cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, device);
  cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device);
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  // FP32 lanes per SM: 64 on sm_80 (A100), 128 on sm_86/89/90. An estimate from the boost clock.
  const double lanes = major == 8 && minor == 0 ? 64 : 128;
  DevicePeak p;
  p.name = prop.name;
  p.gflops = 2.0 * lanes * sms * clock_khz * 1e3 / 1e9;
  p.gbs = 2.0 * mem_khz * 1e3 * (bus_bits / 8.0) / 1e9;  // double data rate
  return p;
}

// Median of `reps` timed runs, each after the L2 cache was flushed (by writing a buffer larger
// than any L2) and after two untimed warm-up runs, measured with cudaEvents on the stream.
class Timer {
 public:
  Timer() {
    cudaMalloc(&flush_, kFlushBytes);
    cudaEventCreate(&start_);
    cudaEventCreate(&stop_);
  }
  ~Timer() {
    cudaFree(flush_);
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  template <typename F>
  double median_ms(int reps, F&& run) {
    run();
    run();
    std::vector<float> times;
    for (int r = 0; r < reps; ++r) {
      cudaMemset(flush_, r & 0xff, kFlushBytes);
      cudaEventRecord(start_);
      run();
      cudaEventRecord(stop_);
      cudaEventSynchronize(stop_);
      float ms = 0;
      cudaEventElapsedTime(&ms, start_, stop_);
      times.push_back(ms);
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
  }

 private:
  static constexpr size_t kFlushBytes = size_t{256} << 20;
  void* flush_ = nullptr;
  cudaEvent_t start_{}, stop_{};
};
#else
inline DevicePeak query_peak() {
  return {"the emulated CUDA device (kernels/simt, one fiber per CUDA thread)", 0, 0};
}
struct Timer {};  // nothing is timed on the emulated device: its times say nothing about a GPU
#endif

inline void print_table(const std::vector<Row>& rows, const DevicePeak& peak) {
  std::printf("%-18s %-22s %-6s %-11s %-9s %-7s %10s %12s %12s\n", "version", "config", "valid",
              "max_abs_err", "err/bound", "same_v1", "time_ms", "GFLOP/s", "GB/s");
  for (const Row& r : rows) {
    char time[32] = "-", gflops[32] = "-", gbs[32] = "-";
    if (r.ms > 0) {
      std::snprintf(time, sizeof time, "%.4f", r.ms);
      if (r.flops > 0)
        std::snprintf(gflops, sizeof gflops, "%.0f/%.0f", r.flops / r.ms / 1e6, peak.gflops);
      std::snprintf(gbs, sizeof gbs, "%.0f/%.0f", r.bytes / r.ms / 1e6, peak.gbs);
    }
    std::printf("%-18s %-22s %-6s %-11.3g %-9.3f %-7s %10s %12s %12s\n", r.version.c_str(),
                r.config.c_str(), r.passed() ? "ok" : "FAIL", r.validation.max_abs_error,
                r.validation.worst_ratio,
                r.flops > 0 ? (r.bit_identical_to_v1 ? "yes" : "no") : "-", time, gflops, gbs);
  }
  if (peak.gflops > 0)
    std::printf("(achieved/peak; peak fp32 %.0f GFLOP/s and DRAM %.0f GB/s of %s)\n", peak.gflops,
                peak.gbs, peak.name.c_str());
}

inline void write_csv(const std::string& path, const std::vector<Row>& rows,
                      const DevicePeak& peak) {
  std::ofstream out(path);
  out << "version,config,valid,max_abs_error,error_over_bound,bit_identical_to_v1,time_ms,"
         "gflops,peak_gflops,gbs,peak_gbs,device\n";
  for (const Row& r : rows) {
    const bool timed = r.ms > 0;
    out << r.version << ",\"" << r.config << "\"," << (r.passed() ? "ok" : "FAIL") << ","
        << r.validation.max_abs_error << "," << r.validation.worst_ratio << ","
        << (r.flops > 0 ? (r.bit_identical_to_v1 ? "yes" : "no") : "") << ","
        << (timed ? std::to_string(r.ms) : "") << ","
        << (timed && r.flops > 0 ? std::to_string(r.flops / r.ms / 1e6) : "") << "," << peak.gflops
        << "," << (timed ? std::to_string(r.bytes / r.ms / 1e6) : "") << "," << peak.gbs << ",\""
        << peak.name << "\"\n";
  }
  if (!out) std::fprintf(stderr, "kernel_lab: could not write %s\n", path.c_str());
}

}  // namespace gm::lab
