// Saved models (TF.js Layers format): bit-identical round trip, the tfjs file layout, atomic
// replacement, and one validation error per thing that can be wrong in a file.
#include "keel/io/saved_model.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include <gtest/gtest.h>

#include "interop/trained_models.h"
#include "keel/core/error.h"
#include "keel/io/file_bytes.h"
#include "keel/layers/layers.h"

namespace keel {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::ScratchDir;

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}
void write_json(const fs::path& p, const json& j) { std::ofstream(p) << j.dump(); }

// Runs `f` and returns the keel::Error message (empty when nothing was thrown).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SavedModel, RoundTripIsBitIdenticalForTheSeedModels) {
  for (const char* name : {"seed-mlp", "seed-mlp-bn-before", "seed-lstm"}) {
    reset_default_names();
    Model m = testing::trained_seed_model(name, 5);
    ScratchDir dir("saved_rt");
    save_model(m, dir.path() / "m");
    Model loaded = load_model(dir.path() / "m");
    ASSERT_EQ(loaded.parameter_arena().size(), m.parameter_arena().size()) << name;
    EXPECT_EQ(0, std::memcmp(loaded.parameter_arena().data(), m.parameter_arena().data(),
                             m.parameter_arena().size_bytes()))
        << name;
    EXPECT_EQ(loaded.summary(), m.summary()) << name;
    const auto a = m.variables();
    const auto b = loaded.variables();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i]->name, b[i]->name);
      EXPECT_EQ(a[i]->trainable, b[i]->trainable);
    }
    const Tensor x = testing::random_images(9, 77);
    const Tensor p = m.predict(x), q = loaded.predict(x);
    EXPECT_EQ(0, std::memcmp(p.data(), q.data(), sizeof(float) * size_t(p.size()))) << name;
  }
}

// Keras counts RNN cells over a whole process, so a file written elsewhere can name a weight
// "lstm/lstm_cell_7/kernel" for keel's "lstm/lstm_cell/kernel": like TF.js, the loader then
// matches the name without its cell scope.
TEST(SavedModel, RecurrentWeightsLoadWhateverTheirCellNumber) {
  reset_default_names();
  Model m = testing::trained_seed_model("seed-lstm", 2);
  ScratchDir dir("saved_cell");
  save_model(m, dir.path() / "m");
  json doc = read_json(dir.path() / "m" / "model.json");
  int renamed = 0;
  for (json& w : doc["weightsManifest"][0]["weights"]) {
    std::string name = w["name"];
    const size_t at = name.find("lstm_cell/");
    if (at == std::string::npos) continue;
    w["name"] = name.replace(at, 10, "lstm_cell_7/");
    ++renamed;
  }
  ASSERT_EQ(renamed, 3);
  write_json(dir.path() / "m" / "model.json", doc);
  Model loaded = load_model(dir.path() / "m");
  const Tensor x = testing::random_images(4, 5);
  const Tensor p = m.predict(x), q = loaded.predict(x);
  EXPECT_EQ(0, std::memcmp(p.data(), q.data(), sizeof(float) * size_t(p.size())));
}

