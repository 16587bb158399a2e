#include "keel/io/checkpoint.h"

#include <algorithm>
#include <bit>
#include <initializer_list>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>

#include "keel/model/callback.h"
#include "keel/core/error.h"
#include "keel/io/atomic_file.h"
#include "keel/io/crc32c.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/optimizer.h"

static_assert(std::endian::native == std::endian::little, "checkpoints are little endian");

namespace keel {

namespace {
constexpr char kMagic[8] = {'K', 'E', 'E', 'L', 'C', 'K', 'P', 'T'};

size_t dtype_size(CheckpointDType t) { return t == CheckpointDType::kFloat32 ? 4 : 8; }
const char* dtype_name(CheckpointDType t) {
  switch (t) {
    case CheckpointDType::kFloat32: return "float32";
    case CheckpointDType::kFloat64: return "float64";
    case CheckpointDType::kInt64: return "int64";
    case CheckpointDType::kUint64: return "uint64";
  }
  return "unknown";
}

void append(std::vector<std::byte>& out, const void* p, size_t n) {
  if (n == 0) return;
  const size_t at = out.size();
  out.resize(at + n);  // resize + memcpy: GCC 12 warns (falsely) on insert of a byte range
  std::memcpy(out.data() + at, p, n);
}

// Bounds-checked cursor over the file bytes.
struct Cursor {
  std::span<const std::byte> bytes;
  size_t pos = 0;
  const std::string& what;
  void read(void* out, size_t n, const char* field) {
    KEEL_CHECK(n <= bytes.size() - pos, what, ": truncated at byte ", pos, " reading ", field);
    if (n != 0) std::memcpy(out, bytes.data() + pos, n);  // out may be null for empty entries
    pos += n;
  }
  template <typename T>
  T get(const char* field) {
    T v;
    read(&v, sizeof(T), field);
    return v;
  }
};

std::string var_key(std::string_view variable) { return without_output_index(variable); }
}  // namespace

void Checkpoint::put(std::string_view name, CheckpointDType dtype, int64_t count, const void* data,
                     size_t bytes) {
  CheckpointEntry e{std::string(name), dtype, count, {}};
  append(e.bytes, data, bytes);
  for (auto& existing : entries_) {
    if (existing.name == name) {
      existing = std::move(e);
      return;
    }
  }
  entries_.push_back(std::move(e));
}

void Checkpoint::put_floats(std::string_view name, std::span<const float> v) {
  put(name, CheckpointDType::kFloat32, static_cast<int64_t>(v.size()), v.data(), v.size_bytes());
}
void Checkpoint::put_doubles(std::string_view name, std::span<const double> v) {
  put(name, CheckpointDType::kFloat64, static_cast<int64_t>(v.size()), v.data(), v.size_bytes());
}
void Checkpoint::put_int64(std::string_view name, int64_t value) {
  put(name, CheckpointDType::kInt64, 1, &value, 8);
}
void Checkpoint::put_uint64s(std::string_view name, std::span<const uint64_t> v) {
  put(name, CheckpointDType::kUint64, static_cast<int64_t>(v.size()), v.data(), v.size_bytes());
}

const CheckpointEntry* Checkpoint::find(std::string_view name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

const CheckpointEntry& Checkpoint::get(std::string_view name, CheckpointDType dtype) const {
  const CheckpointEntry* e = find(name);
  KEEL_CHECK(e, "checkpoint has no entry '", name, "'");
  KEEL_CHECK(e->dtype == dtype, "checkpoint entry '", name, "' is ", dtype_name(e->dtype),
             "; expected ", dtype_name(dtype));
  return *e;
}

void Checkpoint::read_floats(std::string_view name, std::span<float> out) const {
  const auto& e = get(name, CheckpointDType::kFloat32);
  KEEL_CHECK(e.count == static_cast<int64_t>(out.size()), "checkpoint entry '", name, "' holds ",
             e.count, " values; expected ", out.size());
  if (!out.empty()) std::memcpy(out.data(), e.bytes.data(), out.size_bytes());  // never memcpy(nullptr)
}

std::vector<float> Checkpoint::floats(std::string_view name) const {
  const auto& e = get(name, CheckpointDType::kFloat32);
  std::vector<float> out(static_cast<size_t>(e.count));
  if (!out.empty()) std::memcpy(out.data(), e.bytes.data(), e.bytes.size());
  return out;
}

std::vector<double> Checkpoint::doubles(std::string_view name) const {
  const auto& e = get(name, CheckpointDType::kFloat64);
  std::vector<double> out(static_cast<size_t>(e.count));
  if (!out.empty()) std::memcpy(out.data(), e.bytes.data(), e.bytes.size());
  return out;
}

double Checkpoint::get_double(std::string_view name) const {
  const auto v = doubles(name);
  KEEL_CHECK(v.size() == 1, "checkpoint entry '", name, "' holds ", v.size(), " values; expected 1");
  return v[0];
}

int64_t Checkpoint::get_int64(std::string_view name) const {
  const auto& e = get(name, CheckpointDType::kInt64);
  KEEL_CHECK(e.count == 1, "checkpoint entry '", name, "' holds ", e.count, " values; expected 1");
  int64_t v;
  std::memcpy(&v, e.bytes.data(), 8);
  return v;
}

std::vector<uint64_t> Checkpoint::uint64s(std::string_view name) const {
  const auto& e = get(name, CheckpointDType::kUint64);
  std::vector<uint64_t> out(static_cast<size_t>(e.count));
  if (!out.empty()) std::memcpy(out.data(), e.bytes.data(), e.bytes.size());
  return out;
}

std::vector<std::byte> Checkpoint::serialize() const {
  std::vector<std::byte> out;
  append(out, kMagic, 8);
  const uint32_t version = kVersion, count = static_cast<uint32_t>(entries_.size());
  append(out, &version, 4);
  append(out, &count, 4);
  for (const auto& e : entries_) {
    const auto name_len = static_cast<uint32_t>(e.name.size());
    append(out, &name_len, 4);
    append(out, e.name.data(), e.name.size());
    const auto dtype = static_cast<uint8_t>(e.dtype);
    append(out, &dtype, 1);
    const auto n = static_cast<uint64_t>(e.count);
    append(out, &n, 8);
    append(out, e.bytes.data(), e.bytes.size());
  }
  const uint32_t crc = crc32c(out.data(), out.size());
  append(out, &crc, 4);
  return out;
}

Checkpoint Checkpoint::deserialize(std::span<const std::byte> bytes, const std::string& what) {
  KEEL_CHECK(bytes.size() >= 20 && std::memcmp(bytes.data(), kMagic, 8) == 0, what,
             " is not a keel checkpoint (expected magic \"KEELCKPT\")");
  Cursor c{bytes.first(bytes.size() - 4), 8, what};
  const auto version = c.get<uint32_t>("version");
  KEEL_CHECK(version == kVersion, what, ": checkpoint version ", version,
             " is not supported; this keel reads version ", kVersion);
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - 4, 4);
  KEEL_CHECK(stored_crc == crc32c(bytes.data(), bytes.size() - 4), what,
             ": CRC32C mismatch (file is corrupt or truncated)");
  const auto count = c.get<uint32_t>("entry count");
  Checkpoint ck;
  for (uint32_t i = 0; i < count; ++i) {
    const auto name_len = c.get<uint32_t>("entry name length");
    KEEL_CHECK(name_len <= bytes.size(), what, ": entry ", i, " name length ", name_len, " is too large");
    std::string name(name_len, '\0');
    if (name_len > 0) c.read(name.data(), name_len, "entry name");
    const auto dtype = c.get<uint8_t>("entry dtype");
    KEEL_CHECK(dtype >= 1 && dtype <= 4, what, ": entry '", name, "' has dtype code ",
               int{dtype}, "; expected 1-4");
    const auto n = c.get<uint64_t>("entry count");
    const size_t size = dtype_size(static_cast<CheckpointDType>(dtype));
    KEEL_CHECK(n <= (bytes.size() - c.pos) / size, what, ": entry '", name, "' claims ", n,
               " values, more than the file holds");
    CheckpointEntry e{name, static_cast<CheckpointDType>(dtype), static_cast<int64_t>(n),
                      std::vector<std::byte>(n * size)};
    if (!e.bytes.empty()) c.read(e.bytes.data(), e.bytes.size(), "entry data");
    ck.entries_.push_back(std::move(e));
  }
  KEEL_CHECK(c.pos == c.bytes.size(), what, ": ", c.bytes.size() - c.pos,
             " unexpected bytes after the last entry");
  return ck;
}

void Checkpoint::save(const std::filesystem::path& path) const {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  write_file_atomically(path, std::span<const std::byte>(serialize()));
}

Checkpoint Checkpoint::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  KEEL_CHECK(in, "cannot open checkpoint '", path.string(), "'");
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return deserialize(std::as_bytes(std::span(data.data(), data.size())),
                     "checkpoint '" + path.string() + "'");
}

