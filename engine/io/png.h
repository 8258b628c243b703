#pragma once
// Pictures out: image grids (samples, reconstructions, receptive fields) as PNG files.
#include <cstdint>
#include <string>

#include "engine/tensor.h"

namespace gm::io {

struct GridOptions {
  int64_t border = 2;          // pixels between and around the tiles
  uint8_t border_value = 128;  // mid grey: visible on black and on white images
  int64_t columns = 0;         // 0: near-square, ceil(sqrt(N)) columns
  int64_t scale = 0;           // integer nearest-neighbour upscaling; 0: enough for tiles >= 56 px
};

// Pictures are at most this large: 16384 pixels per side (a grid of 64 tiles of 64x64 at scale
// 16 fits) and 64 Mpixel in all (192 MiB as RGB).
inline constexpr int64_t kMaxGridSide = 16384;
inline constexpr int64_t kMaxGridPixels = int64_t{1} << 26;

// uint8 [N, C, H, W] (C = 1 or 3) -> one uint8 [C, rows*(H*s+b)+b, cols*(W*s+b)+b] picture,
// tiles in row-major order; unused tiles stay the border colour. Throws gm::Error when the
// picture would exceed kMaxGridSide or kMaxGridPixels.
Tensor make_grid(const Tensor& images, const GridOptions& options = {});

// Writes uint8 [C, H, W] (C = 1 grey, 3 RGB) as a PNG, atomically: a temporary file in the
// same folder renamed over `path`, so a reader never sees half a picture.
void write_png(const std::string& path, const Tensor& image);

inline void write_image_grid(const std::string& path, const Tensor& images,
                             const GridOptions& options = {}) {
  write_png(path, make_grid(images, options));
}

}  // namespace gm::io
