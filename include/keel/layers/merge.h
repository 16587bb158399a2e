// Merge layers (Keras keras.layers.Add, Subtract, Multiply, Average, Maximum, Minimum,
// Concatenate): no variables, two or more inputs of the same shape (Concatenate: equal except
// along `axis`). Inputs are combined in input order, as Keras folds them.
//
//   auto y = keel::Add()({x, h});      auto c = keel::Concatenate({.axis = -1})({a, b});
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "keel/kernels/merge.h"
#include "keel/layers/layer.h"

namespace keel {

struct MergeOptions {
  std::string name{};
  bool trainable = true;
};

// The elementwise merges share everything but their operation, which also gives their Keras class
// name and default-name prefix (Add / "add", ...).
class ElementwiseMerge : public Layer {
 public:
  ElementwiseMerge(MergeOp op, MergeOptions options);
  std::string class_name() const override;
  std::unique_ptr<Layer> clone() const override { return std::make_unique<ElementwiseMerge>(*this); }
  MergeOp op() const { return op_; }
  int num_inputs() const override { return op_ == MergeOp::kSubtract ? 2 : kVariadic; }
  std::vector<Shape> compute_output_shapes(std::span<const Shape> input_shapes) const override;
  void forward(const Context& ctx, std::span<const TensorRef> x,
               std::span<const TensorRef> y) override;
  void backward(const Context& ctx, std::span<const TensorRef> x, std::span<const TensorRef> y,
                std::span<const TensorRef> dy, std::span<const TensorRef> dx, Write write) override;
  nlohmann::json get_config() const override;

 private:
  MergeOp op_;
};

class Add : public ElementwiseMerge {
 public:
  explicit Add(MergeOptions options = {}) : ElementwiseMerge(MergeOp::kAdd, std::move(options)) {}
};
class Subtract : public ElementwiseMerge {
 public:
  explicit Subtract(MergeOptions options = {})
      : ElementwiseMerge(MergeOp::kSubtract, std::move(options)) {}
};
class Multiply : public ElementwiseMerge {
 public:
  explicit Multiply(MergeOptions options = {})
      : ElementwiseMerge(MergeOp::kMultiply, std::move(options)) {}
};
class Average : public ElementwiseMerge {
 public:
  explicit Average(MergeOptions options = {})
      : ElementwiseMerge(MergeOp::kAverage, std::move(options)) {}
};
class Maximum : public ElementwiseMerge {
 public:
  explicit Maximum(MergeOptions options = {})
      : ElementwiseMerge(MergeOp::kMaximum, std::move(options)) {}
};
class Minimum : public ElementwiseMerge {
 public:
  explicit Minimum(MergeOptions options = {})
      : ElementwiseMerge(MergeOp::kMinimum, std::move(options)) {}
};

struct ConcatenateOptions {
  int64_t axis = -1;  // negative counts from the end; never the batch axis
  std::string name{};
  bool trainable = true;
};

class Concatenate : public Layer {
 public:
  explicit Concatenate(ConcatenateOptions options = {});
  std::string class_name() const override { return "Concatenate"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Concatenate>(*this); }
  int num_inputs() const override { return kVariadic; }
  int64_t axis() const { return options_.axis; }  // as given: negative counts from the end
  std::vector<Shape> compute_output_shapes(std::span<const Shape> input_shapes) const override;
  void forward(const Context& ctx, std::span<const TensorRef> x,
               std::span<const TensorRef> y) override;
  void backward(const Context& ctx, std::span<const TensorRef> x, std::span<const TensorRef> y,
                std::span<const TensorRef> dy, std::span<const TensorRef> dx, Write write) override;
  nlohmann::json get_config() const override;
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);

 protected:
  void on_build() override;

 private:
  int64_t normalized_axis(int64_t rank) const;
  ConcatenateOptions options_;
  int64_t inner_ = 1, outer_per_sample_ = 1;  // products of the dims after / between batch and axis
  std::vector<int64_t> widths_;                // per input: dims[axis] · inner
};

// from_config for the elementwise merges: the class name ("Add", ...) picks the operation.
std::unique_ptr<Layer> elementwise_merge_from_config(const std::string& class_name,
                                                     const nlohmann::json& config);

}  // namespace keel
