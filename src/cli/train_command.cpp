// keel train [MODEL] [flags]: the main job. Prints the summary, the Keras epochs, the test-set
// evaluate line and a last line with wall time and training throughput.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "class_ids.h"
#include "commands.h"
#include "watch_flags.h"
#include "keel/callbacks/terminate_on_nan.h"
#include "keel/core/error.h"
#include "keel/dist/communicator.h"
#include "keel/io/atomic_file.h"
#include "keel/io/fashion_mnist.h"
#include "keel/io/saved_model.h"
#include "keel/io/npy_data.h"
#include "keel/io/sequence_tasks.h"
#include "keel/kernels/threads.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/optimizer.h"
#include "model_arg.h"

namespace keel::cli {

namespace {

// Sizes of a generated sequence task's sets (--data adding:T, temporal-order:T): the paper
// evaluates on 10,000 fresh sequences.
constexpr int64_t kSequenceTrainCount = 20000;
constexpr int64_t kSequenceTestCount = 10000;

// The largest --threads: libgomp sizes a team's start-up bookkeeping on the stack (alloca), so
// --threads 100000 overflowed the 8 MB main stack (SIGSEGV) and --threads 1000 already failed
// thread creation under a memory limit. 1024 is more hardware threads than any single machine
// keel runs on has, and well inside what libgomp and oneDNN handle.
constexpr int kMaxThreads = 1024;

struct TrainFlags {
  ModelFlags model;  // MODEL, --blocks, --fixup
  std::string data = "fashion-mnist";
  int64_t epochs = 10;
  int64_t batch_size = 32;
  std::string optimizer = "sgd";
  std::optional<double> learning_rate, momentum, clipvalue, clipnorm, global_clipnorm, agc;
  bool nesterov = false;
  std::string loss;  // empty: mse for --data adding:T, else sparse_categorical_crossentropy
  int64_t validation = 5000;
  bool no_shuffle = false;
  bool shuffle_flag = false;  // --shuffle: the default, accepted for symmetry
  uint64_t seed = 42;
  int threads = 0;
  int verbose = 1;
  std::string on_nonfinite = "error";
  std::string report;
  std::string save;  // --save DIR: the trained model as a TF.js Layers model (keel/io/saved_model.h)
  WatchFlags watch;  // --logdir, --csv, --early-stopping, --checkpoint, --resume, ...
};

void check_positive_finite(const std::optional<double>& value, const char* flag) {
  if (!value) return;
  KEEL_CHECK(std::isfinite(*value) && *value > 0, flag, " ", *value,
             " is not allowed; expected a finite number > 0");
}

nlohmann::json optimizer_config(const TrainFlags& f) {
  nlohmann::json config = nlohmann::json::object();
  check_positive_finite(f.learning_rate, "--learning-rate");
  check_positive_finite(f.clipvalue, "--clipvalue");
  check_positive_finite(f.clipnorm, "--clipnorm");
  check_positive_finite(f.global_clipnorm, "--global-clipnorm");
  check_positive_finite(f.agc, "--agc");
  if (f.learning_rate) config["learning_rate"] = *f.learning_rate;
  if (f.momentum) {
    KEEL_CHECK(f.optimizer == "sgd" || f.optimizer == "rmsprop", "--momentum applies to sgd and ",
               "rmsprop only, not --optimizer ", f.optimizer);
    KEEL_CHECK(std::isfinite(*f.momentum) && *f.momentum >= 0 && *f.momentum <= 1, "--momentum ",
               *f.momentum, " is not allowed; expected a number in [0, 1]");
    config["momentum"] = *f.momentum;
  }
  if (f.nesterov) {
    KEEL_CHECK(f.optimizer == "sgd", "--nesterov applies to --optimizer sgd only, not ", f.optimizer);
    config["nesterov"] = true;
  }
  if (f.clipvalue) config["clipvalue"] = *f.clipvalue;
  if (f.clipnorm) config["clipnorm"] = *f.clipnorm;
  if (f.global_clipnorm) config["global_clipnorm"] = *f.global_clipnorm;
  if (f.agc) config["agc"] = *f.agc;
  config["on_nonfinite"] = f.on_nonfinite;
  return config;
}

// The median of the steps' wall times: robust to the first steps' warm-up and to the other
// processes of a shared machine, unlike the mean behind train_samples_per_second.
double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  const auto mid = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), mid, values.end());
  if (values.size() % 2 == 1) return *mid;
  return 0.5 * (*mid + *std::max_element(values.begin(), mid));
}

