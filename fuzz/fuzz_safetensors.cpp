// libFuzzer harness: safetensors files (engine/io/safetensors.cpp).
#include "engine/io/safetensors.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = gm::fuzz::write_input({data, size}, ".safetensors");
  return gm::fuzz::run_reader([&] { gm::load_safetensors(path); });
}
