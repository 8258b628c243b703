// Softmax cross-entropy over the V values of each position, and categorical sampling.
// Logits are [N, V, S]: the V values of one position are S elements apart. Rather than walk
// each position's column with stride S, the kernels sweep an image's rows v = 0..V-1 with the
// positions s innermost (contiguous, vectorisable), keeping a running max and sum per position.
// Per position that is exactly the arithmetic of math::softmax_stats, in the same order.
// The forward can keep each position's statistics (max and sum) for the backward, which then
// sweeps the logits once instead of three times (two for the statistics, one for the gradient).
#include <cmath>
#include <vector>

#include "kernels/common/philox.h"
#include "kernels/common/softmax_math.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/dispatch_target.h"

namespace gm {

namespace {

constexpr int64_t kParallelThreshold =
    32768;  // logits; below this threads cost more than they save

template <typename Target>
int64_t target_at(const Tensor& target, int64_t i) {
  return static_cast<int64_t>(static_cast<const Target*>(target.raw())[i]);
}

// Softmax statistics of every position of one image: xs points at logits[n], [V, S]. Kept as
// two arrays (max, sum) rather than an array of SoftmaxStats so each sweep over a row of S
// positions is a plain vector loop.
template <typename T>
struct ImageStats {
  std::vector<T> max;
  std::vector<double> sum;

