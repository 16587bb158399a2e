// ThreadGovernor: keel's default thread count follows the load other processes put on the machine.
//
// Why: keel's parallel regions (its own OpenMP loops and oneDNN's, same runtime) end in a barrier.
// When another process keeps one of two cores busy, one of keel's two threads is descheduled for
// whole time slices while the other waits for it at every barrier: measured on 2 cores, training
// at batch 32 fell to ~31 % of its idle speed (OMP_WAIT_POLICY=passive: ~58 %), while ONE thread
// on the core that is left does ~68 % of the idle figure. So the governor measures, four times a
// second, how much CPU time other processes take on the CPUs keel may run on (/proc/stat minus
// this process's own CPU time) and runs with the cores that are free: fewer threads while the
// machine is busy, all of them again once it is not. Users never need OMP_NUM_THREADS for it.
//
// It only acts on the default: a count the user chose (set_num_threads, --threads,
// OMP_NUM_THREADS) is never changed. Bits: results are identical for a given thread count; on
// CPUs without AVX-512, oneDNN's AVX2 matmul splits reductions per thread count (see
// gemm_test.cpp), so a run whose thread count the governor changed may differ from an idle run
// in the last bits. A fixed count (`--threads 2`) is the way to bit-reproducible runs there.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace keel {

// CPU time on the CPUs this process may run on, cumulative since some fixed origin.
struct CpuTimes {
  double busy_seconds = 0;  // every process's non-idle time (user, system, irq, steal), summed over those CPUs
  double self_seconds = 0;  // this process's CPU time
};

// Reads /proc/stat (the lines of the CPUs in this thread's affinity mask) and this process's CPU
// clock; false where /proc/stat cannot be read (the governor then stays off).
bool read_cpu_times(CpuTimes& out);

// The CPUs in this thread's affinity mask (0 if it cannot be read).
int allowed_cpus();

// The thread count for `free_cpus` idle CPUs (CPUs keel may use minus the cores other processes
// kept busy): rounded to the nearest whole core, at least 1, at most `ceiling`.
int threads_for_free_cpus(double free_cpus, int ceiling);

class ThreadGovernor {
 public:
  using Clock = std::chrono::steady_clock;
  using Sampler = std::function<bool(CpuTimes&)>;

  // Off when the thread count is fixed (threads_are_fixed()) or /proc/stat is unreadable;
  // otherwise governs between 1 and the current num_threads().
  ThreadGovernor();
  // Tests: a given sampler, CPU count and window.
  ThreadGovernor(int ceiling, int cpus, Sampler sampler, Clock::duration window);
  ThreadGovernor(const ThreadGovernor&) = delete;
  ThreadGovernor& operator=(const ThreadGovernor&) = delete;
  // Gives the ceiling back, so the next fit starts with every thread.
  ~ThreadGovernor();

  // Once per training / evaluation step: a clock read, plus a sample every window. Fewer threads
  // are taken after one window that asks for them, more only after two in a row (so a burst of
  // load does not make the count flap back and forth).
  void tick() { tick(Clock::now()); }
  void tick(Clock::time_point now);

  bool active() const { return active_; }
  int threads() const { return threads_; }
  int lowest_threads() const { return lowest_; }
  int64_t changes() const { return changes_; }

 private:
  bool active_ = false;
  int ceiling_ = 1, cpus_ = 1, threads_ = 1, lowest_ = 1, pending_ = 0;
  int64_t changes_ = 0;
  Sampler sampler_;
  Clock::duration window_{};
  Clock::time_point last_time_{};
  CpuTimes last_{};
};

}  // namespace keel
