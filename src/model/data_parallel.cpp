#include "data_parallel.h"

#include <algorithm>
#include <vector>

#include "keel/core/error.h"
#include "keel/optimizers/optimizer.h"

namespace keel {

RankRows rank_rows(int64_t first, int64_t count, const Communicator& comm) {
  const int64_t r = comm.rank(), size = comm.size();
  if (size == 1) return {first, count};
  const int64_t begin = count * r / size, end = count * (r + 1) / size;
  return {first + begin, end - begin};
}

void check_ranks_agree(const Communicator& comm,
                       std::initializer_list<std::pair<const char*, int64_t>> values) {
  if (comm.size() == 1) return;
  // Sum and sum of squares: equal values on every rank iff sum² == size · Σ squares.
  std::vector<double> sums;
  for (const auto& v : values) {
    const auto x = static_cast<double>(v.second);
    sums.push_back(x);
    sums.push_back(x * x);
  }
  comm.all_reduce_sum(sums);
  size_t i = 0;
  for (const auto& [what, value] : values) {
    const double sum = sums[i], squares = sums[i + 1];
    i += 2;
    KEEL_CHECK(sum * sum == static_cast<double>(comm.size()) * squares, "data-parallel training: ",
               what, " differs between the ", comm.size(), " ranks (rank ", comm.rank(), " has ",
               value, ", the mean over the ranks is ", sum / comm.size(),
               "); every rank must read the same data with the same options");
  }
}

void check_every_rank_has_rows(const Model& model, const Communicator& comm, const char* what,
                               int64_t samples, int64_t batch_size) {
  const int64_t smallest_batch =
      samples % batch_size != 0 ? samples % batch_size : std::min(batch_size, samples);
  if (comm.size() == 1 || smallest_batch >= comm.size()) return;
  for (const auto& layer : model.layers()) {
    KEEL_CHECK(!layer->synchronizes_ranks(), "data-parallel training: ", what, " (", samples,
               " samples, batch size ", batch_size, ") has a batch of ", smallest_batch,
               " samples for ", comm.size(), " ranks, but layer '", layer->name(),
               "' of model '", model.name(), "' (", layer->class_name(),
               ", synchronized) needs at least one sample on every rank in every step; choose a "
               "batch size that leaves no batch smaller than ", comm.size());
  }
}

void broadcast_training_state(Model& model, Optimizer& optimizer, const Communicator& comm) {
  if (comm.size() == 1) return;
  comm.broadcast(model.parameter_arena(), 0);
  for (auto& [name, slot] : optimizer.slots()) comm.broadcast(slot, 0);
}

void average_non_trainable(Model& model, const Communicator& comm) {
  if (comm.size() == 1) return;
  std::vector<Variable*> state;
  std::vector<double> sums;
  for (Variable* v : model.variables()) {
    if (v->trainable) continue;
    state.push_back(v);
    sums.insert(sums.end(), v->value, v->value + v->size());
  }
  if (state.empty()) return;
  comm.all_reduce_sum(sums);
  const double ranks = comm.size();
  size_t k = 0;
  for (Variable* v : state)
    for (int64_t i = 0; i < v->size(); ++i) v->value[i] = static_cast<float>(sums[k++] / ranks);
}

}  // namespace keel
