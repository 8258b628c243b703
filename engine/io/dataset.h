#pragma once
// Image data sets in memory: uint8 images [N, C, H, W] (0..255) and int32 labels [N], on the
// cpu. The readers (idx.h, cifar.h, image_folder.h) produce them; batches.h serves them.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace gm::io {

struct Dataset {
  std::string name;  // for messages, e.g. "fashion-mnist train"
  Tensor images;     // uint8 [N, C, H, W]
  Tensor labels;     // int32 [N]

  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  int64_t channels() const { return images.size(1); }
  int64_t height() const { return images.size(2); }
  int64_t width() const { return images.size(3); }
  // A copy holding the first k images (all of them when k <= 0 or k >= size()).
  Dataset first(int64_t k) const;
  // A copy holding the images at `indices`, in that order.
  Dataset gather(const std::vector<int64_t>& indices) const;
};

// Image sizes the readers accept: height and width from 1 to kMaxImageSide, grey or RGB.
// Larger images would not fit the models' memory (a PixelRNN at 1024x1024 holds gigabytes of
// activations per image); a zero size would train on nothing with a loss of 0.
inline constexpr int64_t kMaxImageSide = 1024;
struct ImageSize {
  int64_t channels, height, width;
};
// Throws IoError naming `where` (a file, a checkpoint key) when `size` is out of these bounds.
void check_image_size(const ImageSize& size, const std::string& where);

// The train and test split the format defines (MNIST: train-* / t10k-*; CIFAR-10:
// data_batch_1..5 / test_batch; folders: train/ and test/ subfolders, see image_folder.h).
struct DataSplits {
  Dataset train, test;
};

// Where the data comes from: the command line's --data value.
struct DataSource {
  enum class Format { idx, cifar10, folder };
  Format format = Format::idx;
  std::string name;  // "fashion-mnist", "mnist", "cifar10", "folder"
  std::string dir;
};

// Where the Debian package dataset-fashion-mnist installs its IDX files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Parses "fashion-mnist" (the default), "fashion-mnist:DIR", "mnist:DIR", "cifar10:DIR" or
// "folder:DIR"; anything else is an error listing these forms.
DataSource parse_data_source(const std::string& spec);

// Image folders are resized to this shape (channels 1 = grey, 3 = RGB); the fixed-size formats
// ignore it.
struct FolderOptions {
  int64_t channels = 1, height = 28, width = 28;
};

// Loads both splits. A missing default Fashion-MNIST says to run scripts/setup.sh.
DataSplits load_data(const DataSource& source, const FolderOptions& folder = {});

}  // namespace gm::io
