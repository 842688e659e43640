// Decoding and vPDQ sampling on clips generated at test time (FFmpeg lavfi sources) in several
// codecs and containers; memory vs file input; keyframes-only; rotation; the CLI's vPDQ output;
// video-level matching of a clip against its re-encode and a trimmed cut.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "host/media/hash_media.h"
#include "host/pdq/pdq.h"
#include "tests/testutil/testutil.h"
#include "tests/video/clips.h"
#include "video/frame_sink.h"
#include "video/synth_clip.h"
#include "video/vpdq.h"
#include "video/vpdq_io.h"
#include "video/vpdq_match.h"

namespace hashmatch::video {
namespace {

using test::clip_dir;
using test::make_clip;

// 320x240, 25 fps, 3 s, a key frame every 25 frames.
const std::string kTestsrc = "-f lavfi -i testsrc2=size=320x240:rate=25 -t 3 -g 25";
const std::string kMandel = "-f lavfi -i mandelbrot=size=320x240:rate=25 -t 3 -g 25";

VideoOptions cpu_opts(double seconds_per_hash = 1.0) {
  VideoOptions o;
  o.decoder = "cpu";
  o.seconds_per_hash = seconds_per_hash;
  o.threads = 2;
  return o;
}

std::vector<int64_t> numbers(const VpdqResult& r) {
  std::vector<int64_t> n;
  for (const auto& f : r.frames) n.push_back(f.frame_number);
  return n;
}

struct CodecCase {
  const char* file;
  const char* args;
  const char* codec;
  const char* container_part;
};

class VideoCodecs : public ::testing::TestWithParam<CodecCase> {};

TEST_P(VideoCodecs, DecodesAndSamplesOncePerSecond) {
  const CodecCase& c = GetParam();
  const auto path = make_clip(clip_dir(), c.file, kTestsrc + " " + c.args);
  ASSERT_FALSE(path.empty());
  const VpdqResult r = hash_video(VideoInput::file(path), cpu_opts());
  ASSERT_TRUE(r.ok()) << r.error_reason << ": " << r.error;
  EXPECT_EQ(r.info.codec, c.codec);
  EXPECT_NE(r.info.container.find(c.container_part), std::string::npos) << r.info.container;
  EXPECT_EQ(r.info.decoder, "cpu");
  EXPECT_EQ(r.info.width, 320);
  EXPECT_EQ(r.info.height, 240);
  EXPECT_DOUBLE_EQ(r.info.fps, 25);
  EXPECT_EQ(r.info.frame_mod, 25);
  EXPECT_EQ(r.info.frames_decoded, 75);
  ASSERT_EQ(numbers(r), (std::vector<int64_t>{0, 25, 50}));
  for (std::size_t i = 0; i < r.frames.size(); ++i) {
    EXPECT_DOUBLE_EQ(r.frames[i].timestamp, double(i));
    EXPECT_GE(r.frames[i].quality, 50);
    EXPECT_FALSE(r.frames[i].hash.is_zero());
  }
  // The lavfi pattern moves: consecutive seconds differ.
  EXPECT_NE(r.frames[0].hash, r.frames[1].hash);
}

INSTANTIATE_TEST_SUITE_P(
    Clips, VideoCodecs,
    ::testing::Values(
        CodecCase{"h264.mp4", "-c:v libx264 -preset ultrafast -pix_fmt yuv420p", "h264", "mp4"},
        CodecCase{"vp9.webm", "-c:v libvpx-vp9 -deadline realtime -cpu-used 8", "vp9", "matroska"},
        CodecCase{"mpeg4.avi", "-c:v mpeg4 -q:v 3", "mpeg4", "avi"},
        CodecCase{"hevc.mkv", "-c:v libx265 -preset ultrafast -x265-params log-level=error",
                  "hevc", "matroska"},
        CodecCase{"mpeg2.ts", "-c:v mpeg2video -q:v 3", "mpeg2video", "mpegts"},
        CodecCase{"h264.mov", "-c:v libx264 -preset ultrafast -pix_fmt yuv420p", "h264", "mov"},
        CodecCase{"av1.mkv", "-c:v libsvtav1 -preset 12", "av1",
                  "matroska"}),
    [](const auto& info) {
      std::string n = info.param.file;
      for (char& ch : n) if (ch == '.') ch = '_';
      return n;
    });

const std::filesystem::path& h264_clip() {
  static const auto p =
      make_clip(clip_dir(), "h264.mp4",
                kTestsrc + " -c:v libx264 -preset ultrafast -pix_fmt yuv420p -movflags +faststart");
  return p;
}

TEST(VideoSampling, EveryFrameAndOtherIntervals) {
  ASSERT_FALSE(h264_clip().empty());
  const VpdqResult all = hash_video(VideoInput::file(h264_clip()), cpu_opts(0));
  ASSERT_TRUE(all.ok()) << all.error;
  ASSERT_EQ(all.frames.size(), 75u);
  for (int i = 0; i < 75; ++i) {
    EXPECT_EQ(all.frames[i].frame_number, i);
    EXPECT_DOUBLE_EQ(all.frames[i].timestamp, double(float(i) / 25.0f));
  }
  // 0.5 s at 25 fps: frameMod (int)12.5 = 12.
  const VpdqResult half = hash_video(VideoInput::file(h264_clip()), cpu_opts(0.5));
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(half.info.frame_mod, 12);
  EXPECT_EQ(numbers(half), (std::vector<int64_t>{0, 12, 24, 36, 48, 60, 72}));
  // Sampled frames are the every-frame hashes of the same frame numbers, bit for bit.
  for (const auto& f : half.frames) {
    EXPECT_EQ(f.hash, all.frames[std::size_t(f.frame_number)].hash) << f.frame_number;
    EXPECT_EQ(f.quality, all.frames[std::size_t(f.frame_number)].quality);
  }
  // Longer than the video: only frame 0.
  EXPECT_EQ(numbers(hash_video(VideoInput::file(h264_clip()), cpu_opts(10))),
            (std::vector<int64_t>{0}));
}

TEST(VideoSampling, FrameModMatchesVpdq) {
  EXPECT_EQ(frame_mod_for(1.0, 25), 25);
  EXPECT_EQ(frame_mod_for(1.0, 30000.0 / 1001), 29);
  EXPECT_EQ(frame_mod_for(0, 25), 1);
  EXPECT_EQ(frame_mod_for(1.0, 0.5), 1);  // (int)0.5 = 0 -> 1
  EXPECT_EQ(frame_mod_for(2.0, 23.976), 47);
}

TEST(VideoSampling, NtscRate) {
  const auto p = make_clip(clip_dir(), "ntsc.mp4",
                           "-f lavfi -i testsrc2=size=160x120:rate=30000/1001 -t 2.1 "
                           "-c:v libx264 -preset ultrafast -pix_fmt yuv420p");
  ASSERT_FALSE(p.empty());
  const VpdqResult r = hash_video(VideoInput::file(p), cpu_opts());
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_NEAR(r.info.fps, 29.97, 0.001);
  EXPECT_EQ(r.info.frame_mod, 29);
  ASSERT_EQ(numbers(r), (std::vector<int64_t>{0, 29, 58}));
  EXPECT_EQ(format_vpdq_line(r.frames[1]).substr(format_vpdq_line(r.frames[1]).rfind(',') + 1),
            "0.968");  // 29 / 29.97
}

// Every pixel of a frame reaches the hasher, whatever the width: each frame's RGB as the sink gets
// it equals, byte for byte, what the ffmpeg command line's swscale (area scaling, as vPDQ's) makes
// of the same decoded frame. swscale's x86 converter of 4:2:0 / 4:2:2 frames writes rows in
// blocks of 8 pixels and leaves out the last block when the destination rows are not padded to
// it: before the fix the last width % 8 columns of 322-, 330- and 854-wide frames were black
// (hashes up to 18 bits from the reference's). 320 (a multiple of 8) and an odd height (another
// swscale path) as controls.
TEST(VideoConvert, EveryColumnOfEveryWidthIsConverted) {
  struct Case {
    int w, h;
    const char* pix_fmt;
  };
  const Case cases[] = {{322, 240, "yuv420p"}, {330, 200, "yuv420p"},  {854, 480, "yuv420p"},
                        {326, 240, "yuv422p"}, {322, 240, "yuvj420p"}, {320, 240, "yuv420p"},
                        {322, 241, "yuv420p"}};
  class CaptureSink : public FrameSink {
   public:
    void push_host(const FrameInfo&, Image&& rgb) override { images.push_back(std::move(rgb)); }
    std::vector<VpdqFrame> finish() override { return {}; }
    std::vector<Image> images;
  };
  for (const Case& c : cases) {
    const std::string name = std::to_string(c.w) + "x" + std::to_string(c.h) + c.pix_fmt;
    const auto clip =
        make_clip(clip_dir(), "conv" + name + ".mkv",
                  "-f lavfi -i testsrc2=size=" + std::to_string((c.w + 1) & ~1) + "x" +
                      std::to_string((c.h + 1) & ~1) +
                      ":rate=10 -frames:v 3 -vf format=yuv444p,crop=" + std::to_string(c.w) + ":" +
                      std::to_string(c.h) + ":0:0,format=" + c.pix_fmt + " -c:v ffv1");
    ASSERT_FALSE(clip.empty()) << name;
    const auto raw = clip_dir() / ("conv" + name + ".rgb");
    const std::string cmd = "ffmpeg -nostdin -hide_banner -loglevel error -y -i '" + clip.string() +
                            "' -sws_flags area -pix_fmt rgb24 -f rawvideo '" + raw.string() + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << name;
    const std::vector<uint8_t> want = test::read_file(raw);
    const std::size_t frame_bytes = std::size_t(c.w) * c.h * 3;
    ASSERT_EQ(want.size(), 3 * frame_bytes) << name;
    CaptureSink sink;
    const VpdqResult r = hash_video(VideoInput::file(clip), cpu_opts(0), {}, sink);
    ASSERT_TRUE(r.ok()) << name << ": " << r.error;
    ASSERT_EQ(sink.images.size(), 3u) << name;
    for (std::size_t i = 0; i < 3; ++i) {
      const Image& img = sink.images[i];
      ASSERT_EQ(img.width, c.w) << name;
      ASSERT_EQ(img.height, c.h) << name;
      ASSERT_EQ(img.pixels.size(), frame_bytes) << name;
      std::size_t differ = 0, first = frame_bytes;
      for (std::size_t b = 0; b < frame_bytes; ++b) {
        if (img.pixels[b] != want[i * frame_bytes + b]) {
          ++differ;
          first = std::min(first, b);
        }
      }
      EXPECT_EQ(differ, 0u) << name << " frame " << i << ": first differing byte at row "
                            << (first / (std::size_t(c.w) * 3)) << ", column "
                            << (first % (std::size_t(c.w) * 3)) / 3;
    }
  }
}

TEST(VideoInput, MemoryAndFileGiveTheSameHashes) {
  ASSERT_FALSE(h264_clip().empty());
  const auto bytes = test::read_file(h264_clip());
  const VpdqResult a = hash_video(VideoInput::file(h264_clip()), cpu_opts(0.2));
  const VpdqResult b = hash_video(VideoInput::memory(bytes), cpu_opts(0.2));
  ASSERT_TRUE(a.ok() && b.ok()) << a.error << b.error;
  ASSERT_EQ(a.frames.size(), 15u);
  ASSERT_EQ(a.frames.size(), b.frames.size());
  for (std::size_t i = 0; i < a.frames.size(); ++i) {
    EXPECT_EQ(a.frames[i].frame_number, b.frames[i].frame_number);
    EXPECT_EQ(a.frames[i].hash, b.frames[i].hash);
  }
}

TEST(VideoInput, ThreadCountsDoNotChangeHashes) {
  ASSERT_FALSE(h264_clip().empty());
  VideoOptions one = cpu_opts(0.2);
  one.threads = 1;
  VideoOptions four = cpu_opts(0.2);
  four.threads = 4;
  const VpdqResult a = hash_video(VideoInput::file(h264_clip()), one);
  const VpdqResult b = hash_video(VideoInput::file(h264_clip()), four);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a.frames.size(), b.frames.size());
  for (std::size_t i = 0; i < a.frames.size(); ++i) EXPECT_EQ(a.frames[i].hash, b.frames[i].hash);
}

// Two encodes joined byte for byte (MPEG-TS pieces: x264 4:2:0, then x264 4:4:4 of other
// content): every frame is converted from its own pixel format, so the frames after the join hash
// exactly as the second piece alone (the reference vPDQ keeps the converter of its first frame
// and is a few bits off there: docs/video.md).
TEST(VideoInput, PixelFormatChangingMidStream) {
  const auto a = make_clip(clip_dir(), "p420.ts", kTestsrc + " -c:v libx264 -pix_fmt yuv420p");
  const auto b = make_clip(clip_dir(), "p444.ts", kMandel + " -c:v libx264 -pix_fmt yuv444p");
  ASSERT_FALSE(a.empty() || b.empty());
  std::vector<uint8_t> joined = test::read_file(a);
  const std::vector<uint8_t> second = test::read_file(b);
  joined.insert(joined.end(), second.begin(), second.end());
  const VpdqResult ra = hash_video(VideoInput::file(a), cpu_opts(0));
  const VpdqResult rb = hash_video(VideoInput::file(b), cpu_opts(0));
  const VpdqResult rj = hash_video(VideoInput::memory(joined), cpu_opts(0));
  ASSERT_TRUE(ra.ok() && rb.ok() && rj.ok()) << ra.error << rb.error << rj.error;
  ASSERT_EQ(ra.frames.size(), 75u);
  ASSERT_EQ(rj.frames.size(), ra.frames.size() + rb.frames.size());
  for (std::size_t i = 0; i < rj.frames.size(); ++i) {
    const bool first = i < ra.frames.size();
    const VpdqFrame& want = first ? ra.frames[i] : rb.frames[i - ra.frames.size()];
    EXPECT_EQ(rj.frames[i].hash, want.hash) << "frame " << i;
  }
}

// Memory stays bounded for long videos: a file is streamed (64 KiB reads) and decoded frames are
// not kept. A 60-second lossless clip (tens of MB: every frame differs) is hashed from its file
// every frame, and the process's peak memory grows far less than the file, let alone than its
// 1,800 decoded frames (~200 MB of YUV); the same through hash_media_file, as `hashmatch hash`
// reads files.
TEST(VideoMemory, LongVideoIsStreamedInBoundedMemory) {
  test::TempDir d;
  SynthClipSpec s;
  s.width = 320;
  s.height = 240;
  s.frames = 1800;  // 60 s at 30 fps
  s.gop = 300;
  s.crf = 0;  // lossless: a big file
  write_synth_clip(d / "long.mp4", s);
  s.frames = 60;
  write_synth_clip(d / "short.mp4", s);
  const long file_kib = static_cast<long>(std::filesystem::file_size(d / "long.mp4") / 1024);
  ASSERT_GT(file_kib, 32 * 1024) << "the clip is too small to tell streaming from reading it whole";

  VideoOptions o = cpu_opts();
  o.seconds_per_hash = 0;  // every frame: results grow with the length (a few MB at most)
  // A short clip first: decoder, hashing threads and allocator pools are set up.
  ASSERT_TRUE(hash_video(VideoInput::file(d / "short.mp4"), o).ok());
  const bool reset = test::reset_peak_rss();
  const long base = reset ? test::current_rss_kib() : test::peak_rss_kib();
  const VpdqResult r = hash_video(VideoInput::file(d / "long.mp4"), o);
  const long growth = test::peak_rss_kib() - base;
  std::printf("[ memory   ] file %ld KiB, peak RSS growth %ld KiB (peak reset: %s)\n", file_kib,
              growth, reset ? "yes" : "no");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.info.frames_decoded, 1800);
  EXPECT_EQ(r.frames.size(), 1800u);
  EXPECT_LT(growth, 16 * 1024);
  EXPECT_LT(growth, file_kib / 2);

