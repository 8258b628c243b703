// LSTM cell with fused gates: gates [N, 4H, S] as four [H, S] blocks (i, f, o, g) per image,
// states [N, H, S]. Every element is independent, so one flat loop over N x (H S) elements.
#include "kernels/common/lstm_math.h"
#include "kernels/cpu/cpu_backend.h"

namespace gm {

namespace {
constexpr int64_t kParallelThreshold = 16384;  // below this, threads cost more than they save
}

void CpuBackend::lstm_cell_forward(const Tensor& gates, const Tensor& c_prev, Tensor& h,
                                   Tensor& c) {
  const int64_t N = c_prev.size(0);
  const int64_t HS = c_prev.numel() / (N > 0 ? N : 1);  // elements of one image's state
  dispatch_floating(gates.dtype(), "lstm_cell_forward", [&](auto zero) {
    using T = decltype(zero);
    const T* gs = static_cast<const T*>(gates.raw());
    const T* cp = static_cast<const T*>(c_prev.raw());
    T* hs = static_cast<T*>(h.raw());
    T* cs = static_cast<T*>(c.raw());
#pragma omp parallel for collapse(2) if (N * HS > kParallelThreshold)
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t e = 0; e < HS; ++e) {
        const T* g = gs + n * 4 * HS + e;
        const int64_t k = n * HS + e;
        const math::LstmOut<T> r = math::lstm_forward(g[0], g[HS], g[2 * HS], g[3 * HS], cp[k]);
        hs[k] = r.h;
        cs[k] = r.c;
      }
    }
  });
}

void CpuBackend::lstm_cell_backward(const Tensor& gates, const Tensor& c_prev, const Tensor& c,
                                    const Tensor& dh, const Tensor& dc, Tensor& dgates,
                                    Tensor& dc_prev) {
  const int64_t N = c_prev.size(0);
  const int64_t HS = c_prev.numel() / (N > 0 ? N : 1);
  dispatch_floating(gates.dtype(), "lstm_cell_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* gs = static_cast<const T*>(gates.raw());
    const T* cp = static_cast<const T*>(c_prev.raw());
    const T* cs = static_cast<const T*>(c.raw());
    const T* dhs = dh.defined() ? static_cast<const T*>(dh.raw()) : nullptr;
    const T* dcs = dc.defined() ? static_cast<const T*>(dc.raw()) : nullptr;
    T* dg = static_cast<T*>(dgates.raw());
    T* dcp = static_cast<T*>(dc_prev.raw());
#pragma omp parallel for collapse(2) if (N * HS > kParallelThreshold)
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t e = 0; e < HS; ++e) {
        const T* g = gs + n * 4 * HS + e;
        const int64_t k = n * HS + e;
        const math::LstmGrad<T> r =
            math::lstm_backward(g[0], g[HS], g[2 * HS], g[3 * HS], cp[k], cs[k],
                                dhs ? dhs[k] : T(0), dcs ? dcs[k] : T(0));
        T* d = dg + n * 4 * HS + e;
        d[0] = r.d_i;
        d[HS] = r.d_f;
        d[2 * HS] = r.d_o;
        d[3 * HS] = r.d_g;
        dcp[k] = r.d_c_prev;
      }
    }
  });
}

}  // namespace gm
