// The data movement around convolution-as-GEMM (backend_conv.cpp does the GEMMs): im2col over
// the computed taps only, its adjoint col2im, and the weight gather/scatter of masked kernels.
//
// The taps a (masked) kernel computes are always a prefix of the kernel in raster order (rows
// above the centre, the centre row left of the centre, then the centre itself for type B or
// colour groups: kernels/common/mask.h), so tap t is (t / kw, t % kw) for t < taps and no table
// is needed. A masked tap is never read or multiplied; only the centre tap under colour groups
// multiplies zeros, at the gathered weights of its forbidden (ci, co) pairs, as on the CPU.
//
// Index arithmetic is done in 32 bits when every index of the launch fits (the pixelcnn-ref
// sizes do by a factor of ~20): a 64-bit division is a ~70-instruction subroutine on NVIDIA
// GPUs, a 32-bit one a handful of instructions.
#include "kernels/common/mask.h"
#include "kernels/cuda/conv_implicit_gemm.cuh"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/launch.h"

namespace gm::GM_CUDA_NS {

namespace {

// The shape im2col and col2im see: `planes` input planes (images x channels of one chunk), each
// expanded into `taps` rows of out_h * out_w columns.
template <typename I>
struct Columns {
  I planes, height, width, out_h, out_w, kernel_w, taps, stride, pad_h, pad_w;
};

template <typename I>
Columns<I> columns_of(const Conv2dGeometry& g, int64_t taps, int64_t images) {
  return {static_cast<I>(images * g.in_channels),
          static_cast<I>(g.height),
          static_cast<I>(g.width),
          static_cast<I>(g.out_height()),
          static_cast<I>(g.out_width()),
          static_cast<I>(g.kernel_w),
          static_cast<I>(taps),
          static_cast<I>(g.stride),
          static_cast<I>(g.pad_h),
          static_cast<I>(g.pad_w)};
}

template <typename I>
__device__ __forceinline__ I grid_first() {
  return static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x);
}
template <typename I>
__device__ __forceinline__ I grid_step() {
  return static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x);
}

// col [planes * taps, out_h * out_w]: row (plane, t) is the plane shifted by tap t, zero where
// the tap falls into the padding; of relu(x) when `relu` (the fused ReLU of relu_conv2d_*, the
// formula of kernels/common/unary_math.h). Neighbouring threads take neighbouring output
// pixels, so reads (stride 1) and writes coalesce.
template <typename T, typename I>
__global__ void im2col_kernel(Columns<I> c, const T* x, T* col, bool relu) {
  const I pixels = c.out_h * c.out_w;
  const I total = c.planes * c.taps * pixels;
  for (I i = grid_first<I>(); i < total; i += grid_step<I>()) {
    const I row = i / pixels, p = i - row * pixels;
    const I plane = row / c.taps, t = row - plane * c.taps;
    const I oy = p / c.out_w, ox = p - oy * c.out_w;
    const I ky = t / c.kernel_w, kx = t - ky * c.kernel_w;
    const I iy = oy * c.stride + ky - c.pad_h, ix = ox * c.stride + kx - c.pad_w;
    const bool inside = iy >= 0 && iy < c.height && ix >= 0 && ix < c.width;
    const T v = inside ? x[(plane * c.height + iy) * c.width + ix] : T(0);
    col[i] = relu && !(v > T(0)) ? T(0) : v;
  }
}

