// The PixelRNN scan (engine/ops/lstm_scan.cpp has the recurrence) in one launch per direction:
// the state-to-state convolution runs along the line within one image, so one block per image
// walks all T steps alone, with barriers between steps and no grid-wide synchronisation.
//
// Thread mapping: the block's loop gives each thread the state elements e = u * L + l (hidden
// unit u, position l), the same ones at every step, so the cell state c of an element is only
// ever read and written by its own thread (through global memory, where the backward needs it
// anyway). Neighbouring threads share u and read neighbouring positions: the weight loads are
// broadcasts, the shared-memory loads consecutive.
//
// Forward, per step t: each element's four gate pre-activations
//   pre_q = (sum_{c, j} w[ch_q, c, j] h_{t-1}[c, l + j - pad] + b[ch_q]) + x[ch_q, t, l]
// with h_{t-1} [h, L] read from shared memory, then the cell (kernels/common/lstm_math.h);
// h, c and the pre-activations go to global memory; between two barriers h is copied into
// shared memory for step t+1. The sums run in the order of the per-step path's GEMM (taps in
// im2col order, the bias as its last term, then x, which the GEMM's beta adds), so on the
// emulator both paths give the same bits (tests/test_pixelrnn.cpp).
//
// Backward, per step t from T-1 down: dh = dh_out + the state-to-state convolution's adjoint of
// step t+1's gate gradients (shared memory [4h, L]), tap by tap as the per-step path's col2im
// adds them; then the cell's backward with the carried dc (global scratch, own elements); the
// gate gradients go to dx and, between two barriers, into shared memory for step t-1. The
// weight gradient is then one GEMM over all steps of dx and the im2col of the previous step's h
// (lstm_scan_columns), the bias gradient one per-channel sum (kernels/cuda/backend_scan.cpp).
#include "kernels/common/lstm_math.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/launch.h"

namespace gm::GM_CUDA_NS {

namespace {

template <typename T>
__global__ void lstm_scan_forward_kernel(LstmScan s, const T* x, const T* w, const T* bias, T* h,
                                         T* c, T* gates) {
  GM_DYNAMIC_SHARED(T, prev);  // [hidden, L]: h of the previous step
  const int L = static_cast<int>(s.length), H = static_cast<int>(s.hidden);
  const int K = static_cast<int>(s.kernel), pad = static_cast<int>(s.pad_before);
  const int hg = H / static_cast<int>(s.groups);  // units per colour group
  const int64_t TL = s.steps * s.length, n = blockIdx.x;
  const T* xn = x + n * 4 * H * TL;
  T* hn = h + n * H * TL;
  T* cn = c + n * H * TL;
  T* gn = gates ? gates + n * 4 * H * TL : nullptr;
  for (int64_t t = 0; t < s.steps; ++t) {
    for (int e = static_cast<int>(threadIdx.x); e < H * L; e += static_cast<int>(blockDim.x)) {
      const int u = e / L, l = e - u * L;
      const int ch0 = u / hg * 4 * hg + u % hg;  // gate q of unit u is channel ch0 + q * hg
      T acc[4] = {T(0), T(0), T(0), T(0)};
      for (int cc = 0; cc < H; ++cc)
        for (int j = 0; j < K; ++j) {
          const int src = l + j - pad;
          const T hv = t > 0 && src >= 0 && src < L ? prev[cc * L + src] : T(0);
          GM_UNROLL
          for (int q = 0; q < 4; ++q)
            acc[q] += w[((ch0 + q * hg) * H + cc) * K + j] * hv;
        }
      const int64_t at = t * s.length + l;
      T pre[4];
      GM_UNROLL
      for (int q = 0; q < 4; ++q) {
        const int ch = ch0 + q * hg;
        pre[q] = (acc[q] + bias[ch]) + xn[ch * TL + at];
      }
      const T c_prev = t > 0 ? cn[u * TL + at - L] : T(0);
      const math::LstmOut<T> r = math::lstm_forward(pre[0], pre[1], pre[2], pre[3], c_prev);
      hn[u * TL + at] = r.h;
      cn[u * TL + at] = r.c;
      if (gn) {
        GM_UNROLL
        for (int q = 0; q < 4; ++q)
          gn[(ch0 + q * hg) * TL + at] = pre[q];
      }
    }
    __syncthreads();  // every thread is done reading prev
    for (int e = static_cast<int>(threadIdx.x); e < H * L; e += static_cast<int>(blockDim.x)) {
      const int u = e / L, l = e - u * L;
      prev[e] = hn[u * TL + t * s.length + l];  // this thread's own write
    }
    __syncthreads();
  }
}

template <typename T>
__global__ void lstm_scan_backward_kernel(LstmScan s, const T* w, const T* gates, const T* c,
                                          const T* dh_out, T* dx, T* dc_carry) {
  GM_DYNAMIC_SHARED(T, next);  // [4 hidden, L]: the gate gradients of step t + 1
  const int L = static_cast<int>(s.length), H = static_cast<int>(s.hidden);
  const int K = static_cast<int>(s.kernel), pad = static_cast<int>(s.pad_before);
  const int hg = H / static_cast<int>(s.groups);
  const int64_t TL = s.steps * s.length, n = blockIdx.x;
  const T* gn = gates + n * 4 * H * TL;
  const T* cn = c + n * H * TL;
  const T* dhn = dh_out ? dh_out + n * H * TL : nullptr;
  T* dxn = dx + n * 4 * H * TL;
  T* carry = dc_carry + n * H * L;
  for (int64_t t = s.steps - 1; t >= 0; --t) {
    const bool last = t + 1 == s.steps;
    for (int e = static_cast<int>(threadIdx.x); e < H * L; e += static_cast<int>(blockDim.x)) {
      const int u = e / L, l = e - u * L;
      const int ch0 = u / hg * 4 * hg + u % hg;
      const int64_t at = t * s.length + l;
      T dh = dhn ? dhn[u * TL + at] : T(0);
      if (!last)
        for (int j = 0; j < K; ++j) {
          // Position src of step t+1 reads l through tap j; lines end in zeros.
          const int src = l - (j - pad);
          T sum = T(0);
          if (src >= 0 && src < L)
            for (int g = 0; g < 4 * H; ++g)
              sum += w[(g * H + u) * K + j] * next[g * L + src];
          dh += sum;
        }
      const T* pre = gn + ch0 * TL + at;
      const int64_t gate_stride = hg * TL;
      const T c_prev = t > 0 ? cn[u * TL + at - L] : T(0);
      const math::LstmGrad<T> r =
          math::lstm_backward(pre[0], pre[gate_stride], pre[2 * gate_stride], pre[3 * gate_stride],
                              c_prev, cn[u * TL + at], dh, last ? T(0) : carry[e]);
      T* d = dxn + ch0 * TL + at;
      d[0] = r.d_i;
      d[gate_stride] = r.d_f;
      d[2 * gate_stride] = r.d_o;
      d[3 * gate_stride] = r.d_g;
      carry[e] = r.d_c_prev;
    }
    __syncthreads();  // every thread is done reading next
    for (int e = static_cast<int>(threadIdx.x); e < H * L; e += static_cast<int>(blockDim.x)) {
      const int u = e / L, l = e - u * L;
      const int ch0 = u / hg * 4 * hg + u % hg;
      GM_UNROLL
      for (int q = 0; q < 4; ++q) {
        const int ch = ch0 + q * hg;
        next[ch * L + l] = dxn[ch * TL + t * s.length + l];  // this thread's own writes
      }
    }
    __syncthreads();
  }
}

// cols [N, h*k, T, L]: cols[n, c*k + j, t, l] = h[n, c, t-1, l + j - pad], 0 at t = 0 and
// outside the line: the im2col of every step's previous state, for the weight gradient's GEMM.
template <typename T>
__global__ void lstm_scan_columns_kernel(LstmScan s, const T* h, T* cols) {
  const int64_t TL = s.steps * s.length, total = s.batch * s.taps() * TL;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const int64_t row = i / TL, tl = i - row * TL, t = tl / s.length;
    const int64_t image = row / s.taps(), r = row - image * s.taps();
    const int64_t unit = r / s.kernel, shift = r - unit * s.kernel - s.pad_before;
    const int64_t src = tl - t * s.length + shift;
    cols[i] = t > 0 && src >= 0 && src < s.length
                  ? h[(image * s.hidden + unit) * TL + tl - s.length + shift]
                  : T(0);
  }
}

}  // namespace

