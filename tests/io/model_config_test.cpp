// Keras JSON model configs: every committed config (tests/data/configs, written by
// tools/golden/summary_keras.py; tfjs_frozen_bn.json by @tensorflow/tfjs 4.22.0 itself) loads into
// a model whose summary is the golden text, round-trips through model_to_json, and bad input is a
// keel::Error naming the source, the layer and the offending key.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "keel/core/error.h"
#include "temp_dir.h"
#include "test_util.h"
#include "keel/io/model_config.h"
#include "keel/layers/layers.h"

// Keras-style options (`Dense(10, {.activation = "softmax"})`) leave the other fields at their
// defaults on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace keel {
namespace {

namespace fs = std::filesystem;
using testing::error_of;
using testing::read_text;
using json = nlohmann::json;

const fs::path kData = fs::path(KEEL_SOURCE_DIR) / "tests" / "data";

std::vector<fs::path> config_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(kData / "configs"))
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<json> layer_configs(const Model& model) {
  std::vector<json> configs;
  for (int64_t i = 0; i < model.num_layers(); ++i) configs.push_back(model.layer(i).get_config());
  return configs;
}

TEST(ModelConfig, EveryConfigHasTheGoldenSummary) {
  const auto files = config_files();
  ASSERT_GE(files.size(), 7u);
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    reset_default_names();
    Model model = load_model_config(file);
    const fs::path expected = kData / "summary" / (file.stem().string() + ".txt");
    EXPECT_EQ(model.summary(), read_text(expected));
  }
}

TEST(ModelConfig, EveryConfigRoundTrips) {
  for (const auto& file : config_files()) {
    SCOPED_TRACE(file.filename().string());
    reset_default_names();
    Model model = load_model_config(file);
    const std::string text = model_to_json(model);
    Model again = model_from_json(text, "round-trip");
    EXPECT_EQ(again.summary(), model.summary());
    EXPECT_EQ(layer_configs(again), layer_configs(model));
    EXPECT_EQ(model_to_json(again), text);
  }
}

TEST(ModelConfig, ToJsonHasTheKeras211Layout) {
  reset_default_names();
  Sequential model(Flatten({.input_shape = {28, 28}}), Dense(10, {.activation = "softmax"}));
  const json doc = json::parse(model_to_json(model));  // unbuilt: uses the declared input shape
  EXPECT_EQ(doc["class_name"], "Sequential");
  EXPECT_EQ(doc["keras_version"], "2.11.0");
  EXPECT_EQ(doc["backend"], "tensorflow");
  EXPECT_EQ(doc["config"]["name"], "sequential");
  const json& layers = doc["config"]["layers"];
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[0], json::parse(R"({"class_name": "InputLayer", "config": {
      "batch_input_shape": [null, 28, 28], "dtype": "float32", "sparse": false,
      "ragged": false, "name": "flatten_input"}})"));
  EXPECT_EQ(layers[1]["class_name"], "Flatten");
  EXPECT_EQ(layers[1]["config"]["name"], "flatten");
  EXPECT_EQ(layers[2]["class_name"], "Dense");
  EXPECT_EQ(layers[2]["config"]["units"], 10);
  // Keras's top-level key order.
  const std::string text = model_to_json(model);
  EXPECT_LT(text.find("\"class_name\""), text.find("\"config\""));
  EXPECT_LT(text.find("\"keras_version\""), text.find("\"backend\""));
}

TEST(ModelConfig, CodeBuiltModelRoundTrips) {
  reset_default_names();
  Sequential model(Flatten({.input_shape = {28, 28}}), BatchNormalization(),
                   Dense(300, {.activation = "elu", .kernel_initializer = "he_normal"}),
                   Dropout(0.25), Dense(10, {.activation = "softmax"}));
  model.layer(1).set_trainable(false);
  model.build();
  Model again = model_from_json(model_to_json(model), "round-trip");
  EXPECT_EQ(again.summary(), model.summary());
  EXPECT_EQ(layer_configs(again), layer_configs(model));
  EXPECT_FALSE(again.layer(1).trainable());
}

