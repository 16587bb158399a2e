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

}  // namespace
}  // namespace keel::cli_test