  // The same through hash_media_file (`hashmatch hash`, `scan`): digests over the file, then the
  // video decoded from its file, not from a copy in memory (above max_video_bytes_in_memory).
  register_video_hasher();
  HashOptions ho;
  ho.video = o;
  ASSERT_GT(static_cast<uint64_t>(file_kib) * 1024, ho.limits.max_video_bytes_in_memory);
  pdq::PdqHasher hasher;
  test::reset_peak_rss();
  const long base2 = reset ? test::current_rss_kib() : test::peak_rss_kib();
  const MediaHashResult m = hash_media_file((d / "long.mp4").string(), ho, hasher);
  const long growth2 = test::peak_rss_kib() - base2;
  std::printf("[ memory   ] hash_media_file: peak RSS growth %ld KiB\n", growth2);
  ASSERT_TRUE(m.ok()) << m.error;
  ASSERT_TRUE(m.vpdq);
  EXPECT_EQ(m.vpdq->size(), 1800u);
  EXPECT_LT(growth2, 16 * 1024);
  EXPECT_LT(growth2, file_kib / 2);
}

// A long video hashed frame by frame keeps only its frame hashes, and those compactly (56 bytes a
// frame, MediaHashResult::vpdq): 24,000 frames of a 64x48 clip (13 minutes at 30 fps) through
// hash_media_file and out as a JSON line (write_json_line, as `hashmatch hash`, `match` and `scan`
// print it). Held as JSON values, as they were, the frames took ~0.6 KB each in the result and
// ~1.3 KB while the line was made (tens of MB here; GBs for a day-long video).
TEST(VideoMemory, ManyHashedFramesAreHeldCompactly) {
  test::TempDir d;
  SynthClipSpec s;
  s.width = 64;
  s.height = 48;
  s.frames = 24000;
  s.gop = 600;
  write_synth_clip(d / "many.mp4", s);
  s.frames = 60;
  write_synth_clip(d / "short.mp4", s);
  register_video_hasher();
  HashOptions ho;
  ho.video = cpu_opts();
  ho.video.seconds_per_hash = 0;            // every frame
  ho.limits.max_video_bytes_in_memory = 0;  // streamed from the file: only the results grow
  pdq::PdqHasher hasher;
  ASSERT_TRUE(hash_media_file((d / "short.mp4").string(), ho, hasher).ok());
  const bool reset = test::reset_peak_rss();
  const long base = reset ? test::current_rss_kib() : test::peak_rss_kib();
  MediaHashResult m = hash_media_file((d / "many.mp4").string(), ho, hasher);
  const long growth = test::peak_rss_kib() - base;
  ASSERT_TRUE(m.ok()) << m.error;
  ASSERT_TRUE(m.vpdq);
  ASSERT_EQ(m.vpdq->size(), 24000u);
  test::reset_peak_rss();
  const long base2 = reset ? test::current_rss_kib() : test::peak_rss_kib();
  std::string line;
  write_json_line(to_json(m, false, false), &*m.vpdq, &line);
  const long growth2 = test::peak_rss_kib() - base2;
  const long line_kib = static_cast<long>(line.size() / 1024);
  std::printf(
      "[ memory   ] 24,000 frames (file %ld KiB): hashing +%ld KiB, line of %ld KiB +%ld KiB\n",
      static_cast<long>(std::filesystem::file_size(d / "many.mp4") / 1024), growth, line_kib,
      growth2);
  EXPECT_LT(growth, 8 * 1024);                  // frames as JSON values: > 14 MB more
  EXPECT_LT(growth2, 3 * line_kib + 2 * 1024);  // the line as a JSON value first: > 30 MB
  const auto parsed = nlohmann::json::parse(line);
  ASSERT_EQ(parsed["vpdq"].size(), 24000u);
  EXPECT_EQ(parsed["vpdq"][23999]["frame"], 23999);
  EXPECT_EQ(parsed["vpdq"][23999]["pdq"], (*m.vpdq)[23999].hash.to_hex());
}