std::filesystem::path checkpoint_path(const std::filesystem::path& dir) {
  return dir / "checkpoint.keel";
}


Checkpoint capture_training_state(Model& model, const TrainingProgress& progress,
                                  std::span<const std::shared_ptr<Callback>> callbacks) {
  Checkpoint ck;
  for (Variable* v : model.variables())
    ck.put_floats("model/" + var_key(v->name), {v->value, static_cast<size_t>(v->size())});
  if (model.compiled()) {
    Optimizer& opt = model.optimizer();
    for (const auto& [name, buffer] : opt.slots()) ck.put_floats("optimizer/" + name, buffer);
    ck.put_int64("optimizer/iterations", opt.iterations());
    ck.put_double("optimizer/learning_rate", opt.learning_rate());
  }
  ck.put_int64("train/epoch", progress.epoch);
  ck.put_int64("train/global_step", progress.global_step);
  ck.put_uint64s("train/seed", std::span<const uint64_t>(&progress.seed, 1));
  ck.put_int64("train/batch_size", progress.batch_size);
  if (progress.train_samples > 0) ck.put_int64("train/samples", progress.train_samples);
  for (const auto& layer : model.layers())
    for (const LayerState& s : layer->save_state())
      ck.put_uint64s(s.key + "/" + layer->name(), s.words);
  for (const auto& cb : callbacks) {
    const std::string name = cb->state_name();
    if (!name.empty()) cb->save_state(ck, "callback/" + name + "/");
  }
  return ck;
}

