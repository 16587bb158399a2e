#include "keel/callbacks/monitor.h"

#include <iostream>

#include "keel/model/callback.h"

namespace keel {

void warn_monitor_missing(std::string_view what, std::string_view monitor, const Logs& logs) {
  std::string available;
  for (const auto& [name, value] : logs.items()) available += (available.empty() ? "" : ",") + name;
  std::string text = "WARNING: ";
  if (what == "ModelCheckpoint") {
    text += "Can save best model only with " + std::string(monitor) + " available, skipping.";
  } else {
    text += std::string(what) + " conditioned on metric `" + std::string(monitor) +
            "` which is not available. Available metrics are: " + available;
  }
  std::cerr << text << '\n';
}

}  // namespace keel
