#include "keel/kernels/thread_governor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <vector>

#include "keel/kernels/threads.h"

namespace keel {
namespace {

using Clock = ThreadGovernor::Clock;
using std::chrono::seconds;

TEST(ThreadGovernor, ThreadsForFreeCpusRoundsToWholeCoresWithinOneAndTheCeiling) {
  EXPECT_EQ(threads_for_free_cpus(2.0, 2), 2);
  EXPECT_EQ(threads_for_free_cpus(1.6, 2), 2);   // a light background load keeps both
  EXPECT_EQ(threads_for_free_cpus(1.3, 2), 1);   // another process on most of a core
  EXPECT_EQ(threads_for_free_cpus(0.2, 2), 1);   // never fewer than one
  EXPECT_EQ(threads_for_free_cpus(-0.5, 2), 1);
  EXPECT_EQ(threads_for_free_cpus(std::nan(""), 4), 1);
  EXPECT_EQ(threads_for_free_cpus(7.7, 4), 4);   // never more than the ceiling
  EXPECT_EQ(threads_for_free_cpus(2.4, 4), 2);
}

// A scripted machine: each sample adds the given CPU seconds of every process and of this one.
struct ScriptedMachine {
  CpuTimes now;
  int samples = 0;
  void advance(double busy, double self) {
    now.busy_seconds += busy;
    now.self_seconds += self;
  }
  ThreadGovernor::Sampler sampler() {
    return [this](CpuTimes& out) {
      ++samples;
      out = now;
      return true;
    };
  }
};

class ThreadGovernorScripted : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = num_threads(); }
  void TearDown() override { set_num_threads(saved_); }
  int saved_ = 1;
};

TEST_F(ThreadGovernorScripted, FewerThreadsWhileAnotherProcessTakesACoreAndAllAgainAfter) {
  ScriptedMachine machine;
  {
    ThreadGovernor governor(2, 2, machine.sampler(), seconds(1));
    ASSERT_TRUE(governor.active());
    const Clock::time_point t0 = Clock::now();
    // Idle apart from keel on both cores: nothing changes.
    machine.advance(/*busy=*/2.0, /*self=*/2.0);
    governor.tick(t0 + seconds(1));
    EXPECT_EQ(governor.threads(), 2);
    // Another process spins on one core: keel's threads get one core between them. One window
    // is enough to give the core up.
    machine.advance(2.0, 1.0);
    governor.tick(t0 + seconds(2));
    EXPECT_EQ(governor.threads(), 1);
    EXPECT_EQ(num_threads(), 1) << "the OpenMP default follows the governor";
    // Between windows nothing is sampled.
    const int samples = machine.samples;
    governor.tick(t0 + seconds(2) + std::chrono::milliseconds(500));
    EXPECT_EQ(machine.samples, samples);
    // keel on one core, the other process still on the other: stays at one.
    machine.advance(2.0, 1.0);
    governor.tick(t0 + seconds(3));
    EXPECT_EQ(governor.threads(), 1);
    // The other process ends: keel alone on one core, one idle. Two such windows bring the
    // second thread back, one does not.
    machine.advance(1.0, 1.0);
    governor.tick(t0 + seconds(4));
    EXPECT_EQ(governor.threads(), 1) << "one idle window is not enough to take a core back";
    machine.advance(1.0, 1.0);
    governor.tick(t0 + seconds(5));
    EXPECT_EQ(governor.threads(), 2);
    EXPECT_EQ(num_threads(), 2);
    EXPECT_EQ(governor.lowest_threads(), 1);
    EXPECT_EQ(governor.changes(), 2);
    // Load, one idle window, load again: the count stays down (the idle window alone is not
    // taken), so bursts of load do not make it flap.
    machine.advance(2.0, 1.0);
    governor.tick(t0 + seconds(6));
    machine.advance(1.0, 1.0);
    governor.tick(t0 + seconds(7));
    machine.advance(2.0, 1.0);
    governor.tick(t0 + seconds(8));
    machine.advance(1.0, 1.0);
    governor.tick(t0 + seconds(9));
    EXPECT_EQ(governor.threads(), 1);
    EXPECT_EQ(governor.changes(), 3);
  }
  EXPECT_EQ(num_threads(), 2) << "the governor's destructor restores the ceiling";
}

