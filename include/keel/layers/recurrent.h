// Recurrent: what SimpleRNN, LSTM and GRU share (Keras base_rnn.py semantics), and RecurrentOptions,
// their Keras arguments.
//
//   keel::LSTM(128, {.return_sequences = true})
//
// Input (batch, timesteps, features), output (batch, units), or (batch, timesteps, units) with
// return_sequences; with return_state the layer has more outputs: [output, h_T] (SimpleRNN, GRU)
// or [output, h_T, c_T] (LSTM). go_backwards reads x_{T-1} ... x_0 and returns the sequence in
// that processing order (Keras does not re-reverse it). Initial states are zeros.
//
// Variables (Keras names, order and shapes): "<layer>/<cell>/kernel:0" (features, G·units),
// "<layer>/<cell>/recurrent_kernel:0" (units, G·units) and "<layer>/<cell>/bias:0", where the cell
// is named like a Keras layer of its own ("lstm_cell", "lstm_cell_1", ...) and G is the number of
// gates (1, 4 or 3), their column blocks in Keras's order.
//
// How it runs: the input is copied time-major (T, batch, features) in processing order (with the
// dropout mask applied), projected for every timestep by ONE GEMM (T·batch rows), and the bias
// added; then each step is one GEMM h_{t-1}·U plus the cell's elementwise gate math. Backward
// through time walks the steps back with one GEMM each (dL/dh_{t-1}), then the kernel, recurrent
// kernel and input gradients are again one GEMM each over all timesteps. Every buffer is kept
// between calls: no allocation per step, nor per batch once a batch of that size has been seen.
//
// Dropout (training only; see gate_masks.h) follows tf.keras 2.12 exactly, trap included:
//  * `recurrent_dropout` masks h_{t-1} where it enters the recurrent product, one (batch, units)
//    mask per gate sampled once per batch and reused at every timestep. As in Keras, it switches
//    an LSTM or GRU to implementation 1. Keras's GRU mixes the UNmasked h_{t-1} into
//    h_t = z·h_{t-1} + (1-z)·hh.
//  * `dropout` masks the input. An LSTM / GRU that Keras runs on its fused path (tanh, sigmoid,
//    use_bias, no recurrent_dropout, no unroll; GRU also reset_after) masks the whole
//    (batch, T, features) input at once: a FRESH mask at every timestep. Otherwise (SimpleRNN, or
//    any other LSTM / GRU) the cell masks it: one (batch, features) mask reused at every timestep,
//    one per gate with implementation 1.
// stateful is not supported yet (a clear error); unroll is accepted and changes nothing (the
// same math, as in Keras).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "keel/core/rng.h"
#include "keel/core/tensor.h"
#include "keel/layers/activation_function.h"
#include "keel/layers/gate_masks.h"
#include "keel/layers/layer.h"

namespace keel {

struct RecurrentOptions {
  ActivationFunction activation = "tanh";
  ActivationFunction recurrent_activation = "sigmoid";  // LSTM and GRU gates (not SimpleRNN)
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer recurrent_initializer = "orthogonal";
  Initializer bias_initializer = "zeros";
  bool unit_forget_bias = true;  // LSTM: the forget gate's bias starts at 1
  bool reset_after = true;       // GRU: TF2's variant (bias (2, 3·units)); false: the original
  double dropout = 0.0;
  double recurrent_dropout = 0.0;
  int64_t implementation = 2;  // LSTM, GRU: 1 = per-gate dropout masks (forced by recurrent_dropout)
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;
  bool stateful = false;  // only false for now
  bool unroll = false;    // accepted; the math is the same either way
  std::optional<int64_t> seed{};  // the dropout generator's seed; default: keel's per-layer stream
  std::vector<int64_t> input_shape{};  // (timesteps, features)
  std::string name{};
  bool trainable = true;
};

class Recurrent : public Layer {
 public:
  int64_t units() const { return units_; }
  const RecurrentOptions& options() const { return options_; }
  // The cell's Keras name ("lstm_cell" in layer "lstm", "lstm_cell_1" in "lstm_1"), taken when
  // the layer is first built; before that the bare prefix.
  const std::string& cell_name() const { return cell_name_.empty() ? cell_prefix_ : cell_name_; }
  const std::string& cell_prefix() const { return cell_prefix_; }
  // n of a default-named layer ("lstm" -> 0, "lstm_3" -> 3); nullopt for a name the user chose.
  std::optional<int64_t> default_name_number() const;

  // For Bidirectional: an unbuilt copy named `name`, whose cell is `cell`, reading the sequence
  // backwards or not. Its dropout generator is its own (the same seed when one was given, as a
  // Keras layer recreated from the config).
  std::unique_ptr<Recurrent> recreate(std::string name, std::string cell, bool go_backwards) const;

  // Makes training forwards use these dropout masks (0 or 1/(1 - rate)), in Keras's layouts,
  // instead of sampled ones: how another implementation's random masks are reproduced in a test.
  // input: (batch, timesteps, features) on Keras's fused path, else (masks, batch, features);
  // recurrent: (gates, batch, units). Empty: sample that one. Checked against the next batch.
  void replay_dropout_masks(std::vector<float> input, std::vector<float> recurrent);

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
  // gates: G, the column blocks of kernel / recurrent_kernel; states: 1 (h) or 2 (h, c).
  Recurrent(std::string_view layer_prefix, std::string_view cell_prefix, int64_t units,
            RecurrentOptions options, int64_t gates, int64_t states);
  void on_build() override;

