// Data readers, batches and pictures: tiny files are written to a temporary folder and read
// back; every malformed-file case must name the file and what was expected.
#include <stb_image.h>
#include <stb_image_write.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "engine/io/batches.h"
#include "engine/io/cifar.h"
#include "engine/io/dataset.h"
#include "engine/io/idx.h"
#include "engine/io/image_folder.h"
#include "engine/io/png.h"
#include "tests/files.h"
#include "tests/support.h"

using namespace gm;
using namespace gm::io;
using namespace gm::test;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// An IDX file of unsigned bytes: magic, big-endian dims, then `values` (or `count` values
// i * 7 mod 256 when none are given).
Bytes idx_bytes(const std::vector<uint32_t>& dims, Bytes values = {}) {
  Bytes b{0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  size_t count = 1;
  for (uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8)
      b.push_back(static_cast<uint8_t>(d >> s));
    count *= d;
  }
  if (values.empty())
    for (size_t i = 0; i < count; ++i)
      values.push_back(static_cast<uint8_t>(i * 7 % 256));
  b.insert(b.end(), values.begin(), values.end());
  return b;
}

// An MNIST-style folder: n_train and n_test images of h x w, labels i % 10.
void write_mnist_dir(const TempDir& dir, int64_t n_train, int64_t n_test, uint32_t h, uint32_t w,
                     bool gz) {
  const std::string ext = gz ? ".gz" : "";
  for (auto [prefix, n] : {std::pair{"train", n_train}, std::pair{"t10k", n_test}}) {
    Bytes labels;
    for (int64_t i = 0; i < n; ++i)
      labels.push_back(static_cast<uint8_t>(i % 10));
    write_bytes(dir / (std::string(prefix) + "-images-idx3-ubyte" + ext),
                idx_bytes({static_cast<uint32_t>(n), h, w}), gz);
    write_bytes(dir / (std::string(prefix) + "-labels-idx1-ubyte" + ext),
                idx_bytes({static_cast<uint32_t>(n)}, labels), gz);
  }
}

Dataset numbered_dataset(int64_t n) {
  Dataset d;
  d.name = "numbered";
  d.images = Tensor::empty({n, 1, 1, 1}, DType::u8);
  d.labels = Tensor::empty({n}, DType::i32);
  for (int64_t i = 0; i < n; ++i) {
    d.images.data<uint8_t>()[i] = static_cast<uint8_t>(i);
    d.labels.data<int32_t>()[i] = static_cast<int32_t>(i);
  }
  return d;
}

}  // namespace

TEST_CASE("IDX files read back, plain and gzip-compressed") {
  for (bool gz : {false, true}) {
    INFO("gz = " << gz);
    TempDir dir;
    write_mnist_dir(dir, 5, 3, 4, 6, gz);
    DataSplits s = read_mnist_dir(dir.path.string(), "mnist");
    REQUIRE(s.train.images.shape() == Shape{5, 1, 4, 6});
    REQUIRE(s.test.images.shape() == Shape{3, 1, 4, 6});
    REQUIRE(s.train.labels.dtype() == DType::i32);
    std::vector<uint8_t> pixels = s.train.images.to_vector<uint8_t>();
    for (size_t i = 0; i < pixels.size(); ++i)
      REQUIRE(pixels[i] == static_cast<uint8_t>(i * 7 % 256));
    REQUIRE(s.test.labels.to_vector<int32_t>() == std::vector<int32_t>{0, 1, 2});
  }
}

TEST_CASE("IDX: the dotted spelling train-images.idx3-ubyte is found too") {
  TempDir dir;
  write_mnist_dir(dir, 2, 2, 3, 3, false);
  fs::rename(dir / "train-images-idx3-ubyte", dir / "train-images.idx3-ubyte");
  REQUIRE(read_mnist_dir(dir.path.string(), "mnist").train.size() == 2);
}

