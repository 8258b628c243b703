#include "engine/io/file_bytes.h"

#include <fmt/format.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.h"

namespace gm::io {

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  if (!std::filesystem::exists(path)) throw IoError(fmt::format("'{}': no such file", path));
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw IoError(fmt::format("'{}': cannot open: {}", path, std::strerror(errno)));
  std::vector<uint8_t> bytes;
  const unsigned chunk = 1u << 20;
  for (;;) {
    const size_t used = bytes.size();
    bytes.resize(used + chunk);
    const int got = gzread(file, bytes.data() + used, chunk);
    if (got < 0) {
      int code = 0;
      const std::string why = gzerror(file, &code);
      gzclose(file);
      throw IoError(fmt::format("'{}': read failed: {}", path, why));
    }
    bytes.resize(used + static_cast<size_t>(got));
    if (got == 0) break;
  }
  // A gzip stream cut short reads as a short file with Z_BUF_ERROR at close; say so rather
  // than reporting a puzzling size mismatch later.
  const int closed = gzclose(file);
  if (closed == Z_BUF_ERROR)
    throw IoError(fmt::format("'{}': truncated gzip stream (the download is incomplete?)", path));
  if (closed != Z_OK) throw IoError(fmt::format("'{}': gzip error {} at close", path, closed));
  return bytes;
}

}  // namespace gm::io
