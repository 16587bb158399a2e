// Interop with third-party runtimes, through the scripts next to this file:
//   * TF.js (@tensorflow/tfjs, pure JS, from npm): loads keel-saved seed models and predicts the
//     same; a model built and trained in tfjs loads into keel and predicts the same.
//   * ONNX: both seed models, folded and unfolded, pass onnx.checker (Debian python3-onnx via
//     /usr/bin/python3) and run in onnxruntime-node with keel's predictions.
//   * The deployment CLI end to end: keel train --save, fold-bn --verify, evaluate, predict, export.
// npm packages go to <build>/interop/node_modules (tools/interop/setup.sh, idempotent). Nothing
// here skips: a missing dependency (Node.js, npm, python3-onnx, the data set) fails the test with
// its name; scripts/install-deps.sh --test installs them all.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "deploy/graph_models.h"
#include "interop/trained_models.h"
#include "keel/core/rng.h"
#include "model/functional_models.h"
#include "keel/core/error.h"
#include "keel/io/fashion_mnist.h"
#include "keel/io/idx.h"
#include "keel/io/npy.h"
#include "keel/deploy/onnx_export.h"
#include "keel/io/saved_model.h"
#include "keel/deploy/fold_batch_norm.h"
#include "keel/layers/layers.h"
#include "keel/layers/keras_tensor.h"