TEST_CASE("IDX errors name the file and what was expected") {
  TempDir dir;
  const std::string images = dir / "images", labels = dir / "labels";
  write_bytes(labels, idx_bytes({4}, {1, 2, 3, 4}));

  SECTION("missing file") {
    require_io_error([&] { read_idx(dir / "nope", 3); }, {"nope", "no such file"});
  }
  SECTION("labels passed as images: wrong magic") {
    require_io_error([&] { read_idx(labels, 3); }, {labels, "0x00000801", "0x00000803", "labels"});
  }
  SECTION("not IDX at all") {
    write_bytes(images, {'h', 'e', 'l', 'l', 'o', '!'});
    require_io_error([&] { read_idx(images, 3); }, {images, "expected 0x00000803"});
  }
  SECTION("header cut short") {
    Bytes b = idx_bytes({2, 3, 3});
    b.resize(9);
    write_bytes(images, b);
    require_io_error([&] { read_idx(images, 3); }, {images, "truncated header", "at least 16"});
  }
  SECTION("truncated data") {
    Bytes b = idx_bytes({2, 3, 3});
    b.pop_back();
    write_bytes(images, b);
    require_io_error([&] { read_idx(images, 3); },
                     {images, "[2, 3, 3]", "18 bytes", "found 17", "truncated"});
  }
  SECTION("extra data") {
    Bytes b = idx_bytes({2, 3, 3});
    b.push_back(0);
    write_bytes(images, b);
    require_io_error([&] { read_idx(images, 3); }, {images, "found more than 18", "long"});
  }
  SECTION("truncated gzip stream") {
    write_bytes(images + ".gz", idx_bytes({20, 10, 10}), true);
    Bytes b = read_bytes(images + ".gz");
    b.resize(b.size() / 2);
    write_bytes(images + ".gz", b);
    require_io_error([&] { read_idx(images + ".gz", 3); }, {images + ".gz"});
  }
  SECTION("label count differs from image count") {
    write_bytes(images, idx_bytes({5, 2, 2}));
    require_io_error([&] { read_idx_pair(images, labels, "x"); },
                     {labels, "4 labels", images, "5 images"});
  }
  SECTION("a missing file in an MNIST folder lists the names tried") {
    write_mnist_dir(dir, 2, 2, 3, 3, false);
    fs::remove(dir / "t10k-labels-idx1-ubyte");
    require_io_error([&] { read_mnist_dir(dir.path.string(), "mnist"); },
                     {dir.path.string(), "t10k-labels", "t10k-labels-idx1-ubyte.gz"});
  }
  SECTION("a missing folder") {
    require_io_error([&] { read_mnist_dir(dir / "absent", "mnist"); },
                     {"absent", "does not exist"});
  }
}

TEST_CASE("data sources parse from the command line's forms") {
  CHECK(parse_data_source("fashion-mnist").dir == kFashionMnistDir);
  CHECK(parse_data_source("fashion-mnist:/x").dir == "/x");
  CHECK(parse_data_source("mnist:/a/b").format == DataSource::Format::idx);
  CHECK(parse_data_source("cifar10:/c").format == DataSource::Format::cifar10);
  CHECK(parse_data_source("folder:/d").dir == "/d");
  CHECK_THROWS_WITH(parse_data_source("imagenet"),
                    Contains("unknown data set") && Contains("cifar10:DIR"));
  CHECK_THROWS_WITH(parse_data_source("mnist"), Contains("mnist:DIR"));
  CHECK_THROWS_WITH(load_data(parse_data_source("fashion-mnist:/nonexistent/fm")),
                    Contains("scripts/setup.sh"));
}

