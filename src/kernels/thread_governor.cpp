#include "keel/kernels/thread_governor.h"

#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "keel/kernels/threads.h"

namespace keel {

namespace {
// Adds one /proc/stat line's busy ticks when it is a "cpuN" line of an allowed CPU.
void add_cpu_line(const char* line, const cpu_set_t& allowed, unsigned long long& busy, int& cpus_seen) {
  int cpu = -1;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                     steal = 0;
  // "cpu  ..." is the total over every CPU (%d would skip the spaces and read its first field).
  if (!std::isdigit(static_cast<unsigned char>(line[3]))) return;
  if (std::sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &user, &nice, &system,
                  &idle, &iowait, &irq, &softirq, &steal) < 9)
    return;
  if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed)) return;
  // guest time is already inside user; idle and iowait are the CPU doing nothing.
  busy += user + nice + system + irq + softirq + steal;
  ++cpus_seen;
}
}  // namespace

// read(2) into a stack buffer, not stdio: a training step allocates nothing, and this runs in one.
bool read_cpu_times(CpuTimes& out) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return false;
  const int fd = ::open("/proc/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  unsigned long long busy = 0;
  int cpus_seen = 0;
  char buffer[8192];
  size_t held = 0;  // bytes of an unfinished line kept at the front of buffer
  bool in_cpu_lines = true;
  while (in_cpu_lines) {
    const ssize_t got = ::read(fd, buffer + held, sizeof(buffer) - 1 - held);
    if (got <= 0) break;
    held += static_cast<size_t>(got);
    buffer[held] = '\0';
    char* line = buffer;
    for (char* newline; (newline = std::strchr(line, '\n')) != nullptr; line = newline + 1) {
      *newline = '\0';
      if (std::strncmp(line, "cpu", 3) != 0) {  // the cpu lines come first; the rest is not needed
        in_cpu_lines = false;
        break;
      }
      add_cpu_line(line, allowed, busy, cpus_seen);
    }
    held = in_cpu_lines ? static_cast<size_t>(buffer + held - line) : 0;
    if (held == sizeof(buffer) - 1) break;  // a line longer than the buffer: not /proc/stat's cpu lines
    std::memmove(buffer, line, held);
  }
  ::close(fd);
  const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  timespec self{};
  if (cpus_seen == 0 || clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &self) != 0) return false;
  out.busy_seconds = static_cast<double>(busy) * tick;
  out.self_seconds = static_cast<double>(self.tv_sec) + 1e-9 * static_cast<double>(self.tv_nsec);
  return true;
}

int threads_for_free_cpus(double free_cpus, int ceiling) {
  if (!(free_cpus > 0)) return 1;  // also NaN
  return std::clamp(static_cast<int>(std::lround(free_cpus)), 1, std::max(1, ceiling));
}

int allowed_cpus() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return 0;
  return CPU_COUNT(&allowed);
}

// A quarter of a second: /proc/stat counts in 10 ms ticks, so a window holds ~50 ticks on 2 CPUs
// (an error of a tick or two is ~0.04 of a core); new load is followed within a window, its end
// within two. (With 0.5 s and two windows both ways, a one-epoch run on a busy machine spent its
// first second at a third of the speed: 56 % of idle instead of 60+.)
ThreadGovernor::ThreadGovernor()
    : ThreadGovernor(num_threads(), allowed_cpus(), read_cpu_times, std::chrono::milliseconds(250)) {
  if (threads_are_fixed()) active_ = false;
}

ThreadGovernor::ThreadGovernor(int ceiling, int cpus, Sampler sampler, Clock::duration window)
    : ceiling_(std::max(1, ceiling)),
      cpus_(cpus),
      threads_(ceiling_),
      lowest_(ceiling_),
      sampler_(std::move(sampler)),
      window_(window) {
  // One thread, or one CPU, leaves nothing to adapt.
  active_ = ceiling_ > 1 && cpus_ > 1 && sampler_ && sampler_(last_);
  last_time_ = Clock::now();
}

// Also after the sampler failed: the count it lowered before that is still in force.
ThreadGovernor::~ThreadGovernor() {
  if (threads_ != ceiling_) set_default_num_threads(ceiling_);
}

void ThreadGovernor::tick(Clock::time_point now) {
  if (!active_ || now - last_time_ < window_) return;
  CpuTimes current;
  if (!sampler_(current)) {  // /proc/stat went away: keep what we have, stop adapting
    active_ = false;
    return;
  }
  const double wall = std::chrono::duration<double>(now - last_time_).count();
  const double others =
      std::max(0.0, (current.busy_seconds - last_.busy_seconds) - (current.self_seconds - last_.self_seconds)) /
      wall;
  last_ = current;
  last_time_ = now;
  const int wanted = threads_for_free_cpus(static_cast<double>(cpus_) - others, ceiling_);
  if (wanted == threads_) {
    pending_ = 0;
    return;
  }
  // Fewer threads at once: every window spent with too many costs ~3x. More only when a second
  // window in a row asks for them, so a machine that is busy in bursts does not flap.
  if (wanted > threads_ && wanted != pending_) {
    pending_ = wanted;
    return;
  }
  pending_ = 0;
  threads_ = wanted;
  lowest_ = std::min(lowest_, threads_);
  ++changes_;
  set_default_num_threads(threads_);
}

}  // namespace keel
