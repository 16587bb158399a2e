// Private to src/dist: the MPI communicator, compiled only when CMake found MPI (KEEL_HAVE_MPI).
#pragma once

#include <memory>

#include "keel/dist/communicator.h"

namespace keel::dist_detail {

// MPI_Init (thread level FUNNELED: only the thread that calls fit talks to MPI) and COMM_WORLD;
// MPI_Finalize runs at exit.
std::unique_ptr<Communicator> make_mpi_world();

}  // namespace keel::dist_detail
