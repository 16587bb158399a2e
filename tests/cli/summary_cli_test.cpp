// `keel summary CONFIG` prints what tf.keras 2.12 printed for the same model: the functional
// configs of tests/data/functional (model.to_json() and model.summary() of real tf.keras, from
// tools/golden/functional_keras.py), byte for byte, through the installed binary.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "cli/cli_fixtures.h"
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

}  // namespace
}  // namespace keel::cli_test
