#include "support/op_catalogue.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/error.h"
#include "engine/random.h"

namespace gm::catalogue {

namespace {

std::vector<OpCase> build() {
  std::vector<OpCase> all;
  for (auto add : {add_elementwise_cases, add_shape_reduce_cases, add_conv_cases,
                   add_softmax_xent_cases, add_lstm_cell_cases, add_gaussian_cases,
                   add_likelihood_cases, add_pixelrnn_cases, add_kernel_cases})
    add(all);
  std::vector<std::string> names;
  for (const OpCase& c : all) {
    for (const std::string& n : names)
      GM_CHECK(n != c.name,
               "op catalogue: two cases are named '{}'; their inputs (seeded by the "
               "name) would be the same, so give one a distinct name",
               c.name);
    names.push_back(c.name);
  }
  return all;
}

}  // namespace

void add_cases(std::vector<OpCase>& to, std::string_view op_name,
               const std::vector<std::string>& entries, std::vector<OpCase> cases) {
  for (OpCase& c : cases) {
    c.op_name = op_name;
    c.entries = entries;
    to.push_back(std::move(c));
  }
}

const std::vector<OpCase>& op_catalogue() {
  static const std::vector<OpCase> all = build();
  return all;
}

std::vector<OpCase> cases_of(std::string_view op_name) {
  std::vector<OpCase> found;
  for (const OpCase& c : op_catalogue())
    if (c.op_name == op_name) found.push_back(c);
  GM_CHECK(!found.empty(), "op catalogue: no case for op '{}'; known ops are {}", op_name,
           fmt::join(op_names(), ", "));
  return found;
}

std::vector<std::string> op_names() {
  std::vector<std::string> names;
  for (const OpCase& c : op_catalogue())
    if (names.empty() || names.back() != c.op_name) names.push_back(c.op_name);
  return names;
}

std::vector<Tensor> make_inputs(const OpCase& c) {
  return make_inputs(c, std::hash<std::string>{}(c.name) & 0xffffffffu);
}

std::vector<Tensor> make_inputs(const OpCase& c, uint64_t seed) {
  Generator gen(seed);
  std::vector<Tensor> xs;
  for (size_t i = 0; i < c.shapes.size(); ++i) {
    const auto [low, high] = i < c.ranges.size() ? c.ranges[i] : std::pair{c.low, c.high};
    xs.push_back(Tensor::uniform(c.shapes[i], low, high, gen, DType::f64));
  }
  return xs;
}

std::vector<std::string> input_names(const OpCase& c) {
  std::vector<std::string> names;
  for (size_t i = 0; i < c.shapes.size(); ++i)
    names.push_back(fmt::format("input{}", i));
  return names;
}

}  // namespace gm::catalogue
