#include "plan.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "keel/core/error.h"
#include "keel/kernels/merge.h"

namespace keel {

Model::Plan::Plan(const Model& model)
    : nodes_(model.nodes()),
      tensors_(model.tensors()),
      inputs_(model.input_tensors()),
      outputs_(model.output_tensors()) {
  const auto& tensors = tensors_;
  const auto& nodes = nodes_;
  const size_t num_tensors = tensors.size();
  root_.resize(num_tensors);
  width_.resize(num_tensors);
  for (size_t t = 0; t < num_tensors; ++t) {
    root_[t] = static_cast<int64_t>(t);
    width_[t] = tensors[t].shape.sample_size();
    widest_ = std::max(widest_, width_[t]);
  }
  fuse_relus();
  fuse_max_pools();
  readers_.assign(num_tensors, 0);
  for (size_t k = 0; k < nodes.size(); ++k) {
    const GraphNode& node = nodes[k];
    if (node.layer->is_pure_reshape() && node.inputs.size() == 1 && node.outputs.size() == 1) {
      aliases_input_[k] = true;
    }
    if (aliases_input_[k]) {
      root_[static_cast<size_t>(node.outputs[0])] = root(node.inputs[0]);
    } else {
      for (int64_t in : node.inputs) ++readers_[static_cast<size_t>(root(in))];
    }
    auto refs = [&](const std::vector<int64_t>& ids) {
      std::vector<TensorRef> out;
      for (int64_t id : ids) out.push_back(TensorRef{nullptr, DType::kF32, Dims(tensors[size_t(id)].shape, 0)});
      return out;
    };
    x_refs_.push_back(refs(node.inputs));
    dx_refs_.push_back(refs(node.inputs));
    y_refs_.push_back(refs(node.outputs));
    dy_refs_.push_back(refs(node.outputs));
  }
  data_.assign(num_tensors, nullptr);
  activations_.resize(num_tensors);
  grad_data_.assign(num_tensors, nullptr);
}

// Per tensor: how many node inputs and model outputs read it (the fusions' "only reader").
std::vector<int64_t> Model::Plan::readers_per_tensor() const {
  std::vector<int64_t> reads(tensors_.size(), 0);
  for (const GraphNode& node : nodes_)
    for (int64_t in : node.inputs) ++reads[size_t(in)];
  for (int64_t o : outputs_) ++reads[size_t(o)];
  return reads;
}

// An Activation('relu') whose input is the only output of a layer that applies a ReLU itself
// (Layer::fuses_relu_after: BatchNormalization, a linear Dense or convolution), and which is that
// tensor's only reader (no other layer, reshape or model output sees the pre-ReLU values), runs
// inside that layer: the ReLU node aliases its input and the layer gets Context::relu_after. One
// pass over the tensor fewer each way (the seed CNN's BN -> ReLU pairs over 64 x 28 x 28 x 32
// activations).
void Model::Plan::fuse_relus() {
  const auto& nodes = nodes_;
  aliases_input_.assign(nodes.size(), false);
  relu_after_.assign(nodes.size(), false);
  const std::vector<int64_t> reads = readers_per_tensor();
  for (size_t k = 0; k < nodes.size(); ++k) {
    const GraphNode& node = nodes[k];
    if (!node.layer->is_relu_activation() || node.inputs.size() != 1 || node.outputs.size() != 1) continue;
    const int64_t t = node.inputs[0];
    const int64_t producer = tensors_[size_t(t)].producer;
    if (producer < 0 || reads[size_t(t)] != 1) continue;
    const GraphNode& below = nodes[size_t(producer)];
    if (!below.layer->fuses_relu_after() || below.outputs.size() != 1) continue;
    aliases_input_[k] = true;
    relu_after_[size_t(producer)] = true;
  }
}

// A MaxPooling2D whose input is a fused ReLU's output (fuse_relus) and is read by nothing else
// runs inside the layer that took the ReLU, when that layer can pool (Layer::fuses_max_pool_after:
// a BatchNormalization over <= 64 channels last) and the pool's windows are disjoint: the layer
// writes the pooled output and records the winners, and its backward expands the pool's gradient
// in cache. The full-size ReLU output (64 x 28 x 28 x 32 floats in the seed CNN) is then never
// written, read or allocated, nor its gradient. Rewritten in the plan's copy of the graph: the
// layer's node produces the pool's output, and the pool node has no inputs or outputs left.
void Model::Plan::fuse_max_pools() {
  max_pool_after_.assign(nodes_.size(), nullptr);
  absorbed_.assign(nodes_.size(), false);
  const std::vector<int64_t> reads = readers_per_tensor();
  for (size_t k = 0; k < nodes_.size(); ++k) {
    GraphNode& pool = nodes_[k];
    const Pool2dGeometry* window = pool.layer->fusable_max_pool();
    if (window == nullptr || pool.inputs.size() != 1 || pool.outputs.size() != 1) continue;
    const int64_t relu_out = pool.inputs[0];
    const int64_t relu = tensors_[size_t(relu_out)].producer;
    if (relu < 0 || reads[size_t(relu_out)] != 1 || !aliases_input_[size_t(relu)] ||
        !nodes_[size_t(relu)].layer->is_relu_activation()) {
      continue;
    }
    const int64_t pre_relu = nodes_[size_t(relu)].inputs[0];
    const int64_t producer = tensors_[size_t(pre_relu)].producer;
    GraphNode& below = nodes_[size_t(producer)];
    if (!relu_after_[size_t(producer)] || !below.layer->fuses_max_pool_after(*window)) continue;
    const int64_t pooled = pool.outputs[0];
    below.outputs = {pooled};
    tensors_[size_t(pooled)].producer = producer;
    // Nothing writes the pre-ReLU tensor now (and the ReLU aliases it): no buffer for it.
    tensors_[size_t(pre_relu)].producer = -1;
    pool.inputs.clear();
    pool.outputs.clear();
    absorbed_[k] = true;
    max_pool_after_[size_t(producer)] = window;
  }
}

std::vector<std::string> Model::Plan::fused_layer_names(Fused which) const {
  std::vector<std::string> names;
  for (size_t k = 0; k < nodes_.size(); ++k) {
    const bool fused = which == Fused::kMaxPools
                           ? bool(absorbed_[k])
                           : aliases_input_[k] && nodes_[k].layer->is_relu_activation();
    if (fused) names.push_back(nodes_[k].layer->name());
  }
  return names;
}

std::vector<std::string> Model::fused_activations() const {
  return plan_ ? plan_->fused_layer_names(Plan::Fused::kRelus) : std::vector<std::string>{};
}

std::vector<std::string> Model::fused_poolings() const {
  return plan_ ? plan_->fused_layer_names(Plan::Fused::kMaxPools) : std::vector<std::string>{};
}

void Model::Plan::ensure_capacity(int64_t batch) {
  if (batch <= capacity_) return;
  const auto& tensors = tensors_;
  for (size_t t = 0; t < tensors.size(); ++t) {
    // Every root a node produces owns a buffer; model inputs are the caller's data.
    if (tensors[t].producer >= 0 && root_[t] == static_cast<int64_t>(t)) {
      activations_[t] = allocate_aligned_floats(batch * width_[t]);
      data_[t] = activations_[t].get();
    }
  }
  capacity_ = batch;
}

void Model::Plan::forward(std::span<const float* const> xs, int64_t batch, Mode mode,
                          BatchSlice slice) {
  ensure_capacity(batch);
  const auto& inputs = inputs_;
  assert(xs.size() == inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) data_[static_cast<size_t>(inputs[i])] = const_cast<float*>(xs[i]);
  const auto& nodes = nodes_;
  for (size_t k = 0; k < nodes.size(); ++k) {
    const GraphNode& node = nodes[k];
    if (aliases_input_[k]) {
      data_[static_cast<size_t>(node.outputs[0])] = data_[static_cast<size_t>(node.inputs[0])];
      continue;
    }
    if (absorbed_[k]) continue;
    auto& x = x_refs_[k];
    auto& y = y_refs_[k];
    for (size_t i = 0; i < x.size(); ++i) {
      x[i].data = data_[static_cast<size_t>(node.inputs[i])];
      x[i].dims[0] = batch;
    }
    for (size_t i = 0; i < y.size(); ++i) {
      y[i].data = data_[static_cast<size_t>(node.outputs[i])];
      y[i].dims[0] = batch;
    }
    node.layer->forward(Context{mode, comm, false, slice, relu_after_[k], max_pool_after_[k]}, x, y);
  }
}

const float* Model::Plan::output(int64_t i) const {
  return data_[static_cast<size_t>(outputs_.at(static_cast<size_t>(i)))];
}

bool Model::Plan::output_fuses_logits(int64_t i) const {
  const int64_t t = outputs_.at(static_cast<size_t>(i));
  const int64_t producer = tensors_[static_cast<size_t>(t)].producer;
  if (producer < 0 || aliases_input_[static_cast<size_t>(producer)]) return false;
  int64_t outputs_here = 0;
  for (int64_t o : outputs_) outputs_here += root(o) == t ? 1 : 0;
  return nodes_[static_cast<size_t>(producer)].layer->outputs_softmax() &&
         readers_[static_cast<size_t>(t)] == 0 && outputs_here == 1;
}

// make_schedule in steps; one builder per schedule.
struct Model::Plan::ScheduleBuilder {
  const Plan& plan;
  const std::vector<GraphNode>& nodes = plan.nodes_;
  Schedule s;
  std::vector<char> needs_grad, runs;  // per root tensor / per node
  std::vector<int64_t> writers;        // per root: how many gradients are written into it
  std::vector<char> written;           // per root: its slot already holds a gradient
  std::vector<int64_t> free_list;      // gradient buffers given back
  std::vector<const Layer*> layers_written;

