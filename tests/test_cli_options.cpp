// The genmodel command line as a new user meets it: bad values say what they must be (exit 2),
// output locations are checked before any work, each option means one thing everywhere, a run
// folder works as --checkpoint, resuming keeps the run's evaluation, and training draws its
// loss curve.
#include <cmath>

#include "tests/cli_helpers.h"

using namespace gm;
using namespace gm::test_cli;
using Catch::Matchers::Contains;

namespace {

// How many lines of `text` contain `needle`.
int lines_with(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

}  // namespace

TEST_CASE("cli options: out-of-range values say what they must be, with exit code 2") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"train --model pixelcnn-ref --steps 0", "must be a positive integer"},
      {"train --model pixelcnn-ref --steps -5", "must be a positive integer"},
      {"train --model pixelcnn-ref --steps 1e23", "at most"},
      {"train --model pixelcnn-ref --steps 2.5", "must be a positive integer"},
      {"train --model pixelcnn-ref --batch 0", "must be a positive integer"},
      {"train --model pixelcnn-ref --lr nan", "must be a positive number"},
      {"train --model pixelcnn-ref --lr 0", "must be a positive number"},
      {"train --model pixelcnn-ref --eval-limit -1", "must be a non-negative integer"},
      {"train --model pixelcnn-ref --data imagenet", "unknown data set 'imagenet'"},
      {"sample --checkpoint x --count 0", "must be a positive integer"},
      {"sample --checkpoint x --temperature 0", "must be a positive number"},
      {"eval --checkpoint x --data imagenet", "unknown data set 'imagenet'"},
  };
  for (const auto& [args, message] : cases) {
    INFO(args);
    const Result r = genmodel(args);
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK_THAT(r.output, Contains(message));
    // CLI11's own range message spelled out DBL_MAX in 309 digits.
    CHECK(r.output.size() < 300);
  }
}

TEST_CASE("cli options: an unknown option is named, with where the options are listed") {
  const Result r = genmodel("train --model pixelcnn-ref --bogus 3");
  INFO(r.output);
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Contains("unknown option '--bogus'") && Contains("genmodel train --help"));
}

TEST_CASE("cli options: output locations are checked before any work starts") {
  TempDir dir("outputs");
  // /proc takes no new files, even from root.
  Result r = genmodel("train --model pixelcnn-ref --steps 1 --out /proc/nope");
  INFO(r.output);
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Contains("cannot create the run folder '/proc/nope'"));
  CHECK(lines_with(r.output, "training ") == 0);  // nothing was loaded or trained
  r = genmodel("sample --checkpoint " + dir.str("missing.safetensors") + " --out /proc/x.png");
  INFO(r.output);
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Contains("cannot write '/proc/x.png'"));
  CHECK(lines_with(r.output, "does not exist") == 0);  // /proc exists: the folder is the problem
  r = genmodel("sample --checkpoint " + dir.str("missing.safetensors") + " --out " + dir.str());
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Contains("is a directory"));
}

TEST_CASE(
    "cli options: folder-only options are refused for fixed-size data, --model is shown as "
    "required") {
  TempDir dir("image-size");
  const std::string data = make_tiny_data(dir);
  for (const char* option : {"--image-size 16", "--channels 3"}) {
    const Result r = genmodel(fmt::format("train --model pixelcnn-ref --data {} {} --out {}", data,
                                          option, dir.str("run")));
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK_THAT(r.output, Contains("folder:DIR data only"));
  }
  CHECK_FALSE(fs::exists(dir.path / "run"));
  const Result help = genmodel("train --help");
  CHECK_THAT(help.output, Contains("--model") && Contains("REQUIRED"));
}

