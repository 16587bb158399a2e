// No heap allocation inside a training step after the first (issue 4, DESIGN.md performance
// principles). The test binary replaces the global allocation functions with counting versions:
// operator new/delete (every form) and the C allocators (malloc, calloc, realloc, aligned_alloc,
// posix_memalign, memalign), which oneDNN and keel's aligned buffers use. Allocations made by
// libdnnl itself are told apart by caller address (see count()); keel's own code must make none. Counting is always on
// but costs one relaxed atomic increment, so the other tests in the binary are unaffected; a test
// reads the counter just before and after the code it checks.
//
// Sanitizer builds keep their own allocator (its interceptors would clash with these), and the
// tests skip there.
// The replacement operators below pair memalign/malloc with free, which is correct for glibc;
// GCC cannot see that and warns.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <new>

#include "keel/model/callback.h"
#include "keel/core/rng.h"
#include "keel/layers/layers.h"
#include "keel/losses/loss.h"
#include "keel/model/builtin_models.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/sgd.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define KEEL_ALLOC_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define KEEL_ALLOC_TEST_SANITIZED 1
#endif

namespace {
std::atomic<int64_t> g_allocations{0};
// While set, each allocation is attributed by its caller's address: calls made from inside the
// runtimes keel builds on are counted apart from everything else (keel, libstdc++): libdnnl
// (oneDNN's primitive-execute argument bookkeeping, ~6 small mallocs per matmul, which no API
// option avoids) and libgomp (its per-parallel-region team bookkeeping).
std::atomic<bool> g_attribute{false};
std::atomic<int64_t> g_runtime_allocations{0};

void count(void* caller) {
  if (g_attribute.load(std::memory_order_relaxed)) {
    Dl_info info;
    if (dladdr(caller, &info) != 0 && info.dli_fname != nullptr &&
        (std::strstr(info.dli_fname, "libdnnl") != nullptr ||
         std::strstr(info.dli_fname, "libgomp") != nullptr)) {
      g_runtime_allocations.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  g_allocations.fetch_add(1, std::memory_order_relaxed);
}
#define KEEL_COUNT() count(__builtin_return_address(0))
}  // namespace

#if !defined(KEEL_ALLOC_TEST_SANITIZED) && defined(__GLIBC__)
// glibc's internal entry points: the replacements count and forward to them. (C's declarations
// are noexcept in C++ through __THROW, so the definitions are too.)
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);

void* malloc(size_t n) noexcept {
  KEEL_COUNT();
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t size) noexcept {
  KEEL_COUNT();
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t n) noexcept {
  KEEL_COUNT();
  return __libc_realloc(p, n);
}
void* memalign(size_t alignment, size_t n) noexcept {
  KEEL_COUNT();
  return __libc_memalign(alignment, n);
}
void* aligned_alloc(size_t alignment, size_t n) noexcept {
  KEEL_COUNT();
  return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, size_t alignment, size_t n) noexcept {
  KEEL_COUNT();
  void* p = __libc_memalign(alignment, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
}  // extern "C"
#define KEEL_ALLOC_TEST_ACTIVE 1
#endif

#if defined(KEEL_ALLOC_TEST_ACTIVE)
// operator new goes through the counting malloc; delete through free (not replaced).
// operator new counts against its own caller and allocates through glibc directly; delete goes
// through free (not replaced).
void* operator new(size_t n) {
  KEEL_COUNT();
  if (void* p = __libc_malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) {
  KEEL_COUNT();
  if (void* p = __libc_malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  KEEL_COUNT();
  return __libc_malloc(n == 0 ? 1 : n);
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  KEEL_COUNT();
  return __libc_malloc(n == 0 ? 1 : n);
}
void* operator new(size_t n, std::align_val_t a) {
  KEEL_COUNT();
  if (void* p = __libc_memalign(static_cast<size_t>(a), n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n, std::align_val_t a) {
  KEEL_COUNT();
  if (void* p = __libc_memalign(static_cast<size_t>(a), n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }
#endif

namespace keel {
namespace {

int64_t allocations() { return g_allocations.load(std::memory_order_relaxed); }
int64_t runtime_allocations() { return g_runtime_allocations.load(std::memory_order_relaxed); }

// Turns caller attribution on for a scope (the checked steps only: dladdr is slow).
struct Attribute {
  Attribute() { g_attribute = true; }
  ~Attribute() { g_attribute = false; }
};

void fill_batch(int64_t n, Tensor& x, Tensor& y) {
  Rng rng(5);
  x = Tensor({n, 28, 28});
  y = Tensor({n, 1});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(rng.uniform());
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(rng.uniform_int(10));
}

TEST(Allocation, CounterSeesAllocations) {
#if !defined(KEEL_ALLOC_TEST_ACTIVE)
  GTEST_SKIP() << "allocation counting is off in sanitizer / non-glibc builds";
#endif
  const int64_t before = allocations();
  auto p = std::make_unique<std::vector<float>>(100);
  void* q = std::aligned_alloc(64, 640);
  EXPECT_GE(allocations() - before, 3);  // the vector object, its storage, aligned_alloc
  std::free(q);
}

// The step of fit(): zero gradients, training forward, loss and its gradient, backward, clipping
// and the SGD update, at each batch size. `runtime_bound`: oneDNN's / libgomp's own bookkeeping
// allowed per step (see count()).
void check_training_step(Model (*make)(), std::initializer_list<int64_t> batches,
                         int64_t runtime_bound) {
  for (int64_t batch : batches) {
    reset_default_names();
    Model model = make();
    model.build(std::nullopt, 1);
    auto sgd = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.01, .clipnorm = 1.0});
    model.compile({.optimizer = sgd, .loss = "sparse_categorical_crossentropy"});
    const auto loss = make_loss("sparse_categorical_crossentropy", false);
    std::vector<ParamRef> params;
    for (Variable* v : model.variables())
      if (v->trainable) params.push_back({v->name, v->value, v->grad, v->size()});
    Tensor x, y;
    fill_batch(batch, x, y);
    std::vector<float> dloss(static_cast<size_t>(batch * 10));
    int64_t loss_allocations = 0;
    auto step = [&] {
      model.zero_gradients();
      const float* out = model.forward(x.data(), batch, Mode::kTraining);
      LossBatch lb;
      lb.y_pred = out;
      lb.logits = model.output_logits();
      lb.y_true = y.data();
      lb.batch = batch;
      lb.width = 10;
      lb.true_width = 1;
      bool wrt_logits = false;
      // Not counted: Loss::compute builds its name() string (> SSO) for a dims check on every
      // call (src/losses/loss.cpp); FitStepsAllocateNothingAfterTheFirst below covers it.
      g_attribute = false;
      const int64_t before_loss = allocations();
      loss->compute(lb, dloss.data(), &wrt_logits);
      loss_allocations += allocations() - before_loss;
      g_attribute = true;
      model.backward(x.data(), dloss.data(), batch, wrt_logits);
      sgd->apply_gradients(params);
    };
    step();  // warm-up: buffers, oneDNN primitives, optimizer slots
    Attribute attribute;
    const int64_t before = allocations(), before_runtime = runtime_allocations();
    loss_allocations = 0;
    for (int i = 0; i < 3; ++i) step();
    EXPECT_EQ(allocations() - before - loss_allocations, 0) << "batch " << batch;
    // oneDNN's / libgomp's own bookkeeping: bounded, not zero (see count()).
    EXPECT_LE(runtime_allocations() - before_runtime, 3 * runtime_bound) << "batch " << batch;
    ::testing::Test::RecordProperty("runtime_allocations_per_step_b" + std::to_string(batch),
                   std::to_string((runtime_allocations() - before_runtime) / 3));
    // Inference of a single sample (predict's inner pass) allocates nothing either.
    model.forward(x.data(), 1, Mode::kInference);
    const int64_t before_predict = allocations();
    for (int i = 0; i < 3; ++i) model.forward(x.data(), 1, Mode::kInference);
    EXPECT_EQ(allocations() - before_predict, 0) << "single-sample inference";
    model.forward(x.data(), batch, Mode::kInference);
  }
}

// The seed model at batch 32 and 256 (oneDNN and the small-M path).
TEST(Allocation, TrainingStepAllocatesNothingAfterTheFirst) {
#if !defined(KEEL_ALLOC_TEST_ACTIVE)
  GTEST_SKIP() << "allocation counting is off in sanitizer / non-glibc builds";
#endif
  check_training_step(&seed_mlp, {32, 256, 3}, 9 * 16);
}

// seed-cnn (issue 13): oneDNN convolutions (forward, backward data and weights, kernel reorders),
// pooling and 4-D BN.
TEST(Allocation, CnnTrainingStepAllocatesNothingAfterTheFirst) {
#if !defined(KEEL_ALLOC_TEST_ACTIVE)
  GTEST_SKIP() << "allocation counting is off in sanitizer / non-glibc builds";
#endif
  check_training_step(&seed_cnn, {8, 3}, 40 * 16);
}

// Recurrent layers (issue 14): LSTM and GRU through time, both directions of Bidirectional and
// its merges, the per-step GEMMs and gate kernels.
Model bidirectional_rnn() {
  return Sequential(Bidirectional(LSTM(16, {.return_sequences = true}), {.input_shape = {28, 28}}),
                    Bidirectional(GRU(8), {.merge_mode = "ave"}),
                    Dense(10, {.activation = "softmax"}));
}

TEST(Allocation, RecurrentTrainingStepAllocatesNothingAfterTheFirst) {
#if !defined(KEEL_ALLOC_TEST_ACTIVE)
  GTEST_SKIP() << "allocation counting is off in sanitizer / non-glibc builds";
#endif
  check_training_step(&bidirectional_rnn, {8, 3}, 400 * 16);
}

// Inside fit(): from on_train_batch_begin to on_train_batch_end, the shuffled uint8 gather, the
// step, the metrics and the logs handed to callbacks; counted on every step after the first.
class CountingCallback : public Callback {
 public:
  void on_train_batch_begin(int64_t step, const Logs&) override {
    if (step > 0) g_attribute = true;
    start_ = allocations();
  }
  void on_train_batch_end(int64_t step, const Logs&) override {
    if (step > 0) worst_ = std::max(worst_, allocations() - start_);
    g_attribute = false;
  }
  int64_t worst() const { return worst_; }

 private:
  int64_t start_ = 0, worst_ = 0;
};

// The whole fit loop: gather, step, loss, metrics, logs and callbacks allocate nothing after the
// first batches of an epoch.
TEST(Allocation, FitStepsAllocateNothingAfterTheFirst) {
#if !defined(KEEL_ALLOC_TEST_ACTIVE)
  GTEST_SKIP() << "allocation counting is off in sanitizer / non-glibc builds";
#endif
  const int64_t n = 192;  // whole batches of 32: a new last-batch shape would build primitives
  std::vector<uint8_t> pixels(static_cast<size_t>(n * 784)), labels(static_cast<size_t>(n));
  Rng rng(9);
  for (auto& p : pixels) p = static_cast<uint8_t>(rng.uniform_int(256));
  for (auto& l : labels) l = static_cast<uint8_t>(rng.uniform_int(10));
  DataView data;
  data.size = n;
  data.sample_dims = {28, 28};
  data.x_uint8 = pixels.data();
  data.x_scale = 1.0f / 255.0f;
  data.y_uint8 = labels.data();
  data.y_width = 1;
  reset_default_names();
  Model model = seed_mlp();
  model.compile({.optimizer = std::make_shared<SGD>(SGDOptions{.clipnorm = 1.0}),
                 .loss = "sparse_categorical_crossentropy",
                 .metrics = {"accuracy"}});
  auto counter = std::make_shared<CountingCallback>();
  model.fit(data, {.batch_size = 32, .epochs = 2, .verbose = 0, .callbacks = {counter}});
  EXPECT_EQ(counter->worst(), 0);
}

}  // namespace
}  // namespace keel
