// What model.cpp needs from callbacks.cpp.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "bindings.h"
#include "keel/model/callback.h"

namespace keel_python {

// Keras logs as a Python dict {"loss": 0.31, ...}.
nb::dict logs_dict(const keel::Logs& logs);

// A stream over Python's sys.stdout (the progress bar and callback messages write to it).
std::ostream& python_stdout();

// The fit loop's bridge to Python callbacks: calls dispatcher(hook, index, logs) for each hook
// named in `hooks`, and raises KeyboardInterrupt after a batch when Ctrl-C was pressed.
std::shared_ptr<keel::Callback> python_callbacks(nb::object dispatcher, std::vector<std::string> hooks);

}  // namespace keel_python
