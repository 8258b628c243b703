#include "engine/io/file_bytes.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.h"

namespace gm::io {

namespace {

gzFile as_gz(void* file) {
  return static_cast<gzFile>(file);
}

}  // namespace

InputFile::InputFile(std::string path) : path_(std::move(path)) {
  if (!std::filesystem::exists(path_)) throw IoError(fmt::format("'{}': no such file", path_));
  file_ = gzopen(path_.c_str(), "rb");
  if (!file_) throw IoError(fmt::format("'{}': cannot open: {}", path_, std::strerror(errno)));
}

InputFile::~InputFile() {
  if (file_) gzclose(as_gz(file_));
}

uint64_t InputFile::read(std::vector<uint8_t>& out, uint64_t n) {
  constexpr uint64_t kChunk = 1u << 20;
  uint64_t appended = 0;
  while (appended < n) {
    const auto want = static_cast<unsigned>(std::min(kChunk, n - appended));
    const size_t used = out.size();
    out.resize(used + want);
    const int got = gzread(as_gz(file_), out.data() + used, want);
    if (got < 0) {
      int code = 0;
      const std::string why = gzerror(as_gz(file_), &code);
      throw IoError(fmt::format("'{}': read failed: {}", path_, why));
    }
    out.resize(used + static_cast<size_t>(got));
    appended += static_cast<uint64_t>(got);
    if (static_cast<unsigned>(got) < want) {
      // The end: a gzip stream cut short reads as a short file with Z_BUF_ERROR; say so
      // rather than reporting a puzzling size mismatch later.
      int code = Z_OK;
      gzerror(as_gz(file_), &code);
      if (code == Z_BUF_ERROR)
        throw IoError(
            fmt::format("'{}': truncated gzip stream (the download is incomplete?)", path_));
      break;
    }
  }
  return appended;
}

std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes,
                                     const std::string& what_allows) {
  InputFile file(path);
  std::vector<uint8_t> bytes;
  if (file.read(bytes, max_bytes + 1) > max_bytes)
    throw IoError(fmt::format("'{}': more than {} bytes{}, but {}: not a file of this kind", path,
                              max_bytes, path.ends_with(".gz") ? " once inflated" : "",
                              what_allows));
  return bytes;
}

}  // namespace gm::io
