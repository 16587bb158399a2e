// Data-parallel communication: the ranks of one training job (mpirun / srun processes), and the
// collectives keel's training loop and synchronized BatchNormalization use. A job of one process
// uses LocalCommunicator, whose collectives do nothing; `world()` is MPI's COMM_WORLD when keel
// was built with MPI and the process was started by an MPI launcher.
//
// Every rank must call each collective in the same order (MPI's rule); keel's fit / evaluate do.
// Reductions are deterministic for a fixed rank count: a rerun is bit-identical, but another rank
// count sums in another order (docs/distributed.md says what is exact).
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace keel {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // In place: every rank ends with the element-wise sum over the ranks.
  virtual void all_reduce_sum(std::span<float> values) const = 0;
  virtual void all_reduce_sum(std::span<double> values) const = 0;
  // In place: every rank ends with root's values.
  virtual void broadcast(std::span<float> values, int root) const = 0;
  virtual void barrier() const = 0;
  // Ends every rank of the job with exit code `code` (after `message` went to stderr): a rank that
  // failed must not leave the others waiting in a collective.
  [[noreturn]] virtual void abort(int code) const = 0;
  // "local" or "MPI (Open MPI v4.1.4, 2 ranks)", for logs and reports.
  virtual std::string description() const = 0;

  bool is_chief() const { return rank() == 0; }  // the rank that prints, logs and saves
};

// One process: rank 0 of 1; every collective leaves the values as they are.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce_sum(std::span<float>) const override {}
  void all_reduce_sum(std::span<double>) const override {}
  void broadcast(std::span<float>, int) const override {}
  void barrier() const override {}
  [[noreturn]] void abort(int code) const override;
  std::string description() const override { return "local"; }
};

// The job's communicator, created on first use: MPI COMM_WORLD (MPI_Init, MPI_Finalize at exit)
// when built with MPI and an MPI launcher started this process (Open MPI's mpirun, MPICH's
// mpiexec / Hydra, Slurm's srun with PMI or PMIx), else a LocalCommunicator. A keel built
// without MPI and started by a launcher with more than one rank fails with a clear error rather
// than training N independent copies.
const Communicator& world();

// Whether this build can run data-parallel over MPI.
bool built_with_mpi();

// How many ranks of this job share this machine, as the launcher says (Open MPI's
// OMPI_COMM_WORLD_LOCAL_SIZE, MPICH's MPI_LOCALNRANKS); world().size() when it does not say.
// Ranks split the machine's cores between them.
int ranks_on_this_node();

}  // namespace keel
