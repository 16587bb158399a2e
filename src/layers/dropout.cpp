#include "keel/layers/dropout.h"

#include <atomic>
#include <cstring>

#include "keel/core/error.h"
#include "keel/kernels/dropout.h"
#include "layer_config.h"

namespace keel {

namespace {
constexpr uint64_t kDefaultDropoutSeed = 0x6b65656c44726f70ull;  // "keelDrop"
std::atomic<uint64_t> g_dropout_count{0};

Rng make_rng(const std::optional<int64_t>& seed) {
  if (seed) return Rng(static_cast<uint64_t>(*seed));
  return Rng(kDefaultDropoutSeed, g_dropout_count.fetch_add(1));
}
}  // namespace

Dropout::Dropout(double rate, DropoutOptions options)
    : UnaryLayer("dropout", std::move(options.name), std::move(options.input_shape)),
      rate_(rate),
      seed_(options.seed),
      rng_(make_rng(options.seed)) {
  KEEL_CHECK(rate >= 0.0 && rate < 1.0, "layer '", name(), "' (Dropout): rate ", rate,
             " must be in [0, 1)");
  set_trainable(options.trainable);
}

Shape Dropout::compute_output_shape(const Shape& input_shape) const { return input_shape; }

void Dropout::forward(const Context& ctx, std::span<const TensorRef> x,
                      std::span<const TensorRef> y) {
  slice_ = ctx.slice;
  UnaryLayer::forward(ctx, x, y);
  slice_ = {};
}

void Dropout::unary_forward(const float* x, float* y, int64_t batch, Mode mode) {
  const int64_t n = batch * input_shape().sample_size();
  if (mode == Mode::kInference || rate_ == 0.0) {
    if (x != y) std::memcpy(y, x, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  if (static_cast<int64_t>(mask_.size()) < n) mask_.resize(static_cast<size_t>(n));
  // tf.nn.dropout: keep where uniform[0,1) >= rate, compared in float.
  const auto rate = static_cast<float>(rate_);
  const int64_t per_row = input_shape().sample_size();
  const int64_t before = slice_.global > 0 ? slice_.first * per_row : 0;
  const int64_t after = slice_.global > 0 ? (slice_.global - slice_.first - batch) * per_row : 0;
  for (int64_t i = 0; i < before; ++i) rng_.next_u64();  // the rows of the ranks before this one
  for (int64_t i = 0; i < n; ++i) mask_[static_cast<size_t>(i)] = rng_.uniform() >= rate ? 1 : 0;
  for (int64_t i = 0; i < after; ++i) rng_.next_u64();
  dropout_forward(x, mask_.data(), static_cast<float>(1.0 / (1.0 - rate_)), y, n);
}

void Dropout::unary_backward(const float*, const float*, const float* dy, float* dx, int64_t batch,
                            Write) {
  if (dx == nullptr) return;
  const int64_t n = batch * input_shape().sample_size();
  if (rate_ == 0.0) {
    if (dx != dy) std::memcpy(dx, dy, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  dropout_backward(dy, mask_.data(), static_cast<float>(1.0 / (1.0 - rate_)), dx, n);
}

std::vector<LayerState> Dropout::save_state() const {
  const Rng::State& s = rng_.state();
  return {{"rng", std::vector<uint64_t>(s.begin(), s.end())}};
}

void Dropout::load_state(std::span<const LayerState> state) {
  KEEL_CHECK(state.size() == 1 && state[0].key == "rng" && state[0].words.size() == 4, "layer '",
             name(), "' (Dropout): load_state expects one 'rng' entry of 4 words");
  rng_.set_state({state[0].words[0], state[0].words[1], state[0].words[2], state[0].words[3]});
}

nlohmann::json Dropout::get_config() const {
  nlohmann::json config = base_config();
  config["rate"] = rate_;
  config["noise_shape"] = nullptr;
  config["seed"] = seed_ ? nlohmann::json(*seed_) : nlohmann::json(nullptr);
  return config;
}

std::unique_ptr<Layer> Dropout::from_config(const nlohmann::json& config) {
  auto base = layer_config::parse_base(config, "Dropout", {"rate", "seed"}, {"noise_shape"});
  KEEL_CHECK(config.contains("rate"), "Dropout: config has no 'rate'");
  DropoutOptions options;
  if (config.contains("seed") && !config["seed"].is_null()) {
    options.seed = layer_config::get_int(config, "Dropout", "seed", 0);
  }
  options.input_shape = std::move(base.input_shape);
  options.name = std::move(base.name);
  options.trainable = base.trainable;
  return std::make_unique<Dropout>(layer_config::get_number(config, "Dropout", "rate", 0.0),
                                   std::move(options));
}

}  // namespace keel