TEST(VideoKeyframes, KeyFramesOnlyHashesTheKeyFramesExactly) {
  for (const char* name : {"h264.mp4", "hevc.mkv", "vp9.webm"}) {
    const std::string args = std::string(name) == "h264.mp4"
                                 ? "-c:v libx264 -preset ultrafast -pix_fmt yuv420p"
                             : std::string(name) == "hevc.mkv"
                                 ? "-c:v libx265 -preset ultrafast -x265-params log-level=error"
                                 : "-c:v libvpx-vp9 -deadline realtime -cpu-used 8";
    const auto p = make_clip(clip_dir(), name, kTestsrc + " " + args);
    ASSERT_FALSE(p.empty());
    VideoOptions k = cpu_opts();
    k.keyframes_only = true;
    const VpdqResult key = hash_video(VideoInput::file(p), k);
    const VpdqResult all = hash_video(VideoInput::file(p), cpu_opts(0));
    ASSERT_TRUE(key.ok() && all.ok()) << name << key.error << all.error;
    EXPECT_EQ(numbers(key), (std::vector<int64_t>{0, 25, 50})) << name;
    EXPECT_LE(key.info.frames_decoded, 3) << name;  // the others were never decoded
    for (const auto& f : key.frames) {
      ASSERT_LT(f.frame_number, int64_t(all.frames.size()));
      EXPECT_EQ(f.hash, all.frames[std::size_t(f.frame_number)].hash) << name << " " << f.frame_number;
      EXPECT_DOUBLE_EQ(f.timestamp, all.frames[std::size_t(f.frame_number)].timestamp);
    }
  }
}

