// The genmodel command line, run as a user runs it: exit codes, --help, a tiny training run on a
// tiny IDX data set, resuming (bit for bit), Ctrl-C, a diverging run, eval and sample.
#include <signal.h>
#include <stb_image.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
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

using namespace gm;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

using test::TempDir;

namespace {

struct Result {
  int code = -1;
  std::string output;  // stdout and stderr together
};

Result genmodel(const std::string& args) {
  const std::string command = std::string(GENMODEL_BINARY) + " " + args + " 2>&1";
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

void write_idx(const fs::path& path, const std::vector<uint32_t>& dims,
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
std::string make_tiny_data(const TempDir& dir) {
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

const char* kModel = "pixelcnn-ref";

// Every tensor of two checkpoints, compared byte for byte, and the training state.
void require_identical_checkpoints(const fs::path& a, const fs::path& b) {
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

std::vector<nlohmann::json> read_log(const fs::path& path) {
  std::vector<nlohmann::json> records;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    records.push_back(nlohmann::json::parse(line));
  return records;
}

}  // namespace

TEST_CASE("cli: --help on the program and every subcommand") {
  Result top = genmodel("--help");
  REQUIRE(top.code == 0);
  for (const char* sub : {"train", "sample", "eval", "gradcheck", "list"})
    CHECK_THAT(top.output, Contains(sub));
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"train",
       {"--model", "--data", "--steps", "--epochs", "--batch", "--lr", "--device", "--seed",
        "--out", "--eval-every", "--checkpoint-every", "--limit", "--resume"}},
      {"sample", {"--checkpoint", "--count", "--temperature", "--seed", "--out"}},
      {"eval", {"--checkpoint", "--data", "--limit"}},
      {"gradcheck", {"--model", "--op", "--device"}},
      {"list", {}},
      {"bench sampling", {"--sizes", "--batches", "--methods", "--devices", "--budget", "--csv"}},
  };
  for (const auto& [sub, options] : expected) {
    INFO(sub);
    Result r = genmodel(sub + " --help");
    REQUIRE(r.code == 0);
    for (const std::string& o : options)
      CHECK_THAT(r.output, Contains(o));
  }
}

TEST_CASE("cli: usage errors exit with 2 and say what is wrong") {
  Result r = genmodel("train --bogus 1");
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Contains("--bogus"));
  CHECK(genmodel("").code == 2);  // a subcommand is required
  CHECK(genmodel("fly").code == 2);
  r = genmodel("train --model no-such-model");
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Contains("no-such-model"));
  r = genmodel("train --steps 5 --epochs 1 --model pixelcnn-ref");
  CHECK(r.code == 2);
  r = genmodel("train");
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Contains("--model is required"));
  CHECK(genmodel("gradcheck").code == 2);
  CHECK(genmodel("gradcheck --op no-such-op").code == 2);
  CHECK(genmodel("sample").code == 2);  // --checkpoint is required
}

TEST_CASE("cli: library errors are one line 'error: ...' with exit code 1") {
  TempDir dir;
  Result r = genmodel("eval --checkpoint " + dir.str("missing.safetensors"));
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Contains("error: checkpoint") && Contains("does not exist"));
  r = genmodel(fmt::format("train --model {} --data mnist:{} --steps 1 --out {}", kModel,
                           dir.str("nodata"), dir.str("run")));
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Contains("error:") && Contains("nodata"));
  r = genmodel("train --model pixelcnn-ref --device cuda:7 --steps 1 --out " + dir.str("run"));
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Contains("cuda:7"));
}

TEST_CASE("cli: list shows models and devices, gradcheck of an op passes") {
  Result r = genmodel("list");
  REQUIRE(r.code == 0);
  CHECK_THAT(r.output, Contains(kModel) && Contains("cpu") && Contains("available"));
  r = genmodel("gradcheck --op tanh");
  CHECK(r.code == 0);
  CHECK_THAT(r.output, Contains("pass") && Contains("max abs err"));
}

