#pragma once
// The element types of tensors, shared by the engine and the kernels (nvcc compiles this
// header; engine/dtype.h adds the names, sizes and dispatch helpers).
#include <cstdint>

namespace gm {

enum class DType : uint8_t { f32, f64, u8, i32 };

}  // namespace gm