  explicit ScheduleBuilder(const Plan& p) : plan(p) {}

  Schedule build() {
    mark_backward_nodes();
    count_writers();
    s.slot_buffer.assign(plan.tensors_.size(), -1);
    written.assign(plan.tensors_.size(), 0);
    seed_outputs();
    for (size_t k = nodes.size(); k-- > 0;)
      if (runs[k]) s.steps.push_back(backward_step(k));
    zero_what_no_step_writes();
    return std::move(s);
  }

  // Which nodes run backward: those with something to train or an input that needs a gradient.
  void mark_backward_nodes() {
    needs_grad.assign(plan.tensors_.size(), 0);
    runs.assign(nodes.size(), 0);
    for (size_t k = 0; k < nodes.size(); ++k) {
      if (plan.aliases_input_[k] || plan.absorbed_[k]) continue;
      bool any_input = false;
      for (int64_t in : nodes[k].inputs) any_input = any_input || needs_grad[size_t(plan.root(in))];
      runs[k] = plan.trainable_signature_[k] || any_input;
      for (int64_t out : nodes[k].outputs) needs_grad[size_t(out)] = runs[k];
    }
  }

  // Who writes each gradient slot (root tensor): model-output seeds and consumers' dx.
  void count_writers() {
    writers.assign(plan.tensors_.size(), 0);
    for (int64_t o : plan.outputs_) ++writers[size_t(plan.root(o))];
    for (size_t k = 0; k < nodes.size(); ++k) {
      if (!runs[k]) continue;
      for (int64_t in : nodes[k].inputs)
        writers[size_t(plan.root(in))] += needs_grad[size_t(plan.root(in))];
    }
  }

