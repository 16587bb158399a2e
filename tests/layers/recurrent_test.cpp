// The recurrent layers, LayerNormalization and Embedding (issue 14) against REAL tf.keras 2.12 (tools/golden/rnn_keras.py writes
// tests/data/rnn/*.json): each layer is created from Keras's own get_config() through keel's
// registry, must write that config back, declare Keras's variables (names, shapes, order) and
// reproduce every output and, through time, dx and every variable's gradient of
// L = Σ_i Σ y_i·dy_i (return_state outputs included). Then finite differences, the Orthogonal
// initializer, unit_forget_bias and the argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>

#include "keel/core/error.h"
#include "keel/io/model_config.h"
#include "keel/layers/layers.h"
#include "layers/layer_harness.h"

namespace keel {
namespace {

using testing::LayerHarness;

nlohmann::json load(const std::string& name) {
  std::ifstream in(std::string(KEEL_SOURCE_DIR) + "/tests/data/rnn/" + name);
  EXPECT_TRUE(in) << "missing fixture " << name << "; run tools/golden/rnn_keras.py";
  return nlohmann::json::parse(in);
}

void expect_close(const std::vector<float>& got, const nlohmann::json& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    const double w = want[i].get<double>();
    const double err = std::fabs(got[i] - w) / std::max(1.0, std::fabs(w));
    ASSERT_LE(err, tol) << what << "[" << i << "] keel " << got[i] << " keras " << w;
  }
}

Shape sample_shape(const nlohmann::json& dims_json) {
  auto dims = dims_json.get<std::vector<int64_t>>();
  return Shape::batched(std::vector<int64_t>(dims.begin() + 1, dims.end()));
}

TEST(RecurrentGolden, LayersMatchTfKerasThroughTime) {
  const auto golden = load("layers.json");
  ASSERT_GE(golden["cases"].size(), 45u);
  for (const auto& c : golden["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    reset_default_names();
    LayerHarness h(layer_from_config(c["class_name"], c["config"]), sample_shape(c["input_shape"]));
    Layer& layer = h.layer();
    EXPECT_EQ(layer.get_config(), c["config"]) << "get_config differs from tf.keras";
    const int64_t batch = c["input_shape"][0];
    const auto& out_shapes = c["output_shapes"];
    ASSERT_EQ(layer.output_shapes().size(), out_shapes.size());
    for (size_t i = 0; i < out_shapes.size(); ++i) {
      EXPECT_EQ(layer.output_shapes()[i], sample_shape(out_shapes[i])) << "output " << i;
    }
    // Keras's variables, built standalone, are "<cell>/<name>:0" or "<name>:0"; keel's carry the
    // layer name too.
    ASSERT_EQ(layer.variables().size(), c["weights"].size());
    for (size_t i = 0; i < c["weights"].size(); ++i) {
      const auto& w = c["weights"][i];
      Variable& v = layer.variables()[i];
      EXPECT_TRUE(v.name.ends_with("/" + w["name"].get<std::string>())) << v.name;
      EXPECT_EQ(v.shape, w["shape"].get<std::vector<int64_t>>()) << v.name;
      const auto values = w["value"].get<std::vector<float>>();
      ASSERT_EQ(static_cast<int64_t>(values.size()), v.size());
      std::copy(values.begin(), values.end(), v.value);
    }
    if (c.contains("input_masks")) {  // Keras's dropout masks, recorded by the generator
      auto* rnn = dynamic_cast<Recurrent*>(&layer);
      ASSERT_NE(rnn, nullptr);
      rnn->replay_dropout_masks(c["input_masks"].get<std::vector<float>>(),
                                c["recurrent_masks"].get<std::vector<float>>());
    }
    const auto x = c["x"].get<std::vector<float>>();
    std::vector<std::vector<float>> ys, dys;
    std::vector<TensorRef> y_refs, dy_refs;
    for (size_t i = 0; i < out_shapes.size(); ++i) {
      const Shape& s = layer.output_shapes()[i];
      ys.emplace_back(static_cast<size_t>(batch * s.sample_size()), NAN);
      dys.push_back(c["dys"][i].get<std::vector<float>>());
    }
    for (size_t i = 0; i < ys.size(); ++i) {
      y_refs.push_back(LayerHarness::view(ys[i].data(), layer.output_shapes()[i], batch));
      dy_refs.push_back(LayerHarness::view(dys[i].data(), layer.output_shapes()[i], batch));
    }
    const TensorRef xr = LayerHarness::view(x.data(), layer.input_shape(), batch);
    layer.forward(Context{Mode::kTraining}, {&xr, 1}, y_refs);
    for (size_t i = 0; i < ys.size(); ++i) expect_close(ys[i], c["ys"][i], 2e-6, "y" + std::to_string(i));
    std::vector<float> dx(x.size(), NAN);
    const TensorRef dxr = LayerHarness::view(dx.data(), layer.input_shape(), batch);
    layer.backward(Context{Mode::kTraining}, {&xr, 1}, y_refs, dy_refs, {&dxr, 1}, Write::kSet);
    expect_close(dx, c["dx"], 2e-6, "dx");
    for (const auto& [short_name, g] : c["grads"].items()) {
      const auto* rnn = dynamic_cast<Recurrent*>(&layer);
      const std::string scope = rnn ? rnn->cell_name() + "/" : "";
      expect_close(h.grad(scope + short_name), g, 2e-6, "d" + short_name);
    }
  }
}

// Backprop through time against central differences, for every cell and sequence flag.
TEST(Recurrent, GradientsMatchFiniteDifferences) {
  const Shape in = Shape::batched({4, 3});
  struct Case {
    const char* what;
    std::function<std::unique_ptr<Layer>()> make;
  };
  const std::vector<Case> cases = {
      {"SimpleRNN", [] { return std::make_unique<SimpleRNN>(3); }},
      {"SimpleRNN seq back", [] {
         return std::make_unique<SimpleRNN>(3, RecurrentOptions{.return_sequences = true, .go_backwards = true});
       }},
      {"LSTM", [] { return std::make_unique<LSTM>(3); }},
      {"LSTM seq back", [] {
         return std::make_unique<LSTM>(3, RecurrentOptions{.return_sequences = true, .go_backwards = true});
       }},
      {"GRU", [] { return std::make_unique<GRU>(3); }},
      {"GRU seq", [] { return std::make_unique<GRU>(3, RecurrentOptions{.return_sequences = true}); }},
      {"GRU v1 seq back", [] {
         return std::make_unique<GRU>(3, RecurrentOptions{.reset_after = false, .return_sequences = true,
                                                           .go_backwards = true});
       }},
      {"GRU v1", [] { return std::make_unique<GRU>(3, RecurrentOptions{.reset_after = false}); }},
      // Dropout (masks drawn the same for every forward: the harness restores the generator).
      {"SimpleRNN dropout recurrent_dropout", [] {
         return std::make_unique<SimpleRNN>(3, RecurrentOptions{.dropout = 0.3, .recurrent_dropout = 0.3});
       }},
      {"LSTM dropout recurrent_dropout seq", [] {
         return std::make_unique<LSTM>(3, RecurrentOptions{.dropout = 0.3, .recurrent_dropout = 0.3,
                                                            .return_sequences = true});
       }},
      {"LSTM fused dropout", [] { return std::make_unique<LSTM>(3, RecurrentOptions{.dropout = 0.3}); }},
      {"GRU dropout recurrent_dropout", [] {
         return std::make_unique<GRU>(3, RecurrentOptions{.dropout = 0.3, .recurrent_dropout = 0.3});
       }},
      {"GRU v1 recurrent_dropout seq", [] {
         return std::make_unique<GRU>(3, RecurrentOptions{.reset_after = false, .recurrent_dropout = 0.4,
                                                           .return_sequences = true});
       }},
      {"Bidirectional GRU dropout recurrent_dropout", [] {
         return std::make_unique<Bidirectional>(GRU(2, {.dropout = 0.3, .recurrent_dropout = 0.3}));
       }},
      {"Bidirectional LSTM concat", [] { return std::make_unique<Bidirectional>(LSTM(3)); }},
      {"Bidirectional GRU seq sum", [] {
         return std::make_unique<Bidirectional>(GRU(2, {.return_sequences = true}),
                                                BidirectionalOptions{.merge_mode = "sum"});
       }},
      {"Bidirectional SimpleRNN seq mul", [] {
         return std::make_unique<Bidirectional>(SimpleRNN(3, {.return_sequences = true}),
                                                BidirectionalOptions{.merge_mode = "mul"});
       }},
      {"Bidirectional LSTM back seq ave", [] {
         return std::make_unique<Bidirectional>(
             LSTM(2, {.return_sequences = true, .go_backwards = true}),
             BidirectionalOptions{.merge_mode = "ave"});
       }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    LayerHarness h(c.make(), in, 7);
    // Non-zero biases so that every bias path is exercised.
    for (auto& v : h.layer().variables()) {
      if (v.name.ends_with("bias:0")) {
        const auto r = testing::random_vector(v.size(), 3, -0.5, 0.5);
        std::copy(r.begin(), r.end(), v.value);
      }
    }
    testing::check_gradients(h, testing::random_vector(2 * 4 * 3, 11), 2, 1e-2, 3e-3);
  }
}

// Keras Orthogonal: a (rows, cols) matrix with orthonormal rows (rows <= cols) or columns, times
// gain; seeded, the same values every time.
TEST(Recurrent, OrthogonalInitializerIsOrthogonal) {
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{4, 16}, {16, 4}, {5, 5}, {128, 512}, {2, 3, 6}}) {
    Rng rng(5);
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> w(static_cast<size_t>(n));
    Initializer("orthogonal").fill(w, shape, rng);
    const int64_t cols = shape.back(), rows = n / cols;
    const int64_t k = std::min(rows, cols);
    double worst = 0.0;
    for (int64_t a = 0; a < k; ++a) {
      for (int64_t b = 0; b < k; ++b) {
        double dot = 0.0;
        if (rows <= cols) {
          for (int64_t j = 0; j < cols; ++j) dot += double(w[a * cols + j]) * w[b * cols + j];
        } else {
          for (int64_t i = 0; i < rows; ++i) dot += double(w[i * cols + a]) * w[i * cols + b];
        }
        worst = std::max(worst, std::fabs(dot - (a == b ? 1.0 : 0.0)));
      }
    }
    EXPECT_LT(worst, 2e-6) << "shape " << shape[0] << "x" << cols;
  }
  auto init = Initializer::from_config(
      nlohmann::json::parse(R"({"class_name": "Orthogonal", "config": {"gain": 2.0, "seed": 3}})"));
  std::vector<float> a(6 * 6), b(6 * 6);
  Rng r1(1), r2(2);
  init.fill(a, {6, 6}, r1);
  init.fill(b, {6, 6}, r2);
  EXPECT_EQ(a, b) << "a seeded Orthogonal ignores the model's generator";
  double norm = 0.0;
  for (int j = 0; j < 6; ++j) norm += double(a[j]) * a[j];
  EXPECT_NEAR(norm, 4.0, 1e-5) << "gain 2 scales every row to norm 2";
  EXPECT_EQ(init.to_config(),
            nlohmann::json::parse(R"({"class_name": "Orthogonal", "config": {"gain": 2.0, "seed": 3}})"));
}

// unit_forget_bias: Keras starts the bias as [bias_initializer(u), ones(u), bias_initializer(2u)].
TEST(Recurrent, LstmUnitForgetBias) {
  for (bool forget : {true, false}) {
    reset_default_names();
    LayerHarness h(std::make_unique<LSTM>(3, RecurrentOptions{.unit_forget_bias = forget}),
                   Shape::batched({2, 2}));
    const auto bias = h.value("lstm_cell/bias");
    ASSERT_EQ(bias.size(), 12u);
    for (size_t j = 0; j < bias.size(); ++j) {
      EXPECT_EQ(bias[j], forget && j >= 3 && j < 6 ? 1.0f : 0.0f) << j;
    }
  }
}

// dropout as tf.keras 2.12 draws it: an LSTM on Keras's fused path (tanh, sigmoid, bias) masks
// its whole input, a fresh mask at every timestep; any other (here relu) masks in the cell, one
// mask per sample and feature reused at every timestep. Inference ignores dropout.
// (The exact math, masks replayed, is in the golden test.)
TEST(Recurrent, DropoutMasksLikeKerasPaths) {
  const int64_t batch = 4, T = 6, F = 8;
  for (const bool fused : {true, false}) {
    SCOPED_TRACE(fused ? "fused path" : "cell path");
    const ActivationFunction act = fused ? "tanh" : "relu";
    const RecurrentOptions drop{.activation = act, .dropout = 0.5, .return_sequences = true};
    const RecurrentOptions none{.activation = act, .return_sequences = true};
    LayerHarness h(std::make_unique<LSTM>(5, drop), Shape::batched({T, F}));
    LayerHarness plain(std::make_unique<LSTM>(5, none), Shape::batched({T, F}));
    for (size_t i = 0; i < h.layer().variables().size(); ++i) {
      const Variable& v = h.layer().variables()[i];
      std::copy(v.value, v.value + v.size(), plain.layer().variables()[i].value);
    }
    const auto x = testing::random_vector(batch * T * F, 21);
    EXPECT_EQ(h.forward(x, batch, Mode::kInference), plain.forward(x, batch, Mode::kInference));
    const auto y = h.forward(x, batch, Mode::kTraining);
    EXPECT_NE(y, plain.forward(x, batch, Mode::kTraining));
    const auto dx = h.backward(x, y, testing::random_vector(int64_t(y.size()), 22), batch);
    int dropped = 0, partly = 0;
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t f = 0; f < F; ++f) {
        int zeros = 0;
        for (int64_t t = 0; t < T; ++t) zeros += dx[size_t((b * T + t) * F + f)] == 0.0f;
        dropped += zeros;
        partly += zeros > 0 && zeros < T;
      }
    }
    EXPECT_GT(dropped, batch * T * F / 4);
    EXPECT_LT(dropped, batch * T * F * 3 / 4);
    if (fused) {
      EXPECT_GT(partly, batch * F / 4) << "the fused path draws a fresh mask per timestep";
    } else {
      EXPECT_EQ(partly, 0) << "the cell reuses its mask at every timestep";
    }
  }
}

