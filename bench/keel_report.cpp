// keel_bench --report: the end-to-end numbers of bench/run.sh, as one JSON object on stdout.
//   * training the seed model one epoch (55,000 Fashion-MNIST samples) at batch 32 and 256,
//     SGD lr 0.01 with clipnorm 1.0, through the public fit();
//   * the bare oneDNN matmuls of one training step at the same batch (the bound);
//   * predict latency at batch 1 (median of many calls) and 10,000;
//   * predict latency at batch 1 of the same model with its BatchNormalization layers folded
//     into the Dense layers (fold_batch_norm), timed interleaved with the unfolded one, and of
//     predict_into (the caller's output buffer, no result Tensor) on the unfolded model.
#include "bench_common.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "keel/model/callback.h"
#include "keel/io/fashion_mnist.h"
#include "keel/kernels/bf16.h"
#include "keel/layers/dtype_policy.h"
#include "keel/model/builtin_models.h"
#include "keel/deploy/fold_batch_norm.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/sgd.h"

namespace keel::bench {

namespace {

// The matmuls of one training step of the seed model at batch m, timed with oneDNN directly
// (no keel code in the loop). Dense layers (fan_in, units): (784,300), (300,100), (100,10).
// forward y = x·W (3), dW = xᵀ·dz (3), dx = dz·Wᵀ (3: the first Dense's dx feeds the
// BatchNormalization(784) in front of it, whose gamma/beta need it; only Flatten's is skipped).
// dW is written, not accumulated, as fit's backward does (GradientUpdate::kOverwrite).
double bare_gemm_step_seconds(int64_t m) {
  using dt = dnnl::memory::data_type;
  using dims = dnnl::memory::dims;
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  struct Op {
    dnnl::matmul prim;
    dnnl::memory a, b, c;
  };
  std::vector<Op> ops;
  auto add = [&](int64_t M, int64_t N, int64_t K, bool ta, bool tb) {
    const dnnl::memory::desc a_md(dims{M, K}, dt::f32, ta ? dims{1, M} : dims{K, 1});
    const dnnl::memory::desc b_md(dims{K, N}, dt::f32, tb ? dims{1, K} : dims{N, 1});
    const dnnl::memory::desc c_md(dims{M, N}, dt::f32, dims{N, 1});
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), engine);
    ops.push_back({dnnl::matmul(pd), dnnl::memory(a_md, engine), dnnl::memory(b_md, engine),
                   dnnl::memory(c_md, engine)});
  };
  const int64_t layers[3][2] = {{784, 300}, {300, 100}, {100, 10}};
  for (const auto& l : layers) {
    const int64_t fan_in = l[0], units = l[1];
    add(m, units, fan_in, false, false);  // forward
    add(fan_in, units, m, true, false);   // dW = xᵀ·dz
    add(m, fan_in, units, false, true);   // dx = dz·Wᵀ
  }
  for (auto& op : ops) {  // touch the buffers once so page faults stay out of the timing
    for (auto* mem : {&op.a, &op.b, &op.c}) {
      auto* p = static_cast<float*>(mem->get_data_handle());
      std::fill_n(p, mem->get_desc().get_size() / sizeof(float), 0.01f);
    }
  }
  auto run = [&] {
    for (auto& op : ops) {
      op.prim.execute(stream, {{DNNL_ARG_SRC, op.a}, {DNNL_ARG_WEIGHTS, op.b}, {DNNL_ARG_DST, op.c}});
    }
    stream.wait();
  };
  const int reps = m <= 32 ? 400 : 100;
  for (int i = 0; i < 20; ++i) run();
  std::vector<double> times;
  for (int r = 0; r < 7; ++r) {
    const auto t = Clock::now();
    for (int i = 0; i < reps; ++i) run();
    times.push_back(since(t) / reps);
  }
  return median(times);
}

}  // namespace

