// A class held out of training (`train --exclude-class K`) and scored as an outlier set
// (`outliers --against held-out`, `class:K`), run as a user runs them on a tiny data set.
#include "tests/cli_helpers.h"

using namespace gm;
using namespace gm::test_cli;
using Catch::Matchers::Contains;

TEST_CASE("cli: train --exclude-class leaves a class out; outliers scores it as held-out") {
  TempDir dir("held-out");
  const std::string data = make_tiny_data(dir);  // labels i % 4: 12 of 48 train, 4 of 16 test
  const std::string args =
      fmt::format("train --model vae-ref --data {} --batch 8 --steps 3 --eval-every 0", data);
  Result train = genmodel(args + " --exclude-class 2 --out " + dir.str("run"));
  INFO(train.output);
  REQUIRE(train.code == 0);
  CHECK_THAT(train.output, Contains("36 training images"));
  const SafetensorsFile ck = load_safetensors(dir.path / "run/checkpoint.safetensors");
  CHECK(get_metadata_int(ck.metadata, "data.exclude_class") == 2);
  // The evaluation is on the classes the model was trained on: 12 of the 16 test images.
  const std::vector<nlohmann::json> log = read_log(dir.path / "run/log.jsonl");
  REQUIRE_FALSE(log.empty());
  CHECK(log.back()["kind"] == "eval");
  CHECK(log.back()["images"] == 12);

  Result outliers = genmodel(
      fmt::format("outliers --checkpoint {} --against held-out,class:0,flip", dir.str("run")));
  INFO(outliers.output);
  REQUIRE(outliers.code == 0);
  CHECK_THAT(outliers.output, Contains("12 test images") && Contains("only class 2") &&
                                  Contains("only class 0") && Contains("(flip)"));

  // A resumed run keeps its held-out class.
  Result changed =
      genmodel(fmt::format("train --resume --steps 4 --exclude-class 1 --out {}", dir.str("run")));
  CHECK(changed.code == 2);
  CHECK_THAT(changed.output, Contains("--exclude-class 1 differs from the checkpoint's 2"));
  // A class the data does not have, and a held-out set from a run that held none out.
  Result absent = genmodel(args + " --exclude-class 7 --out " + dir.str("absent"));
  CHECK(absent.code != 0);
  CHECK_THAT(absent.output, Contains("has 0 images of that class"));
  REQUIRE(genmodel(args + " --out " + dir.str("all")).code == 0);
  Result none =
      genmodel(fmt::format("outliers --checkpoint {} --against held-out", dir.str("all")));
  CHECK(none.code == 2);
  CHECK_THAT(none.output, Contains("trained on every class; train with --exclude-class"));
  Result bad = genmodel(fmt::format("outliers --checkpoint {} --against class:x", dir.str("all")));
  CHECK(bad.code == 2);
  CHECK_THAT(bad.output, Contains("expected class:K"));
}
