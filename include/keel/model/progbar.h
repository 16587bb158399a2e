// Progbar: the tf.keras 2.x progress bar text (keras/utils/generic_utils.py Progbar, v2.11):
//   1719/1719 [==============================] - 3s 2ms/step - loss: 0.5559 - accuracy: 0.8094
// On a terminal the line is rewritten in place (\b...\r, padded to the previous width) at most every
// `interval` seconds; otherwise only the final line of each bar is written, so logs stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace keel {

class Progbar {
 public:
  using Clock = std::function<double()>;  // seconds, monotonic; injectable for tests

  // verbose: 1 = bar, 2 = one line at the end ("1719/1719 - 3s - loss: ... - 3s/epoch - 2ms/step").
  Progbar(int64_t target, int verbose, std::ostream& out, bool dynamic_display,
          double interval = 0.05, Clock clock = {});

  // `values` are the running values to show (stateful: displayed as given, as Keras does for
  // compiled metrics and the loss tracker in fit).
  void update(int64_t current, const std::vector<std::pair<std::string, double>>& values,
              bool finalize);

  // The pieces, exposed for tests.
  static std::string format_time(double time_per_unit, const std::string& unit_name);
  static std::string format_value(double value);
  std::string bar_text(int64_t current) const;

 private:
  double now() const;
  double estimate_step_duration(int64_t current, double now);

  int64_t target_;
  int verbose_;
  std::ostream& out_;
  bool dynamic_display_;
  double interval_;
  Clock clock_;
  double start_;
  double last_update_ = 0;
  double time_after_first_step_ = -1;
  double time_at_epoch_end_ = -1;
  size_t total_width_ = 0;
};

// A stream buffer that knows whether its text ends up on a terminal: the Python front end's
// buffer over sys.stdout (a terminal, or a notebook that redraws "\r" lines as Keras assumes).
class TerminalAwareStreamBuf : public std::streambuf {
 public:
  virtual bool is_terminal() const = 0;
};

// True when `out` is std::cout/std::cerr attached to a terminal, or writes through a
// TerminalAwareStreamBuf that says so: the progress bar then redraws its line in place.
bool is_terminal(const std::ostream& out);

}  // namespace keel
