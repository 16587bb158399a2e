// libFuzzer target for read_scalar_events (TensorBoard event files). The first byte picks the
// mode: even = the rest is the file as is; odd = the rest is a list of record payloads, each
// preceded by a 2-byte little-endian length, which the harness frames with correct lengths and
// masked CRC32Cs, so mutations reach the protobuf decoder instead of failing the checksums.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "fuzz_input.h"
#include "keel/core/error.h"
#include "keel/io/crc32c.h"
#include "keel/io/event_file.h"

namespace {

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

std::vector<uint8_t> frame_records(const uint8_t* data, size_t size) {
  std::vector<uint8_t> out;
  size_t pos = 0;
  while (pos + 2 <= size) {
    const size_t n = std::min<size_t>(data[pos] | (size_t{data[pos + 1]} << 8), size - pos - 2);
    pos += 2;
    std::vector<uint8_t> header;
    for (int i = 0; i < 8; ++i) header.push_back(static_cast<uint8_t>(uint64_t{n} >> (8 * i)));
    out.insert(out.end(), header.begin(), header.end());
    put_u32(out, keel::mask_crc32c(keel::crc32c(header.data(), header.size())));
    out.insert(out.end(), data + pos, data + pos + n);
    put_u32(out, keel::mask_crc32c(keel::crc32c(data + pos, n)));
    pos += n;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::vector<uint8_t> file = (data[0] & 1) ? frame_records(data + 1, size - 1)
                                                  : std::vector<uint8_t>(data + 1, data + size);
  const auto path = keel::fuzz::write_scratch("events.out.tfevents.0.fuzz.v2", file.data(), file.size());
  try {
    (void)keel::read_scalar_events(path);
  } catch (const keel::Error& e) {
    keel::fuzz::report(e);
  }
  return 0;
}
