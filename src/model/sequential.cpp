#include "keel/model/sequential.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "keel/core/error.h"
#include "keel/core/rng.h"
#include "training_state.h"

namespace keel {

Sequential::Sequential(Empty) : name_(unique_layer_name("sequential")) {}
Sequential::Sequential(std::string name) : name_(std::move(name)) {
  KEEL_CHECK(!name_.empty(), "a model name must not be empty");
}
Sequential::Sequential(Sequential&&) noexcept = default;
Sequential& Sequential::operator=(Sequential&&) noexcept = default;
Sequential::~Sequential() = default;

void Sequential::add(std::unique_ptr<Layer> layer) {
  layer->ensure_name();
  KEEL_CHECK(!built_, "model '", name_, "': cannot add layer '", layer->name(),
             "' after the model was built");
  for (const auto& existing : layers_) {
    KEEL_CHECK(existing->name() != layer->name(), "model '", name_,
               "': duplicate layer name '", layer->name(), "'; layer names must be unique");
  }
  layers_.push_back(std::move(layer));
}

void Sequential::build(std::optional<Shape> input_shape, uint64_t seed) {
  KEEL_CHECK(!layers_.empty(), "model '", name_, "' has no layers; add layers before building");
  if (!input_shape) {
    const auto& declared = layers_.front()->declared_input_shape();
    KEEL_CHECK(!declared.empty(), "model '", name_, "': the first layer '",
               layers_.front()->name(),
               "' declares no input_shape; pass input_shape to the first layer or to build()");
    input_shape = Shape::batched(declared);
  }
  Shape shape = *input_shape;
  // Checked before any layer multiplies the dims (Flatten, Dense fan-in): a config or file can
  // claim any size, and an overflowing product is UB.
  int64_t sample = 1;
  for (size_t i = 1; i < shape.dims().size(); ++i) {
    const int64_t d = shape.dims()[i];
    KEEL_CHECK(d >= 1 && sample <= (int64_t{1} << 32) / d, "model '", name_, "': input shape ",
               shape.to_string(), " has more than 2^32 values per sample; expected a smaller input");
    sample *= d;
  }
  for (auto& layer : layers_) {
    layer->build(shape);
    shape = layer->output_shape();
  }

  // Two passes: count, then allocate the arenas once and hand out views.
  // A config can claim any size: cap the arena before multiplying can overflow or allocating
  // can exhaust memory (issue 7). 2^32 floats = 16 GiB, far beyond a CPU-trained MLP.
  constexpr int64_t kMaxParams = int64_t{1} << 32;
  num_params_ = num_grads_ = 0;
  for (auto& layer : layers_) {
    for (const auto& spec : layer->variable_specs()) {
      int64_t size = 1;
      for (int64_t d : spec.shape) {
        KEEL_CHECK(d >= 1 && size <= (kMaxParams - num_params_) / d, "model '", name_, "': layer '",
                   layer->name(), "' variable '", spec.short_name, "' (dimension ", d,
                   ") would take the model past ", kMaxParams,
                   " parameters; expected a smaller layer (check units and input shape)");
        size *= d;
      }
      num_params_ += size;
      // Every spec-trainable variable gets a gradient view, so set_trainable() after build works.
      if (spec.trainable) num_grads_ += size;
    }
  }
  params_ = allocate_aligned_floats(num_params_);
  grads_ = allocate_aligned_floats(num_grads_);
  std::fill_n(grads_.get(), num_grads_, 0.0f);

  Rng rng(seed, /*stream=*/0);
  int64_t param_offset = 0, grad_offset = 0;
  for (auto& layer : layers_) {
    std::vector<Variable> views;
    for (const auto& spec : layer->variable_specs()) {
      Variable v;
      v.name = layer->name() + "/" + spec.short_name + ":0";
      v.shape = spec.shape;
      v.trainable = spec.trainable && layer->trainable();
      v.value = params_.get() + param_offset;
      param_offset += v.size();
      if (spec.trainable) {
        v.grad = grads_.get() + grad_offset;
        grad_offset += v.size();
      }
      spec.initializer.fill({v.value, static_cast<size_t>(v.size())}, v.shape, rng);
      views.push_back(std::move(v));
    }
    layer->bind_variables(std::move(views));
  }
  assert(param_offset == num_params_ && grad_offset == num_grads_);
  activations_.clear();
  deltas_.clear();
  activation_capacity_ = 0;
  built_ = true;
}

const Shape& Sequential::input_shape() const {
  KEEL_CHECK(built_, "model '", name_, "' is not built yet");
  return layers_.front()->input_shape();
}

const Shape& Sequential::output_shape() const {
  KEEL_CHECK(built_, "model '", name_, "' is not built yet");
  return layers_.back()->output_shape();
}

std::vector<Variable*> Sequential::variables() {
  std::vector<Variable*> out;
  for (auto& layer : layers_)
    for (auto& v : layer->variables()) out.push_back(&v);
  return out;
}

std::vector<const Variable*> Sequential::variables() const {
  std::vector<const Variable*> out;
  for (const auto& layer : layers_)
    for (const auto& v : layer->variables()) out.push_back(&v);
  return out;
}

int64_t Sequential::count_params() const { return trainable_params() + non_trainable_params(); }

int64_t Sequential::trainable_params() const {
  int64_t n = 0;
  for (const Variable* v : variables()) n += v->trainable ? v->size() : 0;
  return n;
}

int64_t Sequential::non_trainable_params() const {
  int64_t n = 0;
  for (const Variable* v : variables()) n += v->trainable ? 0 : v->size();
  return n;
}

void Sequential::ensure_activation_buffers(int64_t batch) {
  if (batch <= activation_capacity_) return;
  activations_.clear();
  deltas_.clear();
  int64_t widest = input_shape().sample_size();
  for (auto& layer : layers_) {
    activations_.push_back(allocate_aligned_floats(batch * layer->output_shape().sample_size()));
    widest = std::max(widest, layer->output_shape().sample_size());
  }
  // Two ping-pong buffers for the gradient flowing backwards.
  deltas_.push_back(allocate_aligned_floats(batch * widest));
  deltas_.push_back(allocate_aligned_floats(batch * widest));
  activation_capacity_ = batch;
}

const float* Sequential::forward(const float* x, int64_t batch, Mode mode) {
  KEEL_CHECK(built_, "model '", name_, "' is not built; call build() or compile() first");
  KEEL_CHECK(batch > 0, "model '", name_, "': batch size ", batch, " must be positive");
  ensure_activation_buffers(batch);
  outputs_.resize(layers_.size());  // allocates once (the size never shrinks)
  const float* in = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (!layers_[i]->output_is_input()) {
      layers_[i]->forward(in, activations_[i].get(), batch, mode);
      in = activations_[i].get();
    }
    outputs_[i] = in;
  }
  return in;
}

