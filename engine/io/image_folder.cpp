#include "engine/io/image_folder.h"

#include <stb_image_resize.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

#include "engine/io/file_bytes.h"
#include "engine/io/image_decode.h"

namespace gm::io {

namespace fs = std::filesystem;

namespace {

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* known : {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".ppm", ".pgm"})
    if (ext == known) return true;
  return false;
}

std::vector<fs::path> sorted_entries(const fs::path& dir, bool directories) {
  std::vector<fs::path> out;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (directories ? e.is_directory() : (e.is_regular_file() && is_image_file(e.path())))
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

struct LabelledFile {
  fs::path path;
  int32_t label;
};

// Files of one split folder with their labels; `classes` is filled from the train split and
// checked against by the test split.
std::vector<LabelledFile> list_split(const fs::path& dir, std::vector<std::string>& classes,
                                     bool define_classes) {
  const std::vector<fs::path> subdirs = sorted_entries(dir, true);
  const std::vector<fs::path> loose = sorted_entries(dir, false);
  std::vector<LabelledFile> files;
  if (subdirs.empty()) {
    for (const fs::path& p : loose)
      files.push_back({p, 0});
    return files;
  }
  if (!loose.empty())
    throw IoError(
        fmt::format("'{}' mixes images ({} ...) with class folders ({} ...): put every "
                    "image in a class folder, or remove the folders",
                    dir.string(), loose[0].filename().string(), subdirs[0].filename().string()));
  if (define_classes)
    for (const fs::path& s : subdirs)
      classes.push_back(s.filename().string());
  for (const fs::path& s : subdirs) {
    const auto it = std::find(classes.begin(), classes.end(), s.filename().string());
    if (it == classes.end())
      throw IoError(fmt::format("'{}': class folder '{}' does not exist in the train split",
                                dir.string(), s.filename().string()));
    for (const fs::path& p : sorted_entries(s, false))
      files.push_back({p, static_cast<int32_t>(it - classes.begin())});
  }
  return files;
}

Dataset load_files(const std::vector<LabelledFile>& files, const FolderOptions& shape,
                   const std::string& name, const fs::path& dir) {
  if (files.empty()) throw IoError(fmt::format("'{}': no images found ({})", dir.string(), name));
  const int64_t n = static_cast<int64_t>(files.size());
  Dataset d;
  d.name = name;
  d.images = Tensor::empty({n, shape.channels, shape.height, shape.width}, DType::u8);
  d.labels = Tensor::empty({n}, DType::i32);
  const size_t image_bytes = static_cast<size_t>(shape.channels * shape.height * shape.width);
  for (int64_t i = 0; i < n; ++i) {
    const LabelledFile& f = files[static_cast<size_t>(i)];
    Tensor image = read_image(f.path.string(), shape);
    std::memcpy(d.images.data<uint8_t>() + static_cast<size_t>(i) * image_bytes,
                image.data<uint8_t>(), image_bytes);
    d.labels.data<int32_t>()[i] = f.label;
  }
  return d;
}

}  // namespace

Tensor read_image(const std::string& path, const FolderOptions& shape) {
  check_image_size({shape.channels, shape.height, shape.width}, "the requested image size");
  const DecodedImage image = decode_image(
      read_file_bytes(path, kMaxImageFileBytes,
                      fmt::format("image files are read up to {} MiB", kMaxImageFileBytes >> 20)),
      path);
  const int c = static_cast<int>(shape.channels);
  const int out_h = static_cast<int>(shape.height), out_w = static_cast<int>(shape.width);
  const int w = static_cast<int>(image.width), h = static_cast<int>(image.height);
  // Grey is the luma of ITU-R BT.601 in 8-bit fixed point; the weights sum to 256, so a grey
  // image stays exactly itself.
  std::vector<uint8_t> source;
  if (c == 3) {
    source = image.rgb;
  } else {
    source.resize(image.rgb.size() / 3);
    for (size_t i = 0; i < source.size(); ++i) {
      const uint8_t* p = &image.rgb[3 * i];
      source[i] = static_cast<uint8_t>((77 * p[0] + 150 * p[1] + 29 * p[2] + 128) >> 8);
    }
  }
  std::vector<uint8_t> hwc(static_cast<size_t>(out_h) * static_cast<size_t>(out_w) *
                           static_cast<size_t>(c));
  if (w == out_w && h == out_h) {
    hwc = std::move(source);
  } else if (!stbir_resize_uint8(source.data(), w, h, 0, hwc.data(), out_w, out_h, 0, c)) {
    throw IoError(fmt::format("'{}': resizing {}x{} to {}x{} failed", path, w, h, out_w, out_h));
  }
  // Decoders give interleaved [H, W, C]; tensors are planar [C, H, W].
  Tensor out = Tensor::empty({shape.channels, shape.height, shape.width}, DType::u8);
  uint8_t* dst = out.data<uint8_t>();
  for (int ch = 0; ch < c; ++ch)
    for (int i = 0; i < out_h * out_w; ++i)
      dst[ch * out_h * out_w + i] = hwc[static_cast<size_t>(i * c + ch)];
  return out;
}

DataSplits read_image_folder(const std::string& dir, const FolderOptions& shape) {
  check_image_size({shape.channels, shape.height, shape.width}, "the requested image size");
  const fs::path root(dir);
  if (!fs::is_directory(root)) throw IoError(fmt::format("image folder '{}' does not exist", dir));
  std::vector<std::string> classes;
  DataSplits s;
  if (fs::is_directory(root / "train") && fs::is_directory(root / "test")) {
    s.train = load_files(list_split(root / "train", classes, true), shape, "folder train",
                         root / "train");
    s.test =
        load_files(list_split(root / "test", classes, false), shape, "folder test", root / "test");
    return s;
  }
  std::vector<LabelledFile> train, test;
  const std::vector<LabelledFile> all = list_split(root, classes, true);
  for (size_t i = 0; i < all.size(); ++i)
    (i % 10 == 9 ? test : train).push_back(all[i]);
  if (test.empty())
    throw IoError(
        fmt::format("'{}': {} image(s), too few to set every tenth aside for the test "
                    "split; add images or make train/ and test/ subfolders",
                    dir, all.size()));
  s.train = load_files(train, shape, "folder train", root);
  s.test = load_files(test, shape, "folder test", root);
  return s;
}

}  // namespace gm::io
