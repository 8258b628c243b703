#include "engine/io/safetensors.h"

#include <fmt/ranges.h>
#include <algorithm>
#include <array>
#include <bit>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/backend.h"
#include "engine/io/atomic_file.h"
#include "engine/size_product.h"

namespace gm {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host would need byte swapping");

namespace {

using Json = nlohmann::ordered_json;

// Python's safetensors refuses headers above 100 MB; so do we, before allocating one.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr std::string_view kSupported = "F32, F64, U8, I32";

std::string_view dtype_code(DType t) {
  switch (t) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::u8:
      return "U8";
    case DType::i32:
      return "I32";
  }
  return "?";
}

bool parse_dtype_code(std::string_view code, DType& out) {
  for (DType t : {DType::f32, DType::f64, DType::u8, DType::i32}) {
    if (dtype_code(t) == code) {
      out = t;
      return true;
    }
  }
  return false;
}

std::string describe(DType dtype, const Shape& shape) {
  return fmt::format("{} ({}) of shape {}", dtype_name(dtype), dtype_code(dtype), shape_str(shape));
}

// One tensor entry of a header, validated on its own.
struct Entry {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

[[noreturn]] void bad_file(const std::filesystem::path& path, const std::string& what) {
  throw IoError(fmt::format("'{}' is not a valid safetensors file: {}", path.string(), what));
}

uint64_t read_u64_le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

Entry parse_entry(const std::filesystem::path& path, const std::string& name, const Json& j) {
  Entry e;
  e.name = name;
  if (!j.is_object()) bad_file(path, fmt::format("header entry '{}' is not an object", name));
  const auto dtype = j.find("dtype");
  if (dtype == j.end() || !dtype->is_string())
    bad_file(path, fmt::format("tensor '{}' has no \"dtype\" string", name));
  const std::string code = dtype->get<std::string>();
  if (!parse_dtype_code(code, e.dtype)) {
    bad_file(path, fmt::format("tensor '{}' has dtype '{}', which genmodel does not support "
                               "(supported: {})",
                               name, code, kSupported));
  }
  const auto shape = j.find("shape");
  if (shape == j.end() || !shape->is_array())
    bad_file(path, fmt::format("tensor '{}' has no \"shape\" array", name));
  if (shape->size() > static_cast<size_t>(kMaxDims))
    bad_file(path, fmt::format("tensor '{}' has rank {} (shape {}); genmodel tensors have at most "
                               "{} dimensions",
                               name, shape->size(), shape->dump(), kMaxDims));
  for (const Json& d : *shape) {
    if (!d.is_number_unsigned())
      bad_file(path, fmt::format("tensor '{}' has shape {} with an entry that is not a "
                                 "non-negative integer",
                                 name, shape->dump()));
    const uint64_t dim = d.get<uint64_t>();
    if (dim > static_cast<uint64_t>(INT64_MAX))
      bad_file(path,
               fmt::format("tensor '{}' has an impossibly large shape {}", name, shape->dump()));
    e.shape.push_back(static_cast<int64_t>(dim));
  }
  Shape with_element = e.shape;
  with_element.push_back(static_cast<int64_t>(dtype_size(e.dtype)));
  const std::optional<int64_t> product = size_product(with_element);
  if (!product)
    bad_file(path,
             fmt::format("tensor '{}' has an impossibly large shape {}", name, shape->dump()));
  const auto bytes = static_cast<uint64_t>(*product);
  const auto offsets = j.find("data_offsets");
  if (offsets == j.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
    bad_file(path, fmt::format("tensor '{}' needs \"data_offsets\": [begin, end] with "
                               "non-negative integers",
                               name));
  e.begin = (*offsets)[0].get<uint64_t>();
  e.end = (*offsets)[1].get<uint64_t>();
  if (e.end < e.begin)
    bad_file(path, fmt::format("tensor '{}' has data_offsets [{}, {}] with end before begin", name,
                               e.begin, e.end));
  if (e.end - e.begin != bytes)
    bad_file(path,
             fmt::format("tensor '{}' has data_offsets [{}, {}] spanning {} bytes, but {} "
                         "needs {} bytes",
                         name, e.begin, e.end, e.end - e.begin, describe(e.dtype, e.shape), bytes));
  return e;
}

// The tensors must tile [0, data_bytes) exactly, as Python's safetensors requires.
void check_tiling(const std::filesystem::path& path, std::vector<Entry>& entries,
                  uint64_t data_bytes) {
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < expected)
      bad_file(path,
               fmt::format("tensor '{}' (data_offsets [{}, {}]) overlaps tensor '{}' "
                           "(data_offsets [{}, {}])",
                           e.name, e.begin, e.end, previous->name, previous->begin, previous->end));
    if (e.begin > expected)
      bad_file(path, fmt::format("tensor '{}' starts at data offset {}, leaving a hole after byte "
                                 "{} of the data section",
                                 e.name, e.begin, expected));
    if (e.end > data_bytes)
      bad_file(path, fmt::format("tensor '{}' has data_offsets [{}, {}] beyond the {} bytes of "
                                 "data in the file (truncated file?)",
                                 e.name, e.begin, e.end, data_bytes));
    expected = e.end;
    previous = &e;
  }
  if (expected != data_bytes)
    bad_file(path, fmt::format("the data section has {} bytes but the tensors cover only {} "
                               "(trailing bytes after the last tensor)",
                               data_bytes, expected));
}

Metadata parse_metadata(const std::filesystem::path& path, const Json& j) {
  if (!j.is_object()) bad_file(path, "\"__metadata__\" is not an object");
  Metadata meta;
  for (const auto& [key, value] : j.items()) {
    if (!value.is_string())
      bad_file(path, fmt::format("\"__metadata__\" value of '{}' is {}, not a string", key,
                                 value.dump()));
    meta[key] = value.get<std::string>();
  }
  return meta;
}

}  // namespace