void Sequential::backward(const float* x, const float* dy, int64_t batch, bool from_logits,
                          GradientUpdate update) {
  assert(batch <= activation_capacity_);
  // Below the lowest layer with a trainable variable no gradient is needed: that layer's dx is
  // skipped (the seed model's BatchNormalization(784) over the pixels) and lower layers not run.
  size_t lowest = layers_.size();
  for (size_t k = 0; k < layers_.size() && lowest == layers_.size(); ++k) {
    for (const auto& v : layers_[k]->variables()) {
      if (v.trainable && v.grad != nullptr) lowest = k;
    }
  }
  if (update == GradientUpdate::kOverwrite) {
    // Layers below `lowest` are not run, yet their gradients may still be in a compiled
    // optimizer's list (frozen after compile(), which Keras only honours at the next compile):
    // overwrite means they must read 0, not the last step's values.
    for (size_t k = 0; k < lowest && k < layers_.size(); ++k) {
      for (const auto& v : layers_[k]->variables()) {
        if (v.grad != nullptr) std::fill_n(v.grad, v.size(), 0.0f);
      }
    }
  }
  const float* grad_out = dy;
  for (size_t k = layers_.size(); k-- > 0 && k >= lowest;) {
    Layer& layer = *layers_[k];
    if (layer.output_is_input() && !(from_logits && k + 1 == layers_.size())) {
      continue;  // dx is dy: grad_out passes through unchanged
    }
    layer.set_overwrite_gradients(update == GradientUpdate::kOverwrite);
    const float* in = k == 0 ? x : outputs_[k - 1];
    // Ping-pong between the two delta buffers: never the one holding grad_out (after a skipped
    // reshape layer the parity of k says nothing about which one that is).
    float* dx = k == lowest ? nullptr
                : grad_out == deltas_[0].get() ? deltas_[1].get() : deltas_[0].get();
    if (from_logits && k + 1 == layers_.size()) {
      layer.backward_from_logits(in, grad_out, dx, batch);
    } else {
      layer.backward(in, outputs_[k], grad_out, dx, batch);
    }
    layer.set_overwrite_gradients(false);  // a direct Layer::backward call adds again
    grad_out = dx;
  }
}

const float* Sequential::output_logits() const {
  return layers_.empty() ? nullptr : layers_.back()->logits();
}

bool Sequential::outputs_softmax() const {
  return !layers_.empty() && layers_.back()->outputs_softmax();
}

void Sequential::zero_gradients() { std::fill_n(grads_.get(), num_grads_, 0.0f); }

}  // namespace keel
