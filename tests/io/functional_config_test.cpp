// Functional model configs against real tf.keras 2.12 (tests/data/functional/<model>.json is
// exactly model.to_json(), <model>.summary.txt exactly model.summary(), both written by
// tools/golden/functional_keras.py): loading gives Keras's summary, a C++-built model writes what
// tf.keras wrote, round trips keep the graph, Keras 3 node syntax and out-of-order shared calls
// load, saved models (TF.js layout) of graphs round-trip bit for bit, and every way a graph config
// can be wrong is a keel::Error naming the source, the layer and the reference.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "interop/trained_models.h"
#include "keel/core/error.h"
#include "test_util.h"
#include "keel/core/rng.h"
#include "keel/io/model_config.h"
#include "keel/io/saved_model.h"
#include "model/functional_models.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace keel {
namespace {

namespace fs = std::filesystem;
using testing::error_of;
using testing::read_text;
using json = nlohmann::json;
using testing::FunctionalCase;

const fs::path kFixtures = fs::path(KEEL_SOURCE_DIR) / "tests" / "data" / "functional";

std::vector<json> layer_configs(const Model& model) {
  std::vector<json> configs;
  for (const auto& layer : model.layers()) configs.push_back(layer->get_config());
  return configs;
}

// Every output of a forward pass on inputs drawn from `seed`.
std::vector<std::vector<float>> outputs_on_random_inputs(Model& model, int64_t batch, uint64_t seed) {
  Rng rng(seed);
  std::vector<std::vector<float>> inputs;
  std::vector<const float*> pointers;
  for (int64_t id : model.input_tensors()) {
    const int64_t n = batch * model.tensors()[size_t(id)].shape.sample_size();
    inputs.emplace_back(size_t(n));
    for (float& v : inputs.back()) v = rng.uniform() * 2.0f - 1.0f;
    pointers.push_back(inputs.back().data());
  }
  model.forward(pointers, batch, Mode::kInference);
  std::vector<std::vector<float>> outputs;
  for (int64_t i = 0; i < model.num_outputs(); ++i) {
    const int64_t n = batch * model.tensors()[size_t(model.output_tensors()[size_t(i)])].shape.sample_size();
    outputs.emplace_back(model.output(i), model.output(i) + n);
  }
  return outputs;
}

class FunctionalConfig : public ::testing::TestWithParam<FunctionalCase> {
 protected:
  fs::path json_path() const { return kFixtures / (std::string(GetParam().name) + ".json"); }
};

TEST_P(FunctionalConfig, TfKerasToJsonLoadsWithTheGoldenSummary) {
  reset_default_names();
  const Model model = load_model_config(json_path());
  EXPECT_FALSE(model.is_sequential());
  EXPECT_EQ(model.summary(), read_text(kFixtures / (std::string(GetParam().name) + ".summary.txt")));
}

TEST_P(FunctionalConfig, CodeBuiltModelWritesWhatTfKerasWrote) {
  reset_default_names();
  const Model model = GetParam().make();
  json ours = model_to_config(model);
  json theirs = json::parse(read_text(json_path()));
  // keel writes the version whose layout it follows (2.11.0); the fixture comes from 2.12.
  EXPECT_EQ(ours["keras_version"], "2.11.0");
  ours.erase("keras_version");
  theirs.erase("keras_version");
  EXPECT_EQ(ours, theirs) << "JSON patch from keel's to tf.keras's: " << json::diff(ours, theirs).dump();
}

TEST_P(FunctionalConfig, RoundTripKeepsTheGraph) {
  reset_default_names();
  Model model = load_model_config(json_path());
  const std::string text = model_to_json(model);
  // Keras's key order at the top and in each layer entry (a reader may not care; diffs do).
  EXPECT_EQ(text.rfind(R"({"class_name":"Functional","config":{"name":)", 0), 0u) << text.substr(0, 80);
  EXPECT_NE(text.find(R"(,"name":"input_1","inbound_nodes":[]})"), std::string::npos);
  Model again = model_from_json(text, "round-trip");
  EXPECT_EQ(again.summary(), model.summary());
  EXPECT_EQ(layer_configs(again), layer_configs(model));
  EXPECT_EQ(model_to_json(again), text);
  // Same seed, same graph: the same weights and the same outputs, bit for bit.
  ASSERT_EQ(again.parameter_arena().size(), model.parameter_arena().size());
  EXPECT_EQ(0, std::memcmp(again.parameter_arena().data(), model.parameter_arena().data(),
                           model.parameter_arena().size_bytes()));
  EXPECT_EQ(outputs_on_random_inputs(again, 3, 5), outputs_on_random_inputs(model, 3, 5));
}

TEST_P(FunctionalConfig, SavedModelRoundTripIsBitIdentical) {
  reset_default_names();
  Model model = GetParam().make();
  model.build(std::nullopt, 1234);  // weights unlike a fresh load's (seed 42)
  testing::ScratchDir dir("functional_saved");
  save_model(model, dir.path() / "m");
  Model loaded = load_model(dir.path() / "m");
  EXPECT_EQ(loaded.summary(), model.summary());
  ASSERT_EQ(loaded.parameter_arena().size(), model.parameter_arena().size());
  EXPECT_EQ(0, std::memcmp(loaded.parameter_arena().data(), model.parameter_arena().data(),
                           model.parameter_arena().size_bytes()));
  EXPECT_EQ(outputs_on_random_inputs(loaded, 4, 9), outputs_on_random_inputs(model, 4, 9));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FunctionalConfig, ::testing::ValuesIn(testing::kFunctionalCases),
                         [](const auto& info) { return std::string(info.param.name); });

// A tensor in Keras 3's node syntax.
json keras3_tensor(const std::string& layer, int node) {
  return {{"class_name", "__keras_tensor__"},
          {"config", {{"shape", {nullptr, 4}}, {"dtype", "float32"}, {"keras_history", {layer, node, 0}}}}};
}

TEST(FunctionalConfigFormats, Keras3NodeSyntax) {
  json input = {{"module", "keras.layers"}, {"class_name", "InputLayer"}, {"registered_name", nullptr},
                {"name", "input_layer"}, {"inbound_nodes", json::array()},
                {"config", {{"batch_shape", {nullptr, 4}}, {"dtype", "float32"}, {"sparse", false},
                            {"name", "input_layer"}}}};
  json dense = {{"module", "keras.layers"}, {"class_name", "Dense"}, {"registered_name", nullptr},
                {"build_config", {{"input_shape", {nullptr, 4}}}}, {"name", "dense"},
                {"config", {{"name", "dense"}, {"units", 4}, {"activation", "relu"}}},
                {"inbound_nodes", {{{"args", {keras3_tensor("input_layer", 0)}}, {"kwargs", json::object()}}}}};
  json add = {{"class_name", "Add"}, {"name", "add"}, {"config", {{"name", "add"}}},
              {"inbound_nodes",
               {{{"args", {{keras3_tensor("input_layer", 0), keras3_tensor("dense", 0)}}},
                 {"kwargs", json::object()}}}}};
  const json doc = {{"class_name", "Functional"},
                    {"config", {{"name", "k3"}, {"trainable", true}, {"layers", {input, dense, add}},
                                {"input_layers", {"input_layer", 0, 0}},  // one input, unwrapped
                                {"output_layers", {{"add", 0, 0}}}}}};
  Model model = model_from_config(doc, "k3.json");
  EXPECT_EQ(model.name(), "k3");
  ASSERT_EQ(model.nodes().size(), 2u);
  EXPECT_EQ(model.nodes()[1].layer->class_name(), "Add");
  // y = x + relu(x W + b): check one sample against the weights.
  const auto vars = model.variables();
  const float* w = vars[0]->value;
  const float* b = vars[1]->value;
  const float x[4] = {0.5f, -1.0f, 2.0f, 0.25f};
  const float* y = model.forward(x, 1, Mode::kInference);
  for (int j = 0; j < 4; ++j) {
    float z = b[j];
    for (int i = 0; i < 4; ++i) z += x[i] * w[i * 4 + j];
    EXPECT_NEAR(y[j], x[j] + std::max(z, 0.0f), 1e-6f) << j;
  }
}

// A shared layer whose second call reads a layer listed after it: Keras replays such calls on a
// later pass, and so must keel.
TEST(FunctionalConfigFormats, SharedLayerCallReadingALaterLayer) {
  const json doc = json::parse(R"({"class_name": "Model", "config": {"name": "loop", "layers": [
      {"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
       "config": {"batch_input_shape": [null, 3], "name": "x"}},
      {"class_name": "Dense", "name": "d", "config": {"name": "d", "units": 3, "activation": "tanh"},
       "inbound_nodes": [[["x", 0, 0, {}]], [["e", 0, 0, {}]]]},
      {"class_name": "Dense", "name": "e", "config": {"name": "e", "units": 3},
       "inbound_nodes": [[["d", 0, 0, {}]]]}],
    "input_layers": [["x", 0, 0]], "output_layers": [["d", 1, 0]]}})");
  Model loaded = model_from_config(doc, "loop.json");
  ASSERT_EQ(loaded.nodes().size(), 3u);
  EXPECT_EQ(loaded.nodes()[2].layer->name(), "d");
  EXPECT_EQ(loaded.nodes()[2].node_index, 1);
  EXPECT_EQ(loaded.count_params(), 2 * (9 + 3));  // d's weights once

  // The same graph built in code, given the loaded weights, computes the same.
  KerasTensor x = Input({3});
  auto d = keel::shared(Dense(3, {.activation = "tanh", .name = "d2"}));
  Model built(x, (*d)(Dense(3, {.name = "e2"})((*d)(x))));
  ASSERT_EQ(built.parameter_arena().size(), loaded.parameter_arena().size());
  std::memcpy(built.parameter_arena().data(), loaded.parameter_arena().data(),
              loaded.parameter_arena().size_bytes());
  EXPECT_EQ(outputs_on_random_inputs(built, 2, 3), outputs_on_random_inputs(loaded, 2, 3));
}

