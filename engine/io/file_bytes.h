#pragma once
// Whole-file reads for the data readers. Gzip-compressed files are inflated transparently
// (zlib reads plain files unchanged), so every reader accepts `name` and `name.gz` alike.
#include <cstdint>
#include <string>
#include <vector>

namespace gm::io {

// The file's bytes, inflated when it is gzip-compressed. Throws IoError naming the file when
// it is missing, unreadable or a corrupt/truncated gzip stream.
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace gm::io
