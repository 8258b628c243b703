// Reductions, layout ops and matrix products: scalar oracles over row-major indices.
#include "support/op_catalogue.h"

#include <fmt/ranges.h>

#include "engine/ops.h"

namespace gm::catalogue {

namespace {

// Row-major multi-index helpers for the oracles.
std::vector<int64_t> unravel(int64_t flat, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    idx[d] = flat % s[d];
    flat /= s[d];
  }
  return idx;
}
int64_t ravel(const std::vector<int64_t>& idx, const Shape& s) {
  int64_t flat = 0;
  for (size_t d = 0; d < s.size(); ++d)
    flat = flat * s[d] + idx[d];
  return flat;
}

OpCase sum_case(Shape shape, std::vector<int> dims, bool keepdim, bool average) {
  OpCase c;
  c.name = fmt::format("{} {} dims {} keep {}", average ? "mean" : "sum", shape_str(shape),
                       fmt::join(dims, ","), keepdim);
  c.shapes = {shape};
  c.op = [dims, keepdim, average](const std::vector<Tensor>& x) {
    return average ? mean(x[0], dims, keepdim) : sum(x[0], dims, keepdim);
  };
  c.reference = [shape, dims, average](const std::vector<HostValues>& x) {
    Shape out = shape;
    int64_t count = 1;
    for (int d : dims) {
      count *= shape[static_cast<size_t>(d)];
      out[static_cast<size_t>(d)] = 1;
    }
    HostValues y(static_cast<size_t>(shape_numel(out)), 0.0);
    for (int64_t i = 0; i < shape_numel(shape); ++i) {
      auto idx = unravel(i, shape);
      for (int d : dims)
        idx[static_cast<size_t>(d)] = 0;
      y[static_cast<size_t>(ravel(idx, out))] += x[0][static_cast<size_t>(i)];
    }
    if (average)
      for (double& v : y)
        v /= static_cast<double>(count);
    return y;
  };
  // Sums of up to ~100 float32 values of order one: rounding grows like sqrt(n) * 6e-8.
  c.f32_atol = 1e-5;
  return c;
}

// The op of a layout case is its name's first word ("slice dim1 [1,4)" is a slice).
std::string op_of(const std::string& name) {
  return name.substr(0, name.find(' '));
}

}  // namespace

