#include "kernels/cpu/cpu_backend.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/common/philox.h"

namespace gm {

CpuBackend& cpu_backend() {
  static CpuBackend backend;  // one instance (and one block cache) serves every cpu tensor
  return backend;
}

void* CpuBackend::allocate(size_t bytes) {
  return cache_.allocate(bytes);
}

void CpuBackend::deallocate(void* ptr, size_t bytes) {
  cache_.deallocate(ptr, bytes);
}
void CpuBackend::copy_from_host(void* dst, const void* src, size_t n) {
  std::memcpy(dst, src, n);
}
void CpuBackend::copy_to_host(void* dst, const void* src, size_t n) {
  std::memcpy(dst, src, n);
}
void CpuBackend::copy_within(void* dst, const void* src, size_t n) {
  std::memmove(dst, src, n);
}

void CpuBackend::synchronize() {}

void CpuBackend::fill(Tensor& y, double value) {
  dispatch_any(y.dtype(), [&](auto zero) {
    using T = decltype(zero);
    std::fill_n(static_cast<T*>(y.raw()), y.numel(), static_cast<T>(value));
  });
}

void CpuBackend::arange(Tensor& y) {
  dispatch_any(y.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* p = static_cast<T*>(y.raw());
    const int64_t n = y.numel();  // once: numel() is an out-of-line call the loop cannot hoist
    for (int64_t i = 0; i < n; ++i)
      p[i] = static_cast<T>(i);
  });
}

void CpuBackend::cast(const Tensor& x, Tensor& y) {
  dispatch_any(x.dtype(), [&](auto x_zero) {
    dispatch_any(y.dtype(), [&](auto y_zero) {
      using X = decltype(x_zero);
      using Y = decltype(y_zero);
      const X* src = static_cast<const X*>(x.raw());
      Y* dst = static_cast<Y*>(y.raw());
      // numel() once: it is an out-of-line call, and in the loop's condition it kept the loop
      // from vectorising (3.5 % of vae-ref's step went to it, casting images and checking them).
      const int64_t n = x.numel();
      for (int64_t i = 0; i < n; ++i)
        dst[i] = static_cast<Y>(src[i]);
    });
  });
}

void CpuBackend::fill_uniform(Tensor& y, uint64_t seed, uint64_t offset, double low, double high) {
  dispatch_floating(y.dtype(), "fill_uniform", [&](auto zero) {
    using T = decltype(zero);
    T* p = static_cast<T*>(y.raw());
    const int64_t n = y.numel();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i)
      p[i] = static_cast<T>(low +
                            (high - low) * philox::uniform(seed, offset, static_cast<uint64_t>(i)));
  });
}

void CpuBackend::fill_normal(Tensor& y, uint64_t seed, uint64_t offset, double mean,
                             double stddev) {
  dispatch_floating(y.dtype(), "fill_normal", [&](auto zero) {
    using T = decltype(zero);
    T* p = static_cast<T*>(y.raw());
    const int64_t n = y.numel();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i)
      p[i] = static_cast<T>(mean + stddev * philox::normal(seed, offset, static_cast<uint64_t>(i)));
  });
}

namespace {

// One row of a strided copy with the element size known at compile time, so that gathers and
// scatters (transposes, skews, flips) become plain moves rather than a memcpy call per element.
template <size_t kBytes>
void copy_row(char* dst, const char* src, int64_t n, int64_t ds, int64_t ss) {
  const int64_t db = ds * static_cast<int64_t>(kBytes), sb = ss * static_cast<int64_t>(kBytes);
  for (int64_t k = 0; k < n; ++k)
    std::memcpy(dst + k * db, src + k * sb, kBytes);
}

}  // namespace

void CpuBackend::strided_copy(const Tensor& src, Tensor& dst, const StridedCopy& box) {
  const int64_t elem = static_cast<int64_t>(dtype_size(src.dtype()));
  const char* s = static_cast<const char*>(src.raw());
  char* d = static_cast<char*>(dst.raw());
  if (box.empty()) return;  // an empty tensor may have no storage to point into
  if (box.ndim == 0) {
    std::memcpy(d + box.dst_offset * elem, s + box.src_offset * elem, static_cast<size_t>(elem));
    return;
  }
  // Walk every index of the box but the last dimension, copying a row at a time.
  const int last = box.ndim - 1;
  int64_t rows = 1;
  for (int i = 0; i < last; ++i)
    rows *= box.extent[i];
  const int64_t row_len = box.extent[last];
  const int64_t ss = box.src_stride[last], ds = box.dst_stride[last];
#pragma omp parallel for if (rows * row_len > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, so = box.src_offset, dof = box.dst_offset;
    for (int i = last - 1; i >= 0; --i) {
      int64_t idx = rem % box.extent[i];
      rem /= box.extent[i];
      so += idx * box.src_stride[i];
      dof += idx * box.dst_stride[i];
    }
    char* dr = d + dof * elem;
    const char* sr = s + so * elem;
    if (ss == 1 && ds == 1) {
      std::memcpy(dr, sr, static_cast<size_t>(row_len * elem));
    } else if (elem == 4) {
      copy_row<4>(dr, sr, row_len, ds, ss);
    } else if (elem == 8) {
      copy_row<8>(dr, sr, row_len, ds, ss);
    } else {
      for (int64_t k = 0; k < row_len; ++k)
        std::memcpy(dr + k * ds * elem, sr + k * ss * elem, static_cast<size_t>(elem));
    }
  }
}

}  // namespace gm