  // Whether tf.keras 2.12 runs this layer on its fused (cuDNN-compatible) path, where the input
  // dropout mask is drawn for every timestep (K2 lstm.py / gru.py `_could_use_gpu_kernel`).
  virtual bool on_keras_fused_path() const { return false; }
  // The conditions LSTM and GRU share for that path: tanh, sigmoid, no recurrent_dropout, no
  // unroll, use_bias (GRU adds reset_after).
  bool meets_keras_fused_conditions() const;
  // The Keras class-specific keys of get_config (the shared ones are written by the base).
  virtual void add_config(nlohmann::json& config) const = 0;
  // The bias: its shape and initial values (LSTM's unit_forget_bias, GRU's (2, 3u)).
  virtual VariableSpec bias_spec() const;

  // Cell steps, time-major, in processing order. xp(t) holds x_t·K + input bias for the batch
  // (batch, G·units) and may be overwritten with the step's pre-activations; h(t) is h_{t-1}
  // (h(0) = 0) and the step writes h(t + 1).
  virtual void step_forward(int64_t t, int64_t batch, Mode mode) = 0;
  // Backward of step t: dh holds dL/dh_t on entry and dL/dh_{t-1} on exit; writes dxp(t), the
  // gradient of the step's input projection (x_t·K + input bias).
  virtual void step_backward(int64_t t, int64_t batch) = 0;
  // After the last step_backward: the recurrent kernel's gradient and the bias's (the input part,
  // the column sums of dxp, and a GRU's recurrent part).
  virtual void recurrent_parameter_gradients(int64_t batch, Write write) = 0;
  // The extra states beyond h (LSTM's c): final value of state s and the gradient arriving there.
  virtual const float* final_extra_state(int64_t s, int64_t batch) const;
  virtual void seed_extra_state_gradient(int64_t s, const float* d, int64_t batch);
  // Sizes every buffer of the subclass for this batch (called before a forward).
  virtual void ensure_cell_buffers(int64_t batch) = 0;

  // Buffers shared with the cells.
  int64_t timesteps() const { return timesteps_; }
  int64_t features() const { return features_; }
  int64_t gate_width() const { return gates_ * units_; }
  float* xp(int64_t t, int64_t batch) { return xp_.data() + t * batch * gate_width(); }
  float* dxp(int64_t t, int64_t batch) { return dxp_.data() + t * batch * gate_width(); }
  float* h(int64_t t, int64_t batch) { return h_.data() + t * batch * units_; }
  float* dh() { return dh_.data(); }
  const Variable& kernel() const { return variables()[0]; }
  const Variable& recurrent_kernel() const { return variables()[1]; }
  const Variable* bias() const { return options_.use_bias ? &variables()[2] : nullptr; }
  // The recurrent dropout masks of this training pass, or nullptr when nothing is dropped.
  GateMasks* recurrent_masks() { return recurrent_masks_.active() ? &recurrent_masks_ : nullptr; }
  // out (batch, G·units) (+)= h_{t-1}·U, through the recurrent dropout masks when active.
  void recurrent_product(int64_t t, int64_t batch, float* out, bool accumulate);
  // dh (batch, units) (+)= d·Uᵀ for d (batch, G·units), through the masks when active.
  void recurrent_product_backward(const float* d, int64_t batch, float* dh, bool accumulate);
  // Column sums of dxp over every step into `out` (G·units): the input bias's gradient.
  void sum_dxp_columns(float* out, int64_t batch, Write write) const;
  // dU (+)= Σ_t h_{t-1}ᵀ·d(t) over every step for d time-major (T, batch, G·units): one GEMM
  // (one per gate through the recurrent dropout masks).
  void recurrent_kernel_gradient(const float* d, int64_t batch, Write write);

  // Validates an activation argument (softmax is not elementwise).
  static ActivationFunction check_gate_activation(const ActivationFunction& f,
                                                  const std::string& layer, const char* key);

  // from_config helper: the shared keys parsed into options, and with `gated` (LSTM, GRU)
  // recurrent_activation and implementation; `extra_keys` are left to the caller.
  static RecurrentOptions options_from_config(const nlohmann::json& config,
                                              std::string_view class_name, bool gated,
                                              std::initializer_list<std::string_view> extra_keys);

 private:
  int64_t units_;
  RecurrentOptions options_;
  int64_t gates_, states_;
  std::string derive_cell_name() const;

  std::string layer_prefix_, cell_prefix_, cell_name_;
  int64_t timesteps_ = 0, features_ = 0;
  Rng rng_;
  int64_t input_mask_count() const { return options_.implementation == 1 ? gates_ : 1; }
  void sample_dropout_masks(int64_t batch);
  GateMasks input_masks_;      // the latest forward's dropout masks (inactive: nothing dropped)
  GateMasks recurrent_masks_;
  std::vector<float> replay_input_, replay_recurrent_;  // see replay_dropout_masks
  ScratchBuffer xs_;   // (T, batch, features): the input, time-major, processing order
  ScratchBuffer xp_;   // (T, batch, G·units)
  ScratchBuffer dxp_;  // (T, batch, G·units)
  ScratchBuffer h_;    // (T + 1, batch, units)
  ScratchBuffer dh_;   // (batch, units)
  ScratchBuffer dxs_;  // (T, batch, features)
};

}  // namespace keel
