// Regression tests for the CLI review of 2026-12-03 (hangs, crashes, wrong answers and late
// checks in `keel plot / train / predict / evaluate / fold-bn`). Each test runs the built `keel`
// binary on the smallest input that showed the problem and checks the fixed behaviour: a clean
// exit-2 error naming the flag / file and value, before anything is written or printed, or the
// right result. Every run is bounded by a timeout, so a regression to a hang fails instead of
// stalling the suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "cli_fixtures.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KEEL_CLI_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define KEEL_CLI_TEST_ASAN 1
#endif

namespace keel::cli_test {
namespace {

constexpr int kTimeout = 20;  // seconds; every run here takes well under one

class CliRobustness : public FixtureSuite {
 protected:
  static std::string tmp() { return fixtures_->root().string(); }
  static RunResult keel(const std::vector<std::string>& args) { return run_keel(args, tmp(), kTimeout); }
  static void expect_resume_refuses(const std::string& ck, const std::string& flag,
                                    const std::string& first, const std::string& second,
                                    const std::vector<std::string>& words);
};

// Exit 2, nothing on stdout, one "keel: ..." line (plus at most a hint) holding every `want`.
void expect_clean_error(const RunResult& r, const std::vector<std::string>& want) {
  SCOPED_TRACE("stdout: " + r.out + "\nstderr: " + r.err);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "") << "a failed run must not print (partial) results";
  const auto lines = split_lines(r.err);
  ASSERT_GE(lines.size(), 1u);
  EXPECT_LE(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("keel: ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[0].find("internal error"), std::string::npos) << lines[0];
  for (const auto& w : want) EXPECT_NE(lines[0].find(w), std::string::npos) << "lacks '" << w << "'";
}

// `keel train` on the fixtures' tiny Fashion-MNIST directory (8 + 4 images), one quick epoch;
// flags in `extra` replace these defaults.
std::vector<std::string> train_tiny(const std::vector<std::string>& extra) {
  const fs::path data = fs::temp_directory_path() / ("keel-cli-errors-" + std::to_string(::getpid())) / "data_ok";
  std::vector<std::string> args = {"train", "--data", data.string()};
  for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
           {"--validation", "2"}, {"--epochs", "1"}, {"--batch-size", "4"}, {"--verbose", "0"}}) {
    if (std::find(extra.begin(), extra.end(), flag) == extra.end()) args.insert(args.end(), {flag, value});
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// F1: x ranges of a few ulps made the tick loop `x += step` stand still (a hang, with memory
// growing); a nan or non-numeric epoch gave nan coordinates or x = 0, exit 0.
TEST_F(CliRobustness, PlotTinyXRangeEndsAndBadEpochsAreErrors) {
  const std::string dir = tmp();
  put_file(dir + "/ulps.csv", std::string("epoch,loss\n10000000000000000,0.5\n10000000000000002,0.4\n"));
  RunResult r = keel({"plot", dir + "/ulps.csv", "-o", dir + "/ulps.svg"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string svg = slurp(dir + "/ulps.svg");
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_LT(svg.size(), 20000u);

  put_file(dir + "/same.csv", std::string("epoch,loss\n1e20,0.5\n1e20,0.4\n"));
  r = keel({"plot", dir + "/same.csv", "-o", dir + "/same.svg"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  svg = slurp(dir + "/same.svg");
  EXPECT_EQ(svg.find("nan"), std::string::npos);

  put_file(dir + "/wide.csv", std::string("epoch,loss\n-1e308,0.5\n1e308,0.4\n"));
  expect_clean_error(keel({"plot", dir + "/wide.csv", "-o", dir + "/wide.svg"}), {"wide.csv", "1e+308"});
  EXPECT_FALSE(fs::exists(dir + "/wide.svg"));

  put_file(dir + "/text.csv", std::string("epoch,loss\n0,0.5\nfirst,0.4\n"));
  expect_clean_error(keel({"plot", dir + "/text.csv", "-o", dir + "/text.svg"}),
                     {"text.csv", "line 3", "'first'"});
  put_file(dir + "/nan.csv", std::string("epoch,loss\n0,0.5\nnan,0.4\n"));
  expect_clean_error(keel({"plot", dir + "/nan.csv", "-o", dir + "/nan.svg"}), {"nan.csv", "line 3", "'nan'"});
}

// F3: --threads had no upper bound; 100000 crashed inside libgomp (SIGSEGV).
TEST_F(CliRobustness, ThreadsAboveTheCapAreRejected) {
  expect_clean_error(keel(train_tiny({"--threads", "100000"})), {"--threads 100000", "1..1024"});
  expect_clean_error(keel(train_tiny({"--threads", "1025"})), {"--threads 1025", "1..1024"});
}

// F4: predict scaled uint8 .npy input by 1/255 while train --data npy: used it as given, so a model
// trained and tested on one file predicted garbage from it. A .npy array is now used as given in
// both (Keras), and a uint8 IDX file is scaled in both (Fashion-MNIST pixels).
TEST_F(CliRobustness, Uint8NpyIsTheSameDataInTrainAndPredict) {
  const std::string dir = tmp();
  const Bytes u8 = {0, 10, 200, 255, 7, 3, 99, 128, 250, 1, 2, 60};
  std::vector<float> as_float(u8.begin(), u8.end()), scaled;
  for (uint8_t v : u8) scaled.push_back(static_cast<float>(v) * (1.0f / 255.0f));
  put_file(dir + "/x_u8.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (3, 4), }", u8));
  put_file(dir + "/x_u8f.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }",
                                   le_floats(as_float)));
  put_file(dir + "/x_u8s.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }",
                                   le_floats(scaled)));
  put_file(dir + "/x_u8.idx", idx(0x08, {3, 4}, u8));
  const std::string data = "npy:" + dir + "/x_u8.npy," + dir + "/y_ids.npy," + dir + "/x_u8.npy," + dir + "/y_ids.npy";
  RunResult r = keel({"train", dir + "/config_ok.json", "--data", data, "--validation", "1", "--epochs",
                      "1", "--verbose", "0", "--save", dir + "/u8_model"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto predict = [&](const std::string& input, const std::string& out) {
    const RunResult p = keel({"predict", dir + "/u8_model", "--input", dir + "/" + input, "--output", dir + "/" + out});
    EXPECT_EQ(p.exit_code, 0) << p.err;
    return slurp(dir + "/" + out);
  };
  const std::string from_u8 = predict("x_u8.npy", "p_u8.npy");
  EXPECT_FALSE(from_u8.empty());
  EXPECT_EQ(from_u8, predict("x_u8f.npy", "p_u8f.npy")) << "uint8 .npy must be used as given";
  EXPECT_EQ(predict("x_u8.idx", "p_idx.npy"), predict("x_u8s.npy", "p_u8s.npy"))
      << "uint8 IDX must be scaled by 1/255";
}

// F5: a diverged run (--on-nonfinite ignore, TerminateOnNaN stop) replaced a good saved model with
// NaN weights, which load_model then refused, and exited 0. Now --save fails (exit 2) and keeps
// the old model; without --save such a run still exits 0 with its report (the exploding-gradients
// study records diverged runs that way).
TEST_F(CliRobustness, DivergedTrainingKeepsTheSavedModelAndFails) {
  const std::string dir = tmp();
  const std::string data = "npy:" + dir + "/x_ok.npy," + dir + "/y_ids.npy," + dir + "/x_ok.npy," + dir + "/y_ids.npy";
  // Inputs of 1e30 at learning rate 1e9: the first step sends the kernel to inf, the next loss is nan.
  put_file(dir + "/x_huge_values.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }",
                                           le_floats(std::vector<float>(12, 1e30f))));
  const std::string blowup = "npy:" + dir + "/x_huge_values.npy," + dir + "/y_ids.npy," + dir + "/x_ok.npy," + dir + "/y_ids.npy";
  put_file(dir + "/softmax.json",
           std::string(R"({"class_name": "Sequential", "config": {"name": "s", "layers": [)"
                       R"({"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "in"}},)"
                       R"({"class_name": "Dense", "config": {"units": 3, "activation": "softmax", "name": "d"}}]}})"));
  const std::string model = dir + "/keep_model";
  RunResult r = keel({"train", dir + "/softmax.json", "--data", data, "--validation", "0", "--epochs",
                      "1", "--verbose", "0", "--save", model});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string before = slurp(model + "/group1-shard1of1.bin");
  r = keel({"train", model, "--data", blowup, "--validation", "0", "--epochs", "2", "--verbose", "0",
            "--learning-rate", "1e9", "--on-nonfinite", "ignore", "--save", model, "--report",
            dir + "/diverged.json"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("training diverged"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not saved to " + model), std::string::npos) << r.err;
  EXPECT_EQ(slurp(model + "/group1-shard1of1.bin"), before) << "the good model was replaced";
  EXPECT_TRUE(fs::exists(dir + "/diverged.json")) << "the report records the diverged run";
  r = keel({"predict", model, "--input", dir + "/x_ok.npy"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// F6: --save DIR with --logdir DIR (or --csv DIR/x.csv, --checkpoint DIR) passed the early
// check while DIR was empty, then training filled DIR and the final save refused it: the trained
// model was lost. The combination is refused before training.
TEST_F(CliRobustness, SaveDirectoryConflictsAreRefusedUpFront) {
  const std::string out = tmp() + "/shared_out";
  expect_clean_error(keel(train_tiny({"--logdir", out, "--save", out})),
                     {"--save " + out, "--logdir " + out});
  expect_clean_error(keel(train_tiny({"--csv", out + "/log.csv", "--save", out + "/"})),
                     {"--save " + out + "/", "--csv " + out + "/log.csv"});
  expect_clean_error(keel(train_tiny({"--checkpoint", out + "/./ck", "--save", out})),
                     {"--save " + out, "--checkpoint " + out + "/./ck"});
  EXPECT_FALSE(fs::exists(out));
  // Side by side is fine.
  const RunResult r = keel(train_tiny({"--logdir", out + "/logs", "--save", out + "/model"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out + "/model/model.json"));
}

// F8: integer flags went through strtoll(..., 0): "010" was octal 8, "0x2" hex, and values past
// the type's range saturated silently.
TEST_F(CliRobustness, IntegerFlagsAreDecimalAndOverflowIsAnError) {
  RunResult r = keel(train_tiny({"--epochs", "010", "--verbose", "2", "--validation", "02"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Epoch 10/10"), std::string::npos) << r.out;
  expect_clean_error(keel(train_tiny({"--epochs", "0x2"})), {"--epochs", "0x2", "decimal integer"});
  expect_clean_error(keel(train_tiny({"--batch-size", "4x"})), {"--batch-size", "4x", "decimal integer"});
  expect_clean_error(keel(train_tiny({"--seed", "99999999999999999999"})),
                     {"--seed", "99999999999999999999", "out of range", "18446744073709551615"});
  expect_clean_error(keel(train_tiny({"--epochs", "99999999999999999999"})),
                     {"--epochs", "99999999999999999999", "out of range"});
  expect_clean_error(keel({"predict", tmp() + "/model_ok", "--input", tmp() + "/x_ok.npy", "--batch-size",
                           "-99999999999999999999"}),
                     {"--batch-size", "out of range"});
  expect_clean_error(keel(train_tiny({"--seed", "-1"})), {"--seed", "-1", ">= 0"});
}

// F10: class ids were checked only inside the loss, batch by batch: a bad test label surfaced
// after all epochs, as "label of sample 17" (an index in the batch) without a file name; evaluate
// named neither the model nor the data. Now checked against the model's output width up front.
TEST_F(CliRobustness, ClassIdsAreCheckedAgainstTheModelBeforeTraining) {
  const std::string dir = tmp();
  put_file(dir + "/y_bad5.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }",
                                    le_floats({0, 1, 2, 1, 7})));
  const std::string data = "npy:" + dir + "/x_ok.npy," + dir + "/y_ids.npy," + dir + "/x_test5.npy," + dir + "/y_bad5.npy";
  expect_clean_error(keel({"train", dir + "/config_ok.json", "--data", data, "--validation", "1", "--epochs", "1",
                           "--save", dir + "/never_saved"}),
                     {dir + "/y_bad5.npy", "label of row 4 is 7", "[0, 3)"});
  EXPECT_FALSE(fs::exists(dir + "/never_saved"));
  // A 3-class model on the 10-class IDX data: train labels 3..7 and test label 3 are out of range.
  put_file(dir + "/cfg784_3.json",
           std::string(R"({"class_name": "Sequential", "config": {"name": "three", "layers": [)"
                       R"({"class_name": "InputLayer", "config": {"batch_input_shape": [null, 28, 28], "name": "in"}},)"
                       R"({"class_name": "Flatten", "config": {"name": "f"}},)"
                       R"({"class_name": "Dense", "config": {"units": 3, "activation": "softmax", "name": "d"}}]}})"));
  std::vector<std::string> args = train_tiny({"--verbose", "1"});
  args.insert(args.begin() + 1, dir + "/cfg784_3.json");
  expect_clean_error(keel(args), {dir + "/data_ok/train-labels-idx1-ubyte", "label of row 3 is 3", "'three'"});
  // evaluate: a saved 3-class model (trained on arrays) on the same IDX test split.
  put_file(dir + "/x784.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 28, 28), }",
                                  le_floats(std::vector<float>(3 * 784, 0.25f))));
  const std::string arrays = "npy:" + dir + "/x784.npy," + dir + "/y_ids.npy," + dir + "/x784.npy," + dir + "/y_ids.npy";
  const RunResult r = keel({"train", dir + "/cfg784_3.json", "--data", arrays, "--validation", "1", "--epochs", "1",
                            "--verbose", "0", "--save", dir + "/three_model"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_clean_error(keel({"evaluate", dir + "/three_model", "--data", dir + "/data_ok"}),
                     {dir + "/data_ok/t10k-labels-idx1-ubyte", "label of row 3 is 3", "'three'"});
}

// F11: --report into a missing directory failed after training; --checkpoint at a regular file
// failed after epoch 1 and --resume at a directory named checkpoint.keel failed, both as
// "internal error"; --csv at a directory failed after the summary was printed.
TEST_F(CliRobustness, OutputPathsAreCheckedBeforeTraining) {
  const std::string dir = tmp();
  std::vector<std::string> args = train_tiny({"--verbose", "1", "--report", dir + "/nodir/r.json"});
  expect_clean_error(keel(args), {"--report " + dir + "/nodir/r.json", "does not exist"});
  put_file(dir + "/a_file", std::string("x"));
  expect_clean_error(keel(train_tiny({"--verbose", "1", "--checkpoint", dir + "/a_file"})),
                     {"--checkpoint " + dir + "/a_file", "not a directory"});
  EXPECT_EQ(slurp(dir + "/a_file"), "x");
  fs::create_directories(dir + "/ck_dir/checkpoint.keel");
  expect_clean_error(keel(train_tiny({"--verbose", "1", "--resume", dir + "/ck_dir"})),
                     {"--resume " + dir + "/ck_dir", "checkpoint.keel", "not a regular file"});
  fs::create_directories(dir + "/csv_dir");
  expect_clean_error(keel(train_tiny({"--verbose", "1", "--csv", dir + "/csv_dir"})),
                     {"--csv " + dir + "/csv_dir", "is a directory"});
  expect_clean_error(keel({"predict", dir + "/model_ok", "--input", dir + "/x_ok.npy", "--output",
                           dir + "/nodir/p.npy"}),
                     {"--output " + dir + "/nodir/p.npy", "does not exist"});
}

// F13: fold-bn saved OUT (replacing a model there) and printed its report before it checked
// --verify, whose error then suggested --data; an empty OUT meant the current directory.
TEST_F(CliRobustness, FoldBnChecksEverythingBeforeWriting) {
  const std::string dir = tmp();
  auto expect_fold_error = [](const std::vector<std::string>& args) {
    const RunResult r = keel(args);
    expect_clean_error(r, {"--verify /nonexistent/fm"});
    EXPECT_EQ(r.err.find("--data"), std::string::npos) << r.err;
  };
  expect_fold_error({"fold-bn", dir + "/model_ok", dir + "/folded", "--verify", "/nonexistent/fm"});
  EXPECT_FALSE(fs::exists(dir + "/folded"));
  // An existing model at OUT stays as it was.
  fs::create_directories(dir + "/folded_keep");
  fs::copy(dir + "/model_ok", dir + "/folded_keep", fs::copy_options::recursive);
  const std::string before = slurp(dir + "/folded_keep/model.json");
  expect_fold_error({"fold-bn", dir + "/model_ok", dir + "/folded_keep", "--verify", "/nonexistent/fm"});
  EXPECT_EQ(slurp(dir + "/folded_keep/model.json"), before);
  expect_clean_error(keel({"fold-bn", dir + "/model_ok", ""}), {"OUT", "''"});
  expect_clean_error(keel({"fold-bn", dir + "/model_ok", dir + "/x_ok.npy"}), {"x_ok.npy", "not a directory"});
  const RunResult ok = keel({"fold-bn", dir + "/model_ok", dir + "/folded"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("Folded 0 of 0"), std::string::npos) << ok.out;
}

// F14: predict took any array whose total size was one sample's as that sample: (2, 392) for a
// 784-input model, here (2, 2) for a 4-input one, printed one prediction and exited 0.
TEST_F(CliRobustness, PredictRejectsSamplesOfAnotherShape) {
  const std::string dir = tmp();
  auto f4 = [](const std::string& shape, size_t n) {
    return npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }",
               le_floats(std::vector<float>(n, 0.5f)));
  };
  put_file(dir + "/x_2x2.npy", f4("(2, 2)", 4));
  expect_clean_error(keel({"predict", dir + "/model_ok", "--input", dir + "/x_2x2.npy"}),
                     {"--input " + dir + "/x_2x2.npy", "(2, 2)", "2 values per sample", "(None, 4)"});
  put_file(dir + "/x_2x1x3.npy", f4("(2, 1, 3)", 6));
  expect_clean_error(keel({"predict", dir + "/model_ok", "--input", dir + "/x_2x1x3.npy"}),
                     {"x_2x1x3.npy", "(2, 1, 3)", "3 values per sample", "(None, 4)"});
  put_file(dir + "/x_4.npy", f4("(4,)", 4));
  put_file(dir + "/x_1x4.npy", f4("(1, 4)", 4));
  for (const char* ok : {"/x_4.npy", "/x_1x4.npy", "/x_ok.npy"}) {
    const RunResult r = keel({"predict", dir + "/model_ok", "--input", dir + ok});
    EXPECT_EQ(r.exit_code, 0) << ok << ": " << r.err;
    EXPECT_NE(r.out.find("0: class"), std::string::npos) << r.out;
  }
}

// Trains the tiny model into a checkpoint with `flag first`, expects a resume with `flag second` to
// be refused naming `words` (before anything is printed), and one with `flag first` to run.
void CliRobustness::expect_resume_refuses(const std::string& ck, const std::string& flag,
                                          const std::string& first, const std::string& second,
                                          const std::vector<std::string>& words) {
  RunResult r = keel(train_tiny({"--checkpoint", ck, flag, first}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_clean_error(keel(train_tiny({"--verbose", "1", "--epochs", "2", "--resume", ck, flag, second})), words);
  r = keel(train_tiny({"--epochs", "2", "--resume", ck, flag, first}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// F9: --resume restored the checkpoint's learning rate and silently ignored --learning-rate (a
// --batch-size or --seed mismatch was already refused). A different value is now refused the same
// way, before anything is printed; the checkpoint's own value is accepted.
TEST_F(CliRobustness, ResumeRefusesADifferentLearningRate) {
  const std::string ck = tmp() + "/lr_ck";
  expect_resume_refuses(ck, "--learning-rate", "0.02", "0.5",
                        {"--resume " + ck, "learning rate 0.02", "--learning-rate 0.5"});
}

// --resume with another --validation replayed other batches and validated on samples the
// checkpoint had trained on, silently; checkpoints now record the training-sample count.
TEST_F(CliRobustness, ResumeRefusesADifferentValidationSplit) {
  const std::string ck = tmp() + "/split_ck";
  expect_resume_refuses(ck, "--validation", "2", "3",
                        {"--resume " + ck, "samples an epoch but this run has", "--validation"});
}

// F2: the graph walk recursed once per layer: a functional chain of 20,000 layers overflowed the
// stack (SIGSEGV) in summary, and in predict / evaluate / export of such a saved model.
TEST_F(CliRobustness, DeepFunctionalGraphDoesNotOverflowTheStack) {
  std::string layers =
      R"({"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "in"}, "name": "in", "inbound_nodes": []})";
  std::string previous = "in";
  for (int i = 0; i < 20000; ++i) {
    const std::string name = "a" + std::to_string(i);
    layers.append(R"(, {"class_name": "Activation", "config": {"name": ")").append(name)
        .append(R"(", "activation": "linear"}, "name": ")").append(name)
        .append(R"(", "inbound_nodes": [[[")").append(previous).append(R"(", 0, 0, {}]]]})");
    previous = name;
  }
  put_file(tmp() + "/deep.json",
           R"({"class_name": "Functional", "config": {"name": "deep", "layers": [)" + layers +
               R"(], "input_layers": [["in", 0, 0]], "output_layers": [[")" + previous + R"(", 0, 0]]}})");
  const RunResult r = keel({"summary", tmp() + "/deep.json"});
  EXPECT_EQ(r.exit_code, 0) << r.err.substr(0, 500);
  EXPECT_NE(r.out.find("a19999 (Activation)"), std::string::npos);
}

// F18: --save '', --report '' and predict --output '' were silently ignored (empty means "not
// given" inside the commands); an explicitly empty value is now an error naming the flag.
TEST_F(CliRobustness, EmptyValuesAreRejected) {
  expect_clean_error(keel(train_tiny({"--save", ""})), {"--save", "''"});
  expect_clean_error(keel(train_tiny({"--report", ""})), {"--report", "''"});
  expect_clean_error(keel({"predict", tmp() + "/model_ok", "--input", tmp() + "/x_ok.npy", "--output", ""}),
                     {"--output", "''"});
}

// F17: a layer with "inbound_nodes": [] (never called) read by another was reported as "never
// computed: the calls depend on each other in a cycle"; there is no cycle.
TEST_F(CliRobustness, NeverCalledLayerIsNotCalledACycle) {
  put_file(tmp() + "/nocall.json",
           std::string(R"({"class_name": "Functional", "config": {"name": "f", "layers": [)"
                       R"({"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "in"}, "name": "in", "inbound_nodes": []},)"
                       R"({"class_name": "Dense", "config": {"name": "a", "units": 3}, "name": "a", "inbound_nodes": []},)"
                       R"({"class_name": "Dense", "config": {"name": "b", "units": 2}, "name": "b", "inbound_nodes": [[["a", 0, 0, {}]]]}],)"
                       R"( "input_layers": [["in", 0, 0]], "output_layers": [["b", 0, 0]]}})"));
  const RunResult r = keel({"summary", tmp() + "/nocall.json"});
  expect_clean_error(r, {"nocall.json", "'a'", "never called"});
  EXPECT_EQ(r.err.find("cycle"), std::string::npos) << r.err;
}

// F15: some errors came after the model summary was on stdout: class ids with --loss
// categorical_crossentropy (a message naming neither flag nor file) and multi-output models.
TEST_F(CliRobustness, TargetWidthAndModelShapeAreCheckedBeforeTheSummary) {
  const std::string dir = tmp();
  const std::string data = "npy:" + dir + "/x_ok.npy," + dir + "/y_ids.npy," + dir + "/x_test5.npy," + dir + "/y_test5.npy";
  expect_clean_error(keel({"train", dir + "/config_ok.json", "--data", data, "--validation", "1", "--epochs", "1",
                           "--loss", "categorical_crossentropy"}),
                     {dir + "/y_ids.npy", "1 target value(s) per sample", "categorical_crossentropy", "expects 3",
                      "sparse_categorical_crossentropy"});
  put_file(dir + "/two_out.json",
           std::string(R"({"class_name": "Functional", "config": {"name": "two", "layers": [)"
                       R"({"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "in"}, "name": "in", "inbound_nodes": []},)"
                       R"({"class_name": "Dense", "config": {"name": "a", "units": 3}, "name": "a", "inbound_nodes": [[["in", 0, 0, {}]]]},)"
                       R"({"class_name": "Dense", "config": {"name": "b", "units": 3}, "name": "b", "inbound_nodes": [[["in", 0, 0, {}]]]}],)"
                       R"( "input_layers": [["in", 0, 0]], "output_layers": [["a", 0, 0], ["b", 0, 0]]}})"));
  expect_clean_error(keel({"train", dir + "/two_out.json", "--data", data, "--validation", "1", "--epochs", "1"}),
                     {"two_out.json", "one input and one output", "2 outputs"});
}

// F12: `keel summary /dev/zero` read the device until memory ran out, and a std::bad_alloc from
// sizes the checks allow was "internal error: std::bad_alloc" (exit 1). A MODEL that is not a
// regular file is refused; running out of memory is a bad-input error (exit 2) naming the command.
TEST_F(CliRobustness, DeviceModelAndOutOfMemoryAreCleanErrors) {
  expect_clean_error(keel({"summary", "/dev/zero"}), {"MODEL '/dev/zero'", "not a regular file"});
  // Dense(60000) after Dense(60000): 3.6e9 parameters (14 GB, under the 2^32 cap) with 2 GB of
  // address space.
  put_file(tmp() + "/big.json",
           std::string(R"({"class_name": "Sequential", "config": {"name": "big", "layers": [)"
                       R"({"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "in"}},)"
                       R"({"class_name": "Dense", "config": {"units": 60000, "name": "d1"}},)"
                       R"({"class_name": "Dense", "config": {"units": 60000, "name": "d2"}}]}})"));
  // Under AddressSanitizer an address-space limit breaks the sanitizer's own shadow memory (it
  // aborts at start-up), so the same failed allocation comes from its allocator instead.
#if KEEL_CLI_TEST_ASAN
  const std::string limit = "export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1:"
                            "max_allocation_size_mb=2000; ";
#else
  const std::string limit = "ulimit -v 2000000; ";
#endif
  const std::string cmd = limit + shell_quote(keel_binary()) + " summary " + shell_quote(tmp() + "/big.json") +
                          " >/dev/null 2>" + shell_quote(tmp() + "/oom.err");
  const int status = std::system(("bash -c " + shell_quote(cmd)).c_str());
  const std::string err = slurp(tmp() + "/oom.err");
  EXPECT_EQ(WEXITSTATUS(status), 2) << err;
  EXPECT_NE(err.find("keel: error: out of memory: keel summary"), std::string::npos) << err;
}

}  // namespace
}  // namespace keel::cli_test