nlohmann::json history_json(const History& history) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, values] : history.history) out[key] = values;
  return out;
}

// Threads per rank when --threads is not given in a data-parallel job: the machine's cores split
// between the ranks on it (2 ranks on 2 cores: 1 each), not every rank on every core.
int default_threads_per_rank() {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / ranks_on_this_node());
}

// True when `inner` is `outer` or lies inside it, after resolving both (".", "..", symlinks of
// the parts that exist).
bool is_within(const std::filesystem::path& inner, const std::filesystem::path& outer) {
  std::error_code ec;
  const auto in = std::filesystem::weakly_canonical(std::filesystem::absolute(inner), ec);
  const auto out = std::filesystem::weakly_canonical(std::filesystem::absolute(outer), ec);
  auto i = in.begin();
  for (auto o = out.begin(); o != out.end(); ++o, ++i) {
    if (o->empty()) continue;  // the empty last part of a trailing slash
    if (i == in.end() || *i != *o) return false;
  }
  return true;
}

// --save DIR replaces DIR with the trained model and refuses a directory holding anything else,
// so event files, a CSV log or a checkpoint written into DIR during training would make the
// final save fail and lose the model: refuse the combination before training.
void check_save_is_separate(const TrainFlags& f) {
  if (f.save.empty()) return;
  const ObservabilityOptions& o = f.watch.options;
  const std::string checkpoint = o.checkpoint_dir.empty() ? o.resume_dir : o.checkpoint_dir;
  const std::pair<const char*, const std::string*> writers[] = {
      {"--logdir", &o.logdir}, {"--csv", &o.csv},
      {o.checkpoint_dir.empty() ? "--resume" : "--checkpoint", &checkpoint}};
  for (const auto& [flag, path] : writers) {
    KEEL_CHECK(path->empty() || !is_within(*path, f.save), "--save ", f.save, " and ", flag, " ",
               *path, ": ", flag, " would write into the directory --save replaces with the "
               "trained model, which --save then refuses; expected separate paths");
  }
}

// Why the run diverged (TerminateOnNaN stopped it, or --on-nonfinite ignore let inf / nan into the
// weights), or empty when it did not. Such a model is not worth keeping: --save fails rather
// than replace a model with it (load_model would refuse it anyway).
std::string divergence(const Model& model, const FitOptions& fit) {
  bool terminated = false;
  for (const auto& callback : fit.callbacks) {
    if (const auto* t = dynamic_cast<const TerminateOnNaN*>(callback.get())) terminated |= t->terminated();
  }
  std::string bad_weight;
  for (const Variable* v : model.variables()) {
    for (int64_t i = 0; i < v->size() && bad_weight.empty(); ++i) {
      if (!std::isfinite(v->value[i]))
        bad_weight = "weight '" + without_output_index(v->name) + "' element " + std::to_string(i) +
                     " is " + std::to_string(v->value[i]);
    }
  }
  if (terminated) return "the loss became non-finite and TerminateOnNaN stopped it";
  return bad_weight;
}