// recurrent_dropout: training differs from the plain layer, inference does not; it switches the
// layer to implementation 1, as Keras does, and its config says so.
TEST(Recurrent, RecurrentDropoutOnlyInTraining) {
  const int64_t batch = 3, T = 5, F = 4;
  for (const bool gru : {false, true}) {
    SCOPED_TRACE(gru ? "GRU" : "LSTM");
    auto make = [&](double rate) -> std::unique_ptr<Layer> {
      const RecurrentOptions o{.recurrent_dropout = rate};
      if (gru) return std::make_unique<GRU>(4, o);
      return std::make_unique<LSTM>(4, o);
    };
    LayerHarness h(make(0.5), Shape::batched({T, F}));
    LayerHarness plain(make(0.0), Shape::batched({T, F}));
    EXPECT_EQ(h.layer().get_config()["implementation"], 1);
    EXPECT_EQ(plain.layer().get_config()["implementation"], 2);
    for (size_t i = 0; i < h.layer().variables().size(); ++i) {
      const Variable& v = h.layer().variables()[i];
      std::copy(v.value, v.value + v.size(), plain.layer().variables()[i].value);
    }
    const auto x = testing::random_vector(batch * T * F, 23);
    EXPECT_EQ(h.forward(x, batch, Mode::kInference), plain.forward(x, batch, Mode::kInference));
    EXPECT_NE(h.forward(x, batch, Mode::kTraining), plain.forward(x, batch, Mode::kTraining));
  }
}