TEST(SavedModel, WritesTheTfjsLayersLayout) {
  reset_default_names();
  Model m = testing::trained_seed_model("seed-mlp", 1);
  ScratchDir dir("saved_layout");
  save_model(m, dir.path() / "m", {.user_metadata = {{"keel", {{"note", "x"}}}}});
  const json doc = read_json(dir.path() / "m" / "model.json");
  EXPECT_EQ(doc["format"], "layers-model");
  EXPECT_EQ(doc["generatedBy"], "keel 0.1.0");
  EXPECT_TRUE(doc["convertedBy"].is_null());
  EXPECT_EQ(doc["modelTopology"]["class_name"], "Sequential");
  EXPECT_EQ(doc["modelTopology"]["backend"], "tensorflow");
  EXPECT_EQ(doc["userDefinedMetadata"]["keel"]["note"], "x");
  EXPECT_EQ(load_model_metadata(dir.path() / "m")["keel"]["note"], "x");
  const json& group = doc["weightsManifest"][0];
  EXPECT_EQ(group["paths"], json::array({"group1-shard1of1.bin"}));
  // tfjs names: "<layer>/<weight>" without ":0", Keras weight order within a layer.
  EXPECT_EQ(group["weights"][0], json({{"name", "batch_normalization/gamma"}, {"shape", {784}},
                                       {"dtype", "float32"}}));
  EXPECT_EQ(group["weights"][4]["name"], "dense/kernel");
  EXPECT_EQ(group["weights"][4]["shape"], json({784, 300}));
  // Shard: every variable, little-endian float32, in manifest order.
  const auto bytes = read_file_bytes(dir.path() / "m" / "group1-shard1of1.bin");
  ASSERT_EQ(bytes.size(), m.parameter_arena().size_bytes());
  EXPECT_EQ(0, std::memcmp(bytes.data(), m.parameter_arena().data(), bytes.size()));
  // Nothing but the two files (no temp directories left next to it).
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(SavedModel, ReplacesAnExistingModelAndRefusesForeignDirectories) {
  ScratchDir dir("saved_replace");
  reset_default_names();
  Model a = testing::trained_seed_model("seed-mlp", 1, 1);
  Model b = testing::trained_seed_model("seed-mlp", 1, 2);
  save_model(a, dir / "m");
  save_model(b, dir / "m");  // over an existing model
  Model loaded = load_model(dir / "m");
  EXPECT_EQ(0, std::memcmp(loaded.parameter_arena().data(), b.parameter_arena().data(),
                           b.parameter_arena().size_bytes()));
  // A directory with other files is never replaced, and stays as it was.
  fs::create_directories(dir / "home");
  std::ofstream(dir / "home" / "notes.txt") << "precious";
  const std::string msg = error_of([&] { save_model(a, dir / "home"); });
  EXPECT_NE(msg.find("notes.txt"), std::string::npos) << msg;
  EXPECT_TRUE(fs::exists(dir / "home" / "notes.txt"));
  // A failed save (here: the target is a file) leaves the existing model loadable.
  std::ofstream(dir / "file") << "x";
  EXPECT_NE(error_of([&] { save_model(a, dir / "file"); }), "");
  EXPECT_NO_THROW(load_model(dir / "m"));
  // Trailing slash names the same directory.
  save_model(a, (dir / "m").string() + "/");
  EXPECT_EQ(0, std::memcmp(load_model(dir / "m").parameter_arena().data(),
                           a.parameter_arena().data(), a.parameter_arena().size_bytes()));
}

// A symbolic link to a model directory (or to where one should go) is saved through: the model is
// written at the link's target and the link stays a link. A loop of links is a clear error.
TEST(SavedModel, SavesThroughASymbolicLink) {
  ScratchDir dir("saved_symlink");
  reset_default_names();
  Model a = testing::trained_seed_model("seed-mlp", 1, 1);
  fs::create_directories(dir / "store");
  fs::create_directory_symlink("store/m", dir / "link");  // relative, dangling before the first save
  save_model(a, dir / "link");
  EXPECT_TRUE(fs::is_symlink(dir / "link"));
  EXPECT_TRUE(fs::exists(dir / "store" / "m" / "model.json"));
  save_model(a, dir / "link");  // replacing the model behind the link keeps the link
  EXPECT_TRUE(fs::is_symlink(dir / "link"));
  EXPECT_EQ(0, std::memcmp(load_model(dir / "link").parameter_arena().data(), a.parameter_arena().data(),
                           a.parameter_arena().size_bytes()));
  fs::create_directory_symlink("loop2", dir / "loop1");
  fs::create_directory_symlink("loop1", dir / "loop2");
  EXPECT_NE(error_of([&] { save_model(a, dir / "loop1"); }), "");
  EXPECT_TRUE(fs::is_symlink(dir / "loop1"));
}

class SavedModelErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    reset_default_names();
    Sequential m(Flatten({.input_shape = {2, 2}}), Dense(3, {.name = "d"}),
                 BatchNormalization({.name = "bn"}), Dense(2, {.activation = "softmax", .name = "o"}));
    m.build();
    save_model(m, dir_ / "m");
    doc_ = original_ = read_json(dir_ / "m" / "model.json");
  }
  // Writes the edited model.json back and returns load_model's error.
  std::string load_error() {
    write_json(dir_ / "m" / "model.json", doc_);
    return error_of([&] { load_model(dir_ / "m"); });
  }
  json& weights() { return doc_["weightsManifest"][0]["weights"]; }
  fs::path shard() const { return dir_ / "m" / "group1-shard1of1.bin"; }
  // Overwrites float `index` of the shard with `value`.
  void poke_shard(size_t index, float value) const {
    auto bytes = read_file_bytes(shard());
    std::memcpy(bytes.data() + 4 * index, &value, 4);
    std::ofstream(shard(), std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }

  ScratchDir dir_{"saved_errors"};
  json doc_, original_;
};

