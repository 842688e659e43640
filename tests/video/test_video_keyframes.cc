// Keyframes-only on streams whose key frames are not all IDR pictures. An open-GOP key frame (x264
// open_gop: an I picture with a recovery point; x265's default: a CRA picture) continues the
// picture order count of the frames before it, which keyframes-only never decodes: fed only key
// frames, FFmpeg's decoders misordered and dropped them (half the key frames of an x264 file, an
// error for an x265 one with 10-second GOPs). The decoder is now reset before each such packet
// (ff::key_packet_starts_sequence): every key frame is hashed, as the exact mode hashes it. Streams
// whose key packets give no picture on their own (intra refresh) are hashed in exact mode.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include "tests/testutil/testutil.h"
#include "tests/video/clips.h"
#include "video/cpu_pdq_sink.h"
#include "video/decoder_pool.h"
#include "video/ffmpeg_util.h"
#include "video/synth_clip.h"
#include "video/vpdq.h"

namespace hashmatch::video {
namespace {

using test::clip_dir;
using test::make_clip;

// 160x120, 25 fps, 60 s: six 10-second GOPs (key frames at 0, 250, ..., 1250).
const std::string kLong = "-f lavfi -i testsrc2=size=160x120:rate=25 -t 60 ";
// 12 s: six 2-second GOPs with keyint 50 (enough to tell key packets apart).
const std::string kShort = "-f lavfi -i testsrc2=size=160x120:rate=25 -t 12 ";

std::string x264(int keyint) {
  const std::string k = std::to_string(keyint);
  return "-c:v libx264 -preset veryfast -pix_fmt yuv420p -x264-params keyint=" + k +
         ":min-keyint=" + k + ":scenecut=0";
}
std::string x265(int keyint) {
  const std::string k = std::to_string(keyint);
  return "-c:v libx265 -preset ultrafast -x265-params keyint=" + k + ":min-keyint=" + k +
         ":scenecut=0:log-level=error";
}
const std::string kX264 = x264(250);
const std::string kX265 = x265(250);

// ff::key_packet_starts_sequence of each key packet of the first video stream, in file order.
std::vector<bool> key_verdicts(const std::filesystem::path& p) {
  ff::Demuxer d(std::make_unique<ff::FileSource>(p.string()),
                ff::Demuxer::Clock::now() + std::chrono::seconds(60));
  EXPECT_GE(d.open(true), 0);
  AVFormatContext* fmt = d.get();
  const int vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  EXPECT_GE(vi, 0);
  std::vector<bool> out;
  if (vi < 0) return out;
  const AVCodecParameters* par = fmt->streams[vi]->codecpar;
  const int nls = ff::nal_length_size(par);
  ff::PacketPtr pkt = ff::make_packet();
  while (av_read_frame(fmt, pkt.get()) >= 0) {
    if (pkt->stream_index == vi && (pkt->flags & AV_PKT_FLAG_KEY)) {
      out.push_back(ff::key_packet_starts_sequence(par->codec_id, nls, pkt.get()));
    }
    av_packet_unref(pkt.get());
  }
  return out;
}

TEST(KeyPacketVerdict, IdrAndOpenGopKeyFramesAreToldApart) {
  struct Case {
    const char* name;
    std::string args;
    std::vector<bool> want;
  };
  const std::vector<Case> cases = {
      {"closed264.mp4", kShort + x264(50), std::vector<bool>(6, true)},  // avcC: length-prefixed
      {"open264.mp4", kShort + x264(50) + ":open_gop=1", {true, false, false, false, false, false}},
      {"open264.ts", kShort + x264(50) + ":open_gop=1", {true, false, false, false, false, false}},
      {"closed265.mkv", kShort + x265(50) + ":open-gop=0", std::vector<bool>(6, true)},
      {"open265.mkv", kShort + x265(50) + ":open-gop=1", {true, false, false, false, false, false}},
      {"open265.ts", kShort + x265(50) + ":open-gop=1", {true, false, false, false, false, false}},
      {"vp9.webm", kShort + "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 50",
       std::vector<bool>(6, true)},  // no picture order counts
  };
  for (const Case& c : cases) {
    const auto p = make_clip(clip_dir(), c.name, c.args);
    ASSERT_FALSE(p.empty()) << c.name;
    EXPECT_EQ(key_verdicts(p), c.want) << c.name;
  }
}

TEST(KeyPacketVerdict, DamagedOrForeignPacketsAreNotTrusted) {
  ff::PacketPtr pkt = ff::make_packet();
  // No slice at all (an SPS alone, Annex B): reset, the safe side.
  uint8_t sps[] = {0, 0, 0, 1, 0x67, 0x42, 0, 0x1e};
  pkt->data = sps;
  pkt->size = sizeof sps;
  EXPECT_FALSE(ff::key_packet_starts_sequence(AV_CODEC_ID_H264, 0, pkt.get()));
  // An IDR slice after an SEI, Annex B, and the same length-prefixed.
  uint8_t annexb[] = {0, 0, 1, 0x06, 5, 1, 0, 0x80, 0, 0, 0, 1, 0x65, 0x88, 0x84};
  pkt->data = annexb;
  pkt->size = sizeof annexb;
  EXPECT_TRUE(ff::key_packet_starts_sequence(AV_CODEC_ID_H264, 0, pkt.get()));
  uint8_t avcc[] = {0, 0, 0, 4, 0x06, 5, 1, 0x80, 0, 0, 0, 3, 0x65, 0x88, 0x84};
  pkt->data = avcc;
  pkt->size = sizeof avcc;
  EXPECT_TRUE(ff::key_packet_starts_sequence(AV_CODEC_ID_H264, 4, pkt.get()));
  // A length running past the packet: not trusted.
  avcc[3] = 200;
  EXPECT_FALSE(ff::key_packet_starts_sequence(AV_CODEC_ID_H264, 4, pkt.get()));
  // HEVC: CRA (type 21) is not a new sequence, IDR_W_RADL (19) and BLA_W_LP (16) are.
  uint8_t hevc[] = {0, 0, 1, 21 << 1, 1, 0xaf};
  pkt->data = hevc;
  pkt->size = sizeof hevc;
  EXPECT_FALSE(ff::key_packet_starts_sequence(AV_CODEC_ID_HEVC, 0, pkt.get()));
  hevc[3] = 19 << 1;
  EXPECT_TRUE(ff::key_packet_starts_sequence(AV_CODEC_ID_HEVC, 0, pkt.get()));
  hevc[3] = 16 << 1;
  EXPECT_TRUE(ff::key_packet_starts_sequence(AV_CODEC_ID_HEVC, 0, pkt.get()));
  // Other codecs: always (nothing to reset for).
  EXPECT_TRUE(ff::key_packet_starts_sequence(AV_CODEC_ID_VP9, 0, pkt.get()));
  pkt->data = nullptr;
  pkt->size = 0;
}

VideoOptions opts(bool keyframes, double seconds_per_hash = 1.0) {
  VideoOptions o;
  o.decoder = "cpu";
  o.pdq = "cpu";
  o.threads = 2;
  o.keyframes_only = keyframes;
  o.seconds_per_hash = seconds_per_hash;
  return o;
}

// Keyframes-only and the exact mode (every `seconds_per_hash`; 0: every frame) on one input.
struct Both {
  VpdqResult key, all;
  bool ok() const { return key.ok() && all.ok(); }
  std::string errors() const { return key.error + " | " + all.error; }
};
Both hash_both(const VideoInput& in, double seconds_per_hash) {
  return {hash_video(in, opts(true)), hash_video(in, opts(false, seconds_per_hash))};
}

struct OpenGopCase {
  const char* name;
  const char* encoder;  // "x264" or "x265"
  const char* extra;
};

void PrintTo(const OpenGopCase& c, std::ostream* os) { *os << c.name; }

class VideoOpenGop : public ::testing::TestWithParam<OpenGopCase> {};

// Every key frame is hashed, with the frame number, hash and timestamp the exact mode gives that
// frame; no error.
TEST_P(VideoOpenGop, KeyframesOnlyHashesEveryKeyFrame) {
  const OpenGopCase& c = GetParam();
  const auto p = make_clip(clip_dir(), c.name,
                           kLong + (std::string(c.encoder) == "x264" ? kX264 : kX265) + c.extra);
  ASSERT_FALSE(p.empty());
  const Both b = hash_both(VideoInput::file(p), 10.0);  // exact: frames 0, 250 ...
  ASSERT_TRUE(b.ok()) << b.errors();
  const VpdqResult& key = b.key;
  const VpdqResult& all = b.all;
  ASSERT_EQ(key.frames.size(), 6u) << key.info.note;
  ASSERT_EQ(all.frames.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(key.frames[i].frame_number, int64_t(250 * i));
    EXPECT_EQ(key.frames[i].frame_number, all.frames[i].frame_number);
    EXPECT_EQ(key.frames[i].hash, all.frames[i].hash) << "frame " << all.frames[i].frame_number;
    EXPECT_EQ(key.frames[i].quality, all.frames[i].quality);
    EXPECT_DOUBLE_EQ(key.frames[i].timestamp, all.frames[i].timestamp);
  }
  EXPECT_EQ(key.info.frames_decoded, 6);  // the key frames only
  EXPECT_EQ(key.info.note.find("no picture"), std::string::npos) << key.info.note;
}

INSTANTIATE_TEST_SUITE_P(Encoders, VideoOpenGop,
                         ::testing::Values(OpenGopCase{"og264.mp4", "x264", ":open_gop=1"},
                                           OpenGopCase{"og264.ts", "x264", ":open_gop=1"},
                                           OpenGopCase{"og265.mkv", "x265", ":open-gop=1"},
                                           OpenGopCase{"cg264.mp4", "x264", ""},
                                           OpenGopCase{"cg265.mkv", "x265", ":open-gop=0"}));

// With several decoder threads, keyframes-only on an open-GOP stream switches its CPU decoder to
// slice threads at the first reset (frame threads cannot overlap key frames decoded one at a
// time) and keeps it for the stream: the next video takes it, with the same results.
TEST(VideoOpenGopThreads, SliceThreadedDecoderIsKeptForTheStream) {
  const auto p = make_clip(clip_dir(), "og265t.mkv", kLong + kX265 + ":open-gop=1");
  ASSERT_FALSE(p.empty());
  // The pool keys of this stream's keyframes-only CPU decoder with 2 threads: FFmpeg's threading
  // and slice threads.
  ff::Demuxer dm(std::make_unique<ff::FileSource>(p.string()),
                 ff::Demuxer::Clock::now() + std::chrono::seconds(60));
  ASSERT_GE(dm.open(true), 0);
  const AVStream* st = dm.get()->streams[av_find_best_stream(dm.get(), AVMEDIA_TYPE_VIDEO, -1, -1,
                                                             nullptr, 0)];
  const decoder_pool::Key frame_key =
      decoder_pool::make_key(st->codecpar, st->time_base, -1, 2, AVDISCARD_NONKEY, 0,
                             static_cast<int64_t>(DecodeLimits{}.max_pixels));
  decoder_pool::Key slice_key = frame_key;
  slice_key.thread_type = FF_THREAD_SLICE;

  decoder_pool::clear();
  const VpdqResult first = hash_video(VideoInput::file(p), opts(true));  // 2 threads
  EXPECT_TRUE(decoder_pool::has_idle(slice_key));
  EXPECT_FALSE(decoder_pool::has_idle(frame_key));
  const VpdqResult second = hash_video(VideoInput::file(p), opts(true));
  ASSERT_TRUE(first.ok() && second.ok()) << first.error << second.error;
  EXPECT_FALSE(first.info.decoder_reused);
  EXPECT_TRUE(second.info.decoder_reused);
  EXPECT_TRUE(decoder_pool::has_idle(slice_key));
  ASSERT_EQ(first.frames.size(), 6u);
  ASSERT_EQ(second.frames.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(first.frames[i].frame_number, second.frames[i].frame_number);
    EXPECT_EQ(first.frames[i].hash, second.frames[i].hash);
  }
  // One thread: no frame threads to replace; the kept slice-threaded decoder is not taken.
  VideoOptions one = opts(true);
  one.threads = 1;
  const VpdqResult single = hash_video(VideoInput::file(p), one);
  ASSERT_TRUE(single.ok()) << single.error;
  EXPECT_FALSE(single.info.decoder_reused);
  ASSERT_EQ(single.frames.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(single.frames[i].hash, first.frames[i].hash);
  decoder_pool::clear();
}

// The in-process clips of the GPU machine (synth_clip, open_gop = 1) have open-GOP key frames too,
// and keyframes-only on the CPU hashes all of them: the premise of the NVDEC test
// (test_video_gpu, KeyframesOnlyOnNvdecOpenGop).
TEST(VideoOpenGopSynth, SynthClipsWithOpenGops) {
  for (const char* enc : {"libx264", "libx265"}) {
    test::TempDir d;
    const SynthClipSpec s = open_gop_spec(enc, 160, 120);
    const auto p = d / "s.mkv";
    write_synth_clip(p, s);
    // Key frames at 0, 250, 500 and where x264 saw a scene cut: the first an IDR, the others not.
    const std::vector<bool> v = key_verdicts(p);
    ASSERT_GE(v.size(), 3u) << enc;
    EXPECT_TRUE(v[0]) << enc;
    EXPECT_GE(std::count(v.begin(), v.end(), false), 2) << enc;
    const Both b = hash_both(VideoInput::file(p), 0);
    ASSERT_TRUE(b.ok()) << enc << ": " << b.errors();
    ASSERT_EQ(b.key.frames.size(), v.size()) << enc << ": " << b.key.info.note;
    for (const auto& f : b.key.frames) {
      ASSERT_LT(f.frame_number, int64_t(b.all.frames.size())) << enc;
      EXPECT_EQ(f.hash, b.all.frames[std::size_t(f.frame_number)].hash) << enc << " " << f.frame_number;
    }
  }
}

// A stream cut before a key frame (a TS capture that starts mid-GOP): the decoders drop what
// precedes the first key frame, so the exact mode's frame 0 is that key frame. Keyframes-only
// numbers from it too (it numbered from the first packet's timestamp: 41, 91 ... instead of 0, 50
// ...): the same numbers and hashes as the exact mode's.
TEST(VideoCutStream, KeyFramesAreNumberedAsTheExactModeNumbersThem) {
  for (const char* enc : {"-c:v libx264 -preset veryfast -x264-params keyint=50:scenecut=0",
                          "-c:v mpeg2video -g 50 -bf 2"}) {
    test::TempDir d;
    const auto full = make_clip(d.path(), "full.ts", kShort + enc);
    ASSERT_FALSE(full.empty());
    const std::vector<uint8_t> bytes = test::read_file(full);
    const std::size_t off = bytes.size() / 5 / 188 * 188;  // whole TS packets, mid-GOP
    const std::vector<uint8_t> cut(bytes.begin() + static_cast<std::ptrdiff_t>(off), bytes.end());
    const Both b = hash_both(VideoInput::memory(cut), 0);
    ASSERT_TRUE(b.ok()) << enc << ": " << b.errors();
    const VpdqResult& key = b.key;
    const VpdqResult& all = b.all;
    ASSERT_GE(key.frames.size(), 3u) << enc;
    EXPECT_EQ(key.frames[0].frame_number, 0) << enc;
    for (const auto& f : key.frames) {
      ASSERT_LT(f.frame_number, int64_t(all.frames.size())) << enc;
      const VpdqFrame& e = all.frames[std::size_t(f.frame_number)];
      EXPECT_EQ(e.frame_number, f.frame_number);
      EXPECT_EQ(f.hash, e.hash) << enc << " frame " << f.frame_number;
    }
  }
}

// Containers without presentation timestamps on key packets (AVI; MPEG-PS after the first) with
// B-frames: a decoder with a reordering delay handed each key frame out only with the next key
// packet, under that packet's timestamps (the first key frame was numbered 49, every frame one
// GOP late). Now each such key frame comes out of a drain before the next packet and is numbered
// from its own packet's decode timestamp: the right images, in order, numbered at most the B-frame
// count (2) before the exact mode's numbers.
TEST(VideoNoPts, KeyFramesAreNumberedFromTheirOwnPackets) {
  for (const char* name : {"bf.avi", "bf.mpg"}) {
    const auto p = make_clip(clip_dir(), name,
                             "-f lavfi -i testsrc2=size=160x120:rate=25 -t 8 " +
                                 std::string(std::string(name) == "bf.avi" ? "-c:v mpeg4" : "-c:v mpeg2video") +
                                 " -bf 2 -g 50");
    ASSERT_FALSE(p.empty());
    const Both b = hash_both(VideoInput::file(p), 0);
    ASSERT_TRUE(b.ok()) << name << ": " << b.errors();
    const VpdqResult& key = b.key;
    const VpdqResult& all = b.all;
    ASSERT_GE(key.frames.size(), 4u) << name;
    EXPECT_EQ(key.frames[0].frame_number, 0) << name;
    int64_t prev = -1;
    for (const auto& f : key.frames) {
      EXPECT_GT(f.frame_number, prev) << name;
      prev = f.frame_number;
      int64_t at = -1;  // where the exact mode has this image, within the B-frame slack
      for (int64_t n = f.frame_number; n <= f.frame_number + 3 && n < int64_t(all.frames.size()); ++n) {
        if (all.frames[std::size_t(n)].hash == f.hash) at = n;
      }
      EXPECT_GE(at, 0) << name << ": key frame numbered " << f.frame_number
                       << " is not among the exact mode's frames there";
    }
  }
}

// Raw H.264 / HEVC elementary streams (Annex B, no container): no timestamps at all. Key frames
// were numbered by the packets read when they came out of the decoder, past the key frame by the
// decoder's delay and threads (a 4-s clip's key frames 99, 124, 149, 174 with B-frames; 75 ...
// with 4 threads and none; other numbers again after another file on a pooled decoder). Now by
// their own packet's index: the exact mode's numbers and hashes, whatever the threads and
// whatever the process decoded before.
TEST(VideoNoPts, RawStreamKeyFramesAreNumberedAsTheExactModeNumbersThem) {
  // ... and raw HEVC with open GOPs: a CRA key frame follows its leading pictures on screen and
  // precedes them in the stream; they are counted (numbered 22, 47, 71 before, where the exact
  // mode has 25, 50, 75).
  for (const char* name : {"raw-bf.h264", "raw-nobf.h264", "raw-open.hevc"}) {
    const std::string n = name;
    const std::string enc = n == "raw-bf.h264" ? x264(25) + " -bf 3 -f h264"
                            : n == "raw-nobf.h264"
                                ? x264(25) + " -bf 0 -f h264"
                                : std::string(
                                      "-c:v libx265 -x265-params "
                                      "keyint=25:min-keyint=25:scenecut=0:"
                                      "log-level=error -f hevc");  // B-frames, open GOPs
    const auto p =
        make_clip(clip_dir(), name, "-f lavfi -i testsrc2=size=160x120:rate=25 -t 4 " + enc);
    ASSERT_FALSE(p.empty()) << name;
    for (const int threads : {1, 4}) {
      VideoOptions k = opts(true), a = opts(false, 0);
      k.threads = a.threads = threads;
      hash_video(VideoInput::file(p), a);  // a decoder for this stream goes to the pool first
      const VpdqResult key = hash_video(VideoInput::file(p), k);
      const VpdqResult all = hash_video(VideoInput::file(p), a);
      ASSERT_TRUE(key.ok() && all.ok()) << name << ": " << key.error << " | " << all.error;
      ASSERT_EQ(key.frames.size(), 4u) << name << ", " << threads << " thread(s)";
      for (std::size_t i = 0; i < key.frames.size(); ++i) {
        const int64_t want = int64_t(i) * 25;
        EXPECT_EQ(key.frames[i].frame_number, want) << name << ", " << threads << " thread(s)";
        ASSERT_LT(std::size_t(want), all.frames.size());
        EXPECT_EQ(key.frames[i].hash, all.frames[std::size_t(want)].hash)
            << name << " frame " << want;
        EXPECT_EQ(key.frames[i].timestamp, all.frames[std::size_t(want)].timestamp) << name;
      }
    }
  }
}

// MPEG-TS pieces joined end to end (a capture whose clock was reset): the timestamps start over in
// each piece. Keyframes-only numbered the key frames from their timestamps, 0 25 0 25 0 25 (the
// same number more than once); numbers now go on as the exact mode's do, counted by the packets
// between key frames: the exact mode's numbers and hashes.
TEST(VideoCutStream, TimestampsStartingOverKeepFrameNumbersGoingUp) {
  const auto a = make_clip(clip_dir(), "piece_a.ts",
                           "-f lavfi -i testsrc2=size=160x120:rate=25 -t 2 " + x264(25));
  const auto b = make_clip(clip_dir(), "piece_b.ts",
                           "-f lavfi -i mandelbrot=size=160x120:rate=25 -t 2 " + x264(25));
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  std::vector<uint8_t> joined;
  for (const auto& p : {a, b, a}) {
    const auto bytes = test::read_file(p);
    joined.insert(joined.end(), bytes.begin(), bytes.end());
  }
  const Both both = hash_both(VideoInput::memory(joined), 0);
  ASSERT_TRUE(both.ok()) << both.errors();
  ASSERT_EQ(both.key.frames.size(), 6u);
  for (const auto& f : both.key.frames) {
    ASSERT_LT(f.frame_number, int64_t(both.all.frames.size()));
    const VpdqFrame& e = both.all.frames[std::size_t(f.frame_number)];
    EXPECT_EQ(e.frame_number, f.frame_number);
    EXPECT_EQ(f.hash, e.hash) << "key frame numbered " << f.frame_number;
  }
  std::vector<int64_t> numbers;
  for (const auto& f : both.key.frames) numbers.push_back(f.frame_number);
  EXPECT_EQ(numbers, (std::vector<int64_t>{0, 25, 50, 75, 100, 125}));
}

// Intra refresh: the key packets after the first are P pictures with recovery points, no picture
// on their own. Keyframes-only would hash the first frame only; after two such key packets in a
// row it hashes the video again in exact mode, and says so.
const std::string kIntraRefresh = "-c:v libx264 -preset veryfast -x264-params keyint=50:intra-refresh=1";

TEST(VideoIntraRefresh, KeyframesOnlyFallsBackToTheExactMode) {
  const auto p = make_clip(clip_dir(), "ir.mp4", kShort + kIntraRefresh);
  ASSERT_FALSE(p.empty());
  const VpdqResult all = hash_video(VideoInput::file(p), opts(false));
  ASSERT_TRUE(all.ok()) << all.error;
  ASSERT_EQ(all.frames.size(), 12u);
  const VpdqResult key = hash_video(VideoInput::file(p), opts(true));
  ASSERT_TRUE(key.ok()) << key.error;
  EXPECT_NE(key.info.note.find("give no picture on their own (intra refresh): hashed in exact mode"),
            std::string::npos)
      << key.info.note;
  EXPECT_EQ(key.info.frame_mod, all.info.frame_mod);
  test::expect_same_result(key, all, "keyframes-only");
  // The same through a caller's sink: the first frame, hashed before the switch, is not doubled.
  CpuPdqSink sink(1);
  const VpdqResult via_sink = hash_video(VideoInput::file(p), opts(true), {}, sink);
  ASSERT_TRUE(via_sink.ok()) << via_sink.error;
  test::expect_same_result(via_sink, all, "through a caller's sink");
  // The sink serves the next video as usual.
  const VpdqResult again = hash_video(VideoInput::file(p), opts(false), {}, sink);
  test::expect_same_result(again, all, "the sink's next video");
}

// The in-process clip the GPU test (VideoGpu.KeyframesOnlyOnNvdecIntraRefresh) uses switches too.
TEST(VideoIntraRefresh, SynthClipFallsBackToTheExactMode) {
  test::TempDir d;
  write_synth_clip(d / "ir.mkv", intra_refresh_spec());
  const VpdqResult all = hash_video(VideoInput::file(d / "ir.mkv"), opts(false));
  const VpdqResult key = hash_video(VideoInput::file(d / "ir.mkv"), opts(true));
  ASSERT_TRUE(all.ok() && key.ok()) << all.error << key.error;
  EXPECT_EQ(all.frames.size(), 5u);
  EXPECT_NE(key.info.note.find("hashed in exact mode"), std::string::npos) << key.info.note;
  test::expect_same_result(key, all, "synth clip keyframes-only");
}

// One recovery-point key packet only (a 3-second clip): not enough to switch; said in the note.
TEST(VideoIntraRefresh, ALoneKeyPacketWithoutAPictureIsSaid) {
  const auto p = make_clip(clip_dir(), "ir3.mp4",
                           "-f lavfi -i testsrc2=size=160x120:rate=25 -t 3 " + kIntraRefresh);
  ASSERT_FALSE(p.empty());
  const VpdqResult key = hash_video(VideoInput::file(p), opts(true));
  ASSERT_TRUE(key.ok()) << key.error;
  ASSERT_EQ(key.frames.size(), 1u);
  EXPECT_EQ(key.frames[0].frame_number, 0);
  EXPECT_NE(key.info.note.find("1 of 2 key packets gave no picture on their own"), std::string::npos)
      << key.info.note;
  EXPECT_EQ(key.info.note.find("hashed in exact mode"), std::string::npos) << key.info.note;
}

}  // namespace
}  // namespace hashmatch::video