TEST_CASE(
    "cli options: a run folder as --checkpoint, the run's eval limit on resume, one final "
    "evaluation, the loss curve") {
  TempDir dir("run-folder");
  const std::string data = make_tiny_data(dir);
  const std::string run = dir.str("run");
  Result r = genmodel(
      fmt::format("train --model pixelcnn-ref --data {} --batch 8 --train-limit 24 --eval-limit 5 "
                  "--eval-every 2 --checkpoint-every 2 --steps 3 --out {}",
                  data, run));
  INFO(r.output);
  REQUIRE(r.code == 0);

  // Evaluations at step 2 and at the end, on the 5 test images asked for.
  auto evals = [&] {
    std::vector<nlohmann::json> out;
    for (const nlohmann::json& rec : read_log(dir.path / "run/log.jsonl"))
      if (rec["kind"] == "eval") out.push_back(rec);
    return out;
  };
  REQUIRE(evals().size() == 2);
  CHECK(evals()[1]["images"] == 5);

  // Resumed to step 5 without --eval-limit: the run's 5 images, not the default 1000.
  r = genmodel("train --resume --steps 5 --out " + run);
  INFO(r.output);
  REQUIRE(r.code == 0);
  REQUIRE(evals().size() == 4);  // steps 2, 3 (the first run's end), 4 and 5
  CHECK(evals()[3]["images"] == 5);
  CHECK(evals()[3]["step"] == 5);
  // Resumed with no steps left: nothing new, in particular no second evaluation at step 5.
  r = genmodel("train --resume --out " + run);
  REQUIRE(r.code == 0);
  CHECK(evals().size() == 4);
  // A different eval limit is a different run.
  r = genmodel("train --resume --eval-limit 7 --out " + run);
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Contains("--eval-limit"));

  // The loss curve: both series, a well-formed SVG document.
  std::ifstream svg_file(dir.path / "run/loss.svg");
  const std::string svg((std::istreambuf_iterator<char>(svg_file)), {});
  CHECK_THAT(svg, Contains("<svg") && Contains("</svg>") && Contains("training batches") &&
                      Contains("test images"));

  // The run folder stands for its checkpoint.
  r = genmodel("eval --json --eval-limit 3 --checkpoint " + run);
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(r.output)["images"] == 3);
  r = genmodel("sample --count 2 --checkpoint " + run);
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(fs::exists(dir.path / "run/samples.png"));
}

TEST_CASE("cli options: --precision bf16 trains on cuda-emu and is refused on the cpu") {
  TempDir dir("precision");
  const std::string data = make_tiny_data(dir);
  // The same seeded run in float32 and in BF16: the last training loss differs (the matrix
  // inputs were rounded) and both are finite.
  double loss[2] = {0, 0};
  for (int bf16 = 0; bf16 < 2; ++bf16) {
    const std::string run = dir.str(bf16 ? "bf16" : "fp32");
    const Result r = genmodel(fmt::format(
        "train --model pixelcnn-ref --data {} --device cuda-emu --precision {} --batch 8 "
        "--train-limit 16 --eval-limit 4 --steps 2 --seed 4 --out {}",
        data, bf16 ? "bf16" : "fp32", run));
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK((r.output.find("on cuda-emu in bf16") != std::string::npos) == (bf16 == 1));
    for (const nlohmann::json& rec : read_log(fs::path(run) / "log.jsonl"))
      if (rec["kind"] == "train") loss[bf16] = rec["bits_per_dim"].get<double>();
  }
  CHECK(std::isfinite(loss[0]));
  CHECK(std::isfinite(loss[1]));
  CHECK(loss[0] != loss[1]);

  Result r =
      genmodel(fmt::format("train --model pixelcnn-ref --data {} --precision bf16 "
                           "--steps 1 --out {}",
                           data, dir.str("cpu")));
  INFO(r.output);
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Contains("needs a CUDA device"));
  r = genmodel("train --model pixelcnn-ref --precision fp16 --steps 1");
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Contains("--precision"));
}

TEST_CASE(
    "cli options: --cuda-graph trains with the eager losses and is refused where it "
    "cannot work") {
  TempDir dir("graph");
  const std::string data = make_tiny_data(dir);
  // Step 1 eager, step 2 captured and launched, step 3 replayed: the same log as eager steps.
  std::vector<double> losses[2];
  for (int graph = 0; graph < 2; ++graph) {
    const std::string run = dir.str(graph ? "graph" : "eager");
    const Result r = genmodel(fmt::format(
        "train --model pixelcnn-ref --data {} --device cuda-emu --batch 8 --train-limit 16 "
        "--eval-limit 4 --steps 3 --seed 4 --out {}{}",
        data, run, graph ? " --cuda-graph" : ""));
    INFO(r.output);
    REQUIRE(r.code == 0);
    for (const nlohmann::json& rec : read_log(fs::path(run) / "log.jsonl"))
      if (rec["kind"] == "train") losses[graph].push_back(rec["loss"].get<double>());
  }
  CHECK(losses[0].size() == 3);
  CHECK(losses[0] == losses[1]);

  Result r =
      genmodel(fmt::format("train --model pixelcnn-ref --data {} --cuda-graph --steps 1 "
                           "--out {}",
                           data, dir.str("cpu")));
  INFO(r.output);
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Contains("--cuda-graph needs a CUDA device"));
}
