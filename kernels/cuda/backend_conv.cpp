// CudaBackend: convolutions as GEMMs, the CPU backend's scheme (kernels/cpu/conv.cpp) on the GPU.
//
// Per image, y_n [K, P] = Wg [K, C*T] col_n [C*T, P] over the T computed taps only (a masked
// 7x7 type A kernel computes 24 of 49), so the multiply-adds run in the GEMM the backend
// selects: cuBLAS on a GPU, our tiled kernel on cuda-emu (gemm_pointers). The three directions:
//
//   forward          col = im2col(x); y = Wg col                       (batched over images)
//   backward data    dcol = Wg^T dy; dx = col2im(dcol)
//   backward weight  dWg = sum_n dy_n col_n^T, the images summed inside the GEMM in order
//                    (Gemm::sum_batch), then scattered into dw with exact zeros at masked weights
//
// A 1x1 kernel of stride 1 without padding needs no im2col: col_n is the image itself, so those
// convolutions (most of pixelcnn-ref's) are one strided-batched GEMM straight on x, dy and dx.
// Unmasked kernels use w as Wg. Column buffers are cut into chunks of whole images so that
// the scratch stays below conv_column_bytes() however large the batch.
#include <algorithm>
#include <type_traits>

#include "kernels/common/mask.h"
#include "kernels/cuda/backend.h"

namespace gm::GM_CUDA_NS {

namespace {

struct ConvPlan {
  Conv2dGeometry g;
  int64_t taps = 0;    // computed taps: a raster-order prefix of the kernel
  int64_t rows = 0;    // C * taps, the GEMM's inner dimension of the forward
  int64_t pixels = 0;  // OH * OW
  bool weights_as_is = false;
  bool columns_as_is = false;
  bool empty() const { return rows == 0 || pixels == 0 || g.batch == 0 || g.out_channels == 0; }
  // Images per column chunk of at most `budget` bytes (one at least), for element size `bytes`.
  int64_t chunk(size_t bytes, int64_t budget) const {
    const int64_t per_image = rows * pixels * static_cast<int64_t>(bytes);
    return std::clamp<int64_t>(budget / std::max<int64_t>(per_image, 1), 1, g.batch);
  }
};

ConvPlan make_plan(const Conv2dGeometry& g, const ConvMask& m) {
  ConvPlan p;
  p.g = g;
  p.taps = mask::used_tap_count(m.type, m.colour_groups, g.kernel_h, g.kernel_w);
  p.rows = g.in_channels * p.taps;
  p.pixels = g.out_height() * g.out_width();
  const bool centre_restricted = m.type != MaskType::none && m.colour_groups > 1;
  p.weights_as_is = p.taps == g.kernel_h * g.kernel_w && !centre_restricted;
  // With one tap the rows of col_n are the input planes themselves, whatever the weights.
  p.columns_as_is = g.kernel_h == 1 && g.kernel_w == 1 && p.taps == 1 && g.stride == 1 &&
                    g.pad_h == 0 && g.pad_w == 0;
  return p;
}

// Bytes of a scratch buffer of n elements of T; never 0, so no call asks the allocator for
// nothing (unused buffers of a plan cost one element).
template <typename T>
size_t bytes_of(int64_t n) {
  return sizeof(T) * static_cast<size_t>(std::max<int64_t>(n, 1));
}

Gemm batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, int64_t batch,
             int64_t stride_a, int64_t stride_b, int64_t stride_c) {
  Gemm s;
  s.trans_a = trans_a;
  s.trans_b = trans_b;
  s.m = m;
  s.n = n;
  s.k = k;
  s.batch = batch;
  s.stride_a = stride_a;
  s.stride_b = stride_b;
  s.stride_c = stride_c;
  return s;
}

}  // namespace

void CudaBackend::conv2d_forward(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                                 const Tensor& w, Tensor& y) {
  conv_forward(g, mask, x, w, y, ConvFusion{});
}

