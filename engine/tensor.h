#pragma once
// Tensor: a handle to contiguous, row-major storage on one device, with a shape and dtype, plus
// the autograd fields (requires_grad, grad, the node that produced it). Views are not strided:
// reshape shares storage, every other layout change copies. That keeps every kernel simple.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/error.h"

namespace gm {

using Shape = std::vector<int64_t>;
int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);

class Backend;
class Generator;
struct Node;

// Device memory owned by one backend; freed through it.
struct Storage {
  Storage(Backend& backend, size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  Backend& backend;
  void* data = nullptr;
  size_t bytes = 0;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  DType dtype = DType::f32;
  Device device;

  // Autograd. A leaf that requires grad accumulates into `grad`; a non-leaf points at the
  // node that produced it (and which of the node's outputs it is).
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<Node> grad_fn;
  int output_index = 0;
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (no storage)
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = Device::cpu());
  static Tensor arange(int64_t n, DType dtype = DType::f32, Device device = Device::cpu());
  // Values are converted to `dtype`; their count must match the shape.
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape,
                            DType dtype = dtype_of<T>(), Device device = Device::cpu());
  // Philox-generated: the same generator state gives the same numbers on every device.
  static Tensor uniform(const Shape& shape, double low, double high, Generator& gen,
                        DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen,
                       DType dtype = DType::f32, Device device = Device::cpu());

  // ---- properties
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int64_t size(int dim) const;  // negative dims count from the end
  int ndim() const { return static_cast<int>(impl().shape.size()); }
  int64_t numel() const { return shape_numel(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().device; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  Backend& backend() const { return impl().storage->backend; }

  // Raw device pointer (for backends and kernels).
  void* raw() const { return impl().storage->data; }
  // Typed host pointer: requires a host-accessible device and the matching dtype.
  template <typename T>
  T* data() const;

  // ---- conversion and copies (never recorded by autograd unless stated)
  Tensor to(Device device) const;  // differentiable
  Tensor to(DType dtype) const;    // differentiable between float dtypes
  Tensor clone() const;            // a copy on the same device, not recorded
  template <typename T>
  std::vector<T> to_vector() const;   // copies to the host, converting to T
  double item() const;                // the value of a one-element tensor
  void copy_from(const Tensor& src);  // same shape; any dtype/device; not recorded

  // ---- autograd
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& set_requires_grad(bool value = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  Tensor grad() const { return Tensor(impl().grad); }
  void zero_grad() { impl().grad.reset(); }
  // Seeds d(this)/d(this) = 1 for a one-element tensor, or `seed` otherwise, and walks the
  // graph in reverse topological order, accumulating into the leaves' grad. `leaf_ready`, if
  // given, is called once for every leaf that requires grad as soon as no node still to run
  // can add to its gradient: data-parallel training starts reducing that gradient while the
  // rest of the pass runs (engine/distributed/gradient_reducer.h).
  void backward(const Tensor& seed = Tensor(),
                const std::function<void(const Tensor& leaf)>& leaf_ready = {}) const;
  Tensor detach() const;  // shares storage, no graph

  // ---- printing
  std::string to_string(int max_elements = 64) const;
  std::string describe() const;  // "float32[2, 3] on cpu"

  TensorImpl& impl() const {
    GM_CHECK(impl_, "use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Checks shared by ops: each throws ShapeError naming the op and the tensors involved.
void check_same_device(std::string_view op, const Tensor& a, const Tensor& b);
void check_same_dtype(std::string_view op, const Tensor& a, const Tensor& b);
void check_floating(std::string_view op, const Tensor& t);
void check_shape(std::string_view op, std::string_view name, const Tensor& t, const Shape& want);
void check_ndim(std::string_view op, std::string_view name, const Tensor& t, int ndim);

// ---- template definitions
template <typename T>
T* Tensor::data() const {
  GM_CHECK(device().host_accessible(), "data<{}>() on a tensor on {}: copy it with .to(cpu) first",
           dtype_name(dtype_of<T>()), device().name());
  GM_CHECK(dtype() == dtype_of<T>(), "data<{}>() on a {} tensor", dtype_name(dtype_of<T>()),
           dtype_name(dtype()));
  return static_cast<T*>(raw());
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, DType dtype,
                           Device device) {
  GM_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
           "from_vector: {} values for shape {} ({} elements)", values.size(), shape_str(shape),
           shape_numel(shape));
  Tensor host = empty(shape, dtype_of<T>(), Device::cpu());
  std::copy(values.begin(), values.end(), host.data<T>());
  if (dtype != dtype_of<T>()) host = host.to(dtype);
  return device == Device::cpu() ? host : host.to(device);
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = detach().to(Device::cpu());
  if (host.dtype() != dtype_of<T>()) host = host.to(dtype_of<T>());
  const T* p = host.data<T>();
  return std::vector<T>(p, p + host.numel());
}

}  // namespace gm
