// The seed's gradient-clipping examples (Hands-On ML ch. 11) with keel's optimizers.
//
//   keras.optimizers.SGD(clipvalue=1.0): [0.9, 100.0] -> [0.9, 1.0]            (direction changes)
//   keras.optimizers.SGD(clipnorm=1.0):  [0.9, 100.0] -> [0.00899964, 0.9999595] (direction kept)
//
// Clipping happens inside apply_gradients, fused with the update: with learning_rate = 1 and
// weights starting at 0 the weights end at minus the clipped gradient. The gradient buffer keeps
// the values backward computed (as in TF, where gradients are immutable tensors); call
// keel::clip_gradients (keel/optimizers/clipping.h) to clip a buffer in place.
// Exits non-zero if a value is wrong (the test suite runs this program).
#include <cmath>
#include <cstdio>
#include <vector>

#include "keel/optimizers/sgd.h"

namespace {

bool run(const char* label, keel::SGD& sgd, float expected0, float expected1) {
  std::vector<float> weights{0.0f, 0.0f};
  std::vector<float> gradient{0.9f, 100.0f};
  const keel::ParamRef param{"w", weights.data(), gradient.data(), 2};
  const keel::StepResult step = sgd.apply_gradients({&param, 1});
  const float applied0 = -weights[0], applied1 = -weights[1];
  std::printf("%-22s gradient [0.9, 100.0] -> [%.8g, %.8g]  (norm %.6f -> %.6f)\n", label,
              applied0, applied1, step.clip.preclip_global_norm, step.clip.postclip_global_norm);
  auto close = [](float a, float b) { return std::fabs(a - b) <= 1e-6f * std::fmax(1.0f, std::fabs(b)); };
  const bool ok = close(applied0, expected0) && close(applied1, expected1) && step.clip.clipped &&
                  gradient[0] == 0.9f && gradient[1] == 100.0f;
  if (!ok) std::printf("  WRONG: expected [%.8g, %.8g]\n", expected0, expected1);
  return ok;
}

}  // namespace

int main() {
  keel::SGD by_value({.learning_rate = 1.0, .clipvalue = 1.0});
  keel::SGD by_norm({.learning_rate = 1.0, .clipnorm = 1.0});
  bool ok = run("SGD(clipvalue=1.0)", by_value, 0.9f, 1.0f);
  ok = run("SGD(clipnorm=1.0)", by_norm, 0.00899964f, 0.9999595f) && ok;
  return ok ? 0 : 1;
}
