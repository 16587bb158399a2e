#include "keel/dist/communicator.h"

#include <cstdlib>
#include <memory>

#include "keel/core/error.h"
#include "mpi_world.h"

namespace keel {

void LocalCommunicator::abort(int code) const { std::exit(code); }

namespace {

// The number of ranks an MPI launcher started, or 0 when none did. Open MPI's mpirun sets
// OMPI_COMM_WORLD_SIZE; MPICH / Intel MPI (Hydra) and Slurm's srun --mpi=pmi2 set PMI_SIZE;
// PMIx launchers (srun --mpi=pmix, prrte) set PMIX_RANK (size read after MPI_Init).
int launcher_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE"}) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return std::atoi(v);
  }
  return std::getenv("PMIX_RANK") != nullptr ? 1 : 0;
}

std::unique_ptr<Communicator> make_world() {
  const int launched = launcher_size();
  if (launched == 0) return std::make_unique<LocalCommunicator>();
#ifdef KEEL_HAVE_MPI
  return dist_detail::make_mpi_world();
#else
  KEEL_CHECK(launched <= 1, "this keel was built without MPI but an MPI launcher started ",
             launched, " ranks; rebuild with MPI (scripts/install-deps.sh installs Open MPI) or ",
             "run one process");
  return std::make_unique<LocalCommunicator>();
#endif
}

}  // namespace

const Communicator& world() {
  static const std::unique_ptr<Communicator> comm = make_world();
  return *comm;
}

int ranks_on_this_node() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}) {
    if (const char* v = std::getenv(name); v != nullptr && std::atoi(v) > 0) return std::atoi(v);
  }
  return world().size();
}

bool built_with_mpi() {
#ifdef KEEL_HAVE_MPI
  return true;
#else
  return false;
#endif
}

}  // namespace keel
