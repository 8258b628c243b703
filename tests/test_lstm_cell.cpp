// The fused LSTM cell against a scalar oracle and finite differences, for h, c and both.
#include "tests/support.h"

using namespace gm;

TEST_CASE("lstm cell matches its oracle and finite differences", "[ops][fused][lstm]") {
  gm::test::check_op_cases("lstm_cell");
}

TEST_CASE("lstm cell checks gate and state shapes", "[ops][fused][lstm][errors]") {
  REQUIRE_THROWS_WITH(lstm_cell(Tensor::zeros({2, 11, 5}), Tensor::zeros({2, 3, 5})),
                      Catch::Contains("gates") && Catch::Contains("[2, 12, 5]"));
  REQUIRE_THROWS_WITH(lstm_cell(Tensor::zeros({2, 12, 4}), Tensor::zeros({2, 3, 5})),
                      Catch::Contains("[2, 12, 4]") && Catch::Contains("[2, 12, 5]"));
  REQUIRE_THROWS_WITH(lstm_cell(Tensor::zeros({2, 12}, DType::f64), Tensor::zeros({2, 3})),
                      Catch::Contains("dtypes differ"));
  REQUIRE_THROWS_WITH(lstm_cell(Tensor::zeros({12}), Tensor::zeros({3})),
                      Catch::Contains("[N, H, positions...]"));
}
