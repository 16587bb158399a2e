// The MPI communicator over COMM_WORLD (compiled when CMake finds MPI).
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "keel/core/error.h"
#include "mpi_world.h"

namespace keel::dist_detail {

namespace {

void check(int status, const char* what) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  KEEL_FAIL("MPI: ", what, " failed: ", std::string(text, static_cast<size_t>(length)));
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      std::atexit(finalize);
    }
    // Errors come back as codes (then a keel::Error), not MPI's default abort without context.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    library_ = std::string(version, static_cast<size_t>(length));
    if (const auto comma = library_.find(','); comma != std::string::npos) library_.resize(comma);
    while (!library_.empty() && (library_.back() == '\n' || library_.back() == ' ')) library_.pop_back();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_reduce_sum(std::span<float> values) const override {
    reduce(values.data(), values.size(), MPI_FLOAT);
  }
  void all_reduce_sum(std::span<double> values) const override {
    reduce(values.data(), values.size(), MPI_DOUBLE);
  }
  void broadcast(std::span<float> values, int root) const override {
    for (size_t done = 0; done < values.size();) {
      const int n = chunk(values.size() - done);
      check(MPI_Bcast(values.data() + done, n, MPI_FLOAT, root, MPI_COMM_WORLD), "MPI_Bcast");
      done += static_cast<size_t>(n);
    }
  }
  void barrier() const override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  [[noreturn]] void abort(int code) const override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }
  std::string description() const override {
    return "MPI (" + library_ + ", " + std::to_string(size_) + " ranks)";
  }

 private:
  static void finalize() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
  // MPI counts are int: split larger spans.
  static int chunk(size_t left) { return static_cast<int>(std::min<size_t>(left, 1u << 30)); }
  void reduce(void* data, size_t count, MPI_Datatype type) const {
    int type_size = 0;
    MPI_Type_size(type, &type_size);
    auto* bytes = static_cast<char*>(data);
    for (size_t done = 0; done < count;) {
      const int n = chunk(count - done);
      check(MPI_Allreduce(MPI_IN_PLACE, bytes + done * size_t(type_size), n, type, MPI_SUM,
                          MPI_COMM_WORLD),
            "MPI_Allreduce");
      done += static_cast<size_t>(n);
    }
  }

  int rank_ = 0, size_ = 1;
  std::string library_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_world() { return std::make_unique<MpiCommunicator>(); }

}  // namespace keel::dist_detail