int run_train(const TrainFlags& f) {
  const auto wall_start = std::chrono::steady_clock::now();
  KEEL_CHECK(f.epochs >= 1, "--epochs ", f.epochs, " is not allowed; expected an integer >= 1");
  KEEL_CHECK(f.batch_size >= 1, "--batch-size ", f.batch_size,
             " is not allowed; expected an integer >= 1");
  KEEL_CHECK(f.threads >= 0 && f.threads <= kMaxThreads, "--threads ", f.threads,
             " is not allowed; expected 1..", kMaxThreads, " (0: all cores)");
  // Data-parallel under mpirun / srun (docs/distributed.md): every rank trains on its rows of each
  // global batch; only rank 0 prints and writes.
  check_save_is_separate(f);
  if (!f.report.empty()) check_output_file("--report", f.report);
  const Communicator& comm = world();
  const bool chief = comm.is_chief();
  // Only rank 0 prints: the other ranks' messages (EarlyStopping, "Resuming from ...") would repeat
  // rank 0's, so their std::cout is silenced. Errors still go to std::cerr from every rank.
  if (!chief) std::cout.setstate(std::ios::badbit);
  if (f.threads > 0) {
    set_num_threads(f.threads);
  } else if (comm.size() > 1) {
    set_default_num_threads(default_threads_per_rank());
  }

  // --data: Fashion-MNIST (a directory of IDX files), one of Pascanu et al.'s sequence tasks, or
  // NumPy arrays.
  const std::optional<SequenceTaskSpec> task = parse_sequence_task(f.data);
  const auto npy_paths = task ? std::nullopt : parse_npy_data(f.data);
  NpyData arrays;
  if (npy_paths) arrays = load_npy_data(*npy_paths);  // before the model: its timesteps may come from x
  ModelFlags model_flags = f.model;
  if (task) model_flags.timesteps = task->timesteps;
  if (npy_paths && arrays.train_x.rank() == 3) model_flags.timesteps = arrays.train_x.dim(1);
  Model model = load_model_arg(model_flags, f.seed);
  const auto optimizer = std::shared_ptr<Optimizer>(make_optimizer(f.optimizer, optimizer_config(f)));
  const std::string loss = !f.loss.empty() ? f.loss
                           : task && task->task == SequenceTask::kAdding ? "mse"
                                                                        : "sparse_categorical_crossentropy";
  // Accuracy is reported for classification losses only (the adding task and mse on arrays are
  // regressions).
  const bool regression = loss.find("crossentropy") == std::string::npos;
  model.compile({.optimizer = optimizer,
                 .loss = loss,
                 .metrics = regression ? std::vector<std::string>{} : std::vector<std::string>{"accuracy"}});

  FashionMnist images;
  SequenceTaskData sequences;
  DataView all, test;
  std::string source, train_labels, test_labels;  // label files, for check_class_ids
  if (task) {
    sequences = make_sequence_task(*task, kSequenceTrainCount, kSequenceTestCount, f.seed);
    all = sequence_task_view(sequences, true);
    test = sequence_task_view(sequences, false);
    source = f.data + " (generated from --seed)";
  } else if (npy_paths) {
    all = npy_data_view(arrays, true);
    test = npy_data_view(arrays, false);
    source = f.data;
    train_labels = (*npy_paths)[1], test_labels = (*npy_paths)[3];
  } else {
    const std::filesystem::path dir =
        f.data == "fashion-mnist" ? default_fashion_mnist_dir() : std::filesystem::path(f.data);
    images = load_fashion_mnist(dir);
    all = fashion_mnist_view(images, FashionMnistSplit::kTrain);
    test = fashion_mnist_view(images, FashionMnistSplit::kTest);
    source = dir.string();
    train_labels = fashion_mnist_labels_file(dir, "train");
    test_labels = fashion_mnist_labels_file(dir, "t10k");
  }
  KEEL_CHECK(f.validation >= 0 && f.validation < all.size, "--validation ", f.validation,
             " is not allowed; expected 0 <= N < ", all.size, " (the number of training samples in ",
             source, ")");
  // The last N training samples are held out for validation (Keras's validation_split).
  const int64_t train_count = all.size - f.validation;
  // The samples must fit the model; checked here, before the summary is printed.
  if (model.built() && model.num_inputs() == 1) {
    const Shape& input = model.tensors()[size_t(model.input_tensors()[0])].shape;
    KEEL_CHECK(all.x_width() == input.sample_size(), "--data ", source, ": samples of shape ",
               Shape::batched(all.sample_dims).to_string(), " do not fit model '", model.name(),
               "', whose input is ", input.to_string());
  }
  KEEL_CHECK(model.num_inputs() == 1 && model.num_outputs() == 1, "MODEL ", f.model.model,
             ": keel train takes models with one input and one output so far; model '",
             model.name(), "' has ", model.num_inputs(), " inputs and ", model.num_outputs(), " outputs");
  if (model.built() && !task) {
    check_targets(model, loss, all, train_labels);
    check_targets(model, loss, test, test_labels);
  }

  FitOptions fit;
  fit.batch_size = f.batch_size;
  fit.epochs = f.epochs;
  fit.verbose = f.verbose;
  fit.shuffle = !f.no_shuffle;
  fit.seed = f.seed;
  if (f.validation > 0) fit.validation_data = all.slice(train_count, all.size);
  WatchFlags watch = f.watch;
  watch.options.learning_rate = f.learning_rate;  // checked against a --resume checkpoint's
  watch.options.train_samples = train_count;      // recorded in checkpoints, and checked
  add_watch_callbacks(watch, model, fit);
  if (!f.save.empty()) check_save_target(f.save);  // fail now, not after an hour of training
  // Printed only once every input (data, --resume checkpoint, --logdir) has been checked: a
  // failed run must not leave a summary on stdout that looks like the start of a result.
  if (f.verbose > 0 && chief) std::cout << model.summary();
  const History history = model.fit(all.slice(0, train_count), fit);
  const std::string diverged = divergence(model, fit);
  const Logs test_logs = model.evaluate(test, {.batch_size = f.batch_size, .verbose = f.verbose});

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  const double samples_per_second =
      history.train_seconds > 0 ? static_cast<double>(history.train_samples) / history.train_seconds : 0.0;
  // Pascanu et al.'s criterion on the test set: the fraction of sequences that fail.
  std::optional<double> task_error;
  if (task) {
    const Tensor predictions = model.predict(test, {.batch_size = f.batch_size});
    task_error = sequence_task_error(sequences, predictions.data());
  }
  if (f.verbose > 0 && chief) {
    std::printf("Test: loss %.4f", *test_logs.get("loss"));
    if (const auto accuracy = test_logs.get("accuracy")) std::printf(" - accuracy %.4f", *accuracy);
    if (task_error) {
      std::printf(" - failed sequences %.2f%% (%s; solved at 0)", 100.0 * *task_error,
                  task->task == SequenceTask::kAdding ? "squared error > 0.04" : "wrong class");
    }
    std::printf(" | wall time %.1fs | training %.0f samples/s\n", seconds, samples_per_second);
  }
  if (!chief) return 0;
  if (!f.report.empty()) {  // before --save: a diverged run's report is the record of what happened
    nlohmann::json report;
    report["model"] = f.model.model;
    report["epochs"] = static_cast<int64_t>(history.epoch.size());
    report["batch_size"] = f.batch_size;
    report["history"] = history_json(history);
    report["test_loss"] = *test_logs.get("loss");
    if (const auto accuracy = test_logs.get("accuracy")) report["test_accuracy"] = *accuracy;
    if (task_error) report["test_failed_fraction"] = *task_error;
    report["train_samples_per_second"] = samples_per_second;
    report["train_seconds"] = history.train_seconds;
    report["seconds"] = seconds;
    report["median_step_seconds"] = median(history.step_seconds);
    report["allreduce_seconds_per_step"] =
        history.step_seconds.empty() ? 0.0 : history.allreduce_seconds / double(history.step_seconds.size());
    if (f.model.blocks) report["blocks"] = *f.model.blocks;
    report["fixup"] = f.model.fixup;
    report["synchronized_bn"] = f.model.synchronized_bn;
    report["optimizer"] = model.optimizer().get_config();
    report["optimizer_class"] = model.optimizer().class_name();
    report["seed"] = f.seed;
    report["ranks"] = comm.size();
    report["threads_per_rank"] = num_threads();
    report["lowest_threads_per_rank"] = history.lowest_threads;
    report["thread_changes"] = history.thread_changes;
    write_file_atomically(f.report, report.dump(2) + "\n");
  }
  if (!f.save.empty()) {
    KEEL_CHECK(diverged.empty(), "training diverged (", diverged, "); the model was not saved to ",
               f.save, " (it keeps what it held)", f.report.empty() ? "" : "; the --report was written",
               "; expected finite losses (try a lower --learning-rate or --clipnorm)");
    save_model(model, f.save);
  }
  return 0;
}

}  // namespace