TEST(VideoRotation, IgnoredByDefaultAppliedOnRequest) {
  ASSERT_FALSE(h264_clip().empty());
  const auto rot = clip_dir() / "rot.mp4";
  const std::string cmd = "ffmpeg -nostdin -hide_banner -loglevel error -y -i '" +
                          h264_clip().string() + "' -c copy -metadata:s:v:0 rotate=90 '" +
                          rot.string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const VpdqResult plain = hash_video(VideoInput::file(h264_clip()), cpu_opts());
  const VpdqResult as_is = hash_video(VideoInput::file(rot), cpu_opts());
  VideoOptions o = cpu_opts();
  o.apply_rotation = true;
  const VpdqResult turned = hash_video(VideoInput::file(rot), o);
  ASSERT_TRUE(plain.ok() && as_is.ok() && turned.ok());
  EXPECT_DOUBLE_EQ(as_is.info.rotation_degrees, 90);  // as ffprobe prints it
  ASSERT_EQ(plain.frames.size(), as_is.frames.size());
  ASSERT_EQ(plain.frames.size(), turned.frames.size());
  for (std::size_t i = 0; i < plain.frames.size(); ++i) {
    EXPECT_EQ(plain.frames[i].hash, as_is.frames[i].hash);  // vPDQ ignores the metadata
    EXPECT_NE(plain.frames[i].hash, turned.frames[i].hash);
  }
  // The rotated frames arrive at the sink upright (240 x 320) and hash like PDQ's dihedral
  // "rot90" variant of the stored frame (within a few bits: dihedral hashes are not exact).
  class CaptureSink : public FrameSink {
   public:
    void push_host(const FrameInfo& info, Image&& rgb) override {
      infos.push_back(info);
      images.push_back(std::move(rgb));
    }
    std::vector<VpdqFrame> finish() override {
      std::vector<VpdqFrame> out;
      pdq::PdqHasher h;
      for (std::size_t i = 0; i < images.size(); ++i) {
        const auto ph = h.hash(images[i]);
        out.push_back({infos[i].frame_number, ph.quality, ph.hash, infos[i].timestamp});
      }
      return out;
    }
    std::vector<FrameInfo> infos;
    std::vector<Image> images;
  };
  CaptureSink upright, stored;
  const VpdqResult cap_turned = hash_video(VideoInput::file(rot), o, {}, upright);
  const VpdqResult cap_plain = hash_video(VideoInput::file(rot), cpu_opts(), {}, stored);
  ASSERT_TRUE(cap_turned.ok() && cap_plain.ok());
  ASSERT_EQ(upright.images.size(), 3u);
  ASSERT_EQ(stored.images.size(), 3u);
  EXPECT_EQ(upright.images[0].width, 240);
  EXPECT_EQ(upright.images[0].height, 320);
  EXPECT_EQ(upright.infos[0].target_width, 240);
  EXPECT_EQ(stored.images[0].width, 320);
  // A custom sink sees the very frames the default sink hashes.
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(cap_turned.frames[i].hash, turned.frames[i].hash);
    EXPECT_EQ(cap_plain.frames[i].hash, plain.frames[i].hash);
  }
  pdq::PdqHasher h;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto dih = h.hash_dihedral(stored.images[i]);
    const Hash256 rot90 = dih.hashes[static_cast<int>(Dihedral::kRot90)];
    EXPECT_LE(hamming_distance(turned.frames[i].hash, rot90), 8) << i;
  }
}

