// Model::summary() and the tf.keras 2.7-2.12 summary table (keel/model/summary_format.h).
//
// The wrapping follows keras/utils/layer_utils.py print_summary / print_row of keras-team/keras
// v2.11.0 line by line, including its quirks: the leading space of column 0 is not part of the
// cutoff, so a cell that fills column 0 pushes the next column one character right, and a cell is
// cut early after "),", "},", "]," or "',". Cells are byte strings; Keras slices code points, which
// is the same for the ASCII names TensorFlow accepts.
#include <algorithm>
#include <cstdint>
#include <unordered_map>

#include "keel/core/error.h"
#include "keel/model/model.h"
#include "keel/model/summary_format.h"

namespace keel {

namespace {

constexpr int64_t kLineLength = 65;

// Python s[:n] and s[n:], negative n counting from the end.
int64_t python_index(const std::string& s, int64_t n) {
  const auto size = static_cast<int64_t>(s.size());
  if (n < 0) n += size;
  return std::clamp<int64_t>(n, 0, size);
}
std::string head(const std::string& s, int64_t n) {
  return s.substr(0, static_cast<size_t>(python_index(s, n)));
}
std::string tail(const std::string& s, int64_t n) {
  return s.substr(static_cast<size_t>(python_index(s, n)));
}

void pad_to(std::string& line, int64_t column) {
  const auto size = static_cast<int64_t>(line.size());
  if (column > size) line.append(static_cast<size_t>(column - size), ' ');
}

}  // namespace

std::string format_summary_row(const std::vector<std::string>& fields,
                               const std::vector<int64_t>& positions) {
  std::vector<std::string> left = fields;
  const auto any_left = [&] {
    return std::any_of(left.begin(), left.end(), [](const std::string& s) { return !s.empty(); });
  };
  std::string out;
  while (any_left()) {
    std::string line;
    for (size_t col = 0; col < left.size(); ++col) {
      const int64_t start = col > 0 ? positions[col - 1] : 0;
      const int64_t end = positions[col];
      // Two spaces delimit columns; the last column needs none.
      const int64_t space = col != positions.size() - 1 ? 2 : 0;
      int64_t cutoff = end - start - space;
      std::string fit = head(left[col], cutoff);
      // Keras breaks early after the end of a tuple / dict / list / quoted item.
      int64_t best = -1;
      for (const char* mark : {"),", "},", "],", "',"}) {
        const size_t at = fit.find(mark);
        if (at == std::string::npos) continue;
        const auto candidate = static_cast<int64_t>(at) + 2;
        if (best < 0 || candidate < best) best = candidate;
      }
      if (best >= 0) {
        cutoff = best;
        fit = head(fit, cutoff);
      }
      if (col == 0) line += ' ';
      line += fit;
      line.append(static_cast<size_t>(space), ' ');
      left[col] = tail(left[col], cutoff);
      pad_to(line, positions[col]);
    }
    out += line;
    out += '\n';
  }
  return out;
}

std::string format_thousands(int64_t n) {
  // Magnitude in unsigned arithmetic so INT64_MIN does not overflow.
  const uint64_t magnitude = n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  const std::string digits = std::to_string(magnitude);
  std::string out = n < 0 ? "-" : "";
  const size_t lead = digits.size() % 3 == 0 ? 3 : digits.size() % 3;
  out.append(digits, 0, lead);
  for (size_t i = lead; i < digits.size(); i += 3) {
    out += ',';
    out.append(digits, i, 3);
  }
  return out;
}

std::string format_summary_table(std::string_view model_name, int64_t line_length,
                                 const std::vector<int64_t>& positions,
                                 const std::vector<std::string>& header,
                                 const std::vector<std::vector<std::string>>& rows,
                                 int64_t trainable_params, int64_t non_trainable_params) {
  const auto width = static_cast<size_t>(line_length);
  const std::string underscores(width, '_'), equals(width, '='), blank(width, ' ');
  std::string out = "Model: \"" + std::string(model_name) + "\"\n";
  out += underscores + "\n";
  out += format_summary_row(header, positions);
  out += equals + "\n";
  for (const auto& row : rows) {
    out += format_summary_row(row, positions);
    out += blank + "\n";
  }
  out += equals + "\n";
  out += "Total params: " + format_thousands(trainable_params + non_trainable_params) + "\n";
  out += "Trainable params: " + format_thousands(trainable_params) + "\n";
  out += "Non-trainable params: " + format_thousands(non_trainable_params) + "\n";
  out += underscores + "\n";
  return out;
}

std::string format_summary(std::string_view model_name, const std::vector<SummaryRow>& rows,
                           int64_t trainable_params, int64_t non_trainable_params) {
  std::vector<std::vector<std::string>> cells;
  for (const auto& row : rows) cells.push_back({row.layer, row.output_shape, row.params});
  // int(65 * p) for p in [.45, .85, 1.]
  return format_summary_table(model_name, kLineLength, {29, 55, 65},
                              {"Layer (type)", "Output Shape", "Param #"}, cells, trainable_params,
                              non_trainable_params);
}

namespace {

// Keras print_summary's sequential_like test for a functional model: one node per depth, each
// with one input tensor, and no layer called twice — i.e. a plain chain.
bool functional_chain(const Model& model) {
  if (model.num_inputs() != 1 || model.num_outputs() != 1) return false;
  int64_t previous = model.input_tensors()[0];
  for (const GraphNode& node : model.nodes()) {
    if (node.inputs.size() != 1 || node.outputs.size() != 1 || node.inputs[0] != previous ||
        node.node_index != 0)
      return false;
    previous = node.outputs[0];
  }
  return previous == model.output_tensors()[0];
}

// What Keras prints as a layer's output_shape: a tuple, or a list of tuples for an InputLayer and
// for layers with several outputs.
std::string output_shape_text(const Layer& layer) {
  const auto& shapes = layer.output_shapes();
  if (shapes.size() == 1 && layer.class_name() != "InputLayer") return shapes[0].to_string();
  std::string text = "[";
  for (size_t i = 0; i < shapes.size(); ++i) text += (i ? ", " : "") + shapes[i].to_string();
  return text + "]";
}

// Each layer's calls (nodes) in the model, gathered in one pass (per layer it would be quadratic
// in the number of layers).
std::unordered_map<const Layer*, std::vector<const GraphNode*>> calls_by_layer(const Model& model) {
  std::unordered_map<const Layer*, std::vector<const GraphNode*>> calls;
  for (const GraphNode& node : model.nodes()) calls[node.layer].push_back(&node);
  return calls;
}

// "Connected to": Python str() of ['inbound[node][tensor]', ...] over the layer's calls in the model.
std::string connections_text(const Model& model, std::vector<const GraphNode*> calls) {
  std::sort(calls.begin(), calls.end(),
            [](const GraphNode* a, const GraphNode* b) { return a->node_index < b->node_index; });
  std::string text = "[";
  bool first = true;
  for (const GraphNode* node : calls) {
    for (int64_t t : node->inputs) {
      const GraphTensor& tensor = model.tensors()[static_cast<size_t>(t)];
      std::string inbound;
      if (tensor.producer < 0) {
        inbound = tensor.input_layer->name() + "[0][0]";
      } else {
        const GraphNode& producer = model.nodes()[static_cast<size_t>(tensor.producer)];
        inbound = producer.layer->name() + "[" + std::to_string(producer.node_index) + "][" +
                  std::to_string(tensor.output_index) + "]";
      }
      text += (first ? "'" : ", '") + inbound + "'";
      first = false;
    }
  }
  return text + "]";
}

}  // namespace

std::string Model::summary() const {
  KEEL_CHECK(built_, "model '", name_,
             "' has not been built yet; build() it (or give the first layer an input_shape) "
             "before summary()");
  // Keras counts model.trainable_weights / non_trainable_weights; Variable::trainable already
  // folds in the layer's own `trainable` flag (a frozen BN's gamma and beta count here).
  int64_t trainable = 0, non_trainable = 0;
  for (const auto& layer : layers_)
    for (const auto& v : layer->variables()) (v.trainable ? trainable : non_trainable) += v.size();
  if (sequential_ || functional_chain(*this)) {
    std::vector<SummaryRow> rows;
    for (const auto& layer : layers_) {
      rows.push_back({layer->name() + " (" + layer->class_name() + ")", output_shape_text(*layer),
                      std::to_string(layer->count_params())});
    }
    return format_summary(name_, rows, trainable, non_trainable);
  }
  std::vector<std::vector<std::string>> rows;
  auto calls = calls_by_layer(*this);
  for (const auto& layer : layers_) {
    rows.push_back({layer->name() + " (" + layer->class_name() + ")", output_shape_text(*layer),
                    std::to_string(layer->count_params()),
                    connections_text(*this, std::move(calls[layer.get()]))});
  }
  // line_length 98, positions [.33, .55, .67, 1.] (tf.keras <= 2.12).
  return format_summary_table(name_, 98, {32, 53, 65, 98},
                              {"Layer (type)", "Output Shape", "Param #", "Connected to"}, rows,
                              trainable, non_trainable);
}

}  // namespace keel
