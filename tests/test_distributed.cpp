// Data-parallel training under `mpirun -np 2` (docs/distributed.md), run as a user runs it:
// two processes with global batch B train like one process with batch B, a stopped group
// resumes bit for bit, and a rank that fails ends the whole group with its message.
#include <cmath>
#include <csignal>
#include <fstream>
#include <iterator>

#include "tests/cli_helpers.h"

#ifndef GENMODEL_MPIRUN
#error "tests/CMakeLists.txt passes the path of mpirun (empty when absent) as GENMODEL_MPIRUN"
#endif

using namespace gm;
using namespace gm::test_cli;
using Catch::Matchers::Contains;

namespace {

// ctest's SKIP_RETURN_CODE: only a machine without mpirun skips these tests.
constexpr int kSkip = 77;

std::string mpirun(int processes) {
  if (std::string(GENMODEL_MPIRUN).empty()) {
    std::fprintf(stderr, "skipped: mpirun was not found when this build was configured\n");
    std::exit(kSkip);
  }
  // Open MPI refuses to start as root (CI containers) unless both variables allow it; it
  // needs nothing else on one machine. One OpenMP thread per rank: ctest runs other tests
  // at the same time. `timeout` turns a hung group into a failed test, not a stuck test run;
  // `exec` makes it the shell's process, so signals sent to that reach it (it passes them on).
  return fmt::format(
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 exec timeout "
      "300 {} -np {} ",
      GENMODEL_MPIRUN, processes);
}

Result genmodel_on(int processes, const std::string& args) {
  return run_command(mpirun(processes) + GENMODEL_BINARY + " " + args);
}

// `command` (from mpirun()) with its `timeout` passing a signal to mpirun alone, once.
std::string foreground(std::string command) {
  const std::string plain = "exec timeout ";
  const size_t at = command.find(plain);
  REQUIRE(at != std::string::npos);
  return command.replace(at, plain.size(), "exec timeout --foreground ");
}

std::string common_args(const std::string& model, const std::string& data) {
  return fmt::format(
      "train --model {} --data {} --batch 8 --train-limit 40 --seed 3 --eval-every 3", model, data);
}

double squared_distance(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i)
    sum += (x[i] - y[i]) * (x[i] - y[i]);
  return sum;
}

// Two runs' parameters (not the optimizer's buffers): |a - b| over all of them, and |a - c|.
std::pair<double, double> parameter_distances(const SafetensorsFile& a, const SafetensorsFile& b,
                                              const SafetensorsFile& c) {
  double ab = 0, ac = 0;
  for (const NamedTensor& t : a.tensors) {
    if (t.name.find("adam.") == 0) continue;
    ab += squared_distance(t.tensor, b.get(t.name));
    ac += squared_distance(t.tensor, c.get(t.name));
  }
  return {std::sqrt(ab), std::sqrt(ac)};
}

std::vector<nlohmann::json> records_of(const fs::path& log, const std::string& kind) {
  std::vector<nlohmann::json> out;
  for (const nlohmann::json& r : read_log(log))
    if (r["kind"] == kind) out.push_back(r);
  return out;
}

void check_two_processes_match_one(const std::string& model) {
  TempDir dir("ddp-" + model);
  const std::string args = common_args(model, make_tiny_data(dir)) + " --steps 4";
  const Result one = genmodel(args + " --out " + dir.str("one"));
  INFO(one.output);
  REQUIRE(one.code == 0);
  const Result two = genmodel_on(2, args + " --out " + dir.str("two"));
  INFO(two.output);
  REQUIRE(two.code == 0);
  // Rank 0 alone reports.
  CHECK_THAT(two.output, Contains("4 on each of 2 processes"));
  CHECK(records_of(dir.path / "two/log.jsonl", "train").size() == 4);
  // The same run with another seed: how far apart two genuinely different runs are.
  const Result three =
      genmodel(fmt::format("train --model {} --data mnist:{} --batch 8 --train-limit 40 "
                           "--seed 4 --eval-every 3 --steps 4 --out {}",
                           model, dir.str("data"), dir.str("other")));
  REQUIRE(three.code == 0);

  const SafetensorsFile a = load_safetensors(dir.path / "one/checkpoint.safetensors");
  const SafetensorsFile b = load_safetensors(dir.path / "two/checkpoint.safetensors");
  const SafetensorsFile c = load_safetensors(dir.path / "other/checkpoint.safetensors");
  // Same step, same random stream position: two ranks drew exactly the numbers one drew.
  for (const char* key : {"step", "train_gen.seed", "train_gen.offset"}) {
    INFO(key);
    CHECK(get_metadata(a.metadata, key) == get_metadata(b.metadata, key));
  }
  // Same images and noise, so the only difference is the order of float32 additions: one
  // process sums the batch's gradient inside its GEMMs, two add their halves afterwards
  // (~1e-7 relative per gradient element). Adam divides each gradient by its own running
  // magnitude, so an element's step changes by at most lr times its gradient's relative error,
  // and 4 steps of lr 1e-3 move a parameter by at most 4e-3. 1e-3 of the distance between two
  // runs that differ only in their seed is far above rounding and far below any real error
  // (a wrong shard, unaveraged or missing gradients all move parameters by lr per step).
  const auto [ab, ac] = parameter_distances(a, b, c);
  INFO("|one - two| = " << ab << ", |one - other seed| = " << ac);
  CHECK(ac > 0.1);
  CHECK(ab < 1e-3 * ac);

  // The first step's loss is computed from the same weights on the same images: equal up to
  // the rounding of float32 means (1e-6 relative). The sharded evaluation sees all 16 test
  // images.
  const auto la = records_of(dir.path / "one/log.jsonl", "train");
  const auto lb = records_of(dir.path / "two/log.jsonl", "train");
  CHECK(lb.front()["loss"].get<double>() == Approx(la.front()["loss"].get<double>()).epsilon(1e-6));
  const auto ea = records_of(dir.path / "one/log.jsonl", "eval");
  const auto eb = records_of(dir.path / "two/log.jsonl", "eval");
  REQUIRE(ea.size() == 2);
  REQUIRE(eb.size() == 2);
  CHECK(eb.back()["images"] == 16);
  // Evaluated on weights that differ by rounding (above), and summed in another order.
  CHECK(eb.back()["nats_per_image"].get<double>() ==
        Approx(ea.back()["nats_per_image"].get<double>()).epsilon(1e-4));
}

}  // namespace

