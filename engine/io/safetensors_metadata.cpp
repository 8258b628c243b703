// Scalars in a safetensors "__metadata__" map: decimal strings that round-trip exactly
// (fmt's shortest representation for doubles), parsed strictly on the way back.
#include <charconv>

#include "engine/io/safetensors.h"
#include "engine/random.h"

namespace gm {

namespace {

template <typename T>
T parse_number(const Metadata& meta, const std::string& key, std::string_view kind) {
  const std::string& text = get_metadata(meta, key);
  T value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty())
    throw IoError(fmt::format("checkpoint metadata '{}' is '{}', not {}", key, text, kind));
  return value;
}

}  // namespace

void set_metadata_int(Metadata& meta, const std::string& key, int64_t value) {
  meta[key] = fmt::format("{}", value);
}
void set_metadata_uint(Metadata& meta, const std::string& key, uint64_t value) {
  meta[key] = fmt::format("{}", value);
}
void set_metadata_double(Metadata& meta, const std::string& key, double value) {
  meta[key] = fmt::format("{}", value);
}

const std::string& get_metadata(const Metadata& meta, const std::string& key) {
  const auto it = meta.find(key);
  if (it == meta.end())
    throw IoError(
        fmt::format("checkpoint metadata has no key '{}' (it has {} keys)", key, meta.size()));
  return it->second;
}

int64_t get_metadata_int(const Metadata& meta, const std::string& key) {
  return parse_number<int64_t>(meta, key, "an integer");
}
uint64_t get_metadata_uint(const Metadata& meta, const std::string& key) {
  return parse_number<uint64_t>(meta, key, "a non-negative integer");
}
double get_metadata_double(const Metadata& meta, const std::string& key) {
  return parse_number<double>(meta, key, "a number");
}

void set_metadata_generator(Metadata& meta, const std::string& prefix, const Generator& gen) {
  set_metadata_uint(meta, prefix + ".seed", gen.seed());
  set_metadata_uint(meta, prefix + ".offset", gen.offset());
}

Generator get_metadata_generator(const Metadata& meta, const std::string& prefix) {
  Generator gen(get_metadata_uint(meta, prefix + ".seed"));
  gen.set_offset(get_metadata_uint(meta, prefix + ".offset"));
  return gen;
}

}  // namespace gm
