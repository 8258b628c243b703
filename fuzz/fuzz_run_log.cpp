// libFuzzer harness: the JSONL training log as a resumed run reads it (tools/run_log.cpp).
#include <sstream>

#include "fuzz/fuzz_input.h"
#include "tools/run_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream log(std::string(reinterpret_cast<const char*>(data), size));
  return gm::fuzz::run_reader([&] { gm::tools::records_up_to(log, 5); });
}
