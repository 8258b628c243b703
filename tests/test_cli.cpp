// The genmodel command line, run as a user runs it: exit codes, --help, a tiny training run on a
// tiny IDX data set, resuming (bit for bit), Ctrl-C, a diverging run, eval and sample.
#include <signal.h>
#include <stb_image.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "engine/io/safetensors.h"
#include "tests/temp_dir.h"

#include "tests/cli_helpers.h"

using namespace gm;
using namespace gm::test_cli;
using Catch::Matchers::Contains;

TEST_CASE("cli: --help on the program and every subcommand") {
  Result top = genmodel("--help");
  REQUIRE(top.code == 0);
  for (const char* sub :
       {"train", "sample", "eval", "gradcheck", "list", "score", "outliers", "classify"})
    CHECK_THAT(top.output, Contains(sub));
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"train",
       {"--model", "--data", "--steps", "--epochs", "--batch", "--lr", "--device", "--seed",
        "--out", "--eval-every", "--checkpoint-every", "--train-limit", "--eval-limit",
        "--resume"}},
      {"sample", {"--checkpoint", "--count", "--temperature", "--seed", "--out", "--label"}},
      {"score",
       {"--checkpoint", "--data", "--eval-limit", "--importance-samples", "--out", "--figure"}},
      {"outliers", {"--checkpoint", "--against", "--figure"}},
      {"classify", {"--checkpoint", "--reject", "--outliers", "--figure"}},
      {"eval", {"--checkpoint", "--data", "--eval-limit"}},
      {"gradcheck", {"--model", "--op", "--device"}},
      {"list", {}},
      {"curves", {"--label", "--out", "--from-step"}},
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
      "train --model {} --data {} --batch 8 --train-limit 40 --seed 3 --eval-every 3 "
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
  Result naive = genmodel("sample --naive --checkpoint " + dir.str("run/checkpoint.safetensors"));
  CHECK(naive.code == 1);
  CHECK_THAT(naive.output, Contains("not an autoregressive model") && Contains("drop --naive"));
}

