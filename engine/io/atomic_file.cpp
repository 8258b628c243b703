#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/error.h"

namespace gm {

namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

// Flushes a directory entry (the rename) to disk. Some file systems refuse fsync on a
// directory (EINVAL); the rename itself has happened by then, so only real I/O errors count.
void sync_directory(const std::filesystem::path& dir, const std::filesystem::path& target) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // e.g. no read permission on the directory: the data is already synced
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL && err != EROFS) {
    throw IoError(fmt::format("writing '{}': flushing directory '{}' to disk failed: {}",
                              target.string(), dir.string(), errno_text(err)));
  }
}

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path path) : path_(std::move(path)) {
  std::filesystem::path dir = path_.parent_path();
  if (dir.empty()) dir = ".";
  // The temporary name is unique per process and attempt; O_EXCL makes a stale file from a
  // killed run with the same pid move us on to the next name instead of reusing it.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    std::filesystem::path candidate = path_;
    candidate += fmt::format(".tmp-{}-{}", ::getpid(), attempt);
    fd_ = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) {
      temp_path_ = std::move(candidate);
      return;
    }
    if (errno != EEXIST) {
      const int err = errno;
      std::string hint;
      if (err == ENOENT) hint = fmt::format(" (does the directory '{}' exist?)", dir.string());
      throw IoError(fmt::format("cannot write '{}': creating a temporary file in '{}' failed: {}{}",
                                path_.string(), dir.string(), errno_text(err), hint));
    }
  }
  throw IoError(fmt::format(
      "cannot write '{}': 1000 stale temporary files '{}.tmp-{}-*' are in the way; delete them",
      path_.string(), path_.string(), ::getpid()));
}

AtomicFile::~AtomicFile() {
  discard();
}

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

void AtomicFile::write(const void* data, size_t bytes) {
  if (fd_ < 0)
    throw IoError(fmt::format("writing '{}': the file is already closed", path_.string()));
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;
      discard();
      throw IoError(fmt::format("writing '{}' failed: {}; the previous file (if any) is kept",
                                path_.string(), errno_text(err)));
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0)
    throw IoError(fmt::format("writing '{}': the file is already closed", path_.string()));
  if (::fsync(fd_) != 0) {
    const int err = errno;
    discard();
    throw IoError(
        fmt::format("writing '{}': flushing to disk failed: {}", path_.string(), errno_text(err)));
  }
  if (::close(fd_) != 0) {
    const int err = errno;
    fd_ = -1;
    discard();
    throw IoError(fmt::format("writing '{}': closing failed: {}", path_.string(), errno_text(err)));
  }
  fd_ = -1;
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    discard();
    throw IoError(fmt::format("writing '{}': renaming the temporary file over it failed: {}",
                              path_.string(), errno_text(err)));
  }
  temp_path_.clear();
  std::filesystem::path dir = path_.parent_path();
  sync_directory(dir.empty() ? "." : dir, path_);
}

void write_file_atomic(const std::filesystem::path& path, std::string_view contents) {
  AtomicFile file(path);
  file.write(contents);
  file.commit();
}

void write_file_atomic(const std::filesystem::path& path, std::span<const std::byte> contents) {
  AtomicFile file(path);
  file.write(contents.data(), contents.size());
  file.commit();
}

}  // namespace gm
