#include "engine/io/idx.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <filesystem>

#include "engine/io/file_bytes.h"
#include "engine/ops.h"
#include "engine/size_product.h"

namespace gm::io {

namespace {

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// The first existing file among `stem` spelled with '-' or '.' before "idxN", plain or .gz.
std::string find_idx_file(const std::string& dir, const std::string& prefix,
                          const std::string& suffix) {
  std::vector<std::string> tried;
  for (const char* sep : {"-", "."})
    for (const char* gz : {"", ".gz"}) {
      const std::string name = prefix + sep + suffix + gz;
      const std::filesystem::path path = std::filesystem::path(dir) / name;
      if (std::filesystem::exists(path)) return path.string();
      tried.push_back(name);
    }
  throw IoError(
      fmt::format("'{}': no {} file (looked for {})", dir, prefix, fmt::join(tried, ", ")));
}

}  // namespace

Tensor read_idx(const std::string& path, int ndim) {
  InputFile file(path);
  std::vector<uint8_t> bytes;
  file.read(bytes, 4);
  const uint32_t want_magic = 0x0800u | static_cast<uint32_t>(ndim);
  if (bytes.size() < 4)
    throw IoError(
        fmt::format("'{}': {} bytes, too short for an IDX header (expected magic 0x{:08x})", path,
                    bytes.size(), want_magic));
  const uint32_t magic = big_endian_u32(bytes.data());
  if (magic != want_magic) {
    throw IoError(fmt::format(
        "'{}': IDX magic 0x{:08x}, expected 0x{:08x} (unsigned bytes, {} dimension{}): {}", path,
        magic, want_magic, ndim, ndim == 1 ? "" : "s",
        (magic & 0xff) != static_cast<uint32_t>(ndim)
            ? fmt::format("the file has {} dimensions; is it the {} file?", magic & 0xff,
                          ndim == 1 ? "images and not the labels" : "labels and not the images")
            : "not an unsigned-byte IDX file"));
  }
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  file.read(bytes, header - 4);
  if (bytes.size() < header)
    throw IoError(fmt::format("'{}': truncated header: {} bytes, expected at least {}", path,
                              bytes.size(), header));
  Shape shape;
  for (int d = 0; d < ndim; ++d)
    shape.push_back(big_endian_u32(bytes.data() + 4 + 4 * static_cast<size_t>(d)));
  // Each dimension is below 2^32, but their product can exceed 2^64.
  const std::optional<int64_t> declared = size_product(shape);
  if (!declared)
    throw IoError(
        fmt::format("'{}': the header declares shape {}, more than 2^63 bytes: the "
                    "file is corrupt or not an IDX file",
                    path, shape_str(shape)));
  const auto want = static_cast<uint64_t>(*declared);
  // One byte more than declared tells a long file from an exact one, without reading it all.
  std::vector<uint8_t> data;
  const uint64_t found = file.read(data, want + 1);
  if (found != want)
    throw IoError(
        fmt::format("'{}': the header declares shape {} ({} bytes of data), found {} bytes ({})",
                    path, shape_str(shape), want,
                    found > want ? fmt::format("more than {}", want) : fmt::to_string(found),
                    found < want ? "short: the file is truncated"
                                 : "long: the file is not what its header says"));
  Tensor t = Tensor::empty(shape, DType::u8);
  if (want) std::memcpy(t.data<uint8_t>(), data.data(), want);
  return t;
}

Dataset read_idx_pair(const std::string& images_path, const std::string& labels_path,
                      const std::string& name) {
  Tensor images = read_idx(images_path, 3);
  check_image_size({1, images.size(1), images.size(2)}, images_path);
  if (images.size(0) == 0)
    throw IoError(fmt::format("'{}': the file holds no images", images_path));
  Tensor labels = read_idx(labels_path, 1);
  if (images.size(0) != labels.size(0))
    throw IoError(
        fmt::format("'{}' has {} labels but '{}' has {} images: expected one label per "
                    "image (mismatched files?)",
                    labels_path, labels.size(0), images_path, images.size(0)));
  Dataset d;
  d.name = name;
  d.images = reshape(images, {images.size(0), 1, images.size(1), images.size(2)});
  d.labels = labels.to(DType::i32);
  return d;
}

DataSplits read_mnist_dir(const std::string& dir, const std::string& name) {
  if (!std::filesystem::is_directory(dir))
    throw IoError(fmt::format("{} directory '{}' does not exist", name, dir));
  DataSplits s;
  s.train = read_idx_pair(find_idx_file(dir, "train-images", "idx3-ubyte"),
                          find_idx_file(dir, "train-labels", "idx1-ubyte"), name + " train");
  s.test = read_idx_pair(find_idx_file(dir, "t10k-images", "idx3-ubyte"),
                         find_idx_file(dir, "t10k-labels", "idx1-ubyte"), name + " test");
  if (s.train.images.size(2) != s.test.images.size(2) ||
      s.train.images.size(3) != s.test.images.size(3))
    throw IoError(fmt::format("'{}': train images are {}x{} but test images are {}x{}", dir,
                              s.train.images.size(2), s.train.images.size(3), s.test.images.size(2),
                              s.test.images.size(3)));
  return s;
}

}  // namespace gm::io
