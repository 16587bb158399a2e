// The text table of model.summary(), separated from the model so it can be tested on its own.
//
// Byte-for-byte tf.keras 2.7-2.12 (keras/utils/layer_utils.py print_summary, sequential-like
// branch; keras-semantics.md 4.1 (b)). The golden texts come from tools/golden/summary_keras.py, a
// transcription of that Python code.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keel {

// One table row, already in the text Keras prints: "dense (Dense)", "(None, 300)", "235500".
struct SummaryRow {
  std::string layer;
  std::string output_shape;
  std::string params;
};

// Keras print_row(fields, positions, nested_level=0) for one logical row: every cell is cut at its
// column width minus 2 (the last column: minus 0), earlier at the first "),", "},", "]," or "',",
// and what is left over continues on further lines until every cell is empty. Lines end in '\n'.
// Positions are absolute end columns, e.g. {29, 55, 65}.
std::string format_summary_row(const std::vector<std::string>& fields,
                               const std::vector<int64_t>& positions);

// Python "{:,}".format(n): 271346 -> "271,346", -1234 -> "-1,234".
std::string format_thousands(int64_t n);

// The whole summary of a sequential-like model (line_length 65, positions [.45, .85, 1.]):
// `Model: "name"`, header, one row per layer each followed by a line of 65 spaces, and the footer
// Total (= trainable + non_trainable) / Trainable / Non-trainable params. Ends with '\n'.
std::string format_summary(std::string_view model_name, const std::vector<SummaryRow>& rows,
                           int64_t trainable_params, int64_t non_trainable_params);

// The same frame for any column layout: `line_length` wide rules, one row per entry of `rows`
// (cells as Keras prints them), the header row, and the parameter footer. format_summary is this
// with 65 columns at {29, 55, 65}; functional models use 98 columns at {32, 53, 65, 98}.
std::string format_summary_table(std::string_view model_name, int64_t line_length,
                                 const std::vector<int64_t>& positions,
                                 const std::vector<std::string>& header,
                                 const std::vector<std::vector<std::string>>& rows,
                                 int64_t trainable_params, int64_t non_trainable_params);

}  // namespace keel
