// fold_batch_norm on functional graphs: which BN calls fold where, what stays and why, and that the
// folded model predicts what the original does (its BN inference path is the independent
// reference), with the same names.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "graph_models.h"
#include "keel/deploy/fold_batch_norm.h"

namespace keel {
namespace {

using namespace graph_test;

int count_class(const Model& m, const std::string& cls) {
  int n = 0;
  for (const auto& layer : m.layers()) n += layer->class_name() == cls;
  return n;
}

std::vector<std::string> names(const Model& m) {
  std::vector<std::string> out;
  for (const auto& layer : m.layers()) out.push_back(layer->name());
  return out;
}

TEST(FoldBatchNormGraph, ResidualMlpBnFoldsEveryBnIntoTheDenseBeforeIt) {
  reset_default_names();
  Model m = residual_mlp_bn(20, 12);
  randomize_batch_norm(m, 4);
  const std::vector<float> before(m.parameter_arena().begin(), m.parameter_arena().end());
  FoldResult r = fold_batch_norm(m);
  EXPECT_EQ(0, std::memcmp(before.data(), m.parameter_arena().data(), before.size() * 4));
  EXPECT_TRUE(r.kept.empty()) << r.report();
  ASSERT_EQ(r.folded.size(), 4u) << r.report();
  // dense is the stem; each block is dense_{2k+1} -> BN -> elu -> dense_{2k+2} -> BN.
  const char* into[] = {"dense_1", "dense_2", "dense_3", "dense_4"};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(r.folded[i].dense_layer, into[i]) << r.report();
    EXPECT_TRUE(r.folded[i].into_previous) << r.report();
  }
  EXPECT_EQ(count_class(r.model, "BatchNormalization"), 0);
  EXPECT_STREQ(r.model.class_name(), "Functional");
  EXPECT_EQ(r.model.name(), m.name());
  std::vector<std::string> expected;
  for (const std::string& n : names(m))
    if (n.find("batch_normalization") == std::string::npos) expected.push_back(n);
  EXPECT_EQ(names(r.model), expected);
  const Tensor x = random_normal({32, 20}, 7);
  EXPECT_LE(max_rel_diff(m.predict(x), r.model.predict(x)), 1e-5);
}

// x -> Dense(linear) -> BN -> Add(with the Dense output): the Dense output feeds the Add too, so
// the BN cannot fold back; after it comes an Add: it stays. BN2 feeds two Dense heads: folds into
// both. BN3 after a shared Dense stays.
TEST(FoldBatchNormGraph, KeepsWhatCannotFoldAndSaysWhy) {
  reset_default_names();
  KerasTensor x = Input({6});
  KerasTensor d = Dense(6, {.name = "pre"})(x);
  KerasTensor skip = Add()({d, BatchNormalization({.name = "bn_skip"})(d)});
  KerasTensor n2 = BatchNormalization({.name = "bn_heads"})(skip);
  KerasTensor h1 = Dense(4, {.activation = "tanh", .name = "head1"})(n2);
  KerasTensor h2 = Dense(4, {.name = "head2"})(n2);
  auto shared = keel::shared(Dense(4, {.name = "shared"}));
  KerasTensor s1 = (*shared)(h1), s2 = (*shared)(h2);
  KerasTensor n3 = BatchNormalization({.name = "bn_shared"})(s1);
  Model m(x, Add()({n3, s2}));
  randomize_batch_norm(m, 9);
  for (Variable* v : m.variables())  // the names above do not contain "batch_normalization"
    if (v->name.starts_with("bn_")) {
      Rng rng(v->size());
      for (int64_t i = 0; i < v->size(); ++i) v->value[i] = 0.4f + rng.uniform();
    }
  FoldResult r = fold_batch_norm(m);
  ASSERT_EQ(r.kept.size(), 2u) << r.report();
  EXPECT_EQ(r.kept[0].bn_layer, "bn_skip");
  EXPECT_NE(r.kept[0].reason.find("preceded by Dense 'pre', whose output also feeds Add"),
            std::string::npos) << r.report();
  EXPECT_NE(r.kept[0].reason.find("followed by Add"), std::string::npos) << r.report();
  EXPECT_EQ(r.kept[1].bn_layer, "bn_shared");
  EXPECT_NE(r.kept[1].reason.find("Dense 'shared', which is called 2 times"), std::string::npos)
      << r.report();
  ASSERT_EQ(r.folded.size(), 2u) << r.report();
  EXPECT_EQ(r.folded[0].bn_layer, "bn_heads");
  EXPECT_EQ(r.folded[0].dense_layer, "head1");
  EXPECT_EQ(r.folded[1].dense_layer, "head2");
  EXPECT_FALSE(r.folded[0].into_previous);
  // Three BN calls, one folded (into two heads: two entries above, one call).
  EXPECT_EQ(r.calls_folded, 1);
  EXPECT_EQ(r.calls_total, 3);
  EXPECT_EQ(count_class(r.model, "BatchNormalization"), 2);
  const Tensor in = random_normal({16, 6}, 3);
  EXPECT_LE(max_rel_diff(m.predict(in), r.model.predict(in)), 1e-5);
}

// A BN whose output is a model output and also read inside the graph stays; a BN called twice
// folds at each call on its own (into different Dense layers).
TEST(FoldBatchNormGraph, OutputsAndSharedBnCalls) {
  reset_default_names();
  KerasTensor a = Input({5}, {.name = "a"}), b = Input({5}, {.name = "b"});
  auto bn = keel::shared(BatchNormalization({.name = "bn_shared"}));
  KerasTensor fa = Dense(3, {.name = "fa"})((*bn)(a));
  KerasTensor fb = (*bn)(Dense(5, {.name = "fb"})(b));
  KerasTensor out_bn = BatchNormalization({.name = "bn_out"})(Dense(5, {.activation = "relu"})(b));
  Model m({a, b}, {fa, Dense(2, {.name = "tail"})(Concatenate()({fb, out_bn})), out_bn});
  for (Variable* v : m.variables())
    if (v->name.starts_with("bn_")) {
      Rng rng(v->size() + v->name.size());
      for (int64_t i = 0; i < v->size(); ++i) v->value[i] = 0.4f + rng.uniform();
    }
  FoldResult r = fold_batch_norm(m);
  ASSERT_EQ(r.folded.size(), 2u) << r.report();
  std::map<std::string, bool> into_previous;  // execution order decides which call comes first
  for (const BnFold& f : r.folded) {
    EXPECT_EQ(f.bn_layer, "bn_shared");
    into_previous[f.dense_layer] = f.into_previous;
  }
  EXPECT_EQ(into_previous, (std::map<std::string, bool>{{"fa", false}, {"fb", true}})) << r.report();
  ASSERT_EQ(r.kept.size(), 1u) << r.report();
  EXPECT_EQ(r.kept[0].bn_layer, "bn_out");
  EXPECT_NE(r.kept[0].reason.find("its output is also a model output"), std::string::npos)
      << r.report();
  EXPECT_EQ(count_class(r.model, "BatchNormalization"), 1);
  EXPECT_EQ(r.calls_folded, 2);  // both calls of the shared BN
  EXPECT_EQ(r.calls_total, 3);
  ASSERT_EQ(r.model.num_inputs(), 2);
  EXPECT_EQ(r.model.tensors()[size_t(r.model.input_tensors()[1])].input_layer->name(), "b");
  const std::vector<Tensor> xs = {random_normal({8, 5}, 1), random_normal({8, 5}, 2)};
  const auto before = predict_all(m, xs), after = predict_all(r.model, xs);
  ASSERT_EQ(after.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_LE(max_rel_diff(before[i], after[i]), 1e-5) << i;
}

}  // namespace
}  // namespace keel