  void compute(const T* xs, int64_t V, int64_t S) {
    max.assign(xs, xs + S);
    sum.assign(static_cast<size_t>(S), 0.0);
    T* m = max.data();
    double* total = sum.data();
    for (int64_t v = 1; v < V; ++v) {
      const T* row = xs + v * S;
      for (int64_t s = 0; s < S; ++s)
        m[s] = math::max_of(m[s], row[s]);
    }
    for (int64_t v = 0; v < V; ++v) {
      const T* row = xs + v * S;
      for (int64_t s = 0; s < S; ++s)
        total[s] += static_cast<double>(math::softmax_term(row[s], m[s]));
    }
  }
  math::SoftmaxStats<T> at(int64_t s) const {
    return {max[static_cast<size_t>(s)], sum[static_cast<size_t>(s)]};
  }
};

}  // namespace

namespace {

// The forward of every image; with `stats` (float64 [2, N, S]: each position's max, then its
// sum) the statistics are also kept for the backward.
void xent_forward(const Tensor& logits, const Tensor& target, Tensor& nll, double* stats) {
  const int64_t N = logits.size(0), V = logits.size(1), S = logits.size(2);
  dispatch_floating(logits.dtype(), "softmax_xent_forward", [&](auto zero) {
    using T = decltype(zero);
    dispatch_target(target, [&](auto target_zero) {
      using Target = decltype(target_zero);
      const T* xs = static_cast<const T*>(logits.raw());
      T* out = static_cast<T*>(nll.raw());
#pragma omp parallel if (N * V * S > kParallelThreshold)
      {
        ImageStats<T> st;
#pragma omp for
        for (int64_t n = 0; n < N; ++n) {
          const T* image = xs + n * V * S;
          st.compute(image, V, S);
          double total = 0.0;  // per-image sums in double
          for (int64_t s = 0; s < S; ++s) {
            const int64_t t = target_at<Target>(target, n * S + s);
            total += math::log_sum_exp(st.at(s)) - static_cast<double>(image[t * S + s]);
          }
          out[n] = static_cast<T>(total);
          if (!stats) continue;
          for (int64_t s = 0; s < S; ++s) {  // a float max is exact as a double
            stats[n * S + s] = static_cast<double>(st.max[static_cast<size_t>(s)]);
            stats[(N + n) * S + s] = st.sum[static_cast<size_t>(s)];
          }
        }
      }
    });
  });
}

// The backward of every image, from statistics kept by the forward (`stats` as above) or, when
// null, computed again from the logits: the same values either way.
void xent_backward(const Tensor& logits, const Tensor& target, const double* stats,
                   const Tensor& dnll, Tensor& dlogits) {
  const int64_t N = logits.size(0), V = logits.size(1), S = logits.size(2);
  dispatch_floating(logits.dtype(), "softmax_xent_backward", [&](auto zero) {
    using T = decltype(zero);
    dispatch_target(target, [&](auto target_zero) {
      using Target = decltype(target_zero);
      const T* xs = static_cast<const T*>(logits.raw());
      const T* dn = static_cast<const T*>(dnll.raw());
      T* dx = static_cast<T*>(dlogits.raw());
#pragma omp parallel if (N * V * S > kParallelThreshold)
      {
        ImageStats<T> st;
        std::vector<double> inv_sum;
        std::vector<int64_t> tgt;
#pragma omp for
        for (int64_t n = 0; n < N; ++n) {
          const T* image = xs + n * V * S;
          if (stats) {
            st.max.resize(static_cast<size_t>(S));
            st.sum.assign(stats + (N + n) * S, stats + (N + n + 1) * S);
            for (int64_t s = 0; s < S; ++s)
              st.max[static_cast<size_t>(s)] = static_cast<T>(stats[n * S + s]);
          } else {
            st.compute(image, V, S);
          }
          inv_sum.resize(static_cast<size_t>(S));
          tgt.resize(static_cast<size_t>(S));
          for (int64_t s = 0; s < S; ++s) {
            inv_sum[static_cast<size_t>(s)] = 1.0 / st.sum[static_cast<size_t>(s)];
            tgt[static_cast<size_t>(s)] = target_at<Target>(target, n * S + s);
          }
          const T* m = st.max.data();
          const double* inv = inv_sum.data();
          const int64_t* t = tgt.data();
          const T scale = dn[n];
          for (int64_t v = 0; v < V; ++v) {
            const T* row = image + v * S;
            T* drow = dx + (n * V + v) * S;
            for (int64_t s = 0; s < S; ++s)
              drow[s] = math::softmax_xent_grad(row[s], m[s], inv[s], t[s] == v, scale);
          }
        }
      }
    });
  });
}

}  // namespace

void CpuBackend::softmax_xent_forward(const Tensor& logits, const Tensor& target, Tensor& nll) {
  xent_forward(logits, target, nll, nullptr);
}

void CpuBackend::softmax_xent_forward_stats(const Tensor& logits, const Tensor& target, Tensor& nll,
                                            Tensor& stats) {
  xent_forward(logits, target, nll, stats.data<double>());
}

void CpuBackend::softmax_xent_backward(const Tensor& logits, const Tensor& target,
                                       const Tensor& dnll, Tensor& dlogits) {
  xent_backward(logits, target, nullptr, dnll, dlogits);
}

void CpuBackend::softmax_xent_backward_stats(const Tensor& logits, const Tensor& target,
                                             const Tensor& stats, const Tensor& dnll,
                                             Tensor& dlogits) {
  xent_backward(logits, target, stats.data<double>(), dnll, dlogits);
}

void CpuBackend::sample_categorical(const Tensor& logits, double temperature, uint64_t seed,
                                    uint64_t offset, Tensor& out) {
  const int64_t N = logits.size(0), V = logits.size(1), S = logits.size(2);
  dispatch_floating(logits.dtype(), "sample_categorical", [&](auto zero) {
    using T = decltype(zero);
    const T* xs = static_cast<const T*>(logits.raw());
    int32_t* ys = static_cast<int32_t*>(out.raw());
    // Sampling happens one position at a time during generation, so a column walk per
    // position (the GPU's one-thread-per-position layout) is all it needs.
#pragma omp parallel for collapse(2) if (N * S * V > kParallelThreshold)
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t s = 0; s < S; ++s) {
        const uint64_t index = static_cast<uint64_t>(n * S + s);
        const double u = philox::uniform(seed, offset, index);
        ys[n * S + s] = math::sample_inverse_cdf(xs + n * V * S + s, V, S, temperature, u);
      }
    }
  });
}

}  // namespace gm
