#pragma once
// Training progress on stderr: a bar redrawn in place on a terminal, plain lines (every few
// seconds, and at the end) when stderr is a file or a pipe, so logs stay readable.
#include <chrono>
#include <cstdint>
#include <string>

namespace gm::tools {

class Progress {
 public:
  // Steps are counted from `first_step` (where a resumed run starts) to `total_steps`.
  Progress(int64_t first_step, int64_t total_steps);
  // After step `step` (1-based count of completed steps) with its loss.
  void update(int64_t step, double nats_per_image, double bits_per_dim);
  // A message on its own line, without garbling the bar.
  void message(const std::string& text);
  // Ends the bar's line.
  void finish();

 private:
  std::string status(int64_t step, double nats, double bits) const;
  void clear_bar();

  using Clock = std::chrono::steady_clock;
  int64_t first_step_, total_steps_;
  bool tty_;
  Clock::time_point start_, last_draw_;
  bool bar_visible_ = false;
};

}  // namespace gm::tools