TEST(ModelConfig, KeepsFileNamesAndGivesDefaultsToUnnamedLayers) {
  reset_default_names();
  Model model = model_from_json(R"({"class_name": "Sequential", "config": {"layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4]}},
      {"class_name": "Dense", "config": {"units": 3}},
      {"class_name": "Dense", "config": {"units": 3, "name": "My Output"}},
      {"class_name": "Dense", "config": {"units": 2}}]}})",
                                     "names.json");
  EXPECT_EQ(model.name(), "sequential");
  ASSERT_EQ(model.num_layers(), 3);
  EXPECT_EQ(model.layer(0).name(), "dense");
  EXPECT_EQ(model.layer(1).name(), "My Output");
  EXPECT_EQ(model.layer(2).name(), "dense_1");
  EXPECT_EQ(model.output_shape(), Shape({kBatchUnknown, 2}));
}

TEST(ModelConfig, AcceptsTfjsTopologyForms) {
  const std::string layers = R"([
      {"class_name": "Dense", "config": {"units": 5, "name": "d", "batch_input_shape": [null, 7]}}])";
  const std::vector<std::string> documents = {
      // the topology itself
      R"({"class_name": "Sequential", "config": {"name": "t", "layers": )" + layers + "}}",
      // a whole model.json
      R"({"format": "layers-model", "modelTopology": {"class_name": "Sequential",
          "config": {"name": "t", "layers": )" + layers + R"(}}, "weightsManifest": []})",
      // a converted Keras model: model_config, bare list of layers
      R"({"modelTopology": {"keras_version": "2.1.6", "model_config":
          {"class_name": "Sequential", "config": )" + layers + "}}}",
  };
  for (const auto& text : documents) {
    SCOPED_TRACE(text);
    reset_default_names();
    Model model = model_from_json(text, "tfjs");
    ASSERT_EQ(model.num_layers(), 1);
    EXPECT_EQ(model.layer(0).name(), "d");
    EXPECT_EQ(model.count_params(), 7 * 5 + 5);
  }
}

TEST(ModelConfig, AcceptsBuildInputShape) {
  reset_default_names();
  Model model = model_from_json(R"({"class_name": "Sequential", "config": {"name": "b",
      "layers": [{"class_name": "Dense", "config": {"name": "d", "units": 2}}],
      "build_input_shape": [null, 3]}})",
                                     "build.json");
  EXPECT_EQ(model.input_shape(), Shape({kBatchUnknown, 3}));
  EXPECT_EQ(model.count_params(), 8);
}

TEST(ModelConfig, AcceptsKeras3Layout) {
  // keras 3 model.to_json(): "module" / "registered_name" / "build_config" wrappers, InputLayer
  // "batch_shape", dtype policies, and the model's own trainable flag.
  reset_default_names();
  Model model = model_from_json(R"({"module": "keras", "class_name": "Sequential",
      "config": {"name": "k3", "trainable": false, "dtype": {"module": "keras",
        "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
      "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 6],
         "dtype": "float32", "sparse": false, "name": "input_layer"}, "registered_name": null},
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "units": 4,
         "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy",
         "config": {"name": "float32"}, "registered_name": null}}, "registered_name": null,
         "build_config": {"input_shape": [null, 6]}}],
      "build_input_shape": [null, 6]}, "registered_name": null})",
                                     "keras3.json");
  EXPECT_EQ(model.name(), "k3");
  EXPECT_EQ(model.count_params(), 6 * 4 + 4);
  EXPECT_EQ(model.trainable_params(), 0);
}

TEST(ModelConfigErrors, UnknownLayerClassNamesSourceLayerAndClass) {
  const std::string message = error_of([] {
    model_from_json(R"({"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 28, 28, 1]}},
        {"class_name": "Conv2D", "config": {"name": "conv2d_7", "filters": 3}}]}})",
                    "conv.json");
  });
  EXPECT_NE(message.find("conv.json"), std::string::npos) << message;
  EXPECT_NE(message.find("layer 1"), std::string::npos) << message;
  EXPECT_NE(message.find("conv2d_7"), std::string::npos) << message;
  EXPECT_NE(message.find("Conv2D"), std::string::npos) << message;
}

