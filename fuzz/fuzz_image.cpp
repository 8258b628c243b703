// libFuzzer harness: image files (engine/io/image_decode.cpp), decoded, converted to grey or
// RGB and resized as the image-folder reader does. The first byte picks the file name's
// extension and the requested shape, the rest is the file.
#include <array>

#include "engine/io/image_folder.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  constexpr std::array<const char*, 4> kSuffixes{".png", ".jpg", ".pgm", ".tga"};
  const std::string path = gm::fuzz::write_input({data + 1, size - 1}, kSuffixes[data[0] & 3]);
  const gm::io::FolderOptions shape{(data[0] & 4) ? 3 : 1, 8 + (data[0] >> 4), 8};
  return gm::fuzz::run_reader([&] { gm::io::read_image(path, shape); });
}
