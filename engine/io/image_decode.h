#pragma once
// Decoding one image file for the image-folder reader, with decoders that are safe on files
// from anywhere: PNG through libpng, JPEG through libjpeg-turbo (both maintained and
// fuzzed upstream, security-patched by Debian), binary PGM/PPM through our own parser. BMP, GIF
// and TGA are refused with a message that says to convert them: docs/data.md explains why.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace gm::io {

// Source images larger than this are refused before their pixels are allocated (a 100-byte
// file can declare gigapixels). The data readers then resize to at most kMaxImageSide.
inline constexpr int64_t kMaxSourceImageSide = 8192;
inline constexpr int64_t kMaxSourceImagePixels = int64_t{1} << 25;  // 32 Mpixel, 96 MiB as RGB
// Larger image files are refused before they are read whole.
inline constexpr uint64_t kMaxImageFileBytes = uint64_t{256} << 20;

struct DecodedImage {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // interleaved [height, width, 3]
};

// Decodes `bytes` (the contents of the file `path`, named in errors) by their signature, not
// the file name. Throws IoError naming the file and the format for a truncated or corrupt
// file, a zero or too large size, or a format genmodel does not decode.
DecodedImage decode_image(std::span<const uint8_t> bytes, const std::string& path);

}  // namespace gm::io
