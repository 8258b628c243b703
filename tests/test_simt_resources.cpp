// The emulator refuses what a GPU refuses for lack of registers or shared memory: the library's
// kernels carry ptxas's numbers (kernels/simt/kernel_resources.inc, kept equal to ptxas by the
// nvcc gate). That the library's own launchers stay within them is checked by running them:
// test_cuda_conformance runs every catalogue case on cuda-emu at block sizes up to 1024, and an
// over-limit launch there would throw.
#include <catch2/catch.hpp>

#define GM_CUDA_EMU 1
#include "engine/error.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/gemm_mma.cuh"
#include "kernels/cuda/gemm_tiled.cuh"
#include "kernels/cuda/softmax_xent.cuh"

using namespace gm;
using Catch::Matchers::Contains;

namespace {

namespace emu = gm::cuda_emu;
// The float64 32x32 GEMM tile: the library kernel with the most registers (over 64, so a block
// of 1024 threads cannot start), and the 64x64 one, with 34 KiB of static shared memory.
constexpr auto kHeavy = emu::gemm_tiled_kernel<double, 32, 32, 8, 4, 4>;
constexpr auto kLargeShared = emu::gemm_tiled_kernel<double, 64, 64, 16, 4, 4>;

int round_up_to_8(int registers) {
  return (registers + 7) / 8 * 8;
}

}  // namespace

TEST_CASE("simt: the library's kernels are found in the resource table", "[simt]") {
  // One per header that the table's names must match: plain, enum and two-type template
  // arguments (their spelling is where the nvcc and g++ names could part).
  CHECK(simt::kernel_resources<kHeavy>() != nullptr);
  CHECK(simt::kernel_resources<emu::gemm_mma_kernel<emu::MmaInput::bf16>>() != nullptr);
  CHECK(simt::kernel_resources<emu::xent_partials_kernel<float, uint8_t>>() != nullptr);
  CHECK(simt::kernel_resources<emu::xent_partials_kernel<double, int32_t>>() != nullptr);
  // A kernel ptxas never saw (a test's, the kernel lab's) has none: only CUDA's fixed limits.
  CHECK(simt::find_kernel_resources("no_such_kernel<float>") == nullptr);
}

TEST_CASE("simt: cudaFuncGetAttributes answers with ptxas's registers", "[simt]") {
  simt::cudaFuncAttributes a{};
  REQUIRE(emu::kernel_attributes<kHeavy>(&a) == simt::cudaSuccess);
  REQUIRE(a.numRegs == simt::kernel_resources<kHeavy>()->registers);
  REQUIRE(a.numRegs > 64);  // else every block size fits and the rest proves nothing
  // The largest block whose warps' registers fit in a block's 65,536, in whole warps.
  const int per_thread = round_up_to_8(a.numRegs);
  CHECK(a.maxThreadsPerBlock % 32 == 0);
  CHECK(a.maxThreadsPerBlock * per_thread <= simt::kRegistersPerBlock);
  CHECK((a.maxThreadsPerBlock + 32) * per_thread > simt::kRegistersPerBlock);
  // Grid-stride launchers ask kernel_threads, which clamps to it.
  CHECK(emu::kernel_threads<kHeavy>(1 << 20, 1024) == static_cast<unsigned>(a.maxThreadsPerBlock));
  CHECK(emu::kernel_threads<kHeavy>(1 << 20, 64) == 64u);
}

TEST_CASE("simt: a launch beyond a kernel's registers or shared memory fails as on a GPU",
          "[simt]") {
  simt::cudaFuncAttributes a{};
  REQUIRE(emu::kernel_attributes<kHeavy>(&a) == simt::cudaSuccess);
  // The check comes before any thread runs, so the arguments are never read.
  const Gemm g{};
  const emu::GemmFusion fusion{};
  CHECK_THROWS_WITH(GM_LAUNCH(kHeavy, 1, 1024, 0, nullptr)(g, 1.0, nullptr, nullptr, 0.0, nullptr,
                                                           0, false, false, fusion),
                    Contains("too many resources requested for launch") &&
                        Contains("gemm_tiled_kernel<double, 32, 32, 8, 4, 4, false>") &&
                        Contains(std::to_string(a.maxThreadsPerBlock) + " threads"));
  CHECK_THROWS_WITH(GM_LAUNCH(kHeavy, 1, a.maxThreadsPerBlock + 32, 0, nullptr)(
                        g, 1.0, nullptr, nullptr, 0.0, nullptr, 0, false, false, fusion),
                    Contains("too many resources requested for launch"));
  // Static shared memory counts against the 48 KiB with the dynamic.
  const size_t static_bytes = simt::kernel_resources<kLargeShared>()->static_shared_bytes;
  REQUIRE(static_bytes > 0);
  CHECK_THROWS_WITH(
      GM_LAUNCH(kLargeShared, 1, 256, simt::kMaxDynamicSharedBytes - static_bytes + 1, nullptr)(
          g, 1.0, nullptr, nullptr, 0.0, nullptr, 0, false, false, fusion),
      Contains("shared memory"));
}