void add_shape_reduce_cases(std::vector<OpCase>& to) {
  {
    const std::vector<OpCase> cases = {
        sum_case({3, 5, 7}, {1}, false, false),        sum_case({3, 5, 7}, {0, 2}, true, false),
        sum_case({3, 5, 7}, {0, 1, 2}, false, false),  sum_case({3, 5, 7}, {2}, false, true),
        sum_case({2, 3, 5, 7}, {0, 2, 3}, true, true),
    };
    // The backward broadcasts the gradient back (a strided copy).
    for (const OpCase& c : cases)
      add_cases(to, op_of(c.name), {"sum_axis", "strided_copy"}, {c});
  }
  {
    std::vector<OpCase> cases;
    {
      OpCase c;
      c.name = "permute 0231";
      c.shapes = {{2, 3, 5, 7}};
      c.op = [](const std::vector<Tensor>& x) { return permute(x[0], {0, 2, 3, 1}); };
      c.reference = [](const std::vector<HostValues>& x) {
        const Shape in{2, 3, 5, 7}, out{2, 5, 7, 3};
        HostValues y(x[0].size());
        for (int64_t i = 0; i < shape_numel(out); ++i) {
          auto o = unravel(i, out);
          y[static_cast<size_t>(i)] =
              x[0][static_cast<size_t>(ravel({o[0], o[3], o[1], o[2]}, in))];
        }
        return y;
      };
      cases.push_back(c);
    }
    {
      OpCase c;
      c.name = "slice dim1 [1,4)";
      c.shapes = {{3, 5, 7}};
      c.op = [](const std::vector<Tensor>& x) { return slice(x[0], 1, 1, 4); };
      c.reference = [](const std::vector<HostValues>& x) {
        HostValues y;
        for (int64_t a = 0; a < 3; ++a)
          for (int64_t b = 1; b < 4; ++b)
            for (int64_t d = 0; d < 7; ++d)
              y.push_back(x[0][static_cast<size_t>((a * 5 + b) * 7 + d)]);
        return y;
      };
      cases.push_back(c);
    }
    {
      OpCase c;
      c.name = "concat dim1";
      c.shapes = {{3, 2, 5}, {3, 3, 5}};
      c.op = [](const std::vector<Tensor>& x) { return concat({x[0], x[1]}, 1); };
      c.reference = [](const std::vector<HostValues>& x) {
        HostValues y;
        for (int64_t a = 0; a < 3; ++a) {
          for (int64_t b = 0; b < 2; ++b)
            for (int64_t d = 0; d < 5; ++d)
              y.push_back(x[0][static_cast<size_t>((a * 2 + b) * 5 + d)]);
          for (int64_t b = 0; b < 3; ++b)
            for (int64_t d = 0; d < 5; ++d)
              y.push_back(x[1][static_cast<size_t>((a * 3 + b) * 5 + d)]);
        }
        return y;
      };
      cases.push_back(c);
    }
    {
      OpCase c;
      c.name = "pad2d 1,0,2,-1";  // pads top and left, crops one column on the right
      c.shapes = {{2, 3, 5}};
      c.op = [](const std::vector<Tensor>& x) { return pad2d(x[0], 1, 0, 2, -1); };
      c.reference = [](const std::vector<HostValues>& x) {
        HostValues y;
        for (int64_t n = 0; n < 2; ++n)
          for (int64_t r = 0; r < 4; ++r)
            for (int64_t col = 0; col < 6; ++col) {
              const int64_t sr = r - 1, sc = col - 2;
              y.push_back(sr >= 0 && sc >= 0 && sc < 4
                              ? x[0][static_cast<size_t>((n * 3 + sr) * 5 + sc)]
                              : 0.0);
            }
        return y;
      };
      cases.push_back(c);
    }
    {
      OpCase c;
      c.name = "flip dim2";
      c.shapes = {{2, 3, 5}};
      c.op = [](const std::vector<Tensor>& x) { return flip(x[0], -1); };
      c.reference = [](const std::vector<HostValues>& x) {
        HostValues y;
        for (int64_t r = 0; r < 6; ++r)
          for (int64_t col = 0; col < 5; ++col)
            y.push_back(x[0][static_cast<size_t>(r * 5 + 4 - col)]);
        return y;
      };
      cases.push_back(c);
    }
    {
      OpCase c;
      c.name = "broadcast_to";
      c.shapes = {{3, 1}};
      c.op = [](const std::vector<Tensor>& x) { return broadcast_to(x[0], {2, 3, 5}); };
      c.reference = [](const std::vector<HostValues>& x) {
        HostValues y;
        for (int64_t n = 0; n < 2; ++n)
          for (int64_t r = 0; r < 3; ++r)
            for (int64_t col = 0; col < 5; ++col)
              y.push_back(x[0][static_cast<size_t>(r)]);
        return y;
      };
      cases.push_back(c);
    }
    {
      OpCase c;
      c.name = "reshape";
      c.shapes = {{3, 5, 7}};
      c.op = [](const std::vector<Tensor>& x) { return reshape(x[0], {5, -1}) * 2.0; };
      c.reference = [](const std::vector<HostValues>& x) {
        HostValues y = x[0];
        for (double& v : y)
          v *= 2.0;
        return y;
      };
      cases.push_back(c);
    }
    // Every layout op is one strided copy each way; padding and slicing start from zeros.
    for (const OpCase& c : cases)
      add_cases(to, op_of(c.name), {"strided_copy", "fill"}, {c});
  }
  {
    std::vector<OpCase> cases;
    {
      OpCase c;
      c.name = "matmul 5x7 7x3";
      c.shapes = {{5, 7}, {7, 3}};
      c.op = [](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); };
      c.reference = [](const std::vector<HostValues>& x) {
        HostValues y(15, 0.0);
        for (size_t i = 0; i < 5; ++i)
          for (size_t j = 0; j < 3; ++j)
            for (size_t k = 0; k < 7; ++k)
              y[i * 3 + j] += x[0][i * 7 + k] * x[1][k * 3 + j];
        return y;
      };
      cases.push_back(c);
    }
    {
      OpCase c;
      c.name = "linear 3x7 -> 5";
      c.shapes = {{3, 7}, {5, 7}, {5}};
      c.op = [](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); };
      c.reference = [](const std::vector<HostValues>& x) {
        HostValues y(15, 0.0);
        for (size_t n = 0; n < 3; ++n)
          for (size_t o = 0; o < 5; ++o) {
            y[n * 5 + o] = x[2][o];
            for (size_t k = 0; k < 7; ++k)
              y[n * 5 + o] += x[0][n * 7 + k] * x[1][o * 7 + k];
          }
        return y;
      };
      cases.push_back(c);
    }
    for (const OpCase& c : cases)
      add_cases(to, op_of(c.name), {"gemm"}, {c});
  }
}

}  // namespace gm::catalogue
