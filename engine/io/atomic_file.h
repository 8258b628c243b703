#pragma once
// Files that appear whole or not at all. Every writer in genmodel (checkpoints, PNGs, CSV and
// JSONL logs) writes to a temporary file beside the target, flushes it to disk, then renames it
// over the target and flushes the directory. A crash, a kill or a failed write at any point
// leaves the previous file (or no file) at the target path, never a half-written one. A kill
// may leave a stray "<name>.tmp-<pid>-<n>" file beside it; it is never read, and the next write
// into the same folder removes it (remove_stale_temp_files).
#include <chrono>
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

// A temporary file of ours is stale when its writer process no longer runs on this machine
// and nobody wrote to it for this long. The pid test alone is exact for writers on this
// machine; the age keeps us from deleting the file of a live writer whose pid we cannot see
// (another container or host sharing the folder), which writes to it continuously.
inline constexpr std::chrono::minutes kStaleTempAge{10};

// Removes the stale temporary files of our own naming ("<name>.tmp-<pid>-<n>") in `dir`; every
// AtomicFile does so for its folder. Never throws: a file it cannot judge or remove stays.
void remove_stale_temp_files(const std::filesystem::path& dir) noexcept;

// Checks, before any work, that `path` can be written: creates the temporary file beside it and
// removes it again. Throws IoError naming the path and the reason (missing or read-only folder,
// `path` being a directory).
void check_writable(const std::filesystem::path& path);

// The whole file in one call.
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);
void write_file_atomic(const std::filesystem::path& path, std::span<const std::byte> contents);

}  // namespace gm
