// Checks on flag values that apply to every subcommand, installed once from main:
// - integers are decimal: CLI11 converts with strtoll(..., base 0), which read `--epochs 010` as
//   octal 8 and `0x2` as hex, and saturated `--seed 99999999999999999999` to 2^64 - 1 silently;
// - a value given as '' is an error: `--save ''` and `--report ''` were silently ignored (empty
//   means "not given" inside the commands).
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>

#include "commands.h"

namespace keel::cli {

namespace {

// Empty when `value` is a decimal integer of the flag's type; then it is rewritten without
// leading zeros, so CLI11's base-0 conversion reads it as decimal too.
template <typename T>
std::string decimal_error(std::string& value) {
  if (std::is_unsigned_v<T> && value.starts_with('-'))
    return value + " is not allowed; expected an integer >= 0";
  const char* begin = value.data();
  const char* end = begin + value.size();
  T parsed{};
  const auto [ptr, ec] = std::from_chars(begin, end, parsed);
  if (ec == std::errc::result_out_of_range) {
    return value + " is out of range; expected a decimal integer in [" +
           std::to_string(std::numeric_limits<T>::min()) + ", " +
           std::to_string(std::numeric_limits<T>::max()) + "]";
  }
  if (ec != std::errc() || ptr != end) return value + " is not allowed; expected a decimal integer";
  value = std::to_string(parsed);
  return {};
}

}  // namespace

void require_decimal_integers(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    for (CLI::Option* option : sub->get_options()) {
      // CLI11's type names: "INT" for every signed integer (and std::optional of one), "UINT" for
      // unsigned ones, followed by ":<validator>" descriptions.
      // transform(), not check(): check() hands the validator a copy, so the rewrite to plain
      // decimal would not reach the conversion. Transforms run before the other validators.
      const std::string type = option->get_type_name();
      if (type.starts_with("UINT")) {
        option->transform(CLI::Validator(decimal_error<uint64_t>, ""));
      } else if (type.starts_with("INT")) {
        option->transform(CLI::Validator(decimal_error<int64_t>, ""));
      }
    }
  }
}

void reject_empty_values(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    for (CLI::Option* option : sub->get_options()) {
      // Flags take no value; --title '' is a figure without a title.
      if (option->get_type_size() == 0 || option->check_name("--title")) continue;
      option->check(CLI::Validator(
          [](std::string& value) {
            return value.empty() ? std::string("'' is not allowed; expected a value") : std::string();
          },
          ""));
    }
  }
}

}  // namespace keel::cli