  // Liveness: a slot's buffer is taken at its first write and given back once its producer has
  // read it; scratch for the second and later writers lives for one step.
  int64_t take() {
    if (free_list.empty()) return s.num_buffers++;
    const int64_t b = free_list.back();
    free_list.pop_back();
    return b;
  }

  void seed_outputs() {
    for (int64_t o : plan.outputs_) {
      const auto r = size_t(plan.root(o));
      if (!needs_grad[r] || writers[r] == 1) {
        s.seeds.push_back(Seed::kInPlace);  // the caller's dy is the slot (or is never read)
      } else {
        if (s.slot_buffer[r] < 0) s.slot_buffer[r] = take();
        s.seeds.push_back(written[r] ? Seed::kAdd : Seed::kCopy);
      }
      written[r] = 1;
    }
  }

  BackwardStep backward_step(size_t k) {
    const GraphNode& node = nodes[k];
    BackwardStep step;
    step.node = static_cast<int64_t>(k);
    const bool first_of_layer =
        std::find(layers_written.begin(), layers_written.end(), node.layer) == layers_written.end();
    step.write = first_of_layer ? Write::kSet : Write::kAdd;
    if (first_of_layer) layers_written.push_back(node.layer);
    for (size_t o = 0; o < plan.outputs_.size() && step.model_output < 0; ++o) {
      if (node.outputs.size() == 1 && plan.outputs_[o] == node.outputs[0]) step.model_output = int64_t(o);
    }
    for (int64_t out : node.outputs) {
      // An output nothing reads still gets a (zero-filled) gradient buffer.
      if (s.slot_buffer[size_t(out)] < 0 && writers[size_t(out)] == 0) {
        s.slot_buffer[size_t(out)] = take();
        step.zero_outputs.push_back(s.slot_buffer[size_t(out)]);
      }
    }
    std::vector<int64_t> scratch;
    for (int64_t in : node.inputs) {
      const auto r = size_t(plan.root(in));
      if (!needs_grad[r]) {
        step.dx_buffer.push_back(-1);
        step.add_into_buffer.push_back(-1);
      } else if (!written[r]) {
        if (s.slot_buffer[r] < 0) s.slot_buffer[r] = take();
        written[r] = 1;
        step.dx_buffer.push_back(s.slot_buffer[r]);
        step.add_into_buffer.push_back(-1);
      } else {
        scratch.push_back(take());
        step.dx_buffer.push_back(scratch.back());
        step.add_into_buffer.push_back(s.slot_buffer[r]);
      }
    }
    for (int64_t b : scratch) free_list.push_back(b);
    for (int64_t out : node.outputs) {
      if (s.slot_buffer[size_t(out)] >= 0) free_list.push_back(s.slot_buffer[size_t(out)]);
    }
    return step;
  }

