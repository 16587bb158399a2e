// Losses against tools/golden/losses_golden.py (PyTorch autograd, Keras formulas re-derived).
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "keel/core/error.h"
#include "keel/losses/loss.h"

namespace keel {
namespace {

nlohmann::json load_golden() {
  std::ifstream in(std::string(KEEL_SOURCE_DIR) + "/tests/data/losses/losses_golden.json");
  EXPECT_TRUE(in.good()) << "missing fixture; run tools/golden/losses_golden.py";
  return nlohmann::json::parse(in);
}

TEST(LossGolden, MatchesPyTorchValuesAndGradients) {
  const nlohmann::json golden = load_golden();
  ASSERT_GE(golden["cases"].size(), 16u);  // incl. the three broadcast y_true cases
  for (const auto& c : golden["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto y_pred = c["y_pred"].get<std::vector<float>>();
    const auto y_true = c["y_true"].get<std::vector<float>>();
    std::vector<float> logits;
    LossBatch batch;
    batch.y_pred = y_pred.data();
    batch.y_true = y_true.data();
    batch.batch = c["batch"];
    batch.width = c["width"];
    batch.true_width = c["true_width"];
    if (c.contains("logits")) {
      logits = c["logits"].get<std::vector<float>>();
      batch.logits = logits.data();
      batch.logits_of = c["logits_of"] == "sigmoid" ? LogitsOf::kSigmoid : LogitsOf::kSoftmax;
    }
    auto loss = make_loss(c["loss"].get<std::string>(), c["from_logits"].get<bool>());
    std::vector<float> grad(y_pred.size(), -123.0f);
    bool wrt_logits = !c["grad_wrt_logits"].get<bool>();
    const double sum = loss->compute(batch, grad.data(), &wrt_logits);
    const double expected_sum = c["expected_sum"];
    EXPECT_NEAR(sum, expected_sum, 1e-5 * std::max(1.0, std::abs(expected_sum)));
    EXPECT_EQ(wrt_logits, c["grad_wrt_logits"].get<bool>());
    const auto expected_grad = c["expected_grad"].get<std::vector<double>>();
    ASSERT_EQ(grad.size(), expected_grad.size());
    for (size_t i = 0; i < grad.size(); ++i) {
      EXPECT_NEAR(grad[i], expected_grad[i], 1e-6 + 1e-5 * std::abs(expected_grad[i])) << "i=" << i;
    }
    // Value without gradient is the same number.
    EXPECT_EQ(loss->compute(batch, nullptr, nullptr), sum);
  }
}

TEST(LossClosedForm, SoftmaxLogitsPathIsNotClippedButProbabilityPathIs) {
  // A confidently wrong prediction: logits (0, 40) with label 0. Through the logits the loss is
  // logsumexp - z_0 = 40 + log1p(e^-40) ~ 40; through the (saturated) probabilities it is capped
  // at -log(1e-7) plus the log of the clipped row sum.
  const float logits[2] = {0.0f, 40.0f};
  const float probs[2] = {0.0f, 1.0f};
  const float label[1] = {0.0f};
  LossBatch b{probs, logits, LogitsOf::kSoftmax, label, 1, 2, 1};
  auto scce = make_loss("sparse_categorical_crossentropy");
  bool wrt_logits = false;
  EXPECT_NEAR(scce->compute(b, nullptr, &wrt_logits), 40.0, 1e-9);
  b.logits = nullptr;
  const double clipped = scce->compute(b, nullptr, &wrt_logits);
  const double eps = 1e-7f, top = 1.0f - 1e-7f;
  EXPECT_NEAR(clipped, std::log(eps + top) - std::log(eps), 1e-6);
}

// Evaluation (no gradient buffer) takes the exponentials a block of rows at a time through a
// stack buffer (102 rows of 10, 1 row of 2,000); training takes them all at once in the gradient
// buffer. Both must give the same loss to the bit, for every row count around the block edges.
TEST(LossClosedForm, SoftmaxCrossEntropyWithAndWithoutGradientAgree) {
  for (int64_t width : {10, 2000}) {
    for (int64_t batch : {0, 1, 101, 102, 103, 250}) {
      std::vector<float> logits(static_cast<size_t>(batch * width)), labels(static_cast<size_t>(batch));
      for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>((i * 7919) % 97) * 0.1f - 4.0f;
      for (int64_t s = 0; s < batch; ++s) labels[size_t(s)] = static_cast<float>((s * 3) % width);
      if (batch > 0) logits[1] = -INFINITY;  // a class the model rules out: probability 0
      LossBatch b;
      b.y_pred = logits.data();
      b.y_true = labels.data();
      b.batch = batch;
      b.width = width;
      b.true_width = 1;
      auto loss = make_loss("sparse_categorical_crossentropy", /*from_logits=*/true);
      std::vector<float> grad(logits.size());
      const double with_grad = loss->compute(b, grad.data(), nullptr);
      const double without = loss->compute(b, nullptr, nullptr);
      EXPECT_EQ(with_grad, without) << width << " x " << batch;
      if (batch > 0) {
        EXPECT_EQ(grad[1], 0.0f);  // exp(-inf) = 0
        EXPECT_TRUE(std::isfinite(with_grad));
      } else {
        EXPECT_EQ(with_grad, 0.0);
      }
    }
  }
}

TEST(LossErrors, SparseLabelOutOfRangeNamesSampleAndValue) {
  const float probs[6] = {0.2f, 0.3f, 0.5f, 0.1f, 0.1f, 0.8f};
  const float labels[2] = {1.0f, 3.0f};
  LossBatch b{probs, nullptr, LogitsOf::kSoftmax, labels, 2, 3, 1};
  auto scce = make_loss("sparse_categorical_crossentropy");
  try {
    scce->compute(b, nullptr, nullptr);
    FAIL() << "expected keel::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("sample 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("is 3"), std::string::npos) << msg;
  }
  const float negative[2] = {-1.0f, 0.0f};
  b.y_true = negative;
  EXPECT_THROW(scce->compute(b, nullptr, nullptr), Error);
  const float fractional[2] = {0.5f, 0.0f};
  b.y_true = fractional;
  EXPECT_THROW(scce->compute(b, nullptr, nullptr), Error);
}

TEST(LossErrors, NamesAndDims) {
  EXPECT_EQ(make_loss("mse")->name(), "mean_squared_error");
  EXPECT_EQ(make_loss("MeanAbsoluteError")->name(), "mean_absolute_error");
  EXPECT_EQ(make_loss("SparseCategoricalCrossentropy", true)->name(),
            "sparse_categorical_crossentropy");
  EXPECT_TRUE(make_loss("binary_crossentropy", true)->from_logits());
  EXPECT_THROW(make_loss("hinge"), Error);
  EXPECT_THROW(make_loss("mse", true), Error);
  const float x[4] = {0.1f, 0.9f, 0.5f, 0.5f};
  LossBatch b{x, nullptr, LogitsOf::kSoftmax, x, 2, 2, 1};
  EXPECT_THROW(make_loss("categorical_crossentropy")->compute(b, nullptr, nullptr), Error);
}

}  // namespace
}  // namespace keel