// The adjoint of im2col, as a gather: each input element sums the column entries it was copied
// to, so no two threads write one address (no atomics; the same bits every run). With
// `relu_x` (not null) the gradient goes through relu(relu_x) too: 0 where relu_x <= 0.
template <typename T, typename I>
__global__ void col2im_kernel(Columns<I> c, const T* dcol, T* dx, const T* relu_x) {
  const I plane_size = c.height * c.width, pixels = c.out_h * c.out_w;
  const I total = c.planes * plane_size;
  for (I i = grid_first<I>(); i < total; i += grid_step<I>()) {
    const I plane = i / plane_size, q = i - plane * plane_size;
    const I iy = q / c.width, ix = q - iy * c.width;
    const T* rows = dcol + plane * c.taps * pixels;
    T acc = T(0);
    I ky = 0, kx = 0;  // tap t, stepped without dividing
    for (I t = 0; t < c.taps; ++t) {
      const I ty = iy + c.pad_h - ky, tx = ix + c.pad_w - kx;
      I oy = ty, ox = tx;
      bool hit = ty >= 0 && tx >= 0;
      if (hit && c.stride != 1) {
        oy = ty / c.stride;
        ox = tx / c.stride;
        hit = oy * c.stride == ty && ox * c.stride == tx;
      }
      if (hit && oy < c.out_h && ox < c.out_w) acc += rows[t * pixels + oy * c.out_w + ox];
      if (++kx == c.kernel_w) {
        kx = 0;
        ++ky;
      }
    }
    dx[i] = relu_x && !(relu_x[i] > T(0)) ? T(0) : acc;
  }
}

// y [N, K, P] = bias[k]: where a biased convolution's GEMM starts its sum (beta 1).
template <typename T>
__global__ void conv_bias_init_kernel(const T* bias, T* y, int64_t channels, int64_t pixels,
                                      int64_t total) {
  for (int64_t i = global_thread(); i < total; i += grid_threads())
    y[i] = bias[i / pixels % channels];
}

// wg [K, C * taps] from w [K, C, kh, kw]: the computed taps' weights, forbidden centre pairs 0.
template <typename T>
__global__ void gather_weights_kernel(Conv2dGeometry g, ConvMask m, int64_t taps, const T* w,
                                      T* wg) {
  const int64_t rows = g.in_channels * taps, total = g.out_channels * rows;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const int64_t co = i / rows, r = i - co * rows, ci = r / taps, t = r - ci * taps;
    const int64_t ky = t / g.kernel_w, kx = t - ky * g.kernel_w;
    const bool visible = mask::weight_visible(m.type, m.colour_groups, g.kernel_h, g.kernel_w, ky,
                                              kx, ci, g.in_channels, co, g.out_channels);
    wg[i] = visible ? w[(co * g.in_channels + ci) * g.kernel_h * g.kernel_w + t] : T(0);
  }
}

// The adjoint: dw [K, C, kh, kw] is dwg at visible weights and exactly 0 elsewhere.
template <typename T>
__global__ void scatter_weight_grad_kernel(Conv2dGeometry g, ConvMask m, int64_t taps, const T* dwg,
                                           T* dw) {
  const int64_t khw = g.kernel_h * g.kernel_w, total = g.out_channels * g.in_channels * khw;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const int64_t pair = i / khw, t = i - pair * khw;
    const int64_t co = pair / g.in_channels, ci = pair - co * g.in_channels;
    const int64_t ky = t / g.kernel_w, kx = t - ky * g.kernel_w;
    const bool visible =
        t < taps && mask::weight_visible(m.type, m.colour_groups, g.kernel_h, g.kernel_w, ky, kx,
                                         ci, g.in_channels, co, g.out_channels);
    dw[i] = visible ? dwg[(co * g.in_channels + ci) * taps + t] : T(0);
  }
}

// Whether every index of a launch over `count` elements (and its grid-stride overshoot of at
// most one grid) fits a signed 32-bit integer.
bool fits_32(int64_t count) {
  return count + int64_t{4096} * 1024 < (int64_t{1} << 31);
}

template <typename T, typename I>
void launch_im2col(const Exec& e, int64_t total, const Columns<I>& c, const T* x, T* col,
                   bool relu) {
  const unsigned threads = kernel_threads<im2col_kernel<T, I>>(total, e.block);
  GM_LAUNCH((im2col_kernel<T, I>), blocks_for(total, threads), threads, 0, e.stream)
  (c, x, col, relu);
}

template <typename T, typename I>
void launch_col2im(const Exec& e, int64_t total, const Columns<I>& c, const T* dcol, T* dx,
                   const T* relu_x) {
  const unsigned threads = kernel_threads<col2im_kernel<T, I>>(total, e.block);
  GM_LAUNCH((col2im_kernel<T, I>), blocks_for(total, threads), threads, 0, e.stream)
  (c, dcol, dx, relu_x);
}

}  // namespace

