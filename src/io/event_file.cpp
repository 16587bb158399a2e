// Hand-written protobuf wire encoding of the few TensorFlow messages TensorBoard needs. A protobuf
// dependency (libprotobuf + protoc at build time) would buy nothing here: five message types, all
// written once per epoch or once per N steps. Field numbers: proto/tensorboard_subset.proto.
#include "keel/io/event_file.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

#include "keel/core/error.h"
#include "keel/io/crc32c.h"
#include "protobuf_wire.h"

static_assert(std::endian::native == std::endian::little,
              "event files and tensor_content are little endian; add byte swapping for this host");

namespace keel {

namespace {

using protobuf::WireType, protobuf::kBytes, protobuf::kFixed32, protobuf::kFixed64, protobuf::kVarint;

// Appends protobuf fields to a string.
class ProtoWriter {
 public:
  void varint(uint32_t field, uint64_t v) { key(field, kVarint), raw_varint(v); }
  void fixed64(uint32_t field, double v) {
    key(field, kFixed64);
    raw(&v, 8);
  }
  void bytes(uint32_t field, std::string_view b) {
    key(field, kBytes);
    raw_varint(b.size());
    out_.append(b);
  }
  void message(uint32_t field, const ProtoWriter& m) { bytes(field, m.out_); }
  const std::string& str() const { return out_; }
  void raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }

 private:
  void key(uint32_t field, WireType type) { raw_varint((uint64_t{field} << 3) | type); }
  void raw_varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  std::string out_;
};

double wall_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string event_payload(int64_t step, const ProtoWriter* summary, std::string_view file_version) {
  ProtoWriter event;
  event.fixed64(1, wall_time_now());
  event.varint(2, static_cast<uint64_t>(step));
  if (summary) event.message(5, *summary);
  else event.bytes(3, file_version);
  return event.str();
}

ProtoWriter summary_value(std::string_view tag, std::string_view plugin, int data_class,
                          const ProtoWriter& tensor) {
  ProtoWriter plugin_data, metadata, value, summary;
  plugin_data.bytes(1, plugin);
  metadata.message(1, plugin_data);
  metadata.varint(4, static_cast<uint64_t>(data_class));
  value.bytes(1, tag);
  value.message(9, metadata);
  value.message(8, tensor);
  summary.message(1, value);
  return summary;
}

// ---- reading (keel plot) ----

using protobuf::Field;
using ProtoReader = protobuf::Reader;

template <typename T>
T load(std::string_view b) {
  T v;
  std::memcpy(&v, b.data(), sizeof(T));
  return v;
}

// The scalar a TensorProto holds, if it is a float/double scalar.
std::optional<double> tensor_scalar(std::string_view tensor) {
  ProtoReader r(tensor);
  Field f;
  uint64_t dtype = 0;
  std::optional<double> value;
  while (r.next(f)) {
    if (f.number == 1 && f.type == kVarint) dtype = f.varint;
    if (f.number == 4 && f.type == kBytes && dtype == 1 && f.bytes.size() == 4) value = load<float>(f.bytes);
    if (f.number == 4 && f.type == kBytes && dtype == 2 && f.bytes.size() == 8) value = load<double>(f.bytes);
    if (f.number == 5 && f.type == kBytes && f.bytes.size() == 4) value = load<float>(f.bytes);
    if (f.number == 5 && f.type == kFixed32) value = load<float>(f.bytes);
    if (f.number == 6 && f.type == kBytes && f.bytes.size() == 8) value = load<double>(f.bytes);
    if (f.number == 6 && f.type == kFixed64) value = load<double>(f.bytes);
  }
  return value;
}

}  // namespace

EventFileWriter::EventFileWriter(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  KEEL_CHECK(!ec, "cannot create TensorBoard log directory '", dir.string(), "': ", ec.message());
  static std::atomic<int> counter{0};
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  const auto seconds = static_cast<int64_t>(wall_time_now());
  char name[512];
  std::snprintf(name, sizeof(name), "events.out.tfevents.%010lld.%s.%d.%d.v2",
                static_cast<long long>(seconds), host, static_cast<int>(getpid()), counter++);
  path_ = dir / name;
  file_ = std::fopen(path_.c_str(), "wb");
  KEEL_CHECK(file_, "cannot create TensorBoard event file '", path_.string(), "': ",
             std::strerror(errno));
  write_record(event_payload(0, nullptr, "brain.Event:2"));
  flush();
}

EventFileWriter::~EventFileWriter() {
  if (file_) std::fclose(file_);
}

void EventFileWriter::write_record(const std::string& payload) {
  const uint64_t length = payload.size();
  const uint32_t length_crc = mask_crc32c(crc32c(&length, 8));
  const uint32_t data_crc = mask_crc32c(crc32c(payload.data(), payload.size()));
  const bool ok = std::fwrite(&length, 8, 1, file_) == 1 && std::fwrite(&length_crc, 4, 1, file_) == 1 &&
                  std::fwrite(payload.data(), 1, payload.size(), file_) == payload.size() &&
                  std::fwrite(&data_crc, 4, 1, file_) == 1;
  KEEL_CHECK(ok, "cannot write TensorBoard event file '", path_.string(), "': ", std::strerror(errno));
}

void EventFileWriter::flush() {
  KEEL_CHECK(std::fflush(file_) == 0, "cannot write TensorBoard event file '", path_.string(),
             "': ", std::strerror(errno));
}