TEST(Recurrent, LayerNormalizationGradientsMatchFiniteDifferences) {
  for (const auto& axis : {std::vector<int64_t>{-1}, std::vector<int64_t>{-2, -1},
                           std::vector<int64_t>{1}}) {
    LayerHarness h(std::make_unique<LayerNormalization>(LayerNormalizationOptions{.axis = axis}),
                   Shape::batched({3, 5}), 2);
    for (auto& v : h.layer().variables()) {
      const auto r = testing::random_vector(v.size(), 9, 0.5, 1.5);
      std::copy(r.begin(), r.end(), v.value);
    }
    testing::check_gradients(h, testing::random_vector(2 * 3 * 5, 4, -2.0, 2.0), 2, 1e-2, 3e-3);
  }
}

// Embedding: a row looked up twice gets both gradients; a bad id is an error naming it.
TEST(Recurrent, EmbeddingLookupAndErrors) {
  LayerHarness h(std::make_unique<Embedding>(4, 2), Shape::batched({3}));
  auto table = h.value("embeddings");
  const std::vector<float> ids = {1, 3, 1};
  const auto y = h.forward(ids, 1, Mode::kTraining);
  EXPECT_EQ(y, (std::vector<float>{table[2], table[3], table[6], table[7], table[2], table[3]}));
  const auto dx = h.backward(ids, y, {1, 2, 3, 4, 5, 6}, 1, Write::kSet);
  EXPECT_EQ(dx, (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(h.grad("embeddings"), (std::vector<float>{0, 0, 6, 8, 0, 0, 3, 4}));
  try {
    h.forward({1, 4, 0}, 1, Mode::kInference);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("id 4 at input element 1 is outside [0, 4)"),
              std::string::npos)
        << e.what();
  }
}

TEST(Recurrent, BadArgumentsAreClearErrors) {
  auto message = [](auto make) {
    try {
      make();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([] { LSTM(0); }).find("units 0"), std::string::npos);
  EXPECT_NE(message([] { GRU(4, {.dropout = 1.0}); }).find("dropout 1"), std::string::npos);
  EXPECT_NE(message([] { LSTM(4, {.recurrent_dropout = 1.5}); }).find("recurrent_dropout 1.5"),
            std::string::npos);
  EXPECT_NE(message([] { GRU(4, {.implementation = 3}); }).find("implementation 3"),
            std::string::npos);
  EXPECT_NE(message([] { SimpleRNN(4, {.stateful = true}); }).find("stateful"), std::string::npos);
  EXPECT_NE(message([] { LSTM(4, {.activation = "softmax"}); }).find("softmax"), std::string::npos);
  EXPECT_NE(message([] { LSTM(4).build(Shape::batched({28})); }).find("(None, timesteps, features)"),
            std::string::npos);
  const auto json = nlohmann::json::parse(R"({"units": 4, "time_major": true})");
  EXPECT_NE(message([&] { layer_from_config("GRU", json); }).find("time_major"), std::string::npos);
  EXPECT_NE(message([] { LayerNormalization({.axis = {0}}).build(Shape::batched({5, 4})); })
                .find("axis 0 is invalid for an input of rank 3"),
            std::string::npos);
  EXPECT_NE(message([] { LayerNormalization({.axis = {1, -2}}).build(Shape::batched({5, 4})); })
                .find("duplicate axis -2"),
            std::string::npos);
  EXPECT_NE(message([] { Embedding(10, 4, {.mask_zero = true}); }).find("mask_zero"),
            std::string::npos);
  const auto bad_key = nlohmann::json::parse(R"({"units": 4, "reset_after": true})");
  EXPECT_NE(message([&] { layer_from_config("LSTM", bad_key); }).find("reset_after"),
            std::string::npos);
  EXPECT_NE(message([] { Bidirectional(LSTM(4), {.merge_mode = "max"}); }).find("merge_mode 'max'"),
            std::string::npos);
  const auto backward_layer = nlohmann::json::parse(
      R"({"layer": {"class_name": "LSTM", "config": {"units": 2}}, "backward_layer": {}})");
  EXPECT_NE(message([&] { layer_from_config("Bidirectional", backward_layer); }).find("backward_layer"),
            std::string::npos);
  const auto dense_inside = nlohmann::json::parse(
      R"({"layer": {"class_name": "Dense", "config": {"units": 2}}})");
  EXPECT_NE(message([&] { layer_from_config("Bidirectional", dense_inside); }).find("'Dense'"),
            std::string::npos);
}

// Keras's default names: the wrapped layer takes its name before the wrapper is built (as it is
// made first in Python), its copies are forward_/backward_<name>, and a clone runs like the
// original.
TEST(Recurrent, BidirectionalNamesAndClone) {
  reset_default_names();
  Bidirectional a(LSTM(3));
  LSTM after(2);
  a.ensure_name();  // as Sequential(a, after) names its layers, in order, before building
  after.ensure_name();
  EXPECT_EQ(a.name(), "bidirectional");
  EXPECT_EQ(a.layer().name(), "lstm") << "named with the wrapper, before the next layer";
  EXPECT_EQ(after.name(), "lstm_1");
  LayerHarness h(std::make_unique<Bidirectional>(std::move(a)), Shape::batched({4, 2}), 5);
  const auto& bidi = h.as<Bidirectional>();
  EXPECT_EQ(bidi.forward_layer().name(), "forward_lstm");
  EXPECT_EQ(bidi.backward_layer().name(), "backward_lstm");
  EXPECT_TRUE(bidi.backward_layer().options().go_backwards);
  EXPECT_EQ(h.layer().variables()[3].name, "bidirectional/backward_lstm/lstm_cell_2/kernel:0");
  const auto x = testing::random_vector(2 * 4 * 2, 3);
  const auto y = h.forward(x, 2, Mode::kInference);
  std::unique_ptr<Layer> copy = h.layer().clone();
  copy->bind_variables(h.layer().variables());
  std::vector<float> y2(y.size(), NAN);
  const TensorRef xr = LayerHarness::view(x.data(), h.layer().input_shape(), 2);
  const TensorRef yr = LayerHarness::view(y2.data(), h.layer().output_shape(), 2);
  copy->forward(Context{Mode::kInference}, {&xr, 1}, {&yr, 1});
  EXPECT_EQ(y, y2);
}

}  // namespace
}  // namespace keel