void CudaBackend::conv2d_forward_bias(const Conv2dGeometry& g, const ConvMask& mask,
                                      const Tensor& x, const Tensor& w, const Tensor& bias,
                                      Tensor& y) {
  conv_forward(g, mask, x, w, y, ConvFusion{false, &bias, nullptr});
}

void CudaBackend::relu_conv2d_forward(const Conv2dGeometry& g, const ConvMask& mask,
                                      const Tensor& x, const Tensor& w, const Tensor& bias,
                                      const Tensor& residual, Tensor& y) {
  conv_forward(
      g, mask, x, w, y,
      ConvFusion{true, bias.defined() ? &bias : nullptr, residual.defined() ? &residual : nullptr});
}

// The forward of all three entries. A bias is where the GEMM starts its sum: one launch writes
// it into y and the GEMM adds its product (beta 1), so y = conv + bias has the bits of the
// unfused GEMM-then-add; the residual is added after, (conv + bias) + residual as the unfused
// ops round it. relu(x) is taken while building the columns; a 1x1 convolution, whose columns
// are x itself, stores relu(x) first.
void CudaBackend::conv_forward(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                               const Tensor& w, Tensor& y, const ConvFusion& f) {
  const ConvPlan p = make_plan(g, mask);
  const int64_t K = g.out_channels, P = p.pixels, plane = g.height * g.width;
  const Exec e = exec();
  dispatch_floating(x.dtype(), "conv2d_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = static_cast<const T*>(x.raw());
    T* yp = static_cast<T*>(y.raw());
    const bool starts_from_y = f.bias != nullptr;
    if (starts_from_y) {
      GM_CUDA_NS::conv_bias_init<T>(e, static_cast<const T*>(f.bias->raw()), yp, g.batch, K, P);
      launched("conv2d_forward (bias)");
    }
    const auto add_residual = [&] {
      if (!f.residual) return;
      GM_CUDA_NS::binary<T>(e, BinaryOp::add, yp, static_cast<const T*>(f.residual->raw()), yp,
                            y.numel(), Broadcast{});
      launched("conv2d_forward (residual)");
    };
    if (p.empty()) {  // nothing visible (a 1x1 type A kernel) or nothing to compute
      if (!starts_from_y) {
        GM_CUDA_NS::fill<T>(e, yp, y.numel(), T(0));
        launched("conv2d_forward (zeros)");
      }
      add_residual();
      return;
    }
    Scratch gathered(allocator_, bytes_of<T>(p.weights_as_is ? 0 : K * p.rows));
    const T* wg = static_cast<const T*>(w.raw());
    if (!p.weights_as_is) {
      conv_gather_weights<T>(e, g, mask, p.taps, wg, gathered.as<T>());
      launched("conv2d_forward (gather weights)");
      wg = gathered.as<T>();
    }
    auto product = [&](Gemm s, const T* columns, T* out) {
      s.beta = starts_from_y ? 1.0 : 0.0;
      gemm_pointers(s, x.dtype(), wg, columns, out, "conv2d_forward (GEMM)");
    };
    if (p.columns_as_is) {
      Scratch rectified(allocator_, bytes_of<T>(f.relu_input ? x.numel() : 0));
      if (f.relu_input) {
        GM_CUDA_NS::unary<T>(e, UnaryOp::relu, xp, rectified.as<T>(), x.numel(), T(0), T(0), T(0));
        launched("conv2d_forward (relu)");
        xp = rectified.as<T>();
      }
      product(batched(false, false, K, P, p.rows, g.batch, 0, g.in_channels * plane, K * P), xp,
              yp);
      add_residual();
      return;
    }
    // The implicit GEMM sums in T like the tiled GEMM: not under a reduced precision. It reads
    // x as it is, so a ReLU of the input takes the im2col path.
    const bool unrounded =
        std::is_same_v<T, double> ||
        (gemm_ != CudaGemm::tensor && matmul_precision_ == MatmulPrecision::fp32);
    if (conv_forward_ == CudaConvForward::implicit && unrounded && !f.relu_input &&
        conv_forward_implicit_gemm<T>(e, g, p.taps, wg, xp, yp, starts_from_y)) {
      launched("conv2d_forward (implicit GEMM)");
      add_residual();
      return;
    }
    const int64_t chunk = p.chunk(sizeof(T), conv_column_bytes());
    Scratch columns(allocator_, bytes_of<T>(chunk * p.rows * P));
    for (int64_t first = 0; first < g.batch; first += chunk) {
      const int64_t images = std::min(chunk, g.batch - first);
      conv_im2col<T>(e, g, p.taps, images, xp + first * g.in_channels * plane, columns.as<T>(),
                     f.relu_input);
      launched("conv2d_forward (im2col)");
      product(batched(false, false, K, P, p.rows, images, 0, p.rows * P, K * P), columns.as<T>(),
              yp + first * K * P);
    }
    add_residual();
  });
}

