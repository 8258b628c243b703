#include "engine/io/image_decode.h"

#include <fmt/format.h>
#include <png.h>
#include <turbojpeg.h>

#include <cctype>
#include <memory>

#include "engine/error.h"
#include "engine/size_product.h"

namespace gm::io {

namespace {

bool starts_with(std::span<const uint8_t> bytes, std::string_view signature) {
  return bytes.size() >= signature.size() &&
         std::equal(signature.begin(), signature.end(), bytes.begin(),
                    [](char a, uint8_t b) { return static_cast<uint8_t>(a) == b; });
}

void check_source_size(int64_t width, int64_t height, const std::string& path,
                       std::string_view format) {
  if (width < 1 || height < 1)
    throw IoError(fmt::format("'{}': the {} header declares {}x{} pixels: an empty image", path,
                              format, width, height));
  const std::optional<int64_t> pixels = size_product({width, height});
  if (width > kMaxSourceImageSide || height > kMaxSourceImageSide || !pixels ||
      *pixels > kMaxSourceImagePixels)
    throw IoError(
        fmt::format("'{}': the {} header declares {}x{} pixels, more than genmodel "
                    "reads ({} per side, {} in all): shrink the image first",
                    path, format, width, height, kMaxSourceImageSide, kMaxSourceImagePixels));
}

DecodedImage allocate(int64_t width, int64_t height) {
  DecodedImage image{width, height, {}};
  image.rgb.resize(static_cast<size_t>(width * height * 3));
  return image;
}

DecodedImage decode_png(std::span<const uint8_t> bytes, const std::string& path) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()))
    throw IoError(fmt::format("'{}': corrupt PNG: {}", path, png.message));
  try {
    check_source_size(png.width, png.height, path, "PNG");
  } catch (...) {
    png_image_free(&png);
    throw;
  }
  png.format = PNG_FORMAT_RGB;
  DecodedImage image = allocate(png.width, png.height);
  // libpng checks that the file holds every row it declares (and every CRC).
  if (!png_image_finish_read(&png, nullptr, image.rgb.data(), 0, nullptr))
    throw IoError(fmt::format("'{}': corrupt or truncated PNG: {}", path, png.message));
  return image;
}

DecodedImage decode_jpeg(std::span<const uint8_t> bytes, const std::string& path) {
  const std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitDecompress(), tjDestroy);
  if (!handle) throw IoError(fmt::format("'{}': cannot start the JPEG decoder", path));
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle.get(), bytes.data(), bytes.size(), &width, &height, &subsampling,
                          &colorspace) != 0)
    throw IoError(fmt::format("'{}': corrupt JPEG header: {}", path, tjGetErrorStr2(handle.get())));
  check_source_size(width, height, path, "JPEG");
  DecodedImage image = allocate(width, height);
  // STOPONWARNING: libjpeg only warns about a file cut short (and fills the rest with grey);
  // LIMITSCANS: a progressive file of thousands of scans takes minutes to decode.
  if (tjDecompress2(handle.get(), bytes.data(), bytes.size(), image.rgb.data(), width, 0, height,
                    TJPF_RGB, TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0)
    throw IoError(
        fmt::format("'{}': corrupt or truncated JPEG: {}", path, tjGetErrorStr2(handle.get())));
  return image;
}

// Binary PGM (P5) and PPM (P6), 8 bits per sample: a text header of width, height and maximum
// value separated by whitespace (and '#' comments), one whitespace byte, then the samples.
class PnmParser {
 public:
  PnmParser(std::span<const uint8_t> bytes, const std::string& path) : bytes_(bytes), path_(path) {}

  DecodedImage parse() {
    const bool colour = bytes_[1] == '6';
    pos_ = 2;
    const int64_t width = number("width"), height = number("height"),
                  max_value = number("maximum value");
    if (max_value < 1 || max_value > 255)
      bad(fmt::format("maximum value {}: genmodel reads 8-bit files (1 to 255)", max_value));
    check_source_size(width, height, path_, colour ? "PPM" : "PGM");
    ++pos_;  // the single whitespace byte after the maximum value
    const int64_t channels = colour ? 3 : 1, samples = width * height * channels;
    if (pos_ > bytes_.size() || static_cast<int64_t>(bytes_.size() - pos_) < samples)
      bad(fmt::format("truncated: the header declares {}x{} pixels ({} bytes), the file holds {}",
                      width, height, samples, pos_ > bytes_.size() ? 0 : bytes_.size() - pos_));
    DecodedImage image = allocate(width, height);
    for (int64_t i = 0; i < width * height * 3; ++i) {
      const uint8_t sample = bytes_[pos_ + static_cast<size_t>(colour ? i : i / 3)];
      image.rgb[static_cast<size_t>(i)] =
          static_cast<uint8_t>((sample * 255 + max_value / 2) / max_value);
    }
    return image;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const {
    throw IoError(fmt::format("'{}': corrupt PGM/PPM file: {}", path_, what));
  }

  void skip_space_and_comments() {
    while (pos_ < bytes_.size()) {
      if (bytes_[pos_] == '#') {
        while (pos_ < bytes_.size() && bytes_[pos_] != '\n')
          ++pos_;
      } else if (std::isspace(bytes_[pos_])) {
        ++pos_;
      } else {
        return;
      }
    }
  }

  int64_t number(std::string_view what) {
    skip_space_and_comments();
    int64_t value = 0;
    const size_t start = pos_;
    while (pos_ < bytes_.size() && std::isdigit(bytes_[pos_]) && pos_ - start < 9)
      value = value * 10 + (bytes_[pos_++] - '0');
    if (pos_ == start) bad(fmt::format("the header has no {}", what));
    if (pos_ < bytes_.size() && std::isdigit(bytes_[pos_]))
      bad(fmt::format("the header's {} has more than 9 digits", what));
    return value;
  }

  std::span<const uint8_t> bytes_;
  const std::string& path_;
  size_t pos_ = 0;
};

}  // namespace

DecodedImage decode_image(std::span<const uint8_t> bytes, const std::string& path) {
  if (starts_with(bytes, "\x89PNG\r\n\x1a\n")) return decode_png(bytes, path);
  if (starts_with(bytes, "\xff\xd8\xff")) return decode_jpeg(bytes, path);
  if (starts_with(bytes, "P5") || starts_with(bytes, "P6")) return PnmParser(bytes, path).parse();
  const bool tga = path.size() >= 4 && (path.ends_with(".tga") || path.ends_with(".TGA"));
  const char* refused = starts_with(bytes, "BM")                                       ? "BMP"
                        : starts_with(bytes, "GIF87a") || starts_with(bytes, "GIF89a") ? "GIF"
                        : starts_with(bytes, "P2") || starts_with(bytes, "P3") ? "text PGM/PPM"
                        : tga                                                  ? "TGA"
                                                                               : nullptr;
  if (refused)
    throw IoError(
        fmt::format("'{}': {} images are not read (genmodel decodes PNG, JPEG and binary "
                    "PGM/PPM with decoders safe on any file): convert it, e.g. "
                    "`convert '{}' '{}.png'`",
                    path, refused, path, path));
  throw IoError(fmt::format("'{}': not a PNG, JPEG or binary PGM/PPM file ({} bytes{})", path,
                            bytes.size(), bytes.empty() ? ": the file is empty" : ""));
}

}  // namespace gm::io
