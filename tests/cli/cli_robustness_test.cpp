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

namespace keel::cli_test {
namespace {

constexpr int kTimeout = 20;  // seconds; every run here takes well under one

class CliRobustness : public FixtureSuite {
 protected:
  static std::string tmp() { return fixtures_->root().string(); }
  static RunResult keel(const std::vector<std::string>& args) { return run_keel(args, tmp(), kTimeout); }
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

}  // namespace
}  // namespace keel::cli_test
