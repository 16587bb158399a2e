#include "keel/io/csv.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string_view>

#include "keel/core/error.h"
#include "keel/io/file_bytes.h"

namespace keel {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

std::vector<std::string_view> split(std::string_view line, char delimiter) {
  std::vector<std::string_view> cells;
  size_t start = 0;
  for (;;) {
    const size_t end = line.find(delimiter, start);
    cells.push_back(trim(line.substr(start, end == std::string_view::npos ? end : end - start)));
    if (end == std::string_view::npos) return cells;
    start = end + 1;
  }
}

// The whole cell as a double, or nullopt if it is not exactly one number.
std::optional<double> parse_number(std::string_view cell) {
  if (!cell.empty() && cell.front() == '+') cell.remove_prefix(1);  // from_chars rejects '+'
  if (cell.empty()) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
  if (ec != std::errc() || end != cell.data() + cell.size()) return std::nullopt;
  return v;
}

struct Line {
  int64_t number;  // 1-based line number in the file
  std::string_view text;
};

// The lines that hold a header or data, numbered as in the file. Blank lines are skipped, but
// not one that holds the delimiter: with a tab delimiter "\t\t" trims to nothing yet is a row of
// empty cells, which the cell checks then reject.
std::vector<Line> non_blank_lines(std::string_view text, char delimiter) {
  std::vector<Line> lines;
  for (size_t pos = 0, number = 1; pos < text.size(); ++number) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    if (!trim(line).empty() || line.find(delimiter) != std::string_view::npos) {
      lines.push_back({static_cast<int64_t>(number), line});
    }
    pos = end + 1;
  }
  return lines;
}

// Whether `first` (the cells of `line`, the first non-blank line) is a header. With kAuto it is
// one iff none of its cells is a number; a mix of text and numbers is neither, so it throws.
bool starts_with_header(const std::string& name, const Line& line,
                        const std::vector<std::string_view>& first, CsvOptions::Header header) {
  if (header != CsvOptions::Header::kAuto) return header == CsvOptions::Header::kPresent;
  const int64_t columns = static_cast<int64_t>(first.size());
  int64_t numeric = 0;
  for (auto cell : first) numeric += parse_number(cell).has_value();
  KEEL_CHECK(numeric == 0 || numeric == columns, name, ": line ", line.number, " mixes ",
             numeric, " numeric and ", columns - numeric,
             " non-numeric cells; expected a header (all text) or a data row (all numbers)");
  return numeric == 0;
}

// Resolves the label column to an index, or -1 for none.
int64_t label_column_index(const std::string& name, const CsvOptions& options, int64_t columns,
                           bool has_header, const std::vector<std::string>& header_names) {
  int64_t label = -1;
  if (const auto* index = std::get_if<int64_t>(&options.label_column)) {
    label = *index < 0 ? *index + columns : *index;
    KEEL_CHECK(label >= 0 && label < columns, name, ": label_column ", *index,
               " is out of range; expected -", columns, "..", columns - 1, " for ", columns,
               " columns");
  } else if (const auto* wanted = std::get_if<std::string>(&options.label_column)) {
    KEEL_CHECK(has_header, name, ": label_column '", *wanted,
               "' is a name but the file has no header row; expected a column index");
    std::string known;
    for (size_t i = 0; i < header_names.size(); ++i) {
      if (header_names[i] == *wanted) label = static_cast<int64_t>(i);
      known += (i ? ", " : "") + header_names[i];
    }
    KEEL_CHECK(label >= 0, name, ": label_column '", *wanted, "' is not in the header; expected one of ",
               known);
  }
  return label;
}

// Where a cell stands, for its error messages.
struct CellPlace {
  const std::string& file;
  int64_t line;            // 1-based, as in the file
  int64_t column;          // 1-based
  const std::string& column_name;  // " ('price')" with a header, else empty
};

// A data cell as a float: a number, finite unless allowed otherwise, within float32 range.
float parse_cell(std::string_view cell, const CellPlace& at, bool allow_nonfinite) {
  const auto v = parse_number(cell);
  KEEL_CHECK(v.has_value(), at.file, ": line ", at.line, ", column ", at.column, at.column_name,
             ": '", cell, "' is not a number");
  KEEL_CHECK(allow_nonfinite || std::isfinite(*v), at.file, ": line ", at.line, ", column ",
             at.column, at.column_name, ": '", cell, "' is not finite; expected a finite number");
  KEEL_CHECK(!std::isfinite(*v) || std::fabs(*v) <= std::numeric_limits<float>::max(), at.file,
             ": line ", at.line, ", column ", at.column, at.column_name, ": '", cell,
             "' is outside the float32 range");
  return static_cast<float>(*v);
}

}  // namespace

CsvData read_csv(const std::filesystem::path& path, const CsvOptions& options) {
  const std::string name = path.string();
  const std::vector<std::byte> bytes = read_file_bytes(path);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());

  const std::vector<Line> lines = non_blank_lines(text, options.delimiter);
  KEEL_CHECK(!lines.empty(), name, ": file is empty; expected a header or at least one row of numbers");

  const auto first = split(lines[0].text, options.delimiter);
  const int64_t columns = static_cast<int64_t>(first.size());
  const bool has_header = starts_with_header(name, lines[0], first, options.header);
  std::vector<std::string> header_names;
  if (has_header) {
    for (auto cell : first) header_names.emplace_back(cell);
  }

  const int64_t label = label_column_index(name, options, columns, has_header, header_names);
  const int64_t features = columns - (label >= 0 ? 1 : 0);
  KEEL_CHECK(features >= 1, name, ": only the label column is present; expected at least one feature column");

  CsvData result;
  for (int64_t c = 0; c < static_cast<int64_t>(header_names.size()); ++c) {
    if (c == label) result.label_name = header_names[static_cast<size_t>(c)];
    else result.feature_names.push_back(header_names[static_cast<size_t>(c)]);
  }

  std::vector<float> x;
  std::vector<float> y;
  const size_t first_data = has_header ? 1 : 0;
  for (size_t r = first_data; r < lines.size(); ++r) {
    const auto cells = split(lines[r].text, options.delimiter);
    KEEL_CHECK(static_cast<int64_t>(cells.size()) == columns, name, ": line ", lines[r].number, " has ",
               cells.size(), " columns; expected ", columns, " (like line ", lines[0].number, ")");
    for (int64_t c = 0; c < columns; ++c) {
      const std::string column = has_header ? " ('" + header_names[static_cast<size_t>(c)] + "')" : "";
      const CellPlace at{name, lines[r].number, c + 1, column};
      (c == label ? y : x).push_back(parse_cell(cells[static_cast<size_t>(c)], at, options.allow_nonfinite));
    }
  }
  const auto rows = static_cast<int64_t>(lines.size() - first_data);
  KEEL_CHECK(rows > 0, name, ": has a header but no data rows; expected at least one row of numbers");
  result.features = Tensor({rows, features}, x);
  if (label >= 0) result.labels = Tensor({rows}, y);
  return result;
}

}  // namespace keel
