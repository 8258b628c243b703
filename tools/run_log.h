#pragma once
// The training log: one JSON object per line (JSONL) in OUT/log.jsonl, e.g.
//   {"kind":"train","step":12,"loss":612.5,"bits_per_dim":1.127,"seconds":3.2}
//   {"kind":"eval","step":500,"images":1000,"nats_per_image":...,"bits_per_dim":...}
// Lines are flushed as written, so `tail -f` follows a run.
#include <cstdio>
#include <filesystem>
#include <istream>
#include <nlohmann/json.hpp>
#include <string>

namespace gm::tools {

// The lines of a JSONL log whose records have an integer "step" of at most `resume_step`, each
// with its newline; other lines (cut short by a crash, edited by hand, later steps) are dropped.
std::string records_up_to(std::istream& log, int64_t resume_step);

class RunLog {
 public:
  // A fresh run truncates the log. A resumed run keeps only the records up to `resume_step`
  // (later ones came from steps that the checkpoint does not contain and will be redone).
  RunLog(const std::filesystem::path& path, bool resume, int64_t resume_step);
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  void write(const nlohmann::json& record);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

}  // namespace gm::tools
