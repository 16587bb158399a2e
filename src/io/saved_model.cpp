// TF.js Layers saved models (keel/io/saved_model.h).
#include "keel/io/saved_model.h"

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "keel/core/error.h"
#include "keel/io/atomic_file.h"
#include "keel/io/file_bytes.h"
#include "keel/io/model_config.h"

namespace keel {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The bytes of the shards are little-endian float32; keel copies them raw.
static_assert(std::endian::native == std::endian::little, "saved models assume a little-endian host");

constexpr const char* kShardName = "group1-shard1of1.bin";

// "dense/kernel:0" -> "dense/kernel": tfjs weight names carry no TF output index.
std::string manifest_name(const Variable& v) { return without_output_index(v.name); }

std::string shape_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// "models/m/" -> "models/m"; "m" -> "./m", so parent_path() is never empty.
fs::path normal_dir(const fs::path& dir) {
  fs::path p = dir.lexically_normal();
  if (!p.has_filename() && p.has_parent_path()) p = p.parent_path();
  if (!p.has_parent_path()) p = fs::path(".") / p;
  return p;
}

fs::path clean_dir(const fs::path& dir) {
  fs::path p = normal_dir(dir);
  // A symbolic link names where the user keeps the model: save into its target, as writing through
  // a link does, instead of replacing the link by a directory (the swap renames `p` itself). A
  // loop of links stops after 40 hops, as the kernel's ELOOP, and the write then fails clearly.
  std::error_code ec;
  for (int hops = 0; hops < 40 && fs::is_symlink(p, ec); ++hops) {
    const fs::path target = fs::read_symlink(p, ec);
    if (ec) break;
    p = normal_dir(target.is_absolute() ? target : p.parent_path() / target);
  }
  return p;
}

void fsync_path(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // best effort: durability of the rename, not correctness
  ::fsync(fd);
  ::close(fd);
}

// An existing target may only be replaced when it looks like a saved model (or is empty).
void check_replaceable(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  KEEL_CHECK(fs::is_directory(dir, ec), dir.string(),
             ": exists and is not a directory; refusing to replace it with a saved model");
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    KEEL_CHECK(entry.is_regular_file() && (name == "model.json" || name.ends_with(".bin")),
               dir.string(), ": holds '", name,
               "', which is not part of a saved model; refusing to replace the directory");
  }
  KEEL_CHECK(!ec, dir.string(), ": cannot list the directory: ", ec.message());
}

// Swaps `tmp` into place at `dir`; afterwards `tmp` holds the old model (if any) or is gone.
void swap_into_place(const fs::path& tmp, const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    KEEL_CHECK(std::rename(tmp.c_str(), dir.c_str()) == 0, dir.string(),
               ": cannot move the saved model into place: ", std::strerror(errno));
    return;
  }
#ifdef RENAME_EXCHANGE
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) == 0) return;
#endif
  // No atomic exchange on this file system: move the old model aside first. A crash between the
  // two renames leaves it complete at `aside` (never destroyed), which the error names.
  const fs::path aside = tmp.string() + ".old";
  KEEL_CHECK(std::rename(dir.c_str(), aside.c_str()) == 0, dir.string(),
             ": cannot move the existing model aside: ", std::strerror(errno));
  if (std::rename(tmp.c_str(), dir.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::rename(aside.c_str(), dir.c_str());
    KEEL_FAIL(dir.string(), ": cannot move the saved model into place: ", reason);
  }
  fs::rename(aside, tmp, ec);
}

json read_model_json(const fs::path& dir) {
  const fs::path path = dir / "model.json";
  std::error_code ec;
  KEEL_CHECK(fs::is_directory(dir, ec), dir.string(),
             ": not a directory; a saved model is a directory with model.json and weight shards");
  KEEL_CHECK(fs::exists(path, ec), path.string(), ": missing; ", dir.string(),
             " is not a saved model directory");
  const std::vector<std::byte> bytes = read_file_bytes(path);
  try {
    return json::parse(reinterpret_cast<const char*>(bytes.data()),
                       reinterpret_cast<const char*>(bytes.data()) + bytes.size());
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
    KEEL_FAIL(path.string(), ": invalid JSON: ", e.what());
  }
}

// One manifest entry, resolved against the model.
struct WeightEntry {
  std::string name;
  std::vector<int64_t> shape;
  bool skip = false;  // optimizer weights: present in the bytes, not loaded
};

