// keel_bench --report-rnn: the seed-lstm numbers of bench/rnn.sh (issue 14), as one JSON object.
//   * training seed-lstm (LSTM(128) over 28 rows of 28 pixels, Dense(10, softmax)) one epoch of
//     the first 12,800 Fashion-MNIST training images at batch 64 and 32, Adam lr 0.001 with
//     clipnorm 1 (the recipe), through the public fit(), after a 640-sample warm-up fit;
//   * predict latency of one sequence (batch 1, median of 5,000 calls) and of 10,000 sequences;
//   * the LSTM(128) layer's inference forward alone (28 steps of 28 features) at batch 1 and 64:
//     keel's cell (a model of just that layer, predict_into) against oneDNN's lstm_forward
//     primitive (forward_inference, weights reordered once to the layout it picks), the
//     comparison issue 14 asks for ("whichever measures faster").
// bench/torch_seed_lstm.py does the same with PyTorch (not the oneDNN part).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "bench_common.h"
#include "keel/layers/lstm.h"
#include "keel/io/fashion_mnist.h"
#include "keel/model/builtin_models.h"
#include "keel/core/rng.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/adam.h"

namespace keel::bench {

namespace {

constexpr int64_t kTrainSamples = 12800;

Model compiled_seed_lstm() {
  Model model = builtin_model("seed-lstm");
  model.build(std::nullopt, 42);
  model.compile({.optimizer = std::make_shared<Adam>(AdamOptions{.learning_rate = 0.001, .clipnorm = 1.0}),
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  return model;
}

// oneDNN's LSTM forward (inference) over T steps of F features, `units` hidden, zero initial
// states, random weights: seconds per call.
double onednn_lstm_forward_seconds(int64_t batch, int64_t T, int64_t F, int64_t units) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const dnnl::memory::desc src_md({T, batch, F}, dt::f32, tag::tnc);
  const dnnl::memory::desc dst_md({T, batch, units}, dt::f32, tag::tnc);
  const dnnl::memory::desc wl_any({1, 1, F, 4, units}, dt::f32, tag::any);
  const dnnl::memory::desc wi_any({1, 1, units, 4, units}, dt::f32, tag::any);
  const dnnl::memory::desc bias_md({1, 1, 4, units}, dt::f32, tag::ldgo);
  const dnnl::lstm_forward::desc desc(dnnl::prop_kind::forward_inference,
                                      dnnl::rnn_direction::unidirectional_left2right, src_md,
                                      dnnl::memory::desc(), dnnl::memory::desc(), wl_any, wi_any,
                                      bias_md, dst_md, dnnl::memory::desc(), dnnl::memory::desc());
  const dnnl::lstm_forward::primitive_desc pd(desc, engine);
  auto filled = [&](const dnnl::memory::desc& md, float scale) {
    dnnl::memory m(md, engine);
    auto* p = static_cast<float*>(m.get_data_handle());
    Rng rng(7);
    for (size_t i = 0; i < md.get_size() / sizeof(float); ++i) p[i] = scale * (rng.uniform() - 0.5f);
    return m;
  };
  // Weights in the plain ldigo layout, reordered once into the primitive's.
  dnnl::memory wl_user = filled(dnnl::memory::desc({1, 1, F, 4, units}, dt::f32, tag::ldigo), 0.2f);
  dnnl::memory wi_user = filled(dnnl::memory::desc({1, 1, units, 4, units}, dt::f32, tag::ldigo), 0.2f);
  dnnl::memory wl(pd.weights_layer_desc(), engine), wi(pd.weights_iter_desc(), engine);
  dnnl::reorder(wl_user, wl).execute(stream, wl_user, wl);
  dnnl::reorder(wi_user, wi).execute(stream, wi_user, wi);
  dnnl::memory bias = filled(bias_md, 0.2f), src = filled(src_md, 2.0f);
  dnnl::memory dst(dst_md, engine);
  dnnl::memory scratch(pd.scratchpad_desc(), engine);
  const dnnl::lstm_forward prim(pd);
  auto run = [&] {
    prim.execute(stream, {{DNNL_ARG_SRC_LAYER, src}, {DNNL_ARG_WEIGHTS_LAYER, wl},
                          {DNNL_ARG_WEIGHTS_ITER, wi}, {DNNL_ARG_BIAS, bias},
                          {DNNL_ARG_DST_LAYER, dst}, {DNNL_ARG_SCRATCHPAD, scratch}});
    stream.wait();
  };
  return median_call_seconds(50, batch == 1 ? 3000 : 500, run);
}

// keel's LSTM(units) alone: a model of that one layer, predict_into the caller's buffer.
double keel_lstm_forward_seconds(int64_t batch, int64_t T, int64_t F, int64_t units) {
  Sequential model(LSTM(units, {.input_shape = {T, F}}));
  model.build(std::nullopt, 7);
  std::vector<float> x(static_cast<size_t>(batch * T * F)), y(static_cast<size_t>(batch * units));
  Rng rng(9);
  for (float& v : x) v = rng.uniform() - 0.5f;
  return median_call_seconds(50, batch == 1 ? 3000 : 500, [&] { model.predict_into(x, y, batch); });
}

}  // namespace

int run_rnn_report() {
  const FashionMnist fm = load_fashion_mnist(default_fashion_mnist_dir());
  const DataView all = fashion_mnist_view(fm, FashionMnistSplit::kTrain);
  std::printf("{");
  for (int64_t batch : {64, 32}) {
    Model model = compiled_seed_lstm();
    model.fit(all.slice(0, 640), {.batch_size = batch, .epochs = 1, .verbose = 0});
    const History h = model.fit(all.slice(0, kTrainSamples), {.batch_size = batch, .epochs = 1, .verbose = 0});
    std::printf("\"train_samples_per_s_b%lld\": %.1f, ", static_cast<long long>(batch),
                static_cast<double>(h.train_samples) / h.train_seconds);
  }
  Model model = compiled_seed_lstm();
  Tensor x10k({10000, 28, 28});
  for (int64_t i = 0; i < x10k.size(); ++i) x10k[i] = static_cast<float>(fm.test_images[size_t(i)]) / 255.0f;
  Tensor x1({1, 28, 28});
  std::copy_n(x10k.data(), 784, x1.data());
  for (int i = 0; i < 500; ++i) model.predict(x1, 1);
  std::vector<double> t1;
  for (int i = 0; i < 5000; ++i) {
    const auto t = Clock::now();
    const Tensor y = model.predict(x1, 1);
    t1.push_back(since(t));
  }
  model.predict(x10k, 10000);
  std::vector<double> t10k;
  for (int r = 0; r < 3; ++r) {
    const auto t = Clock::now();
    const Tensor y = model.predict(x10k, 10000);
    t10k.push_back(since(t));
  }
  std::printf("\"predict_b1_us\": %.2f, \"predict_b10000_ms\": %.2f", 1e6 * median(t1),
              1e3 * median(t10k));
  for (int64_t batch : {1, 64}) {
    const double keel_s = keel_lstm_forward_seconds(batch, 28, 28, 128);
    const double dnnl_s = onednn_lstm_forward_seconds(batch, 28, 28, 128);
    std::printf(", \"lstm_forward_b%lld_keel_us\": %.2f, \"lstm_forward_b%lld_onednn_us\": %.2f",
                static_cast<long long>(batch), 1e6 * keel_s, static_cast<long long>(batch), 1e6 * dnnl_s);
  }
  std::printf("}\n");
  return 0;
}

}  // namespace keel::bench
