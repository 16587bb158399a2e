// The seed-lstm built-in model and recurrent layers inside models (issue 14): summary and config
// as tf.keras 2.12 writes them (tests/data/rnn from tools/golden/rnn_keras.py), Keras's cell
// names, and 20 Adam steps with global_clipnorm of a stacked LSTM -> GRU model against
// train_on_batch.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "keel/core/tensor.h"
#include "keel/io/model_config.h"
#include "keel/layers/layers.h"
#include "keel/model/builtin_models.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/adam.h"
#include "keel/optimizers/sgd.h"

namespace keel {
namespace {

std::string read_text(const std::string& name) {
  std::ifstream in(std::string(KEEL_SOURCE_DIR) + "/tests/data/rnn/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing " << name << "; run tools/golden/rnn_keras.py";
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(SeedLstm, SummaryIsTfKerasByteForByte) {
  reset_default_names();
  Model model = builtin_model("seed-lstm");
  EXPECT_EQ(model.summary(), read_text("seed_lstm.summary.txt"));
}

TEST(SeedLstm, ConfigIsTfKeras) {
  reset_default_names();
  Model model = builtin_model("seed-lstm");
  auto ours = nlohmann::json::parse(model_to_json(model));
  auto keras = nlohmann::json::parse(read_text("seed_lstm.json"));
  ours.erase("keras_version");
  keras.erase("keras_version");
  EXPECT_EQ(ours, keras);
  reset_default_names();
  Model back = model_from_config(keras, "seed_lstm.json");
  EXPECT_EQ(back.summary(), read_text("seed_lstm.summary.txt"));
}

// Keras names a recurrent layer's cell like a layer of its own: lstm/lstm_cell, lstm_1/lstm_cell_1.
TEST(RecurrentModel, CellNamesFollowKeras) {
  reset_default_names();
  Sequential model(LSTM(4, {.return_sequences = true, .input_shape = {5, 3}}),
                   LSTM(4, {.return_sequences = true}), GRU(2));
  model.build();
  std::vector<std::string> names;
  for (const Variable* v : model.variables()) names.push_back(v->name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "lstm/lstm_cell/kernel:0", "lstm/lstm_cell/recurrent_kernel:0",
                       "lstm/lstm_cell/bias:0", "lstm_1/lstm_cell_1/kernel:0",
                       "lstm_1/lstm_cell_1/recurrent_kernel:0", "lstm_1/lstm_cell_1/bias:0",
                       "gru/gru_cell/kernel:0", "gru/gru_cell/recurrent_kernel:0",
                       "gru/gru_cell/bias:0"}));
  // The cell takes its layer's number: a model read back from its config in this process
  // (where Keras's process-wide cell counter would say lstm_cell_1) names its variables as
  // before, so checkpoints and saved files written by one build load into the next.
  reset_default_names();
  const auto names_of = [](const Model& model) {
    std::vector<std::string> names;
    for (const Variable* v : model.variables()) names.push_back(v->name);
    return names;
  };
  Model original = builtin_model("seed-lstm");
  const auto first = names_of(original);
  EXPECT_EQ(first.front(), "lstm/lstm_cell/kernel:0");
  Model again = model_from_config(nlohmann::json::parse(model_to_json(original)), "seed-lstm");
  again.build();
  EXPECT_EQ(names_of(again), first);
}

// tf.keras marks initializers it serialised twice (the layer's and its cell's) with a
// "shared_object_id"; keel reads and ignores it, and does not write it.
void erase_shared_object_ids(nlohmann::json& j) {
  if (j.is_object()) {
    j.erase("shared_object_id");
    for (auto& [key, value] : j.items()) erase_shared_object_ids(value);
  } else if (j.is_array()) {
    for (auto& value : j) erase_shared_object_ids(value);
  }
}

// A fixture of tools/golden/rnn_keras.py's sgd_fixture(): summary(), to_json() (and the model
// read back from it), then three SGD steps (lr 0.1, mse) from its initial weights and predict,
// every variable after every step within 1e-6.
void expect_matches_sgd_fixture(Model& model, const std::string& file) {
  const auto golden = nlohmann::json::parse(read_text(file));
  if (!model.built()) model.build();
  EXPECT_EQ(model.summary(), golden["summary"].get<std::string>());
  auto ours = nlohmann::json::parse(model_to_json(model));
  auto keras = golden["config"];
  ours.erase("keras_version");
  keras.erase("keras_version");
  nlohmann::json without_ids = keras;
  erase_shared_object_ids(without_ids);
  EXPECT_EQ(ours, without_ids);
  reset_default_names();
  EXPECT_EQ(model_from_config(keras, file).summary(), golden["summary"].get<std::string>());
  for (Variable* v : model.variables()) {
    ASSERT_TRUE(golden["initial"].contains(v->name)) << v->name;
    const auto values = golden["initial"].at(v->name).get<std::vector<float>>();
    ASSERT_EQ(static_cast<int64_t>(values.size()), v->size()) << v->name;
    std::copy(values.begin(), values.end(), v->value);
  }
  model.compile({.optimizer = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1}), .loss = "mse"});
  Tensor xb({5, 6, 3}), yb({5, 2});
  for (const auto& step : golden["steps"]) {
    const auto xs = step["x"].get<std::vector<float>>(), ys = step["y"].get<std::vector<float>>();
    std::copy(xs.begin(), xs.end(), xb.data());
    std::copy(ys.begin(), ys.end(), yb.data());
    EXPECT_NEAR(*model.train_on_batch(xb, yb).get("loss"), step["loss"].get<double>(), 1e-6);
    for (Variable* v : model.variables()) {
      const auto want = step["weights"][v->name].get<std::vector<float>>();
      for (int64_t i = 0; i < v->size(); ++i) {
        ASSERT_NEAR(v->value[i], want[size_t(i)], 1e-6) << v->name << "[" << i << "]";
      }
    }
  }
  const Tensor probs = model.predict(xb);
  const auto want = golden["predict"].get<std::vector<float>>();
  for (int64_t i = 0; i < probs.size(); ++i) EXPECT_NEAR(probs[i], want[size_t(i)], 1e-6) << i;
}

