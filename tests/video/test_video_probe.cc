// Keyframes-only leaves out FFmpeg's container probe (avformat_find_stream_info) where the header
// already has everything (MP4/MOV with H.264: video/ffmpeg_util.h, header_complete). The results
// must not change: for each container, keyframes-only with and without the probe gives the same
// frames, hashes, timestamps and stream facts, and the probe is left out exactly for the files the
// header describes completely.
#include <gtest/gtest.h>

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include "tests/testutil/testutil.h"
#include "tests/video/clips.h"
#include "video/ffmpeg_util.h"
#include "video/vpdq.h"

namespace hashmatch::video {
namespace {

using test::clip_dir;
using test::make_clip;
using test::ScopedEnv;

// 320x240, 25 fps, 4 s, a key frame every 25 frames, x264 with B-frames (reordering delay), and
// an audio stream.
const std::string kSrc =
    "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440 -t 4 -g 25 "
    "-c:v libx264 -preset veryfast -bf 3 -c:a aac";

struct ProbeCase {
  const char* name;
  const char* extra;   // more ffmpeg output options
  bool header_complete;  // the probe is left out
};

void PrintTo(const ProbeCase& c, std::ostream* os) { *os << c.name; }

class VideoProbe : public ::testing::TestWithParam<ProbeCase> {};

// Whether ff::Demuxer::open(false) leaves out the probe for this file.
bool skips_probe(const std::vector<uint8_t>& bytes) {
  ff::Demuxer d(std::make_unique<ff::MemorySource>(bytes),
                ff::Demuxer::Clock::now() + std::chrono::seconds(60));
  EXPECT_GE(d.open(false), 0);
  return !d.probed();
}

VideoOptions keyframes() {
  VideoOptions o;
  o.decoder = "cpu";
  o.pdq = "cpu";
  o.threads = 2;
  o.keyframes_only = true;
  return o;
}

TEST_P(VideoProbe, KeyframesOnlyGivesTheSameWithAndWithoutTheProbe) {
  const ProbeCase& c = GetParam();
  const auto p = make_clip(clip_dir(), c.name, kSrc + " " + c.extra);
  ASSERT_FALSE(p.empty());
  const auto bytes = test::read_file(p);
  EXPECT_EQ(skips_probe(bytes), c.header_complete) << c.name;

  VpdqResult full;
  {
    ScopedEnv probe("HASHMATCH_VIDEO_FULL_PROBE", "1");
    full = hash_video(VideoInput::memory(bytes), keyframes());
  }
  const VpdqResult quick = hash_video(VideoInput::memory(bytes), keyframes());
  ASSERT_TRUE(full.ok()) << full.error;
  ASSERT_TRUE(quick.ok()) << quick.error;
  EXPECT_EQ(quick.info.fps, full.info.fps);
  EXPECT_EQ(quick.info.width, full.info.width);
  EXPECT_EQ(quick.info.height, full.info.height);
  EXPECT_EQ(quick.info.codec, full.info.codec);
  EXPECT_NEAR(quick.info.duration_seconds, full.info.duration_seconds, 0.05);
  EXPECT_EQ(quick.info.frames_decoded, full.info.frames_decoded);
  ASSERT_EQ(quick.frames.size(), full.frames.size());
  ASSERT_EQ(quick.frames.size(), 4u) << c.name;  // 4 s, a key frame a second
  test::expect_same_result(quick, full, c.name);

  // And the key frames are the exact mode's frames of the same numbers (hash for hash).
  VideoOptions every = keyframes();
  every.keyframes_only = false;
  every.seconds_per_hash = 0;
  const VpdqResult all = hash_video(VideoInput::memory(bytes), every);
  ASSERT_TRUE(all.ok()) << all.error;
  for (const auto& f : quick.frames) {
    ASSERT_LT(f.frame_number, int64_t(all.frames.size()));
    EXPECT_EQ(f.frame_number % 25, 0) << c.name;
    EXPECT_EQ(f.hash, all.frames[std::size_t(f.frame_number)].hash) << c.name << " " << f.frame_number;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Containers, VideoProbe,
    ::testing::Values(ProbeCase{"kf.mp4", "", true}, ProbeCase{"kf.mov", "", true},
                      ProbeCase{"kf_faststart.mp4", "-movflags +faststart", true},
                      // Fragmented MP4: the header has no sample tables (no frame count).
                      ProbeCase{"kf_frag.mp4", "-movflags frag_keyframe+empty_moov", false},
                      ProbeCase{"kf.ts", "", false}, ProbeCase{"kf.mkv", "", false}),
    [](const auto& info) {
      std::string n = info.param.name;
      for (char& ch : n) if (ch == '.') ch = '_';
      return n;
    });

// Exact vPDQ always probes: its frame rate and delays must be the reference's.
TEST(VideoProbeExact, ExactModesAlwaysProbe) {
  const auto p = make_clip(clip_dir(), "kf.mp4", kSrc);
  ASSERT_FALSE(p.empty());
  const auto bytes = test::read_file(p);  // the source reads it in place
  ff::Demuxer d(std::make_unique<ff::MemorySource>(bytes),
                ff::Demuxer::Clock::now() + std::chrono::seconds(60));
  ASSERT_GE(d.open(), 0);
  EXPECT_TRUE(d.probed());
}

}  // namespace
}  // namespace hashmatch::video