TEST_CASE("the real Fashion-MNIST loads: 60000 + 10000 images of 28x28, labels 0..9") {
  if (!fs::is_directory(kFashionMnistDir)) {
    return test::skip(
        fmt::format("{} is missing (install the Debian package "
                    "dataset-fashion-mnist with scripts/setup.sh)",
                    kFashionMnistDir));
  }
  DataSplits s = load_data(parse_data_source("fashion-mnist"));
  REQUIRE(s.train.images.shape() == Shape{60000, 1, 28, 28});
  REQUIRE(s.test.images.shape() == Shape{10000, 1, 28, 28});
  for (const Dataset* d : {&s.train, &s.test}) {
    std::vector<int32_t> labels = d->labels.to_vector<int32_t>();
    std::set<int32_t> distinct(labels.begin(), labels.end());
    REQUIRE(distinct == std::set<int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  }
}

TEST_CASE("CIFAR-10 batches read back, malformed ones are errors") {
  TempDir dir;
  auto record = [](uint8_t label, uint8_t fill) {
    Bytes r{label};
    for (int i = 0; i < 3072; ++i)
      r.push_back(static_cast<uint8_t>(fill + i / 1024));  // planes R, G, B differ by one
    return r;
  };
  Bytes two = record(3, 10);
  Bytes other = record(9, 50);
  two.insert(two.end(), other.begin(), other.end());
  fs::create_directories(dir.path / "cifar-10-batches-bin");
  for (int b = 1; b <= 5; ++b)
    write_bytes(dir / fmt::format("cifar-10-batches-bin/data_batch_{}.bin", b), two, b == 3);
  write_bytes(dir / "cifar-10-batches-bin/test_batch.bin", record(1, 0));

  DataSplits s = read_cifar10_dir(dir.path.string());
  REQUIRE(s.train.images.shape() == Shape{10, 3, 32, 32});
  REQUIRE(s.test.images.shape() == Shape{1, 3, 32, 32});
  REQUIRE(s.train.labels.to_vector<int32_t>()[1] == 9);
  std::vector<uint8_t> px = s.train.images.to_vector<uint8_t>();
  CHECK(px[0] == 10);                // image 0, red
  CHECK(px[1024] == 11);             // image 0, green
  CHECK(px[3072 + 2048 + 5] == 52);  // image 1, blue

  const std::string bad = dir / "bad.bin";
  write_bytes(bad, Bytes(3000, 0));
  require_io_error([&] { read_cifar10_file(bad, "bad"); }, {bad, "3000 bytes", "multiple of 3073"});
  write_bytes(bad, record(10, 0));
  require_io_error([&] { read_cifar10_file(bad, "bad"); }, {bad, "label 10", "0..9"});
  fs::remove(dir / "cifar-10-batches-bin/data_batch_4.bin");
  require_io_error([&] { read_cifar10_dir(dir.path.string()); }, {"data_batch_4.bin"});
}

TEST_CASE("image folders: class folders, train/test, resizing, grey and RGB") {
  TempDir dir;
  // 4x2 RGB images whose red channel encodes the image's number.
  auto write_rgb = [](const std::string& path, uint8_t red) {
    std::vector<uint8_t> hwc;
    for (int i = 0; i < 8; ++i)
      hwc.insert(hwc.end(), {red, 100, 200});
    REQUIRE(stbi_write_png(path.c_str(), 4, 2, 3, hwc.data(), 4 * 3));
  };
  for (const char* split : {"train", "test"})
    for (const char* cls : {"cat", "dog"}) {
      fs::create_directories(dir.path / split / cls);
      write_rgb(dir / fmt::format("{}/{}/a.png", split, cls), cls[0] == 'c' ? 10 : 20);
    }
  std::ofstream(dir / "train/dog/notes.txt") << "not an image";  // skipped by extension

  DataSplits rgb = read_image_folder(dir.path.string(), {3, 2, 4});
  REQUIRE(rgb.train.images.shape() == Shape{2, 3, 2, 4});
  REQUIRE(rgb.train.labels.to_vector<int32_t>() == std::vector<int32_t>{0, 1});
  std::vector<uint8_t> px = rgb.train.images.to_vector<uint8_t>();
  CHECK(px[0] == 10);
  CHECK(px[8] == 100);      // green plane
  CHECK(px[24 + 0] == 20);  // second image, red

  // Uniform colour survives resizing and the grey conversion is a weighted mean of R, G, B.
  DataSplits grey = read_image_folder(dir.path.string(), {1, 5, 3});
  REQUIRE(grey.test.images.shape() == Shape{2, 1, 5, 3});
  for (uint8_t v : grey.test.images.to_vector<uint8_t>())
    CHECK((v > 20 && v < 200));

  std::ofstream(dir / "test/cat/broken.png") << "garbage";
  require_io_error(
      [&] {
        read_image_folder(dir.path.string(), {1, 2, 2});
      },
      {"broken.png", "not a PNG, JPEG or binary PGM/PPM file"});
  fs::remove(dir / "test/cat/broken.png");
  fs::create_directories(dir.path / "test/bird");
  require_io_error(
      [&] {
        read_image_folder(dir.path.string(), {1, 2, 2});
      },
      {"bird", "train split"});
}

TEST_CASE("image folders without train/test set every tenth image aside") {
  TempDir dir;
  std::vector<uint8_t> grey(9, 0);
  for (int i = 0; i < 20; ++i) {
    grey.assign(9, static_cast<uint8_t>(i));
    REQUIRE(
        stbi_write_png((dir / fmt::format("img{:02}.png", i)).c_str(), 3, 3, 1, grey.data(), 3));
  }
  DataSplits s = read_image_folder(dir.path.string(), {1, 3, 3});
  REQUIRE(s.train.size() == 18);
  REQUIRE(s.test.size() == 2);
  CHECK(s.test.images.to_vector<uint8_t>()[0] == 9);
  CHECK(s.test.images.to_vector<uint8_t>()[9] == 19);
  require_io_error([&] { read_image_folder(dir / "absent", {}); }, {"absent"});
}

TEST_CASE("image grids: geometry, placement, upscaling, and PNG round trip") {
  Tensor images = Tensor::empty({5, 1, 2, 3}, DType::u8);
  for (int64_t i = 0; i < images.numel(); ++i)
    images.data<uint8_t>()[i] = static_cast<uint8_t>(i);
  GridOptions o;
  o.border = 1;
  o.scale = 2;
  Tensor grid = make_grid(images, o);
  // 5 images -> 3 columns, 2 rows; tiles 4x6 after scaling; 1 px borders.
  REQUIRE(grid.shape() == Shape{1, 2 * (4 + 1) + 1, 3 * (6 + 1) + 1});
  const uint8_t* g = grid.data<uint8_t>();
  const int64_t w = grid.size(2);
  CHECK(g[0] == o.border_value);
  CHECK(g[1 * w + 1] == 0);                    // image 0, pixel (0, 0)
  CHECK(g[2 * w + 2] == 0);                    // still (0, 0) after 2x upscaling
  CHECK(g[3 * w + 1] == 3);                    // image 0, pixel (1, 0)
  CHECK(g[1 * w + 1 + 7] == 6);                // image 1 starts 7 px to the right
  CHECK(g[6 * w + 1 + 7] == 4 * 6 + 0);        // image 4: row 1, column 1
  CHECK(g[6 * w + 1 + 14] == o.border_value);  // the unused sixth tile

  TempDir dir;
  const std::string path = dir / "grid.png";
  write_png(path, grid);
  int pw = 0, ph = 0, pc = 0;
  stbi_uc* back = stbi_load(path.c_str(), &pw, &ph, &pc, 0);
  REQUIRE(back);
  CHECK(pw == grid.size(2));
  CHECK(ph == grid.size(1));
  CHECK(pc == 1);
  CHECK(std::equal(back, back + pw * ph, g));
  stbi_image_free(back);
  // Nothing but the picture is left behind (no temporary file).
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);

  Tensor rgb = Tensor::zeros({1, 3, 28, 28}, DType::u8);
  CHECK(make_grid(rgb).shape() == Shape{3, 56 + 4, 56 + 4});  // auto: tiles of 56 px, 2 px border
  CHECK_THROWS_WITH(make_grid(Tensor::zeros({1, 2, 3, 3}, DType::u8)), Contains("2 channels"));
  CHECK_THROWS_AS(write_png(dir / "no/such/dir/x.png", grid), IoError);
}