void EventFileWriter::add_scalar(std::string_view tag, double value, int64_t step) {
  ProtoWriter tensor, shape;
  const auto v = static_cast<float>(value);
  tensor.varint(1, 1);             // DT_FLOAT
  tensor.message(2, shape);        // scalar: no dims
  tensor.bytes(5, std::string_view(reinterpret_cast<const char*>(&v), 4));  // packed float_val
  const ProtoWriter summary = summary_value(tag, "scalars", /*DATA_CLASS_SCALAR=*/1, tensor);
  write_record(event_payload(step, &summary, {}));
}

void EventFileWriter::add_histogram(std::string_view tag, std::span<const float> values, int64_t step,
                                    int buckets) {
  KEEL_CHECK(buckets >= 1, "histogram '", tag, "': buckets ", buckets, " must be >= 1");
  std::vector<double> cells;  // (k, 3): left, right, count
  if (!values.empty()) {
    double lo = INFINITY, hi = -INFINITY;
    for (float x : values) {
      if (!std::isfinite(x)) continue;  // TensorBoard cannot bucket NaN/inf; they are dropped
      lo = std::min(lo, double{x});
      hi = std::max(hi, double{x});
    }
    if (lo > hi) {
      // nothing finite: an empty histogram
    } else if (lo == hi) {
      cells = {lo - 0.5, hi + 0.5, 0.0};
      for (float x : values) cells[2] += std::isfinite(x) ? 1.0 : 0.0;
    } else {
      cells.assign(static_cast<size_t>(buckets) * 3, 0.0);
      const double width = (hi - lo) / buckets;
      for (int b = 0; b < buckets; ++b) {
        cells[b * 3] = lo + width * b;
        cells[b * 3 + 1] = b + 1 == buckets ? hi : lo + width * (b + 1);
      }
      for (float x : values) {
        if (!std::isfinite(x)) continue;
        const auto b = std::min<int64_t>(static_cast<int64_t>((x - lo) / width), buckets - 1);
        cells[b * 3 + 2] += 1.0;
      }
    }
  }
  ProtoWriter tensor, shape, dim0, dim1;
  dim0.varint(1, cells.size() / 3);
  dim1.varint(1, 3);
  shape.message(2, dim0);
  shape.message(2, dim1);
  tensor.varint(1, 2);  // DT_DOUBLE
  tensor.message(2, shape);
  tensor.bytes(4, std::string_view(reinterpret_cast<const char*>(cells.data()), cells.size() * 8));
  const ProtoWriter summary = summary_value(tag, "histograms", /*DATA_CLASS_TENSOR=*/2, tensor);
  write_record(event_payload(step, &summary, {}));
}

std::vector<ScalarEvent> read_scalar_events(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  KEEL_CHECK(in, "cannot open event file '", file.string(), "'");
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<ScalarEvent> out;
  size_t pos = 0;
  while (data.size() - pos >= 12) {
    const auto length = load<uint64_t>(std::string_view(data).substr(pos, 8));
    KEEL_CHECK(load<uint32_t>(std::string_view(data).substr(pos + 8, 4)) ==
                   mask_crc32c(crc32c(data.data() + pos, 8)),
               "event file '", file.string(), "': bad length CRC at offset ", pos);
    if (length > data.size() - pos - 12 || data.size() - pos - 12 - length < 4) break;  // torn tail
    const std::string_view payload = std::string_view(data).substr(pos + 12, length);
    KEEL_CHECK(load<uint32_t>(std::string_view(data).substr(pos + 12 + length, 4)) ==
                   mask_crc32c(crc32c(payload.data(), payload.size())),
               "event file '", file.string(), "': bad data CRC at offset ", pos);
    pos += 16 + length;
    try {
      ProtoReader event(payload);
      Field f;
      int64_t step = 0;
      std::vector<std::string_view> summaries;
      while (event.next(f)) {
        if (f.number == 2 && f.type == kVarint) step = static_cast<int64_t>(f.varint);
        if (f.number == 5 && f.type == kBytes) summaries.push_back(f.bytes);
      }
      for (auto summary : summaries) {
        ProtoReader s(summary);
        Field sv;
        while (s.next(sv)) {
          if (sv.number != 1 || sv.type != kBytes) continue;
          ProtoReader v(sv.bytes);
          Field vf;
          ScalarEvent e{{}, step, 0.0};
          std::optional<double> value;
          while (v.next(vf)) {
            if (vf.number == 1 && vf.type == kBytes) e.tag = std::string(vf.bytes);
            if (vf.number == 2 && vf.type == kFixed32) value = load<float>(vf.bytes);
            if (vf.number == 8 && vf.type == kBytes) {
              ProtoReader t(vf.bytes);
              Field tf;
              bool scalar_shape = true;
              while (t.next(tf))
                if (tf.number == 2 && tf.type == kBytes && !tf.bytes.empty()) scalar_shape = false;
              if (scalar_shape) value = tensor_scalar(vf.bytes);
            }
          }
          if (value) {
            e.value = *value;
            out.push_back(std::move(e));
          }
        }
      }
    } catch (const Error& e) {
      KEEL_FAIL("event file '", file.string(), "': malformed Event record before offset ", pos, ": ",
                e.what());
    }
  }
  return out;
}

std::vector<std::filesystem::path> list_event_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() &&
        entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace keel
