// libFuzzer harness: CIFAR-10 batch files, plain or gzip (engine/io/cifar.cpp).
#include "engine/io/cifar.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = gm::fuzz::write_input({data, size}, ".bin");
  return gm::fuzz::run_reader([&] { gm::io::read_cifar10_file(path, "fuzz"); });
}
