#pragma once
// The CIFAR-10 binary format (https://www.cs.toronto.edu/~kriz/cifar.html): each record is one
// label byte (0..9) followed by 3072 pixel bytes, the 32x32 red plane, then green, then blue,
// so a record's pixels are already [C, H, W].
#include <string>

#include "engine/io/dataset.h"

namespace gm::io {

inline constexpr int64_t kCifarRecordBytes = 1 + 3 * 32 * 32;
// The batches of the archive hold 10000 records each; a longer file is not one of them, and is
// refused before more than this is read (or inflated from a .gz).
inline constexpr int64_t kCifarMaxRecords = 10000;

// One batch file (plain or .gz). Throws IoError naming the file when its size is not a
// multiple of 3073 bytes, it holds more than kCifarMaxRecords records or a label is not in 0..9.
Dataset read_cifar10_file(const std::string& path, const std::string& name);

// data_batch_1..5.bin (train) and test_batch.bin (test) from `dir` or from its
// cifar-10-batches-bin subfolder (how the archive unpacks).
DataSplits read_cifar10_dir(const std::string& dir);

}  // namespace gm::io
