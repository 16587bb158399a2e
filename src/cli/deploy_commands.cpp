// keel fold-bn / evaluate / predict / export: the deployment subcommands (docs/deployment.md).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <numeric>

#include "class_ids.h"
#include "commands.h"
#include "watch_flags.h"
#include "keel/core/error.h"
#include "keel/io/fashion_mnist.h"
#include "keel/io/idx.h"
#include "keel/io/npy.h"
#include "keel/deploy/onnx_export.h"
#include "keel/io/saved_model.h"
#include "keel/deploy/fold_batch_norm.h"
#include "keel/model/sequential.h"

namespace keel::cli {

namespace {

namespace fs = std::filesystem;

// The Fashion-MNIST test split as the training job sees it (pixels / 255).
struct TestSet {
  FashionMnist data;
  DataView view;
  fs::path dir;
};

std::unique_ptr<TestSet> load_test_set(const std::string& flag, const std::string& value) {
  auto set = std::make_unique<TestSet>();
  const fs::path dir = value == "fashion-mnist" ? default_fashion_mnist_dir() : fs::path(value);
  try {
    set->data = load_fashion_mnist(dir);
  } catch (const Error& e) {
    // The loader's hint names `train`'s flag ("pass --data DIR"); name this command's.
    std::string message = e.what();
    const std::string hint = "pass --data DIR";
    if (const size_t at = message.find(hint); at != std::string::npos && flag != "--data")
      message.replace(at, hint.size(), "pass " + flag + " DIR");
    KEEL_FAIL(flag, " ", value, ": ", message);
  }
  set->view = fashion_mnist_view(set->data, FashionMnistSplit::kTest);
  set->dir = dir;
  return set;
}

void check_input_fits(const Model& model, const std::string& what, int64_t sample_size) {
  KEEL_CHECK(model.input_shape().sample_size() == sample_size, what, " has ", sample_size,
             " values per sample, but model '", model.name(), "' takes input ",
             model.input_shape().to_string());
}

double accuracy(const Tensor& probs, const uint8_t* labels) {
  const int64_t n = probs.dim(0), k = probs.row_size();
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = probs.data() + i * k;
    correct += std::max_element(row, row + k) - row == labels[i];
  }
  return n ? static_cast<double>(correct) / static_cast<double>(n) : 0.0;
}

// Median wall time of a single-sample inference forward over `count` samples, in microseconds.
double single_sample_latency_us(Model& model, const DataView& data, int64_t count) {
  count = std::min(count, data.size);
  std::vector<float> x(static_cast<size_t>(data.x_width()));
  std::vector<double> times;
  for (int64_t i = -50; i < count; ++i) {  // 50 warm-up runs
    data.gather(nullptr, std::max<int64_t>(i, 0), 1, x.data(), nullptr);
    const auto t0 = std::chrono::steady_clock::now();
    model.forward(x.data(), 1, Mode::kInference);
    const auto t1 = std::chrono::steady_clock::now();
    if (i >= 0) times.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::nth_element(times.begin(), times.begin() + long(times.size() / 2), times.end());
  return times[times.size() / 2];
}

struct FoldFlags {
  std::string saved, out, verify;
};

int run_fold(const FoldFlags& f) {
  // Every input is checked before OUT is written or anything is printed: a failing command must
  // leave an existing model at OUT as it was.
  KEEL_CHECK(!f.out.empty(), "OUT '' is not allowed; expected a directory for the folded model");
  check_save_target(f.out);
  std::unique_ptr<TestSet> test;
  if (!f.verify.empty()) test = load_test_set("--verify", f.verify);
  Model model = load_model(f.saved);
  if (test) check_input_fits(model, "--verify " + f.verify, test->view.x_width());
  FoldResult result = fold_batch_norm(model);
  nlohmann::json folded = nlohmann::json::array(), kept = nlohmann::json::array();
  for (const BnFold& x : result.folded)
    folded.push_back({{"layer", x.bn_layer}, {"into", x.dense_layer},
                      {"direction", x.into_previous ? "previous" : "next"}});
  for (const BnKept& x : result.kept) kept.push_back({{"layer", x.bn_layer}, {"reason", x.reason}});
  save_model(result.model, f.out,
             {.user_metadata = {{"keel", {{"fold_batch_norm", {{"source", f.saved},
                                                               {"folded", folded},
                                                               {"kept", kept}}}}}}});
  std::printf("Folded %lld of %lld BatchNormalization layers (%s -> %s)\n",
              static_cast<long long>(result.calls_folded),
              static_cast<long long>(result.calls_total), f.saved.c_str(), f.out.c_str());
  std::cout << result.report();
  if (!test) return 0;

  const Tensor before = model.predict(test->view, 256);
  const Tensor after = result.model.predict(test->view, 256);
  double max_abs = 0, max_rel = 0;
  int64_t argmax_changed = 0;
  const int64_t k = before.row_size();
  for (int64_t i = 0; i < before.size(); ++i) {
    const double a = before[i], b = after[i], d = std::fabs(a - b);
    max_abs = std::max(max_abs, d);
    if (std::max(std::fabs(a), std::fabs(b)) >= 1e-6)  // relative error of the non-negligible
      max_rel = std::max(max_rel, d / std::max(std::fabs(a), std::fabs(b)));
  }
  for (int64_t i = 0; i < before.dim(0); ++i) {
    const float* ra = before.data() + i * k;
    const float* rb = after.data() + i * k;
    argmax_changed += (std::max_element(ra, ra + k) - ra) != (std::max_element(rb, rb + k) - rb);
  }
  const double acc_before = accuracy(before, test->data.test_labels.data());
  const double acc_after = accuracy(after, test->data.test_labels.data());
  const double lat_before = single_sample_latency_us(model, test->view, 2000);
  const double lat_after = single_sample_latency_us(result.model, test->view, 2000);
  std::printf("Verified on %lld test images:\n", static_cast<long long>(test->view.size));
  std::printf("  max abs difference:      %.3g\n", max_abs);
  std::printf("  max relative difference: %.3g (outputs >= 1e-6)\n", max_rel);
  std::printf("  predicted class changed: %lld\n", static_cast<long long>(argmax_changed));
  std::printf("  accuracy before: %.4f after: %.4f (%s)\n", acc_before, acc_after,
              acc_before == acc_after ? "identical" : "DIFFERENT");
  std::printf("  single-sample predict latency (median): before %.1f us, after %.1f us (%.2fx)\n",
              lat_before, lat_after, lat_before / lat_after);
  return 0;
}

int run_evaluate(const std::string& saved, const std::string& data, int64_t batch_size) {
  KEEL_CHECK(batch_size >= 1, "--batch-size ", batch_size, " is not allowed; expected >= 1");
  Model model = load_model(saved);
  const auto test = load_test_set("--data", data);
  check_input_fits(model, "--data " + data, test->view.x_width());
  model.compile({.loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  check_class_ids(model, "sparse_categorical_crossentropy", test->view,
                  fashion_mnist_labels_file(test->dir, "t10k"));
  const Logs logs = model.evaluate(test->view, {.batch_size = batch_size, .verbose = 0});
  std::printf("%s on %lld test images: loss %.4f - accuracy %.4f\n", saved.c_str(),
              static_cast<long long>(test->view.size), *logs.get("loss"), *logs.get("accuracy"));
  return 0;
}

// Input samples as float, converted as `keel train` converts the same file format: a .npy array
// is used as given (uint8 cast to float without scaling, as `train --data npy:` and Keras do), a
// uint8 IDX file is Fashion-MNIST-style pixels and is scaled by 1/255 (as `train --data DIR`).
Tensor read_input(const std::string& path_text) {
  const fs::path path = path_text;
  std::vector<int64_t> dims;
  Tensor x;
  if (path.extension() == ".npy") {
    NpyArray a = read_npy(path);
    dims = a.dims;
    x = a.dtype == NpyDtype::kUint8 ? a.to_tensor() : std::move(a.values);
  } else {
    IdxArray a = read_idx(path, {.item_name = "samples"});
    dims = a.dims;
    if (a.type == IdxType::kUint8) {
      x = Tensor(dims);
      // The same float product as the training pipeline (DataView x_scale), bit for bit.
      const float scale = 1.0f / 255.0f;
      for (size_t i = 0; i < a.bytes.size(); ++i) x[int64_t(i)] = static_cast<float>(a.bytes[i]) * scale;
    } else {
      x = a.to_tensor();
    }
  }
  KEEL_CHECK(!dims.empty(), path_text, ": a 0-d array holds no samples; expected (N, ...)");
  return x;
}

int run_predict(const std::string& saved, const std::string& input, const std::string& output,
                int64_t batch_size) {
  KEEL_CHECK(batch_size >= 1, "--batch-size ", batch_size, " is not allowed; expected >= 1");
  if (!output.empty()) check_output_file("--output", output);
  Model model = load_model(saved);
  Tensor x = read_input(input);
  const int64_t sample = model.input_shape().sample_size();
  const std::vector<int64_t> sample_dims(model.input_shape().dims().begin() + 1,
                                         model.input_shape().dims().end());
  // N samples (N, ...) with the model's values per sample (flat (N, 784) rows fit a (28, 28)
  // input), or exactly one sample without the batch dim: the model's dims or flat. Any other
  // shape is an error even when its total size happens to be one sample's ((2, 392) for 784).
  const std::vector<int64_t>& dims = x.dims();
  const int64_t per_row = dims.size() >= 2 ? x.size() / std::max<int64_t>(dims[0], 1) : -1;
  const bool unbatched = dims == sample_dims || (dims.size() == 1 && dims[0] == sample);
  const int64_t n = unbatched ? 1 : dims.size() >= 2 && per_row == sample ? dims[0] : 0;
  KEEL_CHECK(n > 0, "--input ", input, ": shape ", Shape(dims).to_string(),
             dims.size() >= 2 ? " (" + std::to_string(per_row) + " values per sample)" : std::string(),
             " does not fit model '", model.name(), "', whose input is ",
             model.input_shape().to_string(), " (", sample, " values per sample); expected (N, ...) ",
             "samples or one sample");
  std::vector<int64_t> batched = {n};
  batched.insert(batched.end(), sample_dims.begin(), sample_dims.end());
  x.reshape(batched);
  const Tensor y = model.predict(x, batch_size);
  if (!output.empty()) {
    write_npy(output, y);
    std::printf("wrote predictions (%lld, %lld) to %s\n", static_cast<long long>(y.dim(0)),
                static_cast<long long>(y.row_size()), output.c_str());
    return 0;
  }
  const int64_t k = y.row_size();
  for (int64_t i = 0; i < n; ++i) {
    const float* row = y.data() + i * k;
    const int64_t best = std::max_element(row, row + k) - row;
    std::printf("%lld: class %lld (%.4f)\n", static_cast<long long>(i),
                static_cast<long long>(best), row[best]);
  }
  return 0;
}

}  // namespace

Handler add_fold_bn_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("fold-bn", "Fold BatchNormalization layers into Dense and Conv2D layers");
  auto f = std::make_shared<FoldFlags>();
  cmd->add_option("SAVED", f->saved, "saved model directory (keel train --save)")->required();
  cmd->add_option("OUT", f->out, "directory for the folded model")->required();
  cmd->add_option("--verify", f->verify,
                  "compare predictions, accuracy and latency on the test split of fashion-mnist "
                  "(Debian's dataset-fashion-mnist) or a directory with the Fashion-MNIST IDX files");
  return [f] { return run_fold(*f); };
}

Handler add_evaluate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("evaluate", "Loss and accuracy of a saved model on test data");
  auto saved = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>("fashion-mnist");
  auto batch = std::make_shared<int64_t>(32);
  cmd->add_option("SAVED", *saved, "saved model directory")->required();
  cmd->add_option("--data", *data, "fashion-mnist (default) or a directory with the IDX files");
  cmd->add_option("--batch-size", *batch, "samples per batch (default 32)");
  return [=] { return run_evaluate(*saved, *data, *batch); };
}

Handler add_predict_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("predict", "Predict with a saved model");
  auto saved = std::make_shared<std::string>();
  auto input = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  auto batch = std::make_shared<int64_t>(32);
  cmd->add_option("SAVED", *saved, "saved model directory")->required();
  cmd->add_option("--input", *input,
                  "samples as .npy (used as given, as train --data npy: uses it) or IDX (raw or "
                  "gzip'd; uint8 pixels are scaled by 1/255, as train --data DIR scales them)")
      ->required();
  cmd->add_option("--output", *output, "write the predictions as float32 .npy instead of printing");
  cmd->add_option("--batch-size", *batch, "samples per batch (default 32)");
  return [=] { return run_predict(*saved, *input, *output, *batch); };
}

Handler add_export_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "Export a saved model to ONNX");
  auto saved = std::make_shared<std::string>();
  auto onnx = std::make_shared<std::string>();
  auto fold = std::make_shared<bool>(false);
  cmd->add_option("SAVED", *saved, "saved model directory")->required();
  cmd->add_option("--onnx", *onnx, "output .onnx file")->required();
  cmd->add_flag("--fold-bn", *fold, "fold BatchNormalization layers into Dense layers first");
  return [=] {
    export_onnx(load_model(*saved), *onnx, {.fold_bn = *fold});
    std::printf("wrote %s (ONNX IR 8, opset 13%s)\n", onnx->c_str(),
                *fold ? ", BatchNormalization folded" : "");
    return 0;
  };
}

}  // namespace keel::cli
