#pragma once
// A fresh folder under the system temp dir for one test, removed with everything in it when the
// test's scope ends.
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace gm::test {

struct TempDir {
  std::filesystem::path path;
  // `tag` only makes the folder's name easier to recognise.
  explicit TempDir(const std::string& tag = "test") {
    static int counter = 0;  // unique names within this process; the pid separates processes
    path = std::filesystem::temp_directory_path() /
           fmt::format("genmodel-{}-{}-{}", tag, ::getpid(), counter++);
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;  // a destructor must not throw; the OS cleans temp dirs eventually
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path operator/(const std::string& name) const { return path / name; }
  std::string str(const std::string& name = "") const { return (path / name).string(); }
};

}  // namespace gm::test
