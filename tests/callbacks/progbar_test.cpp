// Expected lines are the tf.keras 2.x text recorded in Hands-On ML (keras-semantics.md 4.2), with a
// fake clock so the timings are the recorded ones.
#include <gtest/gtest.h>

#include <sstream>

#include "keel/model/progbar.h"

namespace keel {

TEST(Progbar, FinalLineMatchesTheBookRecording) {
  std::ostringstream out;
  double t = 100.0;
  Progbar bar(1719, 1, out, /*dynamic_display=*/false, 0.05, [&] { return t; });
  t += 0.0025;  // first step
  bar.update(1, {{"loss", 2.3}}, false);
  t = 100.0 + 3.2;  // 1718 more steps at ~1.86 ms
  bar.update(1719,
             {{"loss", 0.5559}, {"accuracy", 0.8094}, {"val_loss", 0.4016},
              {"val_accuracy", 0.8558}},
             true);
  EXPECT_EQ(out.str(),
            "1719/1719 [==============================] - 3s 2ms/step - loss: 0.5559 - "
            "accuracy: 0.8094 - val_loss: 0.4016 - val_accuracy: 0.8558\n");
}

TEST(Progbar, InProgressLineOnATerminal) {
  std::ostringstream out;
  double t = 0.0;
  Progbar bar(1719, 1, out, /*dynamic_display=*/true, 0.05, [&] { return t; });
  t = 0.1;  // first step took 0.1 s...
  bar.update(1, {{"loss", 2.3026}, {"accuracy", 0.1}}, false);
  out.str("");
  t = 0.1 + 31 * 0.0025;  // ...then 2.5 ms per step: ETA = 1687 * 2.5 ms = 4.2 s
  bar.update(32, {{"loss", 2.3026}, {"accuracy", 0.1}}, false);
  const std::string line = out.str();
  const std::string expected_tail =
      "  32/1719 [..............................] - ETA: 4s - loss: 2.3026 - accuracy: 0.1000";
  // Rewritten in place: backspaces, \r, the new text, then spaces over the longer previous line
  // ("ETA: 2:51" after the slow first step).
  EXPECT_EQ(line[0], '\b');
  const size_t cr = line.find('\r');
  ASSERT_NE(cr, std::string::npos);
  EXPECT_EQ(line.substr(cr + 1), expected_tail + "  ");
}

TEST(Progbar, BarShapes) {
  std::ostringstream out;
  Progbar bar(313, 1, out, false);
  EXPECT_EQ(bar.bar_text(313), "313/313 [==============================]");
  EXPECT_EQ(bar.bar_text(157), "157/313 [==============>...............]");
  EXPECT_EQ(bar.bar_text(1), "  1/313 [..............................]");
}

TEST(Progbar, TimeAndValueFormatsFollowKeras) {
  EXPECT_EQ(Progbar::format_time(0.000867, "step"), " 867us/step");
  EXPECT_EQ(Progbar::format_time(0.0021, "step"), " 2ms/step");
  EXPECT_EQ(Progbar::format_time(3.4, "epoch"), " 3s/epoch");
  EXPECT_EQ(Progbar::format_time(0.0, "step"), " 0s/step");
  EXPECT_EQ(Progbar::format_value(0.32431), " 0.3243");
  EXPECT_EQ(Progbar::format_value(0.0001234), " 1.2340e-04");
}

TEST(Progbar, NonTerminalWritesOnlyTheFinalLine) {
  std::ostringstream out;
  double t = 0;
  Progbar bar(10, 1, out, false, 0.0, [&] { return t; });
  for (int i = 1; i < 10; ++i) {
    t += 1;
    bar.update(i, {{"loss", 1.0}}, false);
  }
  EXPECT_EQ(out.str(), "");
  t += 1;
  bar.update(10, {{"loss", 1.0}}, true);
  EXPECT_EQ(out.str(), "10/10 [==============================] - 10s 1s/step - loss: 1.0000\n");
}

TEST(Progbar, Verbose2PrintsOneLinePerEpoch) {
  std::ostringstream out;
  double t = 0;
  Progbar bar(1719, 2, out, false, 0.05, [&] { return t; });
  t = 3.3;
  bar.update(1719, {{"loss", 0.5}}, true);
  EXPECT_EQ(out.str(), "1719/1719 - 3s - loss: 0.5000 - 3s/epoch - 2ms/step\n");
}

}  // namespace keel
