// keel plot LOGDIR|CSV --output curves.svg: the book's learning-curve figure (loss, accuracy,
// val_loss, val_accuracy per epoch, y in [0, 1]) and, from a TensorBoard log directory, a second
// panel with the gradient norms (log scale) against the training step. Standalone SVG: no scripts,
// no external fonts, explicit width/height and viewBox so browsers size it predictably.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "keel/core/error.h"
#include "keel/io/atomic_file.h"
#include "keel/io/event_file.h"

namespace keel::cli {

namespace {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), x ascending
};

// Keras's order, then anything else alphabetically.
void sort_curves(std::vector<Series>& curves) {
  const std::vector<std::string> order = {"loss", "accuracy", "val_loss", "val_accuracy"};
  auto rank = [&](const std::string& n) {
    const auto it = std::find(order.begin(), order.end(), n);
    return it == order.end() ? order.size() : static_cast<size_t>(it - order.begin());
  };
  std::sort(curves.begin(), curves.end(), [&](const Series& a, const Series& b) {
    return rank(a.name) != rank(b.name) ? rank(a.name) < rank(b.name) : a.name < b.name;
  });
}

std::vector<Series> read_csv_curves(const std::filesystem::path& file) {
  std::ifstream in(file);
  KEEL_CHECK(in, "keel plot: cannot open '", file.string(), "'");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  for (std::stringstream hs(line); std::getline(hs, line, ',');) header.push_back(line);
  KEEL_CHECK(!header.empty() && header[0] == "epoch", "keel plot: '", file.string(),
             "' does not start with an 'epoch' column (expected a CSVLogger file)");
  std::vector<Series> curves;
  for (size_t i = 1; i < header.size(); ++i) curves.push_back({header[i], {}});
  int64_t row = 1;
  while (std::getline(in, line)) {
    ++row;
    if (line.empty()) continue;
    std::vector<std::string> cells;
    for (std::stringstream rs(line); std::getline(rs, line, ',');) cells.push_back(line);
    KEEL_CHECK(cells.size() == header.size(), "keel plot: '", file.string(), "' line ", row, " has ",
               cells.size(), " fields; expected ", header.size());
    // The x of every point: a finite number, or the whole row is unusable (a non-numeric epoch
    // was once plotted at x = 0 and a nan one made every coordinate of the SVG nan).
    char* epoch_end = nullptr;
    const double epoch = std::strtod(cells[0].c_str(), &epoch_end);
    KEEL_CHECK(epoch_end != cells[0].c_str() && *epoch_end == '\0' && std::isfinite(epoch),
               "keel plot: '", file.string(), "' line ", row, ": epoch '", cells[0],
               "' is not a finite number; expected the epoch column of a CSVLogger file");
    for (size_t i = 1; i < cells.size(); ++i) {
      char* end = nullptr;
      const double v = std::strtod(cells[i].c_str(), &end);
      if (end != cells[i].c_str()) curves[i - 1].points.emplace_back(epoch, v);  // "NA" skipped
    }
  }
  std::erase_if(curves, [](const Series& s) { return s.name == "lr" || s.name == "learning_rate"; });
  return curves;
}

