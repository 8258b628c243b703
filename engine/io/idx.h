#pragma once
// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a 4-byte
// magic (0, 0, type, number of dimensions), one big-endian uint32 per dimension, then the
// values row-major. Only type 0x08 (unsigned byte) is used by these data sets.
#include <string>

#include "engine/io/dataset.h"

namespace gm::io {

// Reads an IDX file of unsigned bytes with exactly `ndim` dimensions (plain or .gz) into a
// uint8 tensor of the file's shape. Throws IoError naming the file and what was expected
// versus found: a wrong magic, a missing file, too few or too many bytes.
Tensor read_idx(const std::string& path, int ndim);

// An images file ([N, H, W]) and its labels file ([N]) as a grey data set [N, 1, H, W];
// mismatched counts are an error naming both files.
Dataset read_idx_pair(const std::string& images_path, const std::string& labels_path,
                      const std::string& name);

// The train-* and t10k-* files of an MNIST-style directory. Accepts the usual spellings
// (train-images-idx3-ubyte, train-images.idx3-ubyte), each plain or .gz.
DataSplits read_mnist_dir(const std::string& dir, const std::string& name);

}  // namespace gm::io
