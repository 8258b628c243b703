// Direct 2-D convolution (cross-correlation), NCHW, with PixelCNN masks (kernels/common/mask.h).
// Masked taps are skipped, never multiplied by zero, exactly as on the CPU.
//
//   forward          one thread per output  y[n, co, oy, ox]: sum over ci and visible taps
//                    (conv_forward.cuh, shared with the kernel lab)
//   backward data    one thread per input  dx[n, ci, iy, ix]: sum over co and the taps that
//                    map some output onto this input
//   backward weight  one block per weight  dw[co, ci, ky, kx]: a block reduction over every
//                    (n, oy, ox); masked weights get exactly 0
//
// These are the straightforward versions; the kernel lab (docs/kernel-lab.md) times the forward
// as mconv_v4_library beside a shared-memory tiled version, and an implicit-GEMM kernel with
// shared-memory tiles is the natural next step.
#include "kernels/cuda/conv_forward.cuh"

namespace gm::GM_CUDA_NS {

namespace {

// Input row iy is reached from output row oy = (iy + pad - ky) / stride when that divides.
__device__ __forceinline__ bool output_of(int64_t in, int64_t pad, int64_t k, int64_t stride,
                                          int64_t out_size, int64_t* out) {
  const int64_t t = in + pad - k;
  if (t < 0 || t % stride != 0) return false;
  *out = t / stride;
  return *out < out_size;
}

// Bounded for 1024 threads, the largest block GM_CUDA_BLOCK allows: ptxas then keeps it within
// 64 registers, so a launch of any allowed block size fits an SM's register file (at 72 it did
// not, and the resource report's budget caught it).
template <typename T>
__global__ void __launch_bounds__(1024)
    conv_backward_data_kernel(Conv2dGeometry s, ConvMask m, const T* dy, const T* w, T* dx) {
  const MaskType type = m.type;
  const int64_t out_h = s.out_height(), out_w = s.out_width();
  const int64_t total = s.batch * s.in_channels * s.height * s.width;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    // One division per index: each 64-bit division costs registers (budget: docs/cuda.md).
    int64_t rest = i / s.width;
    const int64_t ix = i - rest * s.width;
    const int64_t iy = rest % s.height;
    rest /= s.height;
    const int64_t ci = rest % s.in_channels, n = rest / s.in_channels;
    T acc = T(0);
    for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
      int64_t oy = 0;
      if (!output_of(iy, s.pad_h, ky, s.stride, out_h, &oy)) continue;
      for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
        int64_t ox = 0;
        if (!output_of(ix, s.pad_w, kx, s.stride, out_w, &ox)) continue;
        if (!mask::tap_used(type, m.colour_groups, s.kernel_h, s.kernel_w, ky, kx)) continue;
        const bool centre =
            type != MaskType::none && mask::is_centre_tap(s.kernel_h, s.kernel_w, ky, kx);
        for (int64_t co = 0; co < s.out_channels; ++co) {
          if (!conv_pair_visible(s, m, type, centre, ci, co)) continue;
          acc += dy[((n * s.out_channels + co) * out_h + oy) * out_w + ox] *
                 w[((co * s.in_channels + ci) * s.kernel_h + ky) * s.kernel_w + kx];
        }
      }
    }
    dx[i] = acc;
  }
}

// One block per weight; blockDim.x is a multiple of 32 (block_sum).
template <typename T>
__global__ void conv_backward_weight_kernel(Conv2dGeometry s, ConvMask m, const T* x, const T* dy,
                                            T* dw) {
  const MaskType type = m.type;
  const int64_t out_h = s.out_height(), out_w = s.out_width();
  const int64_t index = blockIdx.x;
  const int64_t kx = index % s.kernel_w, ky = index / s.kernel_w % s.kernel_h;
  const int64_t ci = index / (s.kernel_w * s.kernel_h) % s.in_channels;
  const int64_t co = index / (s.kernel_w * s.kernel_h * s.in_channels);
  // The condition is the same for the whole block, so returning here is not divergence.
  if (!mask::weight_visible(type, m.colour_groups, s.kernel_h, s.kernel_w, ky, kx, ci,
                            s.in_channels, co, s.out_channels)) {
    if (threadIdx.x == 0) dw[index] = T(0);
    return;
  }
  const int64_t pixels = out_h * out_w;
  double acc = 0.0;
  for (int64_t p = threadIdx.x; p < s.batch * pixels; p += blockDim.x) {
    const int64_t n = p / pixels, oy = p % pixels / out_w, ox = p % out_w;
    const int64_t iy = oy * s.stride + ky - s.pad_h, ix = ox * s.stride + kx - s.pad_w;
    if (iy < 0 || iy >= s.height || ix < 0 || ix >= s.width) continue;
    acc += static_cast<double>(dy[((n * s.out_channels + co) * out_h + oy) * out_w + ox]) *
           static_cast<double>(x[((n * s.in_channels + ci) * s.height + iy) * s.width + ix]);
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) dw[index] = static_cast<T>(acc);
}

}  // namespace

template <typename T>
void conv2d_forward(const Exec& e, const Conv2dGeometry& s, const ConvMask& m, const T* x,
                    const T* w, T* y) {
  conv_forward_direct<T>(e, s, m, x, w, y);
}

template <typename T>
void conv2d_backward_data(const Exec& e, const Conv2dGeometry& s, const ConvMask& m, const T* dy,
                          const T* w, T* dx) {
  const int64_t total = s.batch * s.in_channels * s.height * s.width;
  if (total == 0) return;
  const unsigned threads = threads_for(total, e.block);
  GM_LAUNCH((conv_backward_data_kernel<T>), blocks_for(total, threads), threads, 0, e.stream)
  (s, m, dy, w, dx);
}

template <typename T>
void conv2d_backward_weight(const Exec& e, const Conv2dGeometry& s, const ConvMask& m, const T* x,
                            const T* dy, T* dw) {
  const int64_t weights = s.out_channels * s.in_channels * s.kernel_h * s.kernel_w;
  if (weights == 0) return;
  const unsigned threads = threads_for(s.batch * s.out_height() * s.out_width(), e.block);
  GM_LAUNCH((conv_backward_weight_kernel<T>), static_cast<unsigned>(weights), threads, 0, e.stream)
  (s, m, x, dy, dw);
}

#define GM_INSTANTIATE(T)                                                                        \
  template void conv2d_forward<T>(const Exec&, const Conv2dGeometry&, const ConvMask&, const T*, \
                                  const T*, T*);                                                 \
  template void conv2d_backward_data<T>(const Exec&, const Conv2dGeometry&, const ConvMask&,     \
                                        const T*, const T*, T*);                                 \
  template void conv2d_backward_weight<T>(const Exec&, const Conv2dGeometry&, const ConvMask&,   \
                                          const T*, const T*, T*);
GM_INSTANTIATE(float)
GM_INSTANTIATE(double)
#undef GM_INSTANTIATE

}  // namespace gm::GM_CUDA_NS
