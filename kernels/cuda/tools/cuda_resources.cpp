// cuda_resources: per-kernel registers, static shared memory, spills and theoretical occupancy on
// an H100, from ptxas's report (nvcc --resource-usage, see scripts/cuda_resources.sh), checked
// against the budgets below. Prints a Markdown table; exits 1 when a kernel leaves its budget.
// With --table FILE it also writes the emulator's resource table (kernels/simt/
// kernel_resources.inc: name, registers, static shared memory, sorted by name), which
// scripts/cuda_resources.sh compares with the checked-in copy.
//
//   nvcc ... --resource-usage -c kernels/cuda/x.cu 2>&1 | cuda_resources [--table FILE]
//
// Occupancy comes from the toolkit's cuda_occupancy.h (the same calculation as the CUDA
// occupancy calculator) with the device properties of an H100 SXM filled in by hand, so the
// report needs no GPU.
#include <cuda_occupancy.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "kernels/simt/kernel_name.h"

namespace {

// H100 SXM (sm_90): 132 SMs, 2048 threads, 64K registers and 228 KiB shared memory per SM.
cudaOccDeviceProp h100() {
  cudaOccDeviceProp p;
  p.computeMajor = 9;
  p.computeMinor = 0;
  p.maxThreadsPerBlock = 1024;
  p.maxThreadsPerMultiprocessor = 2048;
  p.regsPerBlock = 65536;
  p.regsPerMultiprocessor = 65536;
  p.warpSize = 32;
  p.sharedMemPerBlock = 48 * 1024;
  p.sharedMemPerMultiprocessor = 228 * 1024;
  p.numSms = 132;
  p.sharedMemPerBlockOptin = 227 * 1024;
  p.reservedSharedMemPerBlock = 1024;
  return p;
}

// The budget of the first pattern contained in a kernel's name. `threads` is the block size the
// backend launches it with (the default block size for 1-D kernels; the tile's for GEMM).
struct Budget {
  const char* pattern;
  int threads;
  int max_registers;
  double min_occupancy;  // active warps / 64
};
const Budget kBudgets[] = {
    // 64x64 tiles, 4x4 outputs per thread: registers buy the micro-tile; two blocks per SM.
    {"gemm_tiled_kernel<float, 64", 256, 96, 0.25},
    {"gemm_tiled_kernel<double, 64", 256, 128, 0.25},
    // The tensor-core GEMM: 4 warps per 64x64 tile, 32 accumulators per lane plus the next
    // slice in flight and the fragments; at 96 registers, 5 blocks (20 warps) per SM.
    {"gemm_mma_kernel<", 128, 96, 0.3},
    // The implicit-GEMM convolution: the 64x64 tile's block, plus the pixel coordinates of the
    // thread's B groups.
    {"conv_implicit_gemm_kernel<float", 256, 96, 0.25},
    {"conv_implicit_gemm_kernel<double", 256, 128, 0.25},
    // 32x32 tiles of 64 threads, for small products.
    {"gemm_tiled_kernel<", 64, 168, 0.125},
    // Float64 variants exist for gradient checks, not training: a little more room.
    {"<double", 256, 72, 0.375},
    // Everything else is a 1-D kernel of 256 threads: at least half the SM's warps resident.
    {"", 256, 64, 0.5},
};

const Budget& budget_for(const std::string& name) {
  for (const Budget& b : kBudgets)
    if (name.find(b.pattern) != std::string::npos) return b;
  return kBudgets[std::size(kBudgets) - 1];
}

struct Kernel {
  std::string name;
  int registers = 0, barriers = 0;
  long smem = 0, stack = 0, spill_stores = 0, spill_loads = 0;
};

std::vector<Kernel> parse(std::istream& in) {
  const std::regex entry(R"(Compiling entry function '([^']+)' for 'sm_90')");
  const std::regex frame(
      R"((\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads)");
  const std::regex used(R"(Used (\d+) registers(?:, used (\d+) barriers)?(?:, (\d+) bytes smem)?)");
  std::vector<Kernel> kernels;
  std::string line;
  std::smatch m;
  bool open = false;  // the last entry function is sm_90: its properties follow
  while (std::getline(in, line)) {
    if (line.find("Compiling entry function") != std::string::npos) {
      open = std::regex_search(line, m, entry);
      if (open) kernels.push_back(Kernel{gm::simt::kernel_short_name(m[1].str())});
    } else if (open && std::regex_search(line, m, frame)) {
      kernels.back().stack = std::stol(m[1].str());
      kernels.back().spill_stores = std::stol(m[2].str());
      kernels.back().spill_loads = std::stol(m[3].str());
    } else if (open && std::regex_search(line, m, used)) {
      kernels.back().registers = std::stoi(m[1].str());
      kernels.back().barriers = m[2].matched ? std::stoi(m[2].str()) : 0;
      kernels.back().smem = m[3].matched ? std::stol(m[3].str()) : 0;
      open = false;
    }
  }
  return kernels;
}

// One line per kernel, sorted by name for the emulator's binary search. A kernel that several
// files instantiate (the shared headers' templates) appears once, with the most it was given.
bool write_table(const std::vector<Kernel>& kernels, const char* path) {
  std::map<std::string, std::pair<int, long>> table;
  for (const Kernel& k : kernels) {
    auto& [registers, smem] = table[k.name];
    registers = std::max(registers, k.registers);
    smem = std::max(smem, k.smem);
  }
  std::ofstream out(path);
  out << "// Generated by scripts/cuda_resources.sh --update-table from ptxas (sm_90); do not "
         "edit.\n"
         "// clang-format off\n";
  for (const auto& [name, resources] : table)
    out << "{\"" << name << "\", " << resources.first << ", " << resources.second << "},\n";
  out << "// clang-format on\n";
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  const char* table_path = nullptr;
  if (argc == 3 && std::strcmp(argv[1], "--table") == 0) {
    table_path = argv[2];
  } else if (argc != 1) {
    std::fprintf(stderr, "usage: cuda_resources [--table FILE] < ptxas-report\n");
    return 2;
  }
  const std::vector<Kernel> kernels = parse(std::cin);
  if (kernels.empty()) {
    std::fprintf(stderr,
                 "cuda_resources: no sm_90 kernels in the input; pipe in the output of "
                 "nvcc --resource-usage for sm_90 (scripts/cuda_resources.sh)\n");
    return 2;
  }
  const cudaOccDeviceProp device = h100();
  std::printf(
      "| kernel | registers | static smem (B) | spills st/ld (B) | stack (B) | threads "
      "| blocks/SM | occupancy | budget |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
  int failures = 0;
  for (const Kernel& k : kernels) {
    const Budget& b = budget_for(k.name);
    cudaOccFuncAttributes attributes;
    attributes.maxThreadsPerBlock = 1024;
    attributes.numRegs = k.registers;
    attributes.sharedSizeBytes = static_cast<size_t>(k.smem);
    attributes.numBlockBarriers = k.barriers > 0 ? k.barriers : 1;
    cudaOccDeviceState state;
    cudaOccResult result;
    const bool computed =
        cudaOccMaxActiveBlocksPerMultiprocessor(&result, &device, &attributes, &state, b.threads,
                                                0) == CUDA_OCC_SUCCESS;
    const int blocks = computed ? result.activeBlocksPerMultiprocessor : 0;
    const double occupancy = static_cast<double>(blocks * b.threads) /
                             static_cast<double>(device.maxThreadsPerMultiprocessor);
    std::string problems;
    if (k.registers > b.max_registers)
      problems += " registers > " + std::to_string(b.max_registers) + ";";
    if (occupancy + 1e-9 < b.min_occupancy)
      problems += " occupancy < " + std::to_string(static_cast<int>(b.min_occupancy * 100)) + "%;";
    if (k.spill_stores + k.spill_loads + k.stack > 0) problems += " spills or local memory;";
    failures += problems.empty() ? 0 : 1;
    std::printf("| `%s` | %d | %ld | %ld/%ld | %ld | %d | %d | %.0f%% | %s |\n", k.name.c_str(),
                k.registers, k.smem, k.spill_stores, k.spill_loads, k.stack, b.threads, blocks,
                100.0 * occupancy, problems.empty() ? "ok" : ("**over:**" + problems).c_str());
  }
  if (table_path && !write_table(kernels, table_path)) {
    std::fprintf(stderr, "cuda_resources: cannot write %s\n", table_path);
    return 2;
  }
  std::printf("\n%zu kernels on H100 (sm_90, %d SMs); %d over budget\n", kernels.size(),
              device.numSms, failures);
  return failures == 0 ? 0 : 1;
}