TEST_F(ThreadGovernorScripted, CountsLoadPerWallSecondNotPerWindow) {
  ScriptedMachine machine;
  ThreadGovernor governor(4, 4, machine.sampler(), seconds(1));
  const Clock::time_point t0 = Clock::now();
  // A window of 2 s in which other processes used 5 CPU-seconds: 2.5 cores, so 1.5 are free -> 2
  // (5 per window would be 1 free core and 1 thread).
  machine.advance(5.0 + 6.0, 6.0);
  governor.tick(t0 + seconds(2));
  EXPECT_EQ(governor.threads(), 2);
}

TEST_F(ThreadGovernorScripted, OffForOneThreadOneCpuOrAFailingSampler) {
  ScriptedMachine machine;
  EXPECT_FALSE(ThreadGovernor(1, 2, machine.sampler(), seconds(1)).active());
  EXPECT_FALSE(ThreadGovernor(2, 1, machine.sampler(), seconds(1)).active());
  EXPECT_FALSE(ThreadGovernor(2, 2, [](CpuTimes&) { return false; }, seconds(1)).active());
  // A sampler that fails later switches the governor off and leaves the count as it was.
  bool ok = true;
  ThreadGovernor governor(2, 2, [&](CpuTimes& out) { out = {}; return ok; }, seconds(1));
  ASSERT_TRUE(governor.active());
  ok = false;
  governor.tick(Clock::now() + seconds(2));
  EXPECT_FALSE(governor.active());
  EXPECT_EQ(governor.threads(), 2);
}

TEST_F(ThreadGovernorScripted, ACountTheUserChoseIsNeverChanged) {
  set_num_threads(num_threads());  // as --threads does
  EXPECT_TRUE(threads_are_fixed());
  ThreadGovernor governor;
  EXPECT_FALSE(governor.active());
}

TEST(ThreadGovernorProc, ReadsThisProcessAndTheMachineFromProcStat) {
  CpuTimes before, after;
  ASSERT_TRUE(read_cpu_times(before));
  // Spin until this thread has had 300 ms of CPU (its own clock), not 300 ms of wall time: on a
  // loaded machine (CI) the thread gets only part of the wall time, and the bound failed once.
  const auto thread_cpu_seconds = [] {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
  };
  const double cpu_start = thread_cpu_seconds();
  const auto start = Clock::now();
  volatile double sink = 0;
  while (thread_cpu_seconds() - cpu_start < 0.3 && Clock::now() - start < std::chrono::seconds(20)) {
    sink = sink + 1.0;
  }
  ASSERT_TRUE(read_cpu_times(after));
  const double self = after.self_seconds - before.self_seconds;
  const double busy = after.busy_seconds - before.busy_seconds;
  EXPECT_GT(self, 0.25) << "300 ms of CPU spinning on this thread (10 ms ticks in /proc)";
  EXPECT_LT(self, 5.0);
  // /proc/stat counts in ticks (10 ms): the machine's busy time includes this process's.
  EXPECT_GT(busy, self - 0.1);
}

// The real thing: a child process spins on a core while the governor watches /proc/stat; keel's
// default must come down to the cores left. (Only that direction is asserted: CI machines have
// other load of their own, so "back to every core" cannot be promised within a test's time.)
TEST(ThreadGovernorProc, ASpinningProcessTakesAThreadAway) {
  const int cpus = allowed_cpus();
  if (cpus < 2) GTEST_SKIP() << "one CPU: no thread count to adapt";
  const int saved = num_threads();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const auto start = Clock::now();
    volatile double sink = 0;
    while (Clock::now() - start < seconds(8)) sink = sink + 1.0;
    _exit(0);
  }
  int lowest = cpus;
  {
    ThreadGovernor governor(cpus, cpus, read_cpu_times, std::chrono::milliseconds(250));
    ASSERT_TRUE(governor.active());
    const auto start = Clock::now();
    while (Clock::now() - start < seconds(4) && governor.threads() == cpus) {
      usleep(20'000);
      governor.tick();
    }
    lowest = governor.lowest_threads();
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  set_num_threads(saved);
  EXPECT_LE(lowest, cpus - 1);
}

}  // namespace
}  // namespace keel
