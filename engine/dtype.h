#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/error.h"
#include "kernels/common/dtype.h"

namespace gm {

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32:
      return 4;
    case DType::f64:
      return 8;
    case DType::u8:
      return 1;
    case DType::i32:
      return 4;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "float32";
    case DType::f64:
      return "float64";
    case DType::u8:
      return "uint8";
    case DType::i32:
      return "int32";
  }
  return "?";
}

constexpr bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64;
}

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::u8;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::i32;
}

// Calls fn with a value of the C++ type matching a floating dtype: fn(float{}) or fn(double{}).
template <typename Fn>
decltype(auto) dispatch_floating(DType t, std::string_view what, Fn&& fn) {
  switch (t) {
    case DType::f32:
      return fn(float{});
    case DType::f64:
      return fn(double{});
    default:
      fail("{}: expected a float32 or float64 tensor, got {}", what, dtype_name(t));
  }
}

// Same for every dtype.
template <typename Fn>
decltype(auto) dispatch_any(DType t, Fn&& fn) {
  switch (t) {
    case DType::f32:
      return fn(float{});
    case DType::f64:
      return fn(double{});
    case DType::u8:
      return fn(uint8_t{});
    case DType::i32:
      return fn(int32_t{});
  }
  fail("unknown dtype {}", static_cast<int>(t));
}

}  // namespace gm

template <>
struct fmt::formatter<gm::DType> : fmt::formatter<std::string_view> {
  auto format(gm::DType t, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(gm::dtype_name(t), ctx);
  }
};
