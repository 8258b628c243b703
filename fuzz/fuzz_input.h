#pragma once
// What every harness shares: the readers take file names, so each input is written to one
// file per process first; a reader may only throw gm::Error, anything else (another
// exception, a crash, a sanitizer report) is a finding.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>

#include "engine/error.h"

namespace gm::fuzz {

// Writes `data` to this process's input file, named with `suffix` (readers such as the image
// decoder look at the name), and returns the file's path. The file is removed at exit.
inline std::string write_input(std::span<const uint8_t> data, const std::string& suffix) {
  struct InputFile {
    std::filesystem::path path;
    ~InputFile() {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
  };
  static const InputFile file{std::filesystem::temp_directory_path() /
                              ("genmodel-fuzz-" + std::to_string(::getpid()) + suffix)};
  std::ofstream(file.path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return file.path.string();
}

// Runs a reader on one input: gm::Error is the expected way to refuse it.
template <typename Reader>
int run_reader(Reader&& reader) {
  try {
    reader();
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace gm::fuzz