void read_logdir(const std::filesystem::path& dir, std::vector<Series>& curves, std::vector<Series>& norms) {
  std::map<std::string, Series> by_name;
  bool any = false;
  for (const char* sub : {"train", "validation"}) {
    for (const auto& file : list_event_files(dir / sub)) {
      any = true;
      for (const ScalarEvent& e : read_scalar_events(file)) {
        std::string name;
        if (e.tag.rfind("epoch_", 0) == 0) {
          name = e.tag.substr(6);
          if (name == "learning_rate") continue;
          if (std::string(sub) == "validation") name = "val_" + name;
        } else if (e.tag.rfind("grad_norm/", 0) == 0 && e.tag != "grad_norm/clip_fraction") {
          name = e.tag;
        } else {
          continue;
        }
        auto& s = by_name[name];
        s.name = name;
        s.points.emplace_back(static_cast<double>(e.step), e.value);
      }
    }
  }
  KEEL_CHECK(any, "keel plot: '", dir.string(), "' holds no train/ or validation/ event files ",
             "(expected a directory written by keel train --logdir)");
  for (auto& [name, s] : by_name) {
    // A resumed run appends a second file; keep the latest value per step.
    std::stable_sort(s.points.begin(), s.points.end(), [](auto& a, auto& b) { return a.first < b.first; });
    std::vector<std::pair<double, double>> unique;
    for (const auto& p : s.points) {
      if (!unique.empty() && unique.back().first == p.first) unique.back() = p;
      else unique.push_back(p);
    }
    s.points = std::move(unique);
    (name.rfind("grad_norm/", 0) == 0 ? norms : curves).push_back(std::move(s));
  }
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

// One plot panel at (x0, y0) of size (w, h). log_y plots log10 of positive values.
void panel(std::ostringstream& svg, const std::vector<Series>& series, double x0, double y0, double w,
           double h, const std::string& title, const std::string& x_label, const std::string& y_label,
           bool log_y, std::optional<std::pair<double, double>> fixed_y) {
  const double L = x0 + 70, R = x0 + w - 215, T = y0 + 40, B = y0 + h - 50;
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  auto ty = [&](double v) { return log_y ? std::log10(std::max(v, 1e-30)) : v; };
  for (const auto& s : series)
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(y)) continue;
      xmin = std::min(xmin, x), xmax = std::max(xmax, x);
      ymin = std::min(ymin, ty(y)), ymax = std::max(ymax, ty(y));
    }
  if (!(xmin <= xmax)) xmin = 0, xmax = 1;
  // A range of a few ulps (1e16 and 1e16 + 2) cannot be divided into ticks: widen it around its
  // centre to a width the arithmetic resolves (the tick loop below is bounded anyway).
  const double min_width = std::max(1.0, std::max(std::fabs(xmin), std::fabs(xmax)) * 1e-6);
  if (xmax - xmin < min_width) {
    const double mid = xmin / 2 + xmax / 2;
    xmin = mid - min_width / 2, xmax = mid + min_width / 2;
  }
  if (fixed_y) ymin = fixed_y->first, ymax = fixed_y->second;
  if (!(ymin <= ymax)) ymin = 0, ymax = 1;
  if (log_y) ymin = std::floor(ymin), ymax = std::ceil(ymax);
  if (ymin == ymax) ymax = ymin + 1;
  auto px = [&](double x) { return L + (x - xmin) / (xmax - xmin) * (R - L); };
  auto py = [&](double y) { return B - (std::clamp(y, ymin, ymax) - ymin) / (ymax - ymin) * (B - T); };

  svg << "<text x='" << (L + R) / 2 << "' y='" << y0 + 24 << "' text-anchor='middle' font-size='17' "
      << "font-weight='bold'>" << escape(title) << "</text>\n";
  svg << "<rect x='" << L << "' y='" << T << "' width='" << R - L << "' height='" << B - T
      << "' fill='#ffffff' stroke='#333' stroke-width='1'/>\n";
  // Ticks and grid: about 6 "nice" steps on x; 0.1 steps on [0, 1]; decades on a log axis.
  const double raw = (xmax - xmin) / 6;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  const double xstep = raw / mag < 2 ? mag * (xmax - xmin < 6 ? 1 : 2) : raw / mag < 5 ? 5 * mag : 10 * mag;
  // Ticks by index, never `x += xstep` (a step below half an ulp of x never ends); at most
  // kMaxTicks of them whatever the range.
  constexpr double kMaxTicks = 50;
  const double xfirst = std::ceil(xmin / xstep) * xstep;
  const double xcount = std::clamp(std::floor((xmax - xfirst) / xstep + 1e-9) + 1, 0.0, kMaxTicks);
  for (int64_t i = 0; i < static_cast<int64_t>(xcount); ++i) {
    const double x = xfirst + static_cast<double>(i) * xstep;
    svg << "<line x1='" << px(x) << "' y1='" << T << "' x2='" << px(x) << "' y2='" << B
        << "' stroke='#ddd'/><text x='" << px(x) << "' y='" << B + 18
        << "' text-anchor='middle' font-size='12'>" << fmt(x) << "</text>\n";
  }
  const double ystep = log_y ? 1.0 : (ymax - ymin) <= 1.0 ? 0.1 : std::pow(10, std::floor(std::log10(ymax - ymin)));
  const double yfirst = std::ceil(ymin / ystep - 1e-9) * ystep;
  const double ycount = std::clamp(std::floor((ymax - yfirst) / ystep + 1e-9) + 1, 0.0, kMaxTicks);
  for (int64_t i = 0; i < static_cast<int64_t>(ycount); ++i) {
    const double y = yfirst + static_cast<double>(i) * ystep;
    const double rounded = std::round(y * 1e6) / 1e6;
    const std::string label = log_y ? "1e" + fmt(std::round(y)) : fmt(rounded == 0 ? 0.0 : rounded);
    svg << "<line x1='" << L << "' y1='" << py(y) << "' x2='" << R << "' y2='" << py(y)
        << "' stroke='#ddd'/><text x='" << L - 8 << "' y='" << py(y) + 4
        << "' text-anchor='end' font-size='12'>" << label << "</text>\n";
  }
  svg << "<text x='" << (L + R) / 2 << "' y='" << B + 40 << "' text-anchor='middle' font-size='13'>"
      << escape(x_label) << "</text>\n";
  svg << "<text transform='translate(" << x0 + 18 << "," << (T + B) / 2
      << ") rotate(-90)' text-anchor='middle' font-size='13'>" << escape(y_label) << "</text>\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    const bool main = !log_y || s.name == "grad_norm/preclip" || s.name == "grad_norm/postclip";
    const std::string color = kColors[i % 10];
    svg << "<polyline fill='none' stroke='" << color << "' stroke-width='" << (main ? 2.2 : 1.2)
        << "'" << (s.name.rfind("val_", 0) == 0 ? " stroke-dasharray='7,4'" : "") << " points='";
    for (const auto& [x, y] : s.points)
      if (std::isfinite(y)) svg << fmt(px(x)) << "," << fmt(py(ty(y))) << " ";
    svg << "'/>\n";
    if (s.points.size() <= 60)
      for (const auto& [x, y] : s.points)
        if (std::isfinite(y) && !log_y)
          svg << "<circle cx='" << fmt(px(x)) << "' cy='" << fmt(py(ty(y))) << "' r='3' fill='" << color << "'/>\n";
    const double ly = T + 10 + 22 * static_cast<double>(i);
    svg << "<line x1='" << R + 15 << "' y1='" << ly << "' x2='" << R + 45 << "' y2='" << ly << "' stroke='"
        << color << "' stroke-width='2.5'" << (s.name.rfind("val_", 0) == 0 ? " stroke-dasharray='7,4'" : "")
        << "/><text x='" << R + 52 << "' y='" << ly + 4 << "' font-size='13'>"
        << escape(s.name.rfind("grad_norm/", 0) == 0 ? s.name.substr(10) : s.name) << "</text>\n";
  }
}

