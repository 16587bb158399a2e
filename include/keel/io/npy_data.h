// Training data from NumPy files for `keel train --data npy:...` (issue 14: sequences (N, T, F),
// but any sample shape the model takes):
//
//   npy:X_TRAIN.npy,Y_TRAIN.npy,X_TEST.npy,Y_TEST.npy
//
// x files hold (N, ...) samples of any numeric dtype (read as float32; uint8 is NOT scaled: a
// model's data is used as given), y files (N,) or (N, k) targets: class ids for the sparse losses,
// or regression targets. The train and test x must have the same sample shape and each x its y's
// N. Errors name the file and the offending shape.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "keel/core/tensor.h"
#include "keel/model/data_view.h"

namespace keel {

// The four paths of an "npy:" --data value; std::nullopt without that prefix; a prefix with
// other than four comma-separated non-empty paths throws keel::Error.
std::optional<std::array<std::string, 4>> parse_npy_data(std::string_view data);

struct NpyData {
  Tensor train_x, train_y, test_x, test_y;
};

NpyData load_npy_data(const std::array<std::string, 4>& paths);

// The train or test split as a DataView into `data` (which must outlive it).
DataView npy_data_view(const NpyData& data, bool train);

}  // namespace keel
