#include "keel/io/npy_data.h"

#include "keel/core/error.h"
#include "keel/io/npy.h"

namespace keel {

namespace {

constexpr std::string_view kPrefix = "npy:";

std::string shape_text(const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

}  // namespace

std::optional<std::array<std::string, 4>> parse_npy_data(std::string_view data) {
  if (!data.starts_with(kPrefix)) return std::nullopt;
  std::array<std::string, 4> paths;
  std::string_view rest = data.substr(kPrefix.size());
  size_t count = 0;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view part = rest.substr(0, comma);
    KEEL_CHECK(count < 4 && !part.empty(), "--data '", data,
               "': expected npy:X_TRAIN.npy,Y_TRAIN.npy,X_TEST.npy,Y_TEST.npy (four paths)");
    paths[count++] = std::string(part);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  KEEL_CHECK(count == 4, "--data '", data, "': ", count,
             " path(s); expected four paths: npy:X_TRAIN.npy,Y_TRAIN.npy,X_TEST.npy,Y_TEST.npy");
  return paths;
}

NpyData load_npy_data(const std::array<std::string, 4>& paths) {
  std::array<NpyArray, 4> a;
  for (size_t i = 0; i < 4; ++i) a[i] = read_npy(paths[i]);
  for (size_t i : {size_t{0}, size_t{2}}) {
    KEEL_CHECK(a[i].dims.size() >= 2 && a[i].dims[0] > 0, paths[i], ": x has shape ",
               shape_text(a[i].dims), "; expected (N, ...) with N >= 1 samples of rank >= 1");
    const auto& y = a[i + 1].dims;
    KEEL_CHECK((y.size() == 1 || y.size() == 2) && y[0] == a[i].dims[0], paths[i + 1],
               ": y has shape ", shape_text(y), "; expected (", a[i].dims[0], ",) or (",
               a[i].dims[0], ", k) to match ", paths[i], " ", shape_text(a[i].dims));
  }
  KEEL_CHECK(std::vector<int64_t>(a[0].dims.begin() + 1, a[0].dims.end()) ==
                 std::vector<int64_t>(a[2].dims.begin() + 1, a[2].dims.end()),
             paths[2], ": test samples have shape ", shape_text(a[2].dims),
             ", the training samples ", shape_text(a[0].dims), " (", paths[0], ")");
  KEEL_CHECK(a[1].dims.size() == a[3].dims.size() &&
                 (a[1].dims.size() == 1 || a[1].dims[1] == a[3].dims[1]),
             paths[3], ": test targets have shape ", shape_text(a[3].dims),
             ", the training targets ", shape_text(a[1].dims), " (", paths[1], ")");
  NpyData d;
  Tensor* out[4] = {&d.train_x, &d.train_y, &d.test_x, &d.test_y};
  for (size_t i = 0; i < 4; ++i) *out[i] = a[i].to_tensor();
  return d;
}

DataView npy_data_view(const NpyData& data, bool train) {
  return DataView::of(train ? data.train_x : data.test_x, train ? data.train_y : data.test_y);
}

}  // namespace keel
