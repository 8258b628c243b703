#include "engine/io/cifar.h"

#include <cstring>
#include <filesystem>

#include "engine/io/file_bytes.h"
#include "engine/ops.h"

namespace gm::io {

namespace {

std::string find_batch(const std::filesystem::path& dir, const std::string& name) {
  for (const char* gz : {"", ".gz"}) {
    const std::filesystem::path path = dir / (name + gz);
    if (std::filesystem::exists(path)) return path.string();
  }
  throw IoError(
      fmt::format("'{}': no CIFAR-10 batch file {} (expected data_batch_1.bin .. "
                  "data_batch_5.bin and test_batch.bin, plain or .gz)",
                  dir.string(), name));
}

Dataset concat_datasets(const std::vector<Dataset>& parts, const std::string& name) {
  std::vector<Tensor> images, labels;
  for (const Dataset& p : parts) {
    images.push_back(p.images);
    labels.push_back(p.labels);
  }
  return Dataset{name, concat(images, 0), concat(labels, 0)};
}

}  // namespace

Dataset read_cifar10_file(const std::string& path, const std::string& name) {
  const std::vector<uint8_t> bytes =
      read_file_bytes(path, static_cast<uint64_t>(kCifarMaxRecords * kCifarRecordBytes),
                      fmt::format("a CIFAR-10 batch holds at most {} records of {} bytes",
                                  kCifarMaxRecords, kCifarRecordBytes));
  if (bytes.empty() || bytes.size() % kCifarRecordBytes != 0)
    throw IoError(fmt::format(
        "'{}': {} bytes, expected a non-zero multiple of {} (CIFAR-10 records of one label byte "
        "and 3x32x32 pixels): the file is truncated or not a CIFAR-10 binary batch",
        path, bytes.size(), kCifarRecordBytes));
  const int64_t n = static_cast<int64_t>(bytes.size()) / kCifarRecordBytes;
  const size_t pixels = kCifarRecordBytes - 1;
  Dataset d;
  d.name = name;
  d.images = Tensor::empty({n, 3, 32, 32}, DType::u8);
  d.labels = Tensor::empty({n}, DType::i32);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* record = bytes.data() + static_cast<size_t>(i * kCifarRecordBytes);
    if (record[0] > 9)
      throw IoError(
          fmt::format("'{}': record {} has label {}, expected 0..9 (not a CIFAR-10 "
                      "batch? CIFAR-100 has two label bytes per record)",
                      path, i, record[0]));
    d.labels.data<int32_t>()[i] = record[0];
    std::memcpy(d.images.data<uint8_t>() + static_cast<size_t>(i) * pixels, record + 1, pixels);
  }
  return d;
}

DataSplits read_cifar10_dir(const std::string& dir) {
  std::filesystem::path root(dir);
  if (!std::filesystem::is_directory(root))
    throw IoError(fmt::format("cifar10 directory '{}' does not exist", dir));
  if (std::filesystem::is_directory(root / "cifar-10-batches-bin")) root /= "cifar-10-batches-bin";
  std::vector<Dataset> train;
  for (int b = 1; b <= 5; ++b) {
    const std::string file = fmt::format("data_batch_{}.bin", b);
    train.push_back(read_cifar10_file(find_batch(root, file), file));
  }
  DataSplits s;
  s.train = concat_datasets(train, "cifar10 train");
  s.test = read_cifar10_file(find_batch(root, "test_batch.bin"), "cifar10 test");
  return s;
}

}  // namespace gm::io
