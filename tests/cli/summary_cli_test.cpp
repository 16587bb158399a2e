// `keel summary CONFIG` prints what tf.keras 2.12 printed for the same model: the functional
// configs of tests/data/functional (model.to_json() and model.summary() of real tf.keras, from
// tools/golden/functional_keras.py), byte for byte, through the installed binary.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "cli/cli_fixtures.h"
#include "keel/kernels/bf16.h"
#include "keel/kernels/bf16.h"
#include "temp_dir.h"

namespace keel::cli_test {
namespace {

const fs::path kFixtures = fs::path(KEEL_SOURCE_DIR) / "tests" / "data" / "functional";

TEST(SummaryCli, FunctionalConfigsPrintAsTfKeras) {
  const testing::TempDir scratch("summary_cli");
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(kFixtures)) {
    const fs::path summary = kFixtures / (entry.path().stem().string() + ".summary.txt");
    if (entry.path().extension() != ".json" || !fs::exists(summary)) continue;
    SCOPED_TRACE(entry.path().filename().string());
    const RunResult r = run_keel({"summary", entry.path().string()}, scratch.string());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, slurp(summary));
    ++checked;
  }
  EXPECT_EQ(checked, 7);
}

// `keel summary seed-cnn` and `keel summary <seed-cnn to_json() of tf.keras>` print exactly what
// tf.keras 2.12 printed for the model (tests/data/cnn, tools/golden/cnn_keras.py).
TEST(SummaryCli, SeedCnnPrintsAsTfKeras) {
  const fs::path scratch =
      fs::temp_directory_path() / std::string("keel_summary_cnn_").append(std::to_string(::getpid()));
  fs::create_directories(scratch);
  const fs::path cnn = fs::path(KEEL_SOURCE_DIR) / "tests" / "data" / "cnn";
  const std::string expected = slurp(cnn / "seed_cnn.summary.txt");
  for (const std::string model : {std::string("seed-cnn"), (cnn / "seed_cnn.json").string()}) {
    SCOPED_TRACE(model);
    const RunResult r = run_keel({"summary", model}, scratch.string());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, expected);
  }
  fs::remove_all(scratch);
}

// --dtype-policy mixed_bfloat16: the summary tf.keras prints for the seed MLP under that policy
// (tools/golden/mixed_precision_keras.py), and on a CPU without bf16 matmuls exactly one
// fallback warning; an unknown or unimplemented policy is an error naming the flag.
TEST(SummaryCli, DtypePolicyFlag) {
  const testing::TempDir scratch("summary_dtype_policy");
  const fs::path mixed = fs::path(KEEL_SOURCE_DIR) / "tests" / "data" / "mixed_precision";
  const RunResult r = run_keel({"summary", "seed-mlp", "--dtype-policy", "mixed_bfloat16"}, scratch.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, slurp(mixed / "seed_mlp_mixed.txt"));
  size_t warnings = 0;
  for (size_t at = r.err.find("keel: warning: dtype policy 'mixed_bfloat16'"); at != std::string::npos;
       at = r.err.find("keel: warning: dtype policy", at + 1)) {
    ++warnings;
  }
  // KEEL_BF16 unset in the child: its default kernels decide.
  EXPECT_EQ(warnings, keel::cpu_has_avx512_bf16() ? 0u : 1u) << r.err;
  for (const std::string bad : {"mixed_float16", "bf16"}) {
    const RunResult e = run_keel({"summary", "seed-mlp", "--dtype-policy", bad}, scratch.string());
    EXPECT_NE(e.exit_code, 0);
    EXPECT_NE(e.err.find("--dtype-policy: "), std::string::npos) << e.err;
    EXPECT_NE(e.err.find(bad), std::string::npos) << e.err;
  }
}

}  // namespace
}  // namespace keel::cli_test
