// Convolutions: conv2d, masked conv2d and conv_transpose2d against direct scalar loops in double
// and finite differences, on every device (the cases: support/op_cases/conv.cpp).
#include "tests/support.h"

TEST_CASE("conv2d matches a direct convolution and finite differences", "[ops][conv]") {
  gm::test::check_op_cases("conv2d");
}

TEST_CASE("masked_conv2d matches a direct convolution with the mask applied", "[ops][conv]") {
  gm::test::check_op_cases("masked_conv2d");
}

TEST_CASE("conv_transpose2d matches its scatter definition and finite differences", "[ops][conv]") {
  gm::test::check_op_cases("conv_transpose2d");
}
