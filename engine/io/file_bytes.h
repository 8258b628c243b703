#pragma once
// Whole-file reads for the data readers. Gzip-compressed files are inflated transparently
// (zlib reads plain files unchanged), so every reader accepts `name` and `name.gz` alike.
// Every read is bounded: a reader asks for at most what the format (or its header) allows, so
// a small file that inflates to gigabytes costs no more memory than the largest valid one.
#include <cstdint>
#include <string>
#include <vector>

namespace gm::io {

// A file opened for reading, plain or gzip-compressed. Throws IoError naming the file when it
// is missing or unreadable.
class InputFile {
 public:
  explicit InputFile(std::string path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Appends up to `n` more bytes to `out` and returns how many were appended: fewer only at
  // the end of the file. Memory grows with the bytes actually read, not with `n`. Throws
  // IoError naming the file for a corrupt or truncated gzip stream.
  uint64_t read(std::vector<uint8_t>& out, uint64_t n);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* file_ = nullptr;  // zlib's gzFile
};

// The file's bytes, inflated when it is gzip-compressed. A file (or inflated stream) longer
// than `max_bytes` is an IoError that names the file and `what_allows` (e.g. "a CIFAR-10 batch
// holds at most 10000 records"), raised after reading at most max_bytes + 1 bytes.
std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes,
                                     const std::string& what_allows);

}  // namespace gm::io
