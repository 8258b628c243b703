#pragma once
// Helpers for the tests that run the genmodel binary as a user would (test_cli*.cpp, and the
// multi-process test_distributed.cpp): run a command, temporary folders, a tiny IDX data set,
// logs and checkpoints, a run interrupted by a signal.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "engine/io/safetensors.h"
#include "tests/temp_dir.h"

#ifndef GENMODEL_BINARY
#error "tests/CMakeLists.txt passes the path of the genmodel binary as GENMODEL_BINARY"
#endif

namespace gm::test_cli {

namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `command_line` through the shell with stderr joined to stdout.
inline Result run_command(const std::string& command_line) {
  const std::string command = command_line + " 2>&1";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe);
  Result r;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
    r.output.append(buffer, n);
  const int status = ::pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline Result genmodel(const std::string& args) {
  return run_command(std::string(GENMODEL_BINARY) + " " + args);
}

using test::TempDir;

inline void write_idx(const fs::path& path, const std::vector<uint32_t>& dims,
                      const std::vector<uint8_t>& values) {
  std::vector<uint8_t> b{0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8)
      b.push_back(static_cast<uint8_t>(d >> s));
  b.insert(b.end(), values.begin(), values.end());
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// A tiny MNIST-style data set of 8x8 images (48 train, 16 test): a bright square on a dark
// background at a position that depends on the image, so there is something to learn.
inline std::string make_tiny_data(const TempDir& dir) {
  const fs::path data = dir.path / "data";
  fs::create_directories(data);
  for (auto [prefix, n] : {std::pair{"train", 48u}, std::pair{"t10k", 16u}}) {
    std::vector<uint8_t> pixels, labels;
    for (uint32_t i = 0; i < n; ++i) {
      for (uint32_t y = 0; y < 8; ++y)
        for (uint32_t x = 0; x < 8; ++x) {
          const bool on = y / 4 == i % 2 && x / 4 == i / 2 % 2;
          pixels.push_back(static_cast<uint8_t>(on ? 200 + i % 50 : (x * 7 + y * 3 + i) % 40));
        }
      labels.push_back(static_cast<uint8_t>(i % 4));
    }
    write_idx(data / (std::string(prefix) + "-images-idx3-ubyte"), {n, 8, 8}, pixels);
    write_idx(data / (std::string(prefix) + "-labels-idx1-ubyte"), {n}, labels);
  }
  return "mnist:" + data.string();
}

inline const char* kModel = "pixelcnn-ref";

// Every tensor of two checkpoints, compared byte for byte, and the training state.
inline void require_identical_checkpoints(const fs::path& a, const fs::path& b) {
  const SafetensorsFile fa = load_safetensors(a), fb = load_safetensors(b);
  REQUIRE(fa.tensors.size() == fb.tensors.size());
  for (const NamedTensor& t : fa.tensors) {
    INFO("tensor " << t.name);
    const Tensor& u = fb.get(t.name);
    REQUIRE(u.shape() == t.tensor.shape());
    REQUIRE(u.dtype() == t.tensor.dtype());
    REQUIRE(std::memcmp(u.raw(), t.tensor.raw(), t.tensor.nbytes()) == 0);
  }
  for (const char* key : {"step", "train_gen.seed", "train_gen.offset", "loss"}) {
    INFO("metadata " << key);
    REQUIRE(get_metadata(fa.metadata, key) == get_metadata(fb.metadata, key));
  }
}

inline std::vector<nlohmann::json> read_log(const fs::path& path) {
  std::vector<nlohmann::json> records;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    records.push_back(nlohmann::json::parse(line));
  return records;
}

// Runs `command` through the shell in a child process (`command` should start with `exec`, so
// that the signal reaches it), waits until `log` holds `records` lines (at most
// `max_seconds`), sends `signal` (SIGINT: Ctrl-C) and returns the child's wait status.
inline int interrupt_after_log_records(const std::string& command, const fs::path& log,
                                       size_t records, int max_seconds, int signal = SIGINT) {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 20 * max_seconds && (!fs::exists(log) || read_log(log).size() < records); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(child, signal);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  return status;
}

}  // namespace gm::test_cli