  // Under GradientUpdate::kOverwrite every gradient the optimizer may read must be written:
  // variables of layers that never run backward (frozen after compile(), which Keras only honours
  // at the next compile) read 0, not the last step's values.
  void zero_what_no_step_writes() {
    for (const GraphNode& node : nodes) {
      const Layer* layer = node.layer;
      if (std::find(layers_written.begin(), layers_written.end(), layer) != layers_written.end()) continue;
      for (const Variable& v : layer->variables()) {
        if (v.grad != nullptr &&
            std::find(s.zero_on_overwrite.begin(), s.zero_on_overwrite.end(), v.grad) ==
                s.zero_on_overwrite.end()) {
          s.zero_on_overwrite.push_back(v.grad);
          s.zero_sizes.push_back(v.size());
        }
      }
    }
  }
};

Model::Plan::Schedule Model::Plan::make_schedule() const { return ScheduleBuilder(*this).build(); }

void Model::Plan::ensure_schedule() {
  const auto& nodes = nodes_;
  bool changed = !schedule_valid_;
  trainable_signature_.resize(nodes.size());
  for (size_t k = 0; k < nodes.size(); ++k) {
    char has = 0;
    for (const Variable& v : nodes[k].layer->variables()) has |= (v.trainable && v.grad != nullptr) ? 1 : 0;
    changed = changed || trainable_signature_[k] != has;
    trainable_signature_[k] = has;
  }
  if (!changed) return;
  schedule_ = make_schedule();
  schedule_valid_ = true;
  grad_buffers_.clear();
  grad_capacity_ = 0;
}

void Model::Plan::backward(std::span<const float* const> dys, std::span<const bool> from_logits,
                           int64_t batch, GradientUpdate update) {
  assert(batch <= capacity_);
  ensure_schedule();
  if (batch > grad_capacity_ || grad_buffers_.size() != size_t(schedule_.num_buffers)) {
    grad_buffers_.clear();
    for (int64_t b = 0; b < schedule_.num_buffers; ++b) grad_buffers_.push_back(allocate_aligned_floats(batch * widest_));
    grad_capacity_ = batch;
    for (size_t t = 0; t < grad_data_.size(); ++t) {
      const int64_t b = schedule_.slot_buffer[t];
      grad_data_[t] = b >= 0 ? grad_buffers_[size_t(b)].get() : nullptr;
    }
  }
  if (update == GradientUpdate::kOverwrite) {
    for (size_t i = 0; i < schedule_.zero_on_overwrite.size(); ++i)
      std::fill_n(schedule_.zero_on_overwrite[i], schedule_.zero_sizes[i], 0.0f);
  }
  for (size_t i = 0; i < outputs_.size(); ++i) {
    const auto r = size_t(root(outputs_[i]));
    const int64_t n = batch * width_[r];
    switch (schedule_.seeds[i]) {
      case Seed::kInPlace: grad_data_[r] = const_cast<float*>(dys[i]); break;
      case Seed::kCopy: std::memcpy(grad_data_[r], dys[i], size_t(n) * sizeof(float)); break;
      case Seed::kAdd: accumulate(grad_data_[r], dys[i], n); break;
    }
  }

  const auto& nodes = nodes_;
  for (const BackwardStep& step : schedule_.steps) {
    const auto k = size_t(step.node);
    const GraphNode& node = nodes[k];
    for (int64_t b : step.zero_outputs) std::fill_n(grad_buffers_[size_t(b)].get(), batch * widest_, 0.0f);
    const bool logits = step.model_output >= 0 && size_t(step.model_output) < from_logits.size() &&
                        from_logits[size_t(step.model_output)];
    const Context ctx{Mode::kTraining, comm, logits, {}, relu_after_[k], max_pool_after_[k]};
    auto& x = x_refs_[k];
    auto& y = y_refs_[k];
    auto& dy = dy_refs_[k];
    auto& dx = dx_refs_[k];
    for (size_t i = 0; i < x.size(); ++i) {
      x[i].data = data_[size_t(node.inputs[i])];
      x[i].dims[0] = batch;
      const int64_t b = step.dx_buffer[i];
      dx[i].data = b >= 0 ? grad_buffers_[size_t(b)].get() : nullptr;
      dx[i].dims[0] = batch;
    }
    for (size_t i = 0; i < y.size(); ++i) {
      const auto out = size_t(node.outputs[i]);
      y[i].data = data_[out];
      y[i].dims[0] = batch;
      dy[i].data = grad_data_[out];
      dy[i].dims[0] = batch;
    }
    const Write write = update == GradientUpdate::kOverwrite ? step.write : Write::kAdd;
    node.layer->backward(ctx, x, y, dy, dx, write);
    for (size_t i = 0; i < x.size(); ++i) {
      if (step.add_into_buffer[i] >= 0) {
        accumulate(grad_buffers_[size_t(step.add_into_buffer[i])].get(),
                   grad_buffers_[size_t(step.dx_buffer[i])].get(), batch * width_[size_t(node.inputs[i])]);
      }
    }
  }
}

}  // namespace keel

