// NPY reader/writer: fixtures written by NumPy (tools/golden/io_npy.py), byte-exact agreement of
// write_npy with numpy's own output, and a table of malformed headers and payloads.
#include "keel/io/npy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "keel/core/error.h"
#include "temp_dir.h"
#include "keel/io/file_bytes.h"

namespace keel {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(KEEL_SOURCE_DIR) / "tests/data/io/npy";

using keel::testing::TempDir;

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string error_of(const fs::path& p) {
  try {
    read_npy(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

// A version 1.0 .npy file with the given header dict text and payload.
std::string npy_v1(const std::string& dict, const std::string& payload) {
  std::string h = dict + "\n";
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>(h.size() >> 8);
  return out + h + payload;
}

TEST(NpyTest, ReadsNumpyFixturesOfEveryDtypeAndVersion) {
  std::ifstream manifest(kFixtures / "npy_manifest.txt");
  ASSERT_TRUE(manifest) << "missing fixture manifest; run tools/golden/io_npy.py";
  std::string line;
  int files = 0;
  while (std::getline(manifest, line) && line != "# reject") {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string file, dtype;
    int64_t rank = 0, count = 0;
    in >> file >> dtype >> rank;
    std::vector<int64_t> dims(static_cast<size_t>(rank));
    for (auto& d : dims) in >> d;
    in >> count;
    SCOPED_TRACE(file);
    const NpyArray a = read_npy(kFixtures / file);
    EXPECT_STREQ(npy_dtype_name(a.dtype), dtype.c_str());
    EXPECT_EQ(a.dims, dims);
    ASSERT_EQ(a.size(), count);
    if (a.dtype == NpyDtype::kUint8) {
      ASSERT_EQ(static_cast<int64_t>(a.u8.size()), count);
      EXPECT_EQ(a.values.size(), 0);
    } else {
      EXPECT_EQ(a.values.dims(), dims);
    }
    const Tensor t = a.to_tensor();
    ASSERT_EQ(t.size(), count);
    for (int64_t i = 0; i < count; ++i) {
      double expected = 0;
      in >> expected;
      EXPECT_EQ(t[i], static_cast<float>(expected)) << "element " << i;
    }
    ++files;
  }
  EXPECT_EQ(files, 13);
}

TEST(NpyTest, RejectsNumpyFilesItCannotRepresent) {
  std::ifstream manifest(kFixtures / "npy_manifest.txt");
  std::string line;
  while (std::getline(manifest, line) && line != "# reject") {
  }
  int files = 0;
  while (std::getline(manifest, line)) {
    const size_t space = line.find(' ');
    const std::string file = line.substr(0, space), field = line.substr(space + 1);
    const std::string message = error_of(kFixtures / file);
    EXPECT_NE(message.find(file + ":"), std::string::npos) << message;
    EXPECT_NE(message.find(field), std::string::npos) << "expected '" << field << "' in: " << message;
    ++files;
  }
  EXPECT_EQ(files, 5);
}

TEST(NpyTest, WriteMatchesNumpyByteForByte) {
  TempDir tmp("npy");
  const NpyArray f4 = read_npy(kFixtures / "f4_v1.npy");
  write_npy(tmp.path / "f4.npy", f4.values);
  EXPECT_EQ(read_file_bytes(tmp.path / "f4.npy"), read_file_bytes(kFixtures / "f4_v1.npy"));

  const NpyArray u1 = read_npy(kFixtures / "u1_v1.npy");
  write_npy(tmp.path / "u1.npy", u1.dims, u1.u8);
  EXPECT_EQ(read_file_bytes(tmp.path / "u1.npy"), read_file_bytes(kFixtures / "u1_v1.npy"));

  const NpyArray scalar = read_npy(kFixtures / "f4_scalar_v1.npy");
  write_npy(tmp.path / "scalar.npy", scalar.values);
  EXPECT_EQ(read_file_bytes(tmp.path / "scalar.npy"), read_file_bytes(kFixtures / "f4_scalar_v1.npy"));

  const NpyArray one_d = read_npy(kFixtures / "i4_v1.npy");  // shape (5,) prints as "(5,)"
  write_npy(tmp.path / "one_d.npy", one_d.values);
  const NpyArray back = read_npy(tmp.path / "one_d.npy");
  EXPECT_EQ(back.dims, std::vector<int64_t>{5});
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(back.values[i], one_d.values[i]);
}

TEST(NpyTest, RoundTripsAwkwardShapes) {
  TempDir tmp("npy");
  for (const std::vector<int64_t>& dims : std::vector<std::vector<int64_t>>{{1}, {7, 9}, {2, 3, 5, 1}, {0, 4}}) {
    Tensor t(dims);
    for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(i) * 0.1f - 3.0f;
    write_npy(tmp.path / "t.npy", t);
    const NpyArray back = read_npy(tmp.path / "t.npy");
    EXPECT_EQ(back.dims, dims);
    ASSERT_EQ(back.values.size(), t.size());
    for (int64_t i = 0; i < t.size(); ++i) EXPECT_EQ(back.values[i], t[i]);
    // numpy aligns the data to 64 bytes; so must we.
    EXPECT_EQ((fs::file_size(tmp.path / "t.npy") - static_cast<uintmax_t>(t.size()) * 4) % 64, 0u);
  }
}

TEST(NpyTest, ParsesHeaderVariantsNumpyMayWrite) {
  TempDir tmp("npy");
  const std::string payload(8, '\0');
  // Double quotes, key order, no trailing comma, extra spaces, Python 2 long suffix.
  write_bytes(tmp.path / "a.npy",
              npy_v1("{\"shape\": ( 2L , ) ,'fortran_order':False,  'descr':'<f4'}", payload));
  const NpyArray a = read_npy(tmp.path / "a.npy");
  EXPECT_EQ(a.dims, std::vector<int64_t>{2});
  EXPECT_EQ(a.values[0], 0.0f);
}

TEST(NpyTest, AllowNonfiniteKeepsNaN) {
  const NpyArray a = read_npy(kFixtures / "nan_v1.npy", {.allow_nonfinite = true});
  EXPECT_TRUE(std::isnan(a.values[1]));
}

struct Malformed {
  const char* name;
  std::string bytes;
  std::vector<std::string> expected;
};

TEST(NpyTest, MalformedFilesFailWithFileAndField) {
  const std::string good_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  const std::string payload(24, '\0');
  std::string v4 = npy_v1(good_dict, payload);
  v4[6] = 4;
  std::string v2_short = std::string("\x93NUMPY\x02\x00\x05\x00", 10);
  std::string long_len = npy_v1(good_dict, payload);
  long_len[9] = '\x7f';

  const std::vector<Malformed> cases = {
      {"empty.npy", "", {"file is empty"}},
      {"short.npy", std::string("\x93NUMPY\x01", 7), {"truncated header", "7 bytes"}},
      {"magic.npy", "PK\x03\x04 this is a zip file", {"wrong magic"}},
      {"version.npy", v4, {"format version 4.0"}},
      {"v2_short.npy", v2_short, {"truncated header", "format version 2.0"}},
      {"header_len.npy", long_len, {"truncated header", "header length field is"}},
      {"not_dict.npy", npy_v1("['descr', '<f4']", payload), {"malformed header dict", "expected '{'"}},
      {"unterminated.npy", npy_v1("{'descr': '<f4", payload), {"unterminated string"}},
      {"missing_shape.npy", npy_v1("{'descr': '<f4', 'fortran_order': False}", payload),
       {"missing 'shape'"}},
      {"unknown_key.npy", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", payload),
       {"unknown key 'x'"}},
      {"duplicate.npy", npy_v1("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", payload),
       {"duplicate key 'descr'"}},
      {"negative.npy", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}", payload),
       {"shape entry 0"}},
      {"shape_list.npy", npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': [6]}", payload),
       {"shape is not a tuple"}},
      {"fortran.npy", npy_v1("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)}", payload),
       {"fortran_order is True"}},
      {"dtype.npy", npy_v1("{'descr': '<f3', 'fortran_order': False, 'shape': (2, 3)}", payload),
       {"unsupported dtype (descr) '<f3'"}},
      {"bar_f4.npy", npy_v1("{'descr': '|f4', 'fortran_order': False, 'shape': (2, 3)}", payload),
       {"unsupported dtype (descr) '|f4'"}},
      {"truncated.npy", npy_v1(good_dict, std::string(23, '\0')),
       {"header claims shape (2, 3) of float32", "holds 23 bytes of data (expected 24)"}},
      {"trailing.npy", npy_v1(good_dict, std::string(25, '\0')), {"holds 25 bytes of data (expected 24)"}},
      {"huge.npy", npy_v1("{'descr': '|u1', 'fortran_order': False, 'shape': (2147483648, 28, 28)}", payload),
       {"shape (2147483648, 28, 28) of uint8", "expected 1683627180032"}},
      {"overflow.npy",
       npy_v1("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904)}", ""),
       {"expected more than 2^62"}},
      {"trailing_text.npy", npy_v1(good_dict + " extra", payload), {"trailing text after the dict"}},
      {"inf.npy", npy_v1("{'descr': '<f8', 'fortran_order': False, 'shape': (1,)}",
                         std::string("\0\0\0\0\0\0\xf0\x7f", 8)),
       {"data element 0 is inf"}},
      {"f8_too_big.npy", npy_v1("{'descr': '<f8', 'fortran_order': False, 'shape': (1,)}",
                                std::string("\0\0\0\0\0\0\xf0\x4f", 8)),
       {"data element 0", "float32 range"}},
  };
  TempDir tmp("npy");
  for (const Malformed& c : cases) {
    const fs::path p = tmp.path / c.name;
    write_bytes(p, c.bytes);
    const std::string message = error_of(p);
    if (std::getenv("KEEL_TEST_VERBOSE") != nullptr) std::cerr << message << "\n";
    EXPECT_NE(message.find(p.string() + ":"), std::string::npos) << c.name << ": " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << c.name << ": one line expected: " << message;
    for (const std::string& want : c.expected) {
      EXPECT_NE(message.find(want), std::string::npos)
          << c.name << ": expected '" << want << "' in: " << message;
    }
  }
}

TEST(NpyTest, WriteRejectsEmptyTensorAndMismatchedValues) {
  TempDir tmp("npy");
  EXPECT_THROW(write_npy(tmp.path / "x.npy", Tensor()), Error);
  const std::vector<uint8_t> three = {1, 2, 3};
  EXPECT_THROW(write_npy(tmp.path / "x.npy", {2, 2}, three), Error);
  EXPECT_FALSE(fs::exists(tmp.path / "x.npy"));
}

}  // namespace
}  // namespace keel
