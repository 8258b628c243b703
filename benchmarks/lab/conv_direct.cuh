#pragma once
// The library's former convolution forward (until convolutions became GEMMs,
// kernels/cuda/backend_conv.cpp), kept as the kernel lab's mconv_v4_direct: the step between the
// lab's hand-written direct versions and the library's im2col + GEMM (v5).
//
// Direct 2-D convolution (cross-correlation), NCHW, with PixelCNN masks (kernels/common/mask.h):
// one thread per output y[n, co, oy, ox], summing over the visible taps (ky, kx) and, for each,
// over the input channels ci whose colour group the mask lets co see. Masked taps are skipped,
// never multiplied by zero, exactly as on the CPU. This is the lab's v2 idea (the mask is loop
// structure) generalised to strides, padding, rectangular kernels and R|G|B colour groups.
#include "benchmarks/lab/lab_platform.h"
#include "kernels/common/mask.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/launch.h"

namespace gm::GM_CUDA_NS {

// Whether the (ci -> co) pair is visible at tap (ky, kx), given that the tap itself is used.
__device__ __forceinline__ bool conv_pair_visible(const Conv2dGeometry& s, const ConvMask& m,
                                                  MaskType type, bool centre, int64_t ci,
                                                  int64_t co) {
  return !centre ||
         mask::centre_pair_visible(type, m.colour_groups, ci, s.in_channels, co, s.out_channels);
}

template <typename T>
__global__ void conv_forward_kernel(Conv2dGeometry s, ConvMask m, const T* x, const T* w, T* y) {
  const MaskType type = m.type;
  const int64_t out_h = s.out_height(), out_w = s.out_width();
  const int64_t total = s.batch * s.out_channels * out_h * out_w;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const int64_t ox = i % out_w, oy = i / out_w % out_h;
    const int64_t co = i / (out_w * out_h) % s.out_channels;
    const int64_t n = i / (out_w * out_h * s.out_channels);
    T acc = T(0);
    for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
      const int64_t iy = oy * s.stride + ky - s.pad_h;
      if (iy < 0 || iy >= s.height) continue;
      for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
        const int64_t ix = ox * s.stride + kx - s.pad_w;
        if (ix < 0 || ix >= s.width) continue;
        if (!mask::tap_used(type, m.colour_groups, s.kernel_h, s.kernel_w, ky, kx)) continue;
        const bool centre =
            type != MaskType::none && mask::is_centre_tap(s.kernel_h, s.kernel_w, ky, kx);
        for (int64_t ci = 0; ci < s.in_channels; ++ci) {
          if (!conv_pair_visible(s, m, type, centre, ci, co)) continue;
          acc += x[((n * s.in_channels + ci) * s.height + iy) * s.width + ix] *
                 w[((co * s.in_channels + ci) * s.kernel_h + ky) * s.kernel_w + kx];
        }
      }
    }
    y[i] = acc;
  }
}

template <typename T>
void conv_forward_direct(const Exec& e, const Conv2dGeometry& s, const ConvMask& m, const T* x,
                         const T* w, T* y) {
  const int64_t total = s.batch * s.out_channels * s.out_height() * s.out_width();
  if (total == 0) return;
  const unsigned threads = threads_for(total, e.block);
  GM_LAUNCH((conv_forward_kernel<T>), blocks_for(total, threads), threads, 0, e.stream)
  (s, m, x, w, y);
}

}  // namespace gm::GM_CUDA_NS