struct BrokenConfig {
  const char* what;
  const char* fixture;
  std::function<void(json& config)> damage;
  std::vector<std::string> expected;  // substrings of the message
};

void PrintTo(const BrokenConfig& c, std::ostream* os) { *os << c.what; }

class FunctionalConfigErrors : public ::testing::TestWithParam<BrokenConfig> {};

json& layer_named(json& config, const std::string& name) {
  for (json& entry : config["layers"])
    if (entry["name"] == name) return entry;
  throw std::runtime_error("fixture has no layer " + name);
}

TEST_P(FunctionalConfigErrors, NameTheSourceTheLayerAndTheReference) {
  const BrokenConfig& c = GetParam();
  json doc = json::parse(read_text(kFixtures / (std::string(c.fixture) + ".json")));
  c.damage(doc["config"]);
  reset_default_names();
  const std::string message = error_of([&] { model_from_config(doc, "broken.json"); });
  EXPECT_EQ(message.rfind("broken.json: ", 0), 0u) << message;
  for (const std::string& want : c.expected)
    EXPECT_NE(message.find(want), std::string::npos) << "missing '" << want << "' in: " << message;
}

// shared_layer.json: input_1, input_2, dense (called on both), concatenate, dense_1.
const BrokenConfig kBrokenConfigs[] = {
    {"unknown_layer", "shared_layer",
     [](json& c) { layer_named(c, "concatenate")["inbound_nodes"][0][1][0] = "dense_9"; },
     {"layer 3 ('concatenate', Concatenate)", "inbound node 0", "['dense_9', 1, 0]", "names no layer"}},
    {"call_past_the_last", "shared_layer",
     [](json& c) { layer_named(c, "concatenate")["inbound_nodes"][0][1][1] = 2; },
     {"'concatenate'", "reads call 2 of a layer called 2 time(s)"}},
    {"second_output", "shared_layer",
     [](json& c) { layer_named(c, "dense_1")["inbound_nodes"][0][0][2] = 1; },
     {"'dense_1'", "reads output 1 of a layer with one output"}},
    {"call_argument", "shared_layer",
     [](json& c) { layer_named(c, "dense_1")["inbound_nodes"][0][0][3] = {{"training", true}}; },
     {"'dense_1'", "call argument 'training' = true"}},
    {"cycle", "shared_layer",
     [](json& c) { layer_named(c, "concatenate")["inbound_nodes"][0][0] = {"dense_1", 0, 0, json::object()}; },
     {"'concatenate'", "cycle"}},
    {"duplicate_name", "shared_layer",
     [](json& c) {
       layer_named(c, "dense_1")["config"]["name"] = "dense";
       layer_named(c, "dense_1")["name"] = "dense";
     },
     {"layer 4 ('dense', Dense)", "duplicate layer name 'dense'"}},
    {"entry_name_differs", "shared_layer",
     [](json& c) { layer_named(c, "dense_1")["name"] = "head"; },
     {"layer 4 ('dense_1', Dense)", "\"head\"", "'dense_1'"}},
    {"nested_model", "shared_layer",
     [](json& c) { layer_named(c, "dense_1")["class_name"] = "Functional"; },
     {"layer 4 ('dense_1', Functional)", "nested"}},
    {"input_layer_called", "shared_layer",
     [](json& c) { layer_named(c, "input_2")["inbound_nodes"] = {{{"input_1", 0, 0, json::object()}}}; },
     {"layer 1 ('input_2', InputLayer)", "called by nothing"}},
    {"no_inbound_nodes", "shared_layer",
     [](json& c) { layer_named(c, "dense_1").erase("inbound_nodes"); },
     {"layer 4 ('dense_1', Dense)", "inbound_nodes"}},
    {"unknown_output", "shared_layer",
     [](json& c) { c["output_layers"][0][0] = "dense_7"; },
     {"'output_layers'", "['dense_7', 0, 0]", "names no layer"}},
    {"no_input_layers", "shared_layer", [](json& c) { c.erase("input_layers"); },
     {"Functional config has no \"input_layers\""}},
    {"unknown_config_key", "shared_layer", [](json& c) { c["frobnicate"] = 1; },
     {"unknown argument 'frobnicate'"}},
    {"merge_shapes", "two_input_concat",
     [](json& c) {
       layer_named(c, "concatenate")["class_name"] = "Add";
       layer_named(c, "concatenate")["config"].erase("axis");
     },
     {"layer 4 ('concatenate', Add)", "inbound node 0", "(None, 64)", "(None, 16)"}},
    {"layer_argument", "residual_mlp",
     [](json& c) { layer_named(c, "dense_2")["config"]["units"] = -3; },
     {"('dense_2', Dense)", "units", "-3"}},
};

INSTANTIATE_TEST_SUITE_P(Cases, FunctionalConfigErrors, ::testing::ValuesIn(kBrokenConfigs),
                         [](const auto& info) { return std::string(info.param.what); });

}  // namespace
}  // namespace keel
