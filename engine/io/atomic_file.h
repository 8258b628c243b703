#pragma once
// Files that appear whole or not at all. Every writer in genmodel (checkpoints, PNGs, CSV and
// JSONL logs) writes to a temporary file beside the target, flushes it to disk, then renames it
// over the target and flushes the directory. A crash, a kill or a failed write at any point
// leaves the previous file (or no file) at the target path, never a half-written one. A kill
// may leave a stray "<name>.tmp-<pid>-<n>" file beside it; it is never read.
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace gm {

class AtomicFile {
 public:
  // Creates the temporary file beside `path`; throws IoError naming the path and the reason
  // (e.g. a missing directory).
  explicit AtomicFile(std::filesystem::path path);
  // Without commit(), the temporary file is removed and the target is left untouched.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends bytes; throws IoError on a short or failed write (disk full, file size limit).
  void write(const void* data, size_t bytes);
  void write(std::string_view text) { write(text.data(), text.size()); }

  // Flushes the data to disk, renames the file over the target and flushes the directory.
  // After a failed commit the target is untouched and the temporary file is removed.
  void commit();

  const std::filesystem::path& path() const { return path_; }
  const std::filesystem::path& temp_path() const { return temp_path_; }

 private:
  void discard() noexcept;

  std::filesystem::path path_;
  std::filesystem::path temp_path_;
  int fd_ = -1;
};

// The whole file in one call.
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);
void write_file_atomic(const std::filesystem::path& path, std::span<const std::byte> contents);

}  // namespace gm