// `hashmatch hash -` reads standard input, piped or redirected (it said "no such file"), as the
// file itself; keyframes-only with a sampling option is a usage error (it was taken silently,
// keyframes-only winning).
TEST(VideoCli, StandardInputAndConflictingSamplingOptions) {
  ASSERT_FALSE(h264_clip().empty());
  test::TempDir d;
  const std::string clip = "'" + h264_clip().string() + "'";
  const std::string bin = std::string(HASHMATCH_BINARY) + " hash --video-decoder cpu ";
  ASSERT_EQ(std::system((bin + clip + " > '" + (d / "file.json").string() + "'").c_str()), 0);
  ASSERT_EQ(std::system(
                ("cat " + clip + " | " + bin + "- > '" + (d / "pipe.json").string() + "'").c_str()),
            0);
  ASSERT_EQ(std::system((bin + "- < " + clip + " > '" + (d / "redir.json").string() + "'").c_str()),
            0);
  const auto line = [&](const char* name) {
    const auto t = test::read_file(d / name);
    return nlohmann::json::parse(std::string(t.begin(), t.end()));
  };
  const auto file = line("file.json");
  for (const char* name : {"pipe.json", "redir.json"}) {
    const auto in = line(name);
    EXPECT_EQ(in["path"], "/dev/stdin") << name;
    EXPECT_EQ(in["sha256"], file["sha256"]) << name;
    EXPECT_EQ(in["vpdq"], file["vpdq"]) << name;
    EXPECT_FALSE(in["vpdq"].empty()) << name;
  }
  for (const char* both : {"--vpdq-every-frame", "--vpdq-seconds-per-hash 2"}) {
    const std::string cmd =
        bin + "--vpdq-keyframes-only " + both + " " + clip + " > /dev/null 2>&1";
    const int rc = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 2) << both << ": " << rc;
  }
}

TEST(VideoCli, HashPrintsTheReferenceLinesAndJson) {
  ASSERT_FALSE(h264_clip().empty());
  const std::string out = (clip_dir() / "cli.txt").string();
  const std::string cmd = std::string(HASHMATCH_BINARY) +
                          " hash --video-decoder cpu --vpdq-seconds-per-hash 0.5 --format vpdq '" +
                          h264_clip().string() + "' > '" + out + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const auto cli = read_vpdq_file(out);
  const VpdqResult lib = hash_video(VideoInput::file(h264_clip()), cpu_opts(0.5));
  ASSERT_EQ(cli.size(), lib.frames.size());
  std::ostringstream want;
  write_vpdq(want, lib.frames);
  const auto text = test::read_file(out);
  EXPECT_EQ(std::string(text.begin(), text.end()), want.str());

  // JSON: digests and the vpdq array; every-frame and size flags reach the hasher.
  const std::string jout = (clip_dir() / "cli.json").string();
  const std::string jcmd = std::string(HASHMATCH_BINARY) +
                           " hash --video-decoder cpu --vpdq-every-frame --vpdq-size 64 '" +
                           h264_clip().string() + "' > '" + jout + "'";
  ASSERT_EQ(std::system(jcmd.c_str()), 0);
  const auto jtext = test::read_file(jout);
  const auto j = nlohmann::json::parse(std::string(jtext.begin(), jtext.end()));
  EXPECT_EQ(j.at("md5").get<std::string>().size(), 32u);
  EXPECT_EQ(j.at("sha256").get<std::string>().size(), 64u);
  ASSERT_EQ(j.at("vpdq").size(), 75u);
  EXPECT_EQ(j.at("vpdq")[3].at("frame"), 3);
  EXPECT_EQ(j.at("video").at("frame_mod"), 1);
  VideoOptions o = cpu_opts(0);
  o.size = 64;
  const VpdqResult small = hash_video(VideoInput::file(h264_clip()), o);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(j.at("vpdq")[3].at("pdq").get<std::string>(), small.frames[3].hash.to_hex());

  // --format pdq has no line for a video: it says so on stderr instead of printing nothing.
  const std::string perr = (clip_dir() / "cli_pdq.err").string();
  const std::string pcmd = std::string(HASHMATCH_BINARY) + " hash --video-decoder cpu --format pdq '" +
                           h264_clip().string() + "' > /dev/null 2> '" + perr + "'";
  ASSERT_EQ(std::system(pcmd.c_str()), 0);
  const auto ptext = test::read_file(perr);
  EXPECT_NE(std::string(ptext.begin(), ptext.end()).find("a video (no PDQ line"), std::string::npos);
}

// `hashmatch hash` prints each line as it is ready, videos included, on the CPU path and on the
// batched (GPU) path, which held back every result without an image until a batch of images
// filled or the run ended. The last input is a FIFO whose writer (this test) has written nothing
// yet: both videos' lines must be in the output file before it writes (the command is started in
// the background; it reads the FIFO as a stream, waiting for data while a writer holds it).
TEST(VideoCli, HashPrintsEachVideosLineAsItIsReady) {
  ASSERT_FALSE(h264_clip().empty());
  test::TempDir d;
  const auto fifo = d / "wait";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const char* env : {"", "HASHMATCH_HASH_BATCHED=1 "}) {
    // A file of its own per run, there before the command starts and appended to: the polling
    // below never reads the previous run's lines, nor a file the shell has not created yet.
    const auto out = d / (std::string("out") + (*env ? "-batched" : "") + ".txt");
    test::write_file(out, {});
    // The writer, held open (never blocks); not inherited by the command, whose own copy would
    // keep the FIFO from ever ending.
    const int writer = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(writer, 0);
    const std::string cmd = std::string(env) + "timeout 60 " + HASHMATCH_BINARY +
                            " hash --jobs 1 --video-decoder cpu '" + h264_clip().string() + "' '" +
                            h264_clip().string() + "' '" + fifo.string() + "' >> '" + out.string() +
                            "' 2>/dev/null &";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    std::size_t lines = 0;
    for (int i = 0; i < 300 && lines < 2; ++i) {  // up to 30 s
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const auto text = test::read_file(out);
      lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    }
    EXPECT_EQ(lines, 2u) << env << "lines before the last input could be read";
    // The last input's bytes, then its end: the command reads them and ends.
    EXPECT_EQ(::write(writer, "not media\n", 10), 10);
    ::close(writer);
    for (int i = 0; i < 300 && lines < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const auto text = test::read_file(out);
      lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    }
    EXPECT_EQ(lines, 3u) << env;
    const auto text = test::read_file(out);
    EXPECT_NE(std::string(text.begin(), text.end()).find("not an image or video"),
              std::string::npos)
        << env << "the FIFO's bytes were read as the last input";
  }
}