void CudaBackend::conv2d_backward_data(const Conv2dGeometry& g, const ConvMask& mask,
                                       const Tensor& dy, const Tensor& w, Tensor& dx) {
  conv_backward_data(g, mask, dy, w, dx, nullptr);
}

void CudaBackend::relu_conv2d_backward_data(const Conv2dGeometry& g, const ConvMask& mask,
                                            const Tensor& x, const Tensor& dy, const Tensor& w,
                                            Tensor& dx) {
  conv_backward_data(g, mask, dy, w, dx, &x);
}

// With relu_x, the data gradient of a convolution of relu(relu_x): col2im applies relu'
// while gathering; a 1x1 convolution's GEMM writes dx and relu' follows in place.
void CudaBackend::conv_backward_data(const Conv2dGeometry& g, const ConvMask& mask,
                                     const Tensor& dy, const Tensor& w, Tensor& dx,
                                     const Tensor* relu_x) {
  const ConvPlan p = make_plan(g, mask);
  const int64_t K = g.out_channels, P = p.pixels, plane = g.height * g.width;
  const Exec e = exec();
  dispatch_floating(dy.dtype(), "conv2d_backward_data", [&](auto zero) {
    using T = decltype(zero);
    const T* dyp = static_cast<const T*>(dy.raw());
    T* dxp = static_cast<T*>(dx.raw());
    const T* rp = relu_x ? static_cast<const T*>(relu_x->raw()) : nullptr;
    if (p.empty()) {
      GM_CUDA_NS::fill<T>(e, dxp, dx.numel(), T(0));
      launched("conv2d_backward_data (zeros)");
      return;
    }
    Scratch gathered(allocator_, bytes_of<T>(p.weights_as_is ? 0 : K * p.rows));
    const T* wg = static_cast<const T*>(w.raw());
    if (!p.weights_as_is) {
      conv_gather_weights<T>(e, g, mask, p.taps, wg, gathered.as<T>());
      launched("conv2d_backward_data (gather weights)");
      wg = gathered.as<T>();
    }
    // dcol_n [C*T, P] = Wg^T dy_n: written straight into dx_n when the columns are the image.
    if (p.columns_as_is) {
      gemm_pointers(batched(true, false, p.rows, P, K, g.batch, 0, K * P, g.in_channels * plane),
                    dy.dtype(), wg, dyp, dxp, "conv2d_backward_data (GEMM)");
      if (rp) {  // in place: each element is read and written at its own index
        GM_CUDA_NS::unary_backward<T>(e, UnaryOp::relu, rp, rp, dxp, dxp, dx.numel(), T(0), T(0));
        launched("conv2d_backward_data (relu)");
      }
      return;
    }
    const int64_t chunk = p.chunk(sizeof(T), conv_column_bytes());
    Scratch columns(allocator_, bytes_of<T>(chunk * p.rows * P));
    for (int64_t first = 0; first < g.batch; first += chunk) {
      const int64_t images = std::min(chunk, g.batch - first);
      gemm_pointers(batched(true, false, p.rows, P, K, images, 0, K * P, p.rows * P), dy.dtype(),
                    wg, dyp + first * K * P, columns.as<T>(), "conv2d_backward_data (GEMM)");
      conv_col2im<T>(e, g, p.taps, images, columns.as<T>(), dxp + first * g.in_channels * plane,
                     rp ? rp + first * g.in_channels * plane : nullptr);
      launched("conv2d_backward_data (col2im)");
    }
  });
}

