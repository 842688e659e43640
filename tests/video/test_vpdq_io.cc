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

// The message of the InvalidArgument that parse_vpdq throws on `text` ("" when it accepts it).
std::string parse_error(const std::string& text) {
  try {
    parse_vpdq(text, "x.txt");
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

std::string line(int64_t frame, const std::string& hex, const std::string& ts = "0.000") {
  return std::to_string(frame) + ",100," + hex + "," + ts + "\n";
}

const std::string kHex2 = "d76d4330f1446beab0c11fdecb91ce375bc8fbbcbde5c0994164d8399f767c45";
const std::string kHex3 = "096d373742f9a039c320a4737c2b3abe14a03569d26b949692e5dfe8cb1855fe";

// A frame number twice: rejected naming both lines (the store would keep only one of them, and a
// hasher never writes that).
TEST(VpdqIo, RepeatedFrameNumberIsAnError) {
  EXPECT_EQ(parse_error(line(0, kHex) + line(0, kHex2) + line(0, kHex3)),
            "x.txt: frame 0 appears twice (lines 1 and 2)");
  EXPECT_EQ(parse_error("# c\n" + line(7, kHex) + line(3, kHex2) + "\n" + line(7, kHex3)),
            "x.txt: frame 7 appears twice (lines 2 and 5)");
  EXPECT_EQ(parse_error(line(1, kHex) + line(2, kHex)), "");  // the same hash twice is fine
}

// Frames come back by frame number whatever the file's order, so that the first-occurrence
// dedupe of matching (vpdq_match.h) keeps the same frame for a file and for the store.
TEST(VpdqIo, FramesAreOrderedByFrameNumber) {
  const auto f = parse_vpdq(line(5, kHex2, "5.000") + line(2, kHex2, "2.000") + line(1, kHex3, "1.000"));
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].frame_number, 1);
  EXPECT_EQ(f[0].hash, Hash256::from_hex(kHex3));
  EXPECT_DOUBLE_EQ(f[0].timestamp, 1.0);
  EXPECT_EQ(f[1].frame_number, 2);
  EXPECT_EQ(f[1].hash, Hash256::from_hex(kHex2));
  EXPECT_DOUBLE_EQ(f[1].timestamp, 2.0);
  EXPECT_EQ(f[2].frame_number, 5);
  EXPECT_DOUBLE_EQ(f[2].timestamp, 5.0);
}

// Timestamps: decimal seconds in 0..kMaxVpdqTimestamp (the store keeps microseconds in 64 bits).
TEST(VpdqIo, TimestampIsDecimalAndBounded) {
  auto ts_ok = [&](const std::string& ts) { return parse_error(line(0, kHex, ts)).empty(); };
  EXPECT_TRUE(ts_ok("0"));
  EXPECT_TRUE(ts_ok("12.5"));
  EXPECT_TRUE(ts_ok("1e3"));
  EXPECT_TRUE(ts_ok("10000000000"));  // kMaxVpdqTimestamp itself
  EXPECT_EQ(kMaxVpdqTimestamp, 1e10);
  EXPECT_FALSE(ts_ok("10000000000.001"));
  EXPECT_FALSE(ts_ok("1e13"));
  EXPECT_FALSE(ts_ok("1e308"));
  EXPECT_FALSE(ts_ok("1e400"));
  EXPECT_FALSE(ts_ok("inf"));
  EXPECT_FALSE(ts_ok("nan"));
  EXPECT_FALSE(ts_ok("-0.5"));
  EXPECT_FALSE(ts_ok("-0"));
  EXPECT_FALSE(ts_ok("0x10"));   // strtod reads hex floats
  EXPECT_FALSE(ts_ok("0x1p3"));
  EXPECT_FALSE(ts_ok("+1"));
  EXPECT_FALSE(ts_ok("1.0f"));
  EXPECT_NE(parse_error(line(0, kHex, "1e13")).find("x.txt:1: timestamp"), std::string::npos)
      << parse_error(line(0, kHex, "1e13"));
  EXPECT_NE(parse_error(line(0, kHex, "0x10")).find("x.txt:1: bad timestamp '0x10'"),
            std::string::npos)
      << parse_error(line(0, kHex, "0x10"));
}

// A UTF-8 byte order mark (editors on Windows write one) is not part of the first line.
TEST(VpdqIo, SkipsAUtf8ByteOrderMark) {
  const auto f = parse_vpdq("\xEF\xBB\xBF" + line(0, kHex) + line(1, kHex2));
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].frame_number, 0);
  EXPECT_EQ(f[0].hash, Hash256::from_hex(kHex));
  // Only at the very start.
  EXPECT_NE(parse_error(line(0, kHex) + "\xEF\xBB\xBF" + line(1, kHex2)).find("x.txt:2:"),
            std::string::npos);
}

// Old Mac line ends (CR alone) are line breaks too; CRLF stays one line break.
TEST(VpdqIo, CarriageReturnAloneEndsALine) {
  std::string cr = line(0, kHex) + line(1, kHex2, "1.000");
  for (char& c : cr) {
    if (c == '\n') c = '\r';
  }
  const auto f = parse_vpdq(cr);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[1].frame_number, 1);
  EXPECT_DOUBLE_EQ(f[1].timestamp, 1.0);
  // Line numbers count CR, LF and CRLF line ends alike.
  EXPECT_NE(parse_error("# a\r\n# b\r# c\n\r\nx,1").find("x.txt:5:"), std::string::npos)
      << parse_error("# a\r\n# b\r# c\n\r\nx,1");
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

TEST(VpdqIo, UnreadableFileIsAnIoError) {
  EXPECT_THROW(read_vpdq_file("/nonexistent/x.txt"), IoError);
  test::TempDir d;
  std::filesystem::create_directory(d / "dir.txt");
  EXPECT_THROW(read_vpdq_file(d / "dir.txt"), IoError);  // a directory: not an empty file
}

// A device read as a vPDQ file (endless zeros) stops at the size limit with a clear error.
TEST(VpdqIo, EndlessInputStopsAtTheSizeLimit) {
  try {
    read_vpdq_file("/dev/zero");
    ADD_FAILURE() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("MiB"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hashmatch::video