namespace {
// The entries under `prefix` in file order, except those named in `skip`.
std::vector<const CheckpointEntry*> entries_under(const Checkpoint& ck, std::string_view prefix,
                                                  std::initializer_list<std::string_view> skip = {}) {
  std::vector<const CheckpointEntry*> out;
  for (const auto& e : ck.entries()) {
    if (!e.name.starts_with(prefix)) continue;
    if (std::find(skip.begin(), skip.end(), e.name) != skip.end()) continue;
    out.push_back(&e);
  }
  return out;
}

// Copies entry `e` into `out` after checking type and size; `what` names the destination.
void copy_entry(const CheckpointEntry& e, std::span<float> out, const std::string& what) {
  KEEL_CHECK(e.dtype == CheckpointDType::kFloat32 && e.count == static_cast<int64_t>(out.size()),
             "checkpoint entry '", e.name, "' (", e.count, " values) does not fit ", what, " (",
             out.size(), " float32 values); was it saved from another model?");
  if (!out.empty()) std::memcpy(out.data(), e.bytes.data(), out.size_bytes());
}
}  // namespace

namespace {
// Layer states are matched like variables, by position: the n-th "<key>/..." entry of the file goes
// to the n-th layer (model.layers() order) whose save_state() has that key.
void restore_layer_states(const Checkpoint& ck, Model& model) {
  std::map<std::string, std::pair<std::vector<const CheckpointEntry*>, size_t>> by_key;
  for (const auto& layer : model.layers()) {
    std::vector<LayerState> state = layer->save_state();  // keys and sizes to expect
    if (state.empty()) continue;
    for (LayerState& s : state) {
      auto it = by_key.find(s.key);
      if (it == by_key.end())
        it = by_key.emplace(s.key, std::pair{entries_under(ck, s.key + "/"), size_t{0}}).first;
      auto& [entries, next] = it->second;
      KEEL_CHECK(next < entries.size(), "checkpoint has no '", s.key, "' state for layer '",
                 layer->name(), "' (", layer->class_name(), "); was it saved from another model?");
      const std::string& entry = entries[next++]->name;
      std::vector<uint64_t> words = ck.uint64s(entry);
      KEEL_CHECK(words.size() == s.words.size(), "checkpoint entry '", entry, "' holds ",
                 words.size(), " words; layer '", layer->name(), "' (", layer->class_name(),
                 ") expects ", s.words.size());
      s.words = std::move(words);
    }
    layer->load_state(state);
  }
}
}  // namespace

