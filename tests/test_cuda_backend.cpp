// The CUDA backends' own machinery: the caching allocator and its sentinels, Philox noise that
// is the same on every device, the knobs, and how a missing GPU is reported.
#include <cstdlib>
#include <string>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/simt/simt.h"
#include "tests/support.h"

using namespace gm;
using Catch::Matchers::Contains;

namespace bad_kernels {
using namespace gm::simt;

// Writes element `index` of a buffer: an out-of-bounds write when index is past either end.
__global__ void write_at(float* data, int64_t index) {
  if (threadIdx.x == 0) data[index] = 42.0f;
}

}  // namespace bad_kernels

namespace {

// Sentinels on for the test's duration on cuda-emu, restored afterwards.
struct DebugAllocations {
  CudaBackendBase& emu = cuda_emu_backend();
  bool previous = emu.debug_allocations();
  DebugAllocations() { emu.set_debug_allocations(true); }
  ~DebugAllocations() { emu.set_debug_allocations(previous); }
};

void write_past(Tensor& t, int64_t index) {
  GM_LAUNCH(bad_kernels::write_at, 1, 32, 0, nullptr)(static_cast<float*>(t.raw()), index);
}

}  // namespace

TEST_CASE("cuda-emu: the caching allocator reuses freed blocks", "[cuda]") {
  CudaBackendBase& emu = cuda_emu_backend();
  auto step = [] {
    const Tensor x = Tensor::arange(1000, DType::f32, Device::cuda_emu());
    return sum(exp(x * 1e-3)).item();
  };
  const double first = step();
  const size_t before = emu.allocator_stats().device_allocations;
  for (int i = 0; i < 5; ++i)
    REQUIRE(step() == first);
  // Same shapes each step: every block comes from the cache, no new device allocations.
  CHECK(emu.allocator_stats().device_allocations == before);
  CHECK(emu.allocator_stats().bytes_cached > 0);
}

TEST_CASE("cuda-emu: fresh memory reads as NaN in debug mode", "[cuda]") {
  DebugAllocations debug;
  const Tensor t = Tensor::empty({37}, DType::f32, Device::cuda_emu());
  for (float v : t.to_vector<float>())
    REQUIRE(std::isnan(v));
}

TEST_CASE("cuda-emu: sentinels catch a kernel writing out of bounds", "[cuda]") {
  DebugAllocations debug;
  SECTION("past the end, found at synchronize") {
    Tensor t = Tensor::zeros({37}, DType::f32, Device::cuda_emu());
    write_past(t, 37);
    CHECK_THROWS_WITH(debug.emu.synchronize(), Contains("out-of-bounds write") &&
                                                   Contains("byte 0 after the end") &&
                                                   Contains("148-byte buffer"));
  }
  SECTION("before the start, found when the tensor is freed") {
    {
      Tensor t = Tensor::zeros({37}, DType::f32, Device::cuda_emu());
      write_past(t, -2);
    }  // freed here: the damage is remembered and raised by the next call
    CHECK_THROWS_WITH(Tensor::zeros({3}, DType::f32, Device::cuda_emu()),
                      Contains("byte 5 before the start"));
  }
  SECTION("a correct kernel leaves the sentinels alone") {
    Tensor t = Tensor::zeros({37}, DType::f32, Device::cuda_emu());
    write_past(t, 36);
    CHECK_NOTHROW(debug.emu.synchronize());
    CHECK(t.to_vector<float>()[36] == 42.0f);
  }
  // The backend is usable again after reporting.
  CHECK(Tensor::ones({5}, DType::f32, Device::cuda_emu()).to_vector<float>()[4] == 1.0f);
}

TEST_CASE("Philox noise is the same on every device for the same seed and offset", "[cuda]") {
  const Shape shape = {3, 7, 11};
  for (DType dtype : {DType::f32, DType::f64}) {
    Generator cpu_gen(2024);
    cpu_gen.set_offset(12345);
    const std::vector<double> u = Tensor::uniform(shape, -2, 3, cpu_gen, dtype).to_vector<double>();
    const std::vector<double> n = Tensor::normal(shape, 1, 2, cpu_gen, dtype).to_vector<double>();
    for (Device d : gm::test::test_devices()) {
      if (d.is_cpu()) continue;
      INFO(d.name() << " " << dtype_name(dtype));
      Generator gen(2024);
      gen.set_offset(12345);
      const std::vector<double> du =
          Tensor::uniform(shape, -2, 3, gen, dtype, d).to_vector<double>();
      const std::vector<double> dn = Tensor::normal(shape, 1, 2, gen, dtype, d).to_vector<double>();
      CHECK(gen.offset() == cpu_gen.offset());
      if (d.kind == DeviceKind::cuda_emu) {
        // The same arithmetic on the same host: bit for bit.
        CHECK(du == u);
        CHECK(dn == n);
      } else {
        // A GPU's log and cos may differ from glibc's in the last bits of a double: the
        // normal draws agree to ~1e-15 relative, which float32 rounds away.
        CHECK(du == u);
        gm::test::require_close(dn, n, 1e-13, 1e-13, "normal draws on " + d.name());
      }
    }
  }
}

TEST_CASE("CUDA backend knobs are validated", "[cuda]") {
  CudaBackendBase& emu = cuda_emu_backend();
  const int block = emu.block_size();
  CHECK_THROWS_WITH(emu.set_block_size(48), Contains("multiple of 32"));
  CHECK_THROWS_WITH(emu.set_block_size(2048), Contains("multiple of 32"));
  CHECK(emu.block_size() == block);
  CHECK_THROWS_WITH(emu.set_gemm(CudaGemm::cublas), Contains("real GPU"));
}

TEST_CASE("a machine without a GPU reports the cuda device as unavailable", "[cuda]") {
  if (device_available(Device::cuda())) {
    return test::skip("a GPU is present: " + backend_for(Device::cuda()).name());
  }
  const std::string reason = device_unavailable_reason(Device::cuda());
  WARN("device cuda skipped: " << reason);
  CHECK_FALSE(reason.empty());
  CHECK_THROWS_AS(backend_for(Device::cuda()), DeviceUnavailable);
  CHECK_THROWS_WITH(Tensor::zeros({2}, DType::f32, Device::cuda()),
                    Contains("device cuda is unavailable") && Contains(reason));
#if GENMODEL_HAVE_CUDA
  // Built with CUDA: the runtime itself said there is no driver or GPU.
  CHECK_THAT(reason, Contains("no usable NVIDIA GPU or driver"));
#endif
}

TEST_CASE("a GPU required by GM_REQUIRE_CUDA=1 is present and works", "[cuda][gpu]") {
  // scripts/gpu-run.sh sets GM_REQUIRE_CUDA=1 so that a broken driver cannot make the suites below
  // skip the GPU and pass.
  const char* required = std::getenv("GM_REQUIRE_CUDA");
  if (!required || std::string(required) != "1")
    return test::skip("GM_REQUIRE_CUDA=1 is not set (scripts/gpu-run.sh sets it)");
  INFO(device_unavailable_reason(Device::cuda()));
  REQUIRE(device_available(Device::cuda()));
  const Tensor x = Tensor::arange(1000, DType::f32, Device::cuda());
  CHECK(sum(x).item() == 499500.0);
}
