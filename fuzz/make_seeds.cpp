// Writes the seed corpora of the fuzz harnesses, one folder per harness under OUT, from our
// own writers and the real Fashion-MNIST files (no network):
//   genmodel_fuzz_seeds OUT [FASHION_MNIST_DIR]
// Seeds are small (a fuzzer mutates them thousands of times a second): a few images each.
#include <stb_image_write.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/io/cifar.h"
#include "engine/io/dataset.h"
#include "engine/io/idx.h"
#include "engine/io/png.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/random.h"
#include "tools/checkpoint.h"

namespace fs = std::filesystem;
using namespace gm;
using Bytes = std::vector<uint8_t>;

namespace {

void write_file(const fs::path& path, const Bytes& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

Bytes read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

Bytes gzip(const Bytes& bytes) {
  uLongf size = compressBound(static_cast<uLong>(bytes.size())) + 32;
  Bytes out(size);
  z_stream z{};
  // windowBits 15 + 16: a gzip wrapper, as gzip(1) writes and gzopen reads.
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    fail("deflateInit2 failed");
  z.next_in = const_cast<Bytes::value_type*>(bytes.data());
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&z, Z_FINISH);
  deflateEnd(&z);
  GM_CHECK(status == Z_STREAM_END, "deflate failed ({})", status);
  out.resize(z.total_out);
  return out;
}

Bytes big_endian_header(uint32_t magic, const std::vector<int64_t>& dims) {
  Bytes b;
  auto put = [&](uint32_t w) {
    for (int s = 24; s >= 0; s -= 8)
      b.push_back(static_cast<uint8_t>(w >> s));
  };
  put(magic);
  for (int64_t d : dims)
    put(static_cast<uint32_t>(d));
  return b;
}

Bytes pixels_of(const Tensor& t) {
  return t.to_vector<uint8_t>();
}

Bytes joined(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Interleaved [H, W, C] from planar [C, H, W], as image encoders want it.
Bytes interleaved(const Tensor& image) {
  const int64_t c = image.size(0), plane = image.size(1) * image.size(2);
  const Bytes planar = pixels_of(image);
  Bytes out(planar.size());
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t i = 0; i < plane; ++i)
      out[static_cast<size_t>(i * c + ch)] = planar[static_cast<size_t>(ch * plane + i)];
  return out;
}

void image_seeds(const fs::path& dir, const Tensor& grey) {
  const int w = static_cast<int>(grey.size(2)), h = static_cast<int>(grey.size(1));
  const Tensor rgb = concat({grey, grey, grey}, 0);
  const Bytes grey_hwc = interleaved(grey), rgb_hwc = interleaved(rgb);
  // The first byte of each seed is the harness's selector: extension and requested shape.
  auto seed = [&](const std::string& name, uint8_t selector, const Bytes& file) {
    write_file(dir / name, joined(Bytes{selector}, file));
  };
  io::write_png((dir / "tmp.png").string(), rgb);
  seed("rgb.png", 0 | 4, read_file(dir / "tmp.png"));
  io::write_png((dir / "tmp.png").string(), grey);
  seed("grey.png", 0, read_file(dir / "tmp.png"));
  fs::remove(dir / "tmp.png");
  Bytes jpeg;
  auto append = [](void* context, void* data, int size) {
    auto* bytes = static_cast<uint8_t*>(data);
    static_cast<Bytes*>(context)->insert(static_cast<Bytes*>(context)->end(), bytes, bytes + size);
  };
  GM_CHECK(stbi_write_jpg_to_func(append, &jpeg, w, h, 3, rgb_hwc.data(), 80), "JPEG failed");
  seed("rgb.jpg", 1 | 4, jpeg);
  const std::string size = fmt::format("{} {}\n255\n", w, h);
  seed("grey.pgm", 2,
       joined(Bytes{'P', '5', '\n'}, joined(Bytes(size.begin(), size.end()), grey_hwc)));
  seed("rgb.ppm", 2 | 4,
       joined(Bytes{'P', '6', '\n'}, joined(Bytes(size.begin(), size.end()), rgb_hwc)));
  Bytes tga;
  GM_CHECK(stbi_write_tga_to_func(append, &tga, w, h, 1, grey_hwc.data()), "TGA failed");
  seed("grey.tga", 3, tga);
}

void checkpoint_seed(const fs::path& dir) {
  // A real checkpoint of the smallest reference model, from the writer `train` uses; only one
  // small tensor is kept (the reader checks names against the model later, not here), so the
  // seed is mostly the metadata the harness is about.
  tools::RunConfig config;
  config.model = "pixelcnn-ref";
  config.shape = {1, 8, 8};
  tools::TrainingState state;
  Generator init(1);
  auto model =
      models::make_model(config.model, config.shape, nn::Init{Device::cpu(), DType::f32, &init});
  Sgd optimizer(model->parameters(), SgdOptions{});
  const fs::path full = dir / "full.safetensors";
  tools::save_checkpoint(full, config, state, *model, optimizer);
  SafetensorsFile file = load_safetensors(full);
  fs::remove(full);
  save_safetensors(dir / "checkpoint.safetensors", {{"w", Tensor::ones({2, 3})}}, file.metadata);
}

void log_seed(const fs::path& dir) {
  std::ofstream log(dir / "log.jsonl");
  for (int step = 1; step <= 8; ++step)
    log << nlohmann::json{{"kind", "train"},
                          {"step", step},
                          {"loss", 600.5 - step},
                          {"bits_per_dim", 1.1},
                          {"seconds", 0.25 * step}}
               .dump()
        << "\n";
  log << nlohmann::json{{"kind", "eval"}, {"step", 8}, {"images", 16}, {"bits_per_dim", 1.2}}.dump()
      << "\n";
  log << R"({"kind":"train","step":9,"lo)";  // a line cut short by a crash
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    fmt::print(stderr, "usage: {} OUT [FASHION_MNIST_DIR]\n", argv[0]);
    return 2;
  }
  try {
    const fs::path out = argv[1];
    for (const char* name : {"safetensors", "idx", "cifar", "image", "run_log", "checkpoint"})
      fs::create_directories(out / name);
    const io::DataSplits real =
        io::read_mnist_dir(argc == 3 ? argv[2] : io::kFashionMnistDir, "fashion-mnist");
    const io::Dataset few = real.test.first(3);

    const Bytes idx = joined(big_endian_header(0x803, {3, 28, 28}), pixels_of(few.images));
    write_file(out / "idx/images.idx", idx);
    write_file(out / "idx/images.idx.gz", gzip(idx));
    Bytes labels = big_endian_header(0x801, {3});
    for (int32_t label : few.labels.to_vector<int32_t>())
      labels.push_back(static_cast<uint8_t>(label));
    write_file(out / "idx/labels.idx", labels);

    // CIFAR-10 records (a label byte, then 3 planes of 32x32) from Fashion-MNIST pixels.
    Bytes cifar;
    const Bytes pixels = pixels_of(few.images);
    for (size_t i = 0; i < 2; ++i) {
      cifar.push_back(static_cast<uint8_t>(i + 3));
      for (size_t p = 0; p < 3 * 32 * 32; ++p)
        cifar.push_back(pixels[(i * 784 + p) % pixels.size()]);
    }
    write_file(out / "cifar/batch.bin", cifar);
    write_file(out / "cifar/batch.bin.gz", gzip(cifar));

    image_seeds(out / "image", reshape(slice(few.images, 0, 0, 1), {1, 28, 28}));
    save_safetensors(out / "safetensors/all_dtypes.safetensors",
                     {{"f32", Tensor::ones({2, 2})},
                      {"f64", Tensor::zeros({3}, DType::f64)},
                      {"u8", reshape(slice(few.images, 0, 0, 1), {4, 196})},
                      {"i32", few.labels}},
                     {{"format", "seed"}, {"step", "12"}});
    checkpoint_seed(out / "checkpoint");
    log_seed(out / "run_log");
    fmt::print("seed corpora written to {}\n", out.string());
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
