// LSTM cell with fused gates: gates [N, 4H, S] as four [H, S] blocks (i, f, o, g) per image,
// states [N, H, S]. One thread per state element with kernels/common/lstm_math.h: it reads its
// four gate pre-activations (HS apart) and c_prev, and writes h and c (or the five gradients).
#include "kernels/common/lstm_math.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/launch_entries.h"

namespace gm::GM_CUDA_NS {

namespace {

template <typename T>
__global__ void lstm_forward_kernel(const T* gates, const T* c_prev, int64_t N, int64_t HS, T* h,
                                    T* c) {
  for (int64_t k = global_thread(); k < N * HS; k += grid_threads()) {
    const T* g = gates + k / HS * 4 * HS + k % HS;
    const math::LstmOut<T> r = math::lstm_forward(g[0], g[HS], g[2 * HS], g[3 * HS], c_prev[k]);
    h[k] = r.h;
    c[k] = r.c;
  }
}

template <typename T>
__global__ void lstm_backward_kernel(const T* gates, const T* c_prev, const T* c, const T* dh,
                                     const T* dc, int64_t N, int64_t HS, T* dgates, T* dc_prev) {
  for (int64_t k = global_thread(); k < N * HS; k += grid_threads()) {
    const int64_t gate0 = k / HS * 4 * HS + k % HS;
    const T* g = gates + gate0;
    const math::LstmGrad<T> r = math::lstm_backward(g[0], g[HS], g[2 * HS], g[3 * HS], c_prev[k],
                                                    c[k], dh ? dh[k] : T(0), dc ? dc[k] : T(0));
    T* d = dgates + gate0;
    d[0] = r.d_i;
    d[HS] = r.d_f;
    d[2 * HS] = r.d_o;
    d[3 * HS] = r.d_g;
    dc_prev[k] = r.d_c_prev;
  }
}

}  // namespace

namespace launchers {

void lstm_cell_forward(const Exec& e, const Tensor& gates, const Tensor& c_prev, Tensor& h,
                       Tensor& c) {
  const int64_t N = c_prev.size(0), HS = c_prev.per_image();
  if (N * HS == 0) return;
  with_floating(gates.dtype, "lstm_cell_forward", [&](auto zero) {
    using T = decltype(zero);
    const unsigned threads = kernel_threads<lstm_forward_kernel<T>>(N * HS, e.block);
    GM_LAUNCH((lstm_forward_kernel<T>), blocks_for(N * HS, threads), threads, 0, e.stream)
    (gates.data<T>(), c_prev.data<T>(), N, HS, h.data<T>(), c.data<T>());
  });
}

void lstm_cell_backward(const Exec& e, const Tensor& gates, const Tensor& c_prev, const Tensor& c,
                        const Tensor& dh, const Tensor& dc, Tensor& dgates, Tensor& dc_prev) {
  const int64_t N = c_prev.size(0), HS = c_prev.per_image();
  if (N * HS == 0) return;
  with_floating(gates.dtype, "lstm_cell_backward", [&](auto zero) {
    using T = decltype(zero);
    const unsigned threads = kernel_threads<lstm_backward_kernel<T>>(N * HS, e.block);
    GM_LAUNCH((lstm_backward_kernel<T>), blocks_for(N * HS, threads), threads, 0, e.stream)
    (gates.data<T>(), c_prev.data<T>(), c.data<T>(), dh.data<T>(), dc.data<T>(), N, HS,
     dgates.data<T>(), dc_prev.data<T>());
  });
}

}  // namespace launchers

}  // namespace gm::GM_CUDA_NS