TEST_CASE("cli: bench sampling writes CSV and SVG and checks its options before timing") {
  TempDir dir;
  Result r = genmodel(fmt::format(
      "bench sampling --sizes 4,6 --batches 2 --methods pixelcnn-naive,pixelcnn-fast,vae "
      "--devices cpu --budget 10 --csv {} --svg {}",
      dir.str("s.csv"), dir.str("s.svg")));
  INFO(r.output);
  REQUIRE(r.code == 0);
  std::ifstream csv(dir.path / "s.csv");
  std::string header, line;
  std::getline(csv, header);
  CHECK_THAT(header, Contains("device,method,config,n,batch"));
  int rows = 0;
  while (std::getline(csv, line))
    rows += line.empty() ? 0 : 1;
  CHECK(rows == 2 * 3);  // 2 sizes x 3 methods x 1 batch
  CHECK(std::filesystem::file_size(dir.path / "s.svg") > 0);
  // Mistakes are reported before any timing starts.
  r = genmodel("bench sampling --methods no-such-sampler");
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Contains("no-such-sampler") && Contains("pixelcnn-fast"));
  r = genmodel("bench sampling --csv " + dir.str("missing/s.csv"));
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Contains("does not exist"));
  CHECK(genmodel("bench").code == 2);  // a benchmark name is required
}

TEST_CASE("cli: gradcheck of a whole model prints one row per parameter tensor") {
  Result r =
      genmodel(fmt::format("gradcheck --model {} --size 3 --batch 1 --max-elements 3", kModel));
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK_THAT(r.output, Contains("weight") && Contains("bias") && Contains("all tensors pass"));
}

TEST_CASE("cli: train, resume bit for bit, eval and sample on a tiny data set") {
  TempDir dir;
  const std::string data = make_tiny_data(dir);
  const std::string common = fmt::format(
      "train --model {} --data {} --batch 8 --limit 40 --seed 3 --eval-every 3 "
      "--checkpoint-every 2",
      kModel, data);

  // Uninterrupted: 6 steps.
  Result full = genmodel(common + " --steps 6 --out " + dir.str("full"));
  INFO(full.output);
  REQUIRE(full.code == 0);
  REQUIRE(fs::exists(dir.path / "full/checkpoint.safetensors"));
  const std::vector<nlohmann::json> log = read_log(dir.path / "full/log.jsonl");
  int train_records = 0, eval_records = 0;
  for (const auto& rec : log) {
    train_records += rec["kind"] == "train";
    eval_records += rec["kind"] == "eval";
    if (rec["kind"] == "train") CHECK(std::isfinite(rec["bits_per_dim"].get<double>()));
  }
  CHECK(train_records == 6);
  CHECK(eval_records == 2);  // at step 3 and at the end

  // 3 steps, then resumed to 6: identical weights, Adam state and generator.
  Result first = genmodel(common + " --steps 3 --out " + dir.str("split"));
  REQUIRE(first.code == 0);
  Result again = genmodel(common + " --steps 6 --out " + dir.str("split"));
  CHECK(again.code == 2);  // an existing run is never overwritten without --resume
  CHECK_THAT(again.output, Contains("--resume"));
  Result changed = genmodel("train --resume --batch 4 --steps 6 --out " + dir.str("split"));
  CHECK(changed.code == 2);
  CHECK_THAT(changed.output, Contains("--batch"));
  Result resumed = genmodel("train --resume --steps 6 --out " + dir.str("split"));
  INFO(resumed.output);
  REQUIRE(resumed.code == 0);
  require_identical_checkpoints(dir.path / "full/checkpoint.safetensors",
                                dir.path / "split/checkpoint.safetensors");
  CHECK(read_log(dir.path / "split/log.jsonl").size() == log.size());

  // Eval: the test split's 16 images, finite bits/dim.
  Result eval = genmodel("eval --json --checkpoint " + dir.str("full/checkpoint.safetensors"));
  INFO(eval.output);
  REQUIRE(eval.code == 0);
  const nlohmann::json e = nlohmann::json::parse(eval.output);
  CHECK(e["images"] == 16);
  CHECK(e["step"] == 6);
  CHECK(std::isfinite(e["bits_per_dim"].get<double>()));
  CHECK(e["bits_per_dim"].get<double>() > 0);

  // Sample: a PNG grid of 4 images (2 x 2 tiles of 8 px scaled 7x to 56, 2 px borders).
  const std::string png = dir.str("samples.png");
  Result sample = genmodel(fmt::format("sample --checkpoint {} --count 4 --seed 1 --out {}",
                                       dir.str("full/checkpoint.safetensors"), png));
  INFO(sample.output);
  REQUIRE(sample.code == 0);
  int w = 0, h = 0, c = 0;
  stbi_uc* pixels = stbi_load(png.c_str(), &w, &h, &c, 0);
  REQUIRE(pixels);
  stbi_image_free(pixels);
  CHECK(w == 2 * (56 + 2) + 2);
  CHECK(h == w);
  CHECK(c == 1);
}

