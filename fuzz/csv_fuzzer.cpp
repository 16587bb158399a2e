// libFuzzer target for read_csv. The first input byte picks the options (header mode, label
// column, delimiter, non-finite policy); the rest is the file.
#include <cstdint>
#include <string>

#include "fuzz_input.h"
#include "keel/core/error.h"
#include "keel/io/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  keel::CsvOptions options;
  options.header = mode % 3 == 0   ? keel::CsvOptions::Header::kAuto
                   : mode % 3 == 1 ? keel::CsvOptions::Header::kPresent
                                   : keel::CsvOptions::Header::kAbsent;
  switch ((mode >> 2) & 3) {
    case 0: break;
    case 1: options.label_column = int64_t{-1}; break;
    case 2: options.label_column = int64_t{(mode >> 4) & 7} - 3; break;
    case 3: options.label_column = std::string("label"); break;
  }
  options.delimiter = (mode & 0x40) ? ';' : ',';
  options.allow_nonfinite = (mode & 0x80) != 0;
  const auto path = keel::fuzz::write_scratch("input.csv", data + 1, size - 1);
  try {
    (void)keel::read_csv(path, options);
  } catch (const keel::Error& e) {
    keel::fuzz::report(e);
  }
  return 0;
}
