#include "engine/io/png.h"

#include <stb_image_write.h>

#include <cmath>
#include <span>
#include <vector>

#include "engine/io/atomic_file.h"
#include "engine/size_product.h"

namespace gm::io {

Tensor make_grid(const Tensor& images, const GridOptions& o) {
  GM_CHECK(images.dtype() == DType::u8 && images.ndim() == 4,
           "make_grid: expected uint8 images [N, C, H, W], got {}", images.describe());
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  GM_CHECK(n > 0, "make_grid: no images");
  GM_CHECK(h > 0 && w > 0, "make_grid: images of {}x{} pixels, expected at least 1x1", h, w);
  GM_CHECK(c == 1 || c == 3, "make_grid: images have {} channels, expected 1 (grey) or 3 (RGB)", c);
  GM_CHECK(o.border >= 0 && o.scale >= 0 && o.columns >= 0,
           "make_grid: border, scale and columns must not be negative");
  const int64_t cols = o.columns > 0
                           ? o.columns
                           : static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  const int64_t rows = (n + cols - 1) / cols;
  const int64_t scale = o.scale > 0 ? o.scale : std::max<int64_t>(1, (56 + h - 1) / h);
  // Options come from the command line: every size is a checked product, and the grid is
  // bounded before anything is allocated.
  const int64_t b = o.border;
  const auto side = [&](int64_t tiles, int64_t pixels) {
    const std::optional<int64_t> tile = size_product({pixels, scale});
    const std::optional<int64_t> span =
        tile ? size_product({tiles, *tile + b}) : std::optional<int64_t>();
    return span && *span + b <= kMaxGridSide ? *span + b : int64_t{-1};
  };
  const int64_t out_h = side(rows, h), out_w = side(cols, w);
  GM_CHECK(out_h > 0 && out_w > 0 && out_h * out_w <= kMaxGridPixels,
           "make_grid: {} images of {}x{} pixels in {} columns at scale {} make a picture larger "
           "than {} pixels per side or {} pixels in all: use a smaller scale or fewer images",
           n, h, w, cols, scale, kMaxGridSide, kMaxGridPixels);
  const int64_t th = h * scale, tw = w * scale;
  Tensor host = images.to(Device::cpu());
  Tensor grid = Tensor::full({c, out_h, out_w}, o.border_value, DType::u8);
  const uint8_t* src = host.data<uint8_t>();
  uint8_t* dst = grid.data<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t top = b + (i / cols) * (th + b), left = b + (i % cols) * (tw + b);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < th; ++y)
        for (int64_t x = 0; x < tw; ++x)
          dst[(ch * out_h + top + y) * out_w + left + x] =
              src[((i * c + ch) * h + y / scale) * w + x / scale];
  }
  return grid;
}

void write_png(const std::string& path, const Tensor& image) {
  GM_CHECK(
      image.dtype() == DType::u8 && image.ndim() == 3 && (image.size(0) == 1 || image.size(0) == 3),
      "write_png('{}'): expected uint8 [C, H, W] with C = 1 or 3, got {}", path, image.describe());
  GM_CHECK(image.size(1) > 0 && image.size(2) > 0 && image.size(1) <= kMaxGridSide &&
               image.size(2) <= kMaxGridSide,
           "write_png('{}'): a picture of {}x{} pixels; the sides must be 1 to {}", path,
           image.size(1), image.size(2), kMaxGridSide);
  const int c = static_cast<int>(image.size(0)), h = static_cast<int>(image.size(1)),
            w = static_cast<int>(image.size(2));
  const size_t plane = static_cast<size_t>(h) * static_cast<size_t>(w);
  Tensor host = image.to(Device::cpu());
  const uint8_t* planar = host.data<uint8_t>();
  std::vector<uint8_t> interleaved(plane * static_cast<size_t>(c));
  for (size_t ch = 0; ch < static_cast<size_t>(c); ++ch)
    for (size_t i = 0; i < plane; ++i)
      interleaved[i * static_cast<size_t>(c) + ch] = planar[ch * plane + i];
  std::vector<uint8_t> encoded;
  auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    const auto* bytes = static_cast<const uint8_t*>(data);
    out->insert(out->end(), bytes, bytes + size);
  };
  if (!stbi_write_png_to_func(append, &encoded, w, h, c, interleaved.data(), w * c))
    throw IoError(fmt::format("'{}': PNG encoding failed ({}x{}, {} channels)", path, w, h, c));
  write_file_atomic(path, std::as_bytes(std::span(encoded)));
}

}  // namespace gm::io
