// End to end through the keel CLI on a tiny Fashion-MNIST-shaped IDX data set:
//  * `--epochs 2 --checkpoint c` then `--resume c --epochs 5` ends bit-identical to 5 straight
//    epochs, and the CSV log has one header and 5 rows;
//  * SIGKILL at random moments of a checkpointing run, 20 times: the last checkpoint always loads
//    and resumes;
//  * the new flags reject bad values with exit code 2; `keel plot` writes an SVG.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "keel/io/checkpoint.h"
#include "keel/io/idx.h"
#include "watch_helpers.h"

extern char** environ;

namespace keel {
namespace {
using namespace watch_test;

// 240 training and 40 test images, 28x28 uint8, labels readable from the pixels, into `dir`.
void write_tiny_fashion_mnist(const std::filesystem::path& dir) {
  Rng rng(5);
  for (const auto& [prefix, n] : {std::pair{std::string("train"), 240}, std::pair{std::string("t10k"), 40}}) {
    IdxArray images{IdxType::kUint8, {n, 28, 28}, {}}, labels{IdxType::kUint8, {n}, {}};
    for (int i = 0; i < n; ++i) {
      const auto label = static_cast<uint8_t>(rng.uniform_int(10));
      labels.bytes.push_back(label);
      for (int p = 0; p < 784; ++p)
        images.bytes.push_back(static_cast<uint8_t>(rng.uniform_int(80) + (p % 10 == label ? 150 : 0)));
    }
    write_idx(dir / (prefix + "-images-idx3-ubyte"), images);
    write_idx(dir / (prefix + "-labels-idx1-ubyte"), labels);
  }
}

class ResumeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(keel_bin()))
        << "keel executable not built: " << keel_bin() << " (build the 'keel' target)";
    write_tiny_fashion_mnist(data_);
    base_ = keel_bin() + " train --data " + data_.string() +
            " --validation 40 --batch-size 32 --threads 1 --verbose 0 --seed 7";
  }
  testing::TempDir data_{"watch_data"};
  std::string base_;
};

// `--epochs 2 --checkpoint c`, then `--resume c --epochs 5`, against 5 straight epochs: every
// model variable and optimizer slot byte for byte, and the CSV logs line for line. `optimizer`
// holds the optimizer flags given to all three runs.
void expect_resume_bit_identical(const std::string& base, const std::string& optimizer,
                                 const std::filesystem::path& dir) {
  const auto s = dir.string();
  const std::string train = base + " " + optimizer;
  ASSERT_EQ(run(train + " --epochs 5 --checkpoint " + s + "/straight --csv " + s + "/straight.csv").first, 0);
  ASSERT_EQ(run(train + " --epochs 2 --checkpoint " + s + "/c --csv " + s + "/r.csv").first, 0);
  const auto [status, out] = run(train + " --epochs 5 --resume " + s + "/c --csv " + s + "/r.csv");
  ASSERT_EQ(status, 0) << out;
  const Checkpoint a = Checkpoint::load(checkpoint_path(dir / "straight"));
  const Checkpoint b = Checkpoint::load(checkpoint_path(dir / "c"));
  EXPECT_EQ(b.get_int64("train/epoch"), 5);
  int64_t compared = 0, slots = 0;
  for (const auto& e : a.entries()) {
    if (!e.name.starts_with("model/") && !e.name.starts_with("optimizer/")) continue;
    const auto* other = &b.entries().front();
    for (const auto& f : b.entries())
      if (f.name == e.name) other = &f;
    ASSERT_EQ(other->name, e.name);
    EXPECT_EQ(other->bytes, e.bytes) << e.name;
    ++compared;
    slots += e.name.starts_with("optimizer/") && e.name != "optimizer/iterations" &&
             e.name != "optimizer/learning_rate";
  }
  EXPECT_GT(compared, 10);
  // Plain SGD has no slots; momentum has one per trainable variable, Adam two.
  EXPECT_EQ(slots > 0, optimizer.find("momentum") != std::string::npos ||
                           optimizer.find("adam") != std::string::npos)
      << slots << " optimizer slots";
  std::ifstream csv(dir / "r.csv"), straight_csv(dir / "straight.csv");
  std::vector<std::string> lines, straight_lines;
  for (std::string l; std::getline(csv, l);) lines.push_back(l);
  for (std::string l; std::getline(straight_csv, l);) straight_lines.push_back(l);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], "epoch,accuracy,loss,val_accuracy,val_loss");
  EXPECT_EQ(lines, straight_lines);  // same numbers, too
}

TEST_F(ResumeCli, ResumeIsBitIdenticalAndCsvHasOneHeader) {
  expect_resume_bit_identical(base_, "", fresh_dir("resume"));
}

