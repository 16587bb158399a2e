// BN folding on a model's graph (keel/deploy/fold_batch_norm.h; derivation in docs/bn_folding.md).
//
// Each BN call is decided on its own, in execution order: into the sink before it, else into the
// sinks after it, else kept with the reason. The folded model is rebuilt from clones with the
// folded BN calls left out (rebuild_model.h); the sinks that absorbed a map are rebuilt with a bias
// and get their weights from double working copies.
#include "keel/deploy/fold_batch_norm.h"

#include <map>
#include <set>

#include "affine_fold.h"
#include "keel/core/error.h"
#include "rebuild_model.h"

namespace keel {

namespace {

std::string describe(const Layer& layer) {
  return layer.class_name() + " '" + layer.name() + "'";
}

// Who reads each tensor, and how often each layer is called.
struct GraphUse {
  std::vector<std::vector<int64_t>> consumers;  // tensor -> node ids
  std::vector<bool> is_output;                  // tensor -> a model output
  std::map<const Layer*, int64_t> calls;

  explicit GraphUse(const Model& model)
      : consumers(model.tensors().size()), is_output(model.tensors().size(), false) {
    const auto& nodes = model.nodes();
    for (size_t n = 0; n < nodes.size(); ++n) {
      ++calls[nodes[n].layer];
      for (int64_t t : nodes[n].inputs) consumers[size_t(t)].push_back(static_cast<int64_t>(n));
    }
    for (int64_t t : model.output_tensors()) is_output[size_t(t)] = true;
  }
};

class Folder {
 public:
  explicit Folder(const Model& model) : model_(model), use_(model) {}

  void decide(int64_t bn_node);
  FoldResult finish() &&;

 private:
  std::string into_previous_blocker(int64_t bn_node, int64_t tensor) const;
  std::string into_next_blocker(int64_t tensor) const;
  std::string shared_blocker(const Layer& sink) const;
  fold::LinearWeights& work_for(const Layer& sink);

