// Fixtures for the CLI error tests: a temp directory of small valid and malformed files, written
// byte by byte (IDX and NPY headers by hand, gzip through zlib), and a runner for the `keel`
// binary that captures exit code, stdout and stderr.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace keel::cli_test {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

inline std::string keel_binary() {
  const char* env = std::getenv("KEEL_BIN");
  if (env != nullptr && *env != '\0') return env;
  return KEEL_BINARY_DIR "/keel";
}

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline std::string join(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
  return s;
}

inline std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `keel args...` with stdout and stderr captured in files under `scratch`. With
// timeout_seconds > 0 the process is killed after that long (exit code 137): a hang fails the
// test instead of stalling the suite.
inline RunResult run_keel(const std::vector<std::string>& args, const std::string& scratch,
                          int timeout_seconds = 0) {
  std::string cmd;
  if (timeout_seconds > 0) cmd.append("timeout -s KILL ").append(std::to_string(timeout_seconds)).append(" ");
  cmd.append(shell_quote(keel_binary()));
  // append() chains: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string temporaries.
  for (const auto& a : args) cmd.append(" ").append(shell_quote(a));
  const std::string out = scratch + "/.stdout", err = scratch + "/.stderr";
  cmd.append(" >").append(shell_quote(out)).append(" 2>").append(shell_quote(err)).append(" </dev/null");
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline void put_file(const fs::path& path, const Bytes& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
inline void put_file(const fs::path& path, const std::string& text) {
  put_file(path, Bytes(text.begin(), text.end()));
}

inline void put_be32(Bytes& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}

// An IDX file: magic 00 00 <type> <rank>, big-endian uint32 dims, then `payload` as given.
inline Bytes idx(uint8_t type, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes out = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) put_be32(out, d);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

inline Bytes be_floats(const std::vector<float>& values) {
  Bytes out;
  for (float f : values) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    put_be32(out, u);
  }
  return out;
}

inline Bytes le_floats(const std::vector<float>& values) {
  Bytes out(values.size() * 4);
  std::memcpy(out.data(), values.data(), out.size());  // the test host is little-endian (x86-64)
  return out;
}

// An .npy version 1.0 file with the given header dict (padded as numpy pads it) and raw data.
inline Bytes npy(const std::string& dict, const Bytes& data) {
  std::string header = dict;
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  Bytes out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<uint8_t>(header.size() & 0xff),
               static_cast<uint8_t>(header.size() >> 8)};
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

inline Bytes gzip(const Bytes& raw) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  Bytes out(deflateBound(&zs, raw.size()));
  zs.next_in = const_cast<Bytef*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// A tiny TF.js saved model: InputLayer (None, 4) -> Dense(2, softmax), weights dense/kernel [4, 2]
// and dense/bias [2]; `manifest_weights` and `shard` can be broken per fixture.
inline void put_saved_model(const fs::path& dir, const std::string& manifest_weights,
                            const Bytes& shard) {
  const std::string topology =
      R"({"class_name": "Sequential", "config": {"name": "tiny", "layers": [)"
      R"({"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "in"}},)"
      R"({"class_name": "Dense", "config": {"units": 2, "activation": "softmax", "name": "dense"}}]}})";
  put_file(dir / "model.json",
           R"({"format": "layers-model", "generatedBy": "cli_errors_test", "convertedBy": null,)"
           R"( "modelTopology": )" + topology +
               R"(, "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": [)" +
               manifest_weights + "]}]}");
  put_file(dir / "group1-shard1of1.bin", shard);
}

class Fixtures {
 public:
  Fixtures() {
    root_ = fs::temp_directory_path() / ("keel-cli-errors-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    write_data_dirs();
    write_inputs();
    write_models();
    write_configs();
    put_file(root_ / "ckpt_corrupt" / "checkpoint.keel",
             std::string("KEELCKPT\x01\0\0\0\0\0\0\0garbage!", 24));
  }
  ~Fixtures() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  const fs::path& root() const { return root_; }

 private:
  // A Fashion-MNIST-shaped directory: 8 training and 4 test images of 28x28, labels 0..7 / 0..3.
  struct Data {
    Bytes train_images, train_labels, test_images, test_labels;
  };
  static Data good_data() {
    Data d;
    Bytes pixels(8 * 28 * 28);
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7 % 256);
    d.train_images = idx(0x08, {8, 28, 28}, pixels);
    d.train_labels = idx(0x08, {8}, {0, 1, 2, 3, 4, 5, 6, 7});
    d.test_images = idx(0x08, {4, 28, 28}, Bytes(pixels.begin(), pixels.begin() + 4 * 784));
    d.test_labels = idx(0x08, {4}, {0, 1, 2, 3});
    return d;
  }
  void put_data(const std::string& name, const Data& d) {
    const fs::path dir = root_ / name;
    put_file(dir / "train-images-idx3-ubyte", d.train_images);
    put_file(dir / "train-labels-idx1-ubyte", d.train_labels);
    put_file(dir / "t10k-images-idx3-ubyte", d.test_images);
    put_file(dir / "t10k-labels-idx1-ubyte", d.test_labels);
  }

