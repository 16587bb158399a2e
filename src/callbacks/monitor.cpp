#include "keel/callbacks/monitor.h"

#include <iostream>

#include "keel/model/callback.h"

namespace keel {

void warn_monitor_missing(std::string_view what, std::string_view monitor, const Logs& logs) {
  std::string available;
  for (const auto& [name, value] : logs.items()) available += (available.empty() ? "" : ",") + name;
  std::cerr << "WARNING: " << what << " conditioned on metric `" << monitor
            << "` which is not available. Available metrics are: " << available << '\n';
}

void warn_best_model_monitor_missing(std::string_view monitor) {
  std::cerr << "WARNING: Can save best model only with " << monitor << " available, skipping.\n";
}

}  // namespace keel