TEST(ModelConfigErrors, UnknownArgumentNamesLayerAndKey) {
  const std::string message = error_of([] {
    model_from_json(R"({"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "Dense", "config": {"name": "d0", "units": 2, "batch_input_shape": [null, 3]}},
        {"class_name": "Dense", "config": {"name": "odd_dense", "units": 2, "frobnicate": 1}}]}})",
                    "odd.json");
  });
  EXPECT_NE(message.find("odd.json"), std::string::npos) << message;
  EXPECT_NE(message.find("layer 1"), std::string::npos) << message;
  EXPECT_NE(message.find("odd_dense"), std::string::npos) << message;
  EXPECT_NE(message.find("frobnicate"), std::string::npos) << message;
}

TEST(ModelConfigErrors, BadJsonGivesLineAndColumn) {
  const std::string message = error_of([] {
    model_from_json("{\"class_name\": \"Sequential\",\n  \"config\": {\n    \"name\": oops}}",
                    "broken.json");
  });
  EXPECT_NE(message.find("broken.json"), std::string::npos) << message;
  EXPECT_NE(message.find("line 3"), std::string::npos) << message;
  EXPECT_NE(message.find("column"), std::string::npos) << message;
}

TEST(ModelConfigErrors, MissingInputShape) {
  const std::string message = error_of([] {
    model_from_json(R"({"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "Dense", "config": {"name": "first_dense", "units": 2}}]}})",
                    "noinput.json");
  });
  EXPECT_NE(message.find("noinput.json"), std::string::npos) << message;
  EXPECT_NE(message.find("input shape"), std::string::npos) << message;
  EXPECT_NE(message.find("first_dense"), std::string::npos) << message;
}

TEST(ModelConfigErrors, UnknownModelClass) {
  const std::string message = error_of([] {
    model_from_json(R"({"class_name": "MyModel", "config": {"name": "f", "layers": []}})",
                    "subclassed.json");
  });
  EXPECT_NE(message.find("subclassed.json"), std::string::npos) << message;
  EXPECT_NE(message.find("MyModel"), std::string::npos) << message;
  EXPECT_NE(message.find("Sequential and Functional"), std::string::npos) << message;
}

TEST(ModelConfigErrors, FixedBatchSizeAndMisplacedInputLayer) {
  const std::string fixed = error_of([] {
    model_from_json(R"({"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [32, 4], "name": "in"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}})",
                    "fixed.json");
  });
  EXPECT_NE(fixed.find("fixed.json"), std::string::npos) << fixed;
  EXPECT_NE(fixed.find("32"), std::string::npos) << fixed;
  const std::string misplaced = error_of([] {
    model_from_json(R"({"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "Dense", "config": {"name": "d", "units": 2, "batch_input_shape": [null, 3]}},
        {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 2], "name": "late"}}]}})",
                    "late.json");
  });
  EXPECT_NE(misplaced.find("layer 1"), std::string::npos) << misplaced;
  EXPECT_NE(misplaced.find("InputLayer"), std::string::npos) << misplaced;
}

TEST(ModelConfigErrors, InputShapesThatDisagree) {
  const std::string message = error_of([] {
    model_from_json(R"({"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4]}},
        {"class_name": "Dense", "config": {"name": "d", "units": 2, "batch_input_shape": [null, 3]}}]}})",
                    "mismatch.json");
  });
  EXPECT_NE(message.find("(None, 3)"), std::string::npos) << message;
  EXPECT_NE(message.find("(None, 4)"), std::string::npos) << message;
}

TEST(ModelConfigErrors, MissingFileNamesThePath) {
  const testing::TempDir dir("model_config");
  const fs::path missing = dir / "keel_no_such_model_config.json";
  const std::string message = error_of([&] { load_model_config(missing); });
  EXPECT_NE(message.find(missing.string()), std::string::npos) << message;
}

TEST(ModelConfigErrors, InvalidFileNamesThePath) {
  const testing::TempDir dir("model_config");
  const fs::path path = dir.write("keel_invalid_model_config.json", "[1, 2,");
  const std::string message = error_of([&] { load_model_config(path); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("line 1"), std::string::npos) << message;
}

}  // namespace
}  // namespace keel
