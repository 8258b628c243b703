#pragma once
// The backend interface: every kernel a device must provide, in one table. An op in
// engine/ops calls exactly one of these per direction, so what a backend lacks is a missing
// override, visible at compile time, never a silent fallback to another device.
//
// Conventions for every method:
// - tensors are contiguous and already allocated by the caller on this backend's device;
// - outputs are overwritten (not accumulated) unless the name says `accumulate`;
// - float kernels accept float32 and float64 (dtype taken from the tensors);
// - shapes have been validated by the op; backends may assume them.
#include <cstdint>
#include <string>

#include "engine/tensor.h"
#include "kernels/common/op_types.h"

namespace gm {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // ---- memory
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  virtual void copy_from_host(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, size_t bytes) = 0;
  virtual void copy_within(void* dst, const void* src, size_t bytes) = 0;
  virtual void synchronize() = 0;

  // ---- fills and conversions
  virtual void fill(Tensor& y, double value) = 0;
  virtual void arange(Tensor& y) = 0;
  virtual void cast(const Tensor& x, Tensor& y) = 0;  // any dtype to any dtype, same shape
  // y[i] = low + (high - low) * U(seed, offset + i);  y[i] = mean + std * N(seed, offset + i)
  virtual void fill_uniform(Tensor& y, uint64_t seed, uint64_t offset, double low, double high) = 0;
  virtual void fill_normal(Tensor& y, uint64_t seed, uint64_t offset, double mean,
                           double stddev) = 0;
  virtual void strided_copy(const Tensor& src, Tensor& dst, const StridedCopy& box) = 0;

