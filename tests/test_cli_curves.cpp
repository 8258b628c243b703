// `genmodel curves`: several runs' logs in one figure and one table, as a user compares runs.
#include <fstream>

#include "tests/cli_helpers.h"

using namespace gm;
using namespace gm::test_cli;
using Catch::Matchers::Contains;

namespace {

// A run folder whose log has a training record every step and evaluations every 100 steps;
// `eval_bits(step)` gives the evaluations, one of them cut short as a crash would leave it.
template <typename F>
void write_run(const fs::path& folder, int64_t steps, F eval_bits) {
  fs::create_directories(folder);
  std::ofstream log(folder / "log.jsonl");
  for (int64_t step = 1; step <= steps; ++step) {
    log << fmt::format(R"({{"kind":"train","step":{},"loss":1.0,"bits_per_dim":{}}})", step,
                       4.0 - 0.001 * static_cast<double>(step))
        << "\n";
    if (step % 100 == 0)
      log << fmt::format(R"({{"kind":"eval","step":{},"images":10,"bits_per_dim":{}}})", step,
                         eval_bits(step))
          << "\n";
  }
  log << R"({"kind":"eval","step":)";  // the half-written last line of a killed run
}

}  // namespace

TEST_CASE("cli: curves draws runs together and tables the evaluations they share") {
  TempDir dir("curves");
  write_run(dir.path / "plain", 300,
            [](int64_t step) { return 3.5 - 0.0010 * static_cast<double>(step); });
  write_run(dir.path / "gated", 200,
            [](int64_t step) { return 3.5 - 0.0012 * static_cast<double>(step); });
  const Result r = genmodel(fmt::format("curves {} {} --label plain --label gated --out {}",
                                        dir.str("plain"), dir.str("gated"), dir.str("both.svg")));
  INFO(r.output);
  REQUIRE(r.code == 0);
  // Steps 100 and 200 are in both logs, 300 only in the first; the lower value is bold.
  CHECK_THAT(r.output, Contains("| step | plain | gated |"));
  CHECK_THAT(r.output, Contains("| 100 | 3.4000 | **3.3800** |"));
  CHECK_THAT(r.output, Contains("| 200 | 3.3000 | **3.2600** |"));
  CHECK_THAT(r.output, !Contains("| 300 |"));
  std::ifstream svg(dir.path / "both.svg");
  const std::string figure{std::istreambuf_iterator<char>(svg), {}};
  CHECK_THAT(figure, Contains("plain, test images"));
  CHECK_THAT(figure, Contains("gated, batches"));

  const Result missing = genmodel(
      fmt::format("curves {} {} --out {}", dir.str("plain"), dir.path.string(), dir.str("x.svg")));
  CHECK(missing.code == 2);
  CHECK_THAT(missing.output, Contains("has no log.jsonl"));
  const Result labels = genmodel(
      fmt::format("curves {} --label a --label b --out {}", dir.str("plain"), dir.str("x.svg")));
  CHECK(labels.code == 2);
  CHECK_THAT(labels.output, Contains("give one per run"));
  CHECK(!fs::exists(dir.path / "x.svg"));
}
