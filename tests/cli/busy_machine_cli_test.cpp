// `keel train` on a busy machine: with another process spinning on a core, the default thread count
// gives that core up (the ThreadGovernor in fit, issue 18) and the report says so; a count given
// with --threads is kept.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "cli/cli_fixtures.h"
#include "keel/kernels/thread_governor.h"

namespace keel::cli_test {
namespace {

// A child process spinning on one core until the object is destroyed.
class Spinner {
 public:
  Spinner() : pid_(fork()) {
    if (pid_ == 0) {
      const auto start = std::chrono::steady_clock::now();
      volatile double sink = 0;
      while (std::chrono::steady_clock::now() - start < std::chrono::minutes(10)) sink = sink + 1.0;
      _exit(0);
    }
  }
  ~Spinner() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool running() const { return pid_ > 0; }

 private:
  pid_t pid_;
};

nlohmann::json train_report(const std::vector<std::string>& extra, const fs::path& dir) {
  std::vector<std::string> args = {"train", "--verbose", "0", "--report", (dir / "r.json").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  const RunResult r = run_keel(args, dir.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(slurp(dir / "r.json"));
}

TEST(BusyMachineCli, DefaultThreadsGiveACoreToASpinningProcessAndAFixedCountStays) {
  const int cpus = allowed_cpus();
  if (cpus < 2) GTEST_SKIP() << "one CPU: no thread count to adapt";
  const fs::path dir = fs::path(::testing::TempDir()) / "keel_busy_machine";
  fs::create_directories(dir);
  Spinner spinner;
  ASSERT_TRUE(spinner.running());
  // The test binary pins OMP_NUM_THREADS for its children (tests/pinned_threads.cpp); this test is
  // about keel's default, so its keel runs without it.
  unsetenv("OMP_NUM_THREADS");
  // Two epochs of the seed model: several seconds with a core taken, several 0.5 s windows.
  const nlohmann::json adaptive = train_report({"--epochs", "2"}, dir);
  EXPECT_EQ(adaptive.at("threads_per_rank"), cpus) << "the ceiling is every allowed CPU";
  EXPECT_LE(adaptive.at("lowest_threads_per_rank").get<int>(), cpus - 1);
  EXPECT_GE(adaptive.at("thread_changes").get<int>(), 1);
  const nlohmann::json fixed = train_report({"--epochs", "1", "--threads", std::to_string(cpus)}, dir);
  EXPECT_EQ(fixed.at("lowest_threads_per_rank"), cpus);
  EXPECT_EQ(fixed.at("thread_changes"), 0);
}

}  // namespace
}  // namespace keel::cli_test