size_t lstm_scan_shared_bytes(const LstmScan& s, size_t element_bytes, bool backward) {
  const int64_t rows = backward ? s.gates() : s.hidden;
  return static_cast<size_t>(rows * s.length) * element_bytes;
}

template <typename T>
void lstm_scan_forward(const Exec& e, const LstmScan& s, const T* x, const T* w, const T* bias,
                       T* h, T* c, T* gates) {
  if (s.batch * s.steps * s.length * s.hidden == 0) return;
  const unsigned threads =
      kernel_threads<lstm_scan_forward_kernel<T>>(s.hidden * s.length, e.block);
  GM_LAUNCH((lstm_scan_forward_kernel<T>), static_cast<unsigned>(s.batch), threads,
            lstm_scan_shared_bytes(s, sizeof(T), false), e.stream)
  (s, x, w, bias, h, c, gates);
}

template <typename T>
void lstm_scan_backward(const Exec& e, const LstmScan& s, const T* w, const T* gates, const T* c,
                        const T* dh, T* dx) {
  if (s.batch * s.steps * s.length * s.hidden == 0) return;
  Scratch carry(*e.scratch, static_cast<size_t>(s.batch * s.hidden * s.length) * sizeof(T));
  const unsigned threads =
      kernel_threads<lstm_scan_backward_kernel<T>>(s.hidden * s.length, e.block);
  GM_LAUNCH((lstm_scan_backward_kernel<T>), static_cast<unsigned>(s.batch), threads,
            lstm_scan_shared_bytes(s, sizeof(T), true), e.stream)
  (s, w, gates, c, dh, dx, carry.as<T>());
}

template <typename T>
void lstm_scan_columns(const Exec& e, const LstmScan& s, const T* h, T* cols) {
  const int64_t total = s.batch * s.taps() * s.steps * s.length;
  if (total == 0) return;
  const unsigned threads = kernel_threads<lstm_scan_columns_kernel<T>>(total, e.block);
  GM_LAUNCH((lstm_scan_columns_kernel<T>), blocks_for(total, threads), threads, 0, e.stream)
  (s, h, cols);
}

#define GM_INSTANTIATE(T)                                                                         \
  template void lstm_scan_forward<T>(const Exec&, const LstmScan&, const T*, const T*, const T*,  \
                                     T*, T*, T*);                                                 \
  template void lstm_scan_backward<T>(const Exec&, const LstmScan&, const T*, const T*, const T*, \
                                      const T*, T*);                                              \
  template void lstm_scan_columns<T>(const Exec&, const LstmScan&, const T*, T*);
GM_INSTANTIATE(float)
GM_INSTANTIATE(double)
#undef GM_INSTANTIATE

}  // namespace gm::GM_CUDA_NS
