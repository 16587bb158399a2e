// Model::Plan: how a built model runs a batch (private to src/model). See model.h for the rules;
// this is their bookkeeping: buffers, aliases, the backward schedule and the tensor views layers
// receive. Nothing here allocates per step once a batch of that size has been seen.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "keel/core/tensor.h"
#include "keel/core/tensor_ref.h"
#include "keel/model/model.h"

namespace keel {

struct Model::Plan {
  explicit Plan(const Model& model);

  void forward(std::span<const float* const> xs, int64_t batch, Mode mode, BatchSlice slice);
  void backward(std::span<const float* const> dys, std::span<const bool> from_logits,
                int64_t batch, GradientUpdate update);
  const float* output(int64_t i) const;
  // Whether output i may take the loss's gradient w.r.t. the softmax logits: its producer is a
  // softmax and nothing else reads it.
  bool output_fuses_logits(int64_t i) const;
  // The layers of the nodes fuse_relus() folded into the node before them (their ReLU runs
  // there), or of the MaxPooling2D nodes fuse_max_pools() folded into the layer that took their
  // ReLU; in graph order.
  enum class Fused : uint8_t { kRelus, kMaxPools };
  std::vector<std::string> fused_layer_names(Fused which) const;

  // What layers see as Context::comm (synchronized BatchNormalization); the model's communicator.
  const Communicator* comm = nullptr;

 private:
  // What backward does at one node, decided once per set of trainable flags.
  struct BackwardStep {
    int64_t node = 0;
    Write write = Write::kAdd;   // for the layer's own variables under GradientUpdate::kOverwrite
    // Per input: the gradient buffer written directly, or (when the slot already holds another
    // consumer's gradient) a scratch buffer then added into the slot; -1 when not needed.
    std::vector<int64_t> dx_buffer, add_into_buffer;
    std::vector<int64_t> zero_outputs;  // buffers of outputs nothing reads: dy = 0
    int64_t model_output = -1;          // the model output this node produces, if any
  };
  // How a model output's dy reaches its gradient slot.
  enum class Seed : uint8_t { kInPlace, kCopy, kAdd };
  struct Schedule {
    std::vector<BackwardStep> steps;             // backward order
    std::vector<int64_t> slot_buffer;            // per slot (root tensor): pool buffer or -1
    // Per model output: read in place (the slot's only source), or copied / added into the slot
    // before the consumers inside the graph add theirs.
    std::vector<Seed> seeds;
    std::vector<float*> zero_on_overwrite;       // gradients of variables no step writes
    std::vector<int64_t> zero_sizes;
    int64_t num_buffers = 0;
  };

  struct ScheduleBuilder;  // make_schedule's steps (plan.cpp)

  int64_t root(int64_t t) const { return root_[static_cast<size_t>(t)]; }
  void ensure_capacity(int64_t batch);
  void ensure_schedule();
  Schedule make_schedule() const;
  std::vector<int64_t> readers_per_tensor() const;
  void fuse_relus();
  void fuse_max_pools();

  // Copies of the model's graph (the Model may move; its layers, owned by shared_ptr, do not).
  std::vector<GraphNode> nodes_;
  std::vector<GraphTensor> tensors_;
  std::vector<int64_t> inputs_, outputs_;
  std::vector<int64_t> root_;        // per tensor: the tensor whose storage it is (pure reshapes)
  std::vector<int64_t> width_;       // per tensor: floats per sample
  // Per node: runs nothing, its output is its input's storage and gradient slot (a pure reshape,
  // or an Activation('relu') fused into the layer before it).
  std::vector<bool> aliases_input_;
  std::vector<bool> relu_after_;     // per node: Context::relu_after (a ReLU fused into it)
  std::vector<const Pool2dGeometry*> max_pool_after_;  // per node: Context::max_pool_after
  std::vector<bool> absorbed_;       // per node: a pool run by the node before (runs nothing)
  std::vector<int64_t> readers_;     // per root: (non-reshape consumer, input position) count
  std::vector<float*> data_;         // per tensor: the latest forward's data
  std::vector<std::unique_ptr<float[], detail::AlignedFree>> activations_;  // per tensor (roots)
  int64_t capacity_ = 0;

  // Views handed to layers, refilled per call (fixed size after construction).
  std::vector<std::vector<TensorRef>> x_refs_, y_refs_, dy_refs_, dx_refs_;

  Schedule schedule_;
  std::vector<char> trainable_signature_;  // per node: has a trainable variable with a gradient
  bool schedule_valid_ = false;
  std::vector<std::unique_ptr<float[], detail::AlignedFree>> grad_buffers_;
  int64_t grad_capacity_ = 0, widest_ = 1;
  std::vector<float*> grad_data_;          // per root during a backward pass
};

}  // namespace keel
