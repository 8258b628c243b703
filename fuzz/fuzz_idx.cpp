// libFuzzer harness: IDX files, plain or gzip (engine/io/idx.cpp), as images (with the image
// size checks of a data set) and as labels.
#include "engine/io/idx.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = gm::fuzz::write_input({data, size}, ".idx");
  gm::fuzz::run_reader([&] {
    const gm::Tensor images = gm::io::read_idx(path, 3);
    gm::io::check_image_size({1, images.size(1), images.size(2)}, path);
  });
  return gm::fuzz::run_reader([&] { gm::io::read_idx(path, 1); });
}