void CudaBackend::conv2d_backward_weight(const Conv2dGeometry& g, const ConvMask& mask,
                                         const Tensor& x, const Tensor& dy, Tensor& dw) {
  conv_backward_weight(g, mask, x, dy, dw, false);
}

void CudaBackend::relu_conv2d_backward_weight(const Conv2dGeometry& g, const ConvMask& mask,
                                              const Tensor& x, const Tensor& dy, Tensor& dw) {
  conv_backward_weight(g, mask, x, dy, dw, true);
}

// With relu_input, the weight gradient of a convolution of relu(x), the columns built from
// relu(x) (a 1x1 convolution stores relu(x) first, as its forward does).
void CudaBackend::conv_backward_weight(const Conv2dGeometry& g, const ConvMask& mask,
                                       const Tensor& x, const Tensor& dy, Tensor& dw,
                                       bool relu_input) {
  const ConvPlan p = make_plan(g, mask);
  const int64_t K = g.out_channels, P = p.pixels, plane = g.height * g.width;
  const Exec e = exec();
  dispatch_floating(x.dtype(), "conv2d_backward_weight", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = static_cast<const T*>(x.raw());
    const T* dyp = static_cast<const T*>(dy.raw());
    T* dwp = static_cast<T*>(dw.raw());
    if (p.empty()) {
      GM_CUDA_NS::fill<T>(e, dwp, dw.numel(), T(0));
      launched("conv2d_backward_weight (zeros)");
      return;
    }
    // dWg = sum_n dy_n col_n^T: the GEMM sums the images itself, in order (no atomics, one
    // launch); a later chunk continues the sum of the earlier ones, so chunking changes no bit.
    const int64_t size = K * p.rows;
    Scratch summed(allocator_, bytes_of<T>(p.weights_as_is ? 0 : size));
    T* total = p.weights_as_is ? dwp : summed.as<T>();
    auto summed_gemm = [&](int64_t images, int64_t stride_b, const T* dy_first, const T* b,
                           bool first) {
      Gemm s = batched(false, true, K, p.rows, P, images, K * P, stride_b, 0);
      s.sum_batch = true;
      s.beta = first ? 0.0 : 1.0;
      gemm_pointers(s, x.dtype(), dy_first, b, total, "conv2d_backward_weight (GEMM)");
    };
    if (p.columns_as_is) {
      Scratch rectified(allocator_, bytes_of<T>(relu_input ? x.numel() : 0));
      if (relu_input) {
        GM_CUDA_NS::unary<T>(e, UnaryOp::relu, xp, rectified.as<T>(), x.numel(), T(0), T(0), T(0));
        launched("conv2d_backward_weight (relu)");
        xp = rectified.as<T>();
      }
      summed_gemm(g.batch, g.in_channels * plane, dyp, xp, true);
    } else {
      const int64_t chunk = p.chunk(sizeof(T), conv_column_bytes());
      Scratch columns(allocator_, bytes_of<T>(chunk * p.rows * P));
      for (int64_t first = 0; first < g.batch; first += chunk) {
        const int64_t images = std::min(chunk, g.batch - first);
        conv_im2col<T>(e, g, p.taps, images, xp + first * g.in_channels * plane, columns.as<T>(),
                       relu_input);
        launched("conv2d_backward_weight (im2col)");
        summed_gemm(images, p.rows * P, dyp + first * K * P, columns.as<T>(), first == 0);
      }
    }
    if (!p.weights_as_is) {
      conv_scatter_weight_grad<T>(e, g, mask, p.taps, total, dwp);
      launched("conv2d_backward_weight (scatter)");
    }
  });
}

}  // namespace gm::GM_CUDA_NS