template <typename T>
void conv_im2col(const Exec& e, const Conv2dGeometry& g, int64_t taps, int64_t images, const T* x,
                 T* col, bool relu) {
  const int64_t total = images * g.in_channels * taps * g.out_height() * g.out_width();
  if (total == 0) return;
  if (fits_32(total) && fits_32(images * g.in_channels * g.height * g.width))
    launch_im2col(e, total, columns_of<int32_t>(g, taps, images), x, col, relu);
  else
    launch_im2col(e, total, columns_of<int64_t>(g, taps, images), x, col, relu);
}

template <typename T>
void conv_col2im(const Exec& e, const Conv2dGeometry& g, int64_t taps, int64_t images,
                 const T* dcol, T* dx, const T* relu_x) {
  const int64_t total = images * g.in_channels * g.height * g.width;
  if (total == 0) return;
  if (fits_32(total) && fits_32(images * g.in_channels * taps * g.out_height() * g.out_width()))
    launch_col2im(e, total, columns_of<int32_t>(g, taps, images), dcol, dx, relu_x);
  else
    launch_col2im(e, total, columns_of<int64_t>(g, taps, images), dcol, dx, relu_x);
}

template <typename T>
void conv_bias_init(const Exec& e, const T* bias, T* y, int64_t images, int64_t channels,
                    int64_t pixels) {
  const int64_t total = images * channels * pixels;
  if (total == 0) return;
  const unsigned threads = kernel_threads<conv_bias_init_kernel<T>>(total, e.block);
  GM_LAUNCH((conv_bias_init_kernel<T>), blocks_for(total, threads), threads, 0, e.stream)
  (bias, y, channels, pixels, total);
}

template <typename T>
void conv_gather_weights(const Exec& e, const Conv2dGeometry& g, const ConvMask& m, int64_t taps,
                         const T* w, T* wg) {
  const int64_t total = g.out_channels * g.in_channels * taps;
  if (total == 0) return;
  const unsigned threads = kernel_threads<gather_weights_kernel<T>>(total, e.block);
  GM_LAUNCH((gather_weights_kernel<T>), blocks_for(total, threads), threads, 0, e.stream)
  (g, m, taps, w, wg);
}

template <typename T>
void conv_scatter_weight_grad(const Exec& e, const Conv2dGeometry& g, const ConvMask& m,
                              int64_t taps, const T* dwg, T* dw) {
  const int64_t total = g.out_channels * g.in_channels * g.kernel_h * g.kernel_w;
  if (total == 0) return;
  const unsigned threads = kernel_threads<scatter_weight_grad_kernel<T>>(total, e.block);
  GM_LAUNCH((scatter_weight_grad_kernel<T>), blocks_for(total, threads), threads, 0, e.stream)
  (g, m, taps, dwg, dw);
}

#define GM_INSTANTIATE(T)                                                                          \
  template void conv_im2col<T>(const Exec&, const Conv2dGeometry&, int64_t, int64_t, const T*, T*, \
                               bool);                                                              \
  template void conv_col2im<T>(const Exec&, const Conv2dGeometry&, int64_t, int64_t, const T*, T*, \
                               const T*);                                                          \
  template void conv_bias_init<T>(const Exec&, const T*, T*, int64_t, int64_t, int64_t);           \
  template void conv_gather_weights<T>(const Exec&, const Conv2dGeometry&, const ConvMask&,        \
                                       int64_t, const T*, T*);                                     \
  template void conv_scatter_weight_grad<T>(const Exec&, const Conv2dGeometry&, const ConvMask&,   \
                                            int64_t, const T*, T*);                                \
  template bool conv_forward_implicit_gemm<T>(const Exec&, const Conv2dGeometry&, int64_t,         \
                                              const T*, const T*, T*, bool, const GemmFusion&);
GM_INSTANTIATE(float)
GM_INSTANTIATE(double)
#undef GM_INSTANTIATE

}  // namespace gm::GM_CUDA_NS
