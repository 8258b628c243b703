#include "tools/progress.h"

#include <cmath>

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "tools/common.h"

namespace gm::tools {

Progress::Progress(int64_t first_step, int64_t total_steps)
    : first_step_(first_step),
      total_steps_(total_steps),
      tty_(::isatty(::fileno(stderr)) != 0),
      start_(Clock::now()),
      last_draw_(start_) {}

std::string Progress::status(int64_t step, double nats, double bits) const {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(step - first_step_) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_steps_ - step) / rate : -1.0;
  // A loss that is no likelihood (the autoencoder's squared error) has no bits/dim: NaN.
  const std::string loss = std::isnan(bits)
                               ? fmt::format("loss {:.2f}", nats)
                               : fmt::format("loss {:.2f} nats  {:.4f} bits/dim", nats, bits);
  return fmt::format("{}/{}  {}  {:.2f} steps/s  ETA {}", step, total_steps_, loss, rate,
                     format_duration(eta));
}

void Progress::update(int64_t step, double nats, double bits) {
  const auto now = Clock::now();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  const bool last = step >= total_steps_;
  if (tty_) {
    // Redrawing costs little, but at most ten times a second keeps the terminal calm.
    if (since_draw < 0.1 && !last && bar_visible_) return;
    const int width = 24;
    const int filled =
        total_steps_ > 0 ? static_cast<int>(width * step / std::max<int64_t>(total_steps_, 1)) : 0;
    fmt::print(stderr, "\r[{:=<{}}{:<{}}] {}\x1b[K", "", filled, "", width - filled,
               status(step, nats, bits));
    bar_visible_ = true;
  } else {
    if (since_draw < 5.0 && !last && step != first_step_ + 1) return;
    fmt::print(stderr, "step {}\n", status(step, nats, bits));
  }
  std::fflush(stderr);
  last_draw_ = now;
}

void Progress::clear_bar() {
  if (tty_ && bar_visible_) fmt::print(stderr, "\r\x1b[K");
  bar_visible_ = false;
}

void Progress::message(const std::string& text) {
  clear_bar();
  fmt::print(stderr, "{}\n", text);
  std::fflush(stderr);
}

void Progress::finish() {
  if (tty_ && bar_visible_) fmt::print(stderr, "\n");
  bar_visible_ = false;
}

}  // namespace gm::tools
