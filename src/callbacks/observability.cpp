#include "keel/callbacks/observability.h"

#include <iostream>

#include "keel/callbacks/csv_logger.h"
#include "keel/callbacks/early_stopping.h"
#include "keel/callbacks/model_checkpoint.h"
#include "keel/callbacks/reduce_lr_on_plateau.h"
#include "keel/callbacks/tensorboard.h"
#include "keel/callbacks/terminate_on_nan.h"
#include "keel/core/error.h"
#include "keel/io/checkpoint.h"
#include "keel/model/sequential.h"
#include "keel/optimizers/optimizer.h"

namespace keel {

void add_observability_callbacks(const ObservabilityOptions& o, Model& model, FitOptions& fit,
                                 std::ostream* out_ptr) {
  std::ostream& out = out_ptr ? *out_ptr : std::cout;
  KEEL_CHECK(o.grad_norm_every >= 0, "--grad-norm-every ", o.grad_norm_every,
             " is not allowed; expected an integer >= 0 (0 turns gradient norms off)");
  KEEL_CHECK(!o.early_stopping_patience || *o.early_stopping_patience >= 0, "--early-stopping ",
             o.early_stopping_patience.value_or(0), " is not allowed; expected a patience >= 0");
  const std::string monitor = fit.validation_data ? "val_loss" : "loss";

  std::vector<std::shared_ptr<Callback>> callbacks, stateful;
  if (o.terminate_on_nan) callbacks.push_back(std::make_shared<TerminateOnNaN>(&out));
  if (!o.logdir.empty())
    callbacks.push_back(std::make_shared<TensorBoard>(o.logdir, TensorBoardOptions{o.grad_norm_every, true}));
  if (!o.csv.empty()) callbacks.push_back(std::make_shared<CSVLogger>(o.csv, ",", !o.resume_dir.empty()));
  if (o.early_stopping_patience) {
    auto es = std::make_shared<EarlyStopping>(EarlyStoppingOptions{
        .monitor = monitor, .patience = *o.early_stopping_patience, .verbose = 1,
        .restore_best_weights = true, .out = &out});
    callbacks.push_back(es);
    stateful.push_back(es);
  }
  if (o.reduce_lr_on_plateau) {
    auto r = std::make_shared<ReduceLROnPlateau>(ReduceLROnPlateauOptions{.monitor = monitor, .out = &out});
    callbacks.push_back(r);
    stateful.push_back(r);
  }
  const std::string checkpoint_dir = o.checkpoint_dir.empty() ? o.resume_dir : o.checkpoint_dir;
  if (!checkpoint_dir.empty()) {
    auto mc = std::make_shared<ModelCheckpoint>(
        checkpoint_path(checkpoint_dir),
        ModelCheckpointOptions{.monitor = monitor, .seed = fit.seed, .batch_size = fit.batch_size,
                               .train_samples = o.train_samples.value_or(0)});
    mc->track(stateful);
    callbacks.push_back(mc);
    stateful.push_back(mc);
  }
  if (!o.resume_dir.empty()) {
    const auto path = checkpoint_path(o.resume_dir);
    KEEL_CHECK(std::filesystem::exists(path), "--resume ", o.resume_dir, ": no checkpoint there (",
               path.string(), " does not exist); write one with --checkpoint DIR");
    KEEL_CHECK(std::filesystem::is_regular_file(path), "--resume ", o.resume_dir, ": ", path.string(),
               " is not a regular file; expected the checkpoint file written by --checkpoint DIR");
    const Checkpoint ck = Checkpoint::load(path);
    const TrainingProgress p = restore_training_state(ck, model, stateful);
    KEEL_CHECK(p.seed == fit.seed, "--resume ", o.resume_dir, ": the checkpoint was trained with --seed ",
               p.seed, " but this run has --seed ", fit.seed, "; use the same seed to replay the same shuffling");
    KEEL_CHECK(p.batch_size == fit.batch_size, "--resume ", o.resume_dir, ": the checkpoint was trained with ",
               "--batch-size ", p.batch_size, " but this run has --batch-size ", fit.batch_size);
    KEEL_CHECK(!o.train_samples || p.train_samples == 0 || p.train_samples == *o.train_samples,
               "--resume ", o.resume_dir, ": the checkpoint was trained on ", p.train_samples,
               " samples an epoch but this run has ", o.train_samples.value_or(0),
               " (the data minus --validation); resume with the checkpoint's data and --validation");
    if (o.learning_rate) {  // compared as the optimizer holds it (float32)
      const double restored = model.optimizer().learning_rate();
      KEEL_CHECK(static_cast<float>(*o.learning_rate) == static_cast<float>(restored), "--resume ",
                 o.resume_dir, ": the checkpoint continues with learning rate ", restored,
                 " (restored with the optimizer state) but this run has --learning-rate ",
                 *o.learning_rate, "; drop --learning-rate or pass the checkpoint's value");
    }
    KEEL_CHECK(fit.epochs >= p.epoch, "--epochs ", fit.epochs, " is the final epoch number (as in Keras) ",
               "but the checkpoint in ", o.resume_dir, " already completed ", p.epoch, " epochs");
    fit.initial_epoch = p.epoch;
    out << "Resuming from " << path.string() << ": " << p.epoch << " epochs (" << p.global_step
        << " steps) done\n";
  }
  fit.callbacks.insert(fit.callbacks.end(), callbacks.begin(), callbacks.end());
}

}  // namespace keel