TEST_CASE("distributed: 2 processes with global batch 8 train pixelcnn-ref like 1 with batch 8") {
  check_two_processes_match_one("pixelcnn-ref");
}

TEST_CASE("distributed: 2 processes with global batch 8 train vae-ref like 1 with batch 8") {
  check_two_processes_match_one("vae-ref");
}

TEST_CASE("distributed: a group stopped at a checkpoint resumes bit for bit") {
  TempDir dir("ddp-resume");
  const std::string args = common_args("vae-ref", make_tiny_data(dir)) + " --checkpoint-every 2";
  const Result full = genmodel_on(2, args + " --steps 6 --out " + dir.str("full"));
  INFO(full.output);
  REQUIRE(full.code == 0);
  const Result first = genmodel_on(2, args + " --steps 3 --out " + dir.str("split"));
  REQUIRE(first.code == 0);
  const Result resumed = genmodel_on(2, "train --resume --steps 6 --out " + dir.str("split"));
  INFO(resumed.output);
  REQUIRE(resumed.code == 0);
  require_identical_checkpoints(dir.path / "full/checkpoint.safetensors",
                                dir.path / "split/checkpoint.safetensors");
  CHECK(read_log(dir.path / "split/log.jsonl").size() ==
        read_log(dir.path / "full/log.jsonl").size());
}

TEST_CASE("distributed: a group stopped by SIGTERM saves, and resumes like an uninterrupted run") {
  // What Ctrl-C on mpirun, or `timeout --foreground`, does: one SIGTERM to mpirun, which
  // stops its ranks in Open MPI's three moves, T seconds apart: SIGCONT, SIGTERM, SIGKILL
  // (T = 5, as docs/distributed.md advises, leaves time for a step and the save). The ranks
  // agree on the step to stop after, rank 0 saves, and the others wait for the save before
  // they exit: a rank that exits with a non-zero status makes Open MPI kill the rest of the
  // group at once. Plain `timeout` would signal mpirun twice (itself and its process group),
  // and mpirun takes a second signal as "kill everything now" (docs/distributed.md). 12 log
  // records mean every rank is inside the training loop, with its signal handler installed.
  TempDir dir("ddp-signal");
  const std::string args =
      common_args("pixelcnn-ref", make_tiny_data(dir)) + " --checkpoint-every 0";
  const fs::path log = dir.path / "run/log.jsonl";
  const int status = interrupt_after_log_records(
      fmt::format("{}--mca odls_base_sigkill_timeout 5 {} {} --steps 100000 --out {} > {} 2>&1",
                  foreground(mpirun(2)), GENMODEL_BINARY, args, dir.str("run"), dir.str("run.out")),
      log, 12, 120, SIGTERM);
  std::ifstream out_file(dir.path / "run.out");
  const std::string output{std::istreambuf_iterator<char>(out_file), {}};
  INFO(output);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) != 0);
  CHECK_THAT(output, Contains("terminated (SIGTERM) at step"));

  const SafetensorsFile stopped = load_safetensors(dir.path / "run/checkpoint.safetensors");
  const int64_t step = get_metadata_int(stopped.metadata, "step");
  REQUIRE(step >= 3);
  CHECK(records_of(log, "train").size() == static_cast<size_t>(step));
  // Two more steps after the resume, against one group run of the same total length.
  const int64_t total = step + 2;
  const Result resumed =
      genmodel_on(2, fmt::format("train --resume --steps {} --out {}", total, dir.str("run")));
  INFO(resumed.output);
  REQUIRE(resumed.code == 0);
  const Result full =
      genmodel_on(2, fmt::format("{} --steps {} --out {}", args, total, dir.str("full")));
  INFO(full.output);
  REQUIRE(full.code == 0);
  require_identical_checkpoints(dir.path / "full/checkpoint.safetensors",
                                dir.path / "run/checkpoint.safetensors");
}

TEST_CASE("distributed: a failing rank ends the group with its message") {
  TempDir dir("ddp-fail");
  const std::string good = common_args("pixelcnn-ref", make_tiny_data(dir)) + " --steps 50";
  // Rank 1 is given a data folder that does not exist (mpirun's MPMD form: one command per
  // rank); rank 0 would wait for it in the first all-reduce forever.
  const std::string command = fmt::format(
      "{}{} {} --out {} : -np 1 {} train --model pixelcnn-ref --data mnist:{} "
      "--batch 8 --steps 50 --out {}",
      mpirun(1), GENMODEL_BINARY, good, dir.str("run"), GENMODEL_BINARY, dir.str("missing"),
      dir.str("run"));
  const Result r = run_command(command);
  INFO(r.output);
  CHECK(r.code != 0);
  CHECK(r.code != 124);  // not ended by the timeout: the group stopped itself
  CHECK_THAT(r.output, Contains("error: rank 1 of 2") && Contains("missing"));
  CHECK_FALSE(fs::exists(dir.path / "run/checkpoint.safetensors"));
}
