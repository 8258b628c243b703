// Checkpoint I/O: the safetensors format byte for byte, every malformed file we must refuse,
// atomic writes, metadata scalars, and a training run resumed from a checkpoint.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numbers>

#include "engine/io/atomic_file.h"
#include "engine/io/safetensors.h"
#include "engine/optim.h"
#include "tests/support.h"
#include "tests/temp_dir.h"

using namespace gm;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

using test::TempDir;

namespace {

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string u64_le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i)
    s[static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A file with a hand-written header (its true length) and `data_bytes` bytes of data.
std::string raw_file(const std::string& header, size_t data_bytes) {
  return u64_le(header.size()) + header + std::string(data_bytes, '\x01');
}

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("safetensors round trip of every dtype on every device", "[checkpoint]") {
  TempDir dir;
  for (Device device : gm::test::test_devices()) {
    INFO(device.name());
    Generator gen(5);
    const std::vector<NamedTensor> tensors = {
        {"conv.weight", Tensor::uniform({3, 2, 5}, -1, 1, gen, DType::f32, device)},
        {"double", Tensor::normal({7}, 0, 1e10, gen, DType::f64, device)},
        {"pixels", Tensor::from_vector<int>({0, 1, 127, 128, 255}, {5}, DType::u8, device)},
        {"labels", Tensor::from_vector<int>({-2147483647 - 1, -1, 0, 2147483647}, {2, 2},
                                            DType::i32, device)},
        {"scalar", Tensor::full({}, 2.5, DType::f64, device)},
        {"empty", Tensor::zeros({0, 3}, DType::f32, device)},
    };
    const Metadata meta = {{"format", "genmodel"}, {"note", "unicode: \xc3\xa9\xe2\x82\xac"}};
    const fs::path path = dir / "all.safetensors";
    save_safetensors(path, tensors, meta);
    const SafetensorsFile file = load_safetensors(path, device);
    CHECK(file.metadata == meta);
    REQUIRE(file.tensors.size() == tensors.size());
    // Data order: by element size, largest first, otherwise as given.
    std::vector<std::string> names;
    for (const NamedTensor& nt : file.tensors)
      names.push_back(nt.name);
    CHECK(names ==
          std::vector<std::string>{"double", "scalar", "conv.weight", "labels", "empty", "pixels"});
    for (size_t i = 0; i < tensors.size(); ++i) {
      INFO(tensors[i].name);
      const Tensor& got = file.get(tensors[i].name);
      CHECK(got.device() == device);
      CHECK(got.dtype() == tensors[i].tensor.dtype());
      CHECK(got.shape() == tensors[i].tensor.shape());
      CHECK(got.to_vector<double>() == tensors[i].tensor.to_vector<double>());
    }
    CHECK(file.get("pixels").to_vector<int>() == std::vector<int>{0, 1, 127, 128, 255});
    CHECK_THROWS_WITH(file.get("nope"), Contains("has no tensor 'nope'"));
  }
}

TEST_CASE("safetensors byte layout matches the format exactly", "[checkpoint]") {
  TempDir dir;
  const fs::path path = dir / "tiny.safetensors";
  save_safetensors(path,
                   {{"w", Tensor::from_vector<float>({1.0f, -2.0f}, {2})},
                    {"a", Tensor::from_vector<int>({1, 2, 3}, {1, 3}, DType::u8)}},
                   {{"k", "v"}});
  // Header: metadata first, then tensors in the order given, compact JSON, padded with
  // spaces to a multiple of 8 so that the data section is aligned.
  std::string header =
      R"({"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("a":{"dtype":"U8","shape":[1,3],"data_offsets":[8,11]}})";
  const size_t unpadded = header.size();
  header.append((8 - unpadded % 8) % 8, ' ');
  REQUIRE(header.size() % 8 == 0);
  const std::string data = std::string("\x00\x00\x80\x3f", 4)    // 1.0f little-endian
                           + std::string("\x00\x00\x00\xc0", 4)  // -2.0f
                           + std::string("\x01\x02\x03", 3);
  CHECK(read_bytes(path) == u64_le(header.size()) + header + data);
}