  // ---- elementwise
  virtual void unary(UnaryOp op, const UnaryParams& p, const Tensor& x, Tensor& y) = 0;
  // dx = dy * f'(x); `y` is f(x) (kernels may use whichever is cheaper).
  virtual void unary_backward(UnaryOp op, const UnaryParams& p, const Tensor& x, const Tensor& y,
                              const Tensor& dy, Tensor& dx) = 0;
  // y = a op b with numpy broadcasting: a and b have y's rank, each dim equal to y's or 1.
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& y) = 0;
  // x viewed as [outer, n, inner]; y[o, i] = sum_k x[o, k, i]   (y viewed as [outer, inner]).
  virtual void sum_axis(const Tensor& x, Tensor& y, int64_t outer, int64_t n, int64_t inner) = 0;
  // y += alpha * x   (gradient accumulation, optimizer helpers)
  virtual void axpy(double alpha, const Tensor& x, Tensor& y) = 0;

  // ---- linear algebra (Gemm in kernels/common/op_types.h)
  virtual void gemm(const Gemm& g, const Tensor& a, const Tensor& b, Tensor& c) = 0;

  // ---- convolution (the masked variant skips invisible taps rather than multiplying by 0)
  virtual void conv2d_forward(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                              const Tensor& w, Tensor& y) = 0;
  // y = conv(x, w) + bias[k] for bias [K]. A backend that can start its GEMM from the bias
  // overrides this (one pass over y instead of two); the default adds it after the convolution.
  virtual void conv2d_forward_bias(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& x,
                                   const Tensor& w, const Tensor& bias, Tensor& y);
  virtual void conv2d_backward_data(const Conv2dGeometry& g, const ConvMask& mask, const Tensor& dy,
                                    const Tensor& w, Tensor& dx) = 0;
  virtual void conv2d_backward_weight(const Conv2dGeometry& g, const ConvMask& mask,
                                      const Tensor& x, const Tensor& dy, Tensor& dw) = 0;

  // ---- fused model kernels
  // logits [N, V, S] (V = 256 values, S positions), target [N, S] (uint8 or int32, < V);
  // nll [N] = sum_s -log softmax(logits[n, :, s])[target[n, s]].
  virtual void softmax_xent_forward(const Tensor& logits, const Tensor& target, Tensor& nll) = 0;
  // dlogits[n, v, s] = dnll[n] * (softmax(logits[n, :, s])[v] - [v == target[n, s]])
  virtual void softmax_xent_backward(const Tensor& logits, const Tensor& target, const Tensor& dnll,
                                     Tensor& dlogits) = 0;
  // Draws out[n, s] ~ softmax(logits[n, :, s] / temperature) with uniform U(seed, offset + n*S+s).
  virtual void sample_categorical(const Tensor& logits, double temperature, uint64_t seed,
                                  uint64_t offset, Tensor& out) = 0;

  // LSTM cell with fused gates. gates [N, 4H, S] ordered (i, f, o, g); c_prev, h, c [N, H, S]:
  // c = sigmoid(f) c_prev + sigmoid(i) tanh(g);  h = sigmoid(o) tanh(c).
  virtual void lstm_cell_forward(const Tensor& gates, const Tensor& c_prev, Tensor& h,
                                 Tensor& c) = 0;
  // dh or dc may be undefined (treated as zero).
  virtual void lstm_cell_backward(const Tensor& gates, const Tensor& c_prev, const Tensor& c,
                                  const Tensor& dh, const Tensor& dc, Tensor& dgates,
                                  Tensor& dc_prev) = 0;

  // z = mu + eps * exp(logvar / 2) with eps = N(seed, offset + i) written to `eps`.
  virtual void gaussian_sample_forward(const Tensor& mu, const Tensor& logvar, uint64_t seed,
                                       uint64_t offset, Tensor& eps, Tensor& z) = 0;
  // dmu = dz;  dlogvar = dz * eps * exp(logvar / 2) / 2
  virtual void gaussian_sample_backward(const Tensor& logvar, const Tensor& eps, const Tensor& dz,
                                        Tensor& dmu, Tensor& dlogvar) = 0;
  // mu, logvar [N, D]; kl [N] = sum_d -1/2 (1 + logvar - mu^2 - exp(logvar))
  virtual void kl_std_normal_forward(const Tensor& mu, const Tensor& logvar, Tensor& kl) = 0;
  virtual void kl_std_normal_backward(const Tensor& mu, const Tensor& logvar, const Tensor& dkl,
                                      Tensor& dmu, Tensor& dlogvar) = 0;
  // logits, target [N, S] (target in {0, 1}, float); nll [N] = sum_s softplus(l) - t l
  virtual void bernoulli_nll_forward(const Tensor& logits, const Tensor& target, Tensor& nll) = 0;
  virtual void bernoulli_nll_backward(const Tensor& logits, const Tensor& target,
                                      const Tensor& dnll, Tensor& dlogits) = 0;
  // x, mean, log_scale [N, S], x on the [-1, 1] grid of 256 levels; nll [N] is the negative
  // log-probability of x's bin under a logistic(mean, exp(log_scale)), end bins taking the tails.
  virtual void discretized_logistic_nll_forward(const Tensor& x, const Tensor& mean,
                                                const Tensor& log_scale, Tensor& nll) = 0;
  virtual void discretized_logistic_nll_backward(const Tensor& x, const Tensor& mean,
                                                 const Tensor& log_scale, const Tensor& dnll,
                                                 Tensor& dmean, Tensor& dlog_scale) = 0;

  // ---- optimizers (in place on param and state)
  virtual void adam_update(const AdamStep& s, Tensor& param, const Tensor& grad, Tensor& m,
                           Tensor& v) = 0;
  virtual void sgd_update(const SgdStep& s, Tensor& param, const Tensor& grad,
                          Tensor& momentum_buffer) = 0;
};

// The backend serving a device. Throws DeviceUnavailable (with what to do) when this build or
// machine has no such device.
Backend& backend_for(Device device);
bool device_available(Device device);
// Why a device is unavailable, for messages and skipped tests ("" when it is available).
std::string device_unavailable_reason(Device device);

}  // namespace gm
