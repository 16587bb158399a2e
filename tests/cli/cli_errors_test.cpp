// Issue 7: bad input gets a clear error, never a crash. Runs the built `keel` binary on a table of
// malformed files and flags and checks, for each: exit code 2, nothing on stdout (no partial
// result), and a stderr of one "keel: ..." line (plus at most one hint line) naming the offending
// flag / file / field and value.
//
// The malformed files are written byte by byte here (not with keel's writers), so a reader bug
// cannot make its own fixture agree with it. Positive controls run the same fixtures unbroken, so
// each negative case fails for the reason it names.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_fixtures.h"

namespace keel::cli_test {
namespace {

struct Case {
  std::string name;
  std::vector<std::string> args;      // after `keel`; "{tmp}" is replaced by the fixture dir
  std::vector<std::string> expected;  // substrings of the first stderr line
};

class CliErrors : public FixtureSuite {};

std::string tmp_replace(std::string s, const std::string& tmp) {
  for (size_t at; (at = s.find("{tmp}")) != std::string::npos;) s.replace(at, 5, tmp);
  return s;
}

void expect_clean_error(const Case& c, const std::string& tmp) {
  std::vector<std::string> args;
  for (const auto& a : c.args) args.push_back(tmp_replace(a, tmp));
  const RunResult r = run_keel(args, tmp);
  SCOPED_TRACE("case '" + c.name + "': keel " + join(args) + "\nstdout: " + r.out + "\nstderr: " + r.err);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "") << "a failed run must not print (partial) results";
  const auto lines = split_lines(r.err);
  ASSERT_GE(lines.size(), 1u);
  EXPECT_LE(lines.size(), 2u) << "expected one error line and at most one hint line";
  EXPECT_EQ(lines[0].rfind("keel: ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[0].find("internal error"), std::string::npos) << lines[0];
  EXPECT_LE(lines[0].size(), 600u) << "one readable line, not a dump";
  for (const auto& want : c.expected) {
    EXPECT_NE(lines[0].find(tmp_replace(want, tmp)), std::string::npos)
        << "error line lacks '" << tmp_replace(want, tmp) << "': " << lines[0];
  }
}

// ---- positive controls: the unbroken fixtures work, so the failures below are the named ones.

TEST_F(CliErrors, ControlTrainOnTinyData) {
  const std::string tmp = fixtures_->root().string();
  const RunResult r = run_keel({"train", "--data", tmp + "/data_ok", "--epochs", "1", "--batch-size",
                                "4", "--validation", "2", "--verbose", "0"},
                               tmp);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // A batch larger than the data is valid (Keras clamps it); INT64_MAX once overflowed the
  // steps-per-epoch computation (UB under the sanitizer build).
  const RunResult huge = run_keel({"train", "--data", tmp + "/data_ok", "--epochs", "1", "--batch-size",
                                   "9223372036854775807", "--validation", "2", "--verbose", "0"},
                                  tmp);
  EXPECT_EQ(huge.exit_code, 0) << huge.err;
}

// --data npy:X_TRAIN,Y_TRAIN,X_TEST,Y_TEST trains a model whose input fits the arrays and
// evaluates the test pair: 5 test samples at batch 2 are 3 steps ("3/3"), the 2 training samples
// left after --validation 1 are 1.
TEST_F(CliErrors, ControlTrainOnNpyArrays) {
  const std::string tmp = fixtures_->root().string();
  const std::string arrays = "npy:" + tmp + "/x_ok.npy," + tmp + "/y_ids.npy," + tmp +
                             "/x_test5.npy," + tmp + "/y_test5.npy";
  const RunResult r = run_keel({"train", tmp + "/config_ok.json", "--data", arrays, "--epochs", "2",
                                "--batch-size", "2", "--validation", "1", "--verbose", "1",
                                "--report", tmp + "/npy_report.json"},
                               tmp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3/3 ["), std::string::npos) << r.out;
  const auto report = nlohmann::json::parse(slurp(tmp + "/npy_report.json"));
  EXPECT_EQ(report["history"]["loss"].size(), 2u);
  EXPECT_TRUE(report.contains("test_loss") && report.contains("test_accuracy")) << report.dump();
}

TEST_F(CliErrors, ControlPredictAndSummary) {
  const std::string tmp = fixtures_->root().string();
  RunResult r = run_keel({"predict", tmp + "/model_ok", "--input", tmp + "/x_ok.npy"}, tmp);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("class"), std::string::npos) << r.out;
  r = run_keel({"predict", tmp + "/model_ok", "--input", tmp + "/x_ok.idx"}, tmp);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = run_keel({"summary", tmp + "/config_ok.json"}, tmp);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(CliErrors, ControlResidualModelsAndFixup) {
  const std::string tmp = fixtures_->root().string();
  RunResult r = run_keel({"summary", "resnet-mlp-fixup", "--blocks", "2"}, tmp);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("FixupScale"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FixupBias"), std::string::npos) << r.out;
  // --fixup on the plain model gives the same layers and parameter count as resnet-mlp-fixup.
  const RunResult plain = run_keel({"summary", "resnet-mlp-plain", "--blocks", "2", "--fixup"}, tmp);
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  const auto total = [](const std::string& out) { return out.substr(out.find("Total params")); };
  EXPECT_EQ(total(plain.out), total(r.out));
  r = run_keel({"train", "resnet-mlp-fixup", "--blocks", "2", "--data", tmp + "/data_ok",
                "--epochs", "1", "--batch-size", "4", "--validation", "2", "--verbose", "0",
                "--report", tmp + "/fixup_report.json"},
               tmp);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string report = slurp(tmp + "/fixup_report.json");
  EXPECT_NE(report.find("\"median_step_seconds\""), std::string::npos) << report;
  r = run_keel({"variables", "resnet-mlp-bn", "--blocks", "1"}, tmp);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("moving_variance"), std::string::npos) << r.out;
}

// ---- the table.

const std::vector<Case>& file_cases() {
  static const std::vector<Case> cases = {
      // NumPy arrays given with --data npy:... (issue 14).
      {"npy data three paths", {"train", "--data", "npy:{tmp}/x_ok.npy,{tmp}/y_ids.npy,{tmp}/x_ok.npy"},
       {"--data 'npy:", "3 path(s)", "four paths"}},
      {"npy data y count", {"train", "--data", "npy:{tmp}/x_ok.npy,{tmp}/x_empty.npy,{tmp}/x_ok.npy,{tmp}/y_ids.npy"},
       {"{tmp}/x_empty.npy: y has shape (0, 4); expected (3,) or (3, k)"}},
      {"npy data model input", {"train", "--data", "npy:{tmp}/x_ok.npy,{tmp}/y_ids.npy,{tmp}/x_ok.npy,{tmp}/y_ids.npy", "--validation", "1"},
       {"samples of shape (None, 4) do not fit model", "(None, 28, 28)"}},
      // Fashion-MNIST IDX directories given with --data (one broken file each).
      {"idx truncated", {"train", "--data", "{tmp}/data_truncated"},
       {"{tmp}/data_truncated/train-images-idx3-ubyte", "header claims 8 images of 28x28 uint8",
        "6262"}},
      {"idx wrong magic", {"train", "--data", "{tmp}/data_magic"},
       {"train-images-idx3-ubyte", "wrong magic", "50 4b 03 04"}},
      {"idx huge claim", {"train", "--data", "{tmp}/data_huge"},
       {"train-images-idx3-ubyte", "2147483648 images"}},
      {"idx label out of range", {"train", "--data", "{tmp}/data_label"},
       {"train-labels-idx1-ubyte", "label 5 is 10", "0..9"}},
      {"idx label count", {"train", "--data", "{tmp}/data_count"},
       {"t10k-labels-idx1-ubyte", "label count 3", "image count 4"}},
      {"idx image dims", {"train", "--data", "{tmp}/data_dims"},
       {"train-images-idx3-ubyte", "(8, 27, 28)", "(N, 28, 28)"}},
      {"idx gzip truncated", {"train", "--data", "{tmp}/data_gz"},
       {"train-images-idx3-ubyte.gz", "gzip"}},
      {"idx empty file", {"train", "--data", "{tmp}/data_empty"},
       {"t10k-images-idx3-ubyte", "empty"}},
      {"idx float images", {"train", "--data", "{tmp}/data_float"},
       {"train-images-idx3-ubyte", "float32", "uint8"}},
      {"idx rank 0", {"train", "--data", "{tmp}/data_rank0"},
       {"train-labels-idx1-ubyte", "rank"}},
      {"idx missing file", {"train", "--data", "{tmp}/data_missing"},
       {"t10k-labels-idx1-ubyte", "not found"}},
      {"data dir missing", {"train", "--data", "/nonexistent/keel"},
       {"/nonexistent/keel", "does not exist"}},
      {"data dir is a file", {"train", "--data", "{tmp}/config_ok.json"},
       {"config_ok.json", "not a directory"}},
      // Inputs given to predict.
      {"npy truncated", {"predict", "{tmp}/model_ok", "--input", "{tmp}/x_truncated.npy"},
       {"x_truncated.npy", "header claims shape (3, 4)", "expected 48"}},
      {"npy garbage", {"predict", "{tmp}/model_ok", "--input", "{tmp}/x_garbage.npy"},
       {"x_garbage.npy", "magic"}},
      {"npy nan", {"predict", "{tmp}/model_ok", "--input", "{tmp}/x_nan.npy"},
       {"x_nan.npy", "element 5", "nan", "finite"}},
      {"npy fortran", {"predict", "{tmp}/model_ok", "--input", "{tmp}/x_fortran.npy"},
       {"x_fortran.npy", "fortran_order"}},
      {"npy complex", {"predict", "{tmp}/model_ok", "--input", "{tmp}/x_complex.npy"},
       {"x_complex.npy", "'<c8'"}},
      {"npy huge shape", {"predict", "{tmp}/model_ok", "--input", "{tmp}/x_huge.npy"},
       {"x_huge.npy", "4611686018427387904"}},
      {"npy wrong width", {"predict", "{tmp}/model_ok", "--input", "{tmp}/x_width.npy"},
       {"--input", "x_width.npy", "5 values", "(None, 4)"}},
      {"npy empty", {"predict", "{tmp}/model_ok", "--input", "{tmp}/x_empty.npy"},
       {"--input", "x_empty.npy"}},
      {"npy header dict", {"predict", "{tmp}/model_ok", "--input", "{tmp}/x_dict.npy"},
       {"x_dict.npy", "malformed header"}},
      {"idx input truncated", {"predict", "{tmp}/model_ok", "--input", "{tmp}/x_truncated.idx"},
       {"x_truncated.idx", "header claims 3 samples of 4 float32"}},
      {"input missing", {"predict", "{tmp}/model_ok", "--input", "{tmp}/nope.npy"},
       {"nope.npy", "not found"}},
      // --save to something that is not a saved-model directory fails before training starts.
      {"save target is a file", {"train", "--data", "{tmp}/data_ok", "--validation", "2", "--save", "{tmp}/x_ok.npy"},
       {"x_ok.npy", "not a directory"}},
      // Saved models (TF.js model.json + shard).
      {"saved model missing", {"predict", "{tmp}/no_model", "--input", "{tmp}/x_ok.npy"},
       {"no_model"}},
      {"saved model short shard", {"predict", "{tmp}/model_short", "--input", "{tmp}/x_ok.npy"},
       {"group1-shard1of1.bin", "36 bytes", "40 bytes"}},
      {"saved model shape", {"predict", "{tmp}/model_shape", "--input", "{tmp}/x_ok.npy"},
       {"model.json", "dense/kernel", "[2, 4]", "[4, 2]"}},
      {"saved model nan weight", {"predict", "{tmp}/model_nan", "--input", "{tmp}/x_ok.npy"},
       {"model.json", "dense/bias", "nan"}},
      {"saved model unknown weight", {"predict", "{tmp}/model_extra", "--input", "{tmp}/x_ok.npy"},
       {"model.json", "ghost/kernel"}},
      {"saved model bad json", {"predict", "{tmp}/model_badjson", "--input", "{tmp}/x_ok.npy"},
       {"model.json"}},
      {"saved model dtype type", {"predict", "{tmp}/model_dtype", "--input", "{tmp}/x_ok.npy"},
       {"model.json", "dense/kernel", "dtype"}},
      // Keras JSON configs.
      {"config invalid json", {"summary", "{tmp}/bad_syntax.json"}, {"bad_syntax.json"}},
      {"config unknown layer", {"summary", "{tmp}/bad_class.json"},
       {"bad_class.json", "layer 1", "Conv2D"}},
      {"config unknown argument", {"summary", "{tmp}/bad_arg.json"},
       {"bad_arg.json", "layer 1", "frobnicate"}},
      {"config no input shape", {"summary", "{tmp}/bad_noinput.json"},
       {"bad_noinput.json", "input shape"}},
      {"config negative units", {"summary", "{tmp}/bad_units.json"},
       {"bad_units.json", "units", "-3"}},
      {"config bn momentum", {"summary", "{tmp}/bad_momentum.json"},
       {"bad_momentum.json", "momentum", "2"}},
      {"config functional", {"summary", "{tmp}/bad_functional.json"},
       {"bad_functional.json", "layer 1 ('d', Dense)", "'inn'", "names no layer"}},
      {"config fixed batch", {"summary", "{tmp}/bad_batch.json"},
       {"bad_batch.json", "32", "null"}},
      {"config dropout rate", {"summary", "{tmp}/bad_rate.json"},
       {"bad_rate.json", "rate", "1.5"}},
      {"config activation", {"summary", "{tmp}/bad_activation.json"},
       {"bad_activation.json", "swishy"}},
      {"config not an object", {"summary", "{tmp}/bad_array.json"},
       {"bad_array.json", "object"}},
      {"config units type", {"summary", "{tmp}/bad_units_type.json"},
       {"bad_units_type.json", "units"}},
      {"config huge units", {"summary", "{tmp}/bad_huge_units.json"},
       {"bad_huge_units.json", "units"}},
      {"resume corrupt checkpoint",
       {"train", "--data", "{tmp}/data_ok", "--validation", "2", "--resume", "{tmp}/ckpt_corrupt"},
       {"checkpoint.keel", "CRC32C"}},
      {"resume missing checkpoint",
       {"train", "--data", "{tmp}/data_ok", "--validation", "2", "--resume", "{tmp}/ckpt_none"},
       {"ckpt_none"}},
  };
  return cases;
}

const std::vector<Case>& flag_cases() {
  // Every train case points at the tiny data set so a missed check shows as exit 0, quickly.
  // --validation 2: the tiny set has 8 training images (the default holds out 5000).
  const std::vector<std::string> t = {"train", "--data", "{tmp}/data_ok", "--validation", "2",
                                      "--epochs", "1"};
  auto train = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = t;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  static const std::vector<Case> cases = {
      {"batch size 0", train({"--batch-size", "0"}), {"--batch-size", "0", ">= 1"}},
      {"batch size negative", train({"--batch-size", "-3"}), {"--batch-size", "-3"}},
      {"batch size text", train({"--batch-size", "many"}), {"--batch-size", "many"}},
      {"epochs 0", {"train", "--data", "{tmp}/data_ok", "--epochs", "0"}, {"--epochs", "0", ">= 1"}},
      {"learning rate nan", train({"--learning-rate", "nan"}), {"--learning-rate", "nan"}},
      {"learning rate negative", train({"--learning-rate", "-1"}), {"--learning-rate", "-1"}},
      {"learning rate inf", train({"--learning-rate", "inf"}), {"--learning-rate", "inf"}},
      {"clipnorm 0", train({"--clipnorm", "0"}), {"--clipnorm", "0"}},
      {"clipvalue nan", train({"--clipvalue", "nan"}), {"--clipvalue", "nan"}},
      {"global clipnorm negative", train({"--global-clipnorm", "-2"}), {"--global-clipnorm", "-2"}},
      {"clipnorm and global", train({"--clipnorm", "1", "--global-clipnorm", "1"}),
       {"--clipnorm", "--global-clipnorm"}},
      {"agc 0", train({"--agc", "0"}), {"--agc", "0"}},
      {"agc nan", train({"--agc", "nan"}), {"--agc", "nan"}},
      {"verbose 7", train({"--verbose", "7"}), {"--verbose", "7"}},
      {"optimizer foo", train({"--optimizer", "foo"}), {"--optimizer", "foo"}},
      {"unknown flag", train({"--frobnicate", "3"}), {"--frobnicate"}},
      {"unknown model", {"train", "seed-mlpx", "--data", "{tmp}/data_ok"}, {"seed-mlpx"}},
      {"unknown model summary", {"summary", "no-such-model"}, {"no-such-model"}},
      {"validation too large", {"train", "--data", "{tmp}/data_ok", "--validation", "60000"},
       {"--validation", "60000", "8"}},
      {"validation negative", {"train", "--data", "{tmp}/data_ok", "--validation", "-1"},
       {"--validation", "-1"}},
      {"threads negative", train({"--threads", "-1"}), {"--threads", "-1"}},
      {"momentum 2", train({"--momentum", "2"}), {"--momentum", "2"}},
      {"momentum with adam", train({"--momentum", "0.9", "--optimizer", "adam"}),
       {"--momentum", "adam"}},
      {"nesterov with adam", train({"--nesterov", "--optimizer", "adam"}), {"--nesterov", "adam"}},
      {"on-nonfinite foo", train({"--on-nonfinite", "foo"}), {"--on-nonfinite", "foo"}},
      {"loss foo", train({"--loss", "foo"}), {"foo"}},
      {"seed negative", train({"--seed", "-1"}), {"--seed", "-1"}},
      {"unknown command", {"frobnicate"}, {"frobnicate"}},
      {"no command", {}, {"command"}},
      {"variables layer", {"variables", "seed-mlp", "--layer", "99"}, {"--layer", "99"}},
      {"predict batch size 0", {"predict", "{tmp}/model_ok", "--input", "{tmp}/x_ok.npy",
                                "--batch-size", "0"},
       {"--batch-size", "0"}},
      {"predict no input", {"predict", "{tmp}/model_ok"}, {"--input"}},
      {"logdir is a file", train({"--logdir", "{tmp}/config_ok.json"}), {"--logdir", "config_ok.json", "not a directory"}},
      {"grad-norm without logdir", train({"--grad-norm-every", "5"}), {"--grad-norm-every", "--logdir"}},
      {"grad-norm negative", train({"--grad-norm-every", "-5", "--logdir", "{tmp}/logs"}),
       {"--grad-norm-every", "-5"}},
      {"early stopping negative", train({"--early-stopping", "-1"}), {"--early-stopping", "-1"}},
      {"epochs text", {"train", "--data", "{tmp}/data_ok", "--epochs", "1.5"}, {"--epochs", "1.5"}},
      {"blocks 0", train({"resnet-mlp-plain", "--blocks", "0"}), {"--blocks", "0", ">= 1"}},
      {"blocks negative", train({"resnet-mlp-fixup", "--blocks", "-4"}), {"--blocks", "-4"}},
      {"blocks text", train({"resnet-mlp-bn", "--blocks", "many"}), {"--blocks", "many"}},
      {"blocks on a model without blocks", train({"--blocks", "4"}), {"--blocks", "seed-mlp"}},
      {"blocks on a config", {"summary", "{tmp}/config_ok.json", "--blocks", "2"},
       {"--blocks", "config_ok.json"}},
      {"fixup without residual branches", {"summary", "seed-mlp", "--fixup"},
       {"fixup", "no residual branch"}},
      {"fixup with batch norm", {"summary", "resnet-mlp-bn", "--blocks", "2", "--fixup"},
       {"fixup", "resnet_mlp_bn", "BatchNormalization"}},
      {"fixup twice", {"summary", "resnet-mlp-fixup", "--blocks", "2", "--fixup"},
       {"fixup", "already has Fixup layers"}},
      {"fixup on a saved model", {"summary", "{tmp}/model_ok", "--fixup"}, {"--fixup", "model_ok"}},
      {"evaluate batch size 0", {"evaluate", "{tmp}/model_ok", "--data", "{tmp}/data_ok",
                                 "--batch-size", "0"},
       {"--batch-size", "0"}},
  };
  return cases;
}

TEST_F(CliErrors, MalformedFiles) {
  const std::string tmp = fixtures_->root().string();
  for (const Case& c : file_cases()) expect_clean_error(c, tmp);
}

TEST_F(CliErrors, BadFlags) {
  const std::string tmp = fixtures_->root().string();
  for (const Case& c : flag_cases()) expect_clean_error(c, tmp);
}

TEST_F(CliErrors, TableHasAtLeastFortyCases) {
  EXPECT_GE(file_cases().size() + flag_cases().size(), 40u);
}

}  // namespace
}  // namespace keel::cli_test