std::vector<int64_t> parse_shape(const json& shape, const std::string& where) {
  KEEL_CHECK(shape.is_array(), where, ": 'shape' must be a list of integers, got ", shape.dump());
  std::vector<int64_t> dims;
  for (const json& d : shape) {
    KEEL_CHECK(d.is_number_integer() && d.get<int64_t>() >= 0, where, ": shape ", shape.dump(),
               " has dimension ", d.dump(), "; expected integers >= 0");
    dims.push_back(d.get<int64_t>());
  }
  // Bound the product so element counts and byte offsets cannot overflow (2^40 floats = 4 TiB).
  uint64_t n = 1;
  for (int64_t d : dims) {
    KEEL_CHECK(d == 0 || n <= (uint64_t{1} << 40) / static_cast<uint64_t>(d), where, ": shape ",
               shape.dump(), " has more than 2^40 elements; expected a weight that fits in memory");
    n *= static_cast<uint64_t>(d);
  }
  return dims;
}

int64_t element_count(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

}  // namespace

void check_save_target(const fs::path& dir) { check_replaceable(dir); }

void save_model(const Model& model, const fs::path& dir_arg, const SaveModelOptions& options) {
  KEEL_CHECK(model.built(), "model '", model.name(), "' is not built; build it before saving");
  KEEL_CHECK(options.user_metadata.is_null() || options.user_metadata.is_object(),
             "save_model: user_metadata must be a JSON object, got ",
             options.user_metadata.type_name());
  const fs::path dir = clean_dir(dir_arg);
  check_replaceable(dir);
  // load_model rejects non-finite weights, so writing them would replace a model (perhaps a good
  // one, e.g. `keel train keep --save keep` after a diverged run) with one nothing can load.
  for (const Variable* v : model.variables()) {
    for (int64_t i = 0; i < v->size(); ++i) {
      KEEL_CHECK(std::isfinite(v->value[i]), dir.string(), ": not saved: weight '",
                 manifest_name(*v), "' element ", i, " is ", v->value[i],
                 "; expected finite weights (", dir.string(), " keeps what it held)");
    }
  }

  nlohmann::ordered_json weights = nlohmann::ordered_json::array();
  std::vector<std::byte> shard;
  for (const Variable* v : model.variables()) {
    weights.push_back({{"name", manifest_name(*v)}, {"shape", v->shape}, {"dtype", "float32"}});
    const auto* bytes = reinterpret_cast<const std::byte*>(v->value);
    shard.insert(shard.end(), bytes, bytes + static_cast<size_t>(v->size()) * sizeof(float));
  }
  nlohmann::ordered_json doc;
  doc["format"] = "layers-model";
  doc["generatedBy"] = "keel 0.1.0";
  doc["convertedBy"] = nullptr;
  doc["modelTopology"] = nlohmann::ordered_json::parse(model_to_json(model));
  doc["weightsManifest"] = nlohmann::ordered_json::array(
      {{{"paths", nlohmann::ordered_json::array({kShardName})}, {"weights", std::move(weights)}}});
  if (!options.user_metadata.is_null())
    doc["userDefinedMetadata"] = nlohmann::ordered_json::parse(options.user_metadata.dump());

  // Build the new model next to the target (same file system, so the final rename is atomic).
  std::string tmp_name = ".";  // appended piecewise: GCC 12 warns (-Wrestrict) on "." + string
  tmp_name.append(dir.filename().string()).append(".tmp-").append(std::to_string(::getpid()));
  const fs::path tmp = dir.parent_path() / tmp_name;
  std::error_code ec;
  fs::remove_all(tmp, ec);
  KEEL_CHECK(fs::create_directory(tmp, ec) && !ec, tmp.string(),
             ": cannot create the temporary directory for the saved model: ", ec.message());
  try {
    write_file_atomically(tmp / kShardName, shard);
    write_file_atomically(tmp / "model.json", doc.dump(2) + "\n");
    fsync_path(tmp);
    swap_into_place(tmp, dir);
    fsync_path(dir.parent_path());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  fs::remove_all(tmp, ec);  // the old model, if there was one
}

json load_model_metadata(const fs::path& dir) {
  const json doc = read_model_json(dir);
  return doc.is_object() && doc.contains("userDefinedMetadata") ? doc["userDefinedMetadata"] : json();
}

namespace {

// The top level of model.json: a TF.js Layers model with a topology and a weights manifest.
void check_document(const json& doc, const std::string& src) {
  KEEL_CHECK(doc.is_object(), src, ": expected a JSON object, got ", doc.type_name());
  if (doc.contains("format") && !doc["format"].is_null()) {
    KEEL_CHECK(doc["format"] == "layers-model", src, ": 'format' ", doc["format"].dump(),
               " is not supported; expected \"layers-model\" (a TF.js Layers model)");
  }
  KEEL_CHECK(doc.contains("modelTopology") && doc["modelTopology"].is_object(), src,
             ": no 'modelTopology' object");
  KEEL_CHECK(doc.contains("weightsManifest") && doc["weightsManifest"].is_array(), src,
             ": no 'weightsManifest' list; the file holds a topology without weights");
}

// "<dir>/model.json: weight 'dense/kernel'", the subject of every message about one weight.
std::string weight_where(const std::string& src, const std::string& name) {
  return src + ": weight '" + name + "'";
}

// The bytes of one manifest group and the shard files they came from.
struct GroupBytes {
  std::vector<std::byte> bytes;
  std::string shard_names;  // "dir/a.bin, dir/b.bin", for messages
};

// The group's shards are one byte stream cut into files.
GroupBytes read_shards(const json& paths, const fs::path& dir, const std::string& gwhere) {
  GroupBytes result;
  for (const json& p : paths) {
    KEEL_CHECK(p.is_string(), gwhere, ": 'paths' entries must be strings, got ", p.dump());
    const fs::path rel = p.get<std::string>();
    KEEL_CHECK(rel.is_relative() && rel.lexically_normal().string().rfind("..", 0) != 0, gwhere,
               ": shard path ", p.dump(), " must stay inside ", dir.string());
    const std::vector<std::byte> part = read_file_bytes(dir / rel);
    result.bytes.insert(result.bytes.end(), part.begin(), part.end());
    result.shard_names += (result.shard_names.empty() ? "" : ", ") + (dir / rel).string();
  }
  return result;
}

// One entry of a group's 'weights' list: a float32 weight with a name and a shape.
WeightEntry parse_weight_entry(const json& w, const std::string& src, const std::string& gwhere) {
  KEEL_CHECK(w.is_object() && w.contains("name") && w["name"].is_string(), gwhere,
             ": weight entry without a 'name': ", w.dump());
  WeightEntry e;
  e.name = without_output_index(w["name"].get<std::string>());
  const std::string where = weight_where(src, e.name);
  KEEL_CHECK(!w.contains("quantization"), where,
             ": quantized weights are not supported; save without quantization");
  // json::value() throws json::type_error for a non-string: check the type first.
  for (const char* key : {"dtype", "group"}) {
    KEEL_CHECK(!w.contains(key) || w[key].is_string(), where, ": '", key, "' ",
               w[key].dump(), " is not a string");
  }
  const std::string dtype = w.value("dtype", std::string("float32"));
  KEEL_CHECK(dtype == "float32", where, ": dtype '", dtype, "' is not supported; expected float32");
  KEEL_CHECK(w.contains("shape"), where, ": no 'shape'");
  e.shape = parse_shape(w["shape"], where);
  e.skip = w.value("group", std::string()) == "optimizer";
  return e;
}

// "lstm/lstm_cell_1/kernel" -> "lstm/kernel": a weight name without its cell scope (the
// second-to-last token of a name of three or more), TF.js's fallback when a name is not found
// ("TF 2.2.0 added cell name to the weight name"). Cell names count cells over a whole process
// (Keras), so the same model saved and loaded elsewhere can differ there and only there.
std::string without_cell_scope(const std::string& name) {
  const size_t last = name.rfind('/');
  if (last == std::string::npos || last == 0) return name;
  const size_t before = name.rfind('/', last - 1);
  if (before == std::string::npos) return name;
  return name.substr(0, before) + name.substr(last);
}

// The model's variables by manifest name, and which of them the manifest has filled so far.
struct WeightTargets {
  std::map<std::string, Variable*> by_name;
  std::map<std::string, std::string> by_name_without_cell;  // only names that stay unique
  std::map<std::string, bool> loaded;

  void add(const std::string& name, Variable* v) {
    by_name[name] = v;
    const std::string reduced = without_cell_scope(name);
    if (reduced == name) return;
    const auto [it, inserted] = by_name_without_cell.emplace(reduced, name);
    if (!inserted) it->second.clear();  // ambiguous: exact names only
  }
  // The model's name for a manifest name: itself, or the one equal without the cell scope.
  std::string resolve(const std::string& name) const {
    if (by_name.count(name) != 0) return name;
    const auto it = by_name_without_cell.find(without_cell_scope(name));
    return it == by_name_without_cell.end() ? std::string() : it->second;
  }
};

// Copies one manifest weight (`data`: its float32 values) into the model's variable of that name.
void load_weight(const WeightEntry& e, const std::byte* data, const std::string& src,
                 const std::string& shard_names, WeightTargets& targets) {
  const size_t n = static_cast<size_t>(element_count(e.shape));
  const std::string where = weight_where(src, e.name);
  const std::string target = targets.resolve(e.name);
  const auto it = targets.by_name.find(target);
  if (it == targets.by_name.end()) {
    std::string known;
    for (const auto& [name, v] : targets.by_name) known += (known.empty() ? "" : ", ") + name;
    KEEL_FAIL(where, " does not belong to the model; its weights are: ", known);
  }
  Variable& v = *it->second;
  KEEL_CHECK(!targets.loaded[target], where, " appears twice in the manifest");
  KEEL_CHECK(e.shape == v.shape, where, " has shape ", shape_text(e.shape),
             " but the layer config needs ", shape_text(v.shape));
  std::memcpy(v.value, data, n * sizeof(float));
  // A variance below zero makes BN's rsqrt(var + eps) nan for every input: reject it here, as
  // a nan weight is.
  const bool variance = e.name.ends_with("/moving_variance");
  for (size_t i = 0; i < n; ++i) {
    KEEL_CHECK(std::isfinite(v.value[i]), where, " element ", i, " is ", v.value[i],
               "; expected a finite number (", shard_names, ")");
    KEEL_CHECK(!variance || v.value[i] >= 0.0f, where, " element ", i, " is ", v.value[i],
               "; expected a variance >= 0 (", shard_names, ")");
  }
  targets.loaded[target] = true;
}

// Reads manifest group `g`: its shards, then its entries, which must describe exactly the
// shards' bytes, then copies each non-optimizer weight into the model.
void load_group(const json& group, size_t g, const fs::path& dir, const std::string& src,
                WeightTargets& targets) {
  const std::string gwhere = src + ": weightsManifest[" + std::to_string(g) + "]";
  KEEL_CHECK(group.is_object() && group.contains("paths") && group["paths"].is_array() &&
                 group.contains("weights") && group["weights"].is_array(),
             gwhere, ": expected {\"paths\": [...], \"weights\": [...]}");
  const GroupBytes shards = read_shards(group["paths"], dir, gwhere);
  std::vector<WeightEntry> entries;
  size_t expected = 0;
  for (const json& w : group["weights"]) {
    WeightEntry e = parse_weight_entry(w, src, gwhere);
    expected += static_cast<size_t>(element_count(e.shape)) * sizeof(float);
    KEEL_CHECK(expected <= (size_t{1} << 62), weight_where(src, e.name),
               ": the manifest describes more than 2^62 bytes");
    entries.push_back(std::move(e));
  }
  // With "paths": [] there is no shard to name (the message began with ": 0 bytes").
  const std::string shard_where =
      shards.shard_names.empty() ? gwhere + " ('paths' lists no shard file)" : shards.shard_names;
  KEEL_CHECK(shards.bytes.size() == expected, shard_where, ": ", shards.bytes.size(),
             " bytes, but the manifest of ", src, " describes ", expected, " bytes (",
             entries.size(), " float32 weights)");
  size_t offset = 0;
  for (const WeightEntry& e : entries) {
    const std::byte* data = shards.bytes.data() + offset;
    offset += static_cast<size_t>(element_count(e.shape)) * sizeof(float);
    if (e.skip) continue;
    load_weight(e, data, src, shards.shard_names, targets);
  }
}

// load_model without the json::exception guard.
Model load_model_unchecked(const fs::path& dir) {
  const fs::path json_path = dir / "model.json";
  const std::string src = json_path.string();
  const json doc = read_model_json(dir);
  check_document(doc, src);

  Model model = model_from_config(doc, src);
  WeightTargets targets;
  for (Variable* v : model.variables()) targets.add(manifest_name(*v), v);

  const json& manifest = doc["weightsManifest"];
  for (size_t g = 0; g < manifest.size(); ++g) load_group(manifest[g], g, dir, src, targets);
  for (const auto& [name, v] : targets.by_name)
    KEEL_CHECK(targets.loaded[name], src, ": weight '", name, "' (shape ", shape_text(v->shape),
               ") is missing from the weightsManifest");
  return model;
}
}  // namespace

Model load_model(const fs::path& dir) {
  // nlohmann's own exceptions (type_error.316 when dump() quotes invalid UTF-8 for a message, ...)
  // are bad input too.
  try {
    return load_model_unchecked(dir);
  } catch (const json::exception& e) {
    KEEL_FAIL((dir / "model.json").string(), ": malformed model.json (", e.what(), ")");
  }
}

}  // namespace keel
