#include "tools/option_checks.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <optional>

#include "engine/io/dataset.h"

namespace gm::tools {

namespace {

// The integer a value means, also when written as a float ("1e5"); nothing for text, fractions,
// NaN or values beyond int64.
std::optional<int64_t> parse_integer(const std::string& text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const char* begin = text.data() + (text.starts_with('+') ? 1 : 0);
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec == std::errc() && ptr == end) return value;
  double real = 0.0;
  auto [rptr, rec] = std::from_chars(begin, end, real);
  // 9.2e18 is the largest double below 2^63: anything beyond is refused, not clamped.
  if (rec != std::errc() || rptr != end || !std::isfinite(real) || real != std::floor(real) ||
      std::fabs(real) > 9.2e18)
    return std::nullopt;
  return static_cast<int64_t>(real);
}

CLI::Validator integer_in(int64_t min, int64_t max, const char* what) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        const std::optional<int64_t> value = parse_integer(text);
        if (!value || *value < min || *value > max)
          return fmt::format("must be {} integer, at most {} (got '{}')", what, max, text);
        text = std::to_string(*value);
        return "";
      },
      fmt::format("INT in [{}, {}]", min, max));
}

}  // namespace

CLI::Validator positive_integer(int64_t max) {
  return integer_in(1, max, "a positive");
}

CLI::Validator non_negative_integer(int64_t max) {
  return integer_in(0, max, "a non-negative");
}

CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double value = 0.0;
        const char* end = text.data() + text.size();
        auto [ptr, ec] = std::from_chars(text.data(), end, value);
        if (ec != std::errc() || ptr != end || !std::isfinite(value) || value <= 0.0)
          return fmt::format("must be a positive number (got '{}')", text);
        return "";
      },
      "NUMBER > 0");
}

CLI::Validator data_spec() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          io::parse_data_source(text);
          return "";
        } catch (const std::exception& e) {
          return e.what();
        }
      },
      "");
}

}  // namespace gm::tools