TEST_CASE("cli: sample runs the fast sampler; --naive draws the same PNG one pass per value") {
  TempDir dir("fast");
  Result train = genmodel(
      fmt::format("train --model gated-pixelcnn-small --data {} --batch 8 --steps 2 --out {}",
                  make_tiny_data(dir), dir.str("run")));
  INFO(train.output);
  REQUIRE(train.code == 0);
  const std::string sample =
      fmt::format("sample --checkpoint {} --count 3 --seed 5 --temperature 0.9 --out ",
                  dir.str("run/checkpoint.safetensors"));
  Result fast = genmodel(sample + dir.str("fast.png"));
  Result naive = genmodel(sample + dir.str("naive.png") + " --naive");
  INFO(fast.output << naive.output);
  REQUIRE(fast.code == 0);
  REQUIRE(naive.code == 0);
  CHECK_THAT(fast.output, Contains("fast sampler"));
  CHECK_THAT(naive.output, Contains("naive sampler"));
  auto bytes = [](const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string fast_png = bytes(dir.path / "fast.png");
  CHECK(fast_png.size() > 0);
  CHECK(fast_png == bytes(dir.path / "naive.png"));
}

TEST_CASE("cli: pixelcnnpp-small trains, evaluates and samples from the command line") {
  TempDir dir("pixelcnnpp");
  Result train =
      genmodel(fmt::format("train --model pixelcnnpp-small --data {} --batch 8 --steps 2 --out {}",
                           make_tiny_data(dir), dir.str("run")));
  INFO(train.output);
  REQUIRE(train.code == 0);
  const std::string checkpoint = dir.str("run/checkpoint.safetensors");
  Result eval = genmodel("eval --json --checkpoint " + checkpoint);
  INFO(eval.output);
  REQUIRE(eval.code == 0);
  CHECK(std::isfinite(nlohmann::json::parse(eval.output)["bits_per_dim"].get<double>()));
  const std::string png = dir.str("samples.png");
  Result sample =
      genmodel(fmt::format("sample --checkpoint {} --count 4 --seed 1 --out {}", checkpoint, png));
  INFO(sample.output);
  REQUIRE(sample.code == 0);
  CHECK(fs::exists(png));
  CHECK_THAT(sample.output, Contains("fast sampler"));
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

TEST_CASE(
    "cli: Ctrl-C and SIGTERM save a checkpoint that equals an uninterrupted run of the same "
    "length") {
  // SIGTERM is what schedulers, `timeout` and container stops send: handled like Ctrl-C, with
  // the shell's exit code 128 + 15.
  const auto [signal, code] = GENERATE(std::pair{SIGINT, 130}, std::pair{SIGTERM, 143});
  INFO("signal " << signal);
  TempDir dir(fmt::format("signal{}", signal));
  const std::string data = make_tiny_data(dir);
  const std::string common = fmt::format(
      "--model {} --data {} --batch 8 --train-limit 40 --seed 5 --eval-every 0 "
      "--checkpoint-every 0",
      kModel, data);
  // A few steps in the log, then the signal.
  const fs::path log = dir.path / "run/log.jsonl";
  const int status = interrupt_after_log_records(
      fmt::format("exec {} train {} --steps 100000 --out {} 2>/dev/null", GENMODEL_BINARY, common,
                  dir.str("run")),
      log, 3, 30, signal);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == code);

  const SafetensorsFile ck = load_safetensors(dir.path / "run/checkpoint.safetensors");
  const int64_t step = get_metadata_int(ck.metadata, "step");
  CHECK(step >= 3);
  // The log went to disk before the checkpoint: the checkpoint records its length, which is
  // the whole log (nothing is written after the last checkpoint of a stopped run).
  CHECK(get_metadata_int(ck.metadata, "log_bytes") == static_cast<int64_t>(fs::file_size(log)));
  CHECK(read_log(log).size() == static_cast<size_t>(step));
  CHECK(fs::exists(dir.path / "run/loss.svg"));
  Result same = genmodel(fmt::format("train {} --steps {} --out {}", common, step, dir.str("ref")));
  REQUIRE(same.code == 0);
  require_identical_checkpoints(dir.path / "run/checkpoint.safetensors",
                                dir.path / "ref/checkpoint.safetensors");
}

TEST_CASE("cli: hand-edited logs and checkpoints, and oversized grids, are errors, never crashes") {
  TempDir dir("crafted");
  const std::string run = dir.str("run");
  Result train = genmodel(fmt::format("train --model {} --data {} --batch 8 --steps 2 --out {}",
                                      kModel, make_tiny_data(dir), run));
  INFO(train.output);
  REQUIRE(train.code == 0);
  const std::string checkpoint = dir.str("run/checkpoint.safetensors");

  // A log line whose step is not an integer is dropped on resume, like a line cut short.
  std::ofstream(dir.path / "run/log.jsonl", std::ios::app) << R"({"kind":"train","step":"x"})"
                                                           << "\n";
  Result resumed = genmodel("train --resume --steps 3 --out " + run);
  INFO(resumed.output);
  CHECK(resumed.code == 0);
  for (const auto& record : read_log(dir.path / "run/log.jsonl"))
    CHECK(record["step"].is_number_integer());

  // 67202 pixels a side: int overflow in the PNG writer, then 3 GB; now a usage error up front
  // (make_grid's own 64-bit bound is tested in test_crafted_files).
  Result big = genmodel(fmt::format("sample --checkpoint {} --count 1 --scale 2400 --out {}",
                                    checkpoint, dir.str("big.png")));
  CHECK(big.code == 2);
  CHECK_THAT(big.output, Contains("at most 64"));

  // Image sizes in the metadata that once trained on nothing or died of SIGFPE in make_grid.
  SafetensorsFile file = load_safetensors(checkpoint);
  for (const char* height : {"0", "-5", "99999999999"}) {
    Metadata meta = file.metadata;
    meta["image.height"] = height;
    const std::string edited = dir.str("edited.safetensors");
    save_safetensors(edited, file.tensors, meta);
    Result sample =
        genmodel(fmt::format("sample --checkpoint {} --out {}", edited, dir.str("s.png")));
    INFO(height << ": " << sample.output);
    CHECK(sample.code == 1);
    CHECK_THAT(sample.output, Contains("edited.safetensors") && Contains("image.channels/height"));
  }
}

TEST_CASE("cli: conditional models train on labels, sample by label, classify, score, outliers") {
  TempDir dir("labels");
  const std::string data = make_tiny_data(dir);  // 4 classes
  Result train =
      genmodel(fmt::format("train --model pixelcnn-ref-cond --data {} --batch 8 --steps 2 --out {}",
                           data, dir.str("cond")));
  INFO(train.output);
  REQUIRE(train.code == 0);
  CHECK_THAT(train.output, Contains("4 classes"));
  const std::string ck = dir.str("cond/checkpoint.safetensors");

  // One row of 2 images per class: 4 rows of 56 px tiles with 2 px borders.
  const std::string png = dir.str("rows.png");
  Result rows = genmodel(fmt::format("sample --checkpoint {} --count 2 --out {}", ck, png));
  INFO(rows.output);
  REQUIRE(rows.code == 0);
  int w = 0, h = 0, c = 0;
  stbi_uc* pixels = stbi_load(png.c_str(), &w, &h, &c, 0);
  REQUIRE(pixels);
  stbi_image_free(pixels);
  CHECK(w == 2 * (56 + 2) + 2);
  CHECK(h == 4 * (56 + 2) + 2);
  CHECK(
      genmodel(fmt::format("sample --checkpoint {} --label 3 --count 1 --out {}", ck, png)).code ==
      0);
  Result bad_label = genmodel(fmt::format("sample --checkpoint {} --label 4", ck));
  CHECK(bad_label.code == 2);
  CHECK_THAT(bad_label.output, Contains("classes 0 to 3"));

  Result classify = genmodel(fmt::format("classify --checkpoint {} --figure {} --reject 0.25", ck,
                                         dir.str("confusion.svg")));
  INFO(classify.output);
  REQUIRE(classify.code == 0);
  CHECK_THAT(classify.output, Contains("accuracy") && Contains("on the 12 accepted") &&
                                  Contains("rejected (") && Contains("of 16)"));
  CHECK(fs::file_size(dir.path / "confusion.svg") > 0);
  CHECK(genmodel(fmt::format("classify --checkpoint {} --reject 1.5", ck)).code == 2);

  Result score = genmodel(fmt::format("score --checkpoint {} --out {}", ck, dir.str("s.csv")));
  INFO(score.output);
  REQUIRE(score.code == 0);
  std::ifstream csv(dir.path / "s.csv");
  std::string line;
  int lines = 0;
  while (std::getline(csv, line))
    ++lines;
  CHECK(lines == 1 + 16);  // the header and one row per test image
  CHECK(fs::exists(dir.path / "s.svg"));
  // A run folder as --checkpoint: the default outputs go inside it, beside its checkpoint.
  REQUIRE(genmodel(fmt::format("score --checkpoint {}", dir.str("cond"))).code == 0);
  CHECK(fs::exists(dir.path / "cond/scores.csv"));
  CHECK(fs::exists(dir.path / "cond/scores.svg"));

  Result outliers = genmodel(fmt::format(
      "outliers --checkpoint {} --against flip,noise --figure {}", ck, dir.str("o.svg")));
  INFO(outliers.output);
  REQUIRE(outliers.code == 0);
  CHECK_THAT(outliers.output, Contains("(flip)") && Contains("(noise)") && Contains("AUROC"));
  CHECK(fs::exists(dir.path / "o-corrected.svg"));
  Result bad_set = genmodel(fmt::format("outliers --checkpoint {} --against sideways", ck));
  CHECK(bad_set.code == 2);
  CHECK_THAT(bad_set.output, Contains("flip, mirror, invert, noise"));

  // Unconditional models: no labels to sample, nothing to classify with.
  REQUIRE(genmodel(fmt::format("train --model vae-ref --data {} --batch 8 --steps 1 --out {}", data,
                               dir.str("plain")))
              .code == 0);
  const std::string plain = dir.str("plain/checkpoint.safetensors");
  Result no_label = genmodel(fmt::format("sample --checkpoint {} --label 1", plain));
  CHECK(no_label.code == 2);
  CHECK_THAT(no_label.output, Contains("unconditional"));
  Result no_classes = genmodel(fmt::format("classify --checkpoint {}", plain));
  CHECK(no_classes.code == 2);
  CHECK_THAT(no_classes.output, Contains("class-conditional"));
}
