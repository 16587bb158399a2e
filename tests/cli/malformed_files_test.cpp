// Regression tests for inputs that once crashed or misbehaved a reader (tools/golden/malformed.py
// writes them and says what each used to do). Every file under tests/data/malformed/<reader>/
// must make that reader throw keel::Error; the directory scan means a new fixture is tested
// without editing this file, and an exception of any other type fails the test.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "keel/core/error.h"
#include "keel/io/checkpoint.h"
#include "keel/io/csv.h"
#include "keel/io/event_file.h"
#include "keel/io/idx.h"
#include "keel/io/model_config.h"
#include "keel/io/npy.h"
#include "keel/io/saved_model.h"

namespace keel {
namespace {

namespace fs = std::filesystem;

const fs::path kMalformed = fs::path(KEEL_SOURCE_DIR) / "tests" / "data" / "malformed";

std::vector<fs::path> entries(const std::string& reader) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(kMalformed / reader, ec)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Runs `read` on every entry of tests/data/malformed/<reader> and expects a keel::Error.
template <typename Read>
void expect_all_rejected(const std::string& reader, Read read, size_t at_least) {
  const auto paths = entries(reader);
  EXPECT_GE(paths.size(), at_least) << "fixtures missing: run tools/golden/malformed.py";
  for (const auto& path : paths) {
    SCOPED_TRACE(path.string());
    try {
      read(path);
      ADD_FAILURE() << "accepted a malformed input";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()), "");
    }
    // Any other exception escapes and fails the test with its message.
  }
}

// The model the checkpoint fixtures were written for: in(4) -> Dense(2) named 'dense'.
Model checkpoint_model() {
  return model_from_json(R"({"class_name": "Sequential", "config": {"name": "m", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "in"}},
      {"class_name": "Dense", "config": {"units": 2, "name": "dense"}}]}})",
                         "<test>");
}

TEST(MalformedFiles, ModelConfigs) {
  expect_all_rejected("model_config", [](const fs::path& p) { (void)load_model_config(p); }, 3);
}

TEST(MalformedFiles, SavedModels) {
  expect_all_rejected("saved_model", [](const fs::path& p) { (void)load_model(p); }, 3);
}

TEST(MalformedFiles, Checkpoints) {
  expect_all_rejected(
      "checkpoint",
      [](const fs::path& p) {
        Model model = checkpoint_model();
        (void)restore_training_state(Checkpoint::load(p), model);
      },
      3);
}

TEST(MalformedFiles, CheckpointFixtureModelMatches) {
  // Control: the same entries with a valid seed restore fine, so the rejections above are about
  // the one broken entry each, not a mismatch with the model.
  Model model = checkpoint_model();
  Checkpoint ck = capture_training_state(model, {.epoch = 1, .global_step = 5, .seed = 42, .batch_size = 32});
  ck.put_floats("model/dense/kernel", std::vector<float>(8, 0.5f));
  EXPECT_EQ(restore_training_state(ck, model).epoch, 1);
}

TEST(MalformedFiles, OtherReaders) {
  // Fuzz findings for these readers land here (none so far: see docs/errors.md).
  expect_all_rejected("idx", [](const fs::path& p) { (void)read_idx(p); }, 0);
  expect_all_rejected("npy", [](const fs::path& p) { (void)read_npy(p); }, 0);
  expect_all_rejected("csv", [](const fs::path& p) { (void)read_csv(p); }, 0);
  expect_all_rejected("event_file", [](const fs::path& p) { (void)read_scalar_events(p); }, 0);
}

}  // namespace
}  // namespace keel
