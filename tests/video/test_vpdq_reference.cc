// The reference vPDQ outputs (../shared/testdata/vpdq: videos and vpdq-hash-video's every-frame
// hashes, original size and 128x128), read in place. As the reference's own tests accept decoder
// drift: the same frame numbers, and Hamming distance < 31 wherever both qualities are >= 50.
// Bit-identical frames are counted and printed; test-padded-dimensions must be identical throughout
// (it is with Debian's FFmpeg 5.1).
#include <gtest/gtest.h>

#include <cstdio>

#include "tests/testutil/testutil.h"
#include "video/cpu_pdq_sink.h"
#include "video/vpdq.h"
#include "video/vpdq_io.h"

namespace hashmatch::video {
namespace {

// Receives every frame (so that every frame number is checked) but hashes every `step`-th only:
// keeps the suite fast on two cores for the longer videos.
class SubsetSink : public FrameSink {
 public:
  explicit SubsetSink(int step) : step_(step), inner_(2) {}
  Image take_buffer(std::size_t bytes) override { return inner_.take_buffer(bytes); }
  void push_host(const FrameInfo& info, Image&& rgb) override {
    numbers.push_back(info.frame_number);
    timestamps.push_back(info.timestamp);
    if (info.frame_number % step_ == 0) inner_.push_host(info, std::move(rgb));
  }
  std::vector<VpdqFrame> finish() override { return inner_.finish(); }
  std::vector<int64_t> numbers;
  std::vector<double> timestamps;

 private:
  int step_;
  CpuPdqSink inner_;
};

struct RefCase {
  const char* name;
  int size;  // 0 or 128
  int step;  // hash every step-th frame
};

class VpdqReference : public ::testing::TestWithParam<RefCase> {};

TEST_P(VpdqReference, SameFramesWithinTolerance) {
  const RefCase& c = GetParam();
  const auto dir = test::testdata_dir() / "vpdq";
  const std::string stem = std::string(c.name) + (c.size ? "-128x128" : "");
  const auto want = read_vpdq_file(dir / "sample-hashes" / (stem + ".txt"));
  VideoOptions o;
  o.decoder = "cpu";
  o.seconds_per_hash = 0;  // every frame, as the reference files
  o.size = c.size;
  SubsetSink sink(c.step);
  const VpdqResult r =
      hash_video(VideoInput::file(dir / "videos" / (std::string(c.name) + ".mp4")), o, {}, sink);
  ASSERT_TRUE(r.ok()) << r.error_reason << ": " << r.error;

  // Every frame number, in order, and the reference's timestamp text.
  ASSERT_EQ(sink.numbers.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(sink.numbers[i], want[i].frame_number) << i;
    VpdqFrame t{0, 0, {}, sink.timestamps[i]};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", want[i].timestamp);
    const std::string line = format_vpdq_line(t);
    EXPECT_EQ(line.substr(line.rfind(',') + 1), buf) << "frame " << i;
  }
  int compared = 0, identical = 0, within = 0, worst = 0;
  for (const VpdqFrame& f : r.frames) {
    const VpdqFrame& w = want[std::size_t(f.frame_number)];
    ++compared;
    const int d = hamming_distance(f.hash, w.hash);
    if (d == 0 && f.quality == w.quality) ++identical;
    if (f.quality >= 50 && w.quality >= 50) {
      ++within;
      worst = std::max(worst, d);
      EXPECT_LT(d, 31) << stem << " frame " << f.frame_number;
    }
  }
  EXPECT_EQ(compared, int((want.size() + c.step - 1) / c.step));
  std::printf("[ vpdq-ref ] %s: %d/%d frames bit-identical, %d with both qualities >= 50, worst %d bits\n",
              stem.c_str(), identical, compared, within, worst);
  RecordProperty("identical", identical);
  RecordProperty("compared", compared);
  RecordProperty("worst_bits", worst);
  if (std::string(c.name) == "test-padded-dimensions" && c.size == 0) {
    EXPECT_EQ(identical, compared);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Sample, VpdqReference,
    ::testing::Values(
        RefCase{"test-padded-dimensions", 0, 1}, RefCase{"pattern-sd-grey-bar", 0, 1},
        RefCase{"doorknob-hd-no-bar", 0, 2}, RefCase{"pattern-hd-no-bar", 0, 3},
        RefCase{"pattern-longer-no-bar", 0, 3}, RefCase{"pattern-sd-with-large-logo-bar", 0, 3},
        RefCase{"pattern-sd-with-small-logo-bar", 0, 3}, RefCase{"chair-19-sd-bar", 0, 5},
        RefCase{"chair-20-sd-bar", 0, 5}, RefCase{"chair-22-sd-grey-bar", 0, 5},
        RefCase{"chair-orig-22-sd-bar", 0, 5},
        RefCase{"pattern-sd-grey-bar", 128, 1}, RefCase{"doorknob-hd-no-bar", 128, 1},
        RefCase{"pattern-hd-no-bar", 128, 2}, RefCase{"pattern-longer-no-bar", 128, 2},
        RefCase{"pattern-sd-with-large-logo-bar", 128, 1},
        RefCase{"pattern-sd-with-small-logo-bar", 128, 1}, RefCase{"chair-19-sd-bar", 128, 2},
        RefCase{"chair-20-sd-bar", 128, 2}, RefCase{"chair-22-sd-grey-bar", 128, 2},
        RefCase{"chair-orig-22-sd-bar", 128, 2}),
    [](const auto& info) {
      std::string n = std::string(info.param.name) + (info.param.size ? "_128" : "");
      for (char& ch : n) if (ch == '-') ch = '_';
      return n;
    });

}  // namespace
}  // namespace hashmatch::video
