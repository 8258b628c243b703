#pragma once
// Temporary folders and small files for the reader tests: crafted files are written, read back
// and every refusal must be an IoError naming the file and what was expected.
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/error.h"
#include "tests/temp_dir.h"

namespace gm::test {

namespace fs = std::filesystem;

using Bytes = std::vector<uint8_t>;

inline void write_bytes(const std::string& path, const Bytes& bytes, bool gz = false) {
  if (gz) {
    gzFile f = gzopen(path.c_str(), "wb");
    REQUIRE(f);
    REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) ==
            static_cast<int>(bytes.size()));
    REQUIRE(gzclose(f) == Z_OK);
  } else {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  }
}

inline Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

// Runs f, expecting an IoError whose message contains every one of `parts`.
template <typename F>
void require_io_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const IoError& e) {
    INFO("message: " << e.what());
    for (const std::string& p : parts)
      CHECK_THAT(e.what(), Catch::Matchers::Contains(p));
    return;
  }
  FAIL("no IoError thrown");
}

}  // namespace gm::test