// The momentum velocities and Adam's moments must come back from the checkpoint: a resume that
// restarted them at zero changes every later step.
TEST_F(ResumeCli, ResumeWithSgdMomentumIsBitIdentical) {
  expect_resume_bit_identical(base_, "--optimizer sgd --momentum 0.9 --learning-rate 0.02",
                              fresh_dir("resume_momentum"));
}

TEST_F(ResumeCli, ResumeWithAdamIsBitIdentical) {
  expect_resume_bit_identical(base_, "--optimizer adam --learning-rate 0.001",
                              fresh_dir("resume_adam"));
}

TEST_F(ResumeCli, SigkillDuringCheckpointingAlwaysLeavesALoadableCheckpoint) {
  const auto dir = fresh_dir("kill");
  const auto ck_dir = dir / "c";
  const auto ck = checkpoint_path(ck_dir);
  std::mt19937 gen(12345);
  std::uniform_int_distribution<int> extra_ms(0, 120);
  int64_t last_epoch = 0;
  for (int round = 0; round < 20; ++round) {
    // Long runs (epochs far beyond reach) writing a checkpoint every ~10 ms epoch.
    const std::string cmd = base_ + " --epochs 100000 " +
                            (round == 0 ? "--checkpoint " : "--resume ") + ck_dir.string() +
                            " >/dev/null 2>&1";
    pid_t pid = 0;
    const char* argv[] = {"/bin/sh", "-c", nullptr, nullptr};
    const std::string exec_cmd = "exec " + cmd;
    argv[2] = exec_cmd.c_str();
    ASSERT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ), 0);
    // Wait for a checkpoint newer than the last one seen, then kill at a random moment.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      try {
        if (std::filesystem::exists(ck) && Checkpoint::load(ck).get_int64("train/epoch") > last_epoch) break;
      } catch (const Error&) {
        // never torn: fail below with the message
        ADD_FAILURE() << "checkpoint unreadable while training runs";
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(extra_ms(gen)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    Checkpoint loaded;
    ASSERT_NO_THROW(loaded = Checkpoint::load(ck)) << "round " << round;
    const int64_t epoch = loaded.get_int64("train/epoch");
    EXPECT_GT(epoch, last_epoch) << "round " << round;
    last_epoch = epoch;
  }
  // The last one resumes to completion of one more epoch.
  const auto [status, out] = run(base_ + " --epochs " + std::to_string(last_epoch + 1) + " --resume " +
                                 ck_dir.string() + " 2>&1");
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(Checkpoint::load(ck).get_int64("train/epoch"), last_epoch + 1);
}

TEST_F(ResumeCli, BadFlagsExitWithTwo) {
  const auto dir = fresh_dir("badflags");
  const auto s = dir.string();
  for (const std::string& flags : std::vector<std::string>{"--early-stopping -1", "--grad-norm-every 5",
                                  "--logdir " + s + "/l --grad-norm-every -3",
                                  "--resume " + s + "/nothing-here"}) {
    const auto [status, out] = run(base_ + " --epochs 1 " + flags + " 2>&1");
    EXPECT_EQ(status, 2) << flags << "\n" << out;
    EXPECT_NE(out.find("keel: error:"), std::string::npos) << out;
  }
  // Resuming with another batch size would replay different batches.
  ASSERT_EQ(run(base_ + " --epochs 1 --checkpoint " + s + "/c").first, 0);
  const auto [status, out] = run(keel_bin() + " train --data " + data_.string() +
                                 " --validation 40 --batch-size 16 --verbose 0 --seed 7 --epochs 2 --resume " +
                                 s + "/c 2>&1");
  EXPECT_EQ(status, 2) << out;
  EXPECT_NE(out.find("--batch-size 32"), std::string::npos) << out;
}

TEST_F(ResumeCli, PlotWritesAnSvgFromALogdirAndACsv) {
  const auto dir = fresh_dir("plot");
  const auto s = dir.string();
  ASSERT_EQ(run(base_ + " --epochs 3 --logdir " + s + "/logs --grad-norm-every 2 --csv " + s + "/h.csv").first, 0);
  for (const std::string& input : std::vector<std::string>{s + "/logs", s + "/h.csv"}) {
    const auto [status, out] = run(keel_bin() + " plot " + input + " --output " + s + "/p.svg 2>&1");
    ASSERT_EQ(status, 0) << out;
    std::ifstream in(dir / "p.svg");
    const std::string svg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(svg.find("<svg xmlns='http://www.w3.org/2000/svg'"), std::string::npos);
    for (const char* name : {">loss<", ">accuracy<", ">val_loss<", ">val_accuracy<"})
      EXPECT_NE(svg.find(name), std::string::npos) << name;
    EXPECT_EQ(svg.find(">preclip<") != std::string::npos, input.ends_with("logs"));
  }
  EXPECT_EQ(run(keel_bin() + " plot " + s + "/missing --output " + s + "/q.svg 2>/dev/null").first, 2);
}

}  // namespace
}  // namespace keel
