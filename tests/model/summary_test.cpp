// Sequential::summary() and the summary table formatter against texts produced by
// tools/golden/summary_keras.py (a transcription of tf.keras 2.11 print_summary) and the seed's
// reference summaries.
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "keel/core/error.h"
#include "keel/layers/layers.h"
#include "keel/model/sequential.h"
#include "keel/model/summary_format.h"

// Keras-style options (`Dense(10, {.activation = "softmax"})`) leave the other fields at their
// defaults on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace keel {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string data(const std::string& relative) {
  return std::string(KEEL_SOURCE_DIR) + "/tests/data/" + relative;
}

TEST(SummaryFormat, RowsMatchKerasPrintRow) {
  const auto cases = nlohmann::json::parse(read_text(data("summary/rows.json")));
  ASSERT_GE(cases.size(), 8u);
  for (const auto& c : cases) {
    const auto fields = c["fields"].get<std::vector<std::string>>();
    EXPECT_EQ(format_summary_row(fields, {29, 55, 65}), c["text"].get<std::string>())
        << "fields: " << c["fields"].dump();
  }
}

TEST(SummaryFormat, ThousandsSeparators) {
  EXPECT_EQ(format_thousands(0), "0");
  EXPECT_EQ(format_thousands(999), "999");
  EXPECT_EQ(format_thousands(1000), "1,000");
  EXPECT_EQ(format_thousands(2368), "2,368");
  EXPECT_EQ(format_thousands(271346), "271,346");
  EXPECT_EQ(format_thousands(11634698), "11,634,698");
  EXPECT_EQ(format_thousands(-1234567), "-1,234,567");
  EXPECT_EQ(format_thousands(std::numeric_limits<int64_t>::max()), "9,223,372,036,854,775,807");
  EXPECT_EQ(format_thousands(std::numeric_limits<int64_t>::min()), "-9,223,372,036,854,775,808");
}

TEST(SummaryFormat, EmptyModelHasHeaderAndFooterOnly) {
  const std::string expected =
      "Model: \"m\"\n" + std::string(65, '_') + "\n" +
      " Layer (type)                Output Shape              Param #   \n" +
      std::string(65, '=') + "\n" + std::string(65, '=') + "\n" +
      "Total params: 0\nTrainable params: 0\nNon-trainable params: 0\n" + std::string(65, '_') +
      "\n";
  EXPECT_EQ(format_summary("m", {}, 0, 0), expected);
}

// The seed's first model (seed-material.md), built in code with fresh default names.
Sequential seed_mlp() {
  return Sequential(
      Flatten({.input_shape = {28, 28}}), BatchNormalization(),
      Dense(300, {.activation = "elu", .kernel_initializer = "he_normal"}), BatchNormalization(),
      Dense(100, {.activation = "elu", .kernel_initializer = "he_normal"}), BatchNormalization(),
      Dense(10, {.activation = "softmax"}));
}

// The seed's second model: BN before the activation, Dense without bias.
Sequential seed_mlp_bn_before() {
  return Sequential(
      Flatten({.input_shape = {28, 28}}), BatchNormalization(),
      Dense(300, {.use_bias = false, .kernel_initializer = "he_normal"}), BatchNormalization(),
      Activation("elu"), Dense(100, {.use_bias = false, .kernel_initializer = "he_normal"}),
      BatchNormalization(), Activation("elu"), Dense(10, {.activation = "softmax"}));
}

TEST(Summary, SeedMlpMatchesReference) {
  reset_default_names();
  Model model = seed_mlp();
  model.build();
  // tests/data/summary/seed_mlp.txt is /work/shared/reference/summary-seed-mlp.txt byte for byte
  // (tools/golden/summary_keras.py asserts it), committed so the test is self-contained.
  EXPECT_EQ(model.summary(), read_text(data("summary/seed_mlp.txt")));
}

TEST(Summary, SeedMlpBnBeforeMatchesReference) {
  reset_default_names();
  Model model = seed_mlp_bn_before();
  model.build();
  EXPECT_EQ(model.summary(), read_text(data("summary/seed_mlp_bn_before.txt")));
}

TEST(Summary, FrozenBatchNormalizationCountsAsNonTrainable) {
  reset_default_names();
  Model model = seed_mlp();
  // Frozen before build, as `layer.trainable = False` before compile in Keras.
  model.layer(1).set_trainable(false);
  model.layer(5).set_trainable(false);
  model.set_name("sequential_frozen_bn");
  model.build();
  EXPECT_EQ(model.summary(), read_text(data("summary/frozen_bn.txt")));
}

TEST(Summary, RequiresABuiltModel) {
  reset_default_names();
  Sequential model(Dense(3));
  EXPECT_THROW(model.summary(), Error);
}

}  // namespace
}  // namespace keel