TEST_F(SavedModelErrors, MissingDirectoryOrModelJson) {
  EXPECT_NE(error_of([&] { load_model(dir_ / "nope"); }).find("nope"), std::string::npos);
  fs::remove(dir_ / "m" / "model.json");
  const std::string msg = error_of([&] { load_model(dir_ / "m"); });
  EXPECT_NE(msg.find("model.json: missing"), std::string::npos) << msg;
}

TEST_F(SavedModelErrors, MissingOrShortShard) {
  {
    std::ofstream out(shard(), std::ios::binary | std::ios::trunc);
    out << "abcd";
  }
  std::string msg = load_error();
  EXPECT_NE(msg.find("group1-shard1of1.bin: 4 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("describes 140 bytes"), std::string::npos) << msg;  // 35 floats
  fs::remove(shard());
  msg = load_error();
  EXPECT_NE(msg.find("group1-shard1of1.bin"), std::string::npos) << msg;
}

TEST_F(SavedModelErrors, UnknownDuplicateAndMissingWeightNames) {
  weights()[0]["name"] = "dx/kernel";
  std::string msg = load_error();
  EXPECT_NE(msg.find("weight 'dx/kernel' does not belong to the model"), std::string::npos) << msg;
  weights()[0]["name"] = "d/bias";  // same size? no: d/kernel is (4,3), so also a shape error
  msg = load_error();
  EXPECT_NE(msg.find("'d/bias' has shape [4, 3] but the layer config needs [3]"), std::string::npos)
      << msg;
  doc_ = original_;
  weights()[2]["name"] = "bn/beta";  // bn/gamma (3) becomes a second bn/beta (3)
  msg = load_error();
  EXPECT_NE(msg.find("'bn/beta' appears twice"), std::string::npos) << msg;
}

TEST_F(SavedModelErrors, WeightMissingFromManifest) {
  // Drop o/bias (the last 2 floats) from manifest and shard consistently.
  weights().erase(weights().size() - 1);
  auto bytes = read_file_bytes(shard());
  bytes.resize(bytes.size() - 8);
  std::ofstream(shard(), std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  const std::string msg = load_error();
  EXPECT_NE(msg.find("weight 'o/bias' (shape [2]) is missing"), std::string::npos) << msg;
}

TEST_F(SavedModelErrors, ShapeNotMatchingTheConfig) {
  doc_["modelTopology"]["config"]["layers"][2]["config"]["units"] = 4;
  const std::string msg = load_error();
  EXPECT_NE(msg.find("weight 'd/kernel' has shape [4, 3] but the layer config needs [4, 4]"),
            std::string::npos)
      << msg;
}

TEST_F(SavedModelErrors, NonFiniteWeight) {
  poke_shard(13, std::numeric_limits<float>::quiet_NaN());  // d/kernel (12) then d/bias[1]
  const std::string msg = error_of([&] { load_model(dir_ / "m"); });
  EXPECT_NE(msg.find("weight 'd/bias' element 1 is nan"), std::string::npos) << msg;
}

// "paths": [] named no file: the message began ": 0 bytes, ..." (review F16).
TEST_F(SavedModelErrors, EmptyShardListIsNamed) {
  doc_["weightsManifest"][0]["paths"] = json::array();
  const std::string msg = load_error();
  EXPECT_NE(msg.find("model.json: weightsManifest[0] ('paths' lists no shard file): 0 bytes, but the manifest"),
            std::string::npos)
      << msg;
}

// A negative BN moving variance made every prediction nan (review F7); rejected like a nan weight.
TEST_F(SavedModelErrors, NegativeMovingVariance) {
  poke_shard(25, -5.0f);  // d 12 + 3, bn gamma, beta, mean 3 each, then moving_variance[1]
  const std::string msg = error_of([&] { load_model(dir_ / "m"); });
  EXPECT_NE(msg.find("model.json: weight 'bn/moving_variance' element 1 is -5; expected a variance >= 0"),
            std::string::npos)
      << msg;
}

// save_model refuses non-finite weights, which load_model would reject (review F5: a diverged
// run replaced a good model with one nothing could load); the old model stays.
TEST_F(SavedModelErrors, SaveRefusesNonFiniteWeightsAndKeepsTheOldModel) {
  Model m = load_model(dir_ / "m");
  const auto before = read_file_bytes(shard());
  m.variables()[1]->value[2] = std::numeric_limits<float>::infinity();
  const std::string msg = error_of([&] { save_model(m, dir_ / "m"); });
  EXPECT_NE(msg.find("not saved: weight 'd/bias' element 2 is inf"), std::string::npos) << msg;
  EXPECT_EQ(read_file_bytes(shard()), before);
  EXPECT_NO_THROW(load_model(dir_ / "m"));
}

TEST_F(SavedModelErrors, FormatDtypeAndQuantization) {
  doc_["format"] = "graph-model";
  EXPECT_NE(load_error().find("'format' \"graph-model\" is not supported"), std::string::npos);
  doc_["format"] = "layers-model";
  weights()[0]["dtype"] = "int32";
  EXPECT_NE(load_error().find("weight 'd/kernel': dtype 'int32'"), std::string::npos);
  weights()[0]["dtype"] = "float32";
  weights()[0]["quantization"] = {{"dtype", "uint8"}};
  EXPECT_NE(load_error().find("quantized"), std::string::npos);
}

TEST_F(SavedModelErrors, AcceptsTfjsVariants) {
  // tfjs writes trainable weights first, then the BN statistics; names may carry ":0"; shards may
  // be split; optimizer weights are skipped.
  Model ref = load_model(dir_ / "m");
  auto bytes = read_file_bytes(shard());
  json w = weights();
  std::swap(w[2], w[4]);  // bn/gamma <-> bn/moving_mean: same shape, swapped bytes too
  std::vector<std::byte> swapped = bytes;
  std::memcpy(swapped.data() + 4 * 15, bytes.data() + 4 * 21, 12);
  std::memcpy(swapped.data() + 4 * 21, bytes.data() + 4 * 15, 12);
  w[0]["name"] = "d/kernel:0";
  w.push_back({{"name", "iter"}, {"shape", json::array()}, {"dtype", "float32"},
               {"group", "optimizer"}});
  float iter = 7;
  const auto* ib = reinterpret_cast<const std::byte*>(&iter);
  swapped.insert(swapped.end(), ib, ib + 4);
  const size_t half = swapped.size() / 2;
  std::ofstream(dir_ / "m" / "a.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(swapped.data()), std::streamsize(half));
  std::ofstream(dir_ / "m" / "b.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(swapped.data() + half), std::streamsize(swapped.size() - half));
  doc_["weightsManifest"] = json::array({{{"paths", {"a.bin", "b.bin"}}, {"weights", w}}});
  ASSERT_EQ(load_error(), "");
  Model loaded = load_model(dir_ / "m");
  EXPECT_EQ(0, std::memcmp(loaded.parameter_arena().data(), ref.parameter_arena().data(),
                           ref.parameter_arena().size_bytes()));
  doc_["weightsManifest"][0]["paths"][0] = "../a.bin";
  EXPECT_NE(load_error().find("must stay inside"), std::string::npos);
}

}  // namespace
}  // namespace keel
