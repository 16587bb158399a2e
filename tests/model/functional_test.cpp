// Functional models against real tf.keras 2.12 (fixtures from tools/golden/functional_keras.py):
// summary() byte for byte, model.weights order, and SGD training steps of a residual model whose
// tensors fan out to several layers and whose one layer is called twice (shared weights).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "keel/core/error.h"
#include "keel/io/model_config.h"
#include "keel/layers/input_layer.h"
#include "keel/layers/layers.h"
#include "keel/layers/merge.h"
#include "keel/model/model.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/sgd.h"
#include "functional_models.h"
#include "keras_weights.h"

namespace keel {
namespace {

using testing::expect_weights;
using testing::set_weights;
using testing::tensor_of;

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(KEEL_SOURCE_DIR) + "/tests/data/functional/" + name);
  EXPECT_TRUE(in.good()) << "missing fixture " << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

using testing::FunctionalCase;

class FunctionalSummary : public ::testing::TestWithParam<FunctionalCase> {};

TEST_P(FunctionalSummary, MatchesTfKeras212ByteForByte) {
  reset_default_names();
  const Model model = GetParam().make();
  EXPECT_EQ(model.summary(), fixture(std::string(GetParam().name) + ".summary.txt"));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FunctionalSummary, ::testing::ValuesIn(testing::kFunctionalCases),
                         [](const auto& info) { return std::string(info.param.name); });

// The model of training_steps.json: h fans out to three layers, `shared` is called twice.
Model residual_shared() {
  KerasTensor x = Input({6});
  KerasTensor h = Dense(5, {.activation = "elu"})(x);
  auto shared = keel::shared(Dense(5, {.activation = "tanh"}));
  KerasTensor b1 = (*shared)(h);
  KerasTensor b2 = (*shared)(Dense(5)(h));
  KerasTensor s = Add()({h, b1, b2});
  KerasTensor c = Concatenate()({s, Multiply()({b1, b2})});
  return Model(x, Dense(4, {.activation = "softmax"})(c));
}

TEST(FunctionalTraining, WeightsAreInKerasModelWeightsOrder) {
  reset_default_names();
  Model model = residual_shared();
  const auto golden = nlohmann::json::parse(fixture("training_steps.json"));
  const auto& expected = golden["models"]["residual_shared_momentum"]["variables"];
  const auto vars = model.variables();
  ASSERT_EQ(vars.size(), expected.size());
  for (size_t i = 0; i < vars.size(); ++i) {
    EXPECT_EQ(vars[i]->name, expected[i]["name"].get<std::string>()) << i;
    EXPECT_EQ(vars[i]->shape, expected[i]["shape"].get<std::vector<int64_t>>()) << i;
  }
}

void run_train_on_batch_case(const std::string& case_name, std::shared_ptr<Optimizer> optimizer) {
  reset_default_names();
  Model model = residual_shared();
  const auto golden = nlohmann::json::parse(fixture("training_steps.json"));
  const auto& c = golden["models"][case_name];
  set_weights(model, c["initial_weights"]);
  const Tensor x = tensor_of(c["x"], {10, 6});
  const Tensor y = tensor_of(c["y"], {10, 1});
  model.compile({.optimizer = std::move(optimizer), .loss = "sparse_categorical_crossentropy"});
  const auto& steps = c["scenarios"]["train_on_batch"]["steps"];
  for (size_t step = 0; step < steps.size(); ++step) {
    const Logs logs = model.train_on_batch(x, y);
    EXPECT_NEAR(*logs.get("loss"), steps[step]["loss"].get<double>(), 1e-5) << "step " << step;
    expect_weights(model, steps[step]["weights"], case_name + " step " + std::to_string(step));
  }
  const Tensor p = model.predict(x);
  const auto& want = c["scenarios"]["train_on_batch"]["predict"];
  for (int64_t r = 0; r < 10; ++r)
    for (int64_t j = 0; j < 4; ++j)
      EXPECT_NEAR(p[r * 4 + j], want[size_t(r)][size_t(j)].get<double>(), 1e-5) << r << "," << j;
}

TEST(FunctionalTraining, MomentumStepsMatchTfKeras) {
  run_train_on_batch_case("residual_shared_momentum",
                          std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1, .momentum = 0.9}));
}

TEST(FunctionalTraining, ClipnormStepsMatchTfKeras) {
  run_train_on_batch_case("residual_shared_clipnorm_0_25",
                          std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1, .clipnorm = 0.25}));
}

TEST(FunctionalTraining, FitWithAPartialLastBatchMatchesTfKeras) {
  reset_default_names();
  Model model = residual_shared();
  const auto golden = nlohmann::json::parse(fixture("training_steps.json"));
  const auto& c = golden["models"]["residual_shared_momentum"];
  set_weights(model, c["initial_weights"]);
  const Tensor x = tensor_of(c["x"], {10, 6});
  const Tensor y = tensor_of(c["y"], {10, 1});
  model.compile({.optimizer = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1, .momentum = 0.9}),
                 .loss = "sparse_categorical_crossentropy"});
  const History h = model.fit(x, y, {.batch_size = 4, .epochs = 1, .verbose = 0, .shuffle = false});
  const auto& scenario = c["scenarios"]["fit_batch_size_4"];
  expect_weights(model, scenario["steps"].back()["weights"], "fit");
  EXPECT_NEAR(h["loss"][0], scenario["history_loss"][0].get<double>(), 1e-5);
}