TEST_CASE("batches: every epoch is a permutation, the same seed gives the same batches") {
  Dataset d = numbered_dataset(23);
  BatchSampler a(d, 5, 42), b(d, 5, 42), c(d, 5, 43);
  REQUIRE(a.batches_per_epoch() == 4);  // 23 / 5, the incomplete fifth batch dropped
  std::vector<int64_t> epoch;
  bool differs = false;
  for (int64_t step = 0; step < 12; ++step) {
    std::vector<int64_t> idx = a.indices(step);
    REQUIRE(idx == b.indices(step));
    differs = differs || idx != c.indices(step);
    epoch.insert(epoch.end(), idx.begin(), idx.end());
    if ((step + 1) % 4 == 0) {
      std::set<int64_t> distinct(epoch.begin(), epoch.end());
      REQUIRE(distinct.size() == 20);  // no image twice within an epoch
      epoch.clear();
    }
  }
  CHECK(differs);
  CHECK(a.indices(0) != a.indices(4));  // epochs are shuffled differently
  // A resumed sampler asked for step 9 first gives what the uninterrupted one gave.
  BatchSampler resumed(d, 5, 42);
  CHECK(resumed.indices(9) == a.indices(9));
  Dataset batch = a.batch(9);
  std::vector<int64_t> idx = a.indices(9);
  for (size_t i = 0; i < idx.size(); ++i)
    CHECK(batch.labels.to_vector<int32_t>()[i] == idx[i]);
  // A batch larger than the data set is clipped to it.
  CHECK(BatchSampler(d, 100, 1).indices(0).size() == 23);
}

