#pragma once
// Errors are exceptions carrying a message a user can act on: what went wrong, on which
// tensor or file, the expected and the actual value. Only tools turn them into exit codes.
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace gm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Raised when a tensor's shape, dtype or device does not fit an op.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// Raised on unreadable, truncated or malformed files.
class IoError : public Error {
 public:
  using Error::Error;
};

// Raised when a device is requested that this build or machine does not have.
class DeviceUnavailable : public Error {
 public:
  using Error::Error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace gm

// GM_CHECK(cond, "format {}", args...) throws gm::Error with the formatted message.
#define GM_CHECK(cond, ...)               \
  do {                                    \
    if (!(cond)) ::gm::fail(__VA_ARGS__); \
  } while (false)
