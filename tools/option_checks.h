#pragma once
// Checks for option values, run by CLI11 while parsing (so a bad value is a usage error, exit
// code 2, before any work starts), with messages that say what the value must be.
#include <CLI/CLI.hpp>

#include <cstdint>

namespace gm::tools {

// Large enough for any real run, small enough to refuse typos such as 1e23 (which CLI11 would
// otherwise clamp to 2^63 - 1).
inline constexpr int64_t kMaxSteps = 1'000'000'000'000;
inline constexpr int64_t kMaxImages = 1'000'000'000;

// An integer from 1 (or 0) to `max`. "1e5" is accepted and becomes 100000; "0", "-5", "2.5",
// "nan" and values above `max` are refused ("must be a positive integer, at most ...").
CLI::Validator positive_integer(int64_t max);
CLI::Validator non_negative_integer(int64_t max);
// A finite number above 0 ("nan", "inf", "0" and negative values are refused).
CLI::Validator positive_number();
// A --data value that io::parse_data_source accepts (the data itself is read later).
CLI::Validator data_spec();

}  // namespace gm::tools
