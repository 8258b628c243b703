#include "engine/tensor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/random.h"
#include "engine/size_product.h"

namespace gm {

int64_t shape_numel(const Shape& shape) {
  const std::optional<int64_t> n = size_product(shape);
  if (!n)
    throw ShapeError(
        fmt::format("shape {} has a negative size or more than 2^63 elements", shape_str(shape)));
  return *n;
}

std::string shape_str(const Shape& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

Storage::Storage(Backend& b, size_t nbytes) : backend(b), bytes(nbytes) {
  data = nbytes ? backend.allocate(nbytes) : nullptr;
}

Storage::~Storage() {
  if (data) backend.deallocate(data, bytes);
}

// ---- creation

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) {
    GM_CHECK(d >= 0, "cannot create a tensor of shape {}: negative size", shape_str(shape));
  }
  GM_CHECK(static_cast<int>(shape.size()) <= kMaxDims, "tensor of rank {} (shape {}): at most {}",
           shape.size(), shape_str(shape), kMaxDims);
  const std::optional<int64_t> bytes =
      size_product({shape_numel(shape), static_cast<int64_t>(dtype_size(dtype))});
  GM_CHECK(bytes.has_value(), "cannot create a {} tensor of shape {}: more than 2^63 bytes",
           dtype_name(dtype), shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  Backend& backend = backend_for(device);
  impl->storage = std::make_shared<Storage>(backend, static_cast<size_t>(*bytes));
  impl->shape = shape;
  impl->dtype = dtype;
  impl->device = device;
  return Tensor(std::move(impl));
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (t.numel() > 0) t.backend().fill(t, value);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}

Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
  Tensor t = empty({n}, dtype, device);
  if (n > 0) t.backend().arange(t);
  return t;
}

Tensor Tensor::uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype,
                       Device device) {
  GM_CHECK(is_floating(dtype), "uniform: dtype must be float32 or float64, got {}",
           dtype_name(dtype));
  Tensor t = empty(shape, dtype, device);
  uint64_t offset = gen.advance(static_cast<uint64_t>(t.numel()));
  if (t.numel() > 0) t.backend().fill_uniform(t, gen.seed(), offset, low, high);
  return t;
}

Tensor Tensor::normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype,
                      Device device) {
  GM_CHECK(is_floating(dtype), "normal: dtype must be float32 or float64, got {}",
           dtype_name(dtype));
  Tensor t = empty(shape, dtype, device);
  uint64_t offset = gen.advance(static_cast<uint64_t>(t.numel()));
  if (t.numel() > 0) t.backend().fill_normal(t, gen.seed(), offset, mean, stddev);
  return t;
}

// ---- properties

int64_t Tensor::size(int dim) const {
  int n = ndim();
  int d = dim < 0 ? dim + n : dim;
  GM_CHECK(d >= 0 && d < n, "dimension {} out of range for a tensor of shape {}", dim,
           shape_str(shape()));
  return shape()[static_cast<size_t>(d)];
}

// ---- copies

void Tensor::copy_from(const Tensor& src) {
  GM_CHECK(src.shape() == shape(), "copy_from: source shape {} differs from destination {}",
           shape_str(src.shape()), shape_str(shape()));
  if (numel() == 0) return;
  Tensor source = src;
  if (source.dtype() != dtype()) {
    // Convert on the source's device, then move the bytes.
    Tensor converted = empty(shape(), dtype(), source.device());
    source.backend().cast(source, converted);
    source = converted;
  }
  const Device from = source.device(), to = device();
  if (from == to) {
    backend().copy_within(raw(), source.raw(), nbytes());
  } else if (from.host_accessible()) {
    backend().copy_from_host(raw(), source.raw(), nbytes());
  } else if (to.host_accessible()) {
    source.backend().copy_to_host(raw(), source.raw(), nbytes());
  } else {
    Tensor staging = empty(shape(), dtype(), Device::cpu());
    source.backend().copy_to_host(staging.raw(), source.raw(), nbytes());
    backend().copy_from_host(raw(), staging.raw(), nbytes());
  }
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  out.copy_from(*this);
  return out;
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor out = empty(shape(), dtype(), target);
  out.copy_from(*this);
  Device source = device();
  record("to_device", {*this}, {&out},
         [source](const std::vector<Tensor>& g) { return std::vector<Tensor>{g[0].to(source)}; });
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = empty(shape(), target, device());
  if (numel() > 0) backend().cast(*this, out);
  DType source = dtype();
  if (is_floating(source) && is_floating(target)) {
    record("to_dtype", {*this}, {&out},
           [source](const std::vector<Tensor>& g) { return std::vector<Tensor>{g[0].to(source)}; });
  }
  return out;
}

double Tensor::item() const {
  GM_CHECK(numel() == 1, "item() on a tensor with {} elements (shape {})", numel(),
           shape_str(shape()));
  return to_vector<double>()[0];
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = this->impl().storage;
  impl->shape = shape();
  impl->dtype = dtype();
  impl->device = device();
  return Tensor(std::move(impl));
}

Tensor& Tensor::set_requires_grad(bool value) {
  GM_CHECK(!value || is_floating(dtype()), "only float tensors can require grad, got {}",
           dtype_name(dtype()));
  GM_CHECK(is_leaf(), "set_requires_grad on a non-leaf tensor: use detach() first");
  impl().requires_grad = value;
  return *this;
}

// ---- printing

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return fmt::format("{}{} on {}", dtype_name(dtype()), shape_str(shape()), device().name());
}

std::string Tensor::to_string(int max_elements) const {
  if (!defined()) return "tensor(undefined)";
  std::vector<double> v = to_vector<double>();
  std::string body;
  const size_t shown = std::min(v.size(), static_cast<size_t>(std::max(max_elements, 0)));
  for (size_t i = 0; i < shown; ++i) {
    if (i) body += ", ";
    body += is_floating(dtype()) ? fmt::format("{:.6g}", v[i]) : fmt::format("{}", v[i]);
  }
  if (shown < v.size()) body += fmt::format(", ... ({} more)", v.size() - shown);
  return fmt::format("tensor({}, [{}])", describe(), body);
}

// ---- checks

void check_same_device(std::string_view op, const Tensor& a, const Tensor& b) {
  if (a.device() != b.device())
    throw ShapeError(
        fmt::format("{}: tensors on different devices ({} and {}); move one with .to()", op,
                    a.describe(), b.describe()));
}

void check_same_dtype(std::string_view op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    throw ShapeError(fmt::format("{}: dtypes differ ({} and {}); convert one with .to(dtype)", op,
                                 a.describe(), b.describe()));
}

void check_floating(std::string_view op, const Tensor& t) {
  if (!is_floating(t.dtype()))
    throw ShapeError(
        fmt::format("{}: expected a float32 or float64 tensor, got {}", op, t.describe()));
}

void check_shape(std::string_view op, std::string_view name, const Tensor& t, const Shape& want) {
  if (t.shape() != want)
    throw ShapeError(fmt::format("{}: {} has shape {}, expected {}", op, name, shape_str(t.shape()),
                                 shape_str(want)));
}

void check_ndim(std::string_view op, std::string_view name, const Tensor& t, int ndim) {
  if (t.ndim() != ndim)
    throw ShapeError(fmt::format("{}: {} must have {} dimensions, got shape {}", op, name, ndim,
                                 shape_str(t.shape())));
}

}  // namespace gm
