// IDX reader/writer: fixtures written by Python (tools/golden/io_idx.py), round trips, and a table
// of malformed files that must each fail with a one-line keel::Error naming the file and field.
#include "keel/io/idx.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "keel/core/error.h"
#include "temp_dir.h"

namespace keel {
namespace {

namespace fs = std::filesystem;

using keel::testing::TempDir;

void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                           static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> gzip(const std::vector<uint8_t>& raw) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::vector<uint8_t> out(deflateBound(&zs, raw.size()));
  zs.next_in = const_cast<uint8_t*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// IDX header: 00 00 type rank, then big-endian dims.
std::vector<uint8_t> header(uint8_t type, std::vector<uint32_t> dims) {
  std::vector<uint8_t> h = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    h.insert(h.end(), {uint8_t(d >> 24), uint8_t(d >> 16), uint8_t(d >> 8), uint8_t(d)});
  }
  return h;
}

std::vector<uint8_t> concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string error_of(const fs::path& p) {
  try {
    read_idx(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(IdxTest, ReadsPythonWrittenFixturesOfEveryType) {
  const fs::path dir = fs::path(KEEL_SOURCE_DIR) / "tests/data/io/idx";
  std::ifstream manifest(dir / "idx_manifest.txt");
  ASSERT_TRUE(manifest) << "missing fixture manifest; run tools/golden/io_idx.py";
  std::string line;
  int files = 0;
  while (std::getline(manifest, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string file, type;
    int64_t rank = 0, count = 0;
    in >> file >> type >> rank;
    std::vector<int64_t> dims(static_cast<size_t>(rank));
    for (auto& d : dims) in >> d;
    in >> count;
    SCOPED_TRACE(file);
    const IdxArray a = read_idx(dir / file);
    EXPECT_STREQ(idx_type_name(a.type), type.c_str());
    EXPECT_EQ(a.dims, dims);
    ASSERT_EQ(a.size(), count);
    const Tensor t = a.to_tensor();
    for (int64_t i = 0; i < count; ++i) {
      double expected = 0;
      in >> expected;
      EXPECT_EQ(t[i], static_cast<float>(expected)) << "element " << i;
      if (a.type == IdxType::kUint8) {
        EXPECT_EQ(a.bytes[static_cast<size_t>(i)], expected);
      }
    }
    ++files;
  }
  EXPECT_EQ(files, 12);  // six types, raw and gzip
}

TEST(IdxTest, RoundTripsEveryTypeRawAndGzip) {
  TempDir tmp("idx");
  const IdxType types[] = {IdxType::kUint8, IdxType::kInt8,    IdxType::kInt16,
                           IdxType::kInt32, IdxType::kFloat32, IdxType::kFloat64};
  for (IdxType type : types) {
    for (bool gz : {false, true}) {
      IdxArray a;
      a.type = type;
      a.dims = {3, 5, 7};
      a.bytes.resize(105 * idx_type_size(type));
      for (size_t i = 0; i < a.bytes.size(); ++i) a.bytes[i] = static_cast<uint8_t>(i * 37 + 11);
      if (type == IdxType::kFloat32 || type == IdxType::kFloat64) {  // keep values finite
        for (size_t i = 0; i < a.bytes.size(); i += idx_type_size(type)) {
          const double v = static_cast<double>(i) * 0.25 - 7.5;
          if (type == IdxType::kFloat32) {
            const float f = static_cast<float>(v);
            std::memcpy(&a.bytes[i], &f, 4);
          } else {
            std::memcpy(&a.bytes[i], &v, 8);
          }
        }
      }
      const fs::path p = tmp.path / (std::string(idx_type_name(type)) + (gz ? ".gz" : ""));
      write_idx(p, a, gz);
      std::ifstream f(p, std::ios::binary);
      const int first = f.get();
      EXPECT_EQ(first, gz ? 0x1f : 0x00);
      const IdxArray b = read_idx(p);
      EXPECT_EQ(b.type, type);
      EXPECT_EQ(b.dims, a.dims);
      EXPECT_EQ(b.bytes, a.bytes) << idx_type_name(type) << (gz ? " gzip" : " raw");
    }
  }
}

TEST(IdxTest, ReadsMultiMemberGzip) {
  TempDir tmp("idx");
  const std::vector<uint8_t> data = {1, 2, 3, 4, 5, 6};
  const std::vector<uint8_t> raw = concat(header(0x08, {2, 3}), data);
  // `cat a.gz b.gz` of the two halves is one valid gzip file.
  const auto cut = raw.begin() + 9;
  write_bytes(tmp.path / "multi.gz", concat(gzip({raw.begin(), cut}), gzip({cut, raw.end()})));
  const IdxArray a = read_idx(tmp.path / "multi.gz");
  EXPECT_EQ(a.bytes, data);
}

TEST(IdxTest, ToTensorSignExtendsAndConvertsFloats) {
  IdxArray a;
  a.type = IdxType::kInt8;
  a.dims = {3};
  a.bytes = {0xff, 0x80, 0x7f};  // -1, -128, 127
  const Tensor t = a.to_tensor();
  EXPECT_EQ(t[0], -1.0f);
  EXPECT_EQ(t[1], -128.0f);
  EXPECT_EQ(t[2], 127.0f);
}

TEST(IdxTest, AllowNonfiniteKeepsNaN) {
  TempDir tmp("idx");
  // float32 NaN big-endian: 7f c0 00 00.
  write_bytes(tmp.path / "nan", concat(header(0x0D, {1}), {0x7f, 0xc0, 0, 0}));
  EXPECT_NE(error_of(tmp.path / "nan").find("element 0 is nan"), std::string::npos);
  const IdxArray a = read_idx(tmp.path / "nan", {.item_name = "items", .allow_nonfinite = true});
  EXPECT_TRUE(std::isnan(a.to_tensor()[0]));
}

TEST(IdxTest, MissingFileAndDirectoryAreClearErrors) {
  TempDir tmp("idx");
  EXPECT_NE(error_of(tmp.path / "nope.gz").find("nope.gz: file not found"), std::string::npos);
  EXPECT_NE(error_of(tmp.path).find("is a directory"), std::string::npos);
}

struct Malformed {
  const char* name;
  std::vector<uint8_t> bytes;
  std::vector<std::string> expected;  // substrings of the error (besides the file name)
};

TEST(IdxTest, MalformedFilesFailWithFileAndField) {
  const std::vector<uint8_t> image_data(2 * 4 * 4, 7);
  const std::vector<uint8_t> good = concat(header(0x08, {2, 4, 4}), image_data);
  std::vector<uint8_t> gz_good = gzip(good);
  std::vector<uint8_t> bad_crc = gz_good;
  bad_crc[bad_crc.size() - 6] ^= 0xff;  // CRC32 sits 8..5 bytes from the end
  std::vector<uint8_t> garbage = {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3};
  const std::vector<uint8_t> pixels(10 * 784, 1);

  const std::vector<Malformed> cases = {
      {"empty", {}, {"file is empty"}},
      {"short_magic", {0, 0}, {"truncated header", "2 bytes"}},
      {"wrong_magic", {'P', 'K', 3, 4, 0, 0, 0, 1}, {"wrong magic 50 4b 03 04"}},
      {"type_code", concat(header(0x0A, {4}), {1, 2, 3, 4}), {"type code 0xa"}},
      {"rank_zero", {0, 0, 8, 0}, {"rank", "is 0"}},
      {"short_dims", {0, 0, 8, 3, 0, 0, 0, 2, 0, 0}, {"truncated header", "rank 3 needs 16"}},
      {"zero_dim", concat(header(0x08, {2, 0, 4}), {}), {"dimension 1 is 0"}},
      {"short_data", concat(header(0x08, {2, 4, 4}), std::vector<uint8_t>(31, 0)),
       {"header claims 2 items of 4x4 uint8", "holds 31 bytes of data (expected 32)"}},
      {"long_data", concat(good, {9}), {"holds 33 bytes of data (expected 32)"}},
      {"huge_claim", concat(header(0x08, {2147483648u, 28, 28}), pixels),
       {"header claims 2147483648 items of 28x28 uint8", "holds 7840 bytes", "expected 1683627180032"}},
      {"huge_claim.gz", gzip(concat(header(0x08, {2147483648u, 28, 28}), pixels)),
       {"2147483648 items", "holds 7840 decompressed bytes", "expected 1683627180032"}},
      {"overflow_dims", header(0x0E, {0xffffffffu, 0xffffffffu, 0xffffffffu}),
       {"holds 0 bytes", "expected more than 2^62"}},
      {"gzip_garbage.gz", garbage, {"gzip"}},
      {"gzip_truncated.gz", std::vector<uint8_t>(gz_good.begin(), gz_good.begin() + 20),
       {"gzip stream is truncated"}},
      {"gzip_bad_crc.gz", bad_crc, {"corrupt"}},
      {"gzip_trailing.gz", concat(gz_good, {'x', 'y', 'z'}), {"3 bytes of trailing garbage"}},
      {"gzip_long.gz", gzip(concat(good, std::vector<uint8_t>(1000, 0))),
       {"holds 1032 decompressed bytes of data (expected 32)"}},
      {"gzip_short.gz", gzip(concat(header(0x08, {2, 4, 4}), std::vector<uint8_t>(5, 0))),
       {"holds 5 decompressed bytes"}},
      {"gzip_empty_payload.gz", gzip({}), {"truncated header", "0 decompressed bytes"}},
      {"float_inf", concat(header(0x0D, {2}), {0, 0, 0, 0, 0x7f, 0x80, 0, 0}),
       {"data element 1 is inf", "finite float32"}},
  };
  TempDir tmp("idx");
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

TEST(IdxTest, WriteRejectsInconsistentArrays) {
  TempDir tmp("idx");
  IdxArray a;
  a.dims = {2, 2};
  a.bytes = {1, 2, 3};
  try {
    write_idx(tmp.path / "bad", a);
    FAIL() << "expected keel::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("holds 3 bytes; its dims and type need 4"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp.path / "bad"));
}

}  // namespace
}  // namespace keel
