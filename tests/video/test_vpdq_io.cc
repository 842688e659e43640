// vPDQ files: the reference line format, round trips, malformed lines, the reference sample files.
#include <gtest/gtest.h>

#include <sstream>

#include "host/common/error.h"
#include "tests/testutil/testutil.h"
#include "video/vpdq_io.h"

namespace hashmatch::video {
namespace {

const std::string kHex = "e6cf059c4c6696362cc9d6663cd9c263714169d98327399993363d9c3d9cc666";

TEST(VpdqIo, FormatsLikeTheReference) {
  VpdqFrame f{12, 97, Hash256::from_hex(kHex), 0.4};
  EXPECT_EQ(format_vpdq_line(f), "12,97," + kHex + ",0.400");
  f.timestamp = 1.0 / 30;
  EXPECT_EQ(format_vpdq_line(f), "12,97," + kHex + ",0.033");
  f.timestamp = 0.0625;  // an exact binary half: printf rounds it to even, as the reference does
  EXPECT_EQ(format_vpdq_line(f), "12,97," + kHex + ",0.062");
}

TEST(VpdqIo, RoundTrip) {
  std::vector<VpdqFrame> frames;
  for (int i = 0; i < 5; ++i) {
    Hash256 h;
    h.w = {uint64_t(i) * 0x9e3779b97f4a7c15ull, ~uint64_t(i), uint64_t(i) << 7, 42};
    frames.push_back({i * 30, 40 + i * 10, h, i * 1.001});
  }
  std::ostringstream out;
  write_vpdq(out, frames);
  const auto back = parse_vpdq(out.str());
  ASSERT_EQ(back.size(), frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(back[i].frame_number, frames[i].frame_number);
    EXPECT_EQ(back[i].quality, frames[i].quality);
    EXPECT_EQ(back[i].hash, frames[i].hash);
    EXPECT_NEAR(back[i].timestamp, frames[i].timestamp, 0.0005);
  }
}

TEST(VpdqIo, AcceptsThreeFieldsCommentsBlankLinesAndCrlf) {
  const auto f = parse_vpdq("# a comment\r\n\r\n3,50," + kHex + "\r\n  4 , 60 , " + kHex +
                            " , 0.133 \n");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].frame_number, 3);
  EXPECT_EQ(f[0].quality, 50);
  EXPECT_EQ(f[0].timestamp, 0.0);
  EXPECT_EQ(f[1].frame_number, 4);
  EXPECT_DOUBLE_EQ(f[1].timestamp, 0.133);
}

TEST(VpdqIo, MalformedLinesNameTheLine) {
  const std::string good = "0,100," + kHex + ",0.000\n";
  auto expect_bad = [&](const std::string& line, const std::string& needle) {
    try {
      parse_vpdq(good + line, "x.txt");
      ADD_FAILURE() << "accepted: " << line;
    } catch (const InvalidArgument& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("x.txt:2:"), std::string::npos) << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    }
  };
  expect_bad("1,100", "field");
  expect_bad("1,100," + kHex + ",0.1,9", "too many");
  expect_bad("x,100," + kHex, "frame number");
  expect_bad("-1,100," + kHex, "negative");
  expect_bad("1,101," + kHex, "quality");
  expect_bad("1,50,abc", "");
  expect_bad("1,50," + kHex + ",later", "timestamp");
}

TEST(VpdqIo, ReadsEveryReferenceSampleFile) {
  const auto dir = test::testdata_dir() / "vpdq" / "sample-hashes";
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".txt") continue;
    ++files;
    const auto frames = read_vpdq_file(e.path());
    ASSERT_FALSE(frames.empty()) << e.path();
    // Every frame of the reference's every-frame output, numbered 0, 1, 2 ...
    for (std::size_t i = 0; i < frames.size(); ++i) {
      ASSERT_EQ(frames[i].frame_number, int64_t(i)) << e.path();
    }
    // Writing them back gives the file's text.
    std::ostringstream out;
    write_vpdq(out, frames);
    const auto text = test::read_file(e.path());
    EXPECT_EQ(out.str(), std::string(text.begin(), text.end())) << e.path();
  }
  EXPECT_EQ(files, 31);
}

TEST(VpdqIo, MissingFileIsAnIoError) {
  EXPECT_THROW(read_vpdq_file("/nonexistent/x.txt"), IoError);
}

}  // namespace
}  // namespace hashmatch::video