TrainResult train_one_epoch(const DataView& data, int64_t batch, Model& model,
                            std::shared_ptr<Optimizer> optimizer) {
  if (!optimizer) optimizer = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.01, .clipnorm = 1.0});
  model.compile({.optimizer = std::move(optimizer),
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  auto timer = std::make_shared<StepTimer>();
  const History h = model.fit(data, {.batch_size = batch, .epochs = 1, .verbose = 0, .callbacks = {timer}});
  const double steps = static_cast<double>((data.size + batch - 1) / batch);
  return {static_cast<double>(h.train_samples) / h.train_seconds, h.train_seconds / steps,
          median(timer->seconds)};
}

int run_report(const char* dtype_policy) {
  mixed_precision::set_global_policy(DTypePolicy(dtype_policy));
  // Which kernels a bf16 policy ran on (native / emulate / off: float32 after the warning).
  std::printf("{\"dtype_policy\": \"%s\", \"bf16_kernels\": \"%s\", ", dtype_policy,
              to_string(bf16_kernels()));
  const FashionMnist fm = load_fashion_mnist(default_fashion_mnist_dir());
  const DataView all = fashion_mnist_view(fm, FashionMnistSplit::kTrain);
  const DataView train = all.slice(0, 55000);

  for (int64_t batch : {32, 256}) {
    reset_default_names();
    Model model = seed_mlp();
    model.build(std::nullopt, 42);
    const TrainResult r = train_one_epoch(train, batch, model);
    const double gemm = bare_gemm_step_seconds(batch);
    std::printf("\"train_samples_per_s_b%lld\": %.1f, \"step_us_b%lld\": %.2f, "
                "\"median_step_us_b%lld\": %.2f, \"bare_gemm_step_us_b%lld\": %.2f, ",
                static_cast<long long>(batch), r.samples_per_second, static_cast<long long>(batch),
                r.step_seconds * 1e6, static_cast<long long>(batch), r.median_step_seconds * 1e6,
                static_cast<long long>(batch), gemm * 1e6);
  }

  // Inference on a model with trained BN statistics.
  reset_default_names();
  Model model = seed_mlp();
  model.build(std::nullopt, 42);
  train_one_epoch(train.slice(0, 2560), 256, model);
  Tensor x10k({10000, 28, 28});
  all.gather(nullptr, 0, 10000, x10k.data(), nullptr);
  Tensor x1({1, 28, 28});
  std::copy_n(x10k.data(), 784, x1.data());
  // The folded model comes from the same trained model; both are timed the same way, in
  // alternating blocks of 500 calls, so a load change on the shared machine hits both alike.
  FoldResult folded = fold_batch_norm(model);
  // predict_into (the caller's buffer, no result Tensor) is timed in the same blocks.
  std::vector<double> t1, t1_folded, t1_into;
  std::vector<float> y1(10);
  for (int i = 0; i < 200; ++i) model.predict(x1, 1);
  for (int i = 0; i < 200; ++i) folded.model.predict(x1, 1);
  for (int i = 0; i < 200; ++i) model.predict_into(x1.values(), y1, 1);
  for (int block = 0; block < 10; ++block) {
    for (auto [m, times] : {std::pair{&model, &t1}, std::pair{&folded.model, &t1_folded}}) {
      for (int i = 0; i < 500; ++i) {
        const auto t = Clock::now();
        const Tensor y = m->predict(x1, 1);
        times->push_back(since(t));
      }
    }
    for (int i = 0; i < 500; ++i) {
      const auto t = Clock::now();
      model.predict_into(x1.values(), y1, 1);
      t1_into.push_back(since(t));
    }
  }
  // The folded model must compute the same function; a wrong fold would make its time meaningless.
  const Tensor y_ref = model.predict(x1, 1);
  const Tensor y_fold = folded.model.predict(x1, 1);
  float fold_max_abs_diff = 0.0f;
  for (int64_t i = 0; i < y_ref.size(); ++i) {
    fold_max_abs_diff = std::max(fold_max_abs_diff, std::abs(y_ref.data()[i] - y_fold.data()[i]));
  }
  // The raw inference pass (no result Tensor): what an embedding application would call.
  const double forward_b1 = median_call_seconds(0, 5000, [&] { model.forward(x1.data(), 1, Mode::kInference); });
  const double predict_b10k = median_call_seconds(1, 15, [&] { return model.predict(x10k, 10000); });
  std::printf("\"predict_b1_us\": %.3f, \"predict_b1_folded_us\": %.3f, \"bn_folded\": %zu, "
              "\"bn_kept\": %zu, \"fold_max_abs_diff\": %.3g, \"forward_b1_us\": %.3f, "
              "\"predict_into_b1_us\": %.3f, \"predict_b10000_ms\": %.3f}\n",
              median(t1) * 1e6, median(t1_folded) * 1e6, folded.folded.size(), folded.kept.size(),
              static_cast<double>(fold_max_abs_diff), forward_b1 * 1e6, median(t1_into) * 1e6,
              predict_b10k * 1e3);
  return 0;
}

}  // namespace keel::bench