namespace keel {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;

const fs::path kScripts = fs::path(KEEL_SOURCE_DIR) / "tests" / "interop";
const fs::path kNodeDir = fs::path(KEEL_BINARY_DIR) / "interop";

bool have_node() { return std::system("node --version > /dev/null 2>&1") == 0; }

// Appended piecewise: GCC 12 warns (-Wrestrict, a false positive) on "'" + std::string.
std::string quote(const fs::path& p) { return std::string("'").append(p.string()).append("'"); }

// Runs a shell command with its output in `log`; returns the exit code.
int run(const std::string& command, const fs::path& log) {
  const int status = std::system((command + " > " + quote(log) + " 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Installs the npm packages once per build tree; returns the NODE_PATH prefix for commands.
std::string node_env() {
  const fs::path log = kNodeDir.string() + "-setup.log";
  fs::create_directories(kNodeDir);
  const int rc = run("bash " + quote(fs::path(KEEL_SOURCE_DIR) / "tools/interop/setup.sh") + " " +
                         quote(kNodeDir),
                     log);
  EXPECT_EQ(rc, 0) << "npm install failed:\n" << read_text(log);
  return "NODE_PATH=" + quote(kNodeDir / "node_modules") + " node ";
}

#define REQUIRE_NODE()                                                                    \
  if (!have_node()) FAIL() << "Node.js is missing: `node --version` failed (PATH=" \
                           << (std::getenv("PATH") ? std::getenv("PATH") : "")                    \
                           << "). The interop tests need Node.js and npm: "                       \
                              "scripts/install-deps.sh --test installs them"

// ONNX Runtime's Linux build (1.30) writes telemetry logs (mat-debug-<pid>.log, .ses) into $TMPDIR:
// its commands get the test's scratch directory as TMPDIR, so they go with it.
std::string ort_env(const ScratchDir& dir) {
  return std::string("TMPDIR=").append(quote(dir.path())).append(" ");
}

// Runs a script and fails the test with its output when it exits non-zero.
void expect_script_ok(const std::string& command, const fs::path& log) {
  const int rc = run(command, log);
  const std::string out = read_text(log);
  EXPECT_EQ(rc, 0) << command << "\n" << out;
  std::printf("%s", out.c_str());
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (int64_t i = 0; i < std::min(a.size(), b.size()); ++i)
    m = std::max(m, std::fabs(double(a[i]) - double(b[i])));
  return m;
}

TEST(TfjsInterop, TfjsLoadsKeelSavedSeedModels) {
  REQUIRE_NODE();
  const std::string node = node_env();
  ScratchDir dir("tfjs_load");
  const Tensor x = testing::random_images(20, 31);
  write_npy(dir / "x.npy", x);
  for (const char* name : {"seed-mlp", "seed-mlp-bn-before"}) {
    reset_default_names();
    Model m = testing::trained_seed_model(name, 20);
    FoldResult folded = fold_batch_norm(m);
    save_model(m, dir / name);
    save_model(folded.model, dir / (std::string(name) + "-folded"), {.user_metadata = {{"k", 1}}});
    write_npy(dir / "keel.npy", m.predict(x));
    expect_script_ok(node + quote(kScripts / "tfjs_roundtrip.js") + " load " + quote(dir / name) +
                         " " + quote(dir / "x.npy") + " " + quote(dir / "keel.npy"),
                     dir / "log.txt");
    write_npy(dir / "keel_folded.npy", folded.model.predict(x));
    expect_script_ok(node + quote(kScripts / "tfjs_roundtrip.js") + " load " +
                         quote(dir / (std::string(name) + "-folded")) + " " + quote(dir / "x.npy") +
                         " " + quote(dir / "keel_folded.npy"),
                     dir / "log.txt");
  }
}

// A model saved under the mixed_bfloat16 policy carries tf.keras's serialized Policy as every
// layer's dtype (docs/mixed_precision.md); TF.js still loads it and predicts what keel predicts
// in float32.
TEST(TfjsInterop, TfjsLoadsKeelSavedMixedPolicyModel) {
  REQUIRE_NODE();
  const std::string node = node_env();
  ScratchDir dir("tfjs_mixed");
  const Tensor x = testing::random_images(20, 37);
  write_npy(dir / "x.npy", x);
  const DTypePolicy saved = mixed_precision::global_policy();
  mixed_precision::set_global_policy("mixed_bfloat16");
  reset_default_names();
  Model m = testing::trained_seed_model("seed-mlp", 20);
  mixed_precision::set_global_policy(saved);
  ASSERT_TRUE(m.layer(0).dtype_policy().computes_in_bf16());
  save_model(m, dir / "mixed");
  const auto topology = nlohmann::json::parse(read_text(dir / "mixed" / "model.json"))["modelTopology"];
  ASSERT_EQ(topology["config"]["layers"][1]["config"]["dtype"],
            nlohmann::json::parse(R"({"class_name": "Policy", "config": {"name": "mixed_bfloat16"}})"));
  // TF.js has no mixed precision: it reads the Policy and computes in float32. Where this CPU has
  // bf16 kernels keel's mixed prediction differs by ~1e-3 (bf16 operands), so the comparison is
  // with keel's float32 prediction of the same saved weights.
  for (int64_t i = 0; i < m.num_layers(); ++i) m.layer(i).set_dtype_policy("float32");
  write_npy(dir / "keel.npy", m.predict(x));
  expect_script_ok(node + quote(kScripts / "tfjs_roundtrip.js") + " load " + quote(dir / "mixed") + " " +
                       quote(dir / "x.npy") + " " + quote(dir / "keel.npy"),
                   dir / "log.txt");
}

// seed-cnn (issue 13): Conv2D 'same', 4-D BN (moving statistics after real steps), MaxPooling2D,
// Reshape and Dense after Flatten, as TF.js computes them.
TEST(TfjsInterop, TfjsLoadsKeelSavedSeedCnn) {
  REQUIRE_NODE();
  const std::string node = node_env();
  ScratchDir dir("tfjs_load_cnn");
  const Tensor x = testing::random_images(8, 37);
  write_npy(dir / "x.npy", x);
  reset_default_names();
  Model m = testing::trained_seed_model("seed-cnn", 3);
  save_model(m, dir / "seed-cnn");
  write_npy(dir / "keel.npy", m.predict(x));
  expect_script_ok(node + quote(kScripts / "tfjs_roundtrip.js") + " load " + quote(dir / "seed-cnn") +
                       " " + quote(dir / "x.npy") + " " + quote(dir / "keel.npy"),
                   dir / "log.txt");
}

// seed-lstm (issue 14): LSTM(128) on image rows, then Dense softmax, after real steps; TF.js names
// the LSTM's variables without keel's (Keras's) cell scope, so this also checks the names it reads.
TEST(TfjsInterop, TfjsLoadsKeelSavedSeedLstm) {
  REQUIRE_NODE();
  const std::string node = node_env();
  ScratchDir dir("tfjs_load_lstm");
  const Tensor x = testing::random_images(8, 41);
  write_npy(dir / "x.npy", x);
  reset_default_names();
  Model m = testing::trained_seed_model("seed-lstm", 3);
  save_model(m, dir / "seed-lstm");
  write_npy(dir / "keel.npy", m.predict(x));
  expect_script_ok(node + quote(kScripts / "tfjs_roundtrip.js") + " load " +
                       quote(dir / "seed-lstm") + " " + quote(dir / "x.npy") + " " +
                       quote(dir / "keel.npy"),
                   dir / "log.txt");
}

// Bidirectional (issue 14) over sequences and on the last state, concat / mul / ave merges and a
// go_backwards layer inside: TF.js's Bidirectional reads keel's config and weights. (TF.js 4.22's
// GRUCell refuses reset_after=True, TF2's default, so this GRU is the original variant.)
TEST(TfjsInterop, TfjsLoadsKeelSavedBidirectionalModel) {
  REQUIRE_NODE();
  const std::string node = node_env();
  ScratchDir dir("tfjs_load_bidi");
  const Tensor x = testing::random_images(6, 43);
  write_npy(dir / "x.npy", x);
  reset_default_names();
  Sequential m(Bidirectional(LSTM(8, {.return_sequences = true}), {.input_shape = {28, 28}}),
               Bidirectional(SimpleRNN(5, {.return_sequences = true, .go_backwards = true}),
                             {.merge_mode = "mul"}),
               Bidirectional(GRU(4, {.reset_after = false}), {.merge_mode = "ave"}),
               Dense(3, {.activation = "softmax"}));
  m.build(std::nullopt, 9);
  save_model(m, dir / "bidi");
  write_npy(dir / "keel.npy", m.predict(x));
  expect_script_ok(node + quote(kScripts / "tfjs_roundtrip.js") + " load " + quote(dir / "bidi") +
                       " " + quote(dir / "x.npy") + " " + quote(dir / "keel.npy"),
                   dir / "log.txt");
}

TEST(TfjsInterop, KeelLoadsModelTrainedInTfjs) {
  REQUIRE_NODE();
  const std::string node = node_env();
  ScratchDir dir("tfjs_make");
  const Tensor x = testing::random_images(20, 32);
  write_npy(dir / "x.npy", x);
  expect_script_ok(node + quote(kScripts / "tfjs_roundtrip.js") + " make " + quote(dir / "tj") +
                       " " + quote(dir / "x.npy") + " " + quote(dir / "tfjs.npy"),
                   dir / "log.txt");
  Model m = load_model(dir / "tj");
  EXPECT_EQ(m.name(), "tfjs_made");
  EXPECT_EQ(m.num_layers(), 7);
  const Tensor tfjs = read_npy(dir / "tfjs.npy").values;
  const Tensor keel = m.predict(x);
  EXPECT_LE(max_abs_diff(keel, tfjs), 1e-5);
  // And the tfjs model folds (bn_in into 'hidden', bn_mid into 'hidden2' which has no bias).
  FoldResult r = fold_batch_norm(m);
  EXPECT_EQ(r.folded.size(), 2u) << r.report();
  EXPECT_LE(max_abs_diff(r.model.predict(x), tfjs), 1e-5);
}

// Writes one (n, dims...) NPY of random values per model input, runs a forward pass on them and
// writes one NPY per output; returns the comma-separated input and output file lists.
std::pair<std::string, std::string> write_functional_case(Model& model, int64_t n, const fs::path& dir,
                                                          Mode mode = Mode::kInference) {
  std::vector<Tensor> inputs;
  inputs.reserve(model.input_tensors().size());
  std::vector<const float*> pointers;
  std::string x_files, y_files;
  for (size_t i = 0; i < model.input_tensors().size(); ++i) {
    const auto& dims = model.tensors()[size_t(model.input_tensors()[i])].shape.dims();
    std::vector<int64_t> batch_dims(dims.begin(), dims.end());
    batch_dims[0] = n;
    Tensor x(batch_dims);
    Rng rng(100 + i);
    for (int64_t j = 0; j < x.size(); ++j) x[j] = 2.0f * rng.uniform() - 1.0f;
    const fs::path file = dir / std::string("x").append(std::to_string(i)).append(".npy");
    write_npy(file, x);
    x_files.append(i ? "," : "").append(file.string());
    inputs.push_back(std::move(x));
    pointers.push_back(inputs.back().data());
  }
  model.forward(pointers, n, mode);
  for (int64_t i = 0; i < model.num_outputs(); ++i) {
    const auto& dims = model.tensors()[size_t(model.output_tensors()[size_t(i)])].shape.dims();
    std::vector<int64_t> batch_dims(dims.begin(), dims.end());
    batch_dims[0] = n;
    Tensor y(batch_dims);
    std::copy_n(model.output(i), y.size(), y.data());
    const fs::path file = dir / std::string("y").append(std::to_string(i)).append(".npy");
    write_npy(file, y);
    y_files.append(i ? "," : "").append(file.string());
  }
  return {x_files, y_files};
}

// merge_zoo without Subtract, which tfjs-layers does not have ("Unknown layer: Subtract"): the
// other merges, two outputs.
Model merge_zoo_for_tfjs() {
  KerasTensor a = Input({8}), b = Input({8});
  KerasTensor d1 = Dense(8)(a), d2 = Dense(8)(b);
  KerasTensor m = Multiply()({d1, d2}), av = Average()({d1, d2, a});
  KerasTensor c = Concatenate()({m, av, Maximum()({d1, d2}), Minimum()({d1, d2})});
  return Model({a, b}, {Dense(3)(c), m});
}

TEST(TfjsInterop, TfjsLoadsKeelSavedFunctionalModels) {
  REQUIRE_NODE();
  const std::string node = node_env();
  ScratchDir dir("tfjs_functional");
  std::vector<testing::FunctionalCase> cases;
  for (const auto& c : testing::kFunctionalCases)
    if (std::string_view(c.name) != "merge_zoo") cases.push_back(c);
  cases.push_back({"merge_zoo_for_tfjs", merge_zoo_for_tfjs});
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    reset_default_names();
    Model m = c.make();
    m.build(std::nullopt, 99);
    // Training-mode passes move the BN statistics away from 0 / 1, so tfjs must read them.
    for (int step = 0; step < 3; ++step) write_functional_case(m, 16, dir.path(), Mode::kTraining);
    const auto [xs, ys] = write_functional_case(m, 7, dir.path());
    save_model(m, dir / c.name);
    expect_script_ok(node + quote(kScripts / "tfjs_roundtrip.js") + " load " + quote(dir / c.name) +
                         " '" + xs + "' '" + ys + "'",
                     dir / "log.txt");
  }
}

TEST(TfjsInterop, KeelLoadsFunctionalModelTrainedInTfjs) {
  REQUIRE_NODE();
  const std::string node = node_env();
  ScratchDir dir("tfjs_make_functional");
  const Tensor x = testing::random_images(20, 33);
  write_npy(dir / "x.npy", x);
  expect_script_ok(node + quote(kScripts / "tfjs_roundtrip.js") + " make-functional " +
                       quote(dir / "tj") + " " + quote(dir / "x.npy") + " " + quote(dir / "tfjs.npy"),
                   dir / "log.txt");
  reset_default_names();
  Model m = load_model(dir / "tj");
  EXPECT_EQ(m.name(), "tfjs_functional");
  EXPECT_FALSE(m.is_sequential());
  EXPECT_EQ(m.num_layers(), 8);  // pixels, flatten, stem, branch, residual, shared, both, out
  EXPECT_EQ(m.nodes().size(), 8u);  // the 7 layers after the input, 'shared' called twice
  EXPECT_LE(max_abs_diff(m.predict(x), read_npy(dir / "tfjs.npy").values), 1e-5);
}

TEST(OnnxInterop, CheckerAndOnnxRuntimeAgreeWithKeel) {
  ScratchDir dir("onnx");
  const Tensor x = testing::random_images(20, 33);
  write_npy(dir / "x.npy", x);
  std::vector<fs::path> models;
  for (const char* name : {"seed-mlp", "seed-mlp-bn-before"}) {
    reset_default_names();
    Model m = testing::trained_seed_model(name, 20);
    write_npy(dir / (std::string(name) + ".npy"), m.predict(x));
    for (bool fold : {false, true}) {
      const fs::path p = dir / (std::string(name) + (fold ? "-folded" : "") + ".onnx");
      export_onnx(m, p, {.fold_bn = fold});
      models.push_back(p);
    }
  }
  // onnx.checker (installed by scripts/install-deps.sh --test).
  ASSERT_EQ(run("/usr/bin/python3 -c 'import onnx'", dir / "py.txt"), 0)
      << "/usr/bin/python3 cannot import onnx: install Debian's python3-onnx "
         "(scripts/install-deps.sh --test)";
  std::string check = "/usr/bin/python3 " + quote(kScripts / "onnx_check.py");
  for (const auto& p : models) check.append(" ").append(quote(p));
  expect_script_ok(check, dir / "check.txt");

  REQUIRE_NODE();
  const std::string node = node_env();
  for (const auto& p : models) {
    const std::string stem = p.stem().string();
    const std::string base = stem.substr(0, stem.find("-folded"));
    expect_script_ok(ort_env(dir) + node + quote(kScripts / "onnx_run.js") + " " + quote(p) + " " +
                         quote(dir / "x.npy") + " " + quote(dir / (base + ".npy")),
                     dir / "ort.txt");
  }
}

// Writes the inputs `xs` and keel's predictions for them as .npy files in `dir` and returns the
// onnx_run.js arguments naming them (in:<input layer>=..., out:<producing layer>=...).
std::string write_onnx_case(Model& m, const std::string& name, const std::vector<Tensor>& xs,
                            const fs::path& dir) {
  std::string args;
  for (int64_t i = 0; i < m.num_inputs(); ++i) {
    const GraphTensor& t = m.tensors()[size_t(m.input_tensors()[size_t(i)])];
    const fs::path p = dir / (name + "_x" + std::to_string(i) + ".npy");
    write_npy(p, xs[size_t(i)]);
    const std::string input = m.is_sequential() ? "input" : t.input_layer->name();
    args.append(" ").append(quote("in:" + input + "=" + p.string()));
  }
  const std::vector<Tensor> ys = graph_test::predict_all(m, xs);
  for (int64_t i = 0; i < m.num_outputs(); ++i) {
    const GraphTensor& t = m.tensors()[size_t(m.output_tensors()[size_t(i)])];
    const fs::path p = dir / (name + "_y" + std::to_string(i) + ".npy");
    write_npy(p, ys[size_t(i)]);
    const std::string output =
        m.is_sequential() ? "output" : m.nodes()[size_t(t.producer)].layer->name();
    args.append(" ").append(quote("out:" + output + "=" + p.string()));
  }
  return args;
}

// Functional graphs: a residual MLP with BN (unfolded and folded), two inputs into a Concatenate,
// every merge layer with a shared layer and two outputs, and rank-3 inputs joined along axis 1. ONNX Runtime gets the inputs by their
// Keras names and must return outputs named after the layers producing them.
TEST(OnnxInterop, FunctionalGraphsAgreeWithKeel) {
  ScratchDir dir("onnx_graph");
  struct Case {
    std::string name;
    Model model;
  };
  std::vector<Case> cases;
  reset_default_names();
  cases.push_back({"residual_mlp_bn", graph_test::residual_mlp_bn(784, 128)});
  graph_test::randomize_batch_norm(cases.back().model, 5);
  reset_default_names();
  cases.push_back({"two_input_concat", graph_test::two_input_concat()});
  reset_default_names();
  cases.push_back({"merge_zoo_shared", graph_test::merge_zoo_shared()});
  reset_default_names();
  cases.push_back({"sequence_concat", graph_test::sequence_concat()});
  std::vector<std::pair<fs::path, std::string>> runs;  // model, onnx_run.js arguments
  for (Case& c : cases) {
    Model& m = c.model;
    std::vector<Tensor> xs;
    for (int64_t i = 0; i < m.num_inputs(); ++i) {
      std::vector<int64_t> dims = m.tensors()[size_t(m.input_tensors()[size_t(i)])].shape.dims();
      dims[0] = 20;
      xs.push_back(graph_test::random_normal(dims, 40 + uint64_t(i)));
    }
    const std::string args = write_onnx_case(m, c.name, xs, dir.path());
    for (bool fold : {false, true}) {
      const fs::path p = dir / (c.name + (fold ? "-folded" : "") + ".onnx");
      export_onnx(m, p, {.fold_bn = fold});
      runs.push_back({p, args});
    }
  }
  std::string check = "/usr/bin/python3 " + quote(kScripts / "onnx_check.py");
  for (const auto& [p, args] : runs) check.append(" ").append(quote(p));
  expect_script_ok(check, dir / "check.txt");
  EXPECT_NE(read_text(dir / "check.txt").find("'Concat'"), std::string::npos);

  REQUIRE_NODE();
  const std::string node = node_env();
  for (const auto& [p, args] : runs)
    expect_script_ok(ort_env(dir) + node + quote(kScripts / "onnx_run.js") + " " + quote(p) + args,
                     dir / "ort.txt");
}

// Sequence models (issue 14): seed-lstm after real steps; stacked Bidirectional layers with every
// merge, a go_backwards layer inside and outside, LayerNormalization and GRU reset_after=False;
// hard_sigmoid gates; Bidirectional return_state with merge_mode None in a functional graph (six
// outputs used); an Embedding of float ids. onnx.checker and ONNX Runtime must agree with keel.
TEST(OnnxInterop, SequenceModelsAgreeWithKeel) {
  ScratchDir dir("onnx_sequences");
  struct Case {
    std::string name;
    Model model;
  };
  std::vector<Case> cases;
  reset_default_names();
  cases.push_back({"seed_lstm", testing::trained_seed_model("seed-lstm", 3)});
  reset_default_names();
  cases.push_back({"stacked", Sequential(
      Bidirectional(LSTM(6, {.return_sequences = true}), {.input_shape = {28, 28}}),
      Bidirectional(SimpleRNN(4, {.return_sequences = true, .go_backwards = true}),
                    {.merge_mode = "mul"}),
      LayerNormalization(),
      GRU(5, {.reset_after = false, .return_sequences = true, .go_backwards = true}),
      Bidirectional(GRU(3, {.return_sequences = true}), {.merge_mode = "sum"}),
      Bidirectional(GRU(3), {.merge_mode = "ave"}), Dense(3, {.activation = "softmax"}))});
  reset_default_names();
  cases.push_back({"layer_norm_over_time", Sequential(
      LayerNormalization({.axis = {1}, .input_shape = {28, 28}}), LSTM(3), Dense(2))});
  reset_default_names();
  cases.push_back({"hard_sigmoid", Sequential(
      LSTM(5, {.activation = "relu", .recurrent_activation = "hard_sigmoid",
               .go_backwards = true, .input_shape = {28, 28}}),
      Dense(2))});
  reset_default_names();
  {
    KerasTensor x = Input({28, 28});
    auto outs = all_outputs(Bidirectional(LSTM(3, {.return_state = true}),
                                          {.merge_mode = std::nullopt})(x));
    KerasTensor seq = Bidirectional(SimpleRNN(2, {.return_sequences = true, .go_backwards = true}),
                                    {.merge_mode = "concat"})(x);
    cases.push_back({"states", Model(std::vector<KerasTensor>{x},
                                     {Concatenate()(outs), GRU(2, {.use_bias = false})(seq)})});
  }
  std::vector<std::pair<fs::path, std::string>> runs;  // model, onnx_run.js arguments
  for (Case& c : cases) {
    if (!c.model.built()) c.model.build(std::nullopt, 17);
    // Every variable random, biases included (a zero bias would hide a dropped ONNX bias row).
    if (c.name != "seed_lstm") {
      Rng rng(23);
      for (Variable* v : c.model.variables())
        for (int64_t i = 0; i < v->size(); ++i) v->value[i] = rng.uniform() - 0.5f;
    }
    const std::string args = write_onnx_case(c.model, c.name, {testing::random_images(9, 51)}, dir.path());
    runs.push_back({dir / (c.name + ".onnx"), args});
    export_onnx(c.model, runs.back().first);
  }
  reset_default_names();
  Sequential embed(Embedding(30, 4, {.input_length = 7}), LSTM(3), Dense(2));
  embed.build(std::nullopt, 5);
  Tensor ids({9, 7});
  for (int64_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<float>((i * 7) % 30) + 0.5f;
  runs.push_back({dir / "embedding.onnx", write_onnx_case(embed, "embedding", {ids}, dir.path())});
  export_onnx(embed, runs.back().first);

  std::string check = "/usr/bin/python3 " + quote(kScripts / "onnx_check.py");
  for (const auto& [p, args] : runs) check.append(" ").append(quote(p));
  expect_script_ok(check, dir / "check.txt");
  const std::string ops = read_text(dir / "check.txt");
  for (const char* op : {"'LSTM'", "'GRU'", "'RNN'", "'Gather'", "'ReduceMean'"})
    EXPECT_NE(ops.find(op), std::string::npos) << op;

  REQUIRE_NODE();
  const std::string node = node_env();
  for (const auto& [p, args] : runs)
    expect_script_ok(ort_env(dir) + node + quote(kScripts / "onnx_run.js") + " " + quote(p) + args,
                     dir / "ort.txt");
}

// Convolutional models (issue 13): seed-cnn after real steps, unfolded and BN-folded; a
// functional CNN with every spatial layer: ZeroPadding2D with uneven pads, Conv2D with strides 2
// and 'same' over an odd size, an even kernel, dilation and groups, DepthwiseConv2D with a depth
// multiplier and dilation, BatchNormalization on NHWC (and one folded into its convolution),
// AveragePooling2D 'same' (averages over the cells inside), MaxPooling2D, both global poolings
// (one with keepdims), Reshape; BN over the last axis of a rank-3 input. onnx.checker and ONNX
// Runtime must agree with keel within 1e-5.
TEST(OnnxInterop, ConvolutionalModelsAgreeWithKeel) {
  ScratchDir dir("onnx_cnn");
  std::vector<std::pair<fs::path, std::string>> runs;  // model, onnx_run.js arguments
  reset_default_names();
  Model seed_cnn = testing::trained_seed_model("seed-cnn", 3);
  const std::string seed_args =
      write_onnx_case(seed_cnn, "seed_cnn", {testing::random_images(5, 61)}, dir.path());
  for (bool fold : {false, true}) {
    const fs::path p = dir / (std::string("seed_cnn") + (fold ? "-folded" : "") + ".onnx");
    export_onnx(seed_cnn, p, {.fold_bn = fold});
    runs.push_back({p, seed_args});
  }
  reset_default_names();
  KerasTensor x = Input({28, 28});
  KerasTensor t = Reshape({28, 28, 1})(x);
  t = ZeroPadding2D({.padding = {Size2{1, 2}, Size2{0, 1}}})(t);  // 31 x 29
  t = Conv2D(4, {3, 2}, {.strides = 2, .padding = "same", .activation = "relu"})(t);
  t = DepthwiseConv2D(3, {.padding = "same", .depth_multiplier = 2, .dilation_rate = 2})(t);
  t = BatchNormalization()(t);
  t = AveragePooling2D({.pool_size = 3, .strides = Size2{2, 2}, .padding = "same"})(t);
  t = Conv2D(6, 2, {.padding = "valid", .dilation_rate = {1, 2}, .groups = 2,
                    .activation = "elu"})(t);
  KerasTensor m = MaxPooling2D({.pool_size = 2, .strides = Size2{1, 1}})(t);
  KerasTensor avg = GlobalAveragePooling2D()(m);
  KerasTensor mx = Reshape({6})(GlobalMaxPooling2D({.keepdims = true})(m));
  Model cnn(std::vector<KerasTensor>{x}, {Dense(3)(Concatenate()({avg, mx}))});
  cnn.build(std::nullopt, 29);
  Rng rng(31);
  for (Variable* v : cnn.variables()) {
    const bool variance = v->name.find("moving_variance") != std::string::npos;
    for (int64_t i = 0; i < v->size(); ++i)
      v->value[i] = variance ? 0.5f + rng.uniform() : rng.uniform() - 0.5f;
  }
  const std::string args = write_onnx_case(cnn, "spatial", {testing::random_images(7, 62)}, dir.path());
  for (bool fold : {false, true}) {
    const fs::path p = dir / (std::string("spatial") + (fold ? "-folded" : "") + ".onnx");
    export_onnx(cnn, p, {.fold_bn = fold});
    runs.push_back({p, args});
  }

  // BN over the last axis of a rank-3 input (rows of pixels as sequences), with moving statistics
  // away from 0 / 1.
  reset_default_names();
  Sequential bn3(BatchNormalization({.input_shape = {28, 28}}), Flatten(), Dense(2));
  bn3.build(std::nullopt, 37);
  for (Variable* v : bn3.variables())
    for (int64_t i = 0; i < v->size(); ++i) v->value[i] = 0.5f + rng.uniform();
  runs.push_back({dir / "bn_rank3.onnx",
                  write_onnx_case(bn3, "bn_rank3", {testing::random_images(4, 63)}, dir.path())});
  export_onnx(bn3, runs.back().first);

  std::string check = "/usr/bin/python3 " + quote(kScripts / "onnx_check.py");
  for (const auto& [p, a] : runs) check.append(" ").append(quote(p));
  expect_script_ok(check, dir / "check.txt");
  const std::string ops = read_text(dir / "check.txt");
  for (const char* op : {"'Conv'", "'MaxPool'", "'AveragePool'", "'ReduceMean'", "'ReduceMax'",
                         "'Pad'", "'Reshape'", "'BatchNormalization'"})
    EXPECT_NE(ops.find(op), std::string::npos) << op;

  REQUIRE_NODE();
  const std::string node = node_env();
  for (const auto& [p, a] : runs)
    expect_script_ok(ort_env(dir) + node + quote(kScripts / "onnx_run.js") + " " + quote(p) + a,
                     dir / "ort.txt");
}

// ---- the deployment CLI end to end ----

// A Fashion-MNIST directory with the first `train` training images and the whole test split.
void write_small_fashion_mnist(const fs::path& dir, const FashionMnist& data, int64_t train) {
  fs::create_directories(dir);
  auto images = [](const std::vector<uint8_t>& src, int64_t n) {
    return IdxArray{IdxType::kUint8, {n, 28, 28}, {src.begin(), src.begin() + n * 784}};
  };
  auto labels = [](const std::vector<uint8_t>& src, int64_t n) {
    return IdxArray{IdxType::kUint8, {n}, {src.begin(), src.begin() + n}};
  };
  write_idx(dir / "train-images-idx3-ubyte", images(data.train_images, train));
  write_idx(dir / "train-labels-idx1-ubyte", labels(data.train_labels, train));
  write_idx(dir / "t10k-images-idx3-ubyte", images(data.test_images, data.test_count));
  write_idx(dir / "t10k-labels-idx1-ubyte", labels(data.test_labels, data.test_count));
}

TEST(DeployCli, TrainSaveFoldVerifyEvaluatePredictExport) {
  const char* env_bin = std::getenv("KEEL_BIN");  // set by ctest
  const std::string bin = env_bin ? env_bin : std::string(KEEL_BINARY_DIR) + "/keel";
  ASSERT_TRUE(fs::exists(bin)) << "keel executable not built: " << bin;
  FashionMnist data;
  try {
    data = load_fashion_mnist(default_fashion_mnist_dir());
  } catch (const Error& e) {
    FAIL() << "Fashion-MNIST is missing (Debian package dataset-fashion-mnist, installed by "
              "scripts/install-deps.sh): "
           << e.what();
  }
  ScratchDir dir("deploy_cli");
  // 3000 training images keep the epoch short; --verify uses the real 10000-image test split.
  write_small_fashion_mnist(dir / "small", data, 3000);
  const std::string keel = quote(bin) + " ";
  for (const char* name : {"seed-mlp", "seed-mlp-bn-before"}) {
    const fs::path m = dir / (std::string(name) + "-m"), f = dir / (std::string(name) + "-f");
    ASSERT_EQ(run(keel + "train " + name + " --epochs 1 --validation 500 --verbose 0 --data " +
                      quote(dir / "small") + " --save " + quote(m),
                  dir / "train.txt"),
              0)
        << read_text(dir / "train.txt");
    ASSERT_EQ(run(keel + "fold-bn " + quote(m) + " " + quote(f) + " --verify fashion-mnist",
                  dir / "fold.txt"),
              0)
        << read_text(dir / "fold.txt");
    const std::string out = read_text(dir / "fold.txt");
    std::printf("%s: keel fold-bn --verify fashion-mnist\n%s", name, out.c_str());
    EXPECT_NE(out.find("Folded 3 of 3 BatchNormalization layers"), std::string::npos) << out;
    std::smatch match;
    ASSERT_TRUE(std::regex_search(out, match, std::regex("max abs difference: +([0-9.e+-]+)")));
    EXPECT_LE(std::stod(match[1]), 1e-5) << out;
    EXPECT_NE(out.find("Verified on 10000 test images"), std::string::npos) << out;
    EXPECT_NE(out.find("(identical)"), std::string::npos) << out;

    // The folded model has no BN layer left and evaluates like the original.
    ASSERT_EQ(run(keel + "summary " + quote(f), dir / "summary.txt"), 0);
    EXPECT_EQ(read_text(dir / "summary.txt").find("BatchNormalization"), std::string::npos);
    ASSERT_EQ(run(keel + "evaluate " + quote(m), dir / "eval_m.txt"), 0);
    ASSERT_EQ(run(keel + "evaluate " + quote(f), dir / "eval_f.txt"), 0);
    const std::regex acc("accuracy ([0-9.]+)");
    std::smatch am, af;
    const std::string em = read_text(dir / "eval_m.txt"), ef = read_text(dir / "eval_f.txt");
    ASSERT_TRUE(std::regex_search(em, am, acc)) << em;
    ASSERT_TRUE(std::regex_search(ef, af, acc)) << ef;
    EXPECT_EQ(am[1], af[1]);
  }
  // predict on an IDX file (uint8 pixels, scaled like training) and on .npy; export.
  const fs::path m = dir / "seed-mlp-m";
  ASSERT_EQ(run(keel + "predict " + quote(m) + " --input " +
                    quote(dir / "small" / "t10k-images-idx3-ubyte") + " --output " +
                    quote(dir / "p.npy"),
                dir / "predict.txt"),
            0)
      << read_text(dir / "predict.txt");
  const Tensor p = read_npy(dir / "p.npy").values;
  ASSERT_EQ(p.dims(), (std::vector<int64_t>{10000, 10}));
  Model loaded = load_model(m);
  DataView test;
  test.size = 10000;
  test.sample_dims = {28, 28};
  test.x_uint8 = data.test_images.data();
  test.x_scale = 1.0f / 255.0f;
  EXPECT_EQ(max_abs_diff(p, loaded.predict(test, 32)), 0.0);
  ASSERT_EQ(run(keel + "export " + quote(m) + " --onnx " + quote(dir / "m.onnx") + " --fold-bn",
                dir / "export.txt"),
            0);
  EXPECT_TRUE(fs::exists(dir / "m.onnx"));
  // User errors: exit code 2 and one line naming the file.
  EXPECT_EQ(run(keel + "predict " + quote(m) + " --input " + quote(dir / "missing.npy"),
                dir / "err.txt"),
            2);
  EXPECT_NE(read_text(dir / "err.txt").find("missing.npy"), std::string::npos);
  EXPECT_EQ(run(keel + "evaluate " + quote(dir / "small"), dir / "err2.txt"), 2);
  EXPECT_NE(read_text(dir / "err2.txt").find("model.json"), std::string::npos);
}

}  // namespace
}  // namespace keel
