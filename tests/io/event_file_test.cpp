// TensorBoard event files: CRC32C check values, and files written by keel decoded by the
// independent tools/tensorboard_decode.py (pure Python from the specs).
#include <gtest/gtest.h>
#include <unistd.h>
#include <sys/wait.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../callbacks/watch_helpers.h"
#include "keel/callbacks/tensorboard.h"
#include "keel/io/crc32c.h"
#include "keel/io/event_file.h"
#include "keel/optimizers/sgd.h"

namespace keel {
namespace {
using namespace watch_test;

TEST(Crc32c, StandardCheckValues) {
  // RFC 3720 B.4 / the CRC catalogue: CRC-32C("123456789") = 0xE3069283; 32 zero bytes = 0x8A9136AA.
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  const std::vector<char> zeros(32, 0);
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  // Continuation equals one pass.
  EXPECT_EQ(crc32c("6789", 4, crc32c("12345", 5)), 0xE3069283u);
}

std::vector<nlohmann::json> decode(const std::filesystem::path& dir) {
  std::vector<nlohmann::json> files;
  for (const auto& f : list_event_files(dir)) {
    const auto [status, out] = run("/usr/bin/python3 " + std::string(KEEL_SOURCE_DIR) +
                                   "/tools/tensorboard_decode.py '" + f.string() + "'");
    EXPECT_EQ(status, 0) << "decoder failed on " << f;
    files.push_back(nlohmann::json::parse(out));
  }
  return files;
}

TEST(EventFile, WriterOutputDecodesIndependently) {
  const auto dir = fresh_dir("events");
  {
    EventFileWriter w(dir);
    w.add_scalar("epoch_loss", 0.25, 0);
    w.add_scalar("epoch_loss", 0.125, 1);
    const std::vector<float> v = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    w.add_histogram("dense/kernel_0/histogram", v, 1, 5);
    w.add_histogram("constant/histogram", std::vector<float>(4, 2.0f), 1);
    EXPECT_TRUE(w.path().filename().string().starts_with("events.out.tfevents."));
    EXPECT_TRUE(w.path().filename().string().ends_with(".v2"));
  }
  const auto files = decode(dir);
  ASSERT_EQ(files.size(), 1u);
  const auto& f = files[0];
  EXPECT_EQ(f["file_version"], "brain.Event:2");
  const auto& ev = f["events"];
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_EQ(ev[1]["values"][0]["tag"], "epoch_loss");
  EXPECT_EQ(ev[1]["values"][0]["plugin"], "scalars");
  EXPECT_EQ(ev[1]["values"][0]["data_class"], 1);
  EXPECT_EQ(ev[1]["values"][0]["dtype"], 1);
  EXPECT_EQ(ev[1]["values"][0]["value"], 0.25);
  EXPECT_EQ(ev[2]["step"], 1);
  const auto& h = ev[3]["values"][0];
  EXPECT_EQ(h["plugin"], "histograms");
  EXPECT_EQ(h["kind"], "histogram");
  // 10 values over [0, 9] in 5 buckets of width 1.8: 2 per bucket.
  ASSERT_EQ(h["buckets"].size(), 5u);
  EXPECT_DOUBLE_EQ(h["buckets"][0][0].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(h["buckets"][4][1].get<double>(), 9.0);
  for (const auto& b : h["buckets"]) EXPECT_EQ(b[2], 2.0);
  const auto& c = ev[4]["values"][0]["buckets"];
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0], nlohmann::json::array({1.5, 2.5, 4.0}));
  // keel's own reader agrees (used by keel plot).
  const auto scalars = read_scalar_events(list_event_files(dir).at(0));
  ASSERT_EQ(scalars.size(), 2u);
  EXPECT_EQ(scalars[1].tag, "epoch_loss");
  EXPECT_EQ(scalars[1].step, 1);
  EXPECT_EQ(scalars[1].value, 0.125);
}

TEST(EventFile, CorruptionIsDetectedByTheDecoder) {
  const auto dir = fresh_dir("events_bad");
  std::filesystem::path path;
  {
    EventFileWriter w(dir);
    w.add_scalar("x", 1.0, 3);
    path = w.path();
  }
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(-6, std::ios::end);
  f.put('\x7f');
  f.close();
  const auto [status, out] = run("/usr/bin/python3 " + std::string(KEEL_SOURCE_DIR) +
                                 "/tools/tensorboard_decode.py '" + path.string() + "' 2>/dev/null");
  EXPECT_EQ(status, 1);
  EXPECT_THROW(read_scalar_events(path), Error);
}

TEST(EventFile, TensorBoardCallbackWritesKerasTagsAndGradientNorms) {
  Tensor x, y;
  make_data(200, x, y);
  Model m = small_model();
  m.compile({.optimizer = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.05, .clipnorm = 0.5}),
             .loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  const auto dir = fresh_dir("tb");
  auto tb = std::make_shared<TensorBoard>(dir, TensorBoardOptions{.grad_norm_every = 3});
  // 160 training samples / 32 = 5 steps per epoch, 3 epochs = 15 steps: norms at steps 3..15.
  m.fit(x, y, {.epochs = 3, .verbose = 0, .validation_split = 0.2, .callbacks = {tb}});

  const auto train = decode(dir / "train");
  const auto val = decode(dir / "validation");
  ASSERT_EQ(train.size(), 1u);
  ASSERT_EQ(val.size(), 1u);
  std::map<std::string, std::vector<int64_t>> steps;
  std::map<std::string, std::string> kinds;
  std::map<std::string, std::vector<double>> values;
  for (const auto& e : train[0]["events"])
    for (const auto& v : e["values"]) {
      steps[v["tag"]].push_back(e["step"]);
      kinds[v["tag"]] = v["kind"];
      if (v["kind"] == "scalar") values[v["tag"]].push_back(v["value"]);
    }
  for (const char* tag : {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"}) {
    EXPECT_EQ(steps[tag], (std::vector<int64_t>{0, 1, 2})) << tag;
    EXPECT_EQ(kinds[tag], "scalar");
  }
  // Layer names are unique per process (dense, dense_1, ...), so take them from the model.
  const std::string d0 = "grad_norm/" + m.layer(1).name(), bn = "grad_norm/" + m.layer(2).name(),
                    d1 = "grad_norm/" + m.layer(3).name();
  for (const std::string& tag : {std::string("grad_norm/preclip"), std::string("grad_norm/postclip"),
                                 std::string("grad_norm/clip_fraction"), d0, bn, d1}) {
    EXPECT_EQ(steps[tag], (std::vector<int64_t>{3, 6, 9, 12, 15})) << tag;
    EXPECT_EQ(kinds[tag], "scalar") << tag;
  }
  // Pre-clip global norm^2 = sum of the per-layer norms^2 (same step); clipnorm shrinks it.
  for (size_t i = 0; i < 5; ++i) {
    const double a = values[d0][i], b = values[bn][i], c = values[d1][i];
    EXPECT_NEAR(values["grad_norm/preclip"][i], std::sqrt(a * a + b * b + c * c), 1e-4 * (1 + a + b + c));
    EXPECT_LE(values["grad_norm/postclip"][i], values["grad_norm/preclip"][i] * (1 + 1e-6));
    EXPECT_GE(values["grad_norm/clip_fraction"][i], 0.0);
    EXPECT_LE(values["grad_norm/clip_fraction"][i], 1.0);
  }
  EXPECT_NEAR(values["epoch_learning_rate"][0], 0.05, 1e-8);
  const std::string kd = m.layer(1).name() + "/kernel_0/histogram", kb = m.layer(2).name();
  for (const std::string& tag : {kd, kb + "/moving_mean_0/histogram", kb + "/moving_variance_0/histogram",
                                 "gradients/" + kd}) {
    EXPECT_EQ(kinds[tag], "histogram") << tag;
    EXPECT_EQ(steps[tag], (std::vector<int64_t>{0, 1, 2})) << tag;
  }
  std::map<std::string, std::vector<int64_t>> val_steps;
  for (const auto& e : val[0]["events"])
    for (const auto& v : e["values"]) val_steps[v["tag"]].push_back(e["step"]);
  EXPECT_EQ(val_steps["epoch_loss"], (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(val_steps["epoch_accuracy"], (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(val_steps.size(), 2u);
}

// A CNN (issue 13): the conv layers get their gradient-norm scalars and kernel histograms like
// Dense layers, and the BN statistics after a convolution are per channel: a histogram of its 4
// channels' moving means (bucket counts sum to 4), not of every activation.
TEST(EventFile, TensorBoardShowsConvLayersAndPerChannelBnStatistics) {
  Rng rng(5);
  Tensor x({64, 6, 6, 1}), y({64, 1});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.uniform();
  for (int64_t i = 0; i < 64; ++i) y[i] = static_cast<float>(rng.uniform_int(3));
  Sequential m(Conv2D(4, 3, {.padding = "same", .use_bias = false, .input_shape = {6, 6, 1}}),
               BatchNormalization(), Activation("relu"), GlobalAveragePooling2D(),
               Dense(3, {.activation = "softmax"}));
  m.compile({.optimizer = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.05}),
             .loss = "sparse_categorical_crossentropy"});
  const auto dir = fresh_dir("tb_cnn");
  auto tb = std::make_shared<TensorBoard>(dir, TensorBoardOptions{.grad_norm_every = 1});
  m.fit(x, y, {.batch_size = 32, .epochs = 1, .verbose = 0, .callbacks = {tb}});

  const auto train = decode(dir / "train");
  ASSERT_EQ(train.size(), 1u);
  std::map<std::string, nlohmann::json> last;
  for (const auto& e : train[0]["events"])
    for (const auto& v : e["values"]) last[v["tag"]] = v;
  const std::string conv = m.layer(0).name(), bn = m.layer(1).name();
  ASSERT_TRUE(conv.starts_with("conv2d")) << conv;
  EXPECT_EQ(last["grad_norm/" + conv]["kind"], "scalar");
  EXPECT_GT(last["grad_norm/" + conv]["value"].get<double>(), 0.0);
  auto count = [&](const std::string& tag) {
    double n = 0;
    for (const auto& b : last[tag]["buckets"]) n += b[2].get<double>();
    return n;
  };
  EXPECT_EQ(count(conv + "/kernel_0/histogram"), 3 * 3 * 1 * 4);
  EXPECT_EQ(count("gradients/" + conv + "/kernel_0/histogram"), 3 * 3 * 1 * 4);
  for (const char* stat : {"/moving_mean_0/histogram", "/moving_variance_0/histogram",
                           "/gamma_0/histogram", "/beta_0/histogram"}) {
    EXPECT_EQ(last[bn + stat]["kind"], "histogram") << stat;
    EXPECT_EQ(count(bn + stat), 4) << stat << ": one value per channel";
  }
}

}  // namespace
}  // namespace keel
