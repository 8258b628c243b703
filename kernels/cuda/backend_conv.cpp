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
//
// When our tiled GEMM runs (gemm_fuses), the work around the product is its GemmFusion: relu(x)
// of a 1x1 convolution read as B is loaded, relu' and the residual in its epilogue, the bias as
// where its sum starts, a masked kernel's visible weights read in place from w, and the bias
// gradient summed from dy inside the weight-gradient GEMM. cuBLAS and the tensor cores run the
// unfused sequence: separate launches for each, the same values (the bias gradient rounded as
// sum_per_channel rounds it).
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
  bool weights_gapped = false;  // Wg is w's visible taps: the fused GEMM reads them in place
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
  p.weights_gapped = !p.weights_as_is && !centre_restricted;
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

// The fusion's part that reads Wg from w in place, when the plan allows and the GEMM fuses
// (the GEMM's column arithmetic is 32-bit: Wg must have fewer than 2^31 columns).
GemmFusion weights_in_place(const ConvPlan& p, bool fuse) {
  GemmFusion f;
  if (fuse && p.weights_gapped && p.rows < (int64_t{1} << 31)) {
    f.a_taps = p.taps;
    f.a_kernel = p.g.kernel_h * p.g.kernel_w;
  }
  return f;
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

// The forward of all three entries. A bias is where the GEMM starts its sum (fused, or one
// launch writes it into y and the GEMM adds its product with beta 1: the same bits), so
// y = conv + bias rounds as the unfused GEMM-then-add; the residual is added after,
// (conv + bias) + residual as the unfused ops round it. relu(x) is taken while building the
// columns; a 1x1 convolution, whose columns are x itself, reads relu(x) as the GEMM loads it
// (unfused: stores relu(x) first).
void CudaBackend::conv_forward(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                               const Tensor& w, Tensor& y, const ConvFusion& f) {
  const ConvPlan p = make_plan(g, mask);
  const int64_t K = g.out_channels, P = p.pixels, plane = g.height * g.width;
  const Exec e = exec();
  dispatch_floating(x.dtype(), "conv2d_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = static_cast<const T*>(x.raw());
    T* yp = static_cast<T*>(y.raw());
    const T* residual = f.residual ? static_cast<const T*>(f.residual->raw()) : nullptr;
    // The implicit GEMM sums in T like the tiled GEMM: not under a reduced precision. It reads
    // x as it is, so a ReLU of the input takes the im2col path. It is our tiled block, so it
    // fuses the bias, the residual and the weights whichever GEMM the backend selects.
    const bool unrounded =
        std::is_same_v<T, double> ||
        (gemm_ != CudaGemm::tensor && matmul_precision_ == MatmulPrecision::fp32);
    const bool implicit = !p.empty() && !p.columns_as_is &&
                          conv_forward_ == CudaConvForward::implicit && unrounded &&
                          !f.relu_input && conv_implicit_gemm_fits(g, p.taps);
    const bool fuse = !p.empty() && (implicit || gemm_fuses(x.dtype()));
    const bool starts_from_y = f.bias != nullptr && !fuse;
    if (starts_from_y) {
      GM_CUDA_NS::conv_bias_init<T>(e, static_cast<const T*>(f.bias->raw()), yp, g.batch, K, P);
      launched("conv2d_forward (bias)");
    }
    const auto add_residual = [&] {
      if (!residual || fuse) return;
      GM_CUDA_NS::binary<T>(e, BinaryOp::add, yp, residual, yp, y.numel(), Broadcast{});
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
    GemmFusion fusion = weights_in_place(p, fuse);
    if (fuse && f.bias) fusion.bias = f.bias->raw();
    const bool gather = !p.weights_as_is && fusion.a_taps == 0;
    Scratch gathered(allocator_, bytes_of<T>(gather ? K * p.rows : 0));
    const T* wg = static_cast<const T*>(w.raw());
    if (gather) {
      conv_gather_weights<T>(e, g, mask, p.taps, wg, gathered.as<T>());
      launched("conv2d_forward (gather weights)");
      wg = gathered.as<T>();
    }
    // The GEMM of the images from `first` on: the residual's pointer moves with y's.
    auto product = [&](Gemm s, const T* columns, int64_t first) {
      s.beta = starts_from_y ? 1.0 : 0.0;
      GemmFusion chunk = fusion;
      if (fuse && residual) chunk.residual = residual + first * K * P;
      gemm_pointers(s, x.dtype(), wg, columns, yp + first * K * P, "conv2d_forward (GEMM)", chunk);
    };
    if (p.columns_as_is) {
      const bool store_relu = f.relu_input && !fuse;
      Scratch rectified(allocator_, bytes_of<T>(store_relu ? x.numel() : 0));
      if (store_relu) {
        GM_CUDA_NS::unary<T>(e, UnaryOp::relu, xp, rectified.as<T>(), x.numel(), T(0), T(0), T(0));
        launched("conv2d_forward (relu)");
        xp = rectified.as<T>();
      }
      fusion.relu_b = f.relu_input && fuse;
      product(batched(false, false, K, P, p.rows, g.batch, 0, g.in_channels * plane, K * P), xp, 0);
      add_residual();
      return;
    }
    if (implicit) {
      GemmFusion whole = fusion;
      whole.residual = residual;
      GM_CHECK(conv_forward_implicit_gemm<T>(e, g, p.taps, wg, xp, yp, false, whole),
               "conv2d_forward: the implicit GEMM refused sizes it was checked to fit");
      launched("conv2d_forward (implicit GEMM)");
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
              first);
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
// while gathering; a 1x1 convolution's GEMM writes dx with relu' in its epilogue (unfused: in
// place after it).
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
    const bool fuse = gemm_fuses(dy.dtype());
    GemmFusion fusion = weights_in_place(p, fuse);
    const bool gather = !p.weights_as_is && fusion.a_taps == 0;
    Scratch gathered(allocator_, bytes_of<T>(gather ? K * p.rows : 0));
    const T* wg = static_cast<const T*>(w.raw());
    if (gather) {
      conv_gather_weights<T>(e, g, mask, p.taps, wg, gathered.as<T>());
      launched("conv2d_backward_data (gather weights)");
      wg = gathered.as<T>();
    }
    // dcol_n [C*T, P] = Wg^T dy_n: written straight into dx_n when the columns are the image.
    if (p.columns_as_is) {
      if (fuse) fusion.relu_grad_of = rp;
      gemm_pointers(batched(true, false, p.rows, P, K, g.batch, 0, K * P, g.in_channels * plane),
                    dy.dtype(), wg, dyp, dxp, "conv2d_backward_data (GEMM)", fusion);
      if (rp && !fuse) {  // in place: each element is read and written at its own index
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
                    wg, dyp + first * K * P, columns.as<T>(), "conv2d_backward_data (GEMM)",
                    fusion);
      conv_col2im<T>(e, g, p.taps, images, columns.as<T>(), dxp + first * g.in_channels * plane,
                     rp ? rp + first * g.in_channels * plane : nullptr);
      launched("conv2d_backward_data (col2im)");
    }
  });
}

void CudaBackend::conv2d_backward_weight(const Conv2dGeometry& g, const ConvMask& mask,
                                         const Tensor& x, const Tensor& dy, Tensor& dw) {
  conv_backward_weight(g, mask, x, dy, dw, false, nullptr);
}

void CudaBackend::relu_conv2d_backward_weight(const Conv2dGeometry& g, const ConvMask& mask,
                                              const Tensor& x, const Tensor& dy, Tensor& dw) {
  conv_backward_weight(g, mask, x, dy, dw, true, nullptr);
}

void CudaBackend::conv2d_backward_weight_bias(const Conv2dGeometry& g, const ConvMask& mask,
                                              const Tensor& x, bool relu, const Tensor& dy,
                                              Tensor& dw, Tensor& db) {
  conv_backward_weight(g, mask, x, dy, dw, relu, &db);
}

// With relu_input, the weight gradient of a convolution of relu(x), the columns built from
// relu(x) (a 1x1 convolution reads relu(x) as the GEMM loads it; unfused: stores it first).
// With db, also the bias gradient: dy summed per channel, inside the weight-gradient GEMM when
// it fuses (its A is dy: the row sums of A), else one sum_per_channel launch.
void CudaBackend::conv_backward_weight(const Conv2dGeometry& g, const ConvMask& mask,
                                       const Tensor& x, const Tensor& dy, Tensor& dw,
                                       bool relu_input, Tensor* db) {
  const ConvPlan p = make_plan(g, mask);
  const int64_t K = g.out_channels, P = p.pixels, plane = g.height * g.width;
  const Exec e = exec();
  const bool fuse = !p.empty() && gemm_fuses(x.dtype());
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
    // The bias gradient's running sum crosses chunks in double, so it does not either.
    const int64_t size = K * p.rows;
    Scratch summed(allocator_, bytes_of<T>(p.weights_as_is ? 0 : size));
    T* total = p.weights_as_is ? dwp : summed.as<T>();
    const int64_t chunk = p.columns_as_is ? g.batch : p.chunk(sizeof(T), conv_column_bytes());
    const bool fused_bias = fuse && db != nullptr;
    Scratch carry(allocator_, bytes_of<double>(fused_bias && chunk < g.batch ? K : 0));
    auto summed_gemm = [&](int64_t first, int64_t images, int64_t stride_b, const T* b) {
      Gemm s = batched(false, true, K, p.rows, P, images, K * P, stride_b, 0);
      s.sum_batch = true;
      s.beta = first == 0 ? 0.0 : 1.0;
      GemmFusion fusion;
      fusion.relu_b = fuse && relu_input && p.columns_as_is;
      if (fused_bias) {
        if (chunk < g.batch) fusion.row_sums_carry = carry.as<double>();
        if (first + images == g.batch) fusion.row_sums = db->raw();
      }
      gemm_pointers(s, x.dtype(), dyp + first * K * P, b, total, "conv2d_backward_weight (GEMM)",
                    fusion);
    };
    if (p.columns_as_is) {
      const bool store_relu = relu_input && !fuse;
      Scratch rectified(allocator_, bytes_of<T>(store_relu ? x.numel() : 0));
      if (store_relu) {
        GM_CUDA_NS::unary<T>(e, UnaryOp::relu, xp, rectified.as<T>(), x.numel(), T(0), T(0), T(0));
        launched("conv2d_backward_weight (relu)");
        xp = rectified.as<T>();
      }
      summed_gemm(0, g.batch, g.in_channels * plane, xp);
    } else {
      Scratch columns(allocator_, bytes_of<T>(chunk * p.rows * P));
      for (int64_t first = 0; first < g.batch; first += chunk) {
        const int64_t images = std::min(chunk, g.batch - first);
        conv_im2col<T>(e, g, p.taps, images, xp + first * g.in_channels * plane, columns.as<T>(),
                       relu_input);
        launched("conv2d_backward_weight (im2col)");
        summed_gemm(first, images, p.rows * P, columns.as<T>());
      }
    }
    if (!p.weights_as_is) {
      conv_scatter_weight_grad<T>(e, g, mask, p.taps, total, dwp);
      launched("conv2d_backward_weight (scatter)");
    }
  });
  if (db && !fuse) sum_per_channel(dy, *db);  // the unfused bias gradient: one launch
}

}  // namespace gm::GM_CUDA_NS
