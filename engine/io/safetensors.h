#pragma once
// Checkpoints in the safetensors format (HuggingFace), readable by Python's `safetensors`:
//
//   u64 little-endian N | N bytes of JSON header, space-padded to a multiple of 8 | raw data
//
// The header maps each tensor name to {"dtype": "F32"|"F64"|"U8"|"I32", "shape": [...],
// "data_offsets": [begin, end]} (byte offsets into the data section, which the tensors tile
// exactly, without holes or overlaps) plus an optional "__metadata__" object of strings, where
// genmodel keeps scalars: generator state, step counts, hyperparameters. docs/checkpoints.md
// describes the layout and how to read our files from Python.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/named_tensor.h"

namespace gm {

class Generator;

using Metadata = std::map<std::string, std::string>;

// Writes the tensors (from any device; copied to the host) atomically
// (engine/io/atomic_file.h): the target is replaced whole or left untouched. Names must be
// unique, non-empty and not "__metadata__". The data is ordered by element size, largest first,
// and otherwise as given (so every tensor is aligned to its element size in the file).
void save_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const Metadata& metadata = {});

struct SafetensorsFile {
  std::filesystem::path path;
  std::vector<NamedTensor> tensors;  // in the order of their data in the file
  Metadata metadata;

  bool contains(const std::string& name) const;
  // Throws IoError naming the file and the tensor when there is no such tensor.
  const Tensor& get(const std::string& name) const;
};

// Reads and validates a whole file; tensors are placed on `device`. Throws IoError naming the
// file and the problem for a short or truncated file, a header that is not valid JSON or not
// of the form above, an unsupported dtype, or data offsets that do not tile the data section.
SafetensorsFile load_safetensors(const std::filesystem::path& path, Device device = Device::cpu());

// Copies the file's tensors into existing tensors of the same names (on any device) and
// returns the file's metadata. Every tensor must be present with the same shape and dtype and
// the file may hold no others; otherwise an IoError names the file, the tensor, the expected
// and the actual value, and no tensor has been modified.
Metadata load_into(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors);
// The same for a file already read, where the file's tensors whose names start with one of
// `other_prefixes` belong to someone else (e.g. an optimizer's "adam.") and are skipped.
void load_into(const SafetensorsFile& file, const std::vector<NamedTensor>& tensors,
               const std::vector<std::string>& other_prefixes = {});

// ---- scalars in the metadata, stored as decimal strings that round-trip exactly.
void set_metadata_int(Metadata& meta, const std::string& key, int64_t value);
void set_metadata_uint(Metadata& meta, const std::string& key, uint64_t value);
void set_metadata_double(Metadata& meta, const std::string& key, double value);
// Each throws IoError naming the key when it is missing or does not parse.
const std::string& get_metadata(const Metadata& meta, const std::string& key);
int64_t get_metadata_int(const Metadata& meta, const std::string& key);
uint64_t get_metadata_uint(const Metadata& meta, const std::string& key);
double get_metadata_double(const Metadata& meta, const std::string& key);
// A generator's state as "<prefix>.seed" and "<prefix>.offset".
void set_metadata_generator(Metadata& meta, const std::string& prefix, const Generator& gen);
Generator get_metadata_generator(const Metadata& meta, const std::string& prefix);

}  // namespace gm