TEST_CASE("safetensors reader rejects malformed files", "[checkpoint]") {
  TempDir dir;
  const fs::path path = dir / "bad.safetensors";
  auto load_error = [&](const std::string& bytes) {
    write_bytes(path, bytes);
    try {
      load_safetensors(path);
    } catch (const IoError& e) {
      return std::string(e.what());
    }
    FAIL("the file was accepted");
    return std::string();
  };
  auto entry = [](const std::string& dtype, const std::string& shape, size_t begin, size_t end) {
    return fmt::format(R"({{"dtype":"{}","shape":{},"data_offsets":[{},{}]}})", dtype, shape, begin,
                       end);
  };

  // Every message names the file.
  CHECK_THAT(load_error("12345"), Contains("bad.safetensors") &&
                                      Contains("5 bytes, fewer than the 8-byte header length"));
  CHECK_THAT(load_error(u64_le(1000) + "{}"),
             Contains("header length 1000 exceeds the 2 bytes that follow it"));
  CHECK_THAT(load_error(raw_file(R"({"w": {"dtype": "F32",)", 0)),
             Contains("the header is not valid JSON"));
  CHECK_THAT(load_error(raw_file("[1, 2]", 0)), Contains("the header is not a JSON object"));
  CHECK_THAT(load_error(raw_file(R"({"w":)" + entry("BF16", "[2]", 0, 4) + "}", 4)),
             Contains("tensor 'w' has dtype 'BF16'") && Contains("(supported: F32, F64, U8, I32)"));
  CHECK_THAT(load_error(raw_file(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4)),
             Contains("tensor 'w' has no \"shape\" array"));
  CHECK_THAT(load_error(raw_file(R"({"w":)" + entry("F32", "[-1]", 0, 4) + "}", 4)),
             Contains("not a non-negative integer"));
  CHECK_THAT(load_error(raw_file(R"({"w":)" + entry("F32", "[3]", 0, 8) + "}", 8)),
             Contains("tensor 'w' has data_offsets [0, 8] spanning 8 bytes, but float32 (F32) "
                      "of shape [3] needs 12 bytes"));
  CHECK_THAT(load_error(raw_file(R"({"w":)" + entry("F32", "[1]", 4, 0) + "}", 4)),
             Contains("end before begin"));
  // Overlap: both tensors claim bytes [0, 4).
  CHECK_THAT(load_error(raw_file(R"({"a":)" + entry("F32", "[1]", 0, 4) + R"(,"b":)" +
                                     entry("I32", "[1]", 0, 4) + "}",
                                 8)),
             Contains("overlaps tensor"));
  // A hole: bytes [0, 4) belong to nobody.
  CHECK_THAT(load_error(raw_file(R"({"a":)" + entry("F32", "[1]", 4, 8) + "}", 8)),
             Contains("tensor 'a' starts at data offset 4, leaving a hole after byte 0"));
  // Offsets beyond the data in the file.
  CHECK_THAT(load_error(raw_file(R"({"a":)" + entry("F64", "[2]", 0, 16) + "}", 12)),
             Contains("tensor 'a' has data_offsets [0, 16] beyond the 12 bytes of data") &&
                 Contains("truncated file?"));
  CHECK_THAT(load_error(raw_file(R"({"a":)" + entry("U8", "[2]", 0, 2) + "}", 5)),
             Contains("the data section has 5 bytes but the tensors cover only 2"));
  // A number no double holds: nlohmann reports it as out_of_range, not as a parse error.
  CHECK_THAT(load_error(raw_file(R"({"__metadata__":{"x":"1"},"w":1e400})", 0)),
             Contains("bad.safetensors") && Contains("not valid JSON"));
  CHECK_THAT(load_error(raw_file(R"({"w":)" + entry("U8", "[1,1,1,1,1,1,1,1,1]", 0, 1) + "}", 1)),
             Contains("tensor 'w' has rank 9") && Contains("at most 8"));
  CHECK_THAT(load_error(raw_file(R"({"__metadata__":{"step":3}})", 0)),
             Contains("\"__metadata__\" value of 'step' is 3, not a string"));

  // A real file cut short, as by a full disk or an interrupted copy.
  const fs::path good = dir / "good.safetensors";
  save_safetensors(good, {{"w", Tensor::ones({4, 4})}});
  const std::string bytes = read_bytes(good);
  CHECK_THAT(load_error(bytes.substr(0, bytes.size() - 3)),
             Contains("tensor 'w' has data_offsets [0, 64] beyond the 61 bytes of data"));
  CHECK_THAT(load_error(bytes.substr(0, 20)), Contains("exceeds the 12 bytes that follow it"));

  CHECK_THROWS_WITH(load_safetensors(dir / "missing.safetensors"),
                    Contains("cannot open safetensors file") && Contains("missing.safetensors"));
}

