// CudaBackend: the PixelRNN scan (kernels/cuda/lstm_scan.cu). The forward is one launch; the
// backward four: the walk back through the steps (dx), the im2col of every step's previous h,
// one GEMM over all images and steps for the weight gradient (the images summed inside it,
// Gemm::sum_batch) and one per-channel sum for the bias gradient. A line whose state does not
// fit in a block's shared memory (rowlstm-large's backward in float64: 4 x 96 gates x 28
// positions x 8 bytes = 84 KiB) runs the per-step default of engine/backend_lstm_scan.cpp,
// several launches per step.
#include <algorithm>

#include "kernels/cuda/backend.h"

namespace gm::GM_CUDA_NS {

namespace {

// Whether the scan kernels take this scan: its line's state fits in shared memory. An empty
// scan goes the default way too, which writes zero weight gradients without a kernel.
bool fused(const LstmScan& s, DType dtype, bool backward) {
  return s.batch * s.steps * s.length * s.hidden > 0 &&
         lstm_scan_shared_bytes(s, dtype_size(dtype), backward) <= kBlockSharedBytes;
}

}  // namespace

void CudaBackend::lstm_scan_forward(const LstmScan& s, const Tensor& x, const Tensor& weight,
                                    const Tensor& bias, Tensor& h, Tensor& c, Tensor& gates) {
  if (!fused(s, x.dtype(), false))
    return Backend::lstm_scan_forward(s, x, weight, bias, h, c, gates);
  const Exec e = exec();
  dispatch_floating(x.dtype(), "lstm_scan_forward", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::lstm_scan_forward<T>(
        e, s, static_cast<const T*>(x.raw()), static_cast<const T*>(weight.raw()),
        static_cast<const T*>(bias.raw()), static_cast<T*>(h.raw()), static_cast<T*>(c.raw()),
        gates.defined() ? static_cast<T*>(gates.raw()) : nullptr);
  });
  launched("lstm_scan_forward");
}

void CudaBackend::lstm_scan_backward(const LstmScan& s, const Tensor& weight, const Tensor& h,
                                     const Tensor& c, const Tensor& gates, const Tensor& dh,
                                     Tensor& dx, Tensor& dweight, Tensor& dbias) {
  if (!fused(s, weight.dtype(), true))
    return Backend::lstm_scan_backward(s, weight, h, c, gates, dh, dx, dweight, dbias);
  const Exec e = exec();
  dispatch_floating(weight.dtype(), "lstm_scan_backward", [&](auto zero) {
    using T = decltype(zero);
    GM_CUDA_NS::lstm_scan_backward<T>(
        e, s, static_cast<const T*>(weight.raw()), static_cast<const T*>(gates.raw()),
        static_cast<const T*>(c.raw()), dh.defined() ? static_cast<const T*>(dh.raw()) : nullptr,
        static_cast<T*>(dx.raw()));
    launched("lstm_scan_backward");
    // dweight [4h, h*k] = sum_n dx_n [4h, T*L] cols_n^T: one GEMM over every step and image.
    const int64_t TL = s.steps * s.length;
    Scratch cols(allocator_,
                 static_cast<size_t>(std::max<int64_t>(s.batch * s.taps() * TL, 1)) * sizeof(T));
    GM_CUDA_NS::lstm_scan_columns<T>(e, s, static_cast<const T*>(h.raw()), cols.as<T>());
    launched("lstm_scan_backward (columns)");
    Gemm g;
    g.trans_b = true;
    g.m = s.gates();
    g.n = s.taps();
    g.k = TL;
    g.batch = s.batch;
    g.stride_a = s.gates() * TL;
    g.stride_b = s.taps() * TL;
    g.sum_batch = true;
    gemm_pointers(g, weight.dtype(), dx.raw(), cols.as<T>(), dweight.raw(),
                  "lstm_scan_backward (weight GEMM)");
  });
  sum_per_channel(dx, dbias);
}

}  // namespace gm::GM_CUDA_NS
