// libFuzzer target for read_idx (raw and gzip). The first input byte picks the mode so one corpus
// covers both paths: even = the rest is the file as is (which may itself be gzip), odd = the rest
// is gzip-compressed first, so mutations of the IDX header reach the streaming-decompression
// path instead of dying in zlib's CRC check.
#include <zlib.h>

#include <cstdint>
#include <vector>

#include "fuzz_input.h"
#include "keel/core/error.h"
#include "keel/io/idx.h"

namespace {

std::vector<uint8_t> gzip(const uint8_t* data, size_t size) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::vector<uint8_t> out(deflateBound(&zs, size));
  zs.next_in = const_cast<Bytef*>(data);
  zs.avail_in = static_cast<uInt>(size);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool compress = (data[0] & 1) != 0;
  const bool allow_nonfinite = (data[0] & 2) != 0;
  std::vector<uint8_t> file = compress ? gzip(data + 1, size - 1)
                                       : std::vector<uint8_t>(data + 1, data + size);
  const auto path = keel::fuzz::write_scratch("input.idx", file.data(), file.size());
  try {
    const keel::IdxArray array =
        keel::read_idx(path, {.item_name = "images", .allow_nonfinite = allow_nonfinite});
    // What the training pipeline does next with a successfully read array.
    if (array.size() <= (int64_t{1} << 20)) (void)array.to_tensor();
  } catch (const keel::Error& e) {
    keel::fuzz::report(e);
  }
  return 0;
}
