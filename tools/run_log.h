#pragma once
// The training log: one JSON object per line (JSONL) in OUT/log.jsonl, e.g.
//   {"kind":"train","step":12,"loss":612.5,"bits_per_dim":1.127,"seconds":3.2}
//   {"kind":"eval","step":500,"images":1000,"nats_per_image":...,"bits_per_dim":...}
// Lines are flushed to the kernel as written, so `tail -f` follows a run; sync() puts them on
// disk, which the training loop does before every checkpoint, so a checkpoint never gets ahead
// of its log.
#include <cstdio>
#include <filesystem>
#include <istream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gm::tools {

// The lines of a JSONL log whose records have an integer "step" of at most `resume_step`, each
// with its newline; other lines (cut short by a crash, edited by hand, later steps) are dropped.
std::string records_up_to(std::istream& log, int64_t resume_step);

// What the loss curve needs of each record.
struct LogPoint {
  bool eval = false;
  int64_t step = 0;
  double bits_per_dim = 0.0;
};

// The points of the log at `path` (of a finished or a running run), in file order; lines that
// do not parse or have no integer step are skipped. Throws IoError when it cannot be read.
std::vector<LogPoint> read_log_points(const std::filesystem::path& path);

class RunLog {
 public:
  // A fresh run truncates the log. A resumed run keeps only the records up to `resume_step`
  // (later ones came from steps that the checkpoint does not contain and will be redone).
  RunLog(const std::filesystem::path& path, bool resume, int64_t resume_step);
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  void write(const nlohmann::json& record);
  // Flushes the log to disk (fsync) and returns its length in bytes.
  int64_t sync();
  // Whether the log holds an evaluation at `step` (a resumed run that adds no steps has one).
  bool has_eval_at(int64_t step) const;
  const std::vector<LogPoint>& points() const { return points_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void remember(const nlohmann::json& record);

  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  std::vector<LogPoint> points_;
};

}  // namespace gm::tools
