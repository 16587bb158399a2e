// NumPy .npy files (format versions 1.0, 2.0 and 3.0), C order only.
//
// Readable dtypes: float32, float64, uint8, int8, int16, int32, int64 in either byte order
// ('<f4', '>f8', '|u1', ...). uint8 data is kept as uint8 (datasets stay small in memory); every
// other dtype is converted to float32 (int64 and float64 round to the nearest float).
// Structured dtypes, Fortran order and anything else throw a keel::Error naming the file and field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "keel/core/tensor.h"

namespace keel {

enum class NpyDtype { kFloat32, kFloat64, kUint8, kInt8, kInt16, kInt32, kInt64 };

// "float32", "float64", "uint8", ...
const char* npy_dtype_name(NpyDtype dtype);

struct NpyArray {
  std::vector<int64_t> dims;  // empty for a 0-d array (one element)
  NpyDtype dtype = NpyDtype::kFloat32;  // as stored in the file
  Tensor values;              // float32 data with dims `dims`, for every dtype except kUint8
  std::vector<uint8_t> u8;    // the data when dtype == kUint8 (values is empty then)

  int64_t size() const;  // product of dims
  // The data as float32 whatever the dtype (copies; converts uint8).
  Tensor to_tensor() const;
};

struct NpyReadOptions {
  // Float data must be finite unless this is set.
  bool allow_nonfinite = false;
};

NpyArray read_npy(const std::filesystem::path& path, const NpyReadOptions& options = {});

// Writes a '<f4' C-order version 1.0 file, atomically. A rank-0 tensor is written as shape ().
void write_npy(const std::filesystem::path& path, const Tensor& tensor);
// Writes a '|u1' C-order version 1.0 file, atomically.
void write_npy(const std::filesystem::path& path, const std::vector<int64_t>& dims,
               std::span<const uint8_t> values);

}  // namespace keel
