#include "keel/model/progbar.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>

namespace keel {

namespace {
double steady_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string printf_string(const char* format, auto... args) {
  char buffer[128];
  std::snprintf(buffer, sizeof buffer, format, args...);
  return buffer;
}
}  // namespace

bool is_terminal(const std::ostream& out) {
  if (&out == &std::cout) return isatty(STDOUT_FILENO);
  if (&out == &std::cerr) return isatty(STDERR_FILENO);
  const auto* aware = dynamic_cast<const TerminalAwareStreamBuf*>(out.rdbuf());
  return aware != nullptr && aware->is_terminal();
}

Progbar::Progbar(int64_t target, int verbose, std::ostream& out, bool dynamic_display,
                 double interval, Clock clock)
    : target_(target),
      verbose_(verbose),
      out_(out),
      dynamic_display_(dynamic_display),
      interval_(interval),
      clock_(std::move(clock)),
      start_(now()) {}

double Progbar::now() const { return clock_ ? clock_() : steady_seconds(); }

std::string Progbar::format_time(double t, const std::string& unit) {
  if (t >= 1 || t == 0) return printf_string(" %.0fs/%s", t, unit.c_str());
  if (t >= 1e-3) return printf_string(" %.0fms/%s", t * 1e3, unit.c_str());
  return printf_string(" %.0fus/%s", t * 1e6, unit.c_str());
}

std::string Progbar::format_value(double v) {
  return std::fabs(v) > 1e-3 ? printf_string(" %.4f", v) : printf_string(" %.4e", v);
}

std::string Progbar::bar_text(int64_t current) const {
  const int numdigits = static_cast<int>(std::log10(static_cast<double>(target_))) + 1;
  std::string bar = printf_string("%*lld/%lld [", numdigits, static_cast<long long>(current),
                                  static_cast<long long>(target_));
  constexpr int kWidth = 30;
  const int prog_width = static_cast<int>(kWidth * (static_cast<double>(current) / target_));
  if (prog_width > 0) {
    bar.append(static_cast<size_t>(prog_width - 1), '=');
    bar += current < target_ ? '>' : '=';
  }
  bar.append(static_cast<size_t>(kWidth - prog_width), '.');
  return bar + "]";
}

double Progbar::estimate_step_duration(int64_t current, double t) {
  if (current <= 0) return 0;
  double per_unit = time_after_first_step_ >= 0 && current > 1
                        ? (t - time_after_first_step_) / static_cast<double>(current - 1)
                        : (t - start_) / static_cast<double>(current);
  if (current == 1) time_after_first_step_ = t;
  return per_unit;
}

void Progbar::update(int64_t current, const std::vector<std::pair<std::string, double>>& values,
                     bool finalize) {
  const double t = now();
  std::string info = printf_string(" - %.0fs", t - start_);
  if (current == target_) time_at_epoch_end_ = t;
  if (verbose_ == 1) {
    // Keras rewrites in place on a terminal; elsewhere it would print a line per update, which is
    // what clutters logs (keras #1007), so off a terminal only the final line is written.
    if (!finalize && (!dynamic_display_ || t - last_update_ < interval_)) return;
    std::string message;
    const size_t prev_total_width = total_width_;
    if (dynamic_display_) {
      message.append(prev_total_width, '\b');
      message += '\r';
    }
    const std::string bar = bar_text(current);
    total_width_ = bar.size();
    message += bar;
    const double per_unit = estimate_step_duration(current, t);
    if (finalize) {
      info += format_time(per_unit, "step");
    } else {
      const double eta = per_unit * static_cast<double>(target_ - current);
      const auto e = static_cast<long long>(eta);
      if (eta > 3600) {
        info = " - ETA: " + printf_string("%lld:%02lld:%02lld", e / 3600, (e % 3600) / 60, e % 60);
      } else if (eta > 60) {
        info = " - ETA: " + printf_string("%lld:%02lld", e / 60, e % 60);
      } else {
        info = " - ETA: " + printf_string("%llds", e);
      }
    }
    for (const auto& [name, value] : values) info += " - " + name + ":" + format_value(value);
    total_width_ += info.size();
    if (prev_total_width > total_width_) info.append(prev_total_width - total_width_, ' ');
    if (finalize) info += '\n';
    out_ << message << info << std::flush;
  } else if (verbose_ == 2 && finalize) {
    const int numdigits = static_cast<int>(std::log10(static_cast<double>(target_))) + 1;
    std::string line = printf_string("%*lld/%lld", numdigits, static_cast<long long>(current),
                                     static_cast<long long>(target_)) + info;
    for (const auto& [name, value] : values) line += " - " + name + ":" + format_value(value);
    if (time_at_epoch_end_ >= 0) {
      const double per_epoch = time_at_epoch_end_ - start_;
      line += " -" + format_time(per_epoch, "epoch");
      line += " -" + format_time(per_epoch / static_cast<double>(target_), "step");
    }
    out_ << line << '\n' << std::flush;
  }
  last_update_ = t;
}

}  // namespace keel
