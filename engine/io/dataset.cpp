#include "engine/io/dataset.h"

#include <cstring>
#include <filesystem>

#include "engine/io/cifar.h"
#include "engine/io/idx.h"
#include "engine/io/image_folder.h"

namespace gm::io {

Dataset Dataset::first(int64_t k) const {
  if (k <= 0 || k >= size()) return *this;
  std::vector<int64_t> indices(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i)
    indices[static_cast<size_t>(i)] = i;
  Dataset d = gather(indices);
  d.name = fmt::format("{} (first {})", name, k);
  return d;
}

Dataset Dataset::gather(const std::vector<int64_t>& indices) const {
  const int64_t n = static_cast<int64_t>(indices.size());
  const size_t image_bytes = static_cast<size_t>(channels() * height() * width());
  Dataset d;
  d.name = name;
  d.images = Tensor::empty({n, channels(), height(), width()}, DType::u8);
  d.labels = Tensor::empty({n}, DType::i32);
  const uint8_t* src = images.data<uint8_t>();
  const int32_t* src_labels = labels.data<int32_t>();
  uint8_t* dst = d.images.data<uint8_t>();
  int32_t* dst_labels = d.labels.data<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = indices[static_cast<size_t>(i)];
    GM_CHECK(j >= 0 && j < size(), "{}: image index {} out of range [0, {})", name, j, size());
    std::memcpy(dst + static_cast<size_t>(i) * image_bytes,
                src + static_cast<size_t>(j) * image_bytes, image_bytes);
    dst_labels[i] = src_labels[j];
  }
  return d;
}

void check_image_size(const ImageSize& size, const std::string& where) {
  if (size.channels != 1 && size.channels != 3)
    throw IoError(fmt::format("{}: images with {} channels; genmodel reads grey (1) or RGB (3)",
                              where, size.channels));
  const auto in_range = [](int64_t side) { return side >= 1 && side <= kMaxImageSide; };
  if (!in_range(size.height) || !in_range(size.width))
    throw IoError(fmt::format("{}: images of {}x{} pixels; height and width must be 1 to {}", where,
                              size.height, size.width, kMaxImageSide));
}

DataSource parse_data_source(const std::string& spec) {
  const size_t colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string dir = colon == std::string::npos ? "" : spec.substr(colon + 1);
  const char* forms = "fashion-mnist, fashion-mnist:DIR, mnist:DIR, cifar10:DIR or folder:DIR";
  if (kind == "fashion-mnist")
    return {DataSource::Format::idx, kind, dir.empty() ? kFashionMnistDir : dir};
  GM_CHECK(kind == "mnist" || kind == "cifar10" || kind == "folder",
           "unknown data set '{}': expected {}", spec, forms);
  GM_CHECK(!dir.empty(), "data set '{}' needs a directory: write {}:DIR", spec, kind);
  if (kind == "mnist") return {DataSource::Format::idx, kind, dir};
  if (kind == "cifar10") return {DataSource::Format::cifar10, kind, dir};
  return {DataSource::Format::folder, kind, dir};
}

DataSplits load_data(const DataSource& source, const FolderOptions& folder) {
  switch (source.format) {
    case DataSource::Format::idx:
      if (source.name == "fashion-mnist" && !std::filesystem::is_directory(source.dir))
        throw IoError(fmt::format(
            "Fashion-MNIST not found at '{}': run scripts/setup.sh (it installs the Debian "
            "package dataset-fashion-mnist), or pass --data mnist:DIR for other IDX files",
            source.dir));
      return read_mnist_dir(source.dir, source.name);
    case DataSource::Format::cifar10:
      return read_cifar10_dir(source.dir);
    case DataSource::Format::folder:
      return read_image_folder(source.dir, folder);
  }
  fail("unknown data format");
}

}  // namespace gm::io
