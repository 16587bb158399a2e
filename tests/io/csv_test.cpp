// Numeric CSV reader: header detection, label column by index/name, and malformed tables whose
// errors must name the file, the line, the column and the offending text.
#include "keel/io/csv.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "keel/core/error.h"
#include "temp_dir.h"

namespace keel {
namespace {

namespace fs = std::filesystem;

using keel::testing::TempDir;

std::string error_of(const fs::path& p, const CsvOptions& options = {}) {
  try {
    read_csv(p, options);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(CsvTest, HeaderAutoDetectedAndLabelByName) {
  TempDir tmp("csv");
  const auto p = tmp.write("iris.csv", "x1, x2,label,x3\n1.5,-2,0,3e2\n+4,5.25,\"1\",6\n");
  CsvOptions options;
  options.label_column = std::string("label");
  const CsvData d = read_csv(p, options);
  EXPECT_EQ(d.features.dims(), (std::vector<int64_t>{2, 3}));
  const float x[] = {1.5f, -2.0f, 300.0f, 4.0f, 5.25f, 6.0f};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(d.features[i], x[i]) << i;
  EXPECT_EQ(d.labels.dims(), std::vector<int64_t>{2});
  EXPECT_EQ(d.labels[0], 0.0f);
  EXPECT_EQ(d.labels[1], 1.0f);
  EXPECT_EQ(d.feature_names, (std::vector<std::string>{"x1", "x2", "x3"}));
  EXPECT_EQ(d.label_name, "label");
}

TEST(CsvTest, NoHeaderNegativeLabelIndexCrlfAndBlankLines) {
  TempDir tmp("csv");
  const auto p = tmp.write("data.csv", "1,2,3\r\n\r\n4,5,6\r\n\n");
  CsvOptions options;
  options.label_column = int64_t{-1};
  const CsvData d = read_csv(p, options);
  EXPECT_EQ(d.features.dims(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(d.features[3], 5.0f);
  EXPECT_EQ(d.labels[0], 3.0f);
  EXPECT_EQ(d.labels[1], 6.0f);
  EXPECT_TRUE(d.feature_names.empty());
}

TEST(CsvTest, FeaturesOnlyAndOtherDelimiter) {
  TempDir tmp("csv");
  const auto p = tmp.write("data.tsv", "0.5\t1\n2\t-0.125\n");
  CsvOptions options;
  options.delimiter = '\t';
  const CsvData d = read_csv(p, options);
  EXPECT_EQ(d.features.dims(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(d.features[3], -0.125f);
  EXPECT_EQ(d.labels.size(), 0);
}

TEST(CsvTest, ExplicitHeaderWithNumericNamesAndAbsentHeader) {
  TempDir tmp("csv");
  const auto p = tmp.write("years.csv", "2019,2020\n1,2\n");
  CsvOptions with;
  with.header = CsvOptions::Header::kPresent;
  EXPECT_EQ(read_csv(p, with).features.dims(), (std::vector<int64_t>{1, 2}));
  CsvOptions without;
  without.header = CsvOptions::Header::kAbsent;
  EXPECT_EQ(read_csv(p, without).features.dims(), (std::vector<int64_t>{2, 2}));
}

TEST(CsvTest, AllowNonfinite) {
  TempDir tmp("csv");
  const auto p = tmp.write("nan.csv", "1,nan\n2,inf\n");
  CsvOptions options;
  options.allow_nonfinite = true;
  const CsvData d = read_csv(p, options);
  EXPECT_TRUE(std::isnan(d.features[1]));
  EXPECT_TRUE(std::isinf(d.features[3]));
}

struct Malformed {
  const char* name;
  std::string text;
  CsvOptions options;
  std::vector<std::string> expected;
};

CsvOptions label(std::variant<std::monostate, int64_t, std::string> column,
                 CsvOptions::Header header = CsvOptions::Header::kAuto) {
  CsvOptions o;
  o.label_column = std::move(column);
  o.header = header;
  return o;
}

TEST(CsvTest, MalformedFilesFailWithFileLineAndColumn) {
  const std::vector<Malformed> cases = {
      {"empty.csv", "", {}, {"file is empty"}},
      {"blank.csv", "\n\n  \n", {}, {"file is empty"}},
      {"header_only.csv", "a,b,c\n", {}, {"no data rows"}},
      {"ragged.csv", "a,b,c\n1,2,3\n4,5\n", {}, {"line 3 has 2 columns; expected 3"}},
      {"ragged_long.csv", "1,2\n3,4\n\n5,6,7\n", {}, {"line 4 has 3 columns; expected 2"}},
      {"text.csv", "a,b\n1,2\n3,abc\n", {}, {"line 3, column 2 ('b'): 'abc' is not a number"}},
      {"partial_number.csv", "1,2\n3,4x\n", {}, {"line 2, column 2: '4x' is not a number"}},
      {"empty_cell.csv", "1,2\n,4\n", {}, {"line 2, column 1: '' is not a number"}},
      {"nan.csv", "x,y\n1,2\nnan,4\n", {}, {"line 3, column 1 ('x'): 'nan' is not finite"}},
      {"inf.csv", "1,-inf\n", {}, {"line 1, column 2: '-inf' is not finite"}},
      {"too_big.csv", "1,1e39\n", {}, {"line 1, column 2: '1e39' is outside the float32 range"}},
      {"mixed_first.csv", "1,b,3\n4,5,6\n", {}, {"line 1 mixes 2 numeric and 1 non-numeric"}},
      {"label_name.csv", "a,b\n1,2\n", label(std::string("label")),
       {"label_column 'label' is not in the header; expected one of a, b"}},
      {"label_no_header.csv", "1,2\n", label(std::string("label")), {"no header row"}},
      {"label_index.csv", "1,2\n", label(int64_t{2}), {"label_column 2 is out of range"}},
      {"label_only.csv", "1\n2\n", label(int64_t{0}), {"at least one feature column"}},
  };
  TempDir tmp("csv");
  for (const Malformed& c : cases) {
    const fs::path p = tmp.write(c.name, c.text);
    const std::string message = error_of(p, c.options);
    if (std::getenv("KEEL_TEST_VERBOSE") != nullptr) std::cerr << message << "\n";
    EXPECT_NE(message.find(p.string() + ":"), std::string::npos) << c.name << ": " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << c.name << ": one line expected: " << message;
    for (const std::string& want : c.expected) {
      EXPECT_NE(message.find(want), std::string::npos)
          << c.name << ": expected '" << want << "' in: " << message;
    }
  }
}

}  // namespace
}  // namespace keel
