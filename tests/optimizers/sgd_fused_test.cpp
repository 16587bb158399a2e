// SGD with clipping fused into the update (Optimizer::apply_update): the same bits as clipping the
// gradients first and then running the update loops, whatever the thread count.
#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel/core/rng.h"
#include "keel/kernels/optimizer_kernels.h"
#include "keel/kernels/threads.h"
#include "keel/optimizers/sgd.h"

namespace keel {
namespace {

// The seed model's trainable variables (Dense 784-300-100-10 with BN on the input and hidden).
const int64_t kSeedSizes[] = {784, 784, 235200, 300, 300, 300, 30000, 100, 100, 100, 1000, 10};

struct Model {
  std::vector<std::vector<float>> w, g;
  std::vector<std::string> names;
  std::vector<ParamRef> params() {
    std::vector<ParamRef> p;
    for (size_t v = 0; v < w.size(); ++v)
      p.push_back({names[v], w[v].data(), g[v].data(), static_cast<int64_t>(w[v].size())});
    return p;
  }
};

Model make_model(uint64_t seed) {
  Model m;
  Rng rng(seed, 1);
  for (int64_t n : kSeedSizes) {
    m.names.push_back("var" + std::to_string(m.names.size()));
    m.w.emplace_back(static_cast<size_t>(n));
    m.g.emplace_back(static_cast<size_t>(n));
    for (float& x : m.w.back()) x = static_cast<float>(rng.uniform()) - 0.5f;
  }
  return m;
}

void fill_gradients(Model& m, uint64_t seed) {
  Rng rng(seed, 2);
  for (auto& g : m.g)
    for (float& x : g) x = (static_cast<float>(rng.uniform()) - 0.5f) * 0.02f;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) return false;
  return true;
}

struct Case {
  const char* name;
  ClipOptions clip;
  double momentum;
  bool nesterov;
  std::optional<double> weight_decay;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  const std::pair<const char*, ClipOptions> clips[] = {
      {"clipnorm", {.clipnorm = 1.0}},
      {"global_clipnorm", {.global_clipnorm = 1.0}},
      {"clipvalue", {.clipvalue = 0.008}},
      {"none", {}}};
  for (const auto& [clip_name, clip] : clips) {
    out.push_back({clip_name, clip, 0.0, false, std::nullopt});
    out.push_back({clip_name, clip, 0.9, false, std::nullopt});
    out.push_back({clip_name, clip, 0.9, true, std::nullopt});
  }
  out.push_back({"clipnorm+decay", {.clipnorm = 1.0}, 0.9, false, 0.01});
  out.push_back({"nesterov momentum 0", {.clipnorm = 1.0}, 0.0, true, std::nullopt});
  return out;
}

SGD make_sgd(const Case& c) {
  return SGD({.learning_rate = 0.01, .momentum = c.momentum, .nesterov = c.nesterov,
              .weight_decay = c.weight_decay, .clipnorm = c.clip.clipnorm,
              .global_clipnorm = c.clip.global_clipnorm, .clipvalue = c.clip.clipvalue});
}

TEST(SGDFused, StepMatchesClipThenUnfusedUpdateToTheBit) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(std::string(c.name) + " momentum " + std::to_string(c.momentum) +
                 (c.nesterov ? " nesterov" : ""));
    Model fused = make_model(5), unfused = make_model(5);
    SGD sgd = make_sgd(c);
    const SgdStep ref_step{c.nesterov ? SgdRule::kNesterov
                                      : (c.momentum == 0.0 ? SgdRule::kPlain : SgdRule::kMomentum),
                           0.01f, static_cast<float>(c.momentum), c.weight_decay.has_value(),
                           static_cast<float>(c.weight_decay.value_or(0.0))};
    std::vector<std::vector<float>> m_ref;
    for (const auto& w : unfused.w) m_ref.emplace_back(w.size(), 0.0f);
    bool clipped_some = false;
    for (int step = 0; step < 3; ++step) {
      fill_gradients(fused, 100 + step);
      fill_gradients(unfused, 100 + step);
      const auto pre_clip = fused.g;
      auto params = fused.params();
      const StepResult r = sgd.apply_gradients(params);
      // Unfused: clip the gradients in place, then the update loops of before the fusion.
      auto ref_params = unfused.params();
      const ClipResult ref_clip = clip_gradients(ref_params, c.clip);
      for (size_t v = 0; v < unfused.w.size(); ++v)
        sgd_update_ref(unfused.w[v].data(), unfused.g[v].data(), m_ref[v].data(),
                       static_cast<int64_t>(unfused.w[v].size()), ref_step);
      EXPECT_EQ(r.clip.preclip_global_norm, ref_clip.preclip_global_norm);
      EXPECT_EQ(r.clip.postclip_global_norm, ref_clip.postclip_global_norm);
      EXPECT_EQ(r.clip.clipped, ref_clip.clipped);
      clipped_some |= r.clip.clipped;
      for (size_t v = 0; v < fused.w.size(); ++v) {
        EXPECT_TRUE(same_bits(fused.w[v], unfused.w[v])) << "step " << step << " var " << v;
        // The fused step reads the gradients only: they keep their pre-clip values.
        EXPECT_TRUE(same_bits(fused.g[v], pre_clip[v])) << "step " << step << " var " << v;
      }
      const auto slots = sgd.slots();
      if (ref_step.rule != SgdRule::kPlain) {
        ASSERT_EQ(slots.size(), m_ref.size());
        for (size_t v = 0; v < m_ref.size(); ++v)
          EXPECT_TRUE(same_bits({slots[v].second.begin(), slots[v].second.end()}, m_ref[v]))
              << "step " << step << " slot " << v;
      }
    }
    EXPECT_EQ(clipped_some, c.clip.clipnorm || c.clip.global_clipnorm || c.clip.clipvalue);
  }
}

TEST(SGDFused, SameBitsWhateverTheThreadCount) {
  const int saved = num_threads();
  for (const Case& c : {cases()[1], cases()[8], cases()[12]}) {  // clipnorm, clipvalue, decay
    SCOPED_TRACE(c.name);
    std::vector<std::vector<float>> first_w;
    std::vector<double> first_norms;
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      Model model = make_model(9);
      SGD sgd = make_sgd(c);
      std::vector<double> norms;
      for (int step = 0; step < 3; ++step) {
        fill_gradients(model, 200 + step);
        auto params = model.params();
        const StepResult r = sgd.apply_gradients(params);
        norms.push_back(r.clip.preclip_global_norm);
        norms.push_back(r.clip.postclip_global_norm);
      }
      if (threads == 1) {
        first_w = model.w;
        first_norms = norms;
        continue;
      }
      for (size_t k = 0; k < norms.size(); ++k)
        EXPECT_EQ(std::bit_cast<uint64_t>(norms[k]), std::bit_cast<uint64_t>(first_norms[k]))
            << threads << " threads, norm " << k;
      for (size_t v = 0; v < model.w.size(); ++v)
        EXPECT_TRUE(same_bits(model.w[v], first_w[v])) << threads << " threads, var " << v;
    }
  }
  set_num_threads(saved);
}

}  // namespace
}  // namespace keel