TEST_CASE("load_into checks names, shapes and dtypes before copying", "[checkpoint]") {
  TempDir dir;
  const fs::path path = dir / "model.safetensors";
  save_safetensors(path,
                   {{"w", Tensor::full({2, 3}, 1.5)}, {"b", Tensor::full({3}, -1.0, DType::f64)}},
                   {{"step", "7"}});
  for (Device device : gm::test::test_devices()) {
    INFO(device.name());
    Tensor w = Tensor::zeros({2, 3}, DType::f32, device);
    Tensor b = Tensor::zeros({3}, DType::f64, device);
    const Metadata meta = load_into(path, {{"w", w}, {"b", b}});
    CHECK(meta.at("step") == "7");
    CHECK(w.to_vector<double>() == std::vector<double>(6, 1.5));
    CHECK(b.to_vector<double>() == std::vector<double>(3, -1.0));

    Tensor fresh = Tensor::zeros({2, 3}, DType::f32, device);
    auto error = [&](const std::vector<NamedTensor>& targets) {
      try {
        load_into(path, targets);
      } catch (const IoError& e) {
        return std::string(e.what());
      }
      FAIL("load_into accepted a mismatch");
      return std::string();
    };
    const Tensor b64 = Tensor::zeros({3}, DType::f64, device);
    CHECK_THAT(error({{"w", fresh}, {"b", b64}, {"c", Tensor::zeros({4}, DType::f32, device)}}),
               Contains("model.safetensors") &&
                   Contains("missing tensor 'c' (expected float32 (F32) of shape [4])"));
    CHECK_THAT(error({{"w", fresh}}),
               Contains("unexpected tensor 'b' (float64 (F64) of shape [3]) that is not among "
                        "the 1 expected tensors"));
    CHECK_THAT(error({{"w", Tensor::zeros({3, 2}, DType::f32, device)}, {"b", b64}}),
               Contains("tensor 'w' has shape [2, 3] in the file, expected shape [3, 2]"));
    CHECK_THAT(error({{"w", fresh}, {"b", Tensor::zeros({3}, DType::f32, device)}}),
               Contains("tensor 'b' is float64 (F64) of shape [3] in the file, expected "
                        "float32 (F32) of shape [3]"));
    // The failed loads wrote nothing, not even into the tensors that matched.
    CHECK(fresh.to_vector<double>() == std::vector<double>(6, 0.0));
  }
}

TEST_CASE("saving is atomic: the target is whole or untouched", "[checkpoint]") {
  TempDir dir;
  const std::vector<NamedTensor> tensors = {{"w", Tensor::ones({1000})}};

  SECTION("a missing directory gives a clear error and creates nothing") {
    CHECK_THROWS_WITH(save_safetensors(dir / "no/such/dir/x.safetensors", tensors),
                      Contains("cannot write") && Contains("no/such/dir/x.safetensors") &&
                          Contains("the directory") && Contains("does not exist"));
    CHECK(files_in(dir.path).empty());
  }

  SECTION("a write that fails half way keeps the previous file") {
    const fs::path target = dir / "ckpt.safetensors";
    write_bytes(target, "previous checkpoint");
    // Limit the process's file size to 64 bytes so that the write of 4000 bytes of data fails
    // part way (EFBIG instead of the default SIGXFSZ), as a full disk would.
    struct rlimit old_limit {};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old_limit;
    small.rlim_cur = 64;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string message;
    try {
      save_safetensors(target, tensors);
    } catch (const IoError& e) {
      message = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &old_limit);
    std::signal(SIGXFSZ, old_handler);
    CHECK_THAT(message, Contains("writing") && Contains("ckpt.safetensors") &&
                            Contains("failed: File too large"));
    CHECK(read_bytes(target) == "previous checkpoint");
    CHECK(files_in(dir.path) == std::vector<std::string>{"ckpt.safetensors"});  // no temp file
  }

  SECTION("an abandoned AtomicFile leaves no trace; a committed one replaces the target") {
    const fs::path target = dir / "log.csv";
    write_bytes(target, "old");
    {
      AtomicFile file(target);
      file.write("half a line");
      CHECK(read_bytes(target) == "old");  // nothing visible before commit
    }
    CHECK(read_bytes(target) == "old");
    CHECK(files_in(dir.path) == std::vector<std::string>{"log.csv"});
    write_file_atomic(target, "new,contents\n");
    CHECK(read_bytes(target) == "new,contents\n");
    CHECK(files_in(dir.path) == std::vector<std::string>{"log.csv"});
  }

  SECTION("a failed rename (the target is a directory) removes the temporary file") {
    fs::create_directories(dir / "taken");
    CHECK_THROWS_WITH(write_file_atomic(dir / "taken", "x"),
                      Contains("renaming the temporary file over it failed"));
    CHECK(files_in(dir.path) == std::vector<std::string>{"taken"});
  }
}