int run_plot(const std::string& input, const std::string& output, const std::string& title) {
  const std::filesystem::path in(input);
  KEEL_CHECK(std::filesystem::exists(in), "keel plot: '", input, "' does not exist; expected a ",
             "--logdir directory or a --csv file from keel train");
  std::vector<Series> curves, norms;
  if (std::filesystem::is_directory(in)) read_logdir(in, curves, norms);
  else curves = read_csv_curves(in);
  KEEL_CHECK(!curves.empty() || !norms.empty(), "keel plot: '", input, "' holds no values to plot");
  for (const auto* set : {&curves, &norms}) {
    double lo = INFINITY, hi = -INFINITY;
    for (const auto& s : *set)
      for (const auto& p : s.points) lo = std::min(lo, p.first), hi = std::max(hi, p.first);
    KEEL_CHECK(!(lo <= hi) || std::isfinite(hi - lo), "keel plot: '", input, "': x values from ",
               lo, " to ", hi, " span more than a double holds; expected epochs or steps");
  }
  sort_curves(curves);
  std::sort(norms.begin(), norms.end(), [](const Series& a, const Series& b) {
    auto key = [](const Series& s) { return s.name == "grad_norm/preclip" ? 0 : s.name == "grad_norm/postclip" ? 1 : 2; };
    return key(a) != key(b) ? key(a) < key(b) : a.name < b.name;
  });
  const double W = 1000, H = norms.empty() ? 560 : 700;
  std::ostringstream svg;
  svg << "<?xml version='1.0' encoding='UTF-8'?>\n<svg xmlns='http://www.w3.org/2000/svg' width='" << W
      << "' height='" << H << "' viewBox='0 0 " << W << " " << H
      << "' font-family='DejaVu Sans, Helvetica, Arial, sans-serif'>\n<rect width='100%' height='100%' fill='white'/>\n";
  if (norms.empty()) {
    panel(svg, curves, 0, 0, W, H, title, "Epoch", "value", false, std::pair{0.0, 1.0});
  } else {
    panel(svg, curves, 0, 0, W, 380, title, "Epoch", "value", false, std::pair{0.0, 1.0});
    panel(svg, norms, 0, 380, W, 320, "Gradient norms (before and after clipping, per layer before)",
          "Training step", "L2 norm (log scale)", true, std::nullopt);
  }
  svg << "</svg>\n";
  write_file_atomically(output, svg.str());
  std::printf("Wrote %s\n", output.c_str());
  return 0;
}

}  // namespace

Handler add_plot_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("plot", "Plot learning curves (and gradient norms) as an SVG");
  auto input = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>("curves.svg");
  auto title = std::make_shared<std::string>("Learning curves");
  cmd->add_option("INPUT", *input, "a keel train --logdir directory or --csv file")->required();
  cmd->add_option("--output,-o", *output, "SVG file to write (default curves.svg)");
  cmd->add_option("--title", *title, "figure title");
  return [=] { return run_plot(*input, *output, *title); };
}

}  // namespace keel::cli