void save_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const Metadata& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [key, value] : metadata)
      meta[key] = value;
    header["__metadata__"] = std::move(meta);
  }
  for (const NamedTensor& nt : tensors)
    GM_CHECK(nt.tensor.defined(), "save_safetensors('{}'): tensor '{}' is undefined", path.string(),
             nt.name);
  // Larger elements first (stable within a size, as given): with the 8-byte-aligned data
  // section, every tensor then starts at a multiple of its element size, which zero-copy
  // readers need. Python's writer orders by alignment too.
  std::vector<const NamedTensor*> order;
  for (const NamedTensor& nt : tensors)
    order.push_back(&nt);
  std::stable_sort(order.begin(), order.end(), [](const NamedTensor* a, const NamedTensor* b) {
    return dtype_size(a->tensor.dtype()) > dtype_size(b->tensor.dtype());
  });
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const NamedTensor* entry : order) {
    const NamedTensor& nt = *entry;
    GM_CHECK(!nt.name.empty() && nt.name != "__metadata__",
             "save_safetensors('{}'): invalid tensor name '{}'", path.string(), nt.name);
    GM_CHECK(seen.insert(nt.name).second, "save_safetensors('{}'): tensor name '{}' appears twice",
             path.string(), nt.name);
    const uint64_t bytes = nt.tensor.nbytes();
    header[nt.name] = {{"dtype", dtype_code(nt.tensor.dtype())},
                       {"shape", nt.tensor.shape()},
                       {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    fail("save_safetensors('{}'): a tensor name or metadata string is not valid UTF-8: {}",
         path.string(), e.what());
  }
  // Space padding keeps the data section 8-byte aligned, as Python's writer does.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::array<unsigned char, 8> length{};
  for (size_t i = 0; i < 8; ++i)
    length[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));
  AtomicFile file(path);
  file.write(length.data(), length.size());
  file.write(text);
  for (const NamedTensor* nt : order) {
    const Tensor host = nt->tensor.detach().to(Device::cpu());
    if (host.numel() > 0) file.write(host.raw(), host.nbytes());
  }
  file.commit();
}

bool SafetensorsFile::contains(const std::string& name) const {
  return std::any_of(tensors.begin(), tensors.end(),
                     [&](const NamedTensor& nt) { return nt.name == name; });
}

const Tensor& SafetensorsFile::get(const std::string& name) const {
  for (const NamedTensor& nt : tensors)
    if (nt.name == name) return nt.tensor;
  throw IoError(fmt::format("'{}' has no tensor '{}'", path.string(), name));
}

