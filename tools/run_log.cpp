#include "tools/run_log.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "engine/error.h"
#include "engine/io/atomic_file.h"

namespace gm::tools {

std::string records_up_to(std::istream& log, int64_t resume_step) {
  std::string kept, line;
  while (std::getline(log, line)) {
    // A line cut short by a crash does not parse, and a line edited by hand may have no
    // integer step: neither belongs to a step we can place, so it is dropped.
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_object()) continue;
    const auto step = record.find("step");
    if (step == record.end() || !step->is_number_integer()) continue;
    if (step->get<int64_t>() <= resume_step) kept += line + "\n";
  }
  return kept;
}

namespace {

// The curve's point of one record with an integer step, if it has a bits/dim.
void add_point(const nlohmann::json& record, std::vector<LogPoint>& points) {
  const auto bits = record.find("bits_per_dim");
  if (bits == record.end() || !bits->is_number()) return;
  points.push_back(
      {record.value("kind", "") == "eval", record["step"].get<int64_t>(), bits->get<double>()});
}

}  // namespace

std::vector<LogPoint> read_log_points(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw IoError(fmt::format("'{}': cannot read the training log", path.string()));
  std::istringstream lines(records_up_to(in, std::numeric_limits<int64_t>::max()));
  std::vector<LogPoint> points;
  for (std::string line; std::getline(lines, line);)
    add_point(nlohmann::json::parse(line), points);
  return points;
}

RunLog::RunLog(const std::filesystem::path& path, bool resume, int64_t resume_step) : path_(path) {
  if (resume && std::filesystem::exists(path)) {
    std::ifstream in(path);
    const std::string kept = records_up_to(in, resume_step);
    std::istringstream kept_lines(kept);
    for (std::string line; std::getline(kept_lines, line);)
      remember(nlohmann::json::parse(line));
    write_file_atomic(path, kept);
  }
  file_ = std::fopen(path.c_str(), resume ? "a" : "w");
  if (!file_) throw IoError(fmt::format("'{}': cannot open the training log", path.string()));
}

RunLog::~RunLog() {
  if (file_) std::fclose(file_);
}

void RunLog::remember(const nlohmann::json& record) {
  add_point(record, points_);
}

void RunLog::write(const nlohmann::json& record) {
  const std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    throw IoError(fmt::format("'{}': cannot write the training log (disk full?)", path_.string()));
  remember(record);
}

int64_t RunLog::sync() {
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0)
    throw IoError(fmt::format("'{}': flushing the training log to disk failed: {}", path_.string(),
                              std::strerror(errno)));
  return static_cast<int64_t>(std::ftell(file_));
}

bool RunLog::has_eval_at(int64_t step) const {
  for (const LogPoint& p : points_)
    if (p.eval && p.step == step) return true;
  return false;
}

}  // namespace gm::tools