TEST(FunctionalModel, ErrorsNameTheProblem) {
  reset_default_names();
  KerasTensor x = Input({4});
  Dense local(3);
  try {
    local(x);
    FAIL() << "calling a non-shared lvalue layer must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("keel::shared"), std::string::npos) << e.what();
  }
  KerasTensor a = Dense(3)(x), b = Dense(5)(x);
  EXPECT_THROW(Add()({a, b}), Error);  // (None, 3) vs (None, 5)
  KerasTensor other = Input({4});
  EXPECT_THROW(Model(other, a), Error);  // `a` does not depend on `other`
  // Checked where the shape enters, before a layer multiplies the dims (overflow is UB).
  try {
    Input({int64_t{1} << 40, int64_t{1} << 40});
    FAIL() << "an input of 2^80 values per sample must be rejected";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2^32 values per sample"), std::string::npos) << e.what();
  }
}

TEST(FunctionalModel, ChainPrintsLikeKerasAndSequentialTrainsTheSame) {
  // A functional chain and the same Sequential give the same outputs from the same weights.
  reset_default_names();
  Model functional = testing::functional_chain();
  Sequential sequential(Flatten({.input_shape = {28, 28}}),
                        Dense(300, {.activation = "elu", .kernel_initializer = "he_normal"}),
                        Dense(10, {.activation = "softmax"}));
  sequential.build();
  auto fv = functional.variables();
  auto sv = sequential.variables();
  ASSERT_EQ(fv.size(), sv.size());
  for (size_t i = 0; i < fv.size(); ++i) std::copy_n(fv[i]->value, fv[i]->size(), sv[i]->value);
  Tensor x({3, 28, 28});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 101) / 101.0f;
  const Tensor a = functional.predict(x), b = sequential.predict(x);
  for (int64_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]);
}

}  // namespace
}  // namespace keel

namespace keel {
namespace {

TEST(FunctionalModel, MergeLayerInASequentialConfigIsAClearError) {
  try {
    model_from_json(R"({"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "in"}},
        {"class_name": "Add", "config": {"name": "add"}}]}})",
                    "<test>", 42);
    FAIL() << "a Sequential cannot hold a merge layer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be part of a Sequential"), std::string::npos)
        << e.what();
  }
}

TEST(FunctionalModel, AgcSparesOnlyTheFinalClassifierWeights) {
  // NFNets: no AGC on the final linear layer's weight matrix; its bias and every other layer keep it.
  reset_default_names();
  Model model = residual_shared();
  for (const ParamRef& p : model.optimizer_params()) {
    EXPECT_EQ(p.exclude_from_agc, std::string(p.name) == "dense_3/kernel:0") << p.name;
  }
}

}  // namespace
}  // namespace keel

namespace keel {
namespace {

// An output that is also read inside the graph: its gradient is the caller's dy plus what its
// consumers send back (the plan copies the dy into the slot, then the consumers add). Checked
// against central differences of L = Σ w_y·y + Σ w_s·s over every parameter.
TEST(FunctionalModel, OutputAlsoReadInsideTheGraphGetsBothGradients) {
  reset_default_names();
  KerasTensor x = Input({4});
  KerasTensor s = Dense(3, {.activation = "tanh"})(x);
  KerasTensor y = Dense(2)(Concatenate()({s, Dense(3, {.activation = "tanh"})(x)}));
  Model model({x}, {y, s});
  constexpr int64_t kBatch = 3;
  std::vector<float> input(kBatch * 4), wy(kBatch * 2), ws(kBatch * 3);
  for (size_t i = 0; i < input.size(); ++i) input[i] = std::sin(0.7f * float(i) + 0.3f);
  for (size_t i = 0; i < wy.size(); ++i) wy[i] = std::cos(1.3f * float(i));
  for (size_t i = 0; i < ws.size(); ++i) ws[i] = std::cos(0.4f * float(i) + 1.0f);
  const float* xs[] = {input.data()};
  auto loss = [&] {
    model.forward(xs, kBatch, Mode::kTraining);
    double l = 0;
    for (size_t i = 0; i < wy.size(); ++i) l += double(wy[i]) * model.output(0)[i];
    for (size_t i = 0; i < ws.size(); ++i) l += double(ws[i]) * model.output(1)[i];
    return l;
  };
  loss();
  model.zero_gradients();
  const float* dys[] = {wy.data(), ws.data()};
  const bool from_logits[] = {false, false};
  model.backward(dys, from_logits, kBatch, Model::GradientUpdate::kOverwrite);
  const float h = 1e-2f;
  for (Variable* v : model.variables()) {
    for (int64_t i = 0; i < v->size(); ++i) {
      const float orig = v->value[i];
      v->value[i] = orig + h;
      const double lp = loss();
      v->value[i] = orig - h;
      const double lm = loss();
      v->value[i] = orig;
      const double numeric = (lp - lm) / (2.0 * h);
      EXPECT_NEAR(v->grad[i], numeric, 2e-3 * std::max(1.0, std::fabs(numeric)))
          << v->name << "[" << i << "]";
    }
  }
}

}  // namespace
}  // namespace keel
