// IDX files (the MNIST / Fashion-MNIST container), raw or gzip-compressed.
//
// Layout: magic 00 00 <type code> <rank>, then `rank` big-endian uint32 dims, then the elements,
// big-endian, row-major. gzip is detected by its magic (1f 8b), not by the file name.
//
// Every claim in the header is checked against the bytes actually present before anything of the
// claimed size is allocated; for gzip the data is stream-decompressed with a cap derived from the
// header, so a header claiming 2^31 images fails fast with a one-line keel::Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "keel/core/tensor.h"

namespace keel {

enum class IdxType : uint8_t {
  kUint8 = 0x08,
  kInt8 = 0x09,
  kInt16 = 0x0B,
  kInt32 = 0x0C,
  kFloat32 = 0x0D,
  kFloat64 = 0x0E,
};

// "uint8", "int8", "int16", "int32", "float32", "float64".
const char* idx_type_name(IdxType type);
// Bytes per element: 1, 1, 2, 4, 4, 8.
size_t idx_type_size(IdxType type);

struct IdxArray {
  IdxType type = IdxType::kUint8;
  std::vector<int64_t> dims;  // all >= 1
  // Elements in host byte order, row-major: size() * idx_type_size(type) bytes. For kUint8 these
  // are the values themselves, so a dataset stays uint8 in memory (move it out).
  std::vector<uint8_t> bytes;

  int64_t size() const;  // product of dims
  // Every element converted to float32 (int32 and float64 round to the nearest float).
  Tensor to_tensor() const;
};

struct IdxReadOptions {
  // What one entry along dim 0 is called in error messages: "images", "labels".
  std::string item_name = "items";
  // Float data must be finite unless this is set (a NaN pixel is a corrupt file, not a value).
  bool allow_nonfinite = false;
};

// Reads a raw or gzip'd IDX file. Throws keel::Error naming the file, the field, the offending
// value and what was expected on any inconsistency; never returns partially read data.
IdxArray read_idx(const std::filesystem::path& path, const IdxReadOptions& options = {});

// Writes `array` atomically (for fixtures and tests); gzip-compressed when `gzip` is set.
void write_idx(const std::filesystem::path& path, const IdxArray& array, bool gzip = false);

}  // namespace keel
