// Leftover temporary files of killed writers are removed by the next atomic write into the same
// folder: only files of our own naming, only when their writer no longer runs and they have not
// been written for kStaleTempAge.
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "engine/io/atomic_file.h"

using namespace gm;
namespace fs = std::filesystem;

namespace {

// The pid of a process that has exited (a forked child, reaped).
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

fs::path touch(const fs::path& path, std::chrono::minutes age) {
  std::ofstream(path) << "partial";
  fs::last_write_time(path, fs::file_time_type::clock::now() - age);
  return path;
}

}  // namespace

TEST_CASE("the next atomic write removes stale temporary files of ours, and only those",
          "[atomic]") {
  const fs::path dir =
      fs::temp_directory_path() / fmt::format("genmodel-test-atomic-{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const pid_t dead = dead_pid(), alive = ::getppid();
  const auto old = kStaleTempAge + std::chrono::minutes(1);
  const fs::path stale = touch(dir / fmt::format("ck.safetensors.tmp-{}-0", dead), old);
  const fs::path stale_other_target = touch(dir / fmt::format("log.csv.tmp-{}-3", dead), old);
  const fs::path recent =
      touch(dir / fmt::format("ck.safetensors.tmp-{}-1", dead), std::chrono::minutes(0));
  const fs::path live_writer = touch(dir / fmt::format("ck.safetensors.tmp-{}-0", alive), old);
  const fs::path not_ours = touch(dir / fmt::format("notes.tmp-{}", dead), old);
  const fs::path not_ours_either = touch(dir / fmt::format("x.tmp-{}-0.bak", dead), old);

  write_file_atomic(dir / "samples.png", std::string_view("png"));

  CHECK_FALSE(fs::exists(stale));
  CHECK_FALSE(fs::exists(stale_other_target));
  CHECK(fs::exists(recent));       // might belong to a writer we cannot see
  CHECK(fs::exists(live_writer));  // its process runs
  CHECK(fs::exists(not_ours));     // not our naming
  CHECK(fs::exists(not_ours_either));
  CHECK(fs::exists(dir / "samples.png"));
  fs::remove_all(dir);
}