TEST_CASE("metadata scalars round-trip exactly", "[checkpoint]") {
  Metadata meta;
  set_metadata_int(meta, "min", std::numeric_limits<int64_t>::min());
  set_metadata_uint(meta, "max", std::numeric_limits<uint64_t>::max());
  const std::vector<double> doubles = {0.1,
                                       -0.0,
                                       1e-300,
                                       5e-324,
                                       1.0 / 3.0,
                                       123456789.123456789,
                                       std::numeric_limits<double>::infinity()};
  for (size_t i = 0; i < doubles.size(); ++i)
    set_metadata_double(meta, fmt::format("d{}", i), doubles[i]);
  Generator gen(0xfedcba9876543210ull);
  gen.advance(12345);
  set_metadata_generator(meta, "rng.data", gen);

  TempDir dir;
  save_safetensors(dir / "m.safetensors", {}, meta);
  const Metadata back = load_safetensors(dir / "m.safetensors").metadata;
  CHECK(get_metadata_int(back, "min") == std::numeric_limits<int64_t>::min());
  CHECK(get_metadata_uint(back, "max") == std::numeric_limits<uint64_t>::max());
  for (size_t i = 0; i < doubles.size(); ++i) {
    const double got = get_metadata_double(back, fmt::format("d{}", i));
    CHECK(std::memcmp(&got, &doubles[i], sizeof got) == 0);  // bit for bit, sign of zero too
  }
  const Generator restored = get_metadata_generator(back, "rng.data");
  CHECK(restored.seed() == gen.seed());
  CHECK(restored.offset() == 12345);

  CHECK_THROWS_WITH(get_metadata_int(back, "absent"), Contains("has no key 'absent'"));
  CHECK_THROWS_WITH(get_metadata_int({{"k", "12abc"}}, "k"), Contains("'k' is '12abc', not"));
  CHECK_THROWS_WITH(get_metadata_uint({{"k", "-1"}}, "k"), Contains("not a non-negative"));
}

TEST_CASE("a run resumed from a checkpoint continues bit for bit", "[checkpoint]") {
  // Least squares on mini-batches drawn with a generator: the weights, the AdamW state and the
  // generator's position are what a checkpoint must carry.
  TempDir dir;
  const fs::path ckpt = dir / "ckpt.safetensors";
  for (Device device : gm::test::test_devices()) {
    INFO(device.name());
    Generator init(1);
    const Tensor w_true = Tensor::uniform({3, 1}, -1, 1, init, DType::f32, device);
    const Tensor w_start = Tensor::uniform({3, 1}, -1, 1, init, DType::f32, device);

    struct Run {
      Tensor w, bias;
      std::unique_ptr<AdamW> opt;
      Generator data{99};
      std::vector<NamedTensor> params() const { return {{"w", w}, {"bias", bias}}; }
    };
    auto make_run = [&] {
      auto run = std::make_unique<Run>();
      run->w = w_start.clone().set_requires_grad();
      run->bias = Tensor::zeros({1}, DType::f32, device).set_requires_grad();
      run->opt =
          std::make_unique<AdamW>(run->params(), AdamOptions{.lr = 0.05, .weight_decay = 0.01});
      return run;
    };
    auto train = [&](Run& run, int steps) {
      for (int i = 0; i < steps; ++i) {
        const Tensor x = Tensor::normal({5, 3}, 0, 1, run.data, DType::f32, device);
        const Tensor y = matmul(x, w_true);
        run.opt->zero_grad();
        mean(square(sub(add(matmul(x, run.w), run.bias), y))).backward();
        clip_grad_norm(run.params(), 1.0);
        run.opt->step();
      }
    };
    auto save = [&](const Run& run) {
      std::vector<NamedTensor> tensors = run.params();
      OptimizerState state = run.opt->state();
      tensors.insert(tensors.end(), state.tensors.begin(), state.tensors.end());
      Metadata meta = state.scalars;
      set_metadata_generator(meta, "rng.data", run.data);
      save_safetensors(ckpt, tensors, meta);
    };

    auto straight = make_run();
    train(*straight, 4);
    save(*straight);
    train(*straight, 4);

    auto resumed = make_run();
    const SafetensorsFile file = load_safetensors(ckpt);
    load_into(file, resumed->params(), {"adamw."});
    resumed->opt->load_state(file.tensors, file.metadata);
    resumed->data = get_metadata_generator(file.metadata, "rng.data");
    train(*resumed, 4);

    CHECK(resumed->w.to_vector<double>() == straight->w.to_vector<double>());
    CHECK(resumed->bias.to_vector<double>() == straight->bias.to_vector<double>());
    CHECK(resumed->data.offset() == straight->data.offset());
    CHECK(resumed->opt->step_count(0) == 8);
  }
}