  void write_data_dirs() {
    const Data good = good_data();
    put_data("data_ok", good);
    Data d = good;
    d.train_images.resize(d.train_images.size() - 10);
    put_data("data_truncated", d);
    d = good;
    d.train_images = {'P', 'K', 3, 4, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0};
    put_data("data_magic", d);
    d = good;
    d.train_images = idx(0x08, {0x80000000u, 28, 28}, Bytes(16, 0));
    put_data("data_huge", d);
    d = good;
    d.train_labels = idx(0x08, {8}, {0, 1, 2, 3, 4, 10, 6, 7});
    put_data("data_label", d);
    d = good;
    d.test_labels = idx(0x08, {3}, {0, 1, 2});
    put_data("data_count", d);
    d = good;
    d.train_images = idx(0x08, {8, 27, 28}, Bytes(8 * 27 * 28, 1));
    put_data("data_dims", d);
    d = good;
    put_data("data_gz", d);
    fs::remove(root_ / "data_gz" / "train-images-idx3-ubyte");
    const Bytes packed = gzip(good.train_images);
    put_file(root_ / "data_gz" / "train-images-idx3-ubyte.gz",
             Bytes(packed.begin(), packed.begin() + static_cast<std::ptrdiff_t>(packed.size() / 2)));
    d = good;
    d.test_images.clear();
    put_data("data_empty", d);
    d = good;
    d.train_images = idx(0x0D, {8, 28, 28}, be_floats(std::vector<float>(8 * 784, 0.5f)));
    put_data("data_float", d);
    d = good;
    d.train_labels = {0, 0, 8, 0};
    put_data("data_rank0", d);
    put_data("data_missing", good);
    fs::remove(root_ / "data_missing" / "t10k-labels-idx1-ubyte");
  }

