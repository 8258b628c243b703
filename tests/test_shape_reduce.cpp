// Reductions, layout ops and matrix products against scalar oracles and finite differences.
#include "tests/support.h"

using namespace gm;

TEST_CASE("sum and mean over dimensions", "[ops][reduce]") {
  for (const char* op : {"sum", "mean"})
    gm::test::check_op_cases(op);
}

TEST_CASE("permute, slice, concat, pad2d, flip, broadcast_to", "[ops][shape]") {
  for (const char* op : {"permute", "slice", "concat", "pad2d", "flip", "broadcast_to", "reshape"})
    gm::test::check_op_cases(op);
}

TEST_CASE("matmul and linear", "[ops][linalg]") {
  for (const char* op : {"matmul", "linear"})
    gm::test::check_op_cases(op);
  REQUIRE_THROWS_WITH(matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 2})),
                      Catch::Contains("inner sizes differ"));
}