SafetensorsFile load_safetensors(const std::filesystem::path& path, Device device) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("cannot open safetensors file '{}'", path.string()));
  std::error_code ec;
  const uint64_t file_bytes = std::filesystem::file_size(path, ec);
  if (ec) throw IoError(fmt::format("cannot read '{}': {}", path.string(), ec.message()));
  if (file_bytes < 8)
    bad_file(path, fmt::format("it has {} bytes, fewer than the 8-byte header length", file_bytes));
  std::array<unsigned char, 8> length{};
  in.read(reinterpret_cast<char*>(length.data()), 8);
  const uint64_t header_bytes = read_u64_le(length.data());
  if (header_bytes > file_bytes - 8)
    bad_file(path, fmt::format("header length {} exceeds the {} bytes that follow it (truncated "
                               "file?)",
                               header_bytes, file_bytes - 8));
  if (header_bytes > kMaxHeaderBytes)
    bad_file(path, fmt::format("header length {} exceeds the limit of {} bytes", header_bytes,
                               kMaxHeaderBytes));
  std::string text(header_bytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_bytes));
  if (!in) throw IoError(fmt::format("reading the header of '{}' failed", path.string()));

  Json header;
  try {
    header = Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // Also out_of_range, e.g. for a number such as 1e400 that no double holds.
    bad_file(path, fmt::format("the header is not valid JSON: {}", e.what()));
  }
  if (!header.is_object()) bad_file(path, "the header is not a JSON object");

  SafetensorsFile file;
  file.path = path;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      file.metadata = parse_metadata(path, value);
    } else {
      entries.push_back(parse_entry(path, key, value));
    }
  }
  const uint64_t data_start = 8 + header_bytes;
  check_tiling(path, entries, file_bytes - data_start);

  for (const Entry& e : entries) {
    Tensor host = Tensor::empty(e.shape, e.dtype, Device::cpu());
    if (host.numel() > 0) {
      in.seekg(static_cast<std::streamoff>(data_start + e.begin));
      in.read(static_cast<char*>(host.raw()), static_cast<std::streamsize>(e.end - e.begin));
      if (!in)
        throw IoError(
            fmt::format("reading tensor '{}' from '{}' failed (file changed while "
                        "reading?)",
                        e.name, path.string()));
    }
    file.tensors.push_back({e.name, device == Device::cpu() ? host : host.to(device)});
  }
  return file;
}

Metadata load_into(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors) {
  SafetensorsFile file = load_safetensors(path);
  load_into(file, tensors);
  return file.metadata;
}

void load_into(const SafetensorsFile& file, const std::vector<NamedTensor>& tensors,
               const std::vector<std::string>& other_prefixes) {
  const std::filesystem::path& path = file.path;
  std::map<std::string, const Tensor*> in_file;
  for (const NamedTensor& nt : file.tensors)
    in_file[nt.name] = &nt.tensor;

  // Check everything first, so that a mismatch leaves every destination untouched, and
  // report every problem at once (a wrong configuration usually shows up in many tensors).
  std::vector<std::string> problems;
  std::set<std::string> expected;
  for (const NamedTensor& nt : tensors) {
    GM_CHECK(expected.insert(nt.name).second, "load_into('{}'): tensor name '{}' appears twice",
             path.string(), nt.name);
    const auto it = in_file.find(nt.name);
    const std::string want = describe(nt.tensor.dtype(), nt.tensor.shape());
    if (it == in_file.end()) {
      problems.push_back(fmt::format("missing tensor '{}' (expected {})", nt.name, want));
    } else if (it->second->shape() != nt.tensor.shape()) {
      problems.push_back(fmt::format("tensor '{}' has shape {} in the file, expected shape {}",
                                     nt.name, shape_str(it->second->shape()),
                                     shape_str(nt.tensor.shape())));
    } else if (it->second->dtype() != nt.tensor.dtype()) {
      problems.push_back(fmt::format("tensor '{}' is {} in the file, expected {}", nt.name,
                                     describe(it->second->dtype(), it->second->shape()), want));
    }
  }
  auto belongs_elsewhere = [&](const std::string& name) {
    return std::any_of(other_prefixes.begin(), other_prefixes.end(),
                       [&](const std::string& prefix) { return name.starts_with(prefix); });
  };
  for (const NamedTensor& nt : file.tensors) {
    if (!expected.count(nt.name) && !belongs_elsewhere(nt.name))
      problems.push_back(
          fmt::format("unexpected tensor '{}' ({}) that is not among the {} "
                      "expected tensors",
                      nt.name, describe(nt.tensor.dtype(), nt.tensor.shape()), tensors.size()));
  }
  if (!problems.empty()) {
    throw IoError(fmt::format("'{}' does not match the tensors it is loaded into:\n  {}",
                              path.string(), fmt::join(problems, "\n  ")));
  }
  for (const NamedTensor& nt : tensors) {
    Tensor dst = nt.tensor.detach();
    dst.copy_from(*in_file.at(nt.name));
  }
}

}  // namespace gm