  void write_inputs() {
    const std::vector<float> x12 = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    const std::string f4_34 = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
    put_file(root_ / "x_ok.npy", npy(f4_34, le_floats(x12)));
    put_file(root_ / "x_ok.idx", idx(0x0D, {3, 4}, be_floats(x12)));
    put_file(root_ / "y_ids.npy",  // class ids for x_ok.npy (train --data npy:...)
             npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                 le_floats({0, 2, 1})));
    put_file(root_ / "x_test5.npy",  // a test set of another size for x_ok.npy's model
             npy("{'descr': '<f4', 'fortran_order': False, 'shape': (5, 4), }",
                 le_floats(std::vector<float>(20, 0.5f))));
    put_file(root_ / "y_test5.npy",
             npy("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }",
                 le_floats({0, 1, 2, 1, 0})));
    Bytes truncated = npy(f4_34, le_floats(x12));
    truncated.resize(truncated.size() - 8);
    put_file(root_ / "x_truncated.npy", truncated);
    put_file(root_ / "x_garbage.npy", std::string("hello, this is not an npy file"));
    std::vector<float> with_nan = x12;
    with_nan[5] = std::nanf("");
    put_file(root_ / "x_nan.npy", npy(f4_34, le_floats(with_nan)));
    put_file(root_ / "x_fortran.npy",
             npy("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }", le_floats(x12)));
    put_file(root_ / "x_complex.npy",
             npy("{'descr': '<c8', 'fortran_order': False, 'shape': (6,), }", le_floats(x12)));
    put_file(root_ / "x_huge.npy",
             npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }",
                 le_floats(x12)));
    put_file(root_ / "x_width.npy",
             npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }",
                 le_floats(std::vector<float>(15, 1.0f))));
    put_file(root_ / "x_empty.npy",
             npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", {}));
    put_file(root_ / "x_dict.npy",
             npy("{'descr': '<f4' 'fortran_order': False, 'shape': (3, 4), }", le_floats(x12)));
    Bytes idx_truncated = idx(0x0D, {3, 4}, be_floats(x12));
    idx_truncated.resize(idx_truncated.size() - 8);
    put_file(root_ / "x_truncated.idx", idx_truncated);
  }

  void write_models() {
    const std::string weights =
        R"({"name": "dense/kernel", "shape": [4, 2], "dtype": "float32"},)"
        R"({"name": "dense/bias", "shape": [2], "dtype": "float32"})";
    const Bytes shard = le_floats({0.1f, -0.2f, 0.3f, -0.4f, 0.5f, -0.6f, 0.7f, -0.8f, 0.0f, 0.1f});
    put_saved_model(root_ / "model_ok", weights, shard);
    put_saved_model(root_ / "model_short", weights, Bytes(shard.begin(), shard.end() - 4));
    put_saved_model(root_ / "model_shape",
                    R"({"name": "dense/kernel", "shape": [2, 4], "dtype": "float32"},)"
                    R"({"name": "dense/bias", "shape": [2], "dtype": "float32"})",
                    shard);
    Bytes nan_shard = shard;
    const Bytes nan_bytes = le_floats({std::nanf("")});
    std::copy(nan_bytes.begin(), nan_bytes.end(), nan_shard.end() - 8);
    put_saved_model(root_ / "model_nan", weights, nan_shard);
    Bytes extra_shard = shard;
    const Bytes one = le_floats({1.0f});
    extra_shard.insert(extra_shard.end(), one.begin(), one.end());
    put_saved_model(root_ / "model_extra",
                    weights + R"(, {"name": "ghost/kernel", "shape": [1], "dtype": "float32"})",
                    extra_shard);
    put_saved_model(root_ / "model_dtype",
                    R"({"name": "dense/kernel", "shape": [4, 2], "dtype": 7},)"
                    R"({"name": "dense/bias", "shape": [2], "dtype": "float32"})",
                    shard);
    fs::create_directories(root_ / "model_badjson");
    put_file(root_ / "model_badjson" / "model.json", std::string(R"({"format": "layers-model", )"));
    put_file(root_ / "model_badjson" / "group1-shard1of1.bin", shard);
  }

  // Keras configs: InputLayer (None, 4) then `layer`, or a whole document.
  void put_config(const std::string& name, const std::string& layer) {
    put_file(root_ / name,
             R"({"class_name": "Sequential", "config": {"name": "s", "layers": [)"
             R"({"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "in"}}, )" +
                 layer + "]}}");
  }

  void write_configs() {
    put_config("config_ok.json", R"({"class_name": "Dense", "config": {"units": 3, "name": "d"}})");
    put_file(root_ / "bad_syntax.json", std::string(R"({"class_name": "Sequential", "config": )"));
    put_config("bad_class.json", R"({"class_name": "Conv2D", "config": {"filters": 3}})");
    put_config("bad_arg.json",
               R"({"class_name": "Dense", "config": {"units": 3, "frobnicate": true}})");
    put_file(root_ / "bad_noinput.json",
             std::string(R"({"class_name": "Sequential", "config": {"name": "s", "layers": [)"
                         R"({"class_name": "Dense", "config": {"units": 3}}]}})"));
    put_config("bad_units.json", R"({"class_name": "Dense", "config": {"units": -3}})");
    put_config("bad_momentum.json",
               R"({"class_name": "BatchNormalization", "config": {"momentum": 2}})");
    put_file(root_ / "bad_functional.json",
             std::string(R"({"class_name": "Functional", "config": {"name": "f", "layers": [)"
                         R"({"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4],)"
                         R"( "name": "in"}, "name": "in", "inbound_nodes": []},)"
                         R"({"class_name": "Dense", "config": {"name": "d", "units": 3}, "name": "d",)"
                         R"( "inbound_nodes": [[["inn", 0, 0, {}]]]}],)"
                         R"( "input_layers": [["in", 0, 0]], "output_layers": [["d", 0, 0]]}})"));
    put_file(root_ / "bad_batch.json",
             std::string(R"({"class_name": "Sequential", "config": {"name": "s", "layers": [)"
                         R"({"class_name": "InputLayer", "config": {"batch_input_shape": [32, 4]}},)"
                         R"({"class_name": "Dense", "config": {"units": 3}}]}})"));
    put_config("bad_rate.json", R"({"class_name": "Dropout", "config": {"rate": 1.5}})");
    put_config("bad_activation.json",
               R"({"class_name": "Dense", "config": {"units": 3, "activation": "swishy"}})");
    put_file(root_ / "bad_array.json", std::string("[1, 2, 3]"));
    put_config("bad_units_type.json", R"({"class_name": "Dense", "config": {"units": "ten"}})");
    put_config("bad_huge_units.json",
               R"({"class_name": "Dense", "config": {"units": 1000000000000}})");
  }

  fs::path root_;
};

// A test suite whose tests share one Fixtures directory, written once per suite.
class FixtureSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fixtures_ = new Fixtures(); }
  static void TearDownTestSuite() {
    delete fixtures_;
    fixtures_ = nullptr;
  }
  static inline Fixtures* fixtures_ = nullptr;
};

}  // namespace keel::cli_test
