// libFuzzer harness: training checkpoints, the safetensors file and the run configuration in
// its metadata (tools/checkpoint.cpp).
#include "fuzz/fuzz_input.h"
#include "tools/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = gm::fuzz::write_input({data, size}, ".safetensors");
  return gm::fuzz::run_reader([&] { gm::tools::read_checkpoint(path); });
}
