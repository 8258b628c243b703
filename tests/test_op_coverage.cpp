// Coverage of the op catalogue (support/op_catalogue.h), in the spirit of ggml's
// test-backend-ops --show-coverage: every backend entry and every op has at least one case, so
// a new kernel or op cannot land untested. Both lists come from the declarations themselves
// (the X-macros of engine/backend_ops.def and engine/ops.h), not from a copy that could drift.
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support.h"

using namespace gm;
using catalogue::OpCase;

namespace {

// Every kind of entry: kernel entries default to GM_BACKEND_ENTRY, optional ones are listed too.
const std::vector<std::string> kEntries = {
#define GM_BACKEND_ENTRY(ret, name, params) #name,
#define GM_OPTIONAL_ENTRY(ret, name, params) #name,
#include "engine/backend_ops.def"
};

// The fused ops engine/ops.h declares from engine/backend_ops.def.
const std::vector<std::string> kFusedOps = {
#define GM_OP(ret, name, params) #name,
#include "engine/backend_ops.def"
};

// The ops engine/ops.h declares: every free function returning a Tensor (or the LSTM's state)
// at the start of a line, and the fused ops of the op list. Helpers that are not ops are listed
// with the reason they need no case.
std::set<std::string> declared_ops() {
  std::ifstream in(GENMODEL_SOURCE_DIR "/engine/ops.h");
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  const std::regex declaration(R"(\n(?:Tensor|LstmState) (\w+)\()");
  std::set<std::string> ops;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), declaration);
       it != std::sregex_iterator(); ++it)
    ops.insert((*it)[1]);
  ops.insert(kFusedOps.begin(), kFusedOps.end());
  // The gradient of a broadcast operand, run by every broadcasting binary case's backward.
  ops.erase("sum_to_shape");
  return ops;
}

// Ops whose output is not differentiable by design, with the reason.
const std::set<std::string> kNotDifferentiable = {
    "sample_categorical",  // integer draws
};

}  // namespace

TEST_CASE("every backend entry has a catalogue case", "[ops][coverage]") {
  std::set<std::string> covered;
  for (const OpCase& c : catalogue::op_catalogue())
    covered.insert(c.entries.begin(), c.entries.end());
  CHECK(kEntries.size() > 30);  // the X-macro was read
  for (const std::string& entry : kEntries) {
    INFO("backend entry '" << entry
                           << "' (engine/backend_ops.def) has no catalogue case: add one in "
                              "support/op_cases/ that runs it and names it in its entries");
    CHECK(covered.count(entry) == 1);
  }
  // And the other way round: a case naming an entry that does not exist is a typo.
  const std::set<std::string> known(kEntries.begin(), kEntries.end());
  for (const std::string& entry : covered) {
    INFO("a catalogue case names '" << entry << "', which engine/backend_ops.def does not declare");
    CHECK(known.count(entry) == 1);
  }
}

TEST_CASE("every op of engine/ops.h has a catalogue case, differentiable ones a gradcheck",
          "[ops][coverage]") {
  const std::set<std::string> ops = declared_ops();
  CHECK(ops.count("conv2d") == 1);                 // the header was read
  CHECK(ops.count("softmax_cross_entropy") == 1);  // and the op list
  std::set<std::string> any, differentiable;
  for (const OpCase& c : catalogue::op_catalogue()) {
    any.insert(c.op_name);
    if (c.differentiable) differentiable.insert(c.op_name);
  }
  for (const std::string& op : ops) {
    const bool wants_gradient = kNotDifferentiable.count(op) == 0;
    INFO("op '" << op << "' (engine/ops.h) has no " << (wants_gradient ? "differentiable " : "")
                << "catalogue case: add one in support/op_cases/ with an oracle and tolerances");
    CHECK((wants_gradient ? differentiable : any).count(op) == 1);
  }
}
