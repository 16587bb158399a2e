#include "watch_flags.h"

#include <filesystem>

#include "keel/core/error.h"
#include "keel/model/sequential.h"

namespace keel::cli {

void add_watch_flags(CLI::App& cmd, WatchFlags& f) {
  auto& o = f.options;
  cmd.add_option("--logdir", o.logdir, "write TensorBoard event files (train/, validation/) to DIR");
  cmd.add_option("--grad-norm-every", f.grad_norm_every,
                 "log gradient norms to TensorBoard every N training steps (default 100, 0: off)");
  cmd.add_option("--csv", o.csv, "log one CSV row per epoch to FILE (appended with --resume)");
  cmd.add_option("--early-stopping", o.early_stopping_patience,
                 "stop after PATIENCE epochs without val_loss improving; restore the best weights");
  cmd.add_option("--checkpoint", o.checkpoint_dir,
                 "write a full checkpoint to DIR/checkpoint.keel after every epoch");
  cmd.add_option("--resume", o.resume_dir,
                 "continue from DIR/checkpoint.keel (and keep checkpointing there); --epochs is the "
                 "final epoch number, as in Keras");
  cmd.add_flag("--reduce-lr-on-plateau", o.reduce_lr_on_plateau,
               "divide the learning rate by 10 after 10 epochs without val_loss improving");
}

void check_output_file(const std::string& flag, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  KEEL_CHECK(!fs::is_directory(path, ec), flag, " ", path, ": is a directory; expected a file name");
  const fs::path parent = fs::path(path).parent_path();
  KEEL_CHECK(parent.empty() || fs::is_directory(parent, ec), flag, " ", path, ": the directory ",
             parent.string(), " does not exist; expected a file in an existing directory");
}

void add_watch_callbacks(const WatchFlags& f, Model& model, FitOptions& fit) {
  ObservabilityOptions o = f.options;
  // Checked here, before `keel train` prints anything; the TensorBoard callback would only fail
  // when training begins, after the summary is on stdout, and ModelCheckpoint after epoch 1.
  std::error_code ec;
  KEEL_CHECK(o.logdir.empty() || !std::filesystem::exists(o.logdir, ec) ||
                 std::filesystem::is_directory(o.logdir, ec),
             "--logdir ", o.logdir, ": exists and is not a directory; expected a directory for the event files");
  KEEL_CHECK(o.checkpoint_dir.empty() || !std::filesystem::exists(o.checkpoint_dir, ec) ||
                 std::filesystem::is_directory(o.checkpoint_dir, ec),
             "--checkpoint ", o.checkpoint_dir, ": exists and is not a directory; expected a directory ",
             "for checkpoint.keel");
  if (!o.csv.empty()) check_output_file("--csv", o.csv);
  if (f.grad_norm_every) {
    KEEL_CHECK(!o.logdir.empty(), "--grad-norm-every ", *f.grad_norm_every,
               " needs --logdir DIR (gradient norms are written to TensorBoard event files)");
    o.grad_norm_every = *f.grad_norm_every;
  }
  add_observability_callbacks(o, model, fit);
}

}  // namespace keel::cli
