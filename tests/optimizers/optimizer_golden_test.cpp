// Optimizers against tools/golden/optim_trajectories.py (PyTorch / NumPy, float64 references).
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "keel/optimizers/optimizer.h"

namespace keel {
namespace {

nlohmann::json load_golden() {
  std::ifstream in(std::string(KEEL_SOURCE_DIR) + "/tests/data/optim/optim_golden.json");
  EXPECT_TRUE(in.good()) << "missing fixture; run tools/golden/optim_trajectories.py";
  return nlohmann::json::parse(in);
}

TEST(OptimizerGolden, TrajectoriesMatchReferences) {
  const nlohmann::json golden = load_golden();
  const auto init = golden["init"].get<std::vector<std::vector<float>>>();
  const auto grads = golden["grads"].get<std::vector<std::vector<std::vector<float>>>>();
  const auto norms = golden["preclip_global_norms"].get<std::vector<double>>();
  ASSERT_GE(golden["cases"].size(), 20u);
  for (const auto& c : golden["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>() + " (" + c["reference"].get<std::string>() + ")");
    auto opt = make_optimizer(c["optimizer"].get<std::string>(), c["config"]);
    std::vector<std::vector<float>> w = init, g(init.size());
    const char* names[2] = {"a/kernel:0", "a/bias:0"};
    for (size_t step = 0; step < grads.size(); ++step) {
      std::vector<ParamRef> params;
      for (size_t v = 0; v < w.size(); ++v) {
        g[v] = grads[step][v];
        params.push_back({names[v], w[v].data(), g[v].data(), static_cast<int64_t>(w[v].size())});
      }
      const StepResult r = opt->apply_gradients(params);
      EXPECT_FALSE(r.skipped);
      EXPECT_NEAR(r.clip.preclip_global_norm, norms[step], 1e-9 * norms[step]);
      const auto expected = c["expected"][step].get<std::vector<std::vector<double>>>();
      for (size_t v = 0; v < w.size(); ++v) {
        for (size_t i = 0; i < w[v].size(); ++i) {
          EXPECT_NEAR(w[v][i], expected[v][i], 2e-6 + 2e-5 * std::abs(expected[v][i]))
              << "step " << step << " var " << v << " i " << i;
        }
      }
    }
    EXPECT_EQ(opt->iterations(), static_cast<int64_t>(grads.size()));
  }
}

}  // namespace
}  // namespace keel