TEST_CASE("pixel preprocessing: threshold, dynamic binarisation statistics, determinism") {
  Tensor images = Tensor::empty({4, 1, 100, 100}, DType::u8);
  const uint8_t levels[4] = {0, 64, 200, 255};
  for (int64_t i = 0; i < images.numel(); ++i)
    images.data<uint8_t>()[i] = levels[i / 10000];

  Generator g1(7), g2(7);
  CHECK(preprocess(images, Pixels::eight_bit, g1).same(images));
  std::vector<uint8_t> th = preprocess(images, Pixels::threshold, g1).to_vector<uint8_t>();
  CHECK((th[0] == 0 && th[10000] == 0 && th[20000] == 255 && th[30000] == 255));
  CHECK(g1.offset() == 0);  // neither draws random numbers

  std::vector<uint8_t> first = preprocess(images, Pixels::dynamic, g1).to_vector<uint8_t>();
  CHECK(first == preprocess(images, Pixels::dynamic, g2).to_vector<uint8_t>());
  CHECK(first != preprocess(images, Pixels::dynamic, g1).to_vector<uint8_t>());  // resampled
  for (int level = 0; level < 4; ++level) {
    double ones = 0;
    for (int i = 0; i < 10000; ++i) {
      const uint8_t v = first[static_cast<size_t>(level * 10000 + i)];
      REQUIRE((v == 0 || v == 255));
      ones += v == 255;
    }
    // 10000 Bernoulli(p) draws: the mean's standard deviation is at most 0.005, so 0.02 is
    // four standard deviations; p = 0 and p = 1 must be exact.
    const double p = levels[level] / 255.0;
    CHECK(std::abs(ones / 10000 - p) < 0.02);
    if (p == 0.0 || p == 1.0) CHECK(ones / 10000 == p);
  }
  CHECK(parse_pixels("binarize") == Pixels::dynamic);
  CHECK_THROWS_WITH(parse_pixels("4bit"), Contains("8bit"));
}
