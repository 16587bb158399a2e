// Bidirectional: Keras's wrapper running a recurrent layer over the sequence both ways.
//
//   keel::Bidirectional(keel::LSTM(64, {.return_sequences = true}), {.merge_mode = "sum"})
//
// Two copies of the wrapped layer are made, as Keras recreates them from its config: "forward_<name>"
// and "backward_<name>" (go_backwards flipped). Both read the same input; the backward output is
// turned back to the input's time order (Keras reverses it) and the two are merged: "concat"
// (forward first, on the last axis), "sum", "mul", "ave" ((f + b) / 2), or no merge_mode (Keras
// None): both outputs separately. With return_state the outputs are [merged output(s), forward
// states..., backward states...].
//
// Variables, in Keras's order: "bidirectional/forward_lstm/lstm_cell_1/kernel:0", ... then the
// backward layer's. The cells are numbered as Keras numbers them in a fresh process when every
// layer of that class is wrapped: Keras makes three cells per wrapper (the wrapped layer's, then
// the forward and backward copies'), so the wrapped "lstm_n" gives cells 3n+1 and 3n+2. The saved
// model loader matches weight names without the cell scope where numbering differs.
//
// Keras's backward_layer argument (a different backward layer) is not supported (a clear error).
#pragma once

#include <array>
#include <concepts>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "keel/core/tensor.h"
#include "keel/layers/layer.h"
#include "keel/layers/recurrent.h"

namespace keel {

struct BidirectionalOptions {
  // "concat", "sum", "mul", "ave"; std::nullopt is Keras's merge_mode=None (two outputs).
  std::optional<std::string> merge_mode = "concat";
  std::vector<int64_t> input_shape{};  // (timesteps, features); default: the wrapped layer's
  std::string name{};
  std::optional<bool> trainable{};  // default: the wrapped layer's
};

class Bidirectional : public Layer {
 public:
  template <std::derived_from<Recurrent> L>
  explicit Bidirectional(L layer, BidirectionalOptions options = {})
      : Bidirectional(std::unique_ptr<Recurrent>(new L(std::move(layer))), std::move(options)) {}
  Bidirectional(std::unique_ptr<Recurrent> layer, BidirectionalOptions options);
  Bidirectional(const Bidirectional& other);
  Bidirectional& operator=(const Bidirectional&) = delete;
  Bidirectional(Bidirectional&&) = default;
  Bidirectional& operator=(Bidirectional&&) = default;

  std::string class_name() const override { return "Bidirectional"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Bidirectional>(*this); }
  static std::unique_ptr<Layer> from_config(const nlohmann::json& config);

  const std::optional<std::string>& merge_mode() const { return options_.merge_mode; }
  // The wrapped layer as given, and the two copies that run (after build).
  const Recurrent& layer() const { return *layer_; }
  const Recurrent& forward_layer() const { return *forward_; }
  const Recurrent& backward_layer() const { return *backward_; }

  std::vector<Shape> compute_output_shapes(std::span<const Shape> input_shapes) const override;
  std::vector<VariableSpec> variable_specs() const override;
  void forward(const Context& ctx, std::span<const TensorRef> x,
               std::span<const TensorRef> y) override;
  void backward(const Context& ctx, std::span<const TensorRef> x, std::span<const TensorRef> y,
                std::span<const TensorRef> dy, std::span<const TensorRef> dx, Write write) override;
  std::vector<LayerState> save_state() const override;
  void load_state(std::span<const LayerState> state) override;
  nlohmann::json get_config() const override;

 protected:
  void on_named() override;
  void on_build() override;
  void on_bind_variables() override;

 private:
  enum class Merge { kConcat, kSum, kMul, kAve, kNone };
  // One direction's tensors as the wrapped layer takes them: [output, states...] (at most
  // LSTM's output, h and c), in a fixed array so that forward and backward allocate nothing.
  struct DirectionTensors {
    std::array<TensorRef, 3> refs{};
    size_t count = 0;
    std::span<const TensorRef> span() const { return {refs.data(), count}; }
  };
  DirectionTensors direction_outputs(bool backward, std::span<const TensorRef> y, int64_t batch);
  // Where a direction's first state is among the layer's outputs (and their gradients).
  size_t first_state(bool backward) const;

  std::unique_ptr<Recurrent> layer_, forward_, backward_;
  BidirectionalOptions options_;
  Merge merge_ = Merge::kConcat;
  int64_t states_ = 0;  // states per direction that are outputs (0 without return_state)
  ScratchBuffer forward_out_, backward_out_;  // each direction's output (batch, [T,] units)
  ScratchBuffer d_forward_, d_backward_;      // the gradients arriving there
  ScratchBuffer dx_backward_;                 // the backward direction's input gradient
};

}  // namespace keel
