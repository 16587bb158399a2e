// Numeric CSV: one sample per line, every line the same number of columns, an optional header
// row, and optionally one column holding the label.
//
// Cells are trimmed of spaces and of one pair of surrounding double quotes; quoted cells with
// embedded delimiters are not supported (this reads numeric tables, not general CSV). Blank lines
// are skipped, as pandas does. Every error names the file, the line (1-based, counting every
// line of the file), the column and the offending text.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "keel/core/tensor.h"

namespace keel {

struct CsvOptions {
  enum class Header {
    kAuto,     // the first line is a header iff none of its cells is a number
    kPresent,  // the first line is a header
    kAbsent,   // every line is data
  };
  Header header = Header::kAuto;
  // The label column: none (features only), an index (negative counts from the end, like
  // Python) or a header name.
  std::variant<std::monostate, int64_t, std::string> label_column;
  char delimiter = ',';
  // NaN / inf cells ("nan", "inf") are errors unless this is set.
  bool allow_nonfinite = false;
};

struct CsvData {
  Tensor features;                          // (N, F): every column except the label
  Tensor labels;                            // (N,); empty (rank 0, size 0) without a label column
  std::vector<std::string> feature_names;   // header names of the feature columns, if a header
  std::string label_name;                   // header name of the label column, if any
};

CsvData read_csv(const std::filesystem::path& path, const CsvOptions& options = {});

}  // namespace keel
