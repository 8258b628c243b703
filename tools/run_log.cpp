#include "tools/run_log.h"

#include <fmt/format.h>

#include <fstream>

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

RunLog::RunLog(const std::filesystem::path& path, bool resume, int64_t resume_step) : path_(path) {
  if (resume && std::filesystem::exists(path)) {
    std::ifstream in(path);
    write_file_atomic(path, records_up_to(in, resume_step));
  }
  file_ = std::fopen(path.c_str(), resume ? "a" : "w");
  if (!file_) throw IoError(fmt::format("'{}': cannot open the training log", path.string()));
}

RunLog::~RunLog() {
  if (file_) std::fclose(file_);
}

void RunLog::write(const nlohmann::json& record) {
  const std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    throw IoError(fmt::format("'{}': cannot write the training log (disk full?)", path_.string()));
}

}  // namespace gm::tools
