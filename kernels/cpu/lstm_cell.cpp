// LSTM cell with fused gates: gates [N, 4H, S] as four [H, S] blocks (i, f, o, g) per image,
// states [N, H, S]. Every element is independent: threads take images, and the loop over an
// image's H x S elements is a plain vector loop (a collapsed n/e loop would not vectorise).
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
#pragma omp parallel for if (N * HS > kParallelThreshold && N > 1)
    for (int64_t n = 0; n < N; ++n) {
      const T* g = gs + n * 4 * HS;
      const T* cp_n = cp + n * HS;
      T *h_n = hs + n * HS, *c_n = cs + n * HS;
#pragma omp simd
      for (int64_t e = 0; e < HS; ++e) {
        const math::LstmOut<T> r =
            math::lstm_forward(g[e], g[HS + e], g[2 * HS + e], g[3 * HS + e], cp_n[e]);
        h_n[e] = r.h;
        c_n[e] = r.c;
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
    // A missing dh or dc (no gradient arrived) reads as zeros; each combination gets its own
    // loop, so none has a branch inside.
    auto run = [&](auto dh_of, auto dc_of) {
#pragma omp parallel for if (N * HS > kParallelThreshold && N > 1)
      for (int64_t n = 0; n < N; ++n) {
        const T* g = gs + n * 4 * HS;
        const int64_t k0 = n * HS;
        T* d = dg + n * 4 * HS;
#pragma omp simd
        for (int64_t e = 0; e < HS; ++e) {
          const int64_t k = k0 + e;
          const math::LstmGrad<T> r = math::lstm_backward(
              g[e], g[HS + e], g[2 * HS + e], g[3 * HS + e], cp[k], cs[k], dh_of(k), dc_of(k));
          d[e] = r.d_i;
          d[HS + e] = r.d_f;
          d[2 * HS + e] = r.d_o;
          d[3 * HS + e] = r.d_g;
          dcp[k] = r.d_c_prev;
        }
      }
    };
    auto none = [](int64_t) { return T(0); };
    auto dh_at = [dhs](int64_t k) { return dhs[k]; };
    auto dc_at = [dcs](int64_t k) { return dcs[k]; };
    if (dhs && dcs)
      run(dh_at, dc_at);
    else if (dhs)
      run(dh_at, none);
    else if (dcs)
      run(none, dc_at);
    else
      run(none, none);
  });
}

}  // namespace gm