TEST(VideoMatching, ReencodeAndTrimMatchUnrelatedDoesNot) {
  ASSERT_FALSE(h264_clip().empty());
  const auto reenc = make_clip(clip_dir(), "reenc.webm",
                               "-i '" + h264_clip().string() +
                                   "' -vf scale=240:180 -c:v libvpx-vp9 -deadline realtime "
                                   "-cpu-used 8 -b:v 200k");
  const auto trimmed = make_clip(clip_dir(), "trim.mp4",
                                 "-ss 1 -i '" + h264_clip().string() +
                                     "' -t 1.5 -c:v libx264 -preset ultrafast -crf 30");
  const auto other = make_clip(clip_dir(), "mandel.mp4",
                               kMandel + " -c:v libx264 -preset ultrafast -pix_fmt yuv420p");
  ASSERT_FALSE(reenc.empty() || trimmed.empty() || other.empty());
  const VideoOptions o = cpu_opts(0.2);
  const VpdqResult a = hash_video(VideoInput::file(h264_clip()), o);
  const VpdqResult b = hash_video(VideoInput::file(reenc), o);
  const VpdqResult t = hash_video(VideoInput::file(trimmed), o);
  const VpdqResult u = hash_video(VideoInput::file(other), o);
  ASSERT_TRUE(a.ok() && b.ok() && t.ok() && u.ok());
  const auto ab = match_videos(b.frames, a.frames);
  EXPECT_TRUE(ab.match) << ab.query_match_percent;
  EXPECT_GE(ab.compared_match_percent, 80);
  const auto ta = match_videos(t.frames, a.frames);  // the cut is all in the original
  EXPECT_TRUE(ta.match) << ta.query_match_percent;
  EXPECT_LT(ta.compared_match_percent, 80);          // the original is not all in the cut
  VideoMatchOptions both;
  both.compared_match_percent = 80;
  EXPECT_FALSE(match_videos(t.frames, a.frames, both).match);
  const auto ua = match_videos(u.frames, a.frames);
  EXPECT_FALSE(ua.match);
  EXPECT_LT(ua.query_match_percent, 10);
}

}  // namespace
}  // namespace hashmatch::video

