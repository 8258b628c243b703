#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
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

// The writer's pid in our temporary name "<target>.tmp-<pid>-<attempt>", or 0 for any other name.
pid_t writer_pid(const std::string& name) {
  const size_t tag = name.rfind(".tmp-");
  if (tag == std::string::npos || tag == 0) return 0;
  const char* p = name.data() + tag + 5;
  const char* end = name.data() + name.size();
  pid_t pid = 0;
  auto [after_pid, ec] = std::from_chars(p, end, pid);
  if (ec != std::errc() || after_pid == p || after_pid == end || *after_pid != '-') return 0;
  int attempt = 0;
  auto [after_attempt, ec2] = std::from_chars(after_pid + 1, end, attempt);
  if (ec2 != std::errc() || after_attempt == after_pid + 1 || after_attempt != end) return 0;
  return pid > 0 ? pid : 0;
}

}  // namespace

void remove_stale_temp_files(const std::filesystem::path& dir) noexcept {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(dir.empty() ? "." : dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const pid_t pid = writer_pid(it->path().filename().string());
    if (pid == 0 || pid == ::getpid() || !it->is_regular_file(ec)) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // running, or not ours to judge
    const auto modified = it->last_write_time(ec);
    if (ec || now - modified < kStaleTempAge) continue;
    fs::remove(it->path(), ec);
    ec.clear();
  }
}

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
      remove_stale_temp_files(dir);
      return;
    }
    if (errno != EEXIST) {
      const int err = errno;
      std::string hint;
      std::error_code ec;
      if (err == ENOENT && !std::filesystem::is_directory(dir, ec))
        hint = fmt::format(" (the directory '{}' does not exist)", dir.string());
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

void check_writable(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw IoError(fmt::format("cannot write '{}': it is a directory", path.string()));
  AtomicFile probe(path);  // its destructor removes the temporary file
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
