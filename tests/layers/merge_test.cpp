// Merge layers: finite-difference gradient checks over every input element (k inputs), the
// Keras fold order, Maximum/Minimum ties, Concatenate along inner axes, and shape errors.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "keel/core/error.h"
#include "keel/layers/merge.h"
#include "layer_harness.h"

namespace keel {
namespace {

struct MergeRun {
  std::vector<std::vector<float>> xs;
  std::vector<Shape> shapes;
  int64_t batch;
};

std::vector<TensorRef> views(std::vector<std::vector<float>>& data, const std::vector<Shape>& shapes,
                             int64_t batch) {
  std::vector<TensorRef> out;
  for (size_t i = 0; i < data.size(); ++i)
    out.push_back(TensorRef{data[i].data(), DType::kF32, Dims(shapes[i], batch)});
  return out;
}

std::vector<float> forward(Layer& layer, MergeRun& r) {
  std::vector<std::vector<float>> y(1, std::vector<float>(
      static_cast<size_t>(r.batch * layer.output_shape().sample_size()), NAN));
  const auto x = views(r.xs, r.shapes, r.batch);
  const auto yv = views(y, {layer.output_shape()}, r.batch);
  layer.forward(Context{Mode::kTraining}, x, yv);
  return y[0];
}

// L = Σ w·y; analytic dL/dx_i from backward against central differences, every element.
void check_merge_gradients(Layer& layer, MergeRun r) {
  std::vector<float> y = forward(layer, r);
  const auto w = testing::random_vector(static_cast<int64_t>(y.size()), 77);
  std::vector<std::vector<float>> dx;
  for (const auto& x : r.xs) dx.emplace_back(x.size(), NAN);
  std::vector<std::vector<float>> dy{w}, ys{y};
  const auto x = views(r.xs, r.shapes, r.batch);
  const auto dxv = views(dx, r.shapes, r.batch);
  const auto yv = views(ys, {layer.output_shape()}, r.batch);
  const auto dyv = views(dy, {layer.output_shape()}, r.batch);
  layer.backward(Context{Mode::kTraining}, x, yv, dyv, dxv, Write::kAdd);
  auto loss = [&]() {
    const auto out = forward(layer, r);
    double l = 0;
    for (size_t j = 0; j < out.size(); ++j) l += double(w[j]) * out[j];
    return l;
  };
  const float h = 1e-2f;
  for (size_t i = 0; i < r.xs.size(); ++i) {
    for (size_t j = 0; j < r.xs[i].size(); ++j) {
      const float orig = r.xs[i][j];
      r.xs[i][j] = orig + h;
      const double lp = loss();
      r.xs[i][j] = orig - h;
      const double lm = loss();
      r.xs[i][j] = orig;
      const double numeric = (lp - lm) / (2.0 * h);
      EXPECT_NEAR(dx[i][j], numeric, 2e-3 * std::max(1.0, std::fabs(numeric)))
          << layer.class_name() << " dx" << i << "[" << j << "]";
    }
  }
}

MergeRun random_run(int64_t k, const Shape& shape, int64_t batch) {
  MergeRun r{{}, std::vector<Shape>(size_t(k), shape), batch};
  for (int64_t i = 0; i < k; ++i) {
    // Inputs spread apart so no Maximum/Minimum pair is within the FD step of a tie.
    auto v = testing::random_vector(batch * shape.sample_size(), 10 + uint64_t(i));
    for (size_t j = 0; j < v.size(); ++j) v[j] = v[j] * 0.3f + 0.7f * float((j * 3 + size_t(i) * 5) % 7) - 2.0f;
    r.xs.push_back(v);
  }
  return r;
}

TEST(LayersMerge, FiniteDifferenceGradientsOfEveryElementwiseMerge) {
  const Shape shape{kBatchUnknown, 3, 4};
  std::vector<std::unique_ptr<Layer>> layers;
  layers.push_back(std::make_unique<Add>());
  layers.push_back(std::make_unique<Subtract>());
  layers.push_back(std::make_unique<Multiply>());
  layers.push_back(std::make_unique<Average>());
  layers.push_back(std::make_unique<Maximum>());
  layers.push_back(std::make_unique<Minimum>());
  for (auto& layer : layers) {
    const int64_t k = layer->num_inputs() == Layer::kVariadic ? 3 : 2;
    std::vector<Shape> shapes(size_t(k), shape);
    layer->build(shapes);
    check_merge_gradients(*layer, random_run(k, shape, 2));
  }
}

TEST(LayersMerge, FiniteDifferenceGradientsOfConcatenateOnEveryAxis) {
  for (int64_t axis : {-1, 1, 2}) {
    Concatenate layer({.axis = axis});
    const std::vector<Shape> shapes = {Shape{kBatchUnknown, 2, 3}, Shape{kBatchUnknown, 2, 3}};
    layer.build(shapes);
    MergeRun r = random_run(2, shapes[0], 3);
    check_merge_gradients(layer, r);
  }
  Concatenate uneven;
  const std::vector<Shape> shapes = {Shape{kBatchUnknown, 2}, Shape{kBatchUnknown, 5}};
  uneven.build(shapes);
  EXPECT_EQ(uneven.output_shape(), (Shape{kBatchUnknown, 7}));
  MergeRun r{{testing::random_vector(4, 1), testing::random_vector(10, 2)}, shapes, 2};
  const auto y = forward(uneven, r);
  // Row 1 is x0's row 1 then x1's row 1.
  EXPECT_EQ(y[7], r.xs[0][2]);
  EXPECT_EQ(y[9], r.xs[1][5]);
}

TEST(LayersMerge, FoldOrderAndTiesFollowKeras) {
  // Average divides the left-to-right sum by k; Maximum sends a tie's gradient to the first input.
  Average avg;
  const std::vector<Shape> shapes(3, Shape{kBatchUnknown, 1});
  avg.build(shapes);
  MergeRun r{{{1e8f}, {1.0f}, {-1e8f}}, shapes, 1};
  EXPECT_EQ(forward(avg, r)[0], ((1e8f + 1.0f) + -1e8f) / 3.0f);
  Maximum mx;
  mx.build(shapes);
  MergeRun tie{{{2.0f}, {2.0f}, {1.0f}}, shapes, 1};
  std::vector<std::vector<float>> dx(3, std::vector<float>(1, NAN)), dy{{5.0f}}, y{forward(mx, tie)};
  mx.backward(Context{Mode::kTraining}, views(tie.xs, shapes, 1), views(y, {shapes[0]}, 1),
              views(dy, {shapes[0]}, 1), views(dx, shapes, 1), Write::kAdd);
  EXPECT_EQ(dx[0][0], 5.0f);
  EXPECT_EQ(dx[1][0], 0.0f);
  EXPECT_EQ(dx[2][0], 0.0f);
}

TEST(LayersMerge, ShapeErrorsNameTheLayer) {
  Add add({.name = "join"});
  const std::vector<Shape> mismatched = {Shape{kBatchUnknown, 3}, Shape{kBatchUnknown, 4}};
  try {
    add.build(mismatched);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'join'"), std::string::npos) << e.what();
  }
  Subtract sub;
  const std::vector<Shape> three(3, Shape{kBatchUnknown, 3});
  EXPECT_THROW(sub.build(three), Error);
  Concatenate cat({.axis = 0});
  EXPECT_THROW(cat.build(mismatched), Error);
}

}  // namespace
}  // namespace keel