  const Model& model_;
  GraphUse use_;
  std::map<const Layer*, fold::LinearWeights> work_;  // sinks whose weights change
  std::set<int64_t> bypass_;                          // folded BN calls
  std::vector<BnFold> folded_;
  std::vector<BnKept> kept_;
};

fold::LinearWeights& Folder::work_for(const Layer& sink) {
  auto it = work_.find(&sink);
  if (it == work_.end()) it = work_.emplace(&sink, fold::affine_sink(sink)->load(sink)).first;
  return it->second;
}

// Changing a shared sink's weights would change its other calls too.
std::string Folder::shared_blocker(const Layer& sink) const {
  const int64_t calls = use_.calls.at(&sink);
  if (calls == 1) return "";
  return describe(sink) + ", which is called " + std::to_string(calls) + " times (shared weights)";
}

// Why BN call `bn_node`, reading `tensor`, cannot fold into the layer producing it, or "".
std::string Folder::into_previous_blocker(int64_t bn_node, int64_t tensor) const {
  const GraphTensor& t = model_.tensors()[size_t(tensor)];
  if (t.producer < 0) {
    if (model_.is_sequential()) return "first layer";
    return "reads the model input '" + t.input_layer->name() + "'";
  }
  const Layer& prev = *model_.nodes()[size_t(t.producer)].layer;
  const fold::AffineSink* sink = fold::affine_sink(prev);
  if (!sink) return "preceded by " + describe(prev) + ", not a Dense or Conv2D";
  const std::string activation = sink->activation(prev);
  if (activation != "linear")
    return "preceded by " + describe(prev) + " whose activation is " + activation + ", not linear";
  if (std::string shared = shared_blocker(prev); !shared.empty()) return "preceded by " + shared;
  if (use_.is_output[size_t(tensor)])
    return "preceded by " + describe(prev) + ", whose output is also a model output";
  for (int64_t n : use_.consumers[size_t(tensor)])
    if (n != bn_node)
      return "preceded by " + describe(prev) + ", whose output also feeds " +
             describe(*model_.nodes()[size_t(n)].layer);
  return "";
}

// Why the BN producing `tensor` cannot fold into the layers reading it, or "".
std::string Folder::into_next_blocker(int64_t tensor) const {
  const auto& consumers = use_.consumers[size_t(tensor)];
  if (consumers.empty()) return "the last layer (no Dense after it)";
  if (use_.is_output[size_t(tensor)]) return "its output is also a model output";
  for (int64_t n : consumers) {
    const Layer& next = *model_.nodes()[size_t(n)].layer;
    const fold::AffineSink* sink = fold::affine_sink(next);
    if (!sink) return "followed by " + describe(next) + ", not a Dense or Conv2D";
    if (std::string shared = shared_blocker(next); !shared.empty()) return "followed by " + shared;
    if (std::string why = sink->cannot_absorb_input(next); !why.empty())
      return "followed by " + describe(next) + ": " + why;
  }
  return "";
}

void Folder::decide(int64_t bn_node) {
  const GraphNode& node = model_.nodes()[size_t(bn_node)];
  const Layer& bn = *node.layer;
  const fold::AffineSource& source = *fold::affine_source(bn);
  if (std::string why = source.cannot_fold(bn); !why.empty()) {
    kept_.push_back({bn.name(), why});
    return;
  }
  const int64_t in = node.inputs[0], out = node.outputs[0];
  const std::string prev_blocker = into_previous_blocker(bn_node, in);
  if (prev_blocker.empty()) {
    const Layer& prev = *model_.nodes()[size_t(model_.tensors()[size_t(in)].producer)].layer;
    fold::fold_into_previous(work_for(prev), source.affine(bn));
    folded_.push_back({bn.name(), prev.name(), true, prev.class_name()});
    bypass_.insert(bn_node);
    return;
  }
  const std::string next_blocker = into_next_blocker(out);
  if (!next_blocker.empty()) {
    kept_.push_back({bn.name(), prev_blocker + ", and " + next_blocker});
    return;
  }
  const fold::Affine affine = source.affine(bn);
  for (int64_t n : use_.consumers[size_t(out)]) {
    const Layer& next = *model_.nodes()[size_t(n)].layer;
    fold::fold_into_next(work_for(next), affine);
    folded_.push_back({bn.name(), next.name(), false, next.class_name()});
  }
  bypass_.insert(bn_node);
}

FoldResult Folder::finish() && {
  Model out = rebuild_model(model_, bypass_, [&](const Layer& layer) {
    if (!work_.count(&layer)) return layer.clone();
    std::unique_ptr<Layer> folded = fold::affine_sink(layer)->with_bias(layer);
    folded->set_dtype_policy(layer.dtype_policy());  // a mixed_bfloat16 layer stays one
    return folded;
  });
  for (const auto& [layer, w] : work_)
    fold::affine_sink(*layer)->store(w, out.get_layer(layer->name()));
  const auto calls_folded = static_cast<int64_t>(bypass_.size());
  const auto calls_total = calls_folded + static_cast<int64_t>(kept_.size());
  return {std::move(out), std::move(folded_), std::move(kept_), calls_folded, calls_total};
}

}  // namespace

std::string FoldResult::report() const {
  std::string out;
  for (const BnFold& f : folded) {
    out += "folded " + f.bn_layer + " into " + f.dense_layer +
           (f.into_previous ? " (the " + f.into_class + " before it: kernel columns scaled, bias shifted)\n"
                            : " (the " + f.into_class + " after it: kernel rows scaled, bias shifted)\n");
  }
  for (const BnKept& k : kept) out += "kept   " + k.bn_layer + ": " + k.reason + "\n";
  if (folded.empty() && kept.empty()) out += "no BatchNormalization layers\n";
  return out;
}

FoldResult fold_batch_norm(const Model& model) {
  KEEL_CHECK(model.built(), "fold_batch_norm: model '", model.name(), "' is not built");
  Folder folder(model);
  for (size_t n = 0; n < model.nodes().size(); ++n)
    if (fold::affine_source(*model.nodes()[n].layer)) folder.decide(static_cast<int64_t>(n));
  return std::move(folder).finish();
}

}  // namespace keel
