// Crafted files that once crashed a reader, read garbage or cost gigabytes: each must now be an
// IoError naming the file, raised before anything large is allocated.
#include <stb_image_write.h>
#include <sys/resource.h>

#include "engine/io/cifar.h"
#include "engine/io/idx.h"
#include "engine/io/image_folder.h"
#include "engine/io/png.h"
#include "tests/files.h"

using namespace gm;
using namespace gm::io;
using namespace gm::test;
using Catch::Matchers::Contains;

namespace {

Bytes big_endian_u32s(std::initializer_list<uint32_t> words) {
  Bytes b;
  for (uint32_t w : words)
    for (int s = 24; s >= 0; s -= 8)
      b.push_back(static_cast<uint8_t>(w >> s));
  return b;
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes text(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

// A gzip file of `header` followed by `zeros` zero bytes, written in pieces so that the test
// itself never holds the inflated stream.
void write_gz_bomb(const std::string& path, const Bytes& header, size_t zeros) {
  gzFile f = gzopen(path.c_str(), "wb1");
  REQUIRE(f);
  REQUIRE(gzwrite(f, header.data(), static_cast<unsigned>(header.size())) ==
          static_cast<int>(header.size()));
  const Bytes piece(1 << 20, 0);
  for (size_t done = 0; done < zeros; done += piece.size())
    REQUIRE(gzwrite(f, piece.data(), static_cast<unsigned>(piece.size())) ==
            static_cast<int>(piece.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

// The process's peak resident memory so far, in MiB (Linux reports kilobytes).
double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// A PNG of one IHDR chunk declaring `width` x `height` grey pixels and an empty IDAT: enough
// for a decoder to read the size.
Bytes png_declaring(uint32_t width, uint32_t height) {
  auto chunk = [](std::string_view type, const Bytes& data) {
    Bytes body = concat(text(type), data);
    const auto crc = static_cast<uint32_t>(crc32(0, body.data(), static_cast<uInt>(body.size())));
    return concat(concat(big_endian_u32s({static_cast<uint32_t>(data.size())}), body),
                  big_endian_u32s({crc}));
  };
  Bytes ihdr = big_endian_u32s({width, height});
  ihdr.insert(ihdr.end(), {8, 0, 0, 0, 0});  // 8-bit grey, deflate, no filter, no interlace
  return concat(concat(text("\x89PNG\r\n\x1a\n"), chunk("IHDR", ihdr)), chunk("IDAT", {}));
}

// A 64x64 RGB image of varied pixels, so that most of an encoded file is pixel data (cut in
// half, it is cut in the pixels, not in the headers).
Bytes encoded(bool jpeg) {
  Bytes out;
  std::vector<uint8_t> rgb(64 * 64 * 3);
  for (size_t i = 0; i < rgb.size(); ++i)
    rgb[i] = static_cast<uint8_t>(i * i * 37 >> 3);
  auto append = [](void* context, void* data, int size) {
    auto* bytes = static_cast<uint8_t*>(data);
    static_cast<Bytes*>(context)->insert(static_cast<Bytes*>(context)->end(), bytes, bytes + size);
  };
  REQUIRE((jpeg ? stbi_write_jpg_to_func(append, &out, 64, 64, 3, rgb.data(), 90)
                : stbi_write_png_to_func(append, &out, 64, 64, 3, rgb.data(), 64 * 3)));
  return out;
}

// Reads `bytes` as the image file `name` would be read in a folder, at 16x16 RGB.
std::vector<uint8_t> decode(const Bytes& bytes, const std::string& name = "x.png") {
  TempDir dir;
  write_bytes(dir / name, bytes);
  return read_image(dir / name, {3, 16, 16}).to_vector<uint8_t>();
}

}  // namespace

TEST_CASE("IDX: header sizes whose product overflows are refused, not wrapped to 0 bytes") {
  TempDir dir;
  const std::string path = dir / "images";
  // [16, 2^30, 2^30]: 2^64 bytes, 0 after wrapping, which matched the empty data section.
  write_bytes(path, concat(big_endian_u32s({0x803, 16, 1u << 30, 1u << 30}), {}));
  require_io_error([&] { read_idx(path, 3); }, {path, "[16, 1073741824, 1073741824]", "2^63"});
}

TEST_CASE("IDX: images of zero or huge size are refused where they are read") {
  TempDir dir;
  const std::string images = dir / "images", labels = dir / "labels";
  write_bytes(labels, concat(big_endian_u32s({0x801, 16}), Bytes(16, 0)));
  write_bytes(images, big_endian_u32s({0x803, 16, 0, 28}));
  require_io_error([&] { read_idx_pair(images, labels, "x"); }, {images, "0x28", "1 to 1024"});
  write_bytes(images, concat(big_endian_u32s({0x803, 1, 1, 4096}), Bytes(4096, 0)));
  require_io_error([&] { read_idx_pair(images, labels, "x"); }, {images, "1x4096"});
  write_bytes(images, big_endian_u32s({0x803, 0, 28, 28}));
  require_io_error([&] { read_idx_pair(images, labels, "x"); }, {images, "no images"});
}

TEST_CASE("gzip input is inflated only as far as the format allows") {
  TempDir dir;
  // 192 MiB of zeros behind a header declaring 2 images of 2x2: a few hundred kilobytes on disk.
  constexpr size_t kInflated = size_t{192} << 20;
  const std::string idx = dir / "images.gz", cifar = dir / "data_batch_1.bin.gz";
  write_gz_bomb(idx, big_endian_u32s({0x803, 2, 2, 2}), kInflated);
  write_gz_bomb(cifar, {}, kInflated);
  const double before = peak_rss_mib();
  require_io_error([&] { read_idx(idx, 3); }, {idx, "found more than 8", "long"});
  require_io_error([&] { read_cifar10_file(cifar, "c"); },
                   {cifar, "once inflated", "at most 10000 records"});
  // The largest valid CIFAR-10 batch is 29 MiB; the readers held at most that plus a chunk,
  // never the 192 MiB stream. Peak memory is a count, not a timing: it does not vary by load.
  CHECK(peak_rss_mib() - before < 64.0);
}

TEST_CASE("PGM/PPM: zero sizes, truncation and 16-bit files are refused") {
  CHECK_THROWS_WITH(decode(text("P5\n0 4\n255\n")), Contains("x.png") && Contains("empty image"));
  CHECK_THROWS_WITH(decode(text("P5 4 0 255 ")), Contains("4x0"));  // width 4, height 0
  // 4x4 grey declares 16 bytes of pixels; 10 are there.
  CHECK_THROWS_WITH(decode(concat(text("P5\n4 4\n255\n"), Bytes(10, 7))),
                    Contains("truncated") && Contains("16 bytes") && Contains("holds 10"));
  CHECK_THROWS_WITH(decode(concat(text("P6\n4 4\n255\n"), Bytes(47, 7))),
                    Contains("truncated") && Contains("48 bytes"));
  CHECK_THROWS_WITH(decode(text("P5\n4 4\n65535\n")), Contains("8-bit"));
  CHECK_THROWS_WITH(decode(text("P5\n99999999999 4\n255\n")), Contains("more than 9 digits"));
  CHECK_THROWS_WITH(decode(text("P5\n9000 9000\n255\n")), Contains("shrink the image"));

  // A whole file decodes: grey expands to RGB, a maximum value below 255 is rescaled.
  TempDir dir;
  write_bytes(dir / "g.pgm", concat(text("P5 # comment\n2 1\n15\n"), Bytes{0, 15}));
  CHECK(read_image(dir / "g.pgm", {3, 1, 2}).to_vector<uint8_t>() == Bytes{0, 255, 0, 255, 0, 255});
}

TEST_CASE("PNG and JPEG: truncated files, huge sizes and bad tables are refused by name") {
  const Bytes png = encoded(false), jpeg = encoded(true);
  CHECK(decode(png).size() == 3 * 16 * 16);
  CHECK(decode(jpeg, "x.jpg").size() == 3 * 16 * 16);
  CHECK_THROWS_WITH(decode(Bytes(png.begin(), png.begin() + std::ssize(png) / 2)),
                    Contains("truncated PNG"));
  // Once reported as "bad png sig": the message names the format the file claims to be.
  CHECK_THROWS_WITH(decode(Bytes(jpeg.begin(), jpeg.begin() + std::ssize(jpeg) / 2), "x.jpg"),
                    Contains("truncated JPEG"));
  CHECK_THROWS_WITH(decode(png_declaring(9000, 9000)),
                    Contains("9000x9000") && Contains("shrink the image"));
  CHECK_THROWS_WITH(decode(png_declaring(0, 5)), Contains("PNG"));
  // A Huffman table (DHT) whose 16 code-length counts add up to 16 x 255 codes, more than the
  // 256 byte values: stb_image 2.27 wrote past its table.
  Bytes dht = text("\xff\xd8\xff\xc4");
  const size_t length = 2 + 1 + 16 + 16 * 255;
  dht.insert(dht.end(), {static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length), 0x00});
  dht.insert(dht.end(), 16, 255);
  dht.insert(dht.end(), 16 * 255, 1);
  dht.insert(dht.end(), {0xff, 0xd9});
  CHECK_THROWS_WITH(decode(dht, "x.jpg"), Contains("x.jpg") && Contains("JPEG"));
}

TEST_CASE("BMP, GIF, TGA and unknown files are refused with what to do") {
  CHECK_THROWS_WITH(decode(concat(text("BM"), Bytes(60, 0)), "a.bmp"),
                    Contains("BMP images are not read") && Contains("convert"));
  CHECK_THROWS_WITH(decode(text("GIF89a......"), "a.gif"), Contains("GIF"));
  // 18 bytes of TGA header declaring 16384x16384 RGB: stb spent 16 s and 1 GB on it.
  Bytes tga(18, 0);
  tga[2] = 2;
  tga[12] = tga[14] = 0x00;
  tga[13] = tga[15] = 0x40;
  tga[16] = 24;
  CHECK_THROWS_WITH(decode(tga, "big.tga"), Contains("TGA images are not read"));
  CHECK_THROWS_WITH(decode({}, "empty.png"), Contains("the file is empty"));
}

TEST_CASE("image folders refuse requested sizes of zero or above the limit") {
  TempDir dir;
  write_bytes(dir / "a.pgm", concat(text("P5 1 1 255\n"), Bytes{9}));
  CHECK_THROWS_WITH(read_image(dir / "a.pgm", {1, 0, 28}), Contains("1 to 1024"));
  CHECK_THROWS_WITH(read_image(dir / "a.pgm", {1, 28, 2000}), Contains("28x2000"));
  CHECK(read_image(dir / "a.pgm", {1, 2, 2}).to_vector<uint8_t>() == Bytes{9, 9, 9, 9});
}

TEST_CASE("image grids are bounded and sized in 64 bits") {
  const Tensor one = Tensor::zeros({1, 1, 28, 28}, DType::u8);
  GridOptions o;
  o.scale = 2400;  // 67202 pixels a side; c*h*w overflowed int in the PNG writer
  CHECK_THROWS_WITH(make_grid(one, o), Contains("smaller scale"));
  o.scale = int64_t{1} << 40;  // the tile size itself overflows nothing, the picture is refused
  CHECK_THROWS_WITH(make_grid(one, o), Contains("smaller scale"));
  o.scale = int64_t{1} << 62;
  CHECK_THROWS_WITH(make_grid(one, o), Contains("smaller scale"));
  CHECK_THROWS_WITH(make_grid(Tensor::zeros({1, 1, 0, 28}, DType::u8)), Contains("0x28"));
}
