// Elementwise ops: their cases (op, input shapes and ranges, scalar oracle) are in the catalogue,
// support/op_cases/elementwise.cpp; here they run on every device, plus the error messages and
// gradient accumulation.
#include <cmath>

#include "engine/autograd.h"
#include "tests/support.h"

using namespace gm;

TEST_CASE("unary ops match their scalar oracle and finite differences", "[ops][elementwise]") {
  for (const char* op : {"neg", "exp", "log", "tanh", "sigmoid", "relu", "elu", "softplus",
                         "square", "sqrt", "abs", "add_scalar", "mul_scalar"})
    gm::test::check_op_cases(op);
}

TEST_CASE("binary ops broadcast like numpy", "[ops][elementwise]") {
  for (const char* op : {"add", "sub", "mul", "div"})
    gm::test::check_op_cases(op);
}

TEST_CASE("fused bias + relu matches its oracle and finite differences", "[ops][elementwise]") {
  gm::test::check_op_cases("bias_relu");
  REQUIRE_THROWS_WITH(bias_relu(Tensor::zeros({2, 3, 4}), Tensor::zeros({4})),
                      Catch::Contains("bias") && Catch::Contains("[3]"));
}

TEST_CASE("incompatible shapes are rejected with both shapes named", "[ops][errors]") {
  Tensor a = Tensor::zeros({3, 5});
  Tensor b = Tensor::zeros({4, 5});
  REQUIRE_THROWS_WITH(a + b, Catch::Contains("[3, 5]") && Catch::Contains("[4, 5]"));
  Tensor c = Tensor::zeros({3, 5}, DType::f64);
  REQUIRE_THROWS_WITH(a * c, Catch::Contains("dtypes differ"));
}

TEST_CASE("gradients accumulate across uses and backward calls", "[autograd]") {
  Tensor x = Tensor::from_vector<double>({1.0, 2.0, 3.0}, {3}).set_requires_grad();
  Tensor y = sum(x * x + x);  // dy/dx = 2x + 1
  y.backward();
  REQUIRE(x.grad().to_vector<double>() == std::vector<double>{3.0, 5.0, 7.0});
  sum(x * 2.0).backward();  // accumulates 2
  REQUIRE(x.grad().to_vector<double>() == std::vector<double>{5.0, 7.0, 9.0});
  {
    NoGradGuard no_grad;
    Tensor z = x * x;
    REQUIRE_FALSE(z.requires_grad());
  }
  Tensor d = (x * x).detach();
  REQUIRE_FALSE(d.requires_grad());
  REQUIRE_THROWS_WITH(sum(d).backward(), Catch::Contains("does not require grad"));
}