Handler add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a model on Fashion-MNIST (the seed's main job)");
  auto f = std::make_shared<TrainFlags>();
  add_model_flags(*cmd, f->model);
  cmd->add_option("--data", f->data,
                  "fashion-mnist (default: Debian's dataset-fashion-mnist), a directory with the "
                  "four Fashion-MNIST IDX files, or a generated sequence task of Pascanu et al. "
                  "2013: adding:T or temporal-order:T (T timesteps; 20,000 training and 10,000 "
                  "test sequences from --seed), or NumPy arrays: "
                  "npy:X_TRAIN.npy,Y_TRAIN.npy,X_TEST.npy,Y_TEST.npy (x (N, ...), e.g. sequences "
                  "(N, T, F); y (N,) class ids or (N, k) targets, used as given: uint8 is not scaled)");
  cmd->add_option("--epochs", f->epochs, "number of epochs (default 10)");
  cmd->add_option("--batch-size", f->batch_size, "samples per step (default 32)");
  cmd->add_option("--optimizer", f->optimizer, "sgd (default), adam, adamw, nadam, rmsprop, adagrad")
      ->check(CLI::IsMember({"sgd", "adam", "adamw", "nadam", "rmsprop", "adagrad"}));
  cmd->add_option("--learning-rate", f->learning_rate, "learning rate (Keras default per optimizer)");
  cmd->add_option("--momentum", f->momentum, "SGD / RMSprop momentum in [0, 1]");
  cmd->add_flag("--nesterov", f->nesterov, "Nesterov momentum (SGD)");
  auto* clipvalue = cmd->add_option("--clipvalue", f->clipvalue, "clip each gradient element to [-V, V]");
  auto* clipnorm = cmd->add_option("--clipnorm", f->clipnorm, "clip each variable's gradient to L2 norm V");
  auto* global = cmd->add_option("--global-clipnorm", f->global_clipnorm,
                                 "clip all gradients together to global L2 norm V");
  clipvalue->excludes(clipnorm)->excludes(global);
  clipnorm->excludes(global);
  // AGC runs first and combines with any of the three (docs/clipping.md).
  cmd->add_option("--agc", f->agc,
                  "adaptive gradient clipping (NFNets): cap each output unit's gradient norm at "
                  "L x its weight norm; runs before the --clip* rule");
  cmd->add_option("--on-nonfinite", f->on_nonfinite,
                  "non-finite gradients: error (default), skip_step or ignore")
      ->check(CLI::IsMember({"error", "skip_step", "ignore"}));
  cmd->add_option("--loss", f->loss,
                  "Keras loss name (default sparse_categorical_crossentropy; mse for adding:T)");
  cmd->add_option("--validation", f->validation,
                  "hold out the last N training images for validation (default 5000)");
  auto* shuffle = cmd->add_flag("--shuffle", f->shuffle_flag, "shuffle every epoch (the default)");
  auto* no_shuffle = cmd->add_flag("--no-shuffle", f->no_shuffle, "keep the file order");
  shuffle->excludes(no_shuffle);
  // Decimal, and "-1" rejected rather than wrapped to 2^64 - 1: require_decimal_integers (main).
  cmd->add_option("--seed", f->seed, "seed for initialisation and shuffling (default 42)");
  cmd->add_option("--threads", f->threads, "threads, fixed (default: all cores, fewer while other processes keep cores busy; docs/threads.md)");
  cmd->add_option("--verbose", f->verbose, "0 silent, 1 progress bar (default), 2 one line per epoch")
      ->check(CLI::Range(0, 2));
  cmd->add_option("--report", f->report, "write a JSON report (history, test metrics, throughput)");
  cmd->add_option("--save", f->save, "save the trained model to directory DIR (TF.js Layers format)");
  add_watch_flags(*cmd, f->watch);
  return [f] { return run_train(*f); };
}

}  // namespace keel::cli
