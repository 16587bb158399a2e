// Data-parallel pieces of fit / evaluate (private to src/model): which rows of a global batch a
// rank computes, and keeping the ranks' replicas equal. docs/distributed.md has the semantics.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <utility>

#include "keel/dist/communicator.h"
#include "keel/model/model.h"

namespace keel {

// The rows of the global batch [first, first + count) that this rank computes: the batch cut into
// size() contiguous parts as even as possible (Keras splits a global batch across replicas the
// same way). A part may be empty when the batch has fewer rows than there are ranks.
struct RankRows {
  int64_t first = 0, count = 0;
};
RankRows rank_rows(int64_t first, int64_t count, const Communicator& comm);

// Every rank must see the same data and options, or the collectives would pair different steps
// (a hang or silent garbage). Sums each value over the ranks; if any rank differs, every rank
// throws the same keel::Error naming the value. `values`: (what, value) pairs.
void check_ranks_agree(const Communicator& comm,
                       std::initializer_list<std::pair<const char*, int64_t>> values);

// Rank 0's variables (all, trainable or not) and optimizer slots, to every rank: replicas start
// equal whatever each rank initialised or resumed from.
// A layer that synchronizes the ranks (synchronized BatchNormalization) needs rows on every rank
// in every training step: throws keel::Error (on every rank alike) when the smallest global batch
// of `what` (`samples` in batches of `batch_size`, the last one partial) has fewer rows than there
// are ranks. Allocates nothing when it passes (train_on_batch calls it every step).
void check_every_rank_has_rows(const Model& model, const Communicator& comm, const char* what,
                               int64_t samples, int64_t batch_size);

void broadcast_training_state(Model& model, Optimizer& optimizer, const Communicator& comm);

// Each rank's BN moving statistics follow its own rows (per-replica statistics). Keras keeps them
// per replica and reads their mean; because the moving-average update is linear, replacing every
// rank's copy by the mean at an epoch's end gives the same values at every later read. Summed in
// double, so values equal on every rank (frozen variables) come back unchanged.
void average_non_trainable(Model& model, const Communicator& comm);

}  // namespace keel
