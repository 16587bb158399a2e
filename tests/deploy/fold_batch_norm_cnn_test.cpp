// fold_batch_norm on convolutional networks (issue 13): a BN after a Conv2D folds per output
// channel; a BN before a Conv2D folds only where the convolution reads no zero padding. The
// reference is the unfolded model's own BN inference path.
#include <gtest/gtest.h>

#include "graph_models.h"
#include "keel/deploy/fold_batch_norm.h"
#include "keel/layers/layers.h"
#include "keel/model/builtin_models.h"

namespace keel {
namespace {

using namespace graph_test;

TEST(FoldBatchNormCnn, SeedCnnFoldsEveryBnIntoTheLayerBeforeIt) {
  reset_default_names();
  Model m = builtin_model("seed-cnn");
  randomize_batch_norm(m, 3);
  FoldResult r = fold_batch_norm(m);
  EXPECT_TRUE(r.kept.empty()) << r.report();
  EXPECT_EQ(r.calls_folded, 5);
  EXPECT_EQ(r.calls_total, 5);
  ASSERT_EQ(r.folded.size(), 5u) << r.report();
  const char* into_class[] = {"Conv2D", "Conv2D", "Conv2D", "Conv2D", "Dense"};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(r.folded[i].into_previous) << r.report();
    EXPECT_EQ(r.folded[i].into_class, into_class[i]) << r.report();
  }
  EXPECT_NE(r.report().find("(the Conv2D before it: kernel columns scaled, bias shifted)"),
            std::string::npos) << r.report();
  for (const auto& layer : r.model.layers()) EXPECT_NE(layer->class_name(), "BatchNormalization");
  const Tensor x = random_normal({8, 28, 28}, 5);
  EXPECT_LE(max_rel_diff(m.predict(x), r.model.predict(x)), 1e-5);
}

// BN -> Conv2D: folds into a 'valid' convolution (every kernel row reads real input); stays before
// a 'same' 3x3 one, whose zero padding would not get the BN's shift.
TEST(FoldBatchNormCnn, BnBeforeAConvFoldsOnlyWithoutZeroPadding) {
  for (const char* padding : {"valid", "same"}) {
    reset_default_names();
    KerasTensor in = Input({9, 7, 3});
    KerasTensor h = BatchNormalization()(in);
    h = Conv2D(4, {3, 2}, {.strides = 2, .padding = padding, .activation = "relu"})(h);
    Model m(in, Dense(5)(Flatten()(h)), "bn_conv");
    m.build(std::nullopt, 11);
    randomize_batch_norm(m, 6);
    FoldResult r = fold_batch_norm(m);
    const Tensor x = random_normal({4, 9, 7, 3}, 8);
    EXPECT_LE(max_rel_diff(m.predict(x), r.model.predict(x)), 1e-5) << padding;
    if (std::string(padding) == "valid") {
      ASSERT_EQ(r.folded.size(), 1u) << r.report();
      EXPECT_FALSE(r.folded[0].into_previous);
      EXPECT_EQ(r.folded[0].into_class, "Conv2D");
    } else {
      EXPECT_TRUE(r.folded.empty()) << r.report();
      ASSERT_EQ(r.kept.size(), 1u) << r.report();
      EXPECT_NE(r.kept[0].reason.find("zero padding"), std::string::npos) << r.kept[0].reason;
    }
  }
}

}  // namespace
}  // namespace keel