namespace keel {

const float* Model::forward(const float* x, int64_t batch, Mode mode) {
  check_single_io("forward(x)");
  forward(std::span<const float* const>(&x, 1), batch, mode);
  return plan_->output(0);
}

void Model::forward(std::span<const float* const> xs, int64_t batch, Mode mode, BatchSlice slice) {
  KEEL_CHECK(built_, "model '", name_, "' is not built; call build() or compile() first");
  KEEL_CHECK(batch > 0, "model '", name_, "': batch size ", batch, " must be positive");
  KEEL_CHECK(static_cast<int64_t>(xs.size()) == num_inputs(), "model '", name_, "' takes ",
             num_inputs(), " inputs, got ", xs.size());
  KEEL_CHECK(slice.global == 0 || (slice.first >= 0 && slice.first + batch <= slice.global),
             "model '", name_, "': rows [", slice.first, ", ", slice.first + batch,
             ") are not inside a global batch of ", slice.global);
  plan_->forward(xs, batch, mode, slice);
}

const float* Model::output(int64_t i) const {
  KEEL_CHECK(built_ && i >= 0 && i < num_outputs(), "model '", name_, "': no output ", i);
  return plan_->output(i);
}

void Model::backward(const float*, const float* dy, int64_t batch, bool from_logits,
                     GradientUpdate update) {
  check_single_io("backward(x, dy)");
  const bool logits[1] = {from_logits};
  backward(std::span<const float* const>(&dy, 1), logits, batch, update);
}

void Model::backward(std::span<const float* const> dys, std::span<const bool> from_logits,
                     int64_t batch, GradientUpdate update) {
  assert(built_ && static_cast<int64_t>(dys.size()) == num_outputs());
  plan_->backward(dys, from_logits, batch, update);
}

const float* Model::output_logits(int64_t i) const {
  if (!built_ || !plan_->output_fuses_logits(i)) return nullptr;
  return nodes_[static_cast<size_t>(tensors_[static_cast<size_t>(output_tensors_[static_cast<size_t>(i)])].producer)]
      .layer->logits();
}

bool Model::outputs_softmax(int64_t i) const { return built_ && plan_->output_fuses_logits(i); }

}  // namespace keel
