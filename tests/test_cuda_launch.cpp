// Launch configurations that small test shapes never reach: grid-stride loops whose grid is
// capped (4096 blocks, launch.h) and so must take a second turn, and the synchronising debug
// mode (GM_CUDA_SYNC_DEBUG) that a first run on new hardware uses. Each compares cuda-emu with
// the CPU backend.
#include "kernels/cuda/cuda_backend.h"
#include "tests/support.h"

using namespace gm;
using gm::test::require_close;

namespace {

Tensor input(const Shape& shape, DType dtype, Device device, uint64_t seed) {
  Generator gen(seed);
  return Tensor::uniform(shape, -1, 1, gen, dtype).to(device);
}

// Restores cuda-emu's knobs when a test ends, whatever happened.
struct KnobGuard {
  CudaBackendBase& emu = cuda_emu_backend();
  int block = emu.block_size();
  bool sync = emu.sync_debug();
  ~KnobGuard() {
    emu.set_block_size(block);
    emu.set_sync_debug(sync);
  }
};

// A masked 3x3 convolution, forward and both backward directions, whose im2col covers more
// elements than one grid of 4096 blocks of 32 threads (131,072): 2 images x 5 channels x 5
// visible taps x 3599 pixels = 179,950.
std::vector<Tensor> conv_outputs(Device d) {
  Conv2dGeometry g;
  g.batch = 2;
  g.in_channels = 5;
  g.height = 61;
  g.width = 59;
  g.out_channels = 5;
  g.kernel_h = g.kernel_w = 3;
  g.pad_h = g.pad_w = 1;
  const ConvMask mask{MaskType::B, 1};
  const Shape ys = {g.batch, g.out_channels, g.out_height(), g.out_width()};
  const Tensor x = input({g.batch, g.in_channels, g.height, g.width}, DType::f64, d, 1);
  const Tensor w = input({g.out_channels, g.in_channels, 3, 3}, DType::f64, d, 2);
  const Tensor dy = input(ys, DType::f64, d, 3);
  Tensor y = Tensor::empty(ys, DType::f64, d), dx = Tensor::empty(x.shape(), DType::f64, d),
         dw = Tensor::empty(w.shape(), DType::f64, d);
  Backend& b = backend_for(d);
  b.conv2d_forward(g, mask, x, w, y);
  b.conv2d_backward_data(g, mask, dy, w, dx);
  b.conv2d_backward_weight(g, mask, x, dy, dw);
  return {y, dx, dw};
}

}  // namespace

TEST_CASE("cuda-emu: grid-stride loops cover elements past the first grid", "[cuda]") {
  KnobGuard guard;
  guard.emu.set_block_size(32);
  const int64_t first_grid = int64_t{4096} * 32;
  const int64_t n = 2 * first_grid + 37;  // a third, partial turn for some threads
  const Tensor x_cpu = input({n}, DType::f32, Device::cpu(), 4);
  const Tensor x_emu = x_cpu.to(Device::cuda_emu());
  // Fresh cuda-emu memory is NaN: an element no turn reached fails the comparison.
  require_close(exp(x_emu).to_vector<double>(), exp(x_cpu).to_vector<double>(), 1e-6, 1e-6,
                "exp over 2 grids + 37");
  const std::vector<Tensor> want = conv_outputs(Device::cpu());
  const std::vector<Tensor> got = conv_outputs(Device::cuda_emu());
  // 25 products per output (forward), up to 25 per input (backward data), 2 x 3599 per weight
  // (backward weight), each at most 1: double rounding of that many terms stays below 1e-12.
  for (size_t i = 0; i < want.size(); ++i)
    require_close(got[i].to_vector<double>(), want[i].to_vector<double>(), 1e-12, 1e-12,
                  fmt::format("conv output {} at block 32", i));
}

TEST_CASE("cuda-emu: the synchronising debug mode runs every op to the same result", "[cuda]") {
  KnobGuard guard;
  guard.emu.set_sync_debug(false);
  const std::vector<Tensor> plain = conv_outputs(Device::cuda_emu());
  guard.emu.set_sync_debug(true);
  REQUIRE(guard.emu.sync_debug());
  const std::vector<Tensor> synced = conv_outputs(Device::cuda_emu());
  for (size_t i = 0; i < plain.size(); ++i)
    require_close(synced[i].to_vector<double>(), plain[i].to_vector<double>(), 0.0, 0.0,
                  fmt::format("conv output {} with GM_CUDA_SYNC_DEBUG", i));
}
