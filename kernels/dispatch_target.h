#pragma once
// Calls fn(Target{}) with the C++ type of an integer class-target tensor (uint8 pixels or int32
// labels): the one place both backends' softmax cross-entropy resolve the target type.
#include <cstdint>

#include "engine/tensor.h"

namespace gm {

template <typename Fn>
void dispatch_target(const Tensor& target, Fn&& fn) {
  if (target.dtype() == DType::u8) {
    fn(uint8_t{});
  } else if (target.dtype() == DType::i32) {
    fn(int32_t{});
  } else {
    fail("softmax_xent: target must be uint8 or int32, got {}", target.describe());
  }
}

}  // namespace gm
