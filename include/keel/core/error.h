// keel::Error and the check macros.
//
// Two tiers (DESIGN.md, style 11): anything a user, a flag or a file can trigger throws
// keel::Error with a message naming the layer / file / field, the offending value and what was
// expected; internal invariants use assert. The CLI turns a keel::Error into exit code 2.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace keel {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
// Builds a message from any streamable pieces: error_message("layer '", name, "': ", value).
template <typename... Parts>
std::string error_message(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

}  // namespace keel

// KEEL_CHECK(cond, "what", value, "expected ...") throws keel::Error with the concatenated parts.
#define KEEL_CHECK(cond, ...)                                          \
  do {                                                                 \
    if (!(cond)) throw ::keel::Error(::keel::detail::error_message(__VA_ARGS__)); \
  } while (0)

#define KEEL_FAIL(...) throw ::keel::Error(::keel::detail::error_message(__VA_ARGS__))