TrainingProgress restore_training_state(const Checkpoint& ck, Model& model,
                                        std::span<const std::shared_ptr<Callback>> callbacks) {
  // Variables are matched by position (arena order) and size, like Keras's load_weights by
  // topology: default layer names (dense_3 vs dense) depend on what else the process built.
  const auto stored = entries_under(ck, "model/");
  const auto vars = model.variables();
  KEEL_CHECK(stored.size() == vars.size(), "checkpoint holds ", stored.size(),
             " model variables but model '", model.name(), "' has ", vars.size(),
             "; was it saved from another model?");
  for (size_t i = 0; i < vars.size(); ++i)
    copy_entry(*stored[i], {vars[i]->value, static_cast<size_t>(vars[i]->size())},
               "variable '" + vars[i]->name + "'");
  if (model.compiled() && ck.contains("optimizer/iterations")) {
    Optimizer& opt = model.optimizer();
    const auto params = model.optimizer_params();
    if (!opt.built()) opt.build(params);
    const auto slots_stored =
        entries_under(ck, "optimizer/", {"optimizer/iterations", "optimizer/learning_rate"});
    auto slots = opt.slots();
    KEEL_CHECK(slots_stored.size() == slots.size(), "checkpoint holds ", slots_stored.size(),
               " optimizer slots but ", opt.class_name(), " has ", slots.size(),
               "; resume with the optimizer the checkpoint was trained with");
    for (size_t i = 0; i < slots.size(); ++i)
      copy_entry(*slots_stored[i], slots[i].second, "optimizer slot '" + slots[i].first + "'");
    opt.set_iterations(ck.get_int64("optimizer/iterations"));
    opt.set_learning_rate(ck.get_double("optimizer/learning_rate"));
  }
  restore_layer_states(ck, model);
  for (const auto& cb : callbacks) {
    const std::string name = cb->state_name();
    if (name.empty()) continue;
    if (!entries_under(ck, "callback/" + name + "/").empty()) cb->load_state(ck, "callback/" + name + "/");
  }
  TrainingProgress p;
  p.epoch = ck.get_int64("train/epoch");
  p.global_step = ck.get_int64("train/global_step");
  const auto seed = ck.uint64s("train/seed");
  KEEL_CHECK(seed.size() == 1, "checkpoint entry 'train/seed' holds ", seed.size(),
             " values; expected 1");
  p.seed = seed[0];
  p.batch_size = ck.get_int64("train/batch_size");
  if (ck.contains("train/samples")) p.train_samples = ck.get_int64("train/samples");
  KEEL_CHECK(p.epoch >= 0 && p.global_step >= 0 && p.batch_size >= 0 && p.train_samples >= 0,
             "checkpoint has epoch ", p.epoch, ", global_step ", p.global_step, ", batch_size ",
             p.batch_size, ", train samples ", p.train_samples,
             "; expected values >= 0 (corrupt checkpoint)");
  return p;
}

}  // namespace keel