// A functional model over an LSTM's return_state outputs (keel::all_outputs): the summary with
// its multi-output row and [0][1] / [0][2] connections, the config, and three SGD steps whose
// gradients flow back through the final h and c states, against tf.keras 2.12.
TEST(RecurrentModel, ReturnStateOutputsInAFunctionalModelMatchTfKeras) {
  reset_default_names();
  KerasTensor x = Input({6, 3});
  const auto lstm = all_outputs(LSTM(4, {.return_sequences = true, .return_state = true})(x));
  ASSERT_EQ(lstm.size(), 3u);
  KerasTensor g = GRU(3, {.go_backwards = true})(lstm[0]);
  Model model(x, Dense(2)(Concatenate()({lstm[1], lstm[2], g})));
  expect_matches_sgd_fixture(model, "functional_states.json");
}

// Stacked Bidirectional layers: Keras's variable names (the cells numbered 1, 2 and 4, 5), the
// summary, the nested config, and training through both directions and both merges.
TEST(RecurrentModel, StackedBidirectionalModelMatchesTfKeras) {
  reset_default_names();
  Sequential model(Bidirectional(LSTM(4, {.return_sequences = true}), {.input_shape = {6, 3}}),
                   Bidirectional(GRU(3), {.merge_mode = "ave"}), Dense(2));
  expect_matches_sgd_fixture(model, "bidirectional_model.json");
}

// Two wrapped LSTMs: Keras makes three cells per Bidirectional (the wrapped layer's, then its
// copies'), so the second wrapper's cells are lstm_cell_4 and lstm_cell_5 (tf.keras 2.12).
TEST(RecurrentModel, BidirectionalCellNamesFollowKeras) {
  const auto golden = nlohmann::json::parse(read_text("bidirectional_names.json"));
  reset_default_names();
  Sequential model(Bidirectional(LSTM(2, {.return_sequences = true}), {.input_shape = {3, 2}}),
                   Bidirectional(LSTM(2)));
  model.build();
  std::vector<std::string> names;
  for (Variable* v : model.variables()) names.push_back(v->name);
  EXPECT_EQ(names, golden["names"].get<std::vector<std::string>>());
}

// 20 Adam steps (learning rate 0.05, global_clipnorm 0.1: the global norm starts near 0.3, so
// every step is clipped) of LSTM(6, return_sequences) -> GRU(5) -> Dense(3, softmax) against
// tf.keras 2.12's train_on_batch: the loss and every variable after every step within 1e-5.
TEST(RecurrentTrainingGolden, TwentyAdamStepsWithGlobalClipnormMatchTfKeras) {
  const auto golden = nlohmann::json::parse(read_text("training_20steps.json"));
  reset_default_names();
  Sequential model(LSTM(6, {.return_sequences = true, .input_shape = {7, 4}}), GRU(5),
                   Dense(3, {.activation = "softmax"}));
  model.build();
  auto variables = model.variables();
  ASSERT_EQ(variables.size(), golden["initial"].size());
  for (Variable* v : variables) {
    ASSERT_TRUE(golden["initial"].contains(v->name)) << v->name;
    const auto values = golden["initial"][v->name].get<std::vector<float>>();
    ASSERT_EQ(static_cast<int64_t>(values.size()), v->size()) << v->name;
    std::copy(values.begin(), values.end(), v->value);
  }
  model.compile({.optimizer = std::make_shared<Adam>(
                     AdamOptions{.learning_rate = 0.05, .global_clipnorm = 0.1}),
                 .loss = "sparse_categorical_crossentropy"});
  const int64_t batch = golden["batch"];
  Tensor x({batch, 7, 4}), y({batch, 1});
  double worst = 0.0;
  int step_index = 0;
  for (const auto& step : golden["steps"]) {
    SCOPED_TRACE("step " + std::to_string(step_index++));
    const auto xs = step["x"].get<std::vector<float>>(), ys = step["y"].get<std::vector<float>>();
    std::copy(xs.begin(), xs.end(), x.data());
    std::copy(ys.begin(), ys.end(), y.data());
    const double loss = *model.train_on_batch(x, y).get("loss");
    EXPECT_NEAR(loss, step["loss"].get<double>(), 1e-5);
    for (Variable* v : variables) {
      const auto& want = step["weights"][v->name];
      for (int64_t i = 0; i < v->size(); ++i) {
        const double w = want[size_t(i)].get<double>();
        const double err = std::fabs(v->value[i] - w) / std::max(1.0, std::fabs(w));
        worst = std::max(worst, err);
        ASSERT_LE(err, 1e-5) << v->name << "[" << i << "] keel " << v->value[i] << " keras " << w;
      }
    }
  }
  const Tensor probs = model.predict(x);
  const auto want = golden["predict"];
  for (int64_t i = 0; i < probs.size(); ++i) {
    EXPECT_NEAR(probs[i], want[size_t(i)].get<double>(), 1e-5) << "predict[" << i << "]";
  }
  RecordProperty("worst_relative_weight_error", std::to_string(worst));
}

}  // namespace
}  // namespace keel