namespace hashmatch::video {
namespace {

// Videos are found by content: every container of the clips above, plus IVF, Y4M, NUT, MXF, the
// elementary streams (MPEG-1/2, MPEG-4 part 2, Annex B H.264 and HEVC), M2TS and QuickTime files
// that start without an ftyp box.
// Streams that do not start where their format's magic is, and MP4 under an image brand, are
// still videos: an MPEG-TS cut anywhere (a capture or a download broken off: its first packet
// boundary is within 188 bytes) or after a prefix of other bytes, an MPEG-PS after such a prefix,
// and an MP4 whose major brand says HEIF (4 bytes anyone can change: it was refused as an image
// format, with no vPDQ). A real HEIF (a top-level `meta` box, no `moov`) stays HEIF; random bytes
// stay unknown.
TEST(VideoSniff, CutPrefixedAndRelabelledVideosAreVideos) {
  const auto ts = make_clip(clip_dir(), "cut.ts",
                            "-f lavfi -i testsrc2=size=160x120:rate=25 -t 4 -c:v libx264 -preset "
                            "ultrafast -g 25");
  const auto ps =
      make_clip(clip_dir(), "prefix.mpg",
                "-f lavfi -i testsrc2=size=160x120:rate=25 -t 4 -c:v mpeg2video -f vob");
  const auto mp4 = make_clip(clip_dir(), "brand.mp4",
                             "-f lavfi -i testsrc2=size=160x120:rate=25 -t 4 -c:v libx264 -preset "
                             "ultrafast -movflags +faststart");
  ASSERT_FALSE(ts.empty() || ps.empty() || mp4.empty());
  std::vector<uint8_t> junk(100);
  for (std::size_t i = 0; i < junk.size(); ++i)
    junk[i] = uint8_t(0x80 + i);  // no 0x47, no 00 00 01
  auto expect_video = [&](const std::vector<uint8_t>& b, MediaFormat want,
                          const std::string& what) {
    EXPECT_EQ(sniff_format(b), want) << what;
    const VpdqResult r = hash_video(VideoInput::memory(b), cpu_opts());
    EXPECT_FALSE(r.frames.empty()) << what << ": " << r.error;
  };
  const auto tsb = test::read_file(ts);
  for (const std::size_t cut :
       {std::size_t(1), std::size_t(100), std::size_t(187), std::size_t(188 * 40 + 17)}) {
    expect_video(std::vector<uint8_t>(tsb.begin() + std::ptrdiff_t(cut), tsb.end()),
                 MediaFormat::kMpegTs, "TS cut at " + std::to_string(cut));
  }
  std::vector<uint8_t> b = junk;
  b.insert(b.end(), tsb.begin(), tsb.end());
  expect_video(b, MediaFormat::kMpegTs, "TS after 100 other bytes");
  const auto psb = test::read_file(ps);
  b = junk;
  b.insert(b.end(), psb.begin(), psb.end());
  expect_video(b, MediaFormat::kMpegPs, "PS after 100 other bytes");
  const auto mp4b = test::read_file(mp4);
  for (const char* brand : {"mif1", "heic", "heix", "msf1", "hevc"}) {
    b = mp4b;
    std::memcpy(b.data() + 8, brand, 4);
    expect_video(b, MediaFormat::kMp4, std::string("MP4 under the brand ") + brand);
  }
  // ftyp (mif1) then a meta box: a HEIF image.
  std::vector<uint8_t> heif = {0, 0, 0, 16, 'f', 't', 'y', 'p', 'm', 'i', 'f', '1', 0, 0,
                               0, 0, 0, 0,  0,   12,  'm', 'e', 't', 'a', 0,   0,   0, 0};
  EXPECT_EQ(sniff_format(heif), MediaFormat::kHeif);
  std::memcpy(heif.data() + 8, "avif", 4);
  EXPECT_EQ(sniff_format(heif), MediaFormat::kAvif);
  std::mt19937 rng(11);
  for (int i = 0; i < 20; ++i) {
    std::vector<uint8_t> noise(1 << 16);
    for (auto& x : noise) x = uint8_t(rng());
    EXPECT_EQ(sniff_format(noise), MediaFormat::kUnknown) << "random bytes, seed step " << i;
  }
}

// Containers FFmpeg reads that no magic number here tells (DV, RealMedia, WTV, SWF, AV1 OBU, raw
// H.263, RoQ, GXF ...) were "not an image or video format"; found by FFmpeg's own probe now
// (registered by register_video_hasher; sniff_media_format), hashed as the reference hashes them.
// Audio formats are then `no_video`; text and random bytes stay unknown. RoQ's and GXF's demuxers
// end whole files with an error: taken as the end, with a note.
TEST(VideoSniff, ContainersFfmpegReadsAreVideos) {
  register_video_hasher();
  struct Case {
    const char* file;
    const char* args;
  };
  const Case cases[] = {
      {"o.dv", "-f lavfi -i testsrc2=size=720x576:rate=25 -t 2 -pix_fmt yuv420p -c:v dvvideo"},
      {"o.rm", "-f lavfi -i testsrc2=size=160x120:rate=25 -t 2 -c:v rv20"},
      {"o.wtv", "-f lavfi -i testsrc2=size=160x120:rate=25 -t 2 -c:v mpeg2video"},
      {"o.swf", "-f lavfi -i testsrc2=size=160x120:rate=25 -t 2 -c:v flv"},
      {"o.obu",
       "-f lavfi -i testsrc2=size=160x120:rate=25 -t 2 -c:v libaom-av1 -cpu-used 8 -f obu"},
      {"o.h263", "-f lavfi -i testsrc2=size=176x144:rate=25 -t 2 -c:v h263 -f h263"},
      {"o.roq", "-f lavfi -i testsrc2=size=128x128:rate=30 -t 2 -c:v roqvideo"},
  };
  for (const Case& c : cases) {
    const auto p = make_clip(clip_dir(), c.file, c.args);
    ASSERT_FALSE(p.empty()) << c.file;
    const auto b = test::read_file(p);
    EXPECT_EQ(sniff_media_format(b), MediaFormat::kOtherVideo) << c.file;
    const VpdqResult r = hash_video(VideoInput::memory(b), cpu_opts());
    EXPECT_TRUE(r.ok()) << c.file << ": " << r.error;
    EXPECT_EQ(r.frames.size(), 2u) << c.file;
  }
  const auto mp3 = make_clip(clip_dir(), "o.mp3", "-f lavfi -i sine=d=2");
  ASSERT_FALSE(mp3.empty());
  const auto audio = test::read_file(mp3);
  EXPECT_EQ(sniff_media_format(audio), MediaFormat::kOtherVideo);
  EXPECT_EQ(hash_video(VideoInput::memory(audio), cpu_opts()).error_reason, "no_video");
  const std::string text = "hello, this is a text file and not a video at all\n";
  EXPECT_EQ(sniff_media_format(std::vector<uint8_t>(text.begin(), text.end())),
            MediaFormat::kUnknown);
  std::mt19937 rng(5);
  std::vector<uint8_t> noise(1 << 16);
  for (auto& x : noise) x = uint8_t(rng());
  EXPECT_EQ(sniff_media_format(noise), MediaFormat::kUnknown);
}

// A file with two video streams: the first is hashed, as vPDQ takes it, and the result says so
// (which one, of how many); a file with one says nothing more.
TEST(VideoStreams, TheFirstOfSeveralIsHashedAndSaid) {
  const auto two = make_clip(clip_dir(), "two.mkv",
                             "-f lavfi -i testsrc2=size=160x120:rate=25 -t 2 -f lavfi -i "
                             "mandelbrot=size=160x120:rate=25 -t 2 -map 0 -map 1 -c:v libx264 "
                             "-preset ultrafast");
  const auto one = make_clip(clip_dir(), "one.mkv",
                             "-f lavfi -i testsrc2=size=160x120:rate=25 -t 2 -c:v libx264 -preset "
                             "ultrafast");
  ASSERT_FALSE(two.empty() || one.empty());
  const VpdqResult r2 = hash_video(VideoInput::file(two), cpu_opts());
  const VpdqResult r1 = hash_video(VideoInput::file(one), cpu_opts());
  ASSERT_TRUE(r2.ok() && r1.ok()) << r2.error << " | " << r1.error;
  EXPECT_EQ(r2.info.video_streams, 2);
  EXPECT_EQ(r2.info.stream_index, 0);
  EXPECT_EQ(r1.info.video_streams, 1);
  test::expect_same_result(r2, r1, "the first of two streams against it alone");
  const auto j2 = info_to_json(r2.info), j1 = info_to_json(r1.info);
  EXPECT_EQ(j2["stream"], 0);
  EXPECT_EQ(j2["video_streams"], 2);
  EXPECT_FALSE(j1.contains("stream"));
}

// Animated GIF, APNG and animated WebP: PDQ hashes the first frame (as the reference pdqhash
// does); the line says how many frames there are and that only the first was hashed (nothing said
// before). Still images of the same formats say nothing.
TEST(ImageAnimation, AnimatedImagesSayOnlyTheFirstFrameIsHashed) {
  HashOptions opts;
  pdq::PdqHasher hasher;
  for (const char* ext : {"gif", "png", "webp"}) {
    const std::string e = ext;
    const std::string as = e == "png"    ? " -f apng"
                           : e == "webp" ? " -c:v libwebp_anim -loop 0"
                                         : "";
    const auto anim =
        make_clip(clip_dir(), "anim." + e, "-f lavfi -i testsrc2=size=64x48:rate=5 -t 1" + as);
    const auto still =
        make_clip(clip_dir(), "still." + e, "-f lavfi -i testsrc2=size=64x48 -frames:v 1");
    ASSERT_FALSE(anim.empty() || still.empty()) << ext;
    const MediaHashResult a = hash_media_file(anim.string(), opts, hasher);
    const MediaHashResult s1 = hash_media_file(still.string(), opts, hasher);
    ASSERT_TRUE(a.ok() && s1.ok()) << ext << ": " << a.error << " | " << s1.error;
    EXPECT_TRUE(a.pdq.has_value()) << ext;
    EXPECT_EQ(a.extra.value("frames", 0), 5) << ext;
    EXPECT_NE(a.extra.value("note", std::string()).find("the first frame is hashed"),
              std::string::npos)
        << ext;
    EXPECT_FALSE(s1.extra.contains("frames")) << ext;
    EXPECT_FALSE(s1.extra.contains("note")) << ext;
  }
}

TEST(VideoSniff, RecognisesVideoContainers) {
  struct Case {
    const char* file;
    const char* args;
    MediaFormat want;
  };
  const Case cases[] = {
      {"s.mp4", "-c:v libx264 -preset ultrafast", MediaFormat::kMp4},
      {"s.mov", "-c:v libx264 -preset ultrafast", MediaFormat::kMp4},
      {"s.webm", "-c:v libvpx-vp9 -deadline realtime -cpu-used 8", MediaFormat::kMatroska},
      {"s.mkv", "-c:v mpeg4", MediaFormat::kMatroska},
      {"s.avi", "-c:v mpeg4", MediaFormat::kAvi},
      {"s.ts", "-c:v mpeg2video", MediaFormat::kMpegTs},
      {"s.m2ts", "-c:v mpeg2video -mpegts_m2ts_mode 1 -f mpegts", MediaFormat::kMpegTs},
      {"s.m2v", "-c:v mpeg2video -f mpeg2video", MediaFormat::kMpegPs},
      {"s.mpg", "-c:v mpeg2video -f vob", MediaFormat::kMpegPs},
      {"s.flv", "-c:v flv", MediaFormat::kFlv},
      {"s.ivf", "-c:v libvpx-vp9 -deadline realtime -cpu-used 8", MediaFormat::kIvf},
      {"s.y4m", "-pix_fmt yuv420p", MediaFormat::kY4m},
      {"s.nut", "-c:v mpeg4", MediaFormat::kNut},
      {"s.mxf", "-c:v mpeg2video -r 25", MediaFormat::kMxf},
      {"s.h264", "-c:v libx264 -preset ultrafast -f h264", MediaFormat::kH264},
      {"s.hevc", "-c:v libx265 -preset ultrafast -x265-params log-level=error -f hevc",
       MediaFormat::kHevc},
      {"s.m4v", "-c:v mpeg4 -f m4v", MediaFormat::kMpeg4},
  };
  for (const Case& c : cases) {
    const auto p = make_clip(clip_dir(), c.file,
                             std::string("-f lavfi -i testsrc2=size=160x120:rate=25 -t 1 ") + c.args);
    ASSERT_FALSE(p.empty()) << c.file;
    const auto b = test::read_file(p);
    EXPECT_EQ(sniff_format(b), c.want) << c.file;
    EXPECT_TRUE(is_video_format(sniff_format(b))) << c.file;
    const VpdqResult r = hash_video(VideoInput::memory(b), cpu_opts());
    EXPECT_TRUE(r.ok()) << c.file << ": " << r.error;
    EXPECT_EQ(r.frames.size(), 1u) << c.file;
  }
  // MXF with a run-in (SMPTE 377M: up to 64 KiB before the header partition pack): recognised
  // and hashed as without it; a key past the first 64 KiB is not looked for.
  {
    const auto mxf = test::read_file(clip_dir() / "s.mxf");
    for (const std::size_t run_in : {std::size_t(1), std::size_t(2000), std::size_t(65536)}) {
      std::vector<uint8_t> b(run_in, 0);
      b.insert(b.end(), mxf.begin(), mxf.end());
      EXPECT_EQ(sniff_format(b), MediaFormat::kMxf) << run_in;
      const VpdqResult r = hash_video(VideoInput::memory(b), cpu_opts());
      EXPECT_TRUE(r.ok()) << run_in << ": " << r.error;
      EXPECT_EQ(r.frames.size(), 1u) << run_in;
    }
    std::vector<uint8_t> far(65537, 0);
    far.insert(far.end(), mxf.begin(), mxf.end());
    EXPECT_EQ(sniff_format(far), MediaFormat::kUnknown);  // FFmpeg's probe is sniff_media_format's
  }
  // A QuickTime file whose first atom is moov (no ftyp): recognised by content.
  std::vector<uint8_t> mov = {0, 0, 0, 8, 'm', 'o', 'o', 'v', 0, 0, 0, 8, 'm', 'd', 'a', 't'};
  EXPECT_EQ(sniff_format(mov), MediaFormat::kMp4);
  std::vector<uint8_t> wide = {0, 0, 0, 8, 'w', 'i', 'd', 'e', 0, 0, 0, 8, 'm', 'd', 'a', 't'};
  EXPECT_EQ(sniff_format(wide), MediaFormat::kMp4);
  // A QuickTime file with a 64-bit first atom (size 1) is no Annex B stream; an icon is no MPEG
  // stream.
  std::vector<uint8_t> big = {0, 0, 0, 1, 'm', 'd', 'a', 't', 0, 0, 0, 1, 0, 0, 0, 0};
  EXPECT_EQ(sniff_format(big), MediaFormat::kMp4);
  std::vector<uint8_t> ico = {0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0, 0, 0};
  EXPECT_EQ(sniff_format(ico), MediaFormat::kIco);
}

}  // namespace
}  // namespace hashmatch::video
