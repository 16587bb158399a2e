// Fashion-MNIST loader: the real data set (checked against an independent Python read,
// tools/golden/io_fashion.py) and synthetic directories with one defect each.
#include "keel/io/fashion_mnist.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "keel/core/error.h"
#include "temp_dir.h"
#include "keel/io/idx.h"

namespace keel {
namespace {

namespace fs = std::filesystem;

using keel::testing::TempDir;

std::map<std::string, std::vector<int64_t>> read_golden() {
  std::ifstream in(fs::path(KEEL_SOURCE_DIR) / "tests/data/io/fashion_mnist_golden.txt");
  EXPECT_TRUE(in) << "missing golden file; run tools/golden/io_fashion.py";
  std::map<std::string, std::vector<int64_t>> golden;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string key;
    s >> key;
    for (int64_t v; s >> v;) golden[key].push_back(v);
  }
  return golden;
}

TEST(FashionMnistTest, LoadsTheRealDataSetLikeNumpy) {
  const fs::path dir = default_fashion_mnist_dir();
  // A dependency of ./test.sh (scripts/install-deps.sh installs it): missing is a failure.
  ASSERT_TRUE(fs::exists(dir / "train-images-idx3-ubyte.gz") || fs::exists(dir / "train-images-idx3-ubyte"))
      << "Fashion-MNIST is missing in " << dir << " (Debian package dataset-fashion-mnist)";
  const FashionMnist data = load_fashion_mnist(dir);
  auto golden = read_golden();
  struct SplitView {
    const char* name;
    int64_t count;
    const std::vector<uint8_t>& images;
    const std::vector<uint8_t>& labels;
  };
  for (const SplitView& s : {SplitView{"train", data.train_count, data.train_images, data.train_labels},
                             SplitView{"test", data.test_count, data.test_images, data.test_labels}}) {
    SCOPED_TRACE(s.name);
    const std::string k = s.name;
    ASSERT_EQ(s.count, golden[k + "_count"].at(0));
    ASSERT_EQ(static_cast<int64_t>(s.images.size()), s.count * 28 * 28);
    ASSERT_EQ(static_cast<int64_t>(s.labels.size()), s.count);
    const auto& first = golden[k + "_first_labels"];
    for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(s.labels[i], first[i]) << "label " << i;
    EXPECT_EQ(s.labels.back(), golden[k + "_last_label"].at(0));
    std::vector<int64_t> histogram(10, 0);
    for (uint8_t l : s.labels) ++histogram[l];
    EXPECT_EQ(histogram, golden[k + "_label_histogram"]);
    EXPECT_EQ(std::accumulate(s.images.begin(), s.images.end(), int64_t{0}), golden[k + "_pixel_sum"].at(0));
    const auto& row = golden[k + "_first_image_row14"];
    for (int c = 0; c < 28; ++c) EXPECT_EQ(s.images[14 * 28 + c], row[c]) << "pixel (0, 14, " << c << ")";
    EXPECT_EQ(std::accumulate(s.images.end() - 784, s.images.end(), int64_t{0}),
              golden[k + "_last_image_pixel_sum"].at(0));
  }
  EXPECT_EQ(data.train_count, 60000);
  EXPECT_EQ(data.test_count, 10000);
  EXPECT_EQ(data.train_labels[0], 9);  // Ankle boot
  EXPECT_EQ(data.test_labels[0], 9);
  EXPECT_EQ(kFashionMnistClassNames[9], "Ankle boot");
}

// A tiny data set in Fashion-MNIST's layout; each test corrupts one part.
struct Fixture {
  IdxArray train_images, train_labels, test_images, test_labels;
  Fixture() {
    train_images = images(3, 1);
    train_labels = labels({9, 0, 4});
    test_images = images(2, 2);
    test_labels = labels({9, 2});
  }
  static IdxArray images(int64_t n, uint8_t seed) {
    IdxArray a;
    a.dims = {n, 28, 28};
    a.bytes.resize(static_cast<size_t>(n * 784));
    for (size_t i = 0; i < a.bytes.size(); ++i) a.bytes[i] = static_cast<uint8_t>(i * seed + 3);
    return a;
  }
  static IdxArray labels(std::vector<uint8_t> values) {
    IdxArray a;
    a.dims = {static_cast<int64_t>(values.size())};
    a.bytes = std::move(values);
    return a;
  }
  void write(const fs::path& dir, bool gz = true) const {
    const std::string ext = gz ? ".gz" : "";
    write_idx(dir / ("train-images-idx3-ubyte" + ext), train_images, gz);
    write_idx(dir / ("train-labels-idx1-ubyte" + ext), train_labels, gz);
    write_idx(dir / ("t10k-images-idx3-ubyte" + ext), test_images, gz);
    write_idx(dir / ("t10k-labels-idx1-ubyte" + ext), test_labels, gz);
  }
};

std::string error_of(const fs::path& dir) {
  try {
    load_fashion_mnist(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(FashionMnistTest, LoadsSyntheticRawAndGzipAndPrefersGzip) {
  TempDir tmp("fashion");
  Fixture f;
  f.write(tmp.path, /*gz=*/false);
  FashionMnist raw = load_fashion_mnist(tmp.path);
  EXPECT_EQ(raw.train_count, 3);
  EXPECT_EQ(raw.test_count, 2);
  EXPECT_EQ(raw.train_images, f.train_images.bytes);
  EXPECT_EQ(raw.train_labels, f.train_labels.bytes);

  Fixture other;
  other.train_labels = Fixture::labels({1, 2, 3});
  other.write(tmp.path, /*gz=*/true);  // both exist now: the .gz files must win
  FashionMnist gz = load_fashion_mnist(tmp.path);
  EXPECT_EQ(gz.train_labels, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(gz.test_labels, (std::vector<uint8_t>{9, 2}));
}

TEST(FashionMnistTest, DefaultDirHonoursEnvironment) {
  const char* saved = std::getenv("KEEL_FASHION_MNIST_DIR");
  const std::string saved_value = saved != nullptr ? saved : "";
  ::setenv("KEEL_FASHION_MNIST_DIR", "/data/fm", 1);
  EXPECT_EQ(default_fashion_mnist_dir(), fs::path("/data/fm"));
  ::unsetenv("KEEL_FASHION_MNIST_DIR");
  EXPECT_EQ(default_fashion_mnist_dir(), fs::path("/usr/share/datasets/fashion-mnist"));
  if (saved != nullptr) ::setenv("KEEL_FASHION_MNIST_DIR", saved_value.c_str(), 1);
}

TEST(FashionMnistTest, MissingDirectoryOrFileSaysHowToGetIt) {
  TempDir tmp("fashion");
  const std::string missing_dir = error_of(tmp.path / "nowhere");
  EXPECT_NE(missing_dir.find((tmp.path / "nowhere").string() + " does not exist"), std::string::npos) << missing_dir;
  EXPECT_NE(missing_dir.find("apt-get install dataset-fashion-mnist"), std::string::npos) << missing_dir;
  EXPECT_NE(missing_dir.find("--data DIR"), std::string::npos) << missing_dir;

  Fixture().write(tmp.path);
  fs::remove(tmp.path / "t10k-labels-idx1-ubyte.gz");
  const std::string missing_file = error_of(tmp.path);
  EXPECT_NE(missing_file.find("t10k-labels-idx1-ubyte.gz not found"), std::string::npos) << missing_file;
  EXPECT_NE(missing_file.find("apt-get install dataset-fashion-mnist"), std::string::npos) << missing_file;
}

struct Defect {
  const char* name;
  void (*corrupt)(Fixture&);
  const char* file;      // the file the error must name
  const char* expected;  // the field and value
};

TEST(FashionMnistTest, InvalidDataSetsFailWithFileAndField) {
  const Defect defects[] = {
      {"label_10", [](Fixture& f) { f.train_labels.bytes[2] = 10; }, "train-labels-idx1-ubyte.gz",
       "label 2 is 10; expected a class in 0..9"},
      {"count_mismatch", [](Fixture& f) { f.test_labels = Fixture::labels({1, 2, 3}); },
       "t10k-labels-idx1-ubyte.gz", "label count 3 does not match the image count 2"},
      {"image_size", [](Fixture& f) { f.train_images.dims = {1, 28 * 3, 28}; },
       "train-images-idx3-ubyte.gz", "images have dims (1, 84, 28); expected (N, 28, 28)"},
      {"image_rank", [](Fixture& f) { f.test_images.dims = {2, 784}; }, "t10k-images-idx3-ubyte.gz",
       "images have dims (2, 784)"},
      {"label_rank", [](Fixture& f) { f.train_labels.dims = {3, 1}; }, "train-labels-idx1-ubyte.gz",
       "labels have dims (3, 1); expected (N,)"},
      {"label_type",
       [](Fixture& f) {
         f.train_labels.type = IdxType::kInt16;
         f.train_labels.bytes = {0, 1, 0, 2, 0, 3};
       },
       "train-labels-idx1-ubyte.gz", "type is int16; expected uint8 labels"},
  };
  for (const Defect& d : defects) {
    TempDir tmp("fashion");
    Fixture f;
    d.corrupt(f);
    f.write(tmp.path);
    const std::string message = error_of(tmp.path);
    if (std::getenv("KEEL_TEST_VERBOSE") != nullptr) std::cerr << message << "\n";
    EXPECT_NE(message.find(d.file), std::string::npos) << d.name << ": " << message;
    EXPECT_NE(message.find(d.expected), std::string::npos) << d.name << ": " << message;
  }
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

// The real header layout claiming 2^31 images with 3 images of pixels behind it: must fail from
// the sizes alone, before anything of the claimed 1.6 TB is allocated.
TEST(FashionMnistTest, HeaderClaimingBillionsOfImagesFailsFast) {
  std::vector<uint8_t> raw = {0, 0, 8, 3, 0x80, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28};
  raw.resize(raw.size() + 3 * 784, 5);
  for (bool gz : {false, true}) {
    TempDir tmp("fashion");
    Fixture().write(tmp.path);
    const std::vector<uint8_t> bytes = gz ? gzip(raw) : raw;
    const std::string name = gz ? "train-images-idx3-ubyte.gz" : "train-images-idx3-ubyte";
    fs::remove(tmp.path / "train-images-idx3-ubyte.gz");
    std::ofstream(tmp.path / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    const std::string message = error_of(tmp.path);
    EXPECT_NE(message.find(name + ": header claims 2147483648 images of 28x28 uint8 but the file holds 2352 " +
                           (gz ? "decompressed " : "") + "bytes of data (expected 1683627180032)"),
              std::string::npos)
        << message;
  }
}

}  // namespace
}  // namespace keel
