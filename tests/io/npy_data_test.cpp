// `keel train --data npy:X_TRAIN,Y_TRAIN,X_TEST,Y_TEST` (keel/io/npy_data.h): the four arrays are
// read as given and every mismatch is an error naming the file and the shapes.
#include "keel/io/npy_data.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "keel/core/error.h"
#include "keel/io/npy.h"

namespace keel {
namespace {

namespace fs = std::filesystem;

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

Tensor iota(std::vector<int64_t> dims) {
  Tensor t(dims);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(i);
  return t;
}

TEST(NpyData, ParsesFourPathsAndRefusesOthers) {
  EXPECT_FALSE(parse_npy_data("fashion-mnist"));
  EXPECT_FALSE(parse_npy_data("adding:50"));
  const auto p = parse_npy_data("npy:a.npy,b.npy,c d.npy,/x/e.npy");
  ASSERT_TRUE(p);
  EXPECT_EQ((*p)[2], "c d.npy");
  EXPECT_EQ((*p)[3], "/x/e.npy");
  for (const char* bad : {"npy:a.npy,b.npy", "npy:a,b,c,d,e", "npy:a,,c,d", "npy:"}) {
    EXPECT_NE(message_of([&] { parse_npy_data(bad); }).find("four paths"), std::string::npos)
        << bad;
  }
}

TEST(NpyData, LoadsSequencesAsGivenAndNamesTheFileOfAMismatch) {
  const fs::path dir = fs::temp_directory_path() / ("keel_npy_data_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto path = [&](const char* name) { return (dir / name).string(); };
  write_npy(path("xtr.npy"), iota({4, 3, 2}));
  write_npy(path("ytr.npy"), iota({4}));
  write_npy(path("xte.npy"), iota({2, 3, 2}));
  write_npy(path("yte.npy"), iota({2}));
  write_npy(path("y3.npy"), iota({3}));
  write_npy(path("xte_wide.npy"), iota({2, 3, 5}));
  write_npy(path("y2d.npy"), iota({2, 1}));
  write_npy(path("x1d.npy"), iota({4}));

  const NpyData d = load_npy_data({path("xtr.npy"), path("ytr.npy"), path("xte.npy"), path("yte.npy")});
  const DataView train = npy_data_view(d, true);
  EXPECT_EQ(train.size, 4);
  EXPECT_EQ(train.sample_dims, (std::vector<int64_t>{3, 2}));
  std::vector<float> x(6), y(1);
  train.gather(nullptr, 3, 1, x.data(), y.data());
  EXPECT_EQ(x[0], 18.0f) << "no scaling, no reshape";
  EXPECT_EQ(y[0], 3.0f);
  EXPECT_EQ(npy_data_view(d, false).size, 2);

  const auto error = [&](const char* a, const char* b, const char* c, const char* e) {
    return message_of([&] { load_npy_data({path(a), path(b), path(c), path(e)}); });
  };
  EXPECT_NE(error("xtr.npy", "y3.npy", "xte.npy", "yte.npy").find("y3.npy: y has shape (3,)"),
            std::string::npos);
  EXPECT_NE(error("xtr.npy", "ytr.npy", "xte_wide.npy", "yte.npy")
                .find("xte_wide.npy: test samples have shape (2, 3, 5)"),
            std::string::npos);
  EXPECT_NE(error("xtr.npy", "ytr.npy", "xte.npy", "y2d.npy").find("y2d.npy: test targets"),
            std::string::npos);
  EXPECT_NE(error("x1d.npy", "ytr.npy", "xte.npy", "yte.npy").find("x1d.npy: x has shape (4,)"),
            std::string::npos);
  EXPECT_NE(error("missing.npy", "ytr.npy", "xte.npy", "yte.npy").find("missing.npy"),
            std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace keel
