// `mpirun -np 2 keel train ...`: data-parallel with no other flag, only rank 0 prints and writes,
// and a failing or killed rank ends the whole job quickly with a clear message (never a hang).
// These tests launch mpirun themselves, with Open MPI's settings for root / containers / more
// ranks than cores in the environment (../shared/reference/tooling.md).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>

#include "cli/cli_fixtures.h"
#include "temp_dir.h"
#include "test_util.h"

namespace keel {
namespace {

using cli_test::keel_binary;
using cli_test::shell_quote;
using testing::read_text;

const char* kMpiEnv =
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
    "OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl=self,vader OMPI_MCA_oob_tcp_if_include=lo";

// "env ... mpirun -np N keel <args>", or fails the test when CMake found no MPI.
std::string mpirun(int ranks, const std::string& args) {
  const std::string exec = KEEL_MPIEXEC;
  if (exec.empty()) {
    ADD_FAILURE() << "mpirun not found when keel was configured: scripts/install-deps.sh installs "
                     "Open MPI (libopenmpi-dev, openmpi-bin)";
    return "false";
  }
  // No leak check under mpirun in sanitizer builds: Open MPI's unloaded components leak at
  // MPI_Finalize as "<unknown module>" frames that LSan suppressions cannot name.
  return std::string("env ") + kMpiEnv + " ASAN_OPTIONS=\"${ASAN_OPTIONS:-}:detect_leaks=0\" " +
         shell_quote(exec) + " -np " + std::to_string(ranks) +
         " " + shell_quote(keel_binary()) + " " + args;
}

int run(const std::string& command, const std::filesystem::path& out, const std::filesystem::path& err) {
  const int status = std::system((command + " >" + shell_quote(out.string()) + " 2>" +
                                  shell_quote(err.string()) + " </dev/null").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(MpiCli, TwoRanksTrainAndOnlyRankZeroPrintsAndWrites) {
  testing::TempDir dir("mpi_cli");
  // 3,000 training images (the rest held out for validation) keep the run short.
  const std::string args = "train --epochs 1 --validation 57000 --verbose 2 --report " +
                           shell_quote((dir.path / "r.json").string()) + " --save " +
                           shell_quote((dir.path / "m").string());
  ASSERT_EQ(run(mpirun(2, args), dir.path / "out.txt", dir.path / "err.txt"), 0)
      << read_text(dir.path / "err.txt");
  const std::string out = read_text(dir.path / "out.txt");
  EXPECT_EQ(count(out, "Test: loss"), 1) << out;        // one rank printed
  EXPECT_EQ(count(out, "Total params"), 1) << out;      // one summary
  const auto report = nlohmann::json::parse(read_text(dir.path / "r.json"));
  EXPECT_EQ(report["ranks"], 2);
  const auto threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency() / 2));
  EXPECT_EQ(report["threads_per_rank"], threads);
  const double accuracy = report["test_accuracy"];
  EXPECT_GT(accuracy, 0.6) << report.dump();
  EXPECT_TRUE(std::filesystem::exists(dir.path / "m" / "model.json"));
}

// A checkpoint holds one copy of the replicated state (written by rank 0), so any rank count can
// resume it: 2 ranks write it, 3 ranks and one process continue from it.
TEST(MpiCli, ACheckpointWrittenByTwoRanksResumesWithThreeAndWithOne) {
  testing::TempDir dir("mpi_cli");
  const std::string common = " --validation 57000 --verbose 0 --checkpoint ";
  const std::string ck = shell_quote((dir.path / "ck").string());
  ASSERT_EQ(run(mpirun(2, "train --epochs 1" + common + ck), dir.path / "o1", dir.path / "e1"), 0)
      << read_text(dir.path / "e1");
  ASSERT_TRUE(std::filesystem::exists(dir.path / "ck" / "checkpoint.keel"));
  std::filesystem::copy(dir.path / "ck", dir.path / "ck1");
  const std::string report = " --report " + shell_quote((dir.path / "r.json").string());
  ASSERT_EQ(run(mpirun(3, "train --epochs 2 --resume " + ck + common + ck + report), dir.path / "o2",
                dir.path / "e2"),
            0)
      << read_text(dir.path / "e2");
  EXPECT_EQ(count(read_text(dir.path / "o2"), "Resuming from"), 1) << read_text(dir.path / "o2");
  auto r = nlohmann::json::parse(read_text(dir.path / "r.json"));
  EXPECT_EQ(r["ranks"], 3);
  EXPECT_EQ(r["epochs"], 1);  // epoch 2 only: epoch 1 came from the checkpoint
  const std::string ck1 = shell_quote((dir.path / "ck1").string());
  ASSERT_EQ(run(shell_quote(keel_binary()) + " train --epochs 2 --resume " + ck1 + common + ck1 + report,
                dir.path / "o3", dir.path / "e3"),
            0)
      << read_text(dir.path / "e3");
  r = nlohmann::json::parse(read_text(dir.path / "r.json"));
  EXPECT_EQ(r["ranks"], 1);
  EXPECT_EQ(r["epochs"], 1);
  EXPECT_GT(r["test_accuracy"].get<double>(), 0.6);
}

// --synchronized-bn: two ranks train the seed model as one process does (global-batch BN
// statistics); without it the per-replica statistics make the runs differ.
TEST(MpiCli, SynchronizedBnTwoRanksTrainAsOneProcess) {
  testing::TempDir dir("mpi_sync_bn");
  auto test_loss = [&](int ranks, const std::string& flags) {
    const std::string report = (dir.path / "r.json").string();
    // 1,000 training images, 32 steps.
    const std::string args = "train --epochs 1 --validation 59000 --verbose 0 --report " +
                             shell_quote(report) + flags;
    const std::string command =
        ranks == 1 ? shell_quote(keel_binary()) + " " + args : mpirun(ranks, args);
    EXPECT_EQ(run(command, dir.path / "out.txt", dir.path / "err.txt"), 0)
        << command << "\n" << read_text(dir.path / "err.txt");
    return nlohmann::json::parse(read_text(report))["test_loss"].get<double>();
  };
  const double alone = test_loss(1, " --synchronized-bn");
  const double synchronized = test_loss(2, " --synchronized-bn");
  const double per_replica = test_loss(2, "");
  EXPECT_NEAR(synchronized, alone, 1e-5 * alone);
  EXPECT_GT(std::fabs(per_replica - alone), 1e-4 * alone) << per_replica << " vs " << alone;
}

TEST(MpiCli, BadInputOnEveryRankFailsTheJobNamingTheRank) {
  testing::TempDir dir("mpi_cli");
  const auto start = std::chrono::steady_clock::now();
  const int code = run(mpirun(2, "train --data " + shell_quote((dir.path / "missing").string())),
                       dir.path / "out.txt", dir.path / "err.txt");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string err = read_text(dir.path / "err.txt");
  EXPECT_NE(code, 0) << err;
  EXPECT_LT(seconds, 10.0);
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(keel: error: \[rank [01] of 2\] .*missing)"))) << err;
}

TEST(MpiCli, AKilledRankEndsTheJobWithinSeconds) {
  testing::TempDir dir("mpi_cli");
  // A long run in the background; its ranks are found by the unique --report path.
  const std::string report = (dir.path / "never_written.json").string();
  const std::string command = mpirun(2, "train --epochs 1000 --validation 57000 --verbose 0 --report " +
                                            shell_quote(report));
  const pid_t launcher = fork();
  ASSERT_GE(launcher, 0);
  if (launcher == 0) {
    const std::string redirected = command + " >" + shell_quote((dir.path / "out.txt").string()) +
                                   " 2>" + shell_quote((dir.path / "err.txt").string()) + " </dev/null";
    execl("/bin/sh", "sh", "-c", redirected.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait (up to 60 s) until both ranks are training, then kill one of them.
  std::vector<pid_t> ranks;
  for (int i = 0; i < 600 && ranks.size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ranks.clear();
    const std::string pgrep = "pgrep -f -x '" + keel_binary() + " train .*" + report + "' > " +
                              shell_quote((dir.path / "pids.txt").string());
    if (std::system(pgrep.c_str()) != 0) continue;
    std::ifstream pids(dir.path / "pids.txt");
    for (pid_t p; pids >> p;) ranks.push_back(p);
  }
  if (ranks.size() < 2) {
    kill(launcher, SIGKILL);
    waitpid(launcher, nullptr, 0);
    FAIL() << "the two ranks did not start within 60 s: " << read_text(dir.path / "err.txt");
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // into the training loop's collectives
  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(ranks[1], SIGKILL), 0);
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 300 && done == 0; ++i) {  // 30 s at most, then clean up and fail
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    done = waitpid(launcher, &status, WNOHANG);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  if (done == 0) {
    for (pid_t p : ranks) kill(p, SIGKILL);
    kill(launcher, SIGKILL);
    waitpid(launcher, &status, 0);
    FAIL() << "the job still ran 30 s after a rank was killed";
  }
  EXPECT_LT(seconds, 10.0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << status;
  EXPECT_FALSE(std::filesystem::exists(report));
  const std::string err = read_text(dir.path / "err.txt");
  EXPECT_FALSE(err.empty()) << "no message about the killed rank";
  std::printf("killed rank %d: job ended after %.2f s; mpirun said:\n%s\n", int(ranks[1]), seconds,
              err.substr(0, 600).c_str());
  for (pid_t p : ranks) kill(p, SIGKILL);  // none should be left; be sure
}

}  // namespace
}  // namespace keel
