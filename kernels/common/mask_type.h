#pragma once
// The kinds of PixelCNN mask (reference-models.md): type A hides the centre tap, type B shows
// it. A header of its own so that device code (kernels/common/mask.h under nvcc) can use it
// without the engine's headers.
#include <cstdint>

namespace gm {

enum class MaskType : uint8_t { none, A, B };

}  // namespace gm