// Run by tests/python/safetensors_interop.py (ctest checkpoint.python_interop), which writes
// from_python.safetensors with Python's package first and reads our file back afterwards. The
// values here and in that script are the same.
TEST_CASE("python interop: read Python's file, write one for Python", "[.interop]") {
  const char* dir_env = std::getenv("GM_INTEROP_DIR");
  if (dir_env == nullptr)
    FAIL("GM_INTEROP_DIR is not set: run tests/python/safetensors_interop.py");
  const fs::path dir = dir_env;

  const SafetensorsFile py = load_safetensors(dir / "from_python.safetensors");
  CHECK(py.metadata == Metadata{{"writer", "python"}});
  CHECK(py.tensors.size() == 4);
  const Tensor& f32 = py.get("f32");
  CHECK(f32.dtype() == DType::f32);
  CHECK(f32.shape() == Shape{2, 3});
  CHECK(f32.to_vector<double>() == std::vector<double>{0, 0.5, 1, 1.5, 2, 2.5});
  CHECK(py.get("f64").to_vector<double>() == std::vector<double>{1e-300, -2.5, std::numbers::pi});
  CHECK(py.get("u8").dtype() == DType::u8);
  CHECK(py.get("u8").to_vector<int>() == std::vector<int>{0, 255, 7});
  CHECK(py.get("i32").shape() == Shape{1, 2});
  CHECK(py.get("i32").to_vector<int>() == std::vector<int>{-5, 2147483647});

  std::vector<float> weight(12);
  for (size_t i = 0; i < weight.size(); ++i)
    weight[i] = static_cast<float>(i) - 5.5f;
  save_safetensors(dir / "from_genmodel.safetensors",
                   {{"weight", Tensor::from_vector(weight, {3, 4})},
                    {"double", Tensor::from_vector<double>({0.1, -1e200}, {2})},
                    {"pixels", Tensor::from_vector<int>({1, 2, 254, 255}, {2, 2}, DType::u8)},
                    {"labels", Tensor::from_vector<int>({-2147483647 - 1, 9}, {2}, DType::i32)}},
                   {{"writer", "genmodel"}, {"step", "42"}});
}

TEST_CASE("save_safetensors rejects names it cannot write", "[checkpoint]") {
  TempDir dir;
  const Tensor t = Tensor::ones({2});
  CHECK_THROWS_WITH(save_safetensors(dir / "x.safetensors", {{"w", t}, {"w", t}}),
                    Contains("tensor name 'w' appears twice"));
  CHECK_THROWS_WITH(save_safetensors(dir / "x.safetensors", {{"__metadata__", t}}),
                    Contains("invalid tensor name '__metadata__'"));
  CHECK_THROWS_WITH(save_safetensors(dir / "x.safetensors", {{"w", Tensor()}}),
                    Contains("tensor 'w' is undefined"));
  CHECK_THROWS_WITH(save_safetensors(dir / "x.safetensors", {{"bad\xff", t}}),
                    Contains("not valid UTF-8"));
  CHECK(files_in(dir.path).empty());
}
