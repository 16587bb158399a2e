// The seed's gradient-clipping examples (Hands-On ML ch. 11) with keel's optimizers.
//
//   keras.optimizers.SGD(clipvalue=1.0): [0.9, 100.0] -> [0.9, 1.0]            (direction changes)
//   keras.optimizers.SGD(clipnorm=1.0):  [0.9, 100.0] -> [0.00899964, 0.9999595] (direction kept)
//
// Clipping happens inside apply_gradients, in place on the gradient buffer, before the update;
// with learning_rate = 1 and weights starting at 0 the weights end at minus the clipped gradient.
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
  std::printf("%-22s gradient [0.9, 100.0] -> [%.8g, %.8g]  (norm %.6f -> %.6f)  weights [%.8g, %.8g]\n",
              label, gradient[0], gradient[1], step.clip.preclip_global_norm,
              step.clip.postclip_global_norm, weights[0], weights[1]);
  auto close = [](float a, float b) { return std::fabs(a - b) <= 1e-6f * std::fmax(1.0f, std::fabs(b)); };
  const bool ok = close(gradient[0], expected0) && close(gradient[1], expected1) &&
                  close(weights[0], -expected0) && close(weights[1], -expected1) && step.clip.clipped;
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