TEST_CASE("cli: eval of a VAE reports the ELBO and the importance-weighted estimate") {
  TempDir dir;
  Result train =
      genmodel(fmt::format("train --model vae-ref --data {} --batch 8 --steps 2 --out {}",
                           make_tiny_data(dir), dir.str("run")));
  INFO(train.output);
  REQUIRE(train.code == 0);
  Result eval = genmodel("eval --json --importance-samples 10 --checkpoint " +
                         dir.str("run/checkpoint.safetensors"));
  INFO(eval.output);
  REQUIRE(eval.code == 0);
  const nlohmann::json e = nlohmann::json::parse(eval.output);
  REQUIRE(e["terms"].contains("recon"));
  REQUIRE(e["terms"].contains("kl"));
  // The negative ELBO is its two terms: the loss and each term are float32 means over the same
  // images (~1e-7 relative rounding each), averaged over batches in double; 1e-6 covers that.
  const double recon = e["terms"]["recon"].get<double>(), kl = e["terms"]["kl"].get<double>();
  CHECK(-e["elbo"].get<double>() == Approx(recon + kl).epsilon(1e-6));
  CHECK(e["nats_per_image"].get<double>() == Approx(recon + kl).epsilon(1e-6));
  CHECK(std::isfinite(e["importance_weighted_nll"]["bits_per_dim"].get<double>()));
}

TEST_CASE(
    "cli: a diverging run stops at the first non-finite loss and keeps the last good "
    "checkpoint") {
  TempDir dir;
  // lr 1e38 makes Adam's first step put the weights near float32's maximum: the next forward
  // pass overflows to inf/NaN.
  Result r =
      genmodel(fmt::format("train --model {} --data {} --batch 8 --steps 5 "
                           "--checkpoint-every 1 --lr 1e38 --out {}",
                           kModel, make_tiny_data(dir), dir.str("run")));
  INFO(r.output);
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Contains("at step 2") && Contains("last good checkpoint"));
  const SafetensorsFile ck = load_safetensors(dir.path / "run/checkpoint.safetensors");
  CHECK(get_metadata_int(ck.metadata, "step") == 1);
  for (const NamedTensor& t : ck.tensors)
    for (float v : t.tensor.to_vector<float>())
      REQUIRE(std::isfinite(v));
}

TEST_CASE("cli: Ctrl-C saves a checkpoint that equals an uninterrupted run of the same length") {
  TempDir dir;
  const std::string data = make_tiny_data(dir);
  const std::string common = fmt::format(
      "--model {} --data {} --batch 8 --limit 40 --seed 5 --eval-every 0 "
      "--checkpoint-every 0",
      kModel, data);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const std::string command = fmt::format("exec {} train {} --steps 100000 --out {} 2>/dev/null",
                                            GENMODEL_BINARY, common, dir.str("run"));
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait for a few steps in the log, then interrupt.
  const fs::path log = dir.path / "run/log.jsonl";
  for (int i = 0; i < 600 && (!fs::exists(log) || read_log(log).size() < 3); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(child, SIGINT);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);

  const SafetensorsFile ck = load_safetensors(dir.path / "run/checkpoint.safetensors");
  const int64_t step = get_metadata_int(ck.metadata, "step");
  CHECK(step >= 3);
  Result same = genmodel(fmt::format("train {} --steps {} --out {}", common, step, dir.str("ref")));
  REQUIRE(same.code == 0);
  require_identical_checkpoints(dir.path / "run/checkpoint.safetensors",
                                dir.path / "ref/checkpoint.safetensors");
}
